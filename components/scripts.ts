// The shell scripts under scripts/: found from this file's location, read once, hashed so that
// an edited script changes its resources' triggers and runs again.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import * as path from "node:path";

export const SCRIPTS_DIR = path.join(__dirname, "..", "scripts");

export interface Script {
  /** File name under scripts/, e.g. "copy-latest.sh". */
  readonly name: string;
  readonly path: string;
  readonly text: string;
  /** SHA-256 of the text, hex. */
  readonly sha256: string;
}

const cache = new Map<string, Script>();

export function script(name: string): Script {
  let found = cache.get(name);
  if (!found) {
    const file = path.join(SCRIPTS_DIR, name);
    const text = readFileSync(file, "utf8");
    found = { name, path: file, text, sha256: createHash("sha256").update(text).digest("hex") };
    cache.set(name, found);
  }
  return found;
}
