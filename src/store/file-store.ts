import { randomBytes } from 'node:crypto';
import { type Dirent, constants as fsConstants } from 'node:fs';
import { access, link, mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  type ReplicatorError,
  StoreConflictError,
  StoreUnavailableError,
  UsageError,
} from '../errors.js';
import { type Logger, silentLogger } from '../log/logger.js';
import { checkListPrefix, checkObjectName, checkObjectSize, sameBytes } from './object-name.js';
import type { ListOptions, ObjectStore, PutResult } from './store.js';

/** Temporary files carry a `~`, which no object name may contain, so listing never sees them. */
const TEMP_MARKER = '~tmp-';
/** One path segment of an object name; anything else in the folder is ignored. */
const SEGMENT_PATTERN = /^[A-Za-z0-9._-]+$/;
/** Errors worth retrying: the disk may come back or be given space. */
const TRANSIENT_CODES = new Set(['ENOSPC', 'EIO', 'EMFILE', 'ENFILE', 'EAGAIN', 'EBUSY', 'EDQUOT']);

export interface FileStoreOptions {
  logger?: Logger;
}

/**
 * The reference backend: one file per object under a folder, object names as relative paths.
 *
 * A put writes a temporary file in the object's folder, flushes it, then hard-links it to its
 * final name (which fails if the name exists, so two writers never overwrite each other), removes
 * the temporary name and flushes the folder. A crash leaves at most a `~tmp-` file that `get` and
 * `list` ignore.
 *
 * @example
 * ```ts
 * const store = new FileStore('/var/lib/twin');
 * await store.put('envelopes/abc.json', Buffer.from('{}'));
 * for await (const name of store.list('envelopes/')) console.log(name);
 * ```
 */
export class FileStore implements ObjectStore {
  readonly url: string;
  readonly root: string;
  readonly #log: Logger;
  /** Per folder: the flush running now, and the one queued to start after it. */
  readonly #folderSyncs = new Map<string, { current: Promise<void>; next?: Promise<void> }>();

  constructor(dir: string, options: FileStoreOptions = {}) {
    this.root = resolve(dir);
    this.url = pathToFileURL(this.root).href;
    this.#log = options.logger ?? silentLogger;
  }

  async put(name: string, bytes: Uint8Array): Promise<PutResult> {
    checkObjectName(name);
    checkObjectSize(name, bytes);
    const path = join(this.root, name);

    // Fast path: an object already there is either this one again or a conflict.
    const existing = await this.get(name);
    if (existing !== undefined) return this.#compare(name, existing, bytes);

    // Write the bytes under a temporary name in the same folder, and flush them.
    const folder = dirname(path);
    await this.#ensureFolder(name, folder);
    const temp = join(folder, `${TEMP_MARKER}${randomBytes(8).toString('hex')}`);
    try {
      await writeDurably(temp, bytes);

      // Publish atomically: link() fails with EEXIST instead of replacing a rival's object.
      try {
        await publish(temp, path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const rival = await this.get(name);
        if (rival === undefined) throw error;
        return this.#compare(name, rival, bytes);
      }
      await this.#syncFolderShared(folder);
    } catch (error) {
      throw this.#wrap(`write store object ${name}`, error);
    } finally {
      await unlink(temp).catch(() => {});
    }
    this.#log.debug({ name, bytes: bytes.byteLength }, 'object written');
    return { created: true };
  }

  async get(name: string): Promise<Uint8Array | undefined> {
    checkObjectName(name);
    try {
      return await readFile(join(this.root, name));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return undefined;
      throw this.#wrap(`read store object ${name}`, error);
    }
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<string> {
    checkListPrefix(prefix);
    const after = options.startAfter;

    // Walk only the deepest folder the prefix fully names, then sort by name bytes: folder
    // order on disk is not the byte order of whole names ("a-b" < "a/b" < "a0").
    const base = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    const names: string[] = [];
    await this.#walk(base, prefix, after, names);
    names.sort(compareNames);
    for (const name of names) {
      if (after !== undefined && compareNames(name, after) <= 0) continue;
      yield name;
    }
  }

  async close(): Promise<void> {}

  async #walk(
    folderName: string,
    prefix: string,
    after: string | undefined,
    out: string[],
  ): Promise<void> {
    let entries: Dirent[];
    try {
      entries = await readdir(join(this.root, folderName), { withFileTypes: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw this.#wrap(`list store folder ${folderName || '.'}`, error);
    }
    for (const entry of entries) {
      if (!SEGMENT_PATTERN.test(entry.name) || entry.name === '.' || entry.name === '..') continue;
      const name = `${folderName}${entry.name}`;
      if (entry.isDirectory()) {
        const child = `${name}/`;
        // Descend only where names can still start with the prefix and follow startAfter.
        const overlaps = child.startsWith(prefix) || prefix.startsWith(child);
        const passed = after !== undefined && child < after && !after.startsWith(child);
        if (overlaps && !passed) await this.#walk(child, prefix, after, out);
      } else if (entry.isFile() && name.startsWith(prefix)) {
        out.push(name);
      }
    }
  }

  /**
   * Flush a folder, sharing flushes between concurrent puts: a caller joins the flush queued
   * after the running one (which may have started before its link), never the running one, so
   * every caller's entry is covered by a flush that began after it was made.
   */
  #syncFolderShared(folder: string): Promise<void> {
    const entry = this.#folderSyncs.get(folder);
    if (entry === undefined) return this.#startFolderSync(folder);
    entry.next ??= entry.current.catch(() => {}).then(() => this.#startFolderSync(folder));
    return entry.next;
  }

  #startFolderSync(folder: string): Promise<void> {
    const current = syncFolder(folder).finally(() => {
      const entry = this.#folderSyncs.get(folder);
      if (entry?.current === current && entry.next === undefined) this.#folderSyncs.delete(folder);
    });
    this.#folderSyncs.set(folder, { current });
    return current;
  }

  #compare(name: string, existing: Uint8Array, bytes: Uint8Array): PutResult {
    if (sameBytes(existing, bytes)) return { created: false };
    throw new StoreConflictError(
      `write store object ${name}: a different object already exists under this name`,
      { hint: 'two writers share one store location; give each its own stream or folder' },
    );
  }

  /** Create the object's folder and flush the parents of every folder created. */
  async #ensureFolder(name: string, folder: string): Promise<void> {
    try {
      const first = await mkdir(folder, { recursive: true });
      if (first === undefined) return;
      let created = folder;
      for (;;) {
        await syncFolder(dirname(created));
        if (created === first || created === this.root) break;
        created = dirname(created);
      }
    } catch (error) {
      throw this.#wrap(`create folder for store object ${name}`, error);
    }
  }

  #wrap(what: string, error: unknown): ReplicatorError {
    if (error instanceof StoreConflictError || error instanceof UsageError) return error;
    const code = (error as NodeJS.ErrnoException).code ?? '';
    const cause = error instanceof Error ? error.message : String(error);
    if (TRANSIENT_CODES.has(code)) {
      return new StoreUnavailableError(`${what}: ${cause}`, {
        cause: error,
        hint: `check the disk holding ${this.root} (space, health)`,
      });
    }
    return new UsageError(`${what}: ${cause}`, {
      cause: error,
      hint: `check that ${this.root} is a writable folder`,
    });
  }
}

/** Create `path` exclusively, write all bytes and fsync before closing. */
async function writeDurably(path: string, bytes: Uint8Array): Promise<void> {
  const handle = await open(path, fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY);
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Filesystems without hard links (some network and FUSE mounts) answer with these. */
const NO_LINK_CODES = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EMLINK']);

/** Give the flushed temporary file its final name without ever replacing an existing one. */
async function publish(temp: string, path: string): Promise<void> {
  try {
    await link(temp, path);
  } catch (error) {
    if (!NO_LINK_CODES.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
    // NOTE: without hard links, check-then-rename is racy between two writers of one name;
    // the replicator's single-writer lock keeps one writer per stream, so this is acceptable.
    const exists = await access(path).then(
      () => true,
      () => false,
    );
    if (exists) throw Object.assign(new Error(`${path} exists`), { code: 'EEXIST' });
    await rename(temp, path);
  }
}

/** fsync a folder so that a new or removed entry in it survives a power cut. */
async function syncFolder(folder: string): Promise<void> {
  const handle = await open(folder, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Byte order of object names. Names are ASCII, so UTF-16 code unit order is byte order.
 *
 * @example
 * ```ts
 * ['a0', 'a/b', 'a-b'].sort(compareNames); // ['a-b', 'a/b', 'a0']
 * ```
 */
export function compareNames(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}
