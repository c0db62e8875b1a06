// The label this program puts on what it creates around its Jobs, on both sides: the Jobs, their
// ConfigMaps and Secrets, the env dump's ServiceAccounts and RBAC objects, so `kubectl get -l`
// finds them. One place, so no side can drift to another value.

/** `app.kubernetes.io/managed-by`, the recommended label for the tool that manages an object. */
export const MANAGED_BY = { "app.kubernetes.io/managed-by": "fragalysis-relocation" };
