import type { ObjectStore } from '../store/store.js';

const STREAM_FOLDER = /^streams\/([^/]+)\//;

/**
 * The stream ids a store holds (folder names under `streams/`), listing one name per stream
 * by skipping past each stream's folder, so memory does not grow with the number of objects.
 *
 * @example
 * ```ts
 * await listStreams(store); // => ['9f86d081884c7d659a2feaa0c55ad015']
 * ```
 */
export async function listStreams(store: ObjectStore): Promise<string[]> {
  const streams: string[] = [];
  let startAfter: string | undefined;
  for (;;) {
    let found: string | undefined;
    for await (const name of store.list('streams/', { startAfter })) {
      found = STREAM_FOLDER.exec(name)?.[1];
      if (found !== undefined) break;
    }
    if (found === undefined) return streams;
    streams.push(found);
    // '~' sorts after every character an object name may hold.
    startAfter = `streams/${found}/~`;
  }
}

/**
 * True when the store holds at least one object under `prefix`.
 *
 * @example
 * ```ts
 * if (await hasObjects(store, 'envelopes/')) restoreV1();
 * ```
 */
export async function hasObjects(store: ObjectStore, prefix: string): Promise<boolean> {
  for await (const _name of store.list(prefix)) return true;
  return false;
}
