// Command pulumi-language-nodejs is a minimal Node.js language host for the
// fragalysis-relocation sandbox.
//
// The upstream host (module github.com/pulumi/pulumi/sdk/nodejs/cmd/
// pulumi-language-nodejs/v3) is not served by the Go module proxy this project
// can reach, so sandbox/toolchain.sh builds this small replacement instead. It
// implements the parts of the LanguageRuntime gRPC service that `pulumi
// preview/up/destroy/refresh` need for a TypeScript program whose
// node_modules are already installed: it starts
// node_modules/@pulumi/pulumi/cmd/run (the Node.js SDK's own entry point)
// with the monitor/engine addresses, project, stack and config, exactly the
// interface that entry point documents (flags + PULUMI_CONFIG* variables).
//
// Not supported (answered with Unimplemented or a no-op): code generation,
// `pulumi new` templates, running Node.js plugins/policy packs, `pulumi install`
// (no-op: run `npm ci` yourself).
//
// Required plugins: by default the host reports none, so the engine does not
// try to download provider plugins (offline); providers are then resolved
// lazily, from $PATH (ambient plugins) or ~/.pulumi/plugins. Set
// PULUMI_SANDBOX_REPORT_PLUGINS=1 to report the packages found in
// node_modules (package.json "pulumi": {"resource": true}) like upstream.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// version is set with -ldflags "-X main.version=...".
var version = "0.0.0-sandbox"

// exitCodeBail is the exit code @pulumi/pulumi/cmd/run uses after it has
// already reported an error to the engine (nodeJSProcessExitedAfterLogging...).
const exitCodeBail = 32

func main() {
	fs := flag.NewFlagSet(os.Args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	tracing := fs.String("tracing", "", "tracing endpoint (passed to the program)")
	// Older engines passed runtime options as flags; accept and ignore the
	// ones we do not use so that start-up never fails on them.
	_ = fs.String("root", "", "")
	_ = fs.String("binary", "", "")
	_ = fs.String("typescript", "", "")
	_ = fs.String("tsconfig", "", "")
	_ = fs.String("nodeargs", "", "")
	_ = fs.String("packagemanager", "", "")
	_ = fs.String("logflow", "", "")
	_ = fs.String("logtostderr", "", "")
	_ = fs.String("v", "", "")
	showVersion := fs.Bool("version", false, "print the version and exit")
	help := fs.Bool("help", false, "print usage and exit")
	if err := fs.Parse(os.Args[1:]); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: %v\n", err)
		os.Exit(2)
	}
	if *showVersion {
		fmt.Println(version)
		return
	}
	if *help {
		fmt.Printf("pulumi-language-nodejs %s (fragalysis sandbox build)\n"+
			"usage: pulumi-language-nodejs [-tracing URL] [ENGINE_ADDRESS]\n"+
			"Serves the Pulumi LanguageRuntime gRPC service and prints its port.\n", version)
		return
	}
	engineAddress := ""
	if args := fs.Args(); len(args) > 0 {
		engineAddress = args[len(args)-1]
	}

	host := &languageHost{engineAddress: engineAddress, tracing: *tracing}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
		Options: rpcutil.OpenTracingServerInterceptorOptions(nil),
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: could not start gRPC server: %v\n", err)
		os.Exit(1)
	}
	// The engine reads the port from the first line of stdout.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: gRPC server stopped: %v\n", err)
		os.Exit(1)
	}
}

type languageHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	engineAddress string
	tracing       string
}

func (h *languageHost) Handshake(
	_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	if req.GetEngineAddress() != "" {
		h.engineAddress = req.GetEngineAddress()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *languageHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (h *languageHost) GetRequiredPlugins(
	_ context.Context, req *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	deps, err := requiredPackages(programDir(req.GetInfo(), req.GetProgram()))
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.GetRequiredPluginsResponse{}
	for _, d := range deps {
		resp.Plugins = append(resp.Plugins, &pulumirpc.PluginDependency{
			Name: d.GetName(), Kind: d.GetKind(), Version: d.GetVersion(), Server: d.GetServer(),
		})
	}
	return resp, nil
}

func (h *languageHost) GetRequiredPackages(
	_ context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	deps, err := requiredPackages(programDir(req.GetInfo(), ""))
	if err != nil {
		return nil, err
	}
	return &pulumirpc.GetRequiredPackagesResponse{Packages: deps}, nil
}

func (h *languageHost) GetProgramDependencies(
	context.Context, *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	return &pulumirpc.GetProgramDependenciesResponse{}, nil
}

func (h *languageHost) RuntimeOptionsPrompts(
	context.Context, *pulumirpc.RuntimeOptionsRequest,
) (*pulumirpc.RuntimeOptionsResponse, error) {
	return &pulumirpc.RuntimeOptionsResponse{}, nil
}

func (h *languageHost) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest,
	server grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	msg := "pulumi-language-nodejs (sandbox): dependency installation is not automated; run `npm ci` in the project\n"
	return server.Send(&pulumirpc.InstallDependenciesResponse{Stdout: []byte(msg)})
}

func (h *languageHost) About(context.Context, *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("could not find node on $PATH: %w", err)
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("running node --version: %w", err)
	}
	return &pulumirpc.AboutResponse{
		Executable: node,
		Version:    strings.TrimPrefix(strings.TrimSpace(string(out)), "v"),
		Metadata:   map[string]string{"languageHost": "fragalysis sandbox " + version},
	}, nil
}

func (h *languageHost) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (h *languageHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("could not find node on $PATH: %w", err)
	}
	info := req.GetInfo()
	pwd := req.GetPwd()
	progDir := programDir(info, "")
	if progDir == "" {
		progDir = pwd
	}
	runPath, err := findRunPath(progDir, pwd)
	if err != nil {
		return nil, err
	}

	opts := options(info)
	var args []string
	if nodeargs, ok := opts["nodeargs"].(string); ok && nodeargs != "" {
		args = append(args, strings.Fields(nodeargs)...)
	}
	args = append(args, runPath)
	add := func(k, v string) {
		if v != "" {
			args = append(args, "--"+k, v)
		}
	}
	add("monitor", req.GetMonitorAddress())
	add("engine", h.engineAddress)
	add("organization", req.GetOrganization())
	add("project", req.GetProject())
	add("stack", req.GetStack())
	add("pwd", pwd)
	if info != nil {
		add("root-directory", info.GetRootDirectory())
	}
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	add("parallel", fmt.Sprint(req.GetParallel()))
	add("tracing", h.tracing)
	program := req.GetProgram()
	if info != nil && info.GetEntryPoint() != "" {
		program = info.GetEntryPoint()
		if program != "." && info.GetProgramDirectory() != "" && !filepath.IsAbs(program) {
			program = filepath.Join(info.GetProgramDirectory(), program)
		}
		if program == "." && info.GetProgramDirectory() != "" {
			program = info.GetProgramDirectory()
		}
	}
	if program == "" {
		program = "."
	}
	args = append(args, program)
	args = append(args, req.GetArgs()...)

	configMap := req.GetConfig()
	if configMap == nil {
		configMap = map[string]string{} // "null" breaks @pulumi/pulumi's parseConfig
	}
	config, err := json.Marshal(configMap)
	if err != nil {
		return nil, fmt.Errorf("serializing config: %w", err)
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretKeysJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, fmt.Errorf("serializing config secret keys: %w", err)
	}
	env := append(os.Environ(),
		"PULUMI_CONFIG="+string(config),
		"PULUMI_CONFIG_SECRET_KEYS="+string(secretKeysJSON),
	)
	typescript := true
	if v, ok := opts["typescript"].(bool); ok {
		typescript = v
	}
	env = append(env, fmt.Sprintf("PULUMI_NODEJS_TYPESCRIPT=%t", typescript))
	if ts, ok := opts["tsconfig"].(string); ok && ts != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+ts)
	}

	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = pwd
	cmd.Env = env
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if exitErr.ExitCode() == exitCodeBail {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{
				Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exitErr.ExitCode()),
			}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not run node: %v", err)}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// options returns the runtime options from Pulumi.yaml (runtime.options).
func options(info *pulumirpc.ProgramInfo) map[string]any {
	if info == nil || info.GetOptions() == nil {
		return map[string]any{}
	}
	return (*structpb.Struct).AsMap(info.GetOptions())
}

func programDir(info *pulumirpc.ProgramInfo, fallback string) string {
	if info != nil && info.GetProgramDirectory() != "" {
		return info.GetProgramDirectory()
	}
	return fallback
}

// findRunPath locates node_modules/@pulumi/pulumi/cmd/run by walking up from
// the program directory (Node's module resolution, simplified).
func findRunPath(dirs ...string) (string, error) {
	if p := os.Getenv("PULUMI_LANGUAGE_NODEJS_RUN_PATH"); p != "" {
		return p, nil
	}
	for _, start := range dirs {
		if start == "" {
			continue
		}
		dir, err := filepath.Abs(start)
		if err != nil {
			continue
		}
		for {
			candidate := filepath.Join(dir, "node_modules", "@pulumi", "pulumi", "cmd", "run")
			if st, err := os.Stat(candidate); err == nil && st.IsDir() {
				return candidate, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", errors.New("it looks like the Pulumi SDK has not been installed " +
		"(no node_modules/@pulumi/pulumi/cmd/run above the program); run `npm ci`")
}

// requiredPackages lists the provider packages in node_modules (only when
// PULUMI_SANDBOX_REPORT_PLUGINS is set; see the package comment).
func requiredPackages(dir string) ([]*pulumirpc.PackageDependency, error) {
	if os.Getenv("PULUMI_SANDBOX_REPORT_PLUGINS") == "" || dir == "" {
		return nil, nil
	}
	var deps []*pulumirpc.PackageDependency
	seen := map[string]bool{}
	var walk func(nm string, depth int) error
	walk = func(nm string, depth int) error {
		if depth > 8 {
			return nil
		}
		entries, err := os.ReadDir(nm)
		if err != nil {
			return nil //nolint:nilerr // a missing node_modules is not an error
		}
		for _, e := range entries {
			names := []string{e.Name()}
			if strings.HasPrefix(e.Name(), "@") {
				names = nil
				scoped, _ := os.ReadDir(filepath.Join(nm, e.Name()))
				for _, s := range scoped {
					names = append(names, filepath.Join(e.Name(), s.Name()))
				}
			} else if strings.HasPrefix(e.Name(), ".") {
				continue
			}
			for _, n := range names {
				pkgDir := filepath.Join(nm, n)
				if dep := readPackage(filepath.Join(pkgDir, "package.json")); dep != nil {
					key := dep.GetName() + "@" + dep.GetVersion()
					if !seen[key] {
						seen[key] = true
						deps = append(deps, dep)
					}
				}
				if err := walk(filepath.Join(pkgDir, "node_modules"), depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(filepath.Join(dir, "node_modules"), 0); err != nil {
		return nil, err
	}
	return deps, nil
}

func readPackage(path string) *pulumirpc.PackageDependency {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var pkg struct {
		Name    string `json:"name"`
		Version string `json:"version"`
		Pulumi  struct {
			Resource bool   `json:"resource"`
			Name     string `json:"name"`
			Version  string `json:"version"`
			Server   string `json:"server"`
		} `json:"pulumi"`
	}
	if json.Unmarshal(b, &pkg) != nil || !pkg.Pulumi.Resource {
		return nil
	}
	name := pkg.Pulumi.Name
	if name == "" {
		name = strings.TrimPrefix(strings.TrimPrefix(pkg.Name, "@pulumi/"), "@")
	}
	ver := pkg.Pulumi.Version
	if ver == "" {
		ver = pkg.Version
	}
	if ver != "" && !strings.HasPrefix(ver, "v") {
		ver = "v" + ver
	}
	return &pulumirpc.PackageDependency{Name: name, Kind: "resource", Version: ver, Server: pkg.Pulumi.Server}
}
