import { isIP } from 'node:net';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { FileStore } from './file-store.js';
import type { ObjectStore } from './store.js';

/** Options for {@link openStore}; each backend reads the ones that concern it. */
export interface StoreOptions {
  /** Bearer token for the Cloud Receiver API (`CLOUD_API_TOKEN` or `--token-file`). */
  token?: string;
  /** S3 endpoint of a compatible service (`--s3-endpoint`), e.g. `http://127.0.0.1:7480`. */
  s3Endpoint?: string;
  s3Region?: string;
  /** Address buckets as `endpoint/bucket`, not `bucket.endpoint`; default on with an endpoint. */
  s3ForcePathStyle?: boolean;
  /** `false` for services that ignore `If-None-Match` (`--s3-no-conditional-writes`). */
  s3ConditionalWrites?: boolean;
  /** Write-once retention for services with S3 Object Lock on the bucket. */
  s3ObjectLock?: { mode: 'COMPLIANCE' | 'GOVERNANCE'; retainDays: number };
  /** Extra trusted CA certificate(s) in PEM for an https store with a private CA (`--ca-file`). */
  tlsCa?: string | Buffer;
  /** Allow `http://` to a host that is not loopback (`--insecure-http`). */
  insecureHttp?: boolean;
  /** Names per list request; small values let tests cross page boundaries. */
  pageSize?: number;
  /** Give up on one HTTP or S3 request after this many ms (a StoreUnavailableError). */
  requestTimeoutMs?: number;
  logger?: Logger;
}

type Opener = (url: URL, options: StoreOptions) => Promise<ObjectStore>;

/** The backends, by URL scheme: the one place that says which URL opens which store. */
const BACKENDS: Record<string, Opener> = {
  'file:': async (url, options) => new FileStore(fileURLToPath(url), { logger: options.logger }),
  's3:': async (url, options) => {
    const { S3Store } = await import('./s3-store.js');
    return S3Store.fromUrl(url, options);
  },
  'https:': async (url, options) => {
    const { HttpStore } = await import('./http-store.js');
    return new HttpStore(url, options);
  },
  'http:': async (url, options) => {
    if (!options.insecureHttp && !isLoopback(url.hostname)) {
      throw new UsageError(`open store ${url.origin}: plain http to a non-loopback host`, {
        hint: 'use https://, or pass --insecure-http if the network path is trusted',
      });
    }
    const { HttpStore } = await import('./http-store.js');
    return new HttpStore(url, options);
  },
};

/**
 * Open the store a URL names: `file:` URL or a plain path (folder), `s3://bucket/prefix`,
 * `https://host/base` (Cloud Receiver API, e.g. the vault), or `http://` on loopback only unless
 * `insecureHttp` is set.
 *
 * @example
 * ```ts
 * const store = await openStore('s3://backups/prod', { s3Endpoint: 'http://127.0.0.1:7480' });
 * const local = await openStore('./twin');
 * ```
 */
export async function openStore(url: string, options: StoreOptions = {}): Promise<ObjectStore> {
  if (url.trim() === '') {
    throw new UsageError('open store: empty store location', {
      hint: 'pass a folder path, s3://bucket/prefix or https://host',
    });
  }

  // A string without "scheme://" (and not a file: URL) is a plain folder path.
  const hasScheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(url) || /^file:/i.test(url);
  if (!hasScheme) return new FileStore(url, { logger: options.logger });

  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw new UsageError(`open store ${JSON.stringify(redactStoreUrl(url))}: not a valid URL`, {
      cause: error,
      hint: 'pass a folder path, s3://bucket/prefix or https://host',
    });
  }
  const opener = BACKENDS[parsed.protocol];
  if (opener === undefined) {
    throw new UsageError(`open store ${JSON.stringify(redactStoreUrl(url))}: unknown scheme`, {
      hint: `supported: a folder path, ${Object.keys(BACKENDS).join(' ')}`,
    });
  }
  return opener(parsed, options);
}

/**
 * True for names and addresses that never leave the machine: `localhost`, 127.0.0.0/8, `::1`.
 *
 * @example
 * ```ts
 * isLoopback('127.0.0.1'); // true
 * ```
 */
export function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return false;
}

/**
 * A store URL without user, password or secret-looking query parameters, for messages.
 *
 * @example
 * ```ts
 * redactStoreUrl('https://u:p@vault.example/api'); // 'https://vault.example/api'
 * ```
 */
export function redactStoreUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    for (const key of [...parsed.searchParams.keys()]) {
      if (/pass|token|secret|key|sig/i.test(key)) parsed.searchParams.set(key, '***');
    }
    return parsed.toString();
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//');
  }
}
