// The pod parts every Job that runs this program's scripts from a ConfigMap shares, on both
// sides (CopyJob; DumpRestore and MediaRestore): the scripts' hash on the pod, the pod's and
// the containers' security posture, and plain settings as env. Each Job keeps what is its own
// (volumes, resources, retries); the access key's env is credentials.ts accessKeyEnv.
import type * as k8s from "@pulumi/kubernetes";
import type { Script } from "../scripts";

/**
 * The pod template's annotation holding the scripts' sha256s, in the order given: an edit of a
 * script changes the template, which replaces the Job, so the new script runs.
 */
export function scriptsAnnotation(files: readonly Script[]): Record<string, string> {
  return { "relocation.fragalysis/scripts-sha256": files.map((s) => s.sha256).join(" ") };
}

/**
 * The pod's securityContext: `uid`/`gid` (and `fsGroup` where given), non-root unless uid is 0,
 * the runtime's default seccomp profile (the restricted Pod Security Standard asks for both).
 */
export function podSecurityContext(
  uid: number,
  gid: number,
  fsGroup?: number,
): k8s.types.input.core.v1.PodSecurityContext {
  return {
    runAsNonRoot: uid !== 0,
    runAsUser: uid,
    runAsGroup: gid,
    ...(fsGroup === undefined ? {} : { fsGroup }),
    seccompProfile: { type: "RuntimeDefault" },
  };
}

/**
 * A container's securityContext: no privilege escalation, the image's filesystem read-only (the
 * scripts write only to their emptyDirs and volumes), every capability dropped but `add`.
 */
export function lockedContainer(
  add: readonly string[] = [],
): k8s.types.input.core.v1.SecurityContext {
  return {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: add.length > 0 ? { drop: ["ALL"], add: [...add] } : { drop: ["ALL"] },
  };
}

/** lockedContainer, and the kubelet refuses to start it as root. */
export const NON_ROOT_CONTAINER: k8s.types.input.core.v1.SecurityContext = {
  runAsNonRoot: true,
  ...lockedContainer(),
};

/** Plain settings as a container's env, in the order given (never a secret: see accessKeyEnv). */
export function valueEnv(settings: Record<string, string>): { name: string; value: string }[] {
  return Object.entries(settings).map(([name, value]) => ({ name, value }));
}
