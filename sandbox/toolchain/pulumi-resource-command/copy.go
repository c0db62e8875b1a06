// SSH dialing (shared by remote.Command and CopyToRemote) and command:remote:CopyToRemote.
//
// CopyToRemote follows upstream pulumi-command 1.x (provider/pkg/provider/remote/
// copyController.go): the source is a path FileAsset, a StringAsset or a path
// FileArchive; it is copied over SFTP; the outputs are the inputs; an update
// copies again only if the source's hash or remotePath changed; triggers
// replace (see Diff); delete leaves the remote files alone.
//
// Where the source goes (upstream's table):
//
//	source | remotePath is a dir | does not exist | is a file
//	dir    | remotePath/dir      | remotePath/dir | error
//	dir/   | remotePath/<each>   | remotePath/dir | error
//	file   | remotePath/file     | remotePath     | remotePath (overwritten)
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pkg/sftp"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// dialSSH connects with the resource's `connection`. As upstream, EVERY failed dial (refused,
// authentication, host-key mismatch) is retried dialErrorLimit times (-1: until ctx ends), so
// limit+1 dials in all (6 for the program's dialErrorLimit 5), with perDialTimeout per dial;
// logf gets upstream's "Dial n/limit failed: retrying" line.
func dialSSH(ctx context.Context, logf func(string), inputs resource.PropertyMap) (*ssh.Client, string, error) {
	connV, ok := inputs["connection"]
	if !ok {
		return nil, "", errors.New("connection is required")
	}
	connV, _ = plain(connV)
	if !connV.IsObject() {
		return nil, "", errors.New("connection must be an object")
	}
	conn := connV.ObjectValue()
	host, _ := stringInput(conn, "host")
	user, ok := stringInput(conn, "user")
	if !ok || user == "" {
		user = "root"
	}
	port := numberInput(conn, "port", 22)
	limit := numberInput(conn, "dialErrorLimit", 10)
	perDial := numberInput(conn, "perDialTimeout", 15)

	cfg := &ssh.ClientConfig{
		User:            user,
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), //nolint:gosec // as upstream when hostKey is unset
		Timeout:         time.Duration(perDial) * time.Second,
	}
	if hk, ok := stringInput(conn, "hostKey"); ok && hk != "" {
		pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(hk))
		if err != nil {
			return nil, "", fmt.Errorf("parsing connection.hostKey: %w", err)
		}
		cfg.HostKeyCallback = ssh.FixedHostKey(pub)
		cfg.HostKeyAlgorithms = []string{pub.Type()}
	}
	if pw, ok := stringInput(conn, "password"); ok && pw != "" {
		cfg.Auth = append(cfg.Auth, ssh.Password(pw))
	}
	if key, ok := stringInput(conn, "privateKey"); ok && key != "" {
		var signer ssh.Signer
		var err error
		if pass, ok := stringInput(conn, "privateKeyPassword"); ok && pass != "" {
			signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(key), []byte(pass))
		} else {
			signer, err = ssh.ParsePrivateKey([]byte(key))
		}
		if err != nil {
			return nil, "", fmt.Errorf("parsing connection.privateKey: %w", err)
		}
		cfg.Auth = append(cfg.Auth, ssh.PublicKeys(signer))
	}
	// As upstream: the agent at agentSocketPath, else SSH_AUTH_SOCK, is offered too; an agent
	// socket that cannot be reached fails the connection.
	sock, ok := stringInput(conn, "agentSocketPath")
	if !ok || sock == "" {
		sock = os.Getenv("SSH_AUTH_SOCK")
	}
	if sock != "" {
		ac, err := net.Dial("unix", sock)
		if err != nil {
			return nil, "", fmt.Errorf("ssh agent at %s: %w", sock, err)
		}
		cfg.Auth = append(cfg.Auth, ssh.PublicKeysCallback(agent.NewClient(ac).Signers))
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	var err error
	attempt := 0
	for attempt = 1; ; attempt++ {
		var client *ssh.Client
		if client, err = ssh.Dial("tcp", addr, cfg); err == nil {
			return client, addr, nil
		}
		// As upstream (reachedDialingErrorLimit: dials > limit): limit+1 dials in all.
		if limit >= 0 && attempt > limit {
			break
		}
		if logf != nil {
			lim := "inf"
			if limit >= 0 {
				lim = strconv.Itoa(limit)
			}
			logf(fmt.Sprintf("Dial %d/%s failed: retrying", attempt, lim))
		}
		select {
		case <-ctx.Done():
			return nil, addr, ctx.Err()
		case <-time.After(time.Duration(min(attempt, 5)) * 500 * time.Millisecond):
		}
	}
	// Upstream's wording counts the retries, not the dials.
	return nil, addr, fmt.Errorf("ssh dial %s after %d failed attempts: %w", addr, attempt-1, err)
}

func numberInput(m resource.PropertyMap, key string, def int) int {
	if v, ok := m[resource.PropertyKey(key)]; ok {
		if v, _ = plain(v); v.IsNumber() {
			return int(v.NumberValue())
		}
	}
	return def
}

func sameString(a, b resource.PropertyMap, key string) bool {
	x, _ := stringInput(a, key)
	y, _ := stringInput(b, key)
	return x == y
}

// source returns the plain `source` value: an asset or an archive.
func source(m resource.PropertyMap) resource.PropertyValue {
	v, _ := plain(m["source"])
	return v
}

func sourceHash(m resource.PropertyMap) string {
	v := source(m)
	switch {
	case v.IsAsset():
		return v.AssetValue().Hash
	case v.IsArchive():
		return v.ArchiveValue().Hash
	}
	return ""
}

func checkCopy(news resource.PropertyMap) []*pulumirpc.CheckFailure {
	var failures []*pulumirpc.CheckFailure
	fail := func(prop, reason string) {
		failures = append(failures, &pulumirpc.CheckFailure{Property: prop, Reason: reason})
	}
	if rp, ok := news["remotePath"]; !ok || rp.IsNull() {
		fail("remotePath", "remotePath is required")
	}
	v, ok := news["source"]
	if !ok || v.IsNull() {
		fail("source", "source is required")
		return failures
	}
	if v.ContainsUnknowns() {
		return failures
	}
	v, _ = plain(v)
	switch {
	case v.IsAsset():
		if a := v.AssetValue(); !a.IsPath() && !a.IsText() {
			fail("source", "asset must be a path-based file asset or a text asset")
		}
	case v.IsArchive():
		if !v.ArchiveValue().IsPath() {
			fail("source", "archive must be a path to a file or directory")
		}
	default:
		fail("source", "source must be an asset or an archive")
	}
	return failures
}

// copyToRemote copies the source to remotePath over SFTP.
func copyToRemote(ctx context.Context, logf func(string), inputs resource.PropertyMap, timeout float64) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(timeout*float64(time.Second)))
		defer cancel()
	}
	dest, _ := stringInput(inputs, "remotePath")
	client, addr, err := dialSSH(ctx, logf, inputs)
	if err != nil {
		return err
	}
	defer client.Close()
	sc, err := sftp.NewClient(client)
	if err != nil {
		return fmt.Errorf("sftp on %s: %w", addr, err)
	}
	defer sc.Close()
	done := make(chan error, 1)
	go func() {
		v := source(inputs)
		switch {
		case v.IsAsset() && v.AssetValue().IsText():
			done <- copyText(sc, v.AssetValue().Text, dest)
		case v.IsAsset():
			done <- sftpCopy(sc, v.AssetValue().Path, dest)
		case v.IsArchive():
			done <- sftpCopy(sc, v.ArchiveValue().Path, dest)
		default:
			done <- errors.New("source must be an asset or an archive")
		}
	}()
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("copying to %s:%s: %w", addr, dest, err)
	}
	return nil
}

// remoteStat: nil, nil when the path does not exist.
func remoteStat(sc *sftp.Client, p string) (fs.FileInfo, error) {
	info, err := sc.Stat(p)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("stat %s: %w", p, err)
	}
	return info, nil
}

func copyText(sc *sftp.Client, text, dest string) error {
	info, err := remoteStat(sc, dest)
	if err != nil {
		return err
	}
	if info != nil && info.IsDir() {
		return fmt.Errorf("remote path %s is a directory; a text asset needs a file path", dest)
	}
	if err := sc.MkdirAll(path.Dir(dest)); err != nil { // as upstream: a missing parent is created
		return fmt.Errorf("mkdir %s: %w", path.Dir(dest), err)
	}
	f, err := sc.Create(dest)
	if err != nil {
		return fmt.Errorf("create %s: %w", dest, err)
	}
	if _, err := io.WriteString(f, text); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", dest, err)
	}
	return f.Close()
}

func sftpCopy(sc *sftp.Client, src, dest string) error {
	info, err := os.Stat(src)
	if err != nil {
		return err
	}
	destInfo, err := remoteStat(sc, dest)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		if destInfo != nil && destInfo.IsDir() {
			dest = path.Join(dest, filepath.Base(src))
		} else if err := sc.MkdirAll(path.Dir(dest)); err != nil { // as upstream
			return fmt.Errorf("mkdir %s: %w", path.Dir(dest), err)
		}
		return copyFile(sc, src, dest)
	}
	if destInfo != nil && !destInfo.IsDir() {
		return fmt.Errorf("remote path %s exists but is not a directory", dest)
	}
	if destInfo == nil {
		if err := sc.MkdirAll(dest); err != nil { // as upstream: missing parents too
			return fmt.Errorf("mkdir %s: %w", dest, err)
		}
	}
	if !strings.HasSuffix(src, "/") {
		dest = path.Join(dest, filepath.Base(src))
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := path.Join(dest, filepath.ToSlash(rel))
		if !d.IsDir() {
			return copyFile(sc, p, target)
		}
		ti, err := remoteStat(sc, target)
		if err != nil {
			return err
		}
		if ti == nil {
			return sc.Mkdir(target)
		}
		if !ti.IsDir() {
			return fmt.Errorf("remote path %s exists but is not a directory", target)
		}
		return nil
	})
}

func copyFile(sc *sftp.Client, src, dest string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := sc.Create(dest)
	if err != nil {
		return fmt.Errorf("create %s: %w", dest, err)
	}
	if _, err := out.ReadFrom(in); err != nil {
		_ = out.Close()
		return fmt.Errorf("copy %s to %s: %w", src, dest, err)
	}
	return out.Close()
}
