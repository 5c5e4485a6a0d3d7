import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pad20 } from './sealed-batch.js';
import { syncFolder } from './state-file.js';

/** Folder inside the state folder holding sealed segments not yet recorded as stored. */
export const JOURNAL_DIR_NAME = 'pending';

/** A sealed segment found in the journal. */
export interface JournalEntry {
  sequence: number;
  name: string;
  bytes: Buffer;
}

/**
 * The write-ahead journal of sealed segments. A segment is written here durably before it is put
 * in the store and removed once the state file records it. After a crash between the put and
 * the state write, the next start puts the same bytes again (an identical put succeeds) instead
 * of sealing that sequence number anew with different bytes, which a store would refuse as a
 * conflict. This works with stores the replicator may write but not read (the vault's write
 * token), where the head cannot be recovered by listing the store.
 *
 * @example
 * ```ts
 * const journal = new SegmentJournal('./state');
 * await journal.write({ sequence: 7, name, bytes });
 * await store.put(name, bytes);
 * await journal.remove(7);
 * ```
 */
export class SegmentJournal {
  readonly #dir: string;

  constructor(stateDir: string) {
    this.#dir = join(stateDir, JOURNAL_DIR_NAME);
  }

  /** Write a sealed segment durably (temporary file, fsync, rename, folder fsync). */
  async write(entry: { sequence: number; name: string; bytes: Uint8Array }): Promise<void> {
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    const final = join(this.#dir, fileName(entry.sequence));
    const temporary = `${final}.tmp`;
    const file = await open(temporary, 'w', 0o600);
    try {
      await file.writeFile(`${entry.name}\n`);
      await file.writeFile(entry.bytes);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, final);
    await syncFolder(this.#dir);
  }

  /** Forget a segment once the state file records it as stored. */
  async remove(sequence: number): Promise<void> {
    await rm(join(this.#dir, fileName(sequence)), { force: true });
  }

  /** Forget every segment up to and including `sequence` (recorded in the state file). */
  async prune(sequence: number): Promise<void> {
    for (const entry of await this.entries()) {
      if (entry.sequence <= sequence) await this.remove(entry.sequence);
    }
  }

  /** Segments still in the journal, in sequence order. */
  async entries(): Promise<JournalEntry[]> {
    let names: string[];
    try {
      names = await readdir(this.#dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const entries: JournalEntry[] = [];
    for (const file of names.filter((n) => /^\d{20}\.seg$/.test(n)).sort()) {
      const content = await readFile(join(this.#dir, file));
      const newline = content.indexOf(0x0a);
      if (newline < 0) continue;
      entries.push({
        sequence: Number(file.slice(0, 20)),
        name: content.subarray(0, newline).toString('utf8'),
        bytes: content.subarray(newline + 1),
      });
    }
    return entries;
  }
}

function fileName(sequence: number): string {
  return `${pad20(sequence)}.seg`;
}
