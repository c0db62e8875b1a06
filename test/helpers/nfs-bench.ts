// The NFS server's stand-in for the tests that reach it over SSH (ssh-executor, plan-nfs): a real
// sshd and moto with one bucket, up for the whole file.
import { after, before } from "node:test";
import { createBucket } from "./fixtures";
import { startMoto, type Moto } from "./servers";
import { startSshd, type Sshd } from "./sshd";

export interface NfsBench {
  readonly moto: Moto;
  readonly sshd: Sshd;
}

/** Registers the file's before (both started, `bucket` created) and after (both stopped). */
export function useNfsBench(bucket: string): NfsBench {
  let moto: Moto | undefined;
  let sshd: Sshd | undefined;
  before(async () => {
    [moto, sshd] = await Promise.all([startMoto(), startSshd()]);
    await createBucket(moto.env, bucket);
  });
  after(async () => {
    await Promise.all([moto!.stop(), sshd!.stop()]);
  });
  // Getters: the file holds this from load time, its tests read the servers once they are up.
  return {
    get moto() {
      if (!moto) throw new Error("moto is not up: use it inside a test");
      return moto;
    },
    get sshd() {
      if (!sshd) throw new Error("sshd is not up: use it inside a test");
      return sshd;
    },
  };
}
