// Tests of the stand-in's upstream-like behaviour: plain outputs, line streaming, the 64 KiB
// line failure, dial retries, the SSH agent, CopyToRemote's missing parent. The SSH tests run a
// real /usr/sbin/sshd on 127.0.0.1 (as root) and are skipped without it.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

func TestOutputsArePlainEvenWithSecretInputs(t *testing.T) {
	inputs := resource.PropertyMap{
		"create":      resource.NewStringProperty("echo $TOKEN"),
		"environment": resource.MakeSecret(resource.NewObjectProperty(resource.PropertyMap{"TOKEN": resource.NewStringProperty("s3cr3t")})),
	}
	state := copyMap(inputs)
	p := &provider{}
	if err := p.runInto(context.Background(), "", typeLocal, "echo $TOKEN", inputs, nil, state, 0); err != nil {
		t.Fatal(err)
	}
	if state["stdout"].IsSecret() || state["stdout"].StringValue() != "s3cr3t" {
		t.Fatalf("stdout must be the plain printed text, as upstream: %v", state["stdout"])
	}
}

// recorder collects streamed lines with the time they arrived.
type recorder struct {
	mu    sync.Mutex
	lines []string
	at    []time.Time
}

func (r *recorder) emit(l string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines, r.at = append(r.lines, l), append(r.at, time.Now())
}

func TestLinesAreStreamedAsPrinted(t *testing.T) {
	rec := &recorder{}
	_, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := newOutput("", rec.emit, cancel)
	start := time.Now()
	out, _, err := runLocal(context.Background(), []string{"/bin/bash", "-c"}, "",
		"echo first; sleep 1; echo second >&2; printf tail", nil, "", o)
	if err != nil {
		t.Fatal(err)
	}
	end := time.Now()
	if strings.Join(rec.lines, "|") != "first|second|tail" || out != "first\ntail" {
		t.Fatalf("lines %q, stdout %q", rec.lines, out)
	}
	if rec.at[0].Sub(start) > 700*time.Millisecond || end.Sub(rec.at[0]) < 700*time.Millisecond {
		t.Fatalf("the first line arrived %v after the start, %v before the end: not streamed", rec.at[0].Sub(start), end.Sub(rec.at[0]))
	}
}

func TestLoggingSelectsStreams(t *testing.T) {
	for logging, want := range map[string]string{"stdout": "o", "stderr": "e", "none": "", "stdoutAndStderr": "o|e"} {
		rec := &recorder{}
		o := newOutput(logging, rec.emit, func() {})
		if _, _, err := runLocal(context.Background(), []string{"/bin/bash", "-c"}, "", "echo o; sleep 0.2; echo e >&2", nil, "", o); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(rec.lines, "|"); got != want {
			t.Errorf("logging %q streamed %q, want %q", logging, got, want)
		}
	}
}

func TestLineOver64KiBFailsLoudlyAndStopsTheCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := newOutput("", func(string) {}, cancel)
	start := time.Now()
	_, _, err := runLocal(ctx, []string{"/bin/bash", "-c"}, "",
		"head -c 70000 /dev/zero | tr '\\0' a; echo; sleep 30", nil, "", o)
	if err == nil || !strings.Contains(err.Error(), "longer than 64 KiB") {
		t.Fatalf("want the 64 KiB error, got %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("the command was not stopped (took %v)", time.Since(start))
	}
	// A line just under the bound is fine.
	o = newOutput("", func(string) {}, func() {})
	if _, _, err := runLocal(context.Background(), []string{"/bin/bash", "-c"}, "",
		"head -c 65000 /dev/zero | tr '\\0' a; echo", nil, "", o); err != nil {
		t.Fatal(err)
	}
	// Not logged, a long line cannot hang upstream either: no failure.
	o = newOutput("stderr", func(string) {}, func() {})
	if _, _, err := runLocal(context.Background(), []string{"/bin/bash", "-c"}, "",
		"head -c 70000 /dev/zero | tr '\\0' a; echo", nil, "", o); err != nil {
		t.Fatal(err)
	}
}

// --- SSH ---------------------------------------------------------------------------

type sshdServer struct {
	port         int
	hostKey      string // "ssh-ed25519 AAAA..."
	clientKey    []byte // OpenSSH PEM
	clientSigner ssh.Signer
	dir          string
}

func genKey(t *testing.T, file string) {
	t.Helper()
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", file).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
}

func startSSHD(t *testing.T) *sshdServer {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for sshd")
	}
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		t.Skip("no /usr/sbin/sshd")
	}
	dir := t.TempDir()
	genKey(t, filepath.Join(dir, "host"))
	genKey(t, filepath.Join(dir, "client"))
	pub, _ := os.ReadFile(filepath.Join(dir, "client.pub"))
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	_ = os.MkdirAll("/run/sshd", 0o755)
	cfg := fmt.Sprintf("Port %d\nListenAddress 127.0.0.1\nHostKey %s/host\nPidFile %s/pid\nAuthorizedKeysFile %s/authorized_keys\n"+
		"StrictModes no\nPermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"+
		"UsePAM no\nSubsystem sftp internal-sftp\n", port, dir, dir, dir)
	if err := os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/sbin/sshd", "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			break
		}
		if i > 100 {
			t.Fatal("sshd did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	hk, _ := os.ReadFile(filepath.Join(dir, "host.pub"))
	key, _ := os.ReadFile(filepath.Join(dir, "client"))
	signer, err := ssh.ParsePrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(hk))
	return &sshdServer{port: port, hostKey: f[0] + " " + f[1], clientKey: key, clientSigner: signer, dir: dir}
}

func (s *sshdServer) conn(over resource.PropertyMap) resource.PropertyMap {
	c := resource.PropertyMap{
		"host":           resource.NewStringProperty("127.0.0.1"),
		"port":           resource.NewNumberProperty(float64(s.port)),
		"user":           resource.NewStringProperty("root"),
		"privateKey":     resource.NewStringProperty(string(s.clientKey)),
		"hostKey":        resource.NewStringProperty(s.hostKey),
		"dialErrorLimit": resource.NewNumberProperty(3),
		"perDialTimeout": resource.NewNumberProperty(5),
	}
	for k, v := range over {
		if v.IsNull() {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return resource.PropertyMap{"connection": resource.NewObjectProperty(c)}
}

func otherKey(t *testing.T) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "other")
	genKey(t, file)
	b, _ := os.ReadFile(file)
	return string(b)
}

func TestFailedAuthAndHostKeyMismatchAreRetriedLikeUpstream(t *testing.T) {
	t.Setenv("SSH_AUTH_SOCK", "")
	s := startSSHD(t)
	otherHost, _ := os.ReadFile(filepath.Join(s.dir, "client.pub")) // a valid key, not the host's
	f := strings.Fields(string(otherHost))
	for name, over := range map[string]resource.PropertyMap{
		"wrong user key": {"privateKey": resource.NewStringProperty(otherKey(t))},
		"wrong host key": {"hostKey": resource.NewStringProperty(f[0] + " " + f[1])},
	} {
		var retries []string
		_, _, err := dialSSH(context.Background(), func(m string) { retries = append(retries, m) }, s.conn(over))
		if err == nil || !strings.Contains(err.Error(), "after 3 failed attempts") {
			t.Errorf("%s: want a failure after 3 attempts, got %v", name, err)
		}
		// Upstream dials limit+1 times: three retries after the first failure.
		if len(retries) != 3 || retries[2] != "Dial 3/3 failed: retrying" {
			t.Errorf("%s: retry lines %q", name, retries)
		}
	}
}

func TestAgentAtSSHAuthSockIsOffered(t *testing.T) {
	s := startSSHD(t)
	priv, err := ssh.ParseRawPrivateKey(s.clientKey)
	if err != nil {
		t.Fatal(err)
	}
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: priv}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { _ = agent.ServeAgent(keyring, c) }()
		}
	}()
	t.Setenv("SSH_AUTH_SOCK", sock)
	// No privateKey: only the agent can log in.
	client, _, err := dialSSH(context.Background(), nil, s.conn(resource.PropertyMap{"privateKey": resource.NewNullProperty()}))
	if err != nil {
		t.Fatalf("the agent's key was not offered: %v", err)
	}
	client.Close()
}

func TestCopyToRemoteCreatesAMissingParent(t *testing.T) {
	t.Setenv("SSH_AUTH_SOCK", "")
	s := startSSHD(t)
	dest := filepath.Join(t.TempDir(), "a", "b", "script.sh")
	in := s.conn(nil)
	in["source"] = resource.NewAssetProperty(&resource.Asset{Text: "echo hi\n"})
	in["remotePath"] = resource.NewStringProperty(dest)
	if err := copyToRemote(context.Background(), nil, in, 30); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(dest); err != nil || string(b) != "echo hi\n" {
		t.Fatalf("copied %q, %v", b, err)
	}
}

func TestRemoteLongLineFailsLoudly(t *testing.T) {
	t.Setenv("SSH_AUTH_SOCK", "")
	s := startSSHD(t)
	in := s.conn(nil)
	state := copyMap(in)
	p := &provider{}
	start := time.Now()
	err := p.runInto(context.Background(), "", typeRemote,
		"head -c 70000 /dev/zero | tr '\\0' a; echo; sleep 30", in, nil, state, 0)
	if err == nil || !strings.Contains(err.Error(), "longer than 64 KiB") || time.Since(start) > 10*time.Second {
		t.Fatalf("want a prompt 64 KiB failure, got %v after %v", err, time.Since(start))
	}
}
