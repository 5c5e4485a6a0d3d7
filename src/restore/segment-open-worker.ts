import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { AuthenticationError, IntegrityError, UsageError } from '../errors.js';
import type { SegmentHeader } from '../segment/index.js';
import { type PackedTransactions, unpackTransactions } from './packed-transactions.js';
import {
  asBuffer,
  type FetchedSegment,
  type OpenContext,
  type OpenedSegment,
} from './segment-opener.js';

/** Messages to the worker. */
export type WorkerRequest = { type: 'init'; context: OpenContext } | OpenRequest;

export interface OpenRequest {
  type: 'open';
  id: number;
  name: string;
  bytes: Uint8Array;
  checkpoint?: Uint8Array;
}

/** The worker's answer: the segment's facts and packed transactions, or why it was refused. */
export type OpenResponse =
  | { id: number; facts: Omit<OpenedSegment, 'transactions'>; packed: PackedTransactions }
  | { id: number; error: { name: string; message: string; hint?: string } };

/** A segment opened by the worker; {@link unpackSegment} turns it into transactions. */
export interface PackedSegment {
  facts: Omit<OpenedSegment, 'transactions'>;
  packed: PackedTransactions;
}

/**
 * A worker thread that verifies, decrypts and decodes segments while the calling thread
 * applies the ones before: the two use both cores. It receives the identities' private keys
 * as KeyObjects (cloned into the worker, never serialised to text) once, at start.
 *
 * @example
 * ```ts
 * const worker = SegmentOpenWorker.start({ streamId, identities, verifyKey });
 * try { const segment = unpackSegment(await worker.open(fetched)); } finally { await worker.close(); }
 * ```
 */
export class SegmentOpenWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, PendingOpen>();
  private nextId = 1;
  private stopped: Error | undefined;

  private constructor(worker: Worker) {
    this.worker = worker;
    worker.on('message', (response: OpenResponse) => this.settle(response));
    worker.on('error', (error) => this.stop(error));
    worker.on('exit', (code) => this.stop(new Error(`it exited with code ${code}`)));
  }

  /** Start the worker and hand it the keys. */
  static start(context: OpenContext): SegmentOpenWorker {
    const entry = workerEntry();
    // NOTE: no resourceLimits: the worker's heap follows the process's V8 flags (the CLI's heap
    // bound, or the user's --max-old-space-size), as the main thread's does.
    const worker = new Worker(entry.script, { eval: entry.eval });
    const keys: OpenContext = {
      streamId: context.streamId,
      identities: context.identities.map(({ keyId, privateKey, bits }) => ({
        keyId,
        privateKey,
        bits,
      })),
      verifyKey:
        context.verifyKey === undefined
          ? undefined
          : { keyId: context.verifyKey.keyId, publicKey: context.verifyKey.publicKey },
    };
    worker.postMessage({ type: 'init', context: keys } satisfies WorkerRequest);
    return new SegmentOpenWorker(worker);
  }

  /** Open one segment; requests are answered in the order they are made. */
  open(fetched: FetchedSegment): Promise<PackedSegment> {
    if (this.stopped !== undefined) return Promise.reject(this.failure(fetched.name));
    const id = this.nextId++;
    const request: OpenRequest = {
      type: 'open',
      id,
      name: fetched.name,
      bytes: copyBytes(fetched.buffer),
      checkpoint: fetched.checkpoint === undefined ? undefined : copyBytes(fetched.checkpoint),
    };
    const transfer = [request.bytes.buffer as ArrayBuffer];
    if (request.checkpoint !== undefined) transfer.push(request.checkpoint.buffer as ArrayBuffer);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { name: fetched.name, resolve, reject });
      this.worker.postMessage(request, transfer);
    });
  }

  /** Stop the worker; opens still pending are rejected. */
  async close(): Promise<void> {
    this.stop(new Error('the restore stopped reading'));
    await this.worker.terminate();
  }

  private settle(response: OpenResponse): void {
    const waiting = this.pending.get(response.id);
    if (waiting === undefined) return;
    this.pending.delete(response.id);
    if ('error' in response) waiting.reject(rebuildError(response.error));
    else waiting.resolve({ facts: hydrateFacts(response.facts), packed: response.packed });
  }

  private stop(reason: Error): void {
    this.stopped ??= reason;
    for (const waiting of this.pending.values()) waiting.reject(this.failure(waiting.name));
    this.pending.clear();
  }

  private failure(name: string): Error {
    return new Error(`open segment ${name}: the worker thread stopped: ${this.stopped?.message}`, {
      cause: this.stopped,
    });
  }
}

interface PendingOpen {
  name: string;
  resolve: (segment: PackedSegment) => void;
  reject: (error: Error) => void;
}

/**
 * The segment with its transactions rebuilt as objects (done by the applying thread, when the
 * segment's turn comes, so only one segment at a time is held as objects).
 *
 * @example
 * ```ts
 * for (const tx of unpackSegment(packed).transactions) apply(tx);
 * ```
 */
export function unpackSegment(segment: PackedSegment): OpenedSegment {
  return { ...segment.facts, transactions: unpackTransactions(segment.packed) };
}

/**
 * The worker's script: the compiled `open-worker.js` next to this file; when running from
 * TypeScript sources (tests, benchmarks under tsx) the `.ts` entry loaded through tsx.
 */
function workerEntry(): { script: string | URL; eval: boolean } {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return { script: new URL('./open-worker.js', here), eval: false };
  const tsx = tsxApi(here);
  const entry = new URL('./open-worker.ts', here).href;
  const code = `import(${JSON.stringify(tsx)}).then((api) => api.tsImport(${JSON.stringify(entry)}, ${JSON.stringify(here)}));`;
  return { script: code, eval: true };
}

/** tsx's ESM API (its CommonJS build cannot load TypeScript modules into a worker). */
function tsxApi(here: string): string {
  if (typeof import.meta.resolve === 'function') return import.meta.resolve('tsx/esm/api');
  const commonJs = createRequire(here).resolve('tsx/esm/api');
  return pathToFileURL(commonJs.replace(/\.cjs$/, '.mjs')).href;
}

/** A copy of the bytes in their own buffer, so the buffer can move to the worker. */
function copyBytes(bytes: Uint8Array): Uint8Array {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy;
}

/** Buffers arrive from the worker as plain Uint8Arrays: give them Buffer's methods back. */
function hydrateFacts(facts: PackedSegment['facts']): PackedSegment['facts'] {
  const header: SegmentHeader = {
    ...facts.header,
    previousHash: asBuffer(facts.header.previousHash),
    iv: asBuffer(facts.header.iv),
    signerPublicKey: asBuffer(facts.header.signerPublicKey),
    recipients: facts.header.recipients.map((recipient) => ({
      ...recipient,
      wrappedKey: asBuffer(recipient.wrappedKey),
    })),
  };
  return { ...facts, hash: asBuffer(facts.hash), header };
}

/** The worker's error as the class the restore (and its callers) branch on. */
function rebuildError(error: { name: string; message: string; hint?: string }): Error {
  const options = { hint: error.hint };
  if (error.name === 'AuthenticationError') return new AuthenticationError(error.message, options);
  if (error.name === 'IntegrityError') return new IntegrityError(error.message, options);
  if (error.name === 'UsageError') return new UsageError(error.message, options);
  return new Error(error.message);
}
