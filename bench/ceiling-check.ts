// Is bench/ceiling's figure the server's limit? One session on one versitygw: the ceiling's
// sweep (bench/ceiling.ts), then rclone 1.76 putting a fixture of small files at high
// --transfers. If rclone beats the ceiling, the ceiling is not one. Prints a table; see
// bench/README.md ("Checking the ceiling").
// Usage: node --import tsx bench/ceiling-check.ts [--files 5000] [--seconds 3] [--transfers 64,128]
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startVersitygw, tempDir, toolCacheBin } from "../test/helpers/servers";
import { measureCeiling } from "./ceiling";
import { measure } from "./measure";
import { ceilingLine, sweepTable } from "./report";
import { smallFileSizes } from "./sizes";

const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

async function main(): Promise<void> {
  const files = Number(option("--files", "5000"));
  const seconds = Number(option("--seconds", "3"));
  const transfers = option("--transfers", "64,128").split(",").map(Number);
  if (![files, seconds, ...transfers].every((n) => Number.isFinite(n) && n > 0))
    throw new Error("--files, --seconds and --transfers take numbers > 0");
  const rclone = path.join(toolCacheBin(), "rclone");
  const src = tempDir("ceiling-check");
  const sizes = smallFileSizes(files);
  for (const [i, size] of sizes.entries()) {
    mkdirSync(path.join(src, `p${i % 50}`), { recursive: true });
    writeFileSync(path.join(src, `p${i % 50}`, `file-${i}.pdb`), randomBytes(size));
  }
  const mean = Math.round(sizes.reduce((a, b) => a + b, 0) / files);
  const gw = await startVersitygw();
  const env = { ...gw.env, AWS_DEFAULT_REGION: "us-east-1" };
  const dropBucket = async (b: string) =>
    rmSync(path.join(gw.dataDir, b), { recursive: true, force: true });
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(
    `Session ${new Date().toISOString()}, load average ${load()}; ${files} files, mean ${mean} B`,
  );
  try {
    const c = await measureCeiling({ ...gw, env, dropBucket }, mean, seconds, (m) =>
      process.stderr.write(`${m}\n`),
    );
    out(ceilingLine(c));
    out("");
    for (const line of sweepTable(c)) out(line);
    out("");
    out(
      "| other client | files | s | files/s | vs ceiling | client CPU s | server CPU s | load average after |",
    );
    out("|---|---:|---:|---:|---:|---:|---:|---|");
    for (const [n, t] of transfers.entries()) {
      const bucket = `rclone-${n}`;
      execFileSync("aws", ["s3api", "create-bucket", "--bucket", bucket], {
        env: { ...process.env, ...env },
      });
      const args = [
        "copy",
        src,
        `dest:${bucket}`,
        ...["--transfers", String(t), "--checkers", String(t), "--s3-no-head", "--no-traverse"],
        ...["--no-check-dest", "--s3-no-check-bucket", "--stats", "0"],
      ];
      // rclone refuses AWS_CA_BUNDLE with a plain-http endpoint (shared/notes/engine-facts.md)
      const rcloneEnv: Record<string, string | undefined> = {
        ...process.env,
        ...env,
        AWS_CA_BUNDLE: undefined,
        RCLONE_CONFIG: "/dev/null",
        RCLONE_CONFIG_DEST_TYPE: "s3",
        RCLONE_CONFIG_DEST_ENV_AUTH: "true",
        RCLONE_CONFIG_DEST_REGION: "us-east-1",
        RCLONE_CONFIG_DEST_PROVIDER: "Other",
        RCLONE_CONFIG_DEST_ENDPOINT: gw.endpoint,
      };
      const m = await measure(gw.pid, async () => {
        execFileSync(rclone, args, { env: rcloneEnv, stdio: ["ignore", "ignore", "inherit"] });
      });
      const listed = execFileSync(
        "aws",
        ["s3api", "list-objects-v2", "--bucket", bucket, "--query", "length(Contents)"],
        { env: { ...process.env, ...env } },
      )
        .toString()
        .trim();
      if (Number(listed) !== files) throw new Error(`rclone left ${listed} of ${files} objects`);
      await dropBucket(bucket);
      const rate = files / m.seconds;
      out(
        `| rclone ${execFileSync(rclone, ["version"]).toString().split("\n")[0]} ${args.slice(3).join(" ")} | ${files} | ${m.seconds.toFixed(1)} | ${rate.toFixed(1)} | ${(rate / c.putsPerSecond).toFixed(2)} | ${m.cpuSeconds.toFixed(1)} | ${m.serverCpuSeconds.toFixed(1)} | ${load()} |`,
      );
    }
  } finally {
    await gw.stop();
    rmSync(gw.dataDir, { recursive: true, force: true });
    rmSync(src, { recursive: true, force: true });
    out(`End ${new Date().toISOString()}, load average ${load()}`);
  }
}

main().catch((err) => {
  process.stderr.write(`ceiling-check: ERROR: ${(err as Error).message}\n`);
  process.exit(1);
});
