// One connectivity check of the NFS server before any copy starts: the pinned host key, the
// login, bash and the aws CLI (scripts/nfs-check.sh). Every ssh copy (pre-sync and final) waits
// for it, so a wrong key or a missing tool fails ONCE, with one clear line and before the
// quiesce, instead of as dozens of parallel failed logins after production was scaled down.
// It runs again whenever the connection changes (an update of a Command re-runs its create).
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { nfsConnection, shellQuote, type NfsSettings } from "./nfs-to-s3-copy";
import { script } from "./scripts";

export interface NfsConnectivityCheckArgs {
  /** Host, port, user and hostKey of the NFS server. */
  readonly nfs: NfsSettings;
  /** The SSH private key for nfs.user, a secret Output. */
  readonly privateKey: pulumi.Input<string>;
}

export class NfsConnectivityCheck extends pulumi.ComponentResource {
  /** The check's one line, e.g. "nfs-check: ok: root@nfs bash 5.2.15, aws-cli/2.31.39 ...". */
  public readonly report: pulumi.Output<string>;
  /** Depend on this to run after the check passed. */
  public readonly check: command.remote.Command;

  constructor(
    name: string,
    args: NfsConnectivityCheckArgs,
    opts?: pulumi.ComponentResourceOptions,
  ) {
    super("relocation:nfs:NfsConnectivityCheck", name, {}, opts);
    const check = script("nfs-check.sh");
    this.check = new command.remote.Command(
      `${name}-ssh`,
      {
        // A wrong key fails fast: few dials, not the copies' five.
        connection: { ...nfsConnection(args.nfs, args.privateKey), dialErrorLimit: 2 },
        create: `bash -c ${shellQuote(check.text)} nfs-check`,
        addPreviousOutputInEnv: false,
        triggers: [check.sha256],
      },
      { parent: this, customTimeouts: { create: "120s" } },
    );
    this.report = this.check.stdout;
    this.registerOutputs({ report: this.report });
  }
}
