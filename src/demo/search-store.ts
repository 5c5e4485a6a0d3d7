import type { ObjectStore } from '../store/store.js';

/** What a search of every stored byte found. */
export interface StoreSearchResult {
  objects: number;
  /** Of which segments (`.seg`) and checkpoints (`.ckpt`). */
  segments: number;
  checkpoints: number;
  bytes: number;
  /** Names of objects that contain the value in any of the searched encodings. */
  matches: string[];
}

/**
 * The byte patterns a readable copy of `value` would contain: its UTF-8 and UTF-16 bytes and
 * its base64 text at each of the three alignments (so plain encoding is not mistaken for
 * encryption).
 *
 * @example
 * ```ts
 * searchPatterns('demo-marker-1a2b').length; // => 5
 * ```
 */
export function searchPatterns(value: string): Buffer[] {
  const utf8 = Buffer.from(value, 'utf8');
  const patterns = [utf8, Buffer.from(value, 'utf16le')];

  // base64 of the value preceded by 0, 1 or 2 bytes: keep only characters that do not depend
  // on the neighbouring bytes.
  for (let shift = 0; shift < 3; shift++) {
    const text = Buffer.concat([Buffer.alloc(shift), utf8]).toString('base64');
    const start = Math.ceil((shift * 4) / 3) + (shift === 0 ? 0 : 1);
    const end = text.replace(/=+$/, '').length - 2;
    patterns.push(Buffer.from(text.slice(start, end), 'latin1'));
  }
  return patterns;
}

/**
 * Read every object in a store and look for a value in each: the demo's proof that the store
 * holds nothing readable. Reads one object at a time, so memory stays at one object.
 *
 * @example
 * ```ts
 * const found = await searchStore(store, 'demo-marker-3f9a');
 * found.matches.length; // => 0 when everything stored is sealed
 * ```
 */
export async function searchStore(store: ObjectStore, value: string): Promise<StoreSearchResult> {
  const patterns = searchPatterns(value);
  const result: StoreSearchResult = {
    objects: 0,
    segments: 0,
    checkpoints: 0,
    bytes: 0,
    matches: [],
  };

  for await (const name of store.list('')) {
    const bytes = await store.get(name);
    if (bytes === undefined) continue;
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    result.objects++;
    result.bytes += buffer.length;
    if (name.endsWith('.seg')) result.segments++;
    if (name.endsWith('.ckpt')) result.checkpoints++;
    if (patterns.some((pattern) => buffer.includes(pattern))) result.matches.push(name);
  }
  return result;
}
