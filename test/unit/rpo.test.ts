// The loss window and the freshness settings, pure: what each copy is told and what it reports.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { freshDumpSettings, lastQuiesce, rpoEntry } from "../../components/rpo";
import { backupFixture, mediaFixture } from "../helpers/copy-fixtures";

const Q = "2026-11-25T10:00:00Z";
const VERDICT = {
  job: "im-infra/relocation-refresh-keycloak-db",
  message: "SUCCESS",
  startTime: "2026-11-25T10:00:05Z",
  completionTime: "2026-11-25T10:00:40Z",
};
const dump = (sourceTime: string) => ({
  kind: "latest" as const,
  bucket: "b",
  key: "k",
  size: 1,
  sha256: "a".repeat(64),
  source: "/s",
  sourceTime,
});
const tree = {
  kind: "tree" as const,
  bucket: "b",
  prefix: "p/",
  files: 1,
  bytes: 1,
  uploaded: 1,
  skipped: 0,
};

describe("freshDumpSettings", () => {
  it("refreshed = NOT_BEFORE the Job's start, no minimum age", () => {
    assert.deepEqual(freshDumpSettings(backupFixture(), Q, VERDICT), {
      NOT_BEFORE: "2026-11-25T10:00:05Z",
      MIN_AGE_SECONDS: "0",
    });
  });
  it("maxRpoSeconds 3600 = NOT_BEFORE one hour before the quiesce", () => {
    assert.deepEqual(freshDumpSettings(backupFixture({ maxRpoSeconds: 3600 }), Q), {
      NOT_BEFORE: "2026-11-25T09:00:00Z",
    });
  });
  it("notBefore later than the window = notBefore wins", () => {
    const b = backupFixture({ maxRpoSeconds: 3600, notBefore: "2026-11-25T09:30:00Z" });
    assert.deepEqual(freshDumpSettings(b, Q), { NOT_BEFORE: "2026-11-25T09:30:00Z" });
  });
  it("neither refresh nor maxRpoSeconds = error naming the backup", () => {
    assert.throws(
      () => freshDumpSettings(backupFixture(), Q),
      /backup keycloak-db: neither refresh/,
    );
  });
});

describe("rpoEntry", () => {
  it("dump from 09:07:01, quiesce 10:00:00 = 3179 s at risk", () => {
    assert.deepEqual(
      rpoEntry(backupFixture({ maxRpoSeconds: 7200 }), dump("2026-11-25T09:07:01Z"), Q),
      {
        capturedAt: "2026-11-25T09:07:01Z",
        rpoSeconds: 3179,
        basis: "dump name",
      },
    );
  });
  it("dump made after the quiesce = 0, never negative", () => {
    assert.equal(rpoEntry(backupFixture(), dump("2026-11-25T10:00:07Z"), Q).rpoSeconds, 0);
  });
  it("tree read from the live volume = captured at the quiesce, 0", () => {
    const b = mediaFixture({
      refresh: { liveVolume: "production-stack/media", waitSeconds: 900, timeoutSeconds: 3600 },
    });
    assert.deepEqual(rpoEntry(b, tree, Q), {
      capturedAt: Q,
      rpoSeconds: 0,
      basis: "live volume at quiesce",
    });
  });
  it("tree from the replica = unknown (null), not a made-up 0", () => {
    assert.deepEqual(rpoEntry(mediaFixture({ maxRpoSeconds: 86400 }), tree, Q), {
      capturedAt: null,
      rpoSeconds: null,
      basis: "unknown",
    });
  });
  it("last quiesce = the latest of the StatefulSets' times", () => {
    assert.equal(
      lastQuiesce(["2026-11-25T10:00:09Z", "2026-11-25T10:00:31Z", Q]),
      "2026-11-25T10:00:31Z",
    );
  });
});
