/*
 * Unstable (incubating) semantic-convention attributes, copied here rather than imported from
 * `@opentelemetry/semantic-conventions/incubating`: the OpenTelemetry JS guidelines ask instrumentations not
 * to depend on the incubating entry point, whose exports may change or vanish in a minor release. Values
 * are those of @opentelemetry/semantic-conventions 1.45.0.
 */

/**
 * `rpc.system`: the RPC system. We set `aws-api`, as `@opentelemetry/instrumentation-aws-sdk` does, so
 * KMS spans from both instrumentations group together. Its stable successor `rpc.system.name` has no value
 * for AWS APIs yet (only `grpc`, `dubbo`...), so it is not set.
 */
export const ATTR_RPC_SYSTEM = 'rpc.system' as const;

/** `rpc.service`: the service name; `KMS` for every span and metric of this package. */
export const ATTR_RPC_SERVICE = 'rpc.service' as const;

/** `cloud.region`: the AWS region the request was sent to. */
export const ATTR_CLOUD_REGION = 'cloud.region' as const;

/** `cloud.account.id`: the AWS account, when the client knows it. */
export const ATTR_CLOUD_ACCOUNT_ID = 'cloud.account.id' as const;

/** `aws.request_id`: the `x-amzn-RequestId` of the last request sent for the operation. */
export const ATTR_AWS_REQUEST_ID = 'aws.request_id' as const;

/** Value of `rpc.system` for AWS API calls. */
export const RPC_SYSTEM_VALUE_AWS_API = 'aws-api' as const;
