// Wall time, CPU and peak RSS of the benchmark's child process tree, and the server's CPU.
import { readdirSync, readFileSync } from "node:fs";
import type { Measured } from "./report";

interface ProcInfo {
  ppid: number;
  rssKiB: number;
  cpuTicks: number;
}

const PAGE_KIB = 4;
const HZ = 100; // USER_HZ

function readProcs(): Map<number, ProcInfo> {
  const out = new Map<number, ProcInfo>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // after the name: state(0) ppid(1) ... utime(11) stime(12) ... rss(21) in pages
      out.set(Number(entry), {
        ppid: Number(f[1]),
        cpuTicks: Number(f[11]) + Number(f[12]),
        rssKiB: Number(f[21]) * PAGE_KIB,
      });
    } catch {
      // the process ended between readdir and read
    }
  }
  return out;
}

function descendants(procs: Map<number, ProcInfo>, root: number, exclude: Set<number>): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, p] of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), pid]);
  const out: number[] = [];
  const todo = [...(children.get(root) ?? [])];
  while (todo.length > 0) {
    const pid = todo.pop()!;
    if (exclude.has(pid)) continue;
    out.push(pid);
    todo.push(...(children.get(pid) ?? []));
  }
  return out;
}

/**
 * CPU of this process's waited-for descendants (cutime + cstime): every process of a finished
 * command tree, since bash and the tools wait for their children.
 */
function childCpuSeconds(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[13]) + Number(f[14])) / HZ;
}

/** Runs `work`; the server (serverPid) is excluded from the client's RSS and CPU. */
export async function measure<T>(
  serverPid: number,
  work: () => Promise<T>,
): Promise<Measured & { value: T }> {
  const exclude = new Set([serverPid]);
  let peak = 0;
  const serverTicks = () => readProcs().get(serverPid)?.cpuTicks ?? 0;
  const server0 = serverTicks();
  const cpu0 = childCpuSeconds();
  const timer = setInterval(() => {
    const procs = readProcs();
    const rss = descendants(procs, process.pid, exclude).reduce(
      (n, pid) => n + procs.get(pid)!.rssKiB,
      0,
    );
    peak = Math.max(peak, rss);
  }, 200);
  const t0 = process.hrtime.bigint();
  try {
    const value = await work();
    return {
      seconds: Number(process.hrtime.bigint() - t0) / 1e9,
      cpuSeconds: childCpuSeconds() - cpu0,
      peakRssMiB: peak / 1024,
      serverCpuSeconds: (serverTicks() - server0) / HZ,
      value,
    };
  } finally {
    clearInterval(timer);
  }
}

/** The pid of the process whose command line has `name` and `port` (moto runs under python). */
export function findServerPid(name: string, port: number): number {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (cmd.some((c) => c.includes(name)) && cmd.some((c) => c.includes(String(port))))
        return Number(entry);
    } catch {
      // gone
    }
  }
  throw new Error(`no ${name} process on port ${port}`);
}
