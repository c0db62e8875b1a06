// Command pulumi-resource-command is a small stand-in for the Pulumi Command
// provider (github.com/pulumi/pulumi-command) for the fragalysis-relocation
// sandbox.
//
// The Go module proxy this project can reach refuses the upstream provider
// module ("Go module path not permitted"), so sandbox/toolchain.sh builds this
// instead. It speaks the same gRPC ResourceProvider protocol and implements
// the behaviour the @pulumi/command 1.x SDK relies on:
//
//   - command:local:Command   create / update / delete, interpreter, dir,
//     environment, stdin, triggers (replace on change),
//     addPreviousOutputInEnv (PULUMI_COMMAND_STDOUT / PULUMI_COMMAND_STDERR);
//     outputs stdout and stderr (trailing newline trimmed), like upstream.
//   - command:remote:Command  the same over SSH (connection.host, port, user,
//     password, privateKey, privateKeyPassword); environment is sent with
//     SSH "env" requests, which the server must AcceptEnv, as upstream.
//   - command:local:run       the invoke (local.run()).
//   - command:remote:CopyToRemote  a FileAsset, StringAsset or path FileArchive
//     copied over SFTP to remotePath (upstream's file/directory rules); an
//     update copies again only when the source's hash or remotePath changed;
//     triggers replace; delete removes nothing (copyToRemote.go upstream).
//
// As upstream: stdout and stderr are plain outputs whatever inputs are secret
// (a program that may print secrets marks them with additionalSecretOutputs);
// every line is streamed to the CLI as it is printed, per the `logging` input
// (stdout, stderr, stdoutAndStderr (default), none); see stream.go.
// Differs from upstream on purpose: a line over 64 KiB fails the command
// (upstream hangs), so the sandbox notices it.
//
// connection.hostKey pins the server key ("<type> <base64>"); without it the
// host key is not checked (as upstream). Every failed dial (refused, auth,
// host-key mismatch) is retried dialErrorLimit (default 10) times (limit+1 dials, as upstream) with
// perDialTimeout (seconds, default 15) each; the agent at agentSocketPath or
// SSH_AUTH_SOCK is offered, as upstream.
//
// Not implemented: assetPaths/archivePaths, the deprecated CopyFile, SSH
// proxies.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/crypto/ssh"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// version is set with -ldflags "-X main.version=...".
var version = "0.0.0-sandbox"

const (
	typeLocal  = "command:local:Command"
	typeRemote = "command:remote:Command"
	typeCopy   = "command:remote:CopyToRemote"
	fnLocalRun = "command:local:run"
)

// Input properties of the Command resources; everything else in the state is
// an output.
var inputKeys = []string{
	"connection", "create", "update", "delete", "dir", "environment", "interpreter",
	"stdin", "triggers", "addPreviousOutputInEnv", "logging", "assetPaths", "archivePaths",
}

// Input properties of CopyToRemote (its outputs are exactly its inputs).
var copyInputKeys = []string{"connection", "triggers", "source", "remotePath"}

func main() {
	fs := flag.NewFlagSet(os.Args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	_ = fs.String("tracing", "", "")
	showVersion := fs.Bool("version", false, "")
	if err := fs.Parse(os.Args[1:]); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(os.Stderr, "pulumi-resource-command: %v\n", err)
		os.Exit(2)
	}
	if *showVersion {
		fmt.Println(version)
		return
	}
	// The engine passes its address as the first argument; output lines are logged there.
	engine, err := dialEngine(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-command: engine %q: %v\n", fs.Arg(0), err)
		os.Exit(1)
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterResourceProviderServer(srv, &provider{engine: engine})
			return nil
		},
		Options: rpcutil.OpenTracingServerInterceptorOptions(nil),
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-command: could not start gRPC server: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-command: gRPC server stopped: %v\n", err)
		os.Exit(1)
	}
}

type provider struct {
	pulumirpc.UnimplementedResourceProviderServer
	engine *engineLog
}

var marshalOpts = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, SkipNulls: true}

func unmarshal(s *structpb.Struct) (resource.PropertyMap, error) {
	if s == nil {
		return resource.PropertyMap{}, nil
	}
	return plugin.UnmarshalProperties(s, marshalOpts)
}

func marshal(m resource.PropertyMap) (*structpb.Struct, error) {
	return plugin.MarshalProperties(m, marshalOpts)
}

func (p *provider) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (p *provider) Handshake(
	context.Context, *pulumirpc.ProviderHandshakeRequest,
) (*pulumirpc.ProviderHandshakeResponse, error) {
	return &pulumirpc.ProviderHandshakeResponse{AcceptSecrets: true}, nil
}

func (p *provider) GetSchema(context.Context, *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	b, _ := json.Marshal(map[string]any{
		"name":        "command",
		"version":     version,
		"description": "Sandbox stand-in for the Pulumi Command provider (no full schema).",
	})
	return &pulumirpc.GetSchemaResponse{Schema: string(b)}, nil
}

func (p *provider) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (p *provider) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

func (p *provider) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true}, nil
}

func (p *provider) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (p *provider) Attach(context.Context, *pulumirpc.PluginAttach) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func checkType(t string) error {
	if t != typeLocal && t != typeRemote && t != typeCopy {
		return fmt.Errorf("pulumi-resource-command (sandbox): resource type %q is not supported", t)
	}
	return nil
}

func resourceType(urn string) string {
	// urn:pulumi:stack::project::parent$type::name
	parts := strings.Split(urn, "::")
	if len(parts) < 4 {
		return ""
	}
	types := strings.Split(parts[2], "$")
	return types[len(types)-1]
}

func (p *provider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	t := req.GetType()
	if t == "" {
		t = resourceType(req.GetUrn())
	}
	if err := checkType(t); err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	var failures []*pulumirpc.CheckFailure
	if t == typeCopy {
		failures = append(failures, checkCopy(news)...)
	}
	if t == typeRemote || t == typeCopy {
		if conn, ok := news["connection"]; !ok || conn.IsNull() {
			failures = append(failures, &pulumirpc.CheckFailure{Property: "connection", Reason: "connection is required"})
		}
	}
	inputs, err := marshal(news)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: inputs, Failures: failures}, nil
}

func (p *provider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	keys := inputKeys
	if t := req.GetType(); t == typeCopy || (t == "" && resourceType(req.GetUrn()) == typeCopy) {
		keys = copyInputKeys
	}
	olds, err := unmarshal(req.GetOldInputs())
	if err != nil {
		return nil, err
	}
	if len(olds) == 0 {
		// Older states: the inputs are part of the outputs.
		if olds, err = unmarshal(req.GetOlds()); err != nil {
			return nil, err
		}
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	ignored := map[string]bool{}
	for _, k := range req.GetIgnoreChanges() {
		ignored[k] = true
	}
	var diffs, replaces []string
	detailed := map[string]*pulumirpc.PropertyDiff{}
	for _, k := range keys {
		if ignored[k] {
			continue
		}
		o, hasOld := olds[resource.PropertyKey(k)]
		n, hasNew := news[resource.PropertyKey(k)]
		if hasOld && o.IsNull() {
			hasOld = false
		}
		if hasNew && n.IsNull() {
			hasNew = false
		}
		if !hasOld && !hasNew {
			continue
		}
		if hasOld && hasNew && !n.ContainsUnknowns() && o.DeepEquals(n) {
			continue
		}
		diffs = append(diffs, k)
		kind := pulumirpc.PropertyDiff_UPDATE
		switch {
		case !hasOld:
			kind = pulumirpc.PropertyDiff_ADD
		case !hasNew:
			kind = pulumirpc.PropertyDiff_DELETE
		}
		if k == "triggers" {
			replaces = append(replaces, k)
			kind += 1 // ADD_REPLACE, DELETE_REPLACE, UPDATE_REPLACE follow their base kind
		}
		detailed[k] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: true}
	}
	changes := pulumirpc.DiffResponse_DIFF_NONE
	if len(diffs) > 0 {
		changes = pulumirpc.DiffResponse_DIFF_SOME
	}
	return &pulumirpc.DiffResponse{
		Changes:         changes,
		Diffs:           diffs,
		Replaces:        replaces,
		DetailedDiff:    detailed,
		HasDetailedDiff: true,
	}, nil
}

func (p *provider) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	t := req.GetType()
	if t == "" {
		t = resourceType(req.GetUrn())
	}
	if err := checkType(t); err != nil {
		return nil, err
	}
	inputs, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	name := req.GetName()
	if name == "" {
		parts := strings.Split(req.GetUrn(), "::")
		name = parts[len(parts)-1]
	}
	id := fmt.Sprintf("%s%08x", name, rand.Uint32()) //nolint:gosec // an ID, not a secret
	state := copyMap(inputs)
	if t == typeCopy {
		if !req.GetPreview() {
			if err := copyToRemote(ctx, p.dialLogger(req.GetUrn()), inputs, req.GetTimeout()); err != nil {
				return nil, err
			}
		}
	} else if req.GetPreview() {
		setUnknownOutputs(state)
	} else if cmd, ok := stringInput(inputs, "create"); ok {
		if err := p.runInto(ctx, req.GetUrn(), t, cmd, inputs, nil, state, req.GetTimeout()); err != nil {
			return nil, err
		}
	} else {
		setOutputs(state, "", "")
	}
	props, err := marshal(state)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: props}, nil
}

func (p *provider) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	t := req.GetType()
	if t == "" {
		t = resourceType(req.GetUrn())
	}
	olds, err := unmarshal(req.GetOlds())
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	state := copyMap(news)
	if t == typeCopy {
		// As upstream: copy again only when the content or the destination changed.
		if !req.GetPreview() && (sourceHash(news) != sourceHash(olds) || !sameString(news, olds, "remotePath")) {
			if err := copyToRemote(ctx, p.dialLogger(req.GetUrn()), news, req.GetTimeout()); err != nil {
				return nil, err
			}
		}
		props, err := marshal(state)
		if err != nil {
			return nil, err
		}
		return &pulumirpc.UpdateResponse{Properties: props}, nil
	}
	// Keep the previous outputs until a command replaces them.
	for _, k := range []string{"stdout", "stderr"} {
		if v, ok := olds[resource.PropertyKey(k)]; ok {
			state[resource.PropertyKey(k)] = v
		}
	}
	if req.GetPreview() {
		setUnknownOutputs(state)
	} else {
		cmd, ok := stringInput(news, "update")
		if !ok {
			cmd, ok = stringInput(news, "create")
		}
		if ok {
			if err := p.runInto(ctx, req.GetUrn(), t, cmd, news, olds, state, req.GetTimeout()); err != nil {
				return nil, err
			}
		}
	}
	props, err := marshal(state)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: props}, nil
}

func (p *provider) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	t := req.GetType()
	if t == "" {
		t = resourceType(req.GetUrn())
	}
	state, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	if cmd, ok := stringInput(state, "delete"); ok {
		scratch := copyMap(state)
		if err := p.runInto(ctx, req.GetUrn(), t, cmd, state, state, scratch, req.GetTimeout()); err != nil {
			return nil, err
		}
	}
	return &emptypb.Empty{}, nil
}

func (p *provider) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	// Nothing to refresh: a command's outputs are what it printed.
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

func (p *provider) Invoke(ctx context.Context, req *pulumirpc.InvokeRequest) (*pulumirpc.InvokeResponse, error) {
	if req.GetTok() != fnLocalRun {
		return nil, fmt.Errorf("pulumi-resource-command (sandbox): function %q is not supported", req.GetTok())
	}
	args, err := unmarshal(req.GetArgs())
	if err != nil {
		return nil, err
	}
	cmd, ok := stringInput(args, "command")
	if !ok {
		return &pulumirpc.InvokeResponse{Failures: []*pulumirpc.CheckFailure{
			{Property: "command", Reason: "command is required"},
		}}, nil
	}
	state := copyMap(args)
	if err := p.runInto(ctx, "", typeLocal, cmd, args, nil, state, 0); err != nil {
		return nil, err
	}
	ret, err := marshal(state)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.InvokeResponse{Return: ret}, nil
}

// --- helpers -------------------------------------------------------------------

func copyMap(m resource.PropertyMap) resource.PropertyMap {
	out := resource.PropertyMap{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// plain strips secret wrappers and reports whether any were present.
func plain(v resource.PropertyValue) (resource.PropertyValue, bool) {
	secret := false
	for v.IsSecret() {
		secret = true
		v = v.SecretValue().Element
	}
	switch {
	case v.IsArray():
		arr := make([]resource.PropertyValue, 0, len(v.ArrayValue()))
		for _, e := range v.ArrayValue() {
			pe, s := plain(e)
			secret = secret || s
			arr = append(arr, pe)
		}
		return resource.NewArrayProperty(arr), secret
	case v.IsObject():
		obj := resource.PropertyMap{}
		for k, e := range v.ObjectValue() {
			pe, s := plain(e)
			secret = secret || s
			obj[k] = pe
		}
		return resource.NewObjectProperty(obj), secret
	}
	return v, secret
}

func stringInput(m resource.PropertyMap, key string) (string, bool) {
	v, ok := m[resource.PropertyKey(key)]
	if !ok {
		return "", false
	}
	v, _ = plain(v)
	if !v.IsString() {
		return "", false
	}
	return v.StringValue(), true
}

func stringList(m resource.PropertyMap, key string) []string {
	v, ok := m[resource.PropertyKey(key)]
	if !ok {
		return nil
	}
	v, _ = plain(v)
	if !v.IsArray() {
		return nil
	}
	var out []string
	for _, e := range v.ArrayValue() {
		if e.IsString() {
			out = append(out, e.StringValue())
		}
	}
	return out
}

func stringMap(m resource.PropertyMap, key string) map[string]string {
	v, ok := m[resource.PropertyKey(key)]
	if !ok {
		return nil
	}
	v, _ = plain(v)
	if !v.IsObject() {
		return nil
	}
	out := map[string]string{}
	for k, e := range v.ObjectValue() {
		if e.IsString() {
			out[string(k)] = e.StringValue()
		}
	}
	return out
}

func boolInput(m resource.PropertyMap, key string, def bool) bool {
	v, ok := m[resource.PropertyKey(key)]
	if !ok {
		return def
	}
	v, _ = plain(v)
	if !v.IsBool() {
		return def
	}
	return v.BoolValue()
}

func setUnknownOutputs(state resource.PropertyMap) {
	state["stdout"] = resource.MakeComputed(resource.NewStringProperty(""))
	state["stderr"] = resource.MakeComputed(resource.NewStringProperty(""))
}

// setOutputs stores stdout/stderr PLAIN, as upstream does whatever inputs are secret: only the
// program's additionalSecretOutputs makes the engine encrypt them.
func setOutputs(state resource.PropertyMap, stdout, stderr string) {
	state["stdout"], state["stderr"] = resource.NewStringProperty(stdout), resource.NewStringProperty(stderr)
}

// output collects a command's stdout and stderr, streams them line by line per `logging`,
// and stops the command (cancel) when a line is over 64 KiB.
type output struct {
	out, errb, both bytes.Buffer
	stdout, stderr  io.Writer
	lines           *lineLogger
	tooLong         error
	mu              sync.Mutex
}

func newOutput(logging string, emit func(string), cancel context.CancelFunc) *output {
	o := &output{}
	o.lines = &lineLogger{emit: emit, tooLong: func(stream string) {
		o.mu.Lock()
		o.tooLong = errLineTooLong{stream}
		o.mu.Unlock()
		cancel()
	}}
	// Only logged streams go through upstream's 64 KiB scanner (the others cannot hang it).
	pick := func(stream string, logged bool) io.Writer {
		if logged {
			return o.lines.writer(stream)
		}
		return io.Discard
	}
	logOut := logging == "" || logging == "stdout" || logging == "stdoutAndStderr"
	logErr := logging == "" || logging == "stderr" || logging == "stdoutAndStderr"
	o.stdout = io.MultiWriter(&lockedWriter{&o.mu, &o.out}, &lockedWriter{&o.mu, &o.both}, pick("stdout", logOut))
	o.stderr = io.MultiWriter(&lockedWriter{&o.mu, &o.errb}, &lockedWriter{&o.mu, &o.both}, pick("stderr", logErr))
	return o
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// result turns a finished run into (stdout, stderr, error), a long line winning over the
// error the kill caused.
func (o *output) result(err error, what string) (string, string, error) {
	o.lines.flush()
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.tooLong != nil {
		return "", "", fmt.Errorf("%w: running %s", o.tooLong, what)
	}
	if err != nil {
		return "", "", fmt.Errorf("%w: running %s:\n%s", err, what, o.both.String())
	}
	return strings.TrimSuffix(o.out.String(), "\n"), strings.TrimSuffix(o.errb.String(), "\n"), nil
}

// runInto runs cmd (locally or over SSH) with the resource's inputs and, when
// addPreviousOutputInEnv allows, the previous outputs in prev; it stores the
// new stdout/stderr in state.
func (p *provider) runInto(
	ctx context.Context, urn, typ, cmd string, inputs, prev, state resource.PropertyMap, timeout float64,
) error {
	env := stringMap(inputs, "environment")
	if env == nil {
		env = map[string]string{}
	}
	prevEnv := map[string]string{}
	if boolInput(inputs, "addPreviousOutputInEnv", true) && prev != nil {
		if s, ok := stringInput(prev, "stdout"); ok && s != "" {
			prevEnv["PULUMI_COMMAND_STDOUT"] = s
		}
		if s, ok := stringInput(prev, "stderr"); ok && s != "" {
			prevEnv["PULUMI_COMMAND_STDERR"] = s
		}
	}
	stdin, _ := stringInput(inputs, "stdin")
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(timeout*float64(time.Second)))
		defer cancel()
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	logging, _ := stringInput(inputs, "logging")
	o := newOutput(logging, func(line string) { p.engine.status(ctx, urn, line) }, cancel)
	var stdout, stderr string
	var err error
	if typ == typeRemote {
		stdout, stderr, err = p.runRemote(runCtx, urn, inputs, cmd, env, prevEnv, stdin, o)
	} else {
		for k, v := range prevEnv {
			env[k] = v
		}
		dir, _ := stringInput(inputs, "dir")
		stdout, stderr, err = runLocal(runCtx, stringList(inputs, "interpreter"), dir, cmd, env, stdin, o)
	}
	if err != nil {
		return err
	}
	setOutputs(state, stdout, stderr)
	return nil
}

func runLocal(
	ctx context.Context, interpreter []string, dir, command string, env map[string]string, stdin string, o *output,
) (string, string, error) {
	args := interpreter
	if len(args) == 0 {
		args = []string{"/bin/sh", "-c"}
	}
	args = append(append([]string{}, args...), command)
	c := exec.CommandContext(ctx, args[0], args[1:]...)
	if dir != "" {
		c.Dir = dir
	}
	c.Env = os.Environ()
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		c.Env = append(c.Env, k+"="+env[k])
	}
	if stdin != "" {
		c.Stdin = strings.NewReader(stdin)
	}
	c.Stdout, c.Stderr = o.stdout, o.stderr
	return o.result(c.Run(), fmt.Sprintf("%q", command))
}

func (p *provider) runRemote(
	ctx context.Context, urn string, inputs resource.PropertyMap, command string,
	env, prevEnv map[string]string, stdin string, o *output,
) (string, string, error) {
	client, addr, err := dialSSH(ctx, p.dialLogger(urn), inputs)
	if err != nil {
		return "", "", err
	}
	defer client.Close()
	session, err := client.NewSession()
	if err != nil {
		return "", "", fmt.Errorf("ssh session: %w", err)
	}
	defer session.Close()
	for _, k := range sortedKeys(env) {
		if err := session.Setenv(k, env[k]); err != nil {
			return "", "", fmt.Errorf("could not set environment variable %q (the server must AcceptEnv it): %w", k, err)
		}
	}
	// As upstream: the previous outputs are offered, a refusal is only a warning.
	for _, k := range sortedKeys(prevEnv) {
		if err := session.Setenv(k, prevEnv[k]); err != nil {
			p.engine.status(ctx, urn, fmt.Sprintf("warning: unable to set %s (not in the server's AcceptEnv)", k))
		}
	}
	if stdin != "" {
		session.Stdin = strings.NewReader(stdin)
	}
	session.Stdout, session.Stderr = o.stdout, o.stderr
	done := make(chan error, 1)
	go func() { done <- session.Run(command) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = session.Signal(ssh.SIGKILL)
		_ = client.Close()
		err = ctx.Err()
	}
	return o.result(err, fmt.Sprintf("%q on %s", command, addr))
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// dialLogger reports a failed dial that is retried, as upstream's "Dial n/limit failed: retrying".
func (p *provider) dialLogger(urn string) func(string) {
	return func(msg string) { p.engine.status(context.Background(), urn, msg) }
}
