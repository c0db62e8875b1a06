// Wrappers around real tools, put first on PATH by the tests that watch or steer what a script
// does with them: each wrapper knows its tool as $REAL.
import { execFileSync } from "node:child_process";
import { chmodSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { tempDir } from "./servers";

/** Where a tool is on PATH (synchronously: the wrappers are written at load time too). */
const which = (tool: string) =>
  execFileSync("bash", ["-c", `command -v ${tool}`])
    .toString()
    .trim();

/** A bin directory of bash wrappers, tool name to script body, to put first on PATH. */
export function wrapperBin(scripts: Record<string, string>): string {
  const bin = tempDir("wrapper-bin");
  for (const [tool, body] of Object.entries(scripts)) {
    const file = path.join(bin, tool);
    writeFileSync(file, `#!/usr/bin/env bash\nset -uo pipefail\nREAL=${which(tool)}\n${body}\n`);
    chmodSync(file, 0o755);
  }
  return bin;
}
