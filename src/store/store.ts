/**
 * The one storage interface every backend implements (folder, S3, Cloud Receiver API).
 *
 * Object names are relative, slash-separated keys such as
 * `streams/3f6c…/segments/00000000000000000042.seg`. They match {@link OBJECT_NAME_PATTERN}.
 *
 * Contract (checked by test/store/contract.ts against every backend):
 * - `put` writes an object only if it does not exist. Writing the same bytes again succeeds and
 *   reports `created: false`; different bytes under an existing name throw
 *   {@link StoreConflictError}. A partial object is never visible to `get` or `list`.
 * - `put` resolves only once the object is durable (flushed and renamed, or acknowledged by the
 *   service).
 * - `get` returns the bytes or `undefined` when the object does not exist ("not found" is
 *   distinct from an error).
 * - `list` yields names under a prefix in ascending byte order of the name, paging internally.
 * - transient failures throw {@link StoreUnavailableError}; callers retry.
 */
export interface ObjectStore {
  /** A printable location without credentials, e.g. `s3://bucket/prefix`. */
  readonly url: string;

  put(name: string, bytes: Uint8Array): Promise<PutResult>;
  get(name: string): Promise<Uint8Array | undefined>;
  list(prefix: string, options?: ListOptions): AsyncIterable<string>;
  /** Release connections and file handles. */
  close(): Promise<void>;
}

export interface PutResult {
  /** False when an identical object was already there. */
  created: boolean;
}

export interface ListOptions {
  /** Only names strictly greater than this one. */
  startAfter?: string;
}

/** Object names: ASCII path segments of safe characters, no `.` or `..` segments. */
export const OBJECT_NAME_PATTERN =
  /^(?!.*(?:^|\/)\.{1,2}(?:\/|$))[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*$/;

/** Largest object any backend must accept, in bytes. Segments are capped well below it. */
export const MAX_OBJECT_BYTES = 64 * 1024 * 1024;
