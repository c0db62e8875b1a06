// sync-dir.sh against hostile input, table-driven: names in awkward bytes, unreadable parts,
// bad settings, content that differs at the same size, files changing mid-copy, outages and
// signals. Real aws CLI, real rclone, moto_server. Content is checked through S3's ETag (moto
// computes it from the bytes it stored) and by the manifest's SHA-256 against the local file.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { SCRIPTS, getObject, listObjects, putObject, writeManyFiles } from "../helpers/fixtures";
import { scriptFiles } from "../../components/copy-result";
import { lastJson, oneErrorLine, run, type RunResult } from "../helpers/run";
import { S3Proxy } from "../helpers/s3-proxy";
import { useMotoBucket } from "../helpers/moto-bucket";
import { tempDir } from "../helpers/servers";

const BUCKET = "relocation-hostile";
const MULTIPART = { MULTIPART_THRESHOLD_BYTES: "8388608", MULTIPART_CHUNKSIZE_BYTES: "5242880" };
const s3 = useMotoBucket(BUCKET);

const md5 = (b: Buffer) => createHash("md5").update(b).digest("hex");
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

function sync(source: string, prefix: string, extra: Record<string, string> = {}) {
  return run("bash", [path.join(SCRIPTS, "sync-dir.sh")], {
    env: {
      ...s3.env,
      ...MULTIPART,
      SYNC_TOOL: "aws",
      SOURCE_DIR: source,
      DEST_URI: `s3://${BUCKET}/${prefix}`,
      ...extra,
    },
  });
}
function ok(r: RunResult): Record<string, any> {
  assert.equal(r.code, 0, r.stderr);
  return lastJson(r.stdout);
}
const failed = (r: RunResult) => oneErrorLine(r, "sync-dir");
interface ManifestEntry {
  path: string;
  size: number;
  sha256: string;
  etag: string;
}
async function manifest(key: string): Promise<ManifestEntry[]> {
  const file = path.join(tempDir("m"), "m.jsonl");
  const text = (await getObject(s3.env, BUCKET, key, file)).toString("utf8");
  return text
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ManifestEntry);
}

const HOSTILE: [string, string][] = [
  ["tab inside", "a\tb.txt"],
  ["tab at both ends", "\tboth\t"],
  ["CR inside and at the end", "cr\rmid\r"],
  ["CR first", "\rcr-first"],
  ["quotes", `q"uo'te\``],
  ["backslash", "back\\slash\\"],
  ["URL specials", "%41%+plus #hash?q=1&amp;"],
  ["leading dash", "-n"],
  ["double dash", "--help"],
  ["spaces at the ends", " spaced "],
  ["long (250 bytes)", "L".repeat(250)],
  ["non-ASCII", "ünï/マップ ✓"],
  ["fullwidth slash and dot (rclone's encodings)", "a／b．"],
];

for (const tool of ["aws", "rclone"]) {
  describe(`hostile names with ${tool}`, () => {
    it("each name = object at exactly that key, its content (ETag), manifest entry with its SHA-256", async () => {
      const root = tempDir("hostile");
      const local = new Map<string, Buffer>();
      HOSTILE.forEach(([, name], i) => {
        const file = path.join(root, "d", name);
        mkdirSync(path.dirname(file), { recursive: true });
        const data = Buffer.from(`content ${i} of ${JSON.stringify(name)}\n`);
        writeFileSync(file, data);
        local.set(`d/${name}`, data);
      });
      const prefix = `names-${tool}/`;
      const result = ok(await sync(root, prefix, { SYNC_TOOL: tool }));
      assert.equal(result.files, HOSTILE.length);
      const objects = (await listObjects(s3.env, BUCKET, prefix)).filter(
        (o) => !o.Key.includes(".relocation-manifest/"),
      );
      for (const [, name] of HOSTILE) {
        const o = objects.find((x) => x.Key === `${prefix}d/${name}`);
        assert.ok(
          o,
          `no object for ${JSON.stringify(name)}; have ${JSON.stringify(objects.map((x) => x.Key))}`,
        );
        assert.equal(
          o.ETag,
          `"${md5(local.get(`d/${name}`)!)}"`,
          `content of ${JSON.stringify(name)}`,
        );
      }
      assert.equal(objects.length, HOSTILE.length);
      assert.equal(result.manifestKey, `${prefix}.relocation-manifest/shard-0-of-1.jsonl`);
      const entries = await manifest(result.manifestKey);
      assert.deepEqual(entries.map((e) => e.path).sort(), [...local.keys()].sort());
      for (const e of entries) assert.equal(e.sha256, sha(local.get(e.path)!), e.path);
      const file = path.join(tempDir("m"), "raw");
      assert.equal(
        sha(await getObject(s3.env, BUCKET, result.manifestKey, file)),
        result.manifestSha256,
      );
    });
  });
}

// Valid names other tools merge or misread: each its own file, so its own object. No CR or
// newline among them, so rclone really runs (the list above goes to the aws CLI for those).
const MERGED: string[] = [
  "-", // stdin to md5sum, sha256sum and many more
  "caf\u00e9", // é composed (NFC) ...
  "cafe\u0301", // ... and decomposed (NFD): equal to rclone unless told otherwise
  "d/-",
  "d/\u00c5ngstr\u00f6m",
  "d/A\u030angstro\u0308m",
  "d/\u212bngstr\u00f6m", // Å as the Angstrom sign: the same NFC again
];
for (const tool of ["aws", "rclone"]) {
  describe(`names that differ only in Unicode normalization, and "-", with ${tool}`, () => {
    it("each = its own object with its own content, verified, its own manifest entry", async () => {
      const root = tempDir("merged");
      const local = new Map<string, Buffer>();
      MERGED.forEach((name, i) => {
        mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
        const data = Buffer.from(`${i}: ${JSON.stringify(name)}\n`.repeat(i + 1));
        writeFileSync(path.join(root, name), data);
        local.set(name, data);
      });
      const prefix = `merged-${tool}/`;
      const result = ok(await sync(root, prefix, { SYNC_TOOL: tool }));
      assert.equal(result.tool, tool);
      assert.equal(result.files, MERGED.length);
      const objects = (await listObjects(s3.env, BUCKET, prefix)).filter(
        (o) => !o.Key.includes(".relocation-manifest/"),
      );
      assert.deepEqual(objects.map((o) => o.Key).sort(), MERGED.map((n) => `${prefix}${n}`).sort());
      for (const o of objects) {
        const data = local.get(o.Key.slice(prefix.length))!;
        assert.equal(o.ETag, `"${md5(data)}"`, `content of ${JSON.stringify(o.Key)}`);
        const got = await getObject(s3.env, BUCKET, o.Key, path.join(tempDir("g"), "o"));
        assert.ok(got.equals(data), `bytes of ${JSON.stringify(o.Key)}`);
      }
      const entries = await manifest(result.manifestKey);
      assert.deepEqual(entries.map((e) => e.path).sort(), [...local.keys()].sort());
      for (const e of entries) assert.equal(e.sha256, sha(local.get(e.path)!), e.path);
      // A second run finds them all there.
      const again = ok(await sync(root, prefix, { SYNC_TOOL: tool }));
      assert.equal(again.uploaded, 0);
    });
  });
}

describe("names S3 cannot hold exactly", () => {
  it("newline in a name = copied exactly or exit 1 naming it (moto refuses such keys)", async () => {
    const root = tempDir("nl");
    writeFileSync(path.join(root, "new\nline"), "x\n");
    const r = await sync(root, "newline/");
    if (r.code === 0) {
      const keys = (await listObjects(s3.env, BUCKET, "newline/")).map((o) => o.Key);
      assert.ok(keys.includes("newline/new\nline"), JSON.stringify(keys));
    } else assert.match(failed(r), /new/);
  });

  it("key over 1024 bytes = exit 1 naming it, nothing sent", async () => {
    const root = tempDir("long");
    const dir = path.join(root, ...Array.from({ length: 5 }, () => "D".repeat(220)));
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "f"), "x");
    assert.match(
      failed(await sync(root, "toolong/")),
      /1 file\(s\) would get an S3 key over 1024 bytes: 'DDD/,
    );
    assert.deepEqual(await listObjects(s3.env, BUCKET, "toolong/"), []);
  });

  it("2000 non-UTF-8 names = one error line under 64 KiB with the count", async () => {
    const root = tempDir("many-bad");
    for (let i = 0; i < 2000; i++)
      writeFileSync(Buffer.from(path.join(root, `${"x".repeat(200)}-\xff-${i}`), "latin1"), "x");
    const line = failed(await sync(root, "manybad/"));
    assert.match(
      line,
      /2000 file name\(s\) are not valid UTF-8, which S3 keys must be: .*\(1995 more\)/,
    );
  });
});

describe("content, not size", () => {
  it("same-size object with other content = sent again (with and without a manifest)", async () => {
    const root = tempDir("same-size");
    writeFileSync(path.join(root, "a.txt"), "AAAA");
    writeFileSync(path.join(root, "b.txt"), "BBBB");
    ok(await sync(root, "samesize/"));
    const other = path.join(tempDir("x"), "o");
    writeFileSync(other, "ZZZZ");
    await putObject(s3.env, BUCKET, "samesize/a.txt", other); // the manifest still lists a.txt
    const r = ok(await sync(root, "samesize/"));
    assert.equal(r.uploaded, 1);
    const got = await getObject(s3.env, BUCKET, "samesize/a.txt", path.join(tempDir("g"), "a"));
    assert.equal(got.toString(), "AAAA");
    // No manifest (objects from another copier): hashed and compared, still re-sent.
    await putObject(s3.env, BUCKET, "fresh/a.txt", other);
    const r2 = ok(await sync(root, "fresh/"));
    assert.equal(r2.uploaded, 2);
    assert.equal(
      (await getObject(s3.env, BUCKET, "fresh/a.txt", path.join(tempDir("g"), "a"))).toString(),
      "AAAA",
    );
  });

  for (const [kind, size] of [
    ["single part", 4096],
    ["multipart", 9 * 1024 * 1024],
  ] as const) {
    it(`${kind}: file rewritten (same size) between hashing and upload = exit 1, nothing recorded; re-run recovers`, async () => {
      const root = tempDir("race");
      const file = path.join(root, "changing.bin");
      writeFileSync(file, Buffer.alloc(size, 1));
      writeFileSync(path.join(root, "steady.txt"), "steady\n");
      // An aws that rewrites the file (same size) just before the real upload starts.
      const real = execFileSync("bash", ["-c", "command -v aws"]).toString().trim();
      const bin = tempDir("bin");
      writeFileSync(
        path.join(bin, "aws"),
        `#!/bin/bash\nif [[ " $* " == *" cp --recursive "* ]]; then printf '\\x02%.0s' $(seq ${size}) >${JSON.stringify(file)}; fi\nexec ${JSON.stringify(real)} "$@"\n`,
        { mode: 0o755 },
      );
      const prefix = `race-${size}/`;
      const line = failed(await sync(root, prefix, { PATH: `${bin}:${process.env.PATH}` }));
      assert.match(
        line,
        /1 file\(s\) changed or removed while being copied.*'changing\.bin'.*a re-run sends them again/,
      );
      const keys = (await listObjects(s3.env, BUCKET, prefix)).map((o) => o.Key);
      assert.ok(!keys.some((k) => k.includes(".relocation-manifest/")), "a manifest was written");
      const r = ok(await sync(root, prefix));
      const now = readFileSync(file);
      const entry = (await manifest(r.manifestKey)).find((e) => e.path === "changing.bin")!;
      assert.equal(entry.sha256, sha(now));
      const obj = await getObject(
        s3.env,
        BUCKET,
        `${prefix}changing.bin`,
        path.join(tempDir("g"), "c"),
      );
      assert.equal(sha(obj), sha(now));
    });
  }
});

describe("unreadable parts (the Job runs as uid 65534)", () => {
  const cases = [
    {
      name: "directory mode 000",
      make: (d: string) => chmodSync(d, 0o000),
      message: /cannot read 1 file\(s\) or directory\(ies\) as nobody \(uid 65534\): 'locked\/'/,
    },
    {
      name: "directory without x",
      make: (d: string) => chmodSync(d, 0o644),
      message: /cannot read|find could not read/,
    },
    {
      name: "file mode 000",
      make: (d: string) => chmodSync(path.join(d, "f.txt"), 0o000),
      message: /cannot read 1 file\(s\) or directory\(ies\) as nobody.*'locked\/f\.txt'/,
    },
  ];
  for (const c of cases) {
    it(`${c.name} = exit 1 naming it, before any request`, async () => {
      // Everything nobody runs or reads lives in a temp dir it can enter, wherever the repo is.
      const base = tempDir("nobody");
      chmodSync(base, 0o755);
      const scripts = path.join(base, "scripts");
      mkdirSync(scripts, { mode: 0o755 });
      // An aws nobody can run that fails loudly: no request may happen before the refusal.
      const bin = path.join(base, "bin");
      mkdirSync(bin, { mode: 0o755 });
      writeFileSync(path.join(bin, "aws"), "#!/bin/bash\necho 'aws was called' >&2; exit 3\n", {
        mode: 0o755,
      });
      for (const f of scriptFiles("tree"))
        copyFileSync(path.join(SCRIPTS, f), path.join(scripts, f));
      mkdirSync(path.join(base, "tmp"));
      chmodSync(path.join(base, "tmp"), 0o1777);
      const root = path.join(base, "tree");
      mkdirSync(path.join(root, "locked"), { recursive: true, mode: 0o755 });
      chmodSync(root, 0o755);
      writeFileSync(path.join(root, "ok.txt"), "ok\n");
      writeFileSync(path.join(root, "locked", "f.txt"), "secret\n");
      c.make(path.join(root, "locked"));
      const r = await run(
        "setpriv",
        [
          "--reuid=65534",
          "--regid=65534",
          "--clear-groups",
          "bash",
          path.join(scripts, "sync-dir.sh"),
        ],
        {
          env: {
            ...s3.env,
            HOME: "/nonexistent",
            PATH: `${path.join(base, "bin")}:/usr/local/bin:/usr/bin:/bin`,
            AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/c",
            AWS_ENDPOINT_URL: "http://127.0.0.1:1", // any request would fail with another message
            TMPDIR: path.join(base, "tmp"),
            SYNC_TOOL: "aws",
            SOURCE_DIR: root,
            DEST_URI: `s3://${BUCKET}/unreadable/`,
          },
          cwd: "/",
        },
      );
      chmodSync(path.join(root, "locked"), 0o755);
      assert.match(failed(r), c.message);
    });
  }
});

describe("settings refused before any request", () => {
  const cases: [string, Record<string, string>, RegExp][] = [
    [
      "DEST_URI with '.'",
      { DEST_URI: `s3://${BUCKET}/a/./b/` },
      /DEST_URI has a '\.' path segment/,
    ],
    [
      "DEST_URI with '..'",
      { DEST_URI: `s3://${BUCKET}/a/../b/` },
      /DEST_URI has a '\.\.' path segment/,
    ],
    [
      "DEST_URI with '//'",
      { DEST_URI: `s3://${BUCKET}/a//b/` },
      /DEST_URI has an empty path segment/,
    ],
    [
      "DEST_URI with a leading '/'",
      { DEST_URI: `s3://${BUCKET}//a/` },
      /DEST_URI has an empty path segment/,
    ],
    [
      "CONCURRENCY 08 (octal to bash)",
      { CONCURRENCY: "08" },
      /CONCURRENCY must be a whole decimal number without leading zeros, got '08'/,
    ],
    ["CONCURRENCY 010", { CONCURRENCY: "010" }, /CONCURRENCY must be a whole decimal number/],
    ["CONCURRENCY 0", { CONCURRENCY: "0" }, /CONCURRENCY must be at least 1, got 0/],
    ["PROGRESS_SECONDS 0", { PROGRESS_SECONDS: "0" }, /PROGRESS_SECONDS must be at least 1/],
    ["OUTAGE_SECONDS 0", { OUTAGE_SECONDS: "0" }, /OUTAGE_SECONDS must be at least 1/],
    ["SHARD_COUNT 0", { SHARD_COUNT: "0" }, /SHARD_COUNT must be at least 1/],
    [
      "SHARD_INDEX 01",
      { SHARD_COUNT: "2", SHARD_INDEX: "01" },
      /SHARD_INDEX must be a whole decimal number/,
    ],
    [
      "JOB_COMPLETION_INDEX 1e1",
      { SHARD_COUNT: "2", JOB_COMPLETION_INDEX: "1e1" },
      /SHARD_INDEX must be a whole decimal number/,
    ],
    [
      "a number too big for bash",
      { SHARD_FILE_WEIGHT_BYTES: "99999999999999999999" },
      /SHARD_FILE_WEIGHT_BYTES must be a whole decimal number/,
    ],
    [
      "part size below S3's 5 MiB",
      { MULTIPART_CHUNKSIZE_BYTES: "1048576" },
      /MULTIPART_CHUNKSIZE_BYTES must be at least 5242880/,
    ],
    [
      "REQUEST_TIMEOUT_SECONDS ' 5'",
      { REQUEST_TIMEOUT_SECONDS: " 5" },
      /REQUEST_TIMEOUT_SECONDS must be a whole decimal number/,
    ],
    ["ALLOW_EMPTY_TREE yes", { ALLOW_EMPTY_TREE: "yes" }, /ALLOW_EMPTY_TREE must be true or false/],
    ["TMPDIR inside SOURCE_DIR", { TMPDIR: "<source>/tmp" }, /TMPDIR .* is inside SOURCE_DIR/],
  ];
  for (const [name, settings, message] of cases) {
    it(`${name} = exit 1, one line`, async () => {
      const root = tempDir("settings");
      writeFileSync(path.join(root, "f"), "x");
      mkdirSync(path.join(root, "tmp"));
      const s = Object.fromEntries(
        Object.entries(settings).map(([k, v]) => [k, v.replace("<source>", root)]),
      );
      assert.match(
        failed(await sync(root, "settings/", { AWS_ENDPOINT_URL: "http://127.0.0.1:1", ...s })),
        message,
      );
    });
  }

  for (const [name, spell] of [
    ["relative", "rel tmp"],
    ["trailing slash, quote and space", "<base>/it's a dir/"],
    ["empty", ""],
  ] as const) {
    it(`TMPDIR ${name} = works, nothing left behind`, async () => {
      const base = tempDir("tmpdir");
      const dir = spell === "rel tmp" ? path.join(base, "rel tmp") : spell.replace("<base>", base);
      if (dir) mkdirSync(dir, { recursive: true });
      const root = tempDir("src");
      writeFileSync(path.join(root, "f"), "x");
      const r = await run("bash", [path.join(SCRIPTS, "sync-dir.sh")], {
        cwd: base,
        env: {
          ...s3.env,
          SYNC_TOOL: "aws",
          SOURCE_DIR: root,
          DEST_URI: `s3://${BUCKET}/tmpdir-${name.length}/`,
          TMPDIR: spell.replace("<base>", base),
        },
      });
      ok(r);
      if (dir) assert.deepEqual(readdirSync(dir), [], "temp files left");
    });
  }
});

/**
 * Starts sync-dir.sh on 400 small files through a proxy that holds each request >= 20 ms (so the
 * run lasts >= 8 s on any machine), calls `act` once the first upload is reported.
 */
async function interrupted(
  extra: Record<string, string>,
  act: (pid: number, proxy: S3Proxy) => void,
): Promise<{
  code: number | null;
  signal: string | null;
  stderr: string;
  seconds: number;
  root: string;
}> {
  const root = tempDir("interrupted");
  writeManyFiles(root, 400, 1024);
  const proxy = await S3Proxy.start(s3.moto.port, { delayMs: 20 });
  const child = spawn("bash", [path.join(SCRIPTS, "sync-dir.sh")], {
    env: {
      ...process.env,
      ...s3.env,
      SYNC_TOOL: "aws",
      CONCURRENCY: "1",
      PROGRESS_SECONDS: "1",
      SOURCE_DIR: root,
      DEST_URI: `s3://${BUCKET}/interrupted-${Date.now()}/`,
      AWS_ENDPOINT_URL: proxy.endpoint,
      ...extra,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  let acted = 0;
  child.stderr.on("data", (d) => {
    stderr += d;
    if (!acted && /progress: [1-9]\d* file\(s\) uploaded/.test(stderr)) {
      acted = Date.now();
      act(child.pid!, proxy);
    }
  });
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) =>
    child.once("close", (c, s) => resolve([c, s])),
  );
  await proxy.down();
  assert.ok(acted, `finished before the interruption:\n${stderr}`);
  return { code, signal, stderr, seconds: (Date.now() - acted) / 1000, root };
}

describe("failures that end fast", () => {
  it("S3 gone mid-sync (default retries) = stops within OUTAGE_SECONDS + a few s, failures counted", async () => {
    const r = await interrupted({ OUTAGE_SECONDS: "3" }, (_pid, proxy) => void proxy.down());
    assert.equal(r.code, 1, r.stderr);
    assert.ok(r.seconds < 25, `took ${r.seconds}s after the outage`);
    assert.match(r.stderr, /progress: \d+ file\(s\) uploaded so far, [1-9]\d* failed/);
    assert.match(
      r.stderr.trim().split("\n").pop()!,
      /S3 stopped accepting uploads .* uploads failing and none succeeded for 3s \(OUTAGE_SECONDS\)/,
    );
  });

  it("SIGTERM = exits at once with one line, no child process left", async () => {
    const r = await interrupted({}, (pid) => process.kill(pid, "SIGTERM"));
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr.trim().split("\n").pop()!,
      /stopped by SIGTERM; its child processes were stopped too/,
    );
    assert.ok(r.seconds < 15, `took ${r.seconds}s`);
    await new Promise((res) => setTimeout(res, 1000));
    const left = readdirSync("/proc")
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`).includes(r.root);
        } catch {
          return false;
        }
      });
    assert.deepEqual(left, [], "processes still running with the source tree in their arguments");
  });
});

interface Upload {
  Key: string;
  UploadId: string;
}
async function uploadsIn(prefix: string): Promise<Upload[]> {
  const r = await run(
    "aws",
    ["s3api", "list-multipart-uploads", "--bucket", BUCKET, "--prefix", prefix, "--output", "json"],
    { env: s3.env },
  );
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim() ? ((JSON.parse(r.stdout) as { Uploads?: Upload[] }).Uploads ?? []) : [];
}
async function startUpload(key: string): Promise<void> {
  const r = await run(
    "aws",
    ["s3api", "create-multipart-upload", "--bucket", BUCKET, "--key", key],
    {
      env: s3.env,
    },
  );
  assert.equal(r.code, 0, r.stderr);
}

describe("incomplete multipart uploads", () => {
  for (const tool of ["rclone", "aws"]) {
    it(`${tool}: S3 gone mid-multipart leaves one; the next run aborts it, and only this part's`, async () => {
      const root = tempDir("mpu");
      const big = randomBytes(12 * 1024 * 1024); // 3 parts of 5 MiB with MULTIPART
      writeFileSync(path.join(root, "big file é.bin"), big);
      writeFileSync(path.join(root, "small.txt"), "small\n");
      const prefix = `mpu-${tool}/`;
      const key = `${prefix}big file é.bin`;
      // Not this copy's: a key under the prefix that is not in the tree (another shard's or
      // anyone's), and the same name under a sibling prefix.
      const foreign = [`${prefix}not-in-the-tree.bin`, `mpu-${tool}-other/big file é.bin`];
      for (const k of foreign) await startUpload(k);
      // >= 50 ms per chunk: the parts take seconds to send, so the upload is seen in progress.
      const proxy = await S3Proxy.start(s3.moto.port, { delayMs: 50 });
      const child = spawn("bash", [path.join(SCRIPTS, "sync-dir.sh")], {
        env: {
          ...process.env,
          ...s3.env,
          ...MULTIPART,
          SYNC_TOOL: tool,
          SOURCE_DIR: root,
          DEST_URI: `s3://${BUCKET}/${prefix}`,
          AWS_ENDPOINT_URL: proxy.endpoint,
        },
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      child.stderr.on("data", (d) => (stderr += d));
      const closed = new Promise<number | null>((resolve) => child.once("close", resolve));
      // S3 goes away once the multipart upload exists (asked of moto itself, not the proxy).
      let seen = false;
      let ended = false;
      void closed.then(() => (ended = true));
      while (!seen && !ended) {
        seen = (await uploadsIn(prefix)).some((u) => u.Key === key);
        if (!seen) await new Promise((res) => setTimeout(res, 100));
      }
      await proxy.down();
      assert.ok(seen, `the run ended before its multipart upload was seen:\n${stderr}`);
      assert.equal(await closed, 1, stderr);
      assert.ok(
        (await uploadsIn(prefix)).some((u) => u.Key === key),
        `the interrupted run left no upload to clean up (the test proves nothing):\n${stderr}`,
      );
      const r = ok(await sync(root, prefix, { SYNC_TOOL: tool }));
      assert.equal(r.files, 2);
      const left = [...(await uploadsIn(prefix)), ...(await uploadsIn(`mpu-${tool}-other/`))];
      assert.deepEqual(left.map((u) => u.Key).sort(), [...foreign].sort());
      const got = await getObject(s3.env, BUCKET, key, path.join(tempDir("g"), "big"));
      assert.ok(got.equals(big), "the big file, byte-exact");
    });
  }
});
