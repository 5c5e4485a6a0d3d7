import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreConflictError, UsageError } from '../../src/errors.js';
import type { ObjectStore } from '../../src/store/store.js';

/** A fresh, empty store for one test, and what the backend can show about a crashed put. */
export interface ContractTarget {
  store: ObjectStore;
  /**
   * Leave behind exactly what a writer that crashed in the middle of `put` would leave (for the
   * folder: a flushed temporary file never renamed). Absent when the backend's put is atomic at
   * the service (S3, the vault's HTTP API), where no partial state can be produced from outside.
   */
  crashMidPut?: (name: string, bytes: Uint8Array) => Promise<void>;
  cleanup?: () => Promise<void>;
}

export interface ContractOptions {
  /** Objects per list page the factory must configure, so paging is crossed. */
  pageSize: number;
}

/** Page size the contract asks every backend to use, small so that paging is exercised. */
export const CONTRACT_PAGE_SIZE = 4;

/** Names in the replicator's real layout, so the vault's HTTP API accepts them too. */
export const STREAM_A = 'a'.repeat(32);
export const STREAM_B = 'b'.repeat(32);
export function segment(stream: string, sequence: number): string {
  return `streams/${stream}/segments/${String(sequence).padStart(20, '0')}.seg`;
}
export function checkpoint(stream: string, sequence: number): string {
  return `streams/${stream}/checkpoints/${String(sequence).padStart(20, '0')}.ckpt`;
}
export function envelope(id: string): string {
  return `envelopes/${id}.json`;
}

/** Bytes a backend must accept under `name`: v1 envelope JSON for envelopes, else random. */
export function objectBytes(name: string, size = 64): Uint8Array {
  if (!name.startsWith('envelopes/')) return randomBytes(size);
  const b64 = (n: number) => randomBytes(n).toString('base64');
  return Buffer.from(
    JSON.stringify({
      version: '1.0',
      timestamp: new Date().toISOString(),
      table: 'orders',
      operation: 'INSERT',
      encrypted_data: b64(size),
      encrypted_key: b64(256),
      iv: b64(12),
      tag: b64(16),
      key_id: 'ab'.repeat(16),
    }),
  );
}

async function collect(iterable: AsyncIterable<string>): Promise<string[]> {
  const names: string[] = [];
  for await (const name of iterable) names.push(name);
  return names;
}

/**
 * The store contract, run against every backend: put-if-absent, identical re-put, conflict,
 * not-found, list order and paging, prefix isolation, no partial object, large objects, and two
 * writers racing on one name. `traits.racyBetweenWriters` names why a backend skips the race tests.
 *
 * @example
 * ```ts
 * describeStoreContract('FileStore', async () => ({ store: new FileStore(await tempDir()) }));
 * ```
 */
export function describeStoreContract(
  label: string,
  open: (options: ContractOptions) => Promise<ContractTarget>,
  traits: { racyBetweenWriters?: string } = {},
): void {
  // A backend documented as racy between two writers skips the race tests, saying why.
  const race = (title: string, test: () => Promise<void>) =>
    traits.racyBetweenWriters === undefined
      ? it(title, test)
      : it.skip(`${title} (not guaranteed: ${traits.racyBetweenWriters})`, test);
  describe(`store contract: ${label}`, () => {
    let target: ContractTarget | undefined;
    const fresh = async () => {
      target = await open({ pageSize: CONTRACT_PAGE_SIZE });
      return target;
    };
    afterEach(async () => {
      await target?.store.close();
      await target?.cleanup?.();
      target = undefined;
    });

    it('writes an object once and reads the same bytes back', async () => {
      const { store } = await fresh();
      const name = segment(STREAM_A, 1);
      const bytes = objectBytes(name, 1000);
      expect(await store.put(name, bytes)).toEqual({ created: true });
      expect(Buffer.from((await store.get(name))!)).toEqual(Buffer.from(bytes));
    });

    it('accepts the identical bytes again and reports created false', async () => {
      const { store } = await fresh();
      const name = envelope('retry-1');
      const bytes = objectBytes(name);
      await store.put(name, bytes);
      expect(await store.put(name, Buffer.from(bytes))).toEqual({ created: false });
    });

    it('rejects different bytes under an existing name and keeps the first', async () => {
      const { store } = await fresh();
      const name = segment(STREAM_A, 7);
      const first = objectBytes(name);
      await store.put(name, first);
      await expect(store.put(name, objectBytes(name))).rejects.toBeInstanceOf(StoreConflictError);
      expect(Buffer.from((await store.get(name))!)).toEqual(Buffer.from(first));
    });

    it('reports a missing object as undefined, distinct from an error', async () => {
      const { store } = await fresh();
      expect(await store.get(segment(STREAM_A, 99))).toBeUndefined();
      expect(await store.get(envelope('never-written'))).toBeUndefined();
    });

    it('rejects path traversal in object names before touching the backend', async () => {
      const { store } = await fresh();
      await expect(store.put('../outside.seg', objectBytes('x'))).rejects.toBeInstanceOf(
        UsageError,
      );
      await expect(store.get('streams/../../etc/passwd')).rejects.toBeInstanceOf(UsageError);
      const listing = async () => {
        for await (const _name of store.list('../')) return;
      };
      await expect(listing()).rejects.toBeInstanceOf(UsageError);
    });

    it('lists names in ascending order across more than one page', async () => {
      const { store } = await fresh();
      const names: string[] = [];
      for (let sequence = 1; sequence <= CONTRACT_PAGE_SIZE * 3 + 1; sequence += 1) {
        names.push(segment(STREAM_A, sequence));
      }
      // Written out of order: the listing must sort, not echo write order.
      for (const name of [...names].reverse()) await store.put(name, objectBytes(name, 8));
      expect(await collect(store.list(`streams/${STREAM_A}/segments/`))).toEqual(names);
    });

    it('lists only names strictly after startAfter', async () => {
      const { store } = await fresh();
      const names = [1, 2, 3, 4, 5, 6, 7].map((n) => segment(STREAM_A, n));
      for (const name of names) await store.put(name, objectBytes(name, 8));
      const listed = await collect(
        store.list(`streams/${STREAM_A}/segments/`, { startAfter: names[4] }),
      );
      expect(listed).toEqual(names.slice(5));
      const beyond = await collect(
        store.list(`streams/${STREAM_A}/segments/`, { startAfter: names[6] }),
      );
      expect(beyond).toEqual([]);
    });

    it('keeps prefixes apart: streams, kinds and envelopes do not leak into each other', async () => {
      const { store } = await fresh();
      const all = [
        envelope('e1'),
        envelope('e2'),
        checkpoint(STREAM_A, 1),
        segment(STREAM_A, 1),
        segment(STREAM_A, 2),
        segment(STREAM_B, 1),
      ];
      for (const name of all) await store.put(name, objectBytes(name, 8));
      expect(await collect(store.list(`streams/${STREAM_A}/segments/`))).toEqual([
        segment(STREAM_A, 1),
        segment(STREAM_A, 2),
      ]);
      expect(await collect(store.list(`streams/${STREAM_A}/checkpoints/`))).toEqual([
        checkpoint(STREAM_A, 1),
      ]);
      expect(await collect(store.list('envelopes/'))).toEqual([envelope('e1'), envelope('e2')]);
      expect(await collect(store.list('streams/'))).toEqual(all.slice(2));
      expect(await collect(store.list(''))).toEqual(all);
      expect(await collect(store.list(`streams/${'c'.repeat(32)}/`))).toEqual([]);
    });

    it('never shows a partial object left by a writer that crashed mid-put', async () => {
      const t = await fresh();
      const name = segment(STREAM_A, 3);
      if (t.crashMidPut === undefined) {
        // The backend publishes objects atomically at the service; only absence is checked.
        expect(await t.store.get(name)).toBeUndefined();
        return;
      }
      await t.crashMidPut(name, objectBytes(name, 4096));
      expect(await t.store.get(name)).toBeUndefined();
      expect(await collect(t.store.list(''))).toEqual([]);
      // The writer's retry after the crash then succeeds normally.
      const bytes = objectBytes(name, 4096);
      expect(await t.store.put(name, bytes)).toEqual({ created: true });
      expect(await collect(t.store.list(''))).toEqual([name]);
    });

    it('stores and returns a large object byte for byte', async () => {
      const { store } = await fresh();
      const name = segment(STREAM_B, 1);
      const bytes = randomBytes(12 * 1024 * 1024);
      expect(await store.put(name, bytes)).toEqual({ created: true });
      const read = await store.get(name);
      expect(read?.byteLength).toBe(bytes.byteLength);
      expect(Buffer.from(read!).equals(bytes)).toBe(true);
    });

    race('lets exactly one of two racing writers with different bytes win', async () => {
      const { store } = await fresh();
      const name = segment(STREAM_A, 42);
      const a = objectBytes(name, 2048);
      const b = objectBytes(name, 2048);
      const results = await Promise.allSettled([store.put(name, a), store.put(name, b)]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r) => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect((lost[0] as PromiseRejectedResult).reason).toBeInstanceOf(StoreConflictError);
      const winner = results[0]?.status === 'fulfilled' ? a : b;
      expect(Buffer.from((await store.get(name))!)).toEqual(Buffer.from(winner));
    });

    race('creates an object once when two writers race with the same bytes', async () => {
      const { store } = await fresh();
      const name = envelope('same-bytes-race');
      const bytes = objectBytes(name);
      const results = await Promise.all([store.put(name, bytes), store.put(name, bytes)]);
      expect(results.map((r) => r.created).sort()).toEqual([false, true]);
    });
  });
}
