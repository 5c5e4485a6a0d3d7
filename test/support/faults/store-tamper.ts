import { cp, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { segmentName } from '../../../src/segment/index.js';

/** A copy of a folder store, to attack without touching the original. */
export interface StoreCopy {
  dir: string;
  streamId: string;
  /** Path of segment `sequence` (of this stream, or another). */
  segment(sequence: number, streamId?: string): string;
  /** Sequence numbers of the segments present, ascending. */
  sequences(): Promise<number[]>;
  /** Sequence numbers of the checkpoints present, ascending. */
  checkpoints(): Promise<number[]>;
}

/**
 * Copy a folder store holding one stream into a new folder under `root`.
 *
 * @example
 * ```ts
 * const copy = await copyStore(pristine, root);
 * await rm(copy.segment(3));
 * ```
 */
export async function copyStore(source: string, root: string): Promise<StoreCopy> {
  const dir = await mkdtemp(join(root, 'attacked-'));
  await cp(source, dir, { recursive: true });
  const [streamId] = await readdir(join(dir, 'streams'));
  if (streamId === undefined) throw new Error(`no stream in ${source}`);
  const numbers = async (kind: string) =>
    (await readdir(join(dir, 'streams', streamId, kind)).catch(() => []))
      .map((name) => Number(name.split('.')[0]))
      .sort((a, b) => a - b);
  return {
    dir,
    streamId,
    segment: (sequence, stream = streamId) => join(dir, segmentName(stream, sequence)),
    sequences: () => numbers('segments'),
    checkpoints: () => numbers('checkpoints'),
  };
}

/**
 * Offsets of every region of a v2 segment (docs/FORMAT.md 2.2), for bit flips.
 *
 * @example
 * ```ts
 * for (const { region, offset } of segmentRegions(bytes)) await flipBit(path, offset);
 * ```
 */
export function segmentRegions(bytes: Buffer): Array<{ region: string; offset: number }> {
  const bodyLength = bytes.readUInt16BE(154);
  const headerEnd = 156 + bodyLength;
  const signature = bytes.length - 64;
  const tag = signature - 16;
  return [
    { region: 'magic', offset: 0 },
    { region: 'version', offset: 4 },
    { region: 'compression', offset: 5 },
    { region: 'payload encoding', offset: 6 },
    { region: 'cipher', offset: 7 },
    { region: 'stream id', offset: 8 },
    { region: 'sequence', offset: 31 },
    { region: 'previous hash', offset: 40 },
    { region: 'created at', offset: 70 },
    { region: 'IV', offset: 75 },
    { region: 'payload length', offset: 87 },
    { region: 'signer public key', offset: 100 },
    { region: 'recipient count', offset: 120 },
    { region: 'recipient type', offset: 121 },
    { region: 'recipient key id', offset: 130 },
    { region: 'wrapped key length', offset: 155 },
    { region: 'wrapped data key', offset: 156 + Math.floor(bodyLength / 2) },
    { region: 'ciphertext', offset: headerEnd + Math.floor((tag - headerEnd) / 2) },
    { region: 'tag', offset: tag + 7 },
    { region: 'signature', offset: signature + 33 },
    { region: 'last byte', offset: bytes.length - 1 },
  ];
}

/**
 * Flip one bit of a file in place.
 *
 * @example
 * ```ts
 * await flipBit(copy.segment(2), 100, 3);
 * ```
 */
export async function flipBit(path: string, offset: number, bit = 0): Promise<void> {
  const bytes = await readFile(path);
  bytes[offset] = (bytes[offset] ?? 0) ^ (1 << bit);
  await writeFile(path, bytes);
}
