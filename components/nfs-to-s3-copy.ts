// The `ssh` executor: runs a backup's copy script on the NFS server over SSH, as the runbook
// does by hand, and turns the script's last stdout line into typed outputs.
//
// Shipping: remote.CopyToRemote puts the scripts under nfs.scriptDir/<backup name>/ (a 0700
// directory the SSH user must own), re-copying only when a file's content changes.
// Running: remote.Command runs `bash <dir>/remote-run.sh <script>`; every setting, credentials
// included, goes in on stdin (a Pulumi secret, so encrypted in state). Not on the command line
// (ps), not through SSH Setenv (Debian's sshd refuses anything but LANG/LC_*, which is also why
// addPreviousOutputInEnv is off). The server's host key is pinned when nfs.hostKey is set.
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
import { script } from "./scripts";

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

/**
 * The exact command text and stdin the copy Command sends: the command names only the runner
 * and the script; every setting, credentials included, is on stdin.
 */
export function remoteInvocation(
  dir: string,
  scriptName: string,
  settings: Record<string, string>,
): RemoteInvocation {
  return {
    command: `bash ${shellQuote(`${dir}/${RUNNER}`)} ${shellQuote(scriptName)}`,
    stdin: settingsText(settings),
  };
}

/**
 * Creates the scripts' directory (path on stdin), private to the SSH user; fails if it or its
 * parent belongs to someone else, so nobody else can swap the scripts that receive credentials.
 */
export function prepareDirInvocation(dir: string): RemoteInvocation {
  return {
    command:
      'IFS= read -r d && umask 077 && mkdir -p -- "$d" && chmod 700 -- "$d" && ' +
      'test -O "$d" && test -O "$(dirname -- "$d")" || ' +
      '{ echo "script directory $d (or its parent) is not owned by $(id -un)" >&2; exit 1; }',
    stdin: `${dir}\n`,
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
    const connection: command.types.input.remote.ConnectionArgs = {
      host: nfs.host,
      port: nfs.port,
      user: nfs.user,
      privateKey: pulumi.secret(args.privateKey),
      ...(nfs.hostKey ? { hostKey: nfs.hostKey } : {}),
      dialErrorLimit: 5,
      perDialTimeout: 30,
    };
    const dir = remoteDir(nfs.scriptDir, backup.name);

    const prepare = prepareDirInvocation(dir);
    const mkdir = new command.remote.Command(
      `${name}-dir`,
      {
        connection,
        create: prepare.command,
        stdin: prepare.stdin,
        addPreviousOutputInEnv: false,
      },
      { parent: this },
    );

    const files = [...scriptFiles(backup.kind), RUNNER].map((f) => script(f));
    const copies = files.map(
      (s) =>
        new command.remote.CopyToRemote(
          `${name}-${s.name.replace(/\.sh$/, "")}`,
          {
            connection,
            source: new pulumi.asset.FileAsset(s.path),
            remotePath: `${dir}/${s.name}`,
            triggers: [s.sha256],
          },
          { parent: this, dependsOn: [mkdir] },
        ),
    );

    const settings = {
      ...copySettings(backup, args.target, backup.sourceDir),
      TIMEOUT_SECONDS: String(timeoutSeconds),
      ...(args.concurrency ? { CONCURRENCY: String(args.concurrency) } : {}),
    };
    const scriptName = scriptFor(backup.kind);
    const invocation = pulumi
      .all([args.credentials.accessKeyId, args.credentials.secretAccessKey, args.runSettings ?? {}])
      .apply(([keyId, secretKey, runSettings]) =>
        remoteInvocation(dir, scriptName, {
          ...settings,
          ...runSettings,
          AWS_ACCESS_KEY_ID: keyId,
          AWS_SECRET_ACCESS_KEY: secretKey,
        }),
      );

    this.copy = new command.remote.Command(
      `${name}-copy`,
      {
        connection,
        // The command text has no secret in it; only stdin does.
        create: remoteInvocation(dir, scriptName, {}).command,
        stdin: pulumi.secret(invocation.stdin),
        addPreviousOutputInEnv: false,
        triggers: files.map((s) => s.sha256),
      },
      {
        parent: this,
        dependsOn: pulumi.output(args.runAfter ?? []).apply((after) => [...copies, ...after]),
        additionalSecretOutputs: ["stdin"],
        customTimeouts: { create: `${timeoutSeconds + 120}s` },
      },
    );

    // stdout holds only the result line and log lines (the scripts never print credentials), but
    // the engine may mark it secret because stdin is; the result itself is plain.
    this.result = pulumi.unsecret(
      this.copy.stdout.apply((out) => parseCopyResult(backup.kind, out, backup.name)),
    );
    this.outputs = this.result.apply(exportedFields);
    this.registerOutputs({ result: this.result, outputs: this.outputs });
  }
}
