// moto with one bucket, up for the whole test file: the ground of the script tests that need
// S3 and nothing else.
import { after, before } from "node:test";
import { createBucket } from "./fixtures";
import { startMoto, type Moto } from "./servers";

export interface MotoBucket {
  readonly moto: Moto;
  /** The aws CLI's env for moto with the file's extra variables (its bucket created with it). */
  readonly env: Record<string, string>;
}

/**
 * Registers the file's before (moto started, `bucket` created) and after (moto stopped).
 * `extraEnv` is laid over moto's env, e.g. a secret key the tests check is never printed.
 */
export function useMotoBucket(bucket: string, extraEnv: Record<string, string> = {}): MotoBucket {
  let moto: Moto | undefined;
  let env: Record<string, string> | undefined;
  before(async () => {
    moto = await startMoto();
    env = { ...moto.env, ...extraEnv };
    await createBucket(env, bucket);
  });
  after(() => moto!.stop());
  // Getters: the file holds this from load time, its tests read moto once it is up.
  return {
    get moto() {
      if (!moto) throw new Error("moto is not up: use it inside a test");
      return moto;
    },
    get env() {
      if (!env) throw new Error("moto is not up: use its env inside a test");
      return env;
    },
  };
}
