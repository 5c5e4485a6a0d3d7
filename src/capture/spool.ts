import {
  type FileHandle,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../errors.js';

/** A spool file is closed and a new one begun past this size. */
export const SPOOL_FILE_BYTES = 4 * 1024 * 1024;
const FILE_PATTERN = /^spool-(\d{20})\.jsonl$/;
const ACKED_FILE = 'acked';

/** One spooled entry: a decimal position and what was received. */
export interface SpoolEntry<T> {
  position: string;
  receivedAt: string;
  items: T[];
}

/**
 * A durable, append-only local spool: entries are appended as JSON lines and fsynced before
 * `append` resolves; each gets the next decimal position (never reused, also across restarts,
 * because the last acknowledged position is kept in a file of its own). `acknowledge` deletes
 * whole files once every entry in them is acknowledged. A torn last line (crash mid-write) is
 * cut off when the spool is opened: it was never reported as received.
 *
 * @example
 * ```ts
 * const spool = await Spool.open<string>(dir);
 * const [position] = await spool.append([['payload']]);
 * for (const entry of await spool.readAfter('0')) console.log(entry.position);
 * await spool.acknowledge(position);
 * ```
 */
export class Spool<T> {
  private files: Array<{ name: string; first: bigint; bytes: number }> = [];
  private handle: FileHandle | undefined;
  private counter = 0n;
  private acked = 0n;

  private constructor(private readonly dir: string) {}

  static async open<T>(dir: string): Promise<Spool<T>> {
    const spool = new Spool<T>(dir);
    await spool.load();
    return spool;
  }

  /** Bytes on disk, for the size cap. */
  get bytes(): number {
    return this.files.reduce((sum, file) => sum + file.bytes, 0);
  }

  /** Entries spooled and not yet acknowledged. */
  get depth(): number {
    return Number(this.counter - this.acked);
  }

  /** The last acknowledged position ('0' before the first). */
  get acknowledgedPosition(): string {
    return String(this.acked);
  }

  get lastPosition(): string {
    return String(this.counter);
  }

  /**
   * Append entries (each a list of items), fsync, and return their positions. A failed append
   * (a full disk) leaves the spool as it was: the file is cut back and the positions are given
   * again by the next append, so the caller may simply retry.
   */
  async append(batches: T[][]): Promise<string[]> {
    if (batches.length === 0) return [];
    const counterBefore = this.counter;
    const receivedAt = new Date().toISOString();
    const positions: string[] = [];
    let text = '';
    for (const items of batches) {
      this.counter++;
      positions.push(String(this.counter));
      text += `${JSON.stringify({ p: String(this.counter), t: receivedAt, items })}\n`;
    }
    try {
      const current = this.files.at(-1);
      if (current === undefined || current.bytes >= SPOOL_FILE_BYTES || this.handle === undefined) {
        await this.handle?.close();
        this.handle = undefined;
        const first = BigInt(positions[0]!);
        const name = `spool-${String(first).padStart(20, '0')}.jsonl`;
        this.handle = await open(join(this.dir, name), 'a');
        this.files.push({ name, first, bytes: 0 });
      }
    } catch (error) {
      this.counter = counterBefore;
      throw error;
    }
    const file = this.files.at(-1)!;
    const bytes = Buffer.from(text, 'utf8');
    try {
      // NOTE: a nearly full disk takes part of a write without an error; the rest then fails.
      for (let offset = 0; offset < bytes.length; ) {
        offset += (await this.handle.write(bytes, offset)).bytesWritten;
      }
      await this.handle.sync();
    } catch (error) {
      // NOTE: cutting a file back needs no free space; a torn line would break every read.
      await this.handle.truncate(file.bytes).catch(() => {});
      this.counter = counterBefore;
      throw error;
    }
    file.bytes += bytes.length;
    return positions;
  }

  /** Entries after `position`, oldest first, from at most `maxFiles` files. */
  async readAfter(position: string, maxFiles = 1): Promise<Array<SpoolEntry<T>>> {
    const after = BigInt(position);
    const out: Array<SpoolEntry<T>> = [];
    let read = 0;
    for (let i = 0; i < this.files.length && read < maxFiles; i++) {
      const next = this.files[i + 1];
      if (next !== undefined && next.first <= after + 1n) continue;
      read++;
      for (const entry of await this.readFileEntries(this.files[i]!.name)) {
        if (BigInt(entry.position) > after) out.push(entry);
      }
    }
    return out;
  }

  /** Everything up to `position` is stored: remember it and delete fully acknowledged files. */
  async acknowledge(position: string): Promise<void> {
    const value = BigInt(position);
    if (value <= this.acked) return;
    this.acked = value;
    const temp = join(this.dir, `${ACKED_FILE}.tmp`);
    await writeFile(temp, `${position}\n`, { flush: true });
    await rename(temp, join(this.dir, ACKED_FILE));
    while (this.files.length > 0) {
      const [first, second] = this.files;
      const lastInFirst = second === undefined ? this.counter : second.first - 1n;
      if (lastInFirst > value) break;
      if (second === undefined) {
        await this.handle?.close();
        this.handle = undefined;
      }
      await rm(join(this.dir, first!.name), { force: true });
      this.files.shift();
    }
  }

  async close(): Promise<void> {
    await this.handle?.close();
    this.handle = undefined;
  }

  private async load(): Promise<void> {
    const names = await readdir(this.dir).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') {
        throw new UsageError(`open spool ${this.dir}: no such folder`, {
          hint: 'create the state folder first, or pass another --state-dir',
        });
      }
      throw error;
    });
    const acked = await readFile(join(this.dir, ACKED_FILE), 'utf8').catch(() => '0');
    this.acked = BigInt(acked.trim() || '0');
    this.counter = this.acked;
    for (const name of names.sort()) {
      const match = FILE_PATTERN.exec(name);
      if (match === null) continue;
      const entries = await this.readFileEntries(name, true);
      const last = entries.at(-1);
      if (last !== undefined && BigInt(last.position) > this.counter) {
        this.counter = BigInt(last.position);
      }
      const { size } = await stat(join(this.dir, name));
      this.files.push({ name, first: BigInt(match[1]!), bytes: size });
    }
  }

  /** Parse a file; with `repair`, cut a torn last line off the file. */
  private async readFileEntries(name: string, repair = false): Promise<Array<SpoolEntry<T>>> {
    const path = join(this.dir, name);
    // An acknowledgement may delete a fully acknowledged file while it is being read.
    const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return '';
      throw error;
    });
    const complete = text.lastIndexOf('\n') + 1;
    if (repair && complete < text.length) {
      const handle = await open(path, 'r+');
      await handle.truncate(Buffer.byteLength(text.slice(0, complete)));
      await handle.sync();
      await handle.close();
    }
    return text
      .slice(0, complete)
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => {
        const parsed = JSON.parse(line) as { p: string; t: string; items: T[] };
        return { position: parsed.p, receivedAt: parsed.t, items: parsed.items };
      });
  }
}
