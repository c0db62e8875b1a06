// A cluster for the stand-in kubectl of test/fixtures/fake-kube: StatefulSets kept in a state
// file the fake reads and writes, every kubectl call logged beside it, and a script run the
// way its local.Command runs it (`bash -c <text>`) with that kubectl first on PATH.
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { script } from "../../components/scripts";
import { run, type RunResult } from "./run";
import { tempDir } from "./servers";

/** The directory holding the stand-in kubectl, to put first on PATH. */
export const FAKE_KUBE_BIN = path.join(__dirname, "..", "fixtures", "fake-kube");

/** What the fake keeps per StatefulSet; a test's S adds the knobs its scripts' waits read. */
export interface FakeStatefulSet {
  replicas: number;
  annotations: Record<string, string>;
  pods: string[];
}

export class FakeKube<S extends FakeStatefulSet = FakeStatefulSet> {
  readonly file: string;

  /** StatefulSets by "namespace/name"; unless given, no annotations and `replicas` pods. */
  constructor(dirName: string, statefulSets: Record<string, Partial<S> & { replicas: number }>) {
    this.file = path.join(tempDir(dirName), "state.json");
    const full: Record<string, Partial<S>> = {};
    for (const [key, s] of Object.entries(statefulSets)) {
      const name = key.split("/")[1];
      full[key] = {
        annotations: {},
        pods: Array.from({ length: s.replicas }, (_, i) => `${name}-${i}`),
        ...s,
      } as Partial<S>;
    }
    writeFileSync(this.file, JSON.stringify({ statefulSets: full }));
  }

  get(key: string): S {
    return JSON.parse(readFileSync(this.file, "utf8")).statefulSets[key];
  }

  /** Every kubectl call, in order. */
  calls(): string[] {
    return readFileSync(`${this.file}.log`, "utf8").split("\n").filter(Boolean);
  }

  /** Runs scripts/`name` as the Command does: `bash -c <text>` with the Command's environment. */
  runScript(name: string, env: Record<string, string>): Promise<RunResult> {
    return run("/bin/bash", ["-c", script(name).text], {
      env: { ...env, FAKE_KUBE_STATE: this.file, PATH: `${FAKE_KUBE_BIN}:${process.env.PATH}` },
    });
  }
}
