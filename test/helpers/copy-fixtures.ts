// Settings the copy-component tests build BackupCopy from: the production NFS server, the jobs
// defaults, and a backup entry as the config schema would hand it over (defaults filled in).
import type { Backup, RelocationConfig } from "../../components/config";
import { DEFAULT_GZIP_IMAGE, DEFAULT_JOB_IMAGE, DEFAULT_SCRIPT_DIR } from "../../components/config";

export const NFS: RelocationConfig["nfs"] = {
  host: "192.168.253.39",
  port: 22,
  user: "root",
  hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleHostKey",
  scriptDir: DEFAULT_SCRIPT_DIR,
};

export const JOBS: RelocationConfig["jobs"] = {
  namespace: "fragalysis-relocation",
  createNamespace: true,
  image: DEFAULT_JOB_IMAGE,
  gzipImage: DEFAULT_GZIP_IMAGE,
};

export const TARGET = { bucket: "im-fragalysis", region: "eu-central-1" };

/** The Keycloak dump backup; `over` changes any field. */
export function backupFixture(over: Partial<Backup> = {}): Backup {
  return {
    name: "keycloak-db",
    kind: "latest",
    sourceDir: "/nfs/kubernetes-prod/im-infra-pg-bu-pvc-5fad6224/hourly",
    prefix: "production-keycloak-db/",
    executor: "ssh",
    pattern: "backup-*-dumpall.sql.gz",
    minAgeSeconds: 120,
    preSync: true,
    shards: 1,
    ...over,
  };
}

/** The media tree backup; `over` changes any field. */
export function mediaFixture(over: Partial<Backup> = {}): Backup {
  return backupFixture({
    name: "stack-media",
    kind: "tree",
    sourceDir: "/nfs/kubernetes-media-replica",
    prefix: "production-stack-media/",
    ...over,
  });
}
