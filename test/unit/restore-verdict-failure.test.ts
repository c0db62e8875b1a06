// A restored database that is not the old side's fails `up`: the whole program (index.ts, side
// restore, Pulumi.destination.yaml) under mocks, where stack-db's Job reports one row fewer in
// `frag` than the old side's fingerprint of that dump. `verdict` and `verdictOk` (what the
// scale-up waits on) reject with ONE line naming the backup, the database and what differs.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { destinationState, dumpResultLine, sourceDump } from "../helpers/destination";
import { useMocks, valueOf } from "../helpers/mocks";
import {
  collectUnhandledRejections,
  forgetLeakedPromises,
  rejectionError,
} from "../helpers/rejections";
import {
  judgedStackMedia,
  judgedSuccess,
  STACK_MEDIA,
  STACK_MEDIA_VOLUMES,
} from "../helpers/judged";
import { importProgram, useDestinationConfig } from "../helpers/stack";

const sha = (c: string) => c.repeat(64);
const BACKUPS = {
  "keycloak-db": sourceDump("production-keycloak-db/", sha("a")),
  "stack-db": sourceDump("production-stack-db/", sha("b")),
  "stack-media": STACK_MEDIA,
};
const postgres = { tables: 0, rows: 0, sha256: sha("c") };
const keycloak = { tables: 90, rows: 5000, sha256: sha("d") };
const frag = { tables: 12, rows: 1201, sha256: sha("e") };
/** Both dumps fingerprinted on the old side, 3 minutes after they began. */
const FINGERPRINTS = {
  "keycloak-db": { at: "2026-12-07T00:03:00Z", databases: { keycloak, postgres } },
  "stack-db": { at: "2026-12-07T00:03:00Z", databases: { frag, postgres } },
};
/** What each restore Job reports: keycloak-db as fingerprinted, stack-db one row short. */
const SUMMARIES = {
  "keycloak-db": { keycloak, postgres },
  "stack-db": { frag: { ...frag, rows: 1200, sha256: sha("f") }, postgres },
};
const resultLine = (backup: "keycloak-db" | "stack-db") =>
  dumpResultLine(BACKUPS[backup], SUMMARIES[backup]);

let outputs: Record<string, pulumi.Output<unknown>>;

before(async () => {
  // The failed verdict fails the program as `pulumi up` sees it: a rejection nobody handles.
  collectUnhandledRejections();
  await useMocks({
    statefulSets: { "im-infra/database": 1, "production-stack/database": 1 },
    volumes: STACK_MEDIA_VOLUMES,
    commandStdout: (name) =>
      name.startsWith("restore-stack-media")
        ? judgedStackMedia()
        : judgedSuccess(
            resultLine(name.startsWith("restore-keycloak-db") ? "keycloak-db" : "stack-db"),
          ),
    state: destinationState({
      backups: BACKUPS,
      originalReplicas: { "production-stack/stack": 1 },
      fingerprints: FINGERPRINTS,
    }),
  });
  useDestinationConfig();
  outputs = (await importProgram()) as typeof outputs;
});

after(forgetLeakedPromises);

const LINE =
  'restore verdict: the restored data is not the old side\'s: backup stack-db (production-stack/database), database frag: rows 1200 restored, 1201 at dump time, content sha256 differs; do not scale up on it: see README "The restore verdict"';

describe("restore verdict: a database that differs (program)", () => {
  it("both restores ran and reported (the verdict comes after them)", async () => {
    const restored = (await valueOf(outputs.restored as never)) as Record<string, unknown>;
    assert.deepEqual(Object.keys(restored).sort(), ["keycloak-db", "stack-db"]);
  });

  it("verdict = rejects with one line naming the backup, the database and what differs", async () => {
    const err = await rejectionError(outputs.verdict!);
    assert.equal(err.message, LINE);
    // The operator's line as written: no SDK prefix, no stack trace.
    assert.equal(err.name, "OperatorError");
  });

  it("verdictOk (what the scale-up waits on) = rejects with the same line, never resolves", async () => {
    assert.equal((await rejectionError(outputs.verdictOk!)).message, LINE);
  });
});
