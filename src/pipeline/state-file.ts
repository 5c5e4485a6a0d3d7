import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { UsageError } from '../errors.js';

/** File name of the replicator's state inside the state folder. */
export const STATE_FILE_NAME = 'state.json';

/** What must survive a restart. Everything else is recovered from the store or the source. */
export interface ReplicatorState {
  /** Stream id: 32 lowercase hex characters, made once per state folder. */
  streamId: string;
  /** The object format this stream is written in; a state folder never changes format. */
  format: 'v1' | 'v2';
  /**
   * v2: sequence of the last stored segment; v1: the last envelope counter used (reserved before
   * its batch is stored, so a crash may leave a gap in v1 names, never a reused name).
   */
  lastSequence: number;
  /** v2: hex hash of the last stored segment (32 zero bytes before the first). */
  headHash: string;
  /** Position of the last transaction acknowledged to the source, if any. */
  lastAcknowledgedPosition?: string;
  /** When this state was written, ISO 8601. */
  updatedAt: string;
}

const STATE_SCHEMA = z.object({
  streamId: z.string().regex(/^[0-9a-f]{32}$/),
  format: z.enum(['v1', 'v2']),
  lastSequence: z.number().int().min(0),
  headHash: z.string().regex(/^[0-9a-f]{64}$/),
  lastAcknowledgedPosition: z.string().min(1).optional(),
  updatedAt: z.string(),
});

/** Hex of the 32 zero bytes that segment 1 chains to. */
export const GENESIS_HASH_HEX = '0'.repeat(64);

/**
 * A fresh state for a new stream: a random stream id, nothing stored yet.
 *
 * @example
 * ```ts
 * const state = newState('v2'); // state.lastSequence === 0
 * ```
 */
export function newState(format: 'v1' | 'v2'): ReplicatorState {
  return {
    streamId: randomBytes(16).toString('hex'),
    format,
    lastSequence: 0,
    headHash: GENESIS_HASH_HEX,
    updatedAt: new Date().toISOString(),
  };
}

/**
 * Read `state.json` from a state folder; `undefined` when the folder holds none yet.
 * A state file that does not parse stops the replicator rather than start a second stream.
 *
 * @example
 * ```ts
 * const state = (await readState('./state')) ?? newState('v2');
 * ```
 */
export async function readState(dir: string): Promise<ReplicatorState | undefined> {
  const path = join(dir, STATE_FILE_NAME);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UsageError(`read state file "${path}": ${(error as Error).message}`, {
      cause: error,
    });
  }

  // A damaged state file is not silently replaced: the stream id and head live there.
  let parsed: ReplicatorState;
  try {
    parsed = STATE_SCHEMA.parse(JSON.parse(text));
  } catch (error) {
    throw new UsageError(`read state file "${path}": not a valid replicator state`, {
      cause: error,
      hint: 'restore the file from a backup, or move the state folder away to start a new stream',
    });
  }
  return parsed;
}

/**
 * Write `state.json` atomically and durably: a temporary file, fsync, rename over the old one,
 * then fsync of the folder so the rename itself survives a power cut.
 *
 * @example
 * ```ts
 * await writeState('./state', { ...state, lastSequence: 43 });
 * ```
 */
export async function writeState(dir: string, state: ReplicatorState): Promise<void> {
  const path = join(dir, STATE_FILE_NAME);
  const temporary = join(dir, `.${STATE_FILE_NAME}.${process.pid}.tmp`);
  const text = `${JSON.stringify({ ...state, updatedAt: new Date().toISOString() }, null, 2)}\n`;

  // Write and flush the new content under a temporary name.
  await mkdir(dir, { recursive: true });
  const file = await open(temporary, 'w', 0o600);
  try {
    await file.writeFile(text, 'utf8');
    await file.sync();
  } finally {
    await file.close();
  }

  // Replace the old file in one step, then make the rename durable.
  try {
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  await syncFolder(dir);
}

/** fsync a folder so that a rename or a new file in it survives a crash. */
export async function syncFolder(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
