import { StoreConflictError, StoreUnavailableError, UsageError } from '../errors.js';
import { type Logger, silentLogger } from '../log/logger.js';
import { HttpClient, type HttpResponse } from './http-client.js';
import { checkListPrefix, checkObjectName, checkObjectSize } from './object-name.js';
import type { StoreOptions } from './open-store.js';
import { parseReceiverName, type ReceiverObject, receiverName } from './receiver-layout.js';
import type { ListOptions, ObjectStore, PutResult } from './store.js';

/** Names per list request unless a page size is given. */
const DEFAULT_PAGE_SIZE = 1000;
/** Longest server-requested wait honoured before a retry, in ms. */
const MAX_RETRY_AFTER_MS = 10_000;
const FOLDER = { segment: 'segments', checkpoint: 'checkpoints' } as const;

/**
 * The Cloud Receiver API client (the seed's API, served by our vault): `envelopes/<id>.json`
 * maps to `/envelopes` (POST with `Idempotency-Key: <id>`, so a retry stores it once), segments
 * and checkpoints to `/streams/{stream}/{segments|checkpoints}/{seq}`. Other names are refused.
 *
 * @example
 * ```ts
 * const store = new HttpStore(new URL('https://vault.example:8443'), { token });
 * await store.put('streams/ab…/segments/00000000000000000001.seg', bytes);
 * ```
 */
export class HttpStore implements ObjectStore {
  readonly url: string;
  readonly #client: HttpClient;
  readonly #token: string | undefined;
  readonly #pageSize: number;
  readonly #log: Logger;

  constructor(url: URL, options: StoreOptions = {}) {
    this.url = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
    this.#client = new HttpClient(url, { ca: options.tlsCa, timeoutMs: options.requestTimeoutMs });
    this.#token = options.token;
    this.#pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
    this.#log = options.logger ?? silentLogger;
  }

  async put(name: string, bytes: Uint8Array): Promise<PutResult> {
    const object = this.#resource(name);
    checkObjectSize(name, bytes);
    const what = `upload ${name} to ${this.url}`;

    // Envelopes go to the seed's POST /envelopes, named by the idempotency key.
    const response =
      object.kind === 'envelope'
        ? await this.#call('POST', '/envelopes', what, {
            body: bytes,
            headers: { 'content-type': 'application/json', 'idempotency-key': object.id },
          })
        : await this.#call('PUT', this.#path(object), what, {
            body: bytes,
            headers: { 'content-type': 'application/octet-stream' },
          });
    if (response.status === 201 || response.status === 200) {
      this.#log.debug({ name, bytes: bytes.byteLength, status: response.status }, 'object sent');
      return { created: response.status === 201 };
    }
    throw this.#failure(what, response);
  }

  async get(name: string): Promise<Uint8Array | undefined> {
    const object = this.#resource(name);
    const what = `download ${name} from ${this.url}`;
    const path = object.kind === 'envelope' ? `/envelopes/${object.id}` : this.#path(object);
    const response = await this.#call('GET', path, what);
    if (response.status === 200) return response.body;
    if (response.status === 404) return undefined;
    throw this.#failure(what, response);
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<string> {
    checkListPrefix(prefix);
    const after = options.startAfter ?? '';
    const keep = (name: string) => name.startsWith(prefix) && name > after;
    // A folder matters when it overlaps the prefix and holds names beyond startAfter.
    const touches = (folder: string) =>
      (folder.startsWith(prefix) || prefix.startsWith(folder)) &&
      !(after > folder && !after.startsWith(folder));

    // Collections in name order: envelopes/, then each stream's checkpoints/ and segments/.
    if (touches('envelopes/')) {
      for await (const name of this.#listEnvelopes(after)) if (keep(name)) yield name;
    }
    if (!touches('streams/')) return;
    for await (const stream of this.#listStreams()) {
      if (!touches(`streams/${stream}/`)) continue;
      for (const kind of ['checkpoint', 'segment'] as const) {
        if (!touches(`streams/${stream}/${FOLDER[kind]}/`)) continue;
        for await (const name of this.#listSequences(stream, kind, after)) {
          if (keep(name)) yield name;
        }
      }
    }
  }

  async close(): Promise<void> {
    this.#client.close();
  }

  async *#listEnvelopes(after: string): AsyncIterable<string> {
    const parsed = parseReceiverName(after);
    let cursor = parsed?.kind === 'envelope' ? parsed.id : undefined;
    for (;;) {
      const query = new URLSearchParams({ limit: String(this.#pageSize), fields: 'id' });
      if (cursor !== undefined) query.set('after', cursor);
      const page = await this.#page<{ id: string }>(`/envelopes?${query}`, 'list envelopes');
      for (const item of page.items) yield receiverName({ kind: 'envelope', id: item.id });
      if (page.next === null) return;
      cursor = String(page.next);
    }
  }

  async *#listStreams(): AsyncIterable<string> {
    let cursor: string | undefined;
    for (;;) {
      const query = new URLSearchParams({ limit: String(this.#pageSize) });
      if (cursor !== undefined) query.set('after', cursor);
      const page = await this.#page<{ stream: string }>(`/streams?${query}`, 'list streams');
      for (const item of page.items) yield item.stream;
      if (page.next === null) return;
      cursor = String(page.next);
    }
  }

  async *#listSequences(
    stream: string,
    kind: 'segment' | 'checkpoint',
    after: string,
  ): AsyncIterable<string> {
    const parsed = parseReceiverName(after);
    const sameFolder = parsed?.kind === kind && parsed.stream === stream;
    let cursor = sameFolder ? parsed.sequence : 0;
    for (;;) {
      const query = new URLSearchParams({ limit: String(this.#pageSize), after: String(cursor) });
      const path = `/streams/${stream}/${FOLDER[kind]}?${query}`;
      const page = await this.#page<{ sequence: number }>(path, `list ${kind}s of ${stream}`);
      for (const item of page.items) yield receiverName({ kind, stream, sequence: item.sequence });
      if (page.next === null) return;
      cursor = Number(page.next);
    }
  }

  async #page<T>(path: string, what: string): Promise<{ items: T[]; next: unknown }> {
    const full = `${what} at ${this.url}`;
    const response = await this.#call('GET', path, full);
    if (response.status !== 200) throw this.#failure(full, response);
    try {
      const page = JSON.parse(response.body.toString('utf8')) as { items: T[]; next?: unknown };
      if (!Array.isArray(page.items)) throw new Error('no items array');
      return { items: page.items, next: page.next ?? null };
    } catch (error) {
      throw new StoreUnavailableError(`${full}: unreadable answer (${(error as Error).message})`);
    }
  }

  async #call(
    method: string,
    path: string,
    what: string,
    options: { body?: Uint8Array; headers?: Record<string, string> } = {},
  ): Promise<HttpResponse> {
    const headers: Record<string, string> = { accept: '*/*', ...options.headers };
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`;
    const response = await this.#client.request(method, path, {
      headers,
      body: options.body,
      what,
    });

    // A throttled or restarting server says when to come back: wait that long (capped) before
    // the caller's retry, on top of its own backoff.
    const retryAfter = Number(response.headers['retry-after']);
    if ((response.status === 429 || response.status === 503) && retryAfter > 0) {
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(retryAfter * 1000, MAX_RETRY_AFTER_MS)),
      );
    }
    return response;
  }

  #resource(name: string): ReceiverObject {
    checkObjectName(name);
    const object = parseReceiverName(name);
    if (object === undefined) {
      throw new UsageError(`store object ${name}: the Cloud Receiver API has no place for it`, {
        hint: 'it stores envelopes/<id>.json and streams/<id>/{segments,checkpoints}/<seq> only',
      });
    }
    return object;
  }

  #path(object: Exclude<ReceiverObject, { kind: 'envelope' }>): string {
    return `/streams/${object.stream}/${FOLDER[object.kind]}/${object.sequence}`;
  }

  /** Turn an unexpected status into the error class a caller branches on. */
  #failure(what: string, response: HttpResponse): Error {
    const status = response.status;
    const detail = serverMessage(response);
    if (status === 409) {
      return new StoreConflictError(`${what}: a different object already exists under this name`);
    }
    if (status === 401 || status === 403) {
      return new UsageError(`${what}: the server refused the token (HTTP ${status})`, {
        hint: 'set CLOUD_API_TOKEN or --token-file to the vault token for this job (write to replicate, read to restore)',
      });
    }
    if (status === 429 || status >= 500) {
      return new StoreUnavailableError(`${what}: HTTP ${status}${detail}`, {
        hint: 'the store is overloaded or restarting; the operation is retried',
      });
    }
    return new UsageError(`${what}: HTTP ${status}${detail}`, {
      hint: 'check the store URL and that the server speaks the Cloud Receiver API',
    });
  }
}

/** The server's own one-line message, when it sent the vault's `{ error, message }` body. */
function serverMessage(response: HttpResponse): string {
  try {
    const body = JSON.parse(response.body.toString('utf8')) as { message?: unknown };
    if (typeof body.message === 'string') return `: ${body.message.slice(0, 200)}`;
  } catch {
    // Not JSON: say nothing more than the status.
  }
  return '';
}
