import { createHash } from 'node:crypto';
import {
  GetObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  type PutObjectCommandInput,
  S3Client,
} from '@aws-sdk/client-s3';
import { StoreConflictError, UsageError } from '../errors.js';
import { type Logger, silentLogger } from '../log/logger.js';
import { DEFAULT_REQUEST_TIMEOUT_MS } from './http-client.js';
import { checkListPrefix, checkObjectName, checkObjectSize, sameBytes } from './object-name.js';
import type { StoreOptions } from './open-store.js';
import { s3Failure, statusOf } from './s3-errors.js';
import {
  type ListOptions,
  OBJECT_NAME_PATTERN,
  type ObjectStore,
  type PutResult,
} from './store.js';

/** Attempts the SDK makes per request (its own exponential backoff) before giving up. */
const SDK_MAX_ATTEMPTS = 4;
/** Keys per list request unless a page size is given (the S3 maximum). */
const DEFAULT_PAGE_SIZE = 1000;
const DAY_MS = 86_400_000;

export interface S3StoreOptions {
  bucket: string;
  /** Key prefix inside the bucket, without leading or trailing slash; may be empty. */
  prefix: string;
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
  /** Explicit credentials; otherwise the AWS default chain (env, profile, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /**
   * `true` (default): put-if-absent with `If-None-Match: *`. `false`: for services that ignore
   * conditional writes, check-then-put with read-back verification (racy between two writers).
   */
  conditionalWrites?: boolean;
  objectLock?: { mode: 'COMPLIANCE' | 'GOVERNANCE'; retainDays: number };
  pageSize?: number;
  requestTimeoutMs?: number;
  logger?: Logger;
}

/**
 * Objects in an S3 bucket (AWS or a compatible service: MinIO, Ceph radosgw, R2, B2, Wasabi),
 * one key per object under `prefix/`.
 *
 * @example
 * ```ts
 * const store = await S3Store.fromUrl(new URL('s3://backups/prod'), {
 *   s3Endpoint: 'http://127.0.0.1:7480',
 * });
 * await store.put('envelopes/a.json', bytes);
 * ```
 */
export class S3Store implements ObjectStore {
  readonly url: string;
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #base: string;
  readonly #options: S3StoreOptions;
  readonly #log: Logger;
  #conditional: boolean;

  constructor(options: S3StoreOptions) {
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(options.bucket)) {
      throw new UsageError(`open store s3://${options.bucket}: invalid bucket name`, {
        hint: 'bucket names are 3-63 lowercase letters, digits, dots and hyphens',
      });
    }
    const prefix = options.prefix.replace(/^\/+|\/+$/g, '');
    this.#bucket = options.bucket;
    this.#base = prefix === '' ? '' : `${prefix}/`;
    this.url = `s3://${options.bucket}${prefix === '' ? '' : `/${prefix}`}`;
    this.#options = options;
    this.#log = options.logger ?? silentLogger;
    this.#conditional = options.conditionalWrites ?? true;

    // Non-AWS services: path-style addressing and checksums only where the API requires them,
    // or streamed uploads are chunk-framed, which some services reject or store verbatim.
    const custom = options.endpoint !== undefined;
    const timeout = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.#client = new S3Client({
      endpoint: options.endpoint,
      region:
        options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
      forcePathStyle: options.forcePathStyle ?? custom,
      credentials: options.credentials,
      maxAttempts: SDK_MAX_ATTEMPTS,
      requestHandler: { requestTimeout: timeout, connectionTimeout: Math.min(timeout, 10_000) },
      ...(custom
        ? {
            requestChecksumCalculation: 'WHEN_REQUIRED',
            responseChecksumValidation: 'WHEN_REQUIRED',
          }
        : {}),
    });
  }

  /** Open `s3://bucket/prefix` with the CLI's store options. */
  static async fromUrl(url: URL, options: StoreOptions): Promise<S3Store> {
    return new S3Store({
      bucket: url.hostname,
      prefix: decodeURIComponent(url.pathname),
      endpoint: options.s3Endpoint,
      region: options.s3Region,
      forcePathStyle: options.s3ForcePathStyle,
      conditionalWrites: options.s3ConditionalWrites,
      objectLock: options.s3ObjectLock,
      pageSize: options.pageSize,
      requestTimeoutMs: options.requestTimeoutMs,
      logger: options.logger,
    });
  }

  async put(name: string, bytes: Uint8Array): Promise<PutResult> {
    checkObjectName(name);
    checkObjectSize(name, bytes);
    const what = `upload ${name} to ${this.url}`;

    // Object lock implies a versioned bucket, where some services (Ceph radosgw 16) do not
    // enforce If-None-Match and would add a second version: look before writing.
    // NOTE: two writers racing on one name can still both write there, each as its own locked
    // version; the replicator's single-writer lock keeps one writer per stream.
    if (this.#options.objectLock !== undefined) {
      const existing = await this.get(name);
      if (existing !== undefined) return this.#compare(name, existing, bytes);
    }

    if (this.#conditional) {
      // The service refuses the write with 412 when the key exists: no window for a race.
      try {
        await this.#client.send(
          new PutObjectCommand({ ...this.#putInput(name, bytes), IfNoneMatch: '*' }),
        );
        return { created: true };
      } catch (error) {
        const status = statusOf(error);
        if (status === 412) return this.#compareExisting(name, bytes);
        if (status !== 501) throw s3Failure(what, error, this.#bucket);
        this.#log.warn({ store: this.url }, 'service lacks conditional writes; check-then-put');
        this.#conditional = false;
      }
    }

    // Fallback: check, put, then read back to catch a rival writer that slipped in between.
    // NOTE: racy between two writers of one name; the replicator's lock keeps one writer.
    const existing = await this.get(name);
    if (existing !== undefined) return this.#compare(name, existing, bytes);
    try {
      await this.#client.send(new PutObjectCommand(this.#putInput(name, bytes)));
    } catch (error) {
      throw s3Failure(what, error, this.#bucket);
    }
    return this.#compareExisting(name, bytes, true);
  }

  async get(name: string): Promise<Uint8Array | undefined> {
    checkObjectName(name);
    try {
      const response = await this.#client.send(
        new GetObjectCommand({ Bucket: this.#bucket, Key: this.#base + name }),
      );
      return await response.Body!.transformToByteArray();
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw s3Failure(`download ${name} from ${this.url}`, error, this.#bucket);
    }
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<string> {
    checkListPrefix(prefix);
    let token: string | undefined;
    const startAfter =
      options.startAfter === undefined ? undefined : this.#base + options.startAfter;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.#client.send(
          new ListObjectsV2Command({
            Bucket: this.#bucket,
            Prefix: this.#base + prefix,
            StartAfter: token === undefined ? startAfter : undefined,
            ContinuationToken: token,
            MaxKeys: this.#options.pageSize ?? DEFAULT_PAGE_SIZE,
          }),
        );
      } catch (error) {
        throw s3Failure(`list ${prefix || '(all)'} in ${this.url}`, error, this.#bucket);
      }
      // S3 lists keys in UTF-8 byte order, which is the contract's order for ASCII names.
      for (const entry of page.Contents ?? []) {
        const name = entry.Key?.slice(this.#base.length);
        if (name !== undefined && OBJECT_NAME_PATTERN.test(name)) yield name;
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  async close(): Promise<void> {
    this.#client.destroy();
  }

  #putInput(name: string, bytes: Uint8Array): PutObjectCommandInput {
    const input: PutObjectCommandInput = {
      Bucket: this.#bucket,
      Key: this.#base + name,
      Body: bytes,
      ContentLength: bytes.byteLength,
      ContentType: 'application/octet-stream',
    };
    const lock = this.#options.objectLock;
    if (lock !== undefined) {
      // Retention headers require an integrity header; MD5 is what every service accepts.
      input.ObjectLockMode = lock.mode;
      input.ObjectLockRetainUntilDate = new Date(Date.now() + lock.retainDays * DAY_MS);
      input.ContentMD5 = createHash('md5').update(bytes).digest('base64');
    }
    return input;
  }

  async #compareExisting(name: string, bytes: Uint8Array, justWritten = false): Promise<PutResult> {
    const existing = await this.get(name);
    if (existing === undefined) {
      throw s3Failure(`upload ${name} to ${this.url}`, new Error('object vanished after write'));
    }
    const result = this.#compare(name, existing, bytes);
    return justWritten ? { created: true } : result;
  }

  #compare(name: string, existing: Uint8Array, bytes: Uint8Array): PutResult {
    if (sameBytes(existing, bytes)) return { created: false };
    throw new StoreConflictError(
      `upload ${name} to ${this.url}: a different object already exists under this name`,
      { hint: 'two writers share one store location; give each its own stream or prefix' },
    );
  }
}
