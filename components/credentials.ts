// S3 credentials as the copy and env-dump executors receive them: always Pulumi secrets, and
// for in-cluster Jobs a Kubernetes Secret the pods read through secretKeyRef.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { MANAGED_BY } from "./shared/labels";

/** An access key for the bucket; both fields are secret Outputs. */
export interface S3Credentials {
  readonly accessKeyId: pulumi.Output<string>;
  readonly secretAccessKey: pulumi.Output<string>;
}

/** Where the scripts send requests: region and, for S3-compatible stores, an endpoint. */
export interface S3Target {
  readonly bucket: string;
  readonly region: string;
  /** @default AWS's own endpoint for the region */
  readonly endpoint?: string;
}

/**
 * Where the aws CLI sends a script's requests, as its env: the region, and the endpoint only
 * when one is set (an empty one would be a URL the CLI refuses).
 */
export function awsTargetEnv(
  target: Pick<S3Target, "region" | "endpoint">,
): Record<string, string> {
  return {
    AWS_DEFAULT_REGION: target.region,
    ...(target.endpoint ? { AWS_ENDPOINT_URL: target.endpoint } : {}),
  };
}

/** The env the scripts read (AWS_* names the aws CLI honours). Values stay secret Outputs. */
export function awsEnvironment(
  target: S3Target,
  credentials: S3Credentials,
): Record<string, pulumi.Output<string>> {
  return {
    AWS_ACCESS_KEY_ID: pulumi.secret(credentials.accessKeyId),
    AWS_SECRET_ACCESS_KEY: pulumi.secret(credentials.secretAccessKey),
    AWS_DEFAULT_REGION: pulumi.output(target.region),
    ...(target.endpoint ? { AWS_ENDPOINT_URL: pulumi.output(target.endpoint) } : {}),
  };
}

export interface AwsCredentialsSecretArgs {
  /** Namespace the consuming Jobs run in. */
  readonly namespace: pulumi.Input<string>;
  readonly credentials: S3Credentials;
}

/** Keys of the Secret, as `secretKeyRef.key` names. */
export const SECRET_KEY_ID = "AWS_ACCESS_KEY_ID";
export const SECRET_ACCESS_KEY = "AWS_SECRET_ACCESS_KEY";

/** A Job's env for the access key: both values by secretKeyRef to the Secret `secretName`. */
export function accessKeyEnv(secretName: pulumi.Input<string>): k8s.types.input.core.v1.EnvVar[] {
  return [
    {
      name: "AWS_ACCESS_KEY_ID",
      valueFrom: { secretKeyRef: { name: secretName, key: SECRET_KEY_ID } },
    },
    {
      name: "AWS_SECRET_ACCESS_KEY",
      valueFrom: { secretKeyRef: { name: secretName, key: SECRET_ACCESS_KEY } },
    },
  ];
}

/** A Kubernetes Secret holding the access key for Jobs in one namespace. */
export class AwsCredentialsSecret extends pulumi.ComponentResource {
  public readonly secretName: pulumi.Output<string>;

  constructor(
    name: string,
    args: AwsCredentialsSecretArgs,
    opts?: pulumi.ComponentResourceOptions,
  ) {
    super("relocation:credentials:AwsCredentialsSecret", name, {}, opts);
    const secret = new k8s.core.v1.Secret(
      `${name}-secret`,
      {
        metadata: {
          namespace: args.namespace,
          labels: MANAGED_BY,
        },
        type: "Opaque",
        stringData: {
          [SECRET_KEY_ID]: pulumi.secret(args.credentials.accessKeyId),
          [SECRET_ACCESS_KEY]: pulumi.secret(args.credentials.secretAccessKey),
        },
      },
      { parent: this, additionalSecretOutputs: ["stringData", "data"] },
    );
    this.secretName = secret.metadata.name;
    this.registerOutputs({ secretName: this.secretName });
  }
}
