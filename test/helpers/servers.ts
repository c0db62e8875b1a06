// Real servers for the script tests, each on 127.0.0.1 with a free port, stopped by the caller.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Waits until something accepts TCP connections on the port (no HTTP request: moto counts those). */
export async function waitForPort(port: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listening on 127.0.0.1:${port} after ${timeoutMs} ms`);
}

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), `${prefix}-`));
}

export interface Moto {
  readonly endpoint: string;
  readonly port: number;
  /** Env for the aws CLI: endpoint, region, dummy root credentials, no user config. */
  readonly env: Record<string, string>;
  stop(): Promise<void>;
}

export interface MotoOptions {
  /** Enforce IAM after this many requests (moto's INITIAL_NO_AUTH_ACTION_COUNT). */
  readonly enforceIamAfter?: number;
  /** Reuse this port (to restart a stopped server at the same endpoint). */
  readonly port?: number;
}

/**
 * Starts a server and waits until PORT accepts connections; if it never does, the server is
 * killed and the error carries the tail of its stderr.
 */
async function spawnServer(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  port: number,
): Promise<ChildProcess> {
  const child = spawn(command, args, { env, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr = (stderr + d).slice(-4000)));
  try {
    await waitForPort(port);
  } catch (err) {
    child.kill("SIGKILL");
    throw new Error(
      `${path.basename(command)} did not start: ${(err as Error).message}\n${stderr}`,
    );
  }
  return child;
}

/** Starts `moto_server` (S3, IAM, STS) on 127.0.0.1. */
export async function startMoto(options: MotoOptions = {}): Promise<Moto> {
  const port = options.port ?? (await freePort());
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (options.enforceIamAfter !== undefined) {
    env.INITIAL_NO_AUTH_ACTION_COUNT = String(options.enforceIamAfter);
  }
  const child = await spawnServer(
    "moto_server",
    ["-H", "127.0.0.1", "-p", String(port)],
    env,
    port,
  );
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    port,
    env: awsEnv(endpoint, "testing", "testing"),
    stop: () => stopProcess(child),
  };
}

/** aws CLI environment isolated from the operator's own config files. */
export function awsEnv(endpoint: string, keyId: string, secret: string): Record<string, string> {
  const home = tempDir("aws-home");
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: keyId,
    AWS_SECRET_ACCESS_KEY: secret,
    AWS_DEFAULT_REGION: "eu-central-1",
    AWS_CONFIG_FILE: path.join(home, "config"),
    AWS_SHARED_CREDENTIALS_FILE: path.join(home, "credentials"),
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_PAGER: "",
  };
}

export function stopProcess(
  child: ChildProcess,
  signal: NodeJS.Signals = "SIGTERM",
): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

/** The tool cache sandbox/toolchain.sh builds into (FRAGALYSIS_CACHE). */
export function toolCacheBin(): string {
  const root =
    process.env.FRAGALYSIS_CACHE ??
    path.join(process.env.HOME ?? "/root", ".cache", "fragalysis-relocation");
  return path.join(root, "bin");
}

export interface Versitygw extends Moto {
  /** The POSIX directory behind the gateway: one subdirectory per bucket. */
  readonly dataDir: string;
  readonly pid: number;
}

/**
 * Starts versitygw (a real S3 server, POSIX backend) on 127.0.0.1 over a fresh directory.
 * --keep-alive: v1.8.0 closes every connection after one request without it; --quiet: no log
 * line per request (its cost is the server's, not the client's).
 */
export async function startVersitygw(
  binary = path.join(toolCacheBin(), "versitygw"),
): Promise<Versitygw> {
  if (!existsSync(binary)) {
    throw new Error(
      `versitygw not found at ${binary}; build it with: bash sandbox/toolchain.sh versitygw`,
    );
  }
  const port = await freePort();
  const dataDir = tempDir("versitygw");
  const keyId = "benchroot";
  const secret = "benchroot-secret";
  const child = await spawnServer(
    binary,
    ["--port", `127.0.0.1:${port}`, "--keep-alive", "--quiet", "posix", dataDir],
    { ...process.env, ROOT_ACCESS_KEY_ID: keyId, ROOT_SECRET_ACCESS_KEY: secret },
    port,
  );
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    port,
    dataDir,
    pid: child.pid!,
    env: awsEnv(endpoint, keyId, secret),
    stop: () => stopProcess(child),
  };
}
