import { type ReplicatorError, StoreUnavailableError, UsageError } from '../errors.js';

/** S3 error codes that mean a caller's configuration is wrong: retrying will not help. */
const CREDENTIAL_CODES = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'CredentialsProviderError',
]);

/**
 * The HTTP status of an S3 SDK error, or `undefined` for a network failure with no answer.
 *
 * @example
 * ```ts
 * if (statusOf(error) === 404) return undefined;
 * ```
 */
export function statusOf(error: unknown): number | undefined {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  if (e.name === 'NoSuchKey' || e.name === 'NotFound') return 404;
  if (e.name === 'PreconditionFailed') return 412;
  return e.$metadata?.httpStatusCode;
}

/**
 * Turn an S3 SDK failure into the error class a caller branches on: credentials and missing
 * buckets are usage errors; no answer, throttling and 5xx are {@link StoreUnavailableError}.
 *
 * @example
 * ```ts
 * throw s3Failure('upload x to s3://b/p', error, 'b');
 * ```
 */
export function s3Failure(what: string, error: unknown, bucket?: string): ReplicatorError {
  const name = (error as { name?: string }).name ?? '';
  const status = statusOf(error);
  const cause = (error as Error).message ?? String(error);
  if (CREDENTIAL_CODES.has(name) || status === 401 || status === 403) {
    return new UsageError(`${what}: access denied (${name || status})`, {
      cause: error,
      hint: 'check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE and the bucket policy',
    });
  }
  if (name === 'NoSuchBucket') {
    return new UsageError(`${what}: bucket ${bucket ?? ''} does not exist`, {
      cause: error,
      hint: 'create the bucket first, or check the bucket name and --s3-endpoint',
    });
  }
  if (status === undefined || status === 408 || status === 409 || status === 429 || status >= 500) {
    return new StoreUnavailableError(`${what}: ${cause}`, {
      cause: error,
      hint: 'the object store is unreachable or overloaded; the operation is retried',
    });
  }
  return new UsageError(`${what}: ${cause} (HTTP ${status})`, { cause: error });
}
