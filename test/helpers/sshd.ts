// A real OpenSSH server for the SSH executor tests: /usr/sbin/sshd on 127.0.0.1 with generated
// host and user keys, configured like Debian's default where it matters (root by key only,
// StrictModes on, AcceptEnv LANG LC_*, the sftp subsystem). Must run as root.
// Its files live in a root-owned 0700 directory under /run, outside the clone and outside /tmp:
// StrictModes refuses an authorized_keys file below a group- or world-writable directory (/tmp,
// or a clone somewhere under it), so the helper works wherever the repository was cloned.
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { run, type RunResult } from "./run";
import { freePort, stopProcess, waitForPort } from "./servers";

/** Where sshd's keys and config go: root-owned, 0700, on a path no other user can write. */
export const SSHD_STATE_ROOT = "/run";

export interface Sshd {
  readonly port: number;
  /** The server's public host key line ("ssh-ed25519 AAAA..."), what nfs.hostKey pins. */
  readonly hostKey: string;
  /** The client's private key file and its text (what sshPrivateKey holds). */
  readonly keyFile: string;
  readonly privateKey: string;
  /** Runs `ssh ... root@127.0.0.1 <command>` with `stdin`, the host key pinned. */
  ssh(command: string, stdin?: string, extra?: string[]): Promise<RunResult>;
  /** Copies a local file to a remote path over SFTP, as CopyToRemote does. */
  put(local: string, remote: string): Promise<void>;
  /** What sshd logged (stderr), for diagnosing failures. */
  log(): string;
  stop(): Promise<void>;
}

async function keygen(file: string): Promise<void> {
  const r = await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", file]);
  if (r.code !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
}

/** Starts sshd; `remotePath` is the PATH its sessions get (so they find the aws CLI). */
export async function startSshd(remotePath = process.env.PATH ?? "/usr/bin:/bin"): Promise<Sshd> {
  const dir = mkdtempSync(path.join(SSHD_STATE_ROOT, "fragalysis-test-sshd-"));
  chmodSync(dir, 0o700);
  const port = await freePort();
  const hostKeyFile = path.join(dir, "host_ed25519");
  const keyFile = path.join(dir, "id_ed25519");
  await keygen(hostKeyFile);
  await keygen(keyFile);
  const authorized = path.join(dir, "authorized_keys");
  writeFileSync(authorized, readFileSync(`${keyFile}.pub`), { mode: 0o600 });
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 }); // privilege separation dir
  const config = path.join(dir, "sshd_config");
  writeFileSync(
    config,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${hostKeyFile}`,
      `PidFile ${path.join(dir, "sshd.pid")}`,
      `AuthorizedKeysFile ${authorized}`,
      "StrictModes yes",
      "PermitRootLogin prohibit-password",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      // Debian's default: nothing but the locale passes through SSH Setenv.
      "AcceptEnv LANG LC_*",
      `SetEnv PATH=${remotePath}`,
      "Subsystem sftp internal-sftp",
      "LogLevel VERBOSE",
      "",
    ].join("\n"),
  );
  const child: ChildProcess = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", config], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr = (stderr + d).slice(-20000)));
  try {
    await waitForPort(port);
  } catch (err) {
    child.kill("SIGKILL");
    throw new Error(`sshd did not start: ${(err as Error).message}\n${stderr}`);
  }
  const hostKey = readFileSync(`${hostKeyFile}.pub`, "utf8")
    .trim()
    .split(" ")
    .slice(0, 2)
    .join(" ");
  const knownHosts = path.join(dir, "known_hosts");
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${hostKey}\n`);
  const options = [
    "-i",
    keyFile,
    "-o",
    "BatchMode=yes",
    "-o",
    "IdentitiesOnly=yes",
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    `UserKnownHostsFile=${knownHosts}`,
    "-o",
    "LogLevel=ERROR",
  ];
  return {
    port,
    hostKey,
    keyFile,
    privateKey: readFileSync(keyFile, "utf8"),
    ssh: (command, stdin = "", extra = []) =>
      run("ssh", [...options, ...extra, "-p", String(port), "root@127.0.0.1", command], {
        input: stdin,
        timeoutMs: 120_000,
      }),
    async put(local, remote) {
      const batch = `put ${JSON.stringify(local)} ${JSON.stringify(remote)}\n`;
      const r = await run("sftp", [...options, "-P", String(port), "-b", "-", "root@127.0.0.1"], {
        input: batch,
      });
      if (r.code !== 0) throw new Error(`sftp put ${local} -> ${remote} failed: ${r.stderr}`);
    },
    log: () => stderr,
    stop: async () => {
      await stopProcess(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
