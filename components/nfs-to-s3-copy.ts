// The `ssh` executor: runs a backup's copy script on the NFS server over SSH, as the runbook
// does by hand, and turns the script's last stdout line into typed outputs.
//
// One remote.Command per backup, nothing shipped ahead: the command text is scripts/remote-run.sh
// itself (`bash -c <runner> remote-run <dir> <script>`), and stdin carries the settings, the
// credentials and the scripts with their SHA-256. The runner (re)writes a script into
// nfs.scriptDir/<backup>/ (0700, owned by the SSH user) only when it is missing or differs, so a
// reboot, a tmp cleaner or a hand edit between runs is repaired, not a failed copy (a CopyToRemote
// has no Read: Pulumi would never notice the file gone). Credentials are never on the command line
// (ps) nor in SSH Setenv (Debian's sshd refuses anything but LANG/LC_*, which is also why
// addPreviousOutputInEnv is off). The server's host key is pinned when nfs.hostKey is set; the
// NfsConnectivityCheck (nfs-check.ts) has proved key, login, bash and the aws CLI before any copy.
// Output: stdin, stdout and stderr are secrets in state (the real provider stores them plain);
// only stderr (log lines, never a credential) is streamed to the CLI.
// Re-running: triggers hold the scripts' SHA-256, so an edited script copies again; unchanged
// inputs do not (force it with `pulumi up --replace <urn of ...-copy>`).
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { Backup, RelocationConfig } from "./config";
import {
  copySettings,
  exportedFields,
  parseCopyResult,
  scriptFiles,
  scriptFor,
  type CopyResult,
} from "./copy-result";
import type { S3Credentials, S3Target } from "./credentials";
import { script, type Script } from "./scripts";

export type NfsSettings = RelocationConfig["nfs"];

/** The shell command and the stdin a remote Command sends. */
export interface RemoteInvocation {
  readonly command: string;
  readonly stdin: string;
}

export const RUNNER = "remote-run.sh";
const SETTING_NAME = /^[A-Z][A-Z0-9_]*$/;

/** Single-quotes a word for a POSIX shell. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Where a backup's scripts live on the NFS server. */
export function remoteDir(scriptDir: string, backupName: string): string {
  return `${scriptDir.replace(/\/+$/, "")}/${backupName}`;
}

/** `NAME=value` lines as remote-run.sh reads them; rejects what a line cannot carry. */
export function settingsText(settings: Record<string, string>): string {
  return Object.entries(settings)
    .map(([name, value]) => {
      if (!SETTING_NAME.test(name)) throw new Error(`setting name ${name} is not NAME_LIKE_THIS`);
      if (/[\n\r\0]/.test(value)) {
        throw new Error(`setting ${name} contains a line break or NUL; it cannot be sent on stdin`);
      }
      return `${name}=${value}\n`;
    })
    .join("");
}

/** A script as the runner reads it from stdin: "#file NAME BYTES SHA256" and the bytes. */
export function fileFrame(s: Pick<Script, "name" | "text" | "sha256">): string {
  return `#file ${s.name} ${Buffer.byteLength(s.text, "utf8")} ${s.sha256}\n${s.text}`;
}

/**
 * The exact command text and stdin the copy Command sends: the command is the runner itself
 * with the directory and the script name; settings (credentials included) and the scripts are
 * on stdin.
 */
export function remoteInvocation(
  dir: string,
  scriptName: string,
  settings: Record<string, string>,
  files: readonly Pick<Script, "name" | "text" | "sha256">[] = [],
): RemoteInvocation {
  return {
    command: `bash -c ${shellQuote(script(RUNNER).text)} remote-run ${shellQuote(dir)} ${shellQuote(scriptName)}`,
    stdin: settingsText(settings) + files.map(fileFrame).join(""),
  };
}

/** The connection every Command to the NFS server uses; the private key stays a secret. */
export function nfsConnection(
  nfs: NfsSettings,
  privateKey: pulumi.Input<string>,
): command.types.input.remote.ConnectionArgs {
  return {
    host: nfs.host,
    port: nfs.port,
    user: nfs.user,
    privateKey: pulumi.secret(privateKey),
    ...(nfs.hostKey ? { hostKey: nfs.hostKey } : {}),
    dialErrorLimit: 5,
    perDialTimeout: 30,
  };
}

export interface NfsToS3CopyArgs {
  /** The backup to copy (kind, sourceDir on the NFS server, prefix, pattern...). */
  readonly backup: Backup;
  readonly target: S3Target;
  readonly credentials: S3Credentials;
  /** Host, port, user, hostKey and scriptDir of the NFS server. */
  readonly nfs: NfsSettings;
  /** The SSH private key for nfs.user, a secret Output. */
  readonly privateKey: pulumi.Input<string>;
  /** Stop the script after this long. @default 14400 */
  readonly timeoutSeconds?: number;
  /** Parallel S3 requests of the transfer. @default the script's own (10) */
  readonly concurrency?: number;
  /** Resources that must finish before the copy starts (the quiesce). @default [] */
  readonly runAfter?: pulumi.Input<pulumi.Resource>[];
  /** Settings known only during the run (NOT_BEFORE of a refreshed dump); override the rest. @default {} */
  readonly runSettings?: pulumi.Input<Record<string, string>>;
}

export class NfsToS3Copy extends pulumi.ComponentResource {
  /** The script's parsed result. */
  public readonly result: pulumi.Output<CopyResult>;
  /** What the stack exports for this backup (see exportedFields). */
  public readonly outputs: pulumi.Output<Record<string, string | number>>;
  /** The Command that runs the copy; depend on it to run after the copy. */
  public readonly copy: command.remote.Command;

  constructor(name: string, args: NfsToS3CopyArgs, opts?: pulumi.ComponentResourceOptions) {
    super("relocation:backup:NfsToS3Copy", name, {}, opts);
    const { backup, nfs } = args;
    const timeoutSeconds = args.timeoutSeconds ?? 14400;
    const connection = nfsConnection(nfs, args.privateKey);
    const dir = remoteDir(nfs.scriptDir, backup.name);
    const files = scriptFiles(backup.kind).map((f) => script(f));

    const settings = {
      ...copySettings(backup, args.target, backup.sourceDir),
      TIMEOUT_SECONDS: String(timeoutSeconds),
      ...(args.concurrency ? { CONCURRENCY: String(args.concurrency) } : {}),
    };
    const scriptName = scriptFor(backup.kind);
    const invocation = pulumi
      .all([args.credentials.accessKeyId, args.credentials.secretAccessKey, args.runSettings ?? {}])
      .apply(([keyId, secretKey, runSettings]) =>
        remoteInvocation(
          dir,
          scriptName,
          {
            ...settings,
            ...runSettings,
            AWS_ACCESS_KEY_ID: keyId,
            AWS_SECRET_ACCESS_KEY: secretKey,
          },
          files,
        ),
      );

    this.copy = new command.remote.Command(
      `${name}-copy`,
      {
        connection,
        // The command text has no secret in it; only stdin does.
        create: remoteInvocation(dir, scriptName, {}).command,
        stdin: pulumi.secret(invocation.stdin),
        addPreviousOutputInEnv: false,
        // Progress lines only; the result line (stdout) is parsed, not shown.
        logging: "stderr",
        triggers: [...files, script(RUNNER)].map((s) => s.sha256),
      },
      {
        parent: this,
        dependsOn: args.runAfter ?? [],
        // The real provider keeps stdout/stderr plain whatever went in on stdin.
        additionalSecretOutputs: ["stdin", "stdout", "stderr"],
        customTimeouts: { create: `${timeoutSeconds + 120}s` },
      },
    );

    // stdout is a secret in state (additionalSecretOutputs); the parsed result is plain.
    this.result = pulumi.unsecret(
      this.copy.stdout.apply((out) => parseCopyResult(backup.kind, out, backup.name)),
    );
    this.outputs = this.result.apply(exportedFields);
    this.registerOutputs({ result: this.result, outputs: this.outputs });
  }
}
