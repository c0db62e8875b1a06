// The restore verdict (components/restore/verdict.ts), table-driven: each restored server's
// summary against the old side's fingerprint, media counts against the tree entry, and the one
// failure line an operator reads.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  restoreVerdict,
  unverifiedWarnings,
  verdictFailure,
  type VerdictInput,
} from "../../components/restore/verdict";
import type { BackupsOutput, FingerprintsOutput } from "../../components/shared/outputs";

const sha = (c: string) => c.repeat(64);
const frag = { tables: 12, rows: 1201, sha256: sha("a") };
const postgres = { tables: 0, rows: 0, sha256: sha("4") };
const keycloak = { tables: 90, rows: 5000, sha256: sha("b") };
const dump = (prefix: string, sourceTime = "2026-12-07T10:00:00Z") => ({
  bucket: "im-fragalysis",
  key: `${prefix}backup-${sourceTime}-dumpall.sql.gz`,
  size: 1024,
  sha256: sha("f"),
  sourceTime,
  capturedAt: sourceTime,
  rpoSeconds: 0,
});
const BACKUPS: BackupsOutput = {
  "stack-db": dump("production-stack-db/"),
  "keycloak-db": dump("production-keycloak-db/"),
  "stack-media": {
    bucket: "im-fragalysis",
    prefix: "production-stack-media/",
    files: 135000,
    bytes: 240 * 2 ** 30,
    capturedAt: null,
    rpoSeconds: null,
  },
};
/** Fingerprinted 2 minutes after the dumps began (after the refresh's verdict). */
const FINGERPRINTS: FingerprintsOutput = {
  "stack-db": { at: "2026-12-07T10:02:00Z", databases: { frag, postgres } },
  "keycloak-db": { at: "2026-12-07T10:02:00Z", databases: { keycloak, postgres } },
};
const input = (
  stackDb: Record<string, { tables: number; rows: number; sha256: string }>,
  more: Partial<VerdictInput> = {},
): VerdictInput => ({
  restored: {
    "stack-db": { database: "production-stack/database", summary: stackDb },
    "keycloak-db": { database: "im-infra/database", summary: { keycloak, postgres } },
  },
  backups: BACKUPS,
  fingerprints: FINGERPRINTS,
  ...more,
});

describe("restoreVerdict: databases", () => {
  it("every database equal = ok, status equal per backup and database, no failure line", () => {
    const v = restoreVerdict(input({ frag, postgres }));
    assert.equal(v.ok, true);
    assert.deepEqual(v.unverified, []);
    assert.deepEqual(v.dumps["stack-db"], {
      status: "equal",
      database: "production-stack/database",
      fingerprintAt: "2026-12-07T10:02:00Z",
      databases: {
        frag: { status: "equal", tables: 12, rows: 1201 },
        postgres: { status: "equal", tables: 0, rows: 0 },
      },
    });
    assert.equal(v.dumps["keycloak-db"]!.status, "equal");
    assert.equal(verdictFailure(v), undefined);
    assert.deepEqual(unverifiedWarnings(v), []);
  });

  const cases: {
    name: string;
    restored: Record<string, { tables: number; rows: number; sha256: string }>;
    status: string;
    line: string;
  }[] = [
    {
      name: "one row fewer",
      restored: { frag: { ...frag, rows: 1200, sha256: sha("c") }, postgres },
      status: "differs",
      line: "database frag: rows 1200 restored, 1201 at dump time, content sha256 differs",
    },
    {
      name: "a table fewer",
      restored: { frag: { ...frag, tables: 11, sha256: sha("c") }, postgres },
      status: "differs",
      line: "database frag: tables 11 restored, 12 at dump time, content sha256 differs",
    },
    {
      name: "same counts, other content",
      restored: { frag: { ...frag, sha256: sha("c") }, postgres },
      status: "differs",
      line: "database frag: content sha256 differs",
    },
    {
      name: "database not restored",
      restored: { postgres },
      status: "missing",
      line: "database frag: not on the restored server (at dump time: 12 tables, 1201 rows)",
    },
  ];
  for (const c of cases) {
    it(`${c.name} = ${c.status}, not ok, one line naming backup, database and what differs`, () => {
      const v = restoreVerdict(input(c.restored));
      assert.equal(v.ok, false);
      assert.equal(v.dumps["stack-db"]!.status, "differs");
      const dump = v.dumps["stack-db"]!;
      assert.ok(dump.status === "differs");
      assert.equal(dump.databases.frag!.status, c.status);
      assert.equal(dump.databases.postgres!.status, "equal");
      assert.equal(v.dumps["keycloak-db"]!.status, "equal");
      const line = verdictFailure(v)!;
      assert.ok(!line.includes("\n"), line);
      assert.equal(
        line,
        `restore verdict: the restored data is not the old side's: backup stack-db (production-stack/database), ${c.line}; do not scale up on it: see README "The restore verdict"`,
      );
    });
  }

  it("differs = lists exactly the fields not equal, with both summaries", () => {
    const restored = { ...frag, rows: 1200, sha256: sha("c") };
    const dump = restoreVerdict(input({ frag: restored, postgres })).dumps["stack-db"]!;
    assert.ok(dump.status !== "unverified");
    assert.deepEqual(dump.databases.frag, {
      status: "differs",
      differs: ["rows", "sha256"],
      old: frag,
      restored,
    });
  });

  it("an extra database holding tables = extra, not ok", () => {
    const extra = { tables: 3, rows: 7, sha256: sha("d") };
    const v = restoreVerdict(input({ frag, postgres, other: extra }));
    assert.equal(v.ok, false);
    assert.match(
      verdictFailure(v)!,
      /backup stack-db \(production-stack\/database\), database other: only on the restored server \(3 tables, 7 rows\), not on the old one at dump time;/,
    );
  });

  it("an extra database without tables (the new server's own) = extra-empty, ok", () => {
    const empty = { tables: 0, rows: 0, sha256: sha("4") };
    const v = restoreVerdict(input({ frag, postgres, admin: empty }));
    assert.equal(v.ok, true);
    const dump = v.dumps["stack-db"]!;
    assert.ok(dump.status === "equal");
    assert.deepEqual(dump.databases.admin, { status: "extra-empty", restored: empty });
  });

  it("two databases differing = both in the one line", () => {
    const v = restoreVerdict({
      ...input({ frag: { ...frag, sha256: sha("c") }, postgres }),
      restored: {
        "stack-db": {
          database: "production-stack/database",
          summary: { frag: { ...frag, sha256: sha("c") }, postgres },
        },
        "keycloak-db": {
          database: "im-infra/database",
          summary: { keycloak: { ...keycloak, rows: 4999 }, postgres },
        },
      },
    });
    const line = verdictFailure(v)!;
    assert.ok(!line.includes("\n"));
    assert.match(
      line,
      /backup keycloak-db \(im-infra\/database\), database keycloak: rows 4999 restored, 5000 at dump time; backup stack-db \(production-stack\/database\), database frag: content sha256 differs;/,
    );
  });
});

describe("restoreVerdict: single-database dumps (pg_dump)", () => {
  /** stack-db restored from a pg_dump of frag: the Job's summary holds frag only. */
  const single = (summary: Record<string, typeof frag>, databaseName = "frag") =>
    input(
      {},
      {
        restored: {
          "stack-db": {
            database: "production-stack/database",
            summary,
            kind: "database",
            databaseName,
          },
        },
      },
    );

  it("frag equal, the old server's other databases not compared = equal, ok, not missing", () => {
    const v = restoreVerdict(single({ frag }));
    assert.equal(v.ok, true);
    assert.deepEqual(v.dumps["stack-db"], {
      status: "equal",
      database: "production-stack/database",
      fingerprintAt: "2026-12-07T10:02:00Z",
      databases: { frag: { status: "equal", tables: 12, rows: 1201 } },
      notCompared: ["postgres"],
    });
    assert.equal(verdictFailure(v), undefined);
  });

  it("the old side fingerprinted frag alone (DATABASE=frag) = equal, nothing left out", () => {
    const v = restoreVerdict({
      ...single({ frag }),
      fingerprints: { "stack-db": { at: "2026-12-07T10:02:00Z", databases: { frag } } },
    });
    assert.equal(v.ok, true);
    const dump = v.dumps["stack-db"]!;
    assert.ok(dump.status === "equal");
    assert.deepEqual(dump.notCompared, []);
  });

  it("frag one row fewer = differs, the line names frag", () => {
    const v = restoreVerdict(single({ frag: { ...frag, rows: 1200, sha256: sha("c") } }));
    assert.equal(v.ok, false);
    assert.equal(
      verdictFailure(v),
      'restore verdict: the restored data is not the old side\'s: backup stack-db (production-stack/database), database frag: rows 1200 restored, 1201 at dump time, content sha256 differs; do not scale up on it: see README "The restore verdict"',
    );
  });

  it("restored into a name the old server did not have, even without tables = extra, not ok", () => {
    const empty = { tables: 0, rows: 0, sha256: sha("e") };
    const v = restoreVerdict(single({ django: empty }, "django"));
    assert.equal(v.ok, false);
    const dump = v.dumps["stack-db"]!;
    assert.ok(dump.status === "differs");
    assert.equal(dump.databases.django!.status, "extra");
    assert.deepEqual(dump.notCompared, ["frag", "postgres"]);
    assert.match(
      verdictFailure(v)!,
      /database django: only on the restored server \(0 tables, 0 rows\)/,
    );
  });
});

describe("restoreVerdict: unverified", () => {
  it("source without a fingerprints output = every dump unverified, ok, one warning each", () => {
    const v = restoreVerdict(
      input({ frag: { ...frag, rows: 0 }, postgres }, { fingerprints: undefined }),
    );
    assert.equal(v.ok, true);
    assert.deepEqual(v.unverified, ["keycloak-db", "stack-db"]);
    assert.deepEqual(v.dumps["stack-db"], {
      status: "unverified",
      database: "production-stack/database",
      reason:
        "no fingerprint recorded: the source stack has no fingerprints output (its program predates it)",
    });
    assert.equal(verdictFailure(v), undefined);
    const warnings = unverifiedWarnings(v);
    assert.equal(warnings.length, 2);
    assert.match(
      warnings[1]!,
      /^restore verdict: backup stack-db \(production-stack\/database\) is unverified: no fingerprint recorded: .*; its dump's sha256 was checked, its data was not compared with the old server$/,
    );
  });

  it("no fingerprint for one backup (not refreshed) = that one unverified, the other compared", () => {
    const v = restoreVerdict(
      input({ frag, postgres }, { fingerprints: { "keycloak-db": FINGERPRINTS["keycloak-db"]! } }),
    );
    assert.equal(v.ok, true);
    assert.deepEqual(v.unverified, ["stack-db"]);
    const dump = v.dumps["stack-db"]!;
    assert.ok(dump.status === "unverified");
    assert.match(
      dump.reason,
      /^no fingerprint recorded: .*refreshed dumps only \(refresh\.cronJob\)$/,
    );
    assert.equal(v.dumps["keycloak-db"]!.status, "equal");
  });

  it("a fingerprint older than the dump restored = unverified, even when the summaries differ", () => {
    const v = restoreVerdict(
      input(
        { frag: { ...frag, rows: 5 }, postgres },
        {
          backups: { ...BACKUPS, "stack-db": dump("production-stack-db/", "2026-12-07T11:00:00Z") },
        },
      ),
    );
    assert.equal(v.ok, true);
    const d = v.dumps["stack-db"]!;
    assert.ok(d.status === "unverified");
    assert.equal(
      d.reason,
      "the fingerprint (read at 2026-12-07T10:02:00Z) is older than the dump restored (2026-12-07T11:00:00Z): it describes an earlier state",
    );
  });
});

describe("restoreVerdict: media", () => {
  const tree = BACKUPS["stack-media"] as { files: number; bytes: number };

  it("files and bytes equal the tree entry = equal, ok", () => {
    const v = restoreVerdict(
      input(
        { frag, postgres },
        { media: { "stack-media": { files: tree.files, bytes: tree.bytes } } },
      ),
    );
    assert.equal(v.ok, true);
    assert.deepEqual(v.media["stack-media"], {
      status: "equal",
      expected: { files: 135000, bytes: tree.bytes },
      restored: { files: 135000, bytes: tree.bytes },
    });
  });

  it("a file fewer = differs, not ok, the line names the backup and both counts", () => {
    const v = restoreVerdict(
      input(
        { frag, postgres },
        { media: { "stack-media": { files: tree.files - 1, bytes: tree.bytes - 10 } } },
      ),
    );
    assert.equal(v.ok, false);
    assert.equal(v.media["stack-media"]!.status, "differs");
    assert.equal(
      verdictFailure(v),
      `restore verdict: the restored data is not the old side's: media backup stack-media: files 134999 restored, 135000 in the backup, bytes ${tree.bytes - 10} restored, ${tree.bytes} in the backup; do not scale up on it: see README "The restore verdict"`,
    );
  });

  it("every file there, one shorter (bytes only) = differs, not ok", () => {
    const v = restoreVerdict(
      input({ frag, postgres }, { media: { "stack-media": { files: tree.files, bytes: 1 } } }),
    );
    assert.equal(v.ok, false);
    assert.match(
      verdictFailure(v)!,
      /media backup stack-media: bytes 1 restored, \d+ in the backup;/,
    );
  });

  it("a media result for a backup that is not a tree = differs, named", () => {
    const v = restoreVerdict(
      input({ frag, postgres }, { media: { "stack-db": { files: 1, bytes: 1 } } }),
    );
    assert.equal(v.ok, false);
    assert.match(
      verdictFailure(v)!,
      /media backup stack-db: the source's backups output has no tree entry for it;/,
    );
  });

  it("no media results = no media verdict", () => {
    assert.deepEqual(restoreVerdict(input({ frag, postgres })).media, {});
  });
});
