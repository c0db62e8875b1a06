// Re-projects a saved `npm run bench -- --json` result: the downtime's projection to production
// and issue 20's targets again from the figures it measured, e.g. with the dumps' real sizes
// (--prod-dump-mib) or after a change to the model. Nothing is measured or started.
//   node --import tsx bench/reproject.ts RESULT.json [--prod-dump-mib keycloak=MiB,stack=MiB] [--json]
import { readFileSync } from "node:fs";
import { parseDumpMiB, productionTarget, project } from "./projection";
import { table, targets, type BenchResult } from "./report";

/** The result with its projection and targets computed again from its measured figures. */
export function reproject(saved: BenchResult, dumpMiB: Record<string, number> = {}): BenchResult {
  const downtime = {
    ...saved.downtime,
    projection: project(saved.downtime, saved.contenders, productionTarget(dumpMiB)),
  };
  return { ...saved, downtime, targets: targets(saved.contenders, saved.ceiling, downtime) };
}

/** The JSON object of a file that may also hold npm's header lines before it. */
export function readResult(file: string): BenchResult {
  const line = readFileSync(file, "utf8")
    .split("\n")
    .reverse()
    .find((l) => l.startsWith("{"));
  if (!line)
    throw new Error(`${file} holds no JSON line: save \`npm run bench -- --json\`'s output`);
  return JSON.parse(line) as BenchResult;
}

const USAGE =
  "usage: bench/reproject.ts RESULT.json [--prod-dump-mib keycloak=MiB,stack=MiB] [--json]";

function main(argv: string[]): void {
  let file: string | undefined;
  let dumpMiB: Record<string, number> = {};
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--json") json = true;
    else if (a === "--prod-dump-mib") dumpMiB = parseDumpMiB(argv[++i] ?? "");
    else if (!a.startsWith("--") && file === undefined) file = a;
    else throw new Error(`unknown argument '${a}'; ${USAGE}`);
  }
  if (!file) throw new Error(USAGE);
  const result = reproject(readResult(file), dumpMiB);
  process.stdout.write(json ? `${JSON.stringify(result)}\n` : `${table(result)}\n`);
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`reproject: ${(err as Error).message}\n`);
    process.exit(2);
  }
}
