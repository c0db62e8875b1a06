// The downtime report: earliest quiesce to the last verified post-quiesce copy.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { downtimeReport } from "../../components/downtime";

describe("downtimeReport", () => {
  const cases: [string, string[], (string | undefined)[], object][] = [
    [
      "one quiesce, three copies",
      ["2026-11-25T10:00:00Z"],
      ["2026-11-25T10:03:00Z", "2026-11-25T10:07:30Z", "2026-11-25T10:01:00Z"],
      { quiescedAt: "2026-11-25T10:00:00Z", lastVerifiedAt: "2026-11-25T10:07:30Z", seconds: 450 },
    ],
    [
      "two quiesces = window from the earlier",
      ["2026-11-25T10:00:20Z", "2026-11-25T10:00:05Z"],
      ["2026-11-25T10:01:05Z"],
      { quiescedAt: "2026-11-25T10:00:05Z", lastVerifiedAt: "2026-11-25T10:01:05Z", seconds: 60 },
    ],
    [
      "a copy without verifiedAt (older script) = no end, no seconds",
      ["2026-11-25T10:00:00Z"],
      ["2026-11-25T10:03:00Z", undefined],
      { quiescedAt: "2026-11-25T10:00:00Z", lastVerifiedAt: null, seconds: null },
    ],
    [
      "copy clock behind the quiesce clock = negative seconds, reported as is",
      ["2026-11-25T10:00:10Z"],
      ["2026-11-25T10:00:04Z"],
      { quiescedAt: "2026-11-25T10:00:10Z", lastVerifiedAt: "2026-11-25T10:00:04Z", seconds: -6 },
    ],
    [
      "across midnight and a month end",
      ["2026-11-30T23:59:00Z"],
      ["2026-12-01T00:01:01Z"],
      { quiescedAt: "2026-11-30T23:59:00Z", lastVerifiedAt: "2026-12-01T00:01:01Z", seconds: 121 },
    ],
  ];
  for (const [name, quiesced, verified, expected] of cases) {
    it(`${name} = ${JSON.stringify(expected)}`, () => {
      assert.deepEqual(downtimeReport(quiesced, verified), expected);
    });
  }

  it("no quiesce time = error", () => {
    assert.throws(() => downtimeReport([], ["2026-11-25T10:00:00Z"]), /no quiesce time/);
  });

  it("a time not in UTC ISO-8601 = error naming the value", () => {
    assert.throws(
      () => downtimeReport(["2026-11-25 10:00:00"], ["2026-11-25T10:00:00Z"]),
      /quiescedAt is not UTC ISO-8601: "2026-11-25 10:00:00"/,
    );
    assert.throws(
      () => downtimeReport(["2026-11-25T10:00:00Z"], ["2026-11-25T10:00:00Z", "yesterday"]),
      /verifiedAt is not UTC ISO-8601: "yesterday"/,
    );
  });
});
