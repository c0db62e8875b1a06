// The server's ceiling: bench/ceiling (Go, standard library) swept over requests in flight,
// connection handling and payload signing until the rate stops rising, then the same best
// setting split over two processes (a limit of one client process would show there). The best
// point of each object size is the ceiling; every point goes into the result.
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import * as os from "node:os";
import * as path from "node:path";
import { toolCacheBin } from "../test/helpers/servers";
import type { Ceiling, CeilingPoint } from "./report";
import { MIB } from "./sizes";
import { best, ceilingOf, combine, sweep, type CeilingRun } from "./sweep";

/**
 * Waits until every process has warmed up (printed "ready"), starts them at once (a line on
 * stdin), and returns what each printed last. Several processes' windows must overlap, or their
 * sum would be a sequence, not one point.
 */
function gated(children: ChildProcessWithoutNullStreams[]): Promise<CeilingRun[]> {
  let ready = 0;
  return Promise.all(
    children.map(
      (child) =>
        new Promise<CeilingRun>((resolve, reject) => {
          let stdout = "";
          let stderr = "";
          let counted = false;
          child.stdout.on("data", (d) => {
            stdout += d;
            if (!counted && stdout.startsWith("ready\n")) {
              counted = true;
              if (++ready === children.length) for (const c of children) c.stdin.end("go\n");
            }
          });
          child.stderr.on("data", (d) => (stderr = (stderr + d).slice(-2000)));
          child.once("error", reject);
          child.once("close", (code) => {
            if (code !== 0) {
              for (const c of children) c.kill(); // the others would wait at the gate forever
              return reject(Object.assign(new Error(`exit ${code}`), { stderr }));
            }
            resolve(JSON.parse(stdout.trim().split("\n").pop()!) as CeilingRun);
          });
        }),
    ),
  );
}

/** What the sweep needs of the server (run.ts's Server). */
export interface CeilingServer {
  endpoint: string;
  env: Record<string, string>;
  pid: number;
  dropBucket(bucket: string): Promise<void>;
}

export const SMALL_IN_FLIGHT = [8, 16, 32, 64, 128, 256];
export const LARGE_IN_FLIGHT = [1, 2, 4, 8, 16];
export const LARGE_OBJECT_BYTES = 64 * MIB;

function ceilingBinary(): string {
  const bin = path.join(toolCacheBin(), "bench-ceiling");
  // go build is a no-op when nothing changed (its build cache), so always ask it.
  execFileSync("nice", ["go", "build", "-trimpath", "-o", bin, "."], {
    cwd: path.join(__dirname, "ceiling"),
    env: { ...process.env, CGO_ENABLED: "0", GOFLAGS: "-mod=mod" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  return bin;
}

type Setting = Pick<CeilingPoint, "objectBytes" | "inFlight" | "connections" | "payload">;

let buckets = 0;
const loadAverage = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");

/**
 * Sweeps the server's ceiling; each point lasts about `seconds` (new PUTs stop then). `log`
 * gets one line per point.
 */
export async function measureCeiling(
  s: CeilingServer,
  smallBytes: number,
  seconds: number,
  log: (m: string) => void,
): Promise<Ceiling> {
  const bin = ceilingBinary();
  const before = loadAverage();
  const points: CeilingPoint[] = [];
  const measure = async (x: Setting, processes = 1): Promise<CeilingPoint> => {
    // Enough signed requests for any rate this machine reaches, and two rounds of the workers.
    const perSecond = x.objectBytes >= MIB ? 100 : 10000;
    const names = Array.from({ length: processes }, () => `ceiling-${++buckets}`);
    const inFlight = Math.max(1, Math.round(x.inFlight / processes));
    const args = (bucket: string) => [
      `-endpoint=${s.endpoint}`,
      `-bucket=${bucket}`,
      "-create-bucket",
      `-objects=${Math.max(2 * inFlight, Math.ceil(perSecond * seconds))}`,
      `-seconds=${seconds}`,
      `-size=${x.objectBytes}`,
      `-concurrency=${inFlight}`,
      `-connections=${x.connections}`,
      `-payload=${x.payload}`,
      `-server-pid=${s.pid}`,
      "-gate",
    ];
    let runs: CeilingRun[];
    try {
      runs = await gated(
        names.map((b) => spawn(bin, args(b), { env: { ...process.env, ...s.env } })),
      );
    } catch (err) {
      const e = err as Error & { stderr?: string };
      throw new Error(`bench/ceiling failed: ${(e.stderr ?? e.message).trim().slice(-2000)}`);
    } finally {
      // after every process: moto's drop resets the whole server
      for (const b of names) await s.dropBucket(b);
    }
    const p = combine(runs);
    points.push(p);
    log(
      `ceiling: ${(p.objectBytes / 1024).toFixed(1)} KiB, ${p.inFlight} in flight, ${p.connections}, ${p.payload}, ${p.processes} process(es): ${p.putsPerSecond.toFixed(1)} PUT/s, ${p.mibPerSecond.toFixed(1)} MiB/s, client CPU ${p.clientCpuSeconds.toFixed(2)} s, server CPU ${p.serverCpuSeconds.toFixed(2)} s of ${p.seconds.toFixed(2)} s`,
    );
    return p;
  };

  const small: CeilingPoint[] = [];
  for (const connections of ["pool", "per-worker"] as const)
    for (const payload of ["signed", "unsigned"] as const)
      small.push(
        ...(await sweep(
          SMALL_IN_FLIGHT,
          (inFlight) => measure({ objectBytes: smallBytes, inFlight, connections, payload }),
          (p) => p.putsPerSecond,
        )),
      );
  await measure(
    best(small, (p) => p.putsPerSecond),
    2,
  );

  const large: CeilingPoint[] = [];
  for (const payload of ["signed", "unsigned"] as const)
    large.push(
      ...(await sweep(
        LARGE_IN_FLIGHT,
        (inFlight) =>
          measure({ objectBytes: LARGE_OBJECT_BYTES, inFlight, connections: "pool", payload }),
        (p) => p.mibPerSecond,
      )),
    );
  await measure(
    best(large, (p) => p.mibPerSecond),
    2,
  );

  return {
    ...ceilingOf("bench/ceiling (Go, SigV4, keep-alive)", points, smallBytes, LARGE_OBJECT_BYTES),
    loadAverage: { before, after: loadAverage() },
  };
}
