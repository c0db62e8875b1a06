// fragalysis-relocation: the runbook "Preparing for relocation" as one Pulumi stack.
// Read the config, build the components, export the outputs; the logic lives in components/.
import * as pulumi from "@pulumi/pulumi";
import { loadConfig } from "./components/config";
import { QuiescedStatefulSet } from "./components/quiesced-statefulset";

const config = loadConfig();

// Suspend user activity: every configured StatefulSet to zero (destroy restores the counts).
const quiesced = config.quiesce.map(
  (s) =>
    new QuiescedStatefulSet(`quiesce-${s.namespace}-${s.statefulSet}`, {
      namespace: s.namespace,
      statefulSet: s.statefulSet,
      timeoutSeconds: config.quiesceTimeoutSeconds,
      kubeContext: config.kubeContext,
    }),
);

export const originalReplicas = pulumi
  .all(quiesced.map((q) => q.originalReplicas))
  .apply((counts) => Object.fromEntries(quiesced.map((q, i) => [q.target, counts[i]])));
export const quiescedAt = pulumi
  .all(quiesced.map((q) => q.quiescedAt))
  .apply((times) => times.reduce((latest, t) => (t > latest ? t : latest)));
