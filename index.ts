// fragalysis-relocation: the runbook "Preparing for relocation" as one Pulumi stack.
// Read the config, build the components, export the outputs; the logic lives in components/.
import * as pulumi from "@pulumi/pulumi";
import { loadConfig } from "./components/config";
import { Preflight } from "./components/preflight";
import { QuiescedStatefulSet } from "./components/quiesced-statefulset";

const config = loadConfig();

// Read every StatefulSet first: a wrong name fails preview/up before anything changes.
const preflight = new Preflight("preflight", { statefulSets: config.quiesce });
const afterPreflight = { dependsOn: [preflight] };

// Suspend user activity: every configured StatefulSet to zero (destroy restores the counts).
const quiesced = config.quiesce.map(
  (s) =>
    new QuiescedStatefulSet(
      `quiesce-${s.namespace}-${s.statefulSet}`,
      {
        namespace: s.namespace,
        statefulSet: s.statefulSet,
        timeoutSeconds: config.quiesceTimeoutSeconds,
        kubeContext: config.kubeContext,
      },
      afterPreflight,
    ),
);

export const liveReplicas = preflight.liveReplicas;
export const originalReplicas = pulumi
  .all(quiesced.map((q) => q.originalReplicas))
  .apply((counts) => Object.fromEntries(quiesced.map((q, i) => [q.target, counts[i]])));
export const quiescedAt = pulumi
  .all(quiesced.map((q) => q.quiescedAt))
  .apply((times) => times.reduce((latest, t) => (t > latest ? t : latest)));
