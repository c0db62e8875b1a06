// Preflight: reads each StatefulSet (a read, never a change) and reports its live count.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { useMocks, valueOf, type Recorder } from "../helpers/mocks";

let recorder: Recorder;
let mod: typeof import("../../components/preflight");

before(async () => {
  recorder = await useMocks({
    statefulSets: { "production-stack/stack": 2, "im-infra/keycloak": 0 },
  });
  mod = await import("../../components/preflight");
});

describe("Preflight", () => {
  it("two StatefulSets = two reads under the component, live counts by namespace/name", async () => {
    const p = new mod.Preflight("pre", {
      statefulSets: [
        { namespace: "production-stack", statefulSet: "stack" },
        { namespace: "im-infra", statefulSet: "keycloak" },
      ],
    });
    assert.deepEqual(await valueOf(p.liveReplicas), {
      "production-stack/stack": 2,
      "im-infra/keycloak": 0,
    });
    const component = recorder.named("pre");
    assert.equal(component.type, "relocation:preflight:Preflight");
    const read = recorder.named("pre-production-stack-stack");
    assert.equal(read.type, "kubernetes:apps/v1:StatefulSet");
    assert.equal(read.readId, "production-stack/stack");
    assert.equal(read.parent, component.urn);
    assert.equal(recorder.named("pre-im-infra-keycloak").readId, "im-infra/keycloak");
  });
});

describe("liveVolumeSource", () => {
  it("NFS PV = its export, read-only; hostPath PV = that directory; neither = error naming the PV", () => {
    assert.deepEqual(
      mod.liveVolumeSource("production-stack/media", "pvc-1", {
        nfs: { server: "192.168.253.39", path: "/nfs/kubernetes-prod/media-pvc-1/" },
      }),
      {
        nfs: { server: "192.168.253.39", path: "/nfs/kubernetes-prod/media-pvc-1", readOnly: true },
      },
    );
    assert.deepEqual(
      mod.liveVolumeSource("production-stack/media", "pvc-1", { hostPath: { path: "/srv/m" } }),
      {
        hostPath: { path: "/srv/m", type: "Directory" },
      },
    );
    assert.throws(
      () => mod.liveVolumeSource("production-stack/media", "pvc-1", {}),
      /refresh.liveVolume production-stack\/media: its PV pvc-1 has neither/,
    );
    assert.throws(
      () => mod.liveVolumeSource("production-stack/media", "pvc-1", { nfs: { path: "/nfs/x" } }),
      /names no spec.nfs.server/,
    );
  });
});
