// Runs a script or command for real and captures what it printed.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly env?: Record<string, string | undefined>;
  readonly input?: string;
  readonly cwd?: string;
  /** Keep PATH and HOME from this process. @default true */
  readonly inherit?: boolean;
  readonly timeoutMs?: number;
}

export function run(cmd: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const base =
    options.inherit === false ? { PATH: process.env.PATH, HOME: process.env.HOME } : process.env;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: options.cwd,
      env: { ...base, ...options.env } as NodeJS.ProcessEnv,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 120_000);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    // A child that exits without reading stdin must not crash the test with EPIPE.
    child.stdin.on("error", () => {});
    child.stdin.end(options.input ?? "");
  });
}

/** The last non-empty stdout line parsed as JSON. */
export function lastJson<T = Record<string, unknown>>(stdout: string): T {
  const lines = stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]!) as T;
}

/**
 * A copy script's failure as the scripts promise it: exit 1, exactly one `<script>: ERROR: ...`
 * line and it is the last on stderr, no stdout/stderr line over 64 KiB. Returns that line.
 */
export function oneErrorLine(r: RunResult, script: string): string {
  assert.equal(r.code, 1, `expected exit 1, got ${r.code}\n${r.stderr}`);
  const lines = r.stderr.trim().split("\n");
  assert.match(lines[lines.length - 1]!, new RegExp(`^${script}: ERROR: `));
  assert.equal(lines.filter((l) => l.includes("ERROR:")).length, 1, r.stderr);
  for (const l of [...lines, ...r.stdout.split("\n")])
    assert.ok(Buffer.byteLength(l) <= 65536, "line over 64 KiB");
  return lines[lines.length - 1]!;
}
