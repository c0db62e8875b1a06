// scripts/sync-dir.sh's SHA-256: OpenSSL's where it answers right (CPU SHA instructions), else
// coreutils' sha256sum, and a batch whose OpenSSL lines do not match the names (another
// escaping) hashed again by sha256sum. Every way, each manifest line holds the file's real
// SHA-256, hostile names and multipart files included. Real aws CLI, openssl and moto.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { SCRIPTS, getObject, listObjects, sha256 } from "../helpers/fixtures";
import { run } from "../helpers/run";
import { useMotoBucket } from "../helpers/moto-bucket";
import { tempDir } from "../helpers/servers";

const BUCKET = "relocation-sha";
const s3 = useMotoBucket(BUCKET);

/**
 * Names sha256sum and openssl could print differently or misread (moto cannot store a newline
 * in a key: those are in the awk pass's own test below).
 */
const NAMES = [
  "plain.txt",
  "cr\rinside\r",
  "back\\slash\\n.txt",
  "tab\there.txt",
  "-",
  "dir/nested file.txt",
  "big.bin", // over the multipart threshold below: hashed from a pipe, not the batch
];

function tree(): string {
  const root = tempDir("sync-dir-sha-");
  for (const [i, name] of NAMES.entries()) {
    mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    const size = name === "big.bin" ? 6 * 1024 * 1024 + 7 : 1000 + i;
    writeFileSync(path.join(root, name), Buffer.alloc(size, i + 1));
  }
  return root;
}

/** A bin directory holding one `openssl` wrapper script, first on PATH. */
function opensslWrapper(body: string): string {
  const bin = tempDir("sync-dir-sha-bin-");
  const real = execFileSync("bash", ["-c", "command -v openssl"]).toString().trim();
  writeFileSync(path.join(bin, "openssl"), `#!/usr/bin/env bash\nREAL=${real}\n${body}\n`);
  chmodSync(path.join(bin, "openssl"), 0o755);
  return `${bin}:${process.env.PATH}`;
}

async function manifestSha256s(root: string, prefix: string, PATH: string) {
  const r = await run("bash", [path.join(SCRIPTS, "sync-dir.sh")], {
    env: {
      ...s3.env,
      PATH,
      SYNC_TOOL: "aws",
      SOURCE_DIR: root,
      DEST_URI: `s3://${BUCKET}/${prefix}`,
      MULTIPART_THRESHOLD_BYTES: "5242880",
      MULTIPART_CHUNKSIZE_BYTES: "5242880",
    },
  });
  assert.equal(r.code, 0, r.stderr);
  const key = (await listObjects(s3.env, BUCKET, prefix)).find((o) =>
    o.Key.includes(".relocation-manifest/"),
  )!.Key;
  const lines = (await getObject(s3.env, BUCKET, key, path.join(tempDir("sha-m-"), "m")))
    .toString()
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { path: string; sha256: string });
  return new Map(lines.map((l) => [l.path, l.sha256]));
}

function assertReal(root: string, got: Map<string, string>) {
  assert.deepEqual([...got.keys()].sort(), [...NAMES].sort());
  for (const name of NAMES) {
    assert.equal(got.get(name), sha256(readFileSync(path.join(root, name))), name);
  }
}

describe("sync-dir.sh SHA-256 of every file, whichever tool computes it", () => {
  it("openssl on PATH = each manifest line the file's SHA-256, hostile names included", async () => {
    const root = tree();
    const calls = tempDir("sha-calls-");
    const PATH = opensslWrapper(`: >"${calls}/called-$$"; exec "$REAL" "$@"`);
    assertReal(root, await manifestSha256s(root, "openssl/", PATH));
    // The check of OpenSSL's answer, then the batch and the multipart file.
    assert.ok(readdirSync(calls).length >= 3, "openssl was not used for the digests");
  });

  it("no usable openssl = sha256sum, the same digests", async () => {
    const root = tree();
    assertReal(root, await manifestSha256s(root, "no-openssl/", opensslWrapper("exit 127")));
  });

  it("openssl lines that do not match the names = the batch by sha256sum", async () => {
    const root = tree();
    // As an OpenSSL that escaped backslashes would print them.
    const PATH = opensslWrapper(`"$REAL" "$@" | sed 's/\\\\/\\\\\\\\/g'`);
    assertReal(root, await manifestSha256s(root, "other-escaping/", PATH));
  });
});

describe("sync-dir.awk openssl-sha pass", () => {
  it("openssl's lines for names with newlines and backslashes = sha256sum -z's records", () => {
    const dir = tempDir("openssl-sha-");
    const names = ["a", "new\nline", "two\n\nlines\n", "back\\n", "both\\n\nx", "-", "sp ace"];
    names.forEach((n, i) => writeFileSync(path.join(dir, n), `content ${i}`));
    writeFileSync(path.join(dir, "names"), names.map((n) => `./${n}\0`).join(""));
    const sh = (script: string) => execFileSync("bash", ["-c", script], { cwd: dir });
    sh("xargs -0 openssl dgst -sha256 -r <names >names.openssl");
    const got = sh(
      `PASS=openssl-sha OPENSSL_OUT=names.openssl LC_ALL=C awk -f '${SCRIPTS}/sync-dir.awk' -- names`,
    );
    assert.equal(got.toString("latin1"), sh("xargs -0 sha256sum -z -- <names").toString("latin1"));
  });

  it("a line that is not the next name's = exit 3, so the batch is hashed again", () => {
    const dir = tempDir("openssl-sha-");
    writeFileSync(path.join(dir, "names"), "./a\0./b\0");
    writeFileSync(
      path.join(dir, "names.openssl"),
      `${"0".repeat(64)} *./b\n${"1".repeat(64)} *./a\n`,
    );
    const r = execFileSync(
      "bash",
      [
        "-c",
        `PASS=openssl-sha OPENSSL_OUT=names.openssl LC_ALL=C awk -f '${SCRIPTS}/sync-dir.awk' -- names; echo "rc=$?"`,
      ],
      { cwd: dir },
    );
    assert.match(r.toString(), /rc=3$/m);
  });
});
