import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installCapture } from '../../src/capture/index.js';
import { generateRecoveryKey, writeKeyPair } from '../../src/keys/index.js';
import { freePort, startPostgres, type TestPostgres } from '../support/postgres.js';
import { waitFor } from '../support/wait-for.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HEALTHCHECK = `${ROOT}docker/healthcheck.mjs`;

interface ProcessResult {
  code: number;
  output: string;
}

/** Run the health-check script as Docker would: a plain process, its exit code is the verdict. */
function runHealthcheck(env: NodeJS.ProcessEnv): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [HEALTHCHECK], {
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
  });
}

describe('docker/healthcheck.mjs', () => {
  let server: Server;
  let port: number;
  let healthStatus = 200;
  let hang = false;

  beforeAll(async () => {
    // A real HTTP server standing in for the replicator's health port: its answer is switchable.
    server = createServer((req, res) => {
      if (hang) return;
      if (req.url !== '/healthz') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(healthStatus, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ healthy: healthStatus === 200 }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('exits 0 when /healthz answers 200 on METRICS_PORT', async () => {
    healthStatus = 200;
    hang = false;
    const result = await runHealthcheck({ METRICS_PORT: String(port) });
    expect(result.code).toBe(0);
    expect(result.output).toContain('healthy');
  });

  it('exits 1 when the replicator turns unhealthy and /healthz answers 503', async () => {
    healthStatus = 503;
    hang = false;
    const result = await runHealthcheck({ METRICS_PORT: String(port) });
    expect(result.code).toBe(1);
    expect(result.output).toContain('answered 503');
  });

  it('exits 1 within its timeout when the health port accepts but never answers', async () => {
    hang = true;
    const result = await runHealthcheck({
      HEALTHCHECK_URL: `http://127.0.0.1:${port}/healthz`,
      HEALTHCHECK_TIMEOUT_MS: '300',
    });
    expect(result.code).toBe(1);
    expect(result.output).toContain('no answer within 300 ms');
    hang = false;
  });

  it('exits 1 when nothing listens on the health port', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const freePort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));

    const result = await runHealthcheck({ METRICS_PORT: String(freePort) });
    expect(result.code).toBe(1);
    expect(result.output).toContain('ECONNREFUSED');
  });
});

describe('container definition', () => {
  it('runs as a non-root user with production dependencies only and a health check', async () => {
    const dockerfile = await readFile(`${ROOT}Dockerfile`, 'utf8');
    const stages = dockerfile.split(/^FROM /m).slice(1);
    const runtime = stages.at(-1) ?? '';

    // Multi-stage, and the final stage installs without dev dependencies.
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(runtime).toMatch(/npm ci [^\n]*--omit=dev/);
    expect(runtime).toMatch(/COPY --from=build/);

    // The last USER of the runtime stage is not root (by name or uid 0).
    const users = [...runtime.matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1]);
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/);

    // The health check calls the script the tests above exercise.
    expect(runtime).toMatch(/^HEALTHCHECK [\s\S]*docker\/healthcheck\.mjs/m);
    expect(runtime).toMatch(/STATE_DIR=\/var\/lib\/crypto-replicator/);
    expect(runtime).toMatch(/^VOLUME \["\/var\/lib\/crypto-replicator"\]/m);
  });

  it('mounts the keys read-only in the compose file and never mounts a private key', async () => {
    const compose = await readFile(`${ROOT}docker-compose.yml`, 'utf8');
    expect(compose).toMatch(/- \.\/keys:\/keys:ro$/m);
    expect(compose).toMatch(/RSA_PUBLIC_KEY_PATH: \/keys\/cloud\.pub/);
    expect(compose).toMatch(/wal_level=logical/);
    expect(compose).not.toMatch(/recovery\.pem:|private\.pem:/);
  });

  it('keeps keys, state and local installs out of the build context', async () => {
    const ignore = (await readFile(`${ROOT}.dockerignore`, 'utf8')).split('\n');
    for (const entry of ['node_modules', '*.pem', 'keys', '.git']) {
      expect(ignore).toContain(entry);
    }
  });
});

describe('docker/entrypoint.sh with the image environment', () => {
  let server: TestPostgres;
  let work: string;
  let databaseUrl: string;

  beforeAll(async () => {
    // The entry point runs the built program, as in the image: build it when sources are newer.
    await ensureBuilt();
    server = await startPostgres();
    databaseUrl = await server.createDatabase('app');
    await server.query(
      'CREATE TABLE public.nis2_audit_log (id bigint PRIMARY KEY, actor text NOT NULL)',
      [],
      'app',
    );
    await installCapture({
      mode: 'logical',
      databaseUrl,
      tables: [{ schema: 'public', name: 'nis2_audit_log' }],
    });

    // What the image mounts: the recovery public key at /keys/cloud.pub, state on a volume.
    work = await mkdtemp(join(tmpdir(), 'cr-ops-container-'));
    const pair = await generateRecoveryKey(3072);
    await writeKeyPair(pair, { dir: join(work, 'keys'), baseName: 'cloud' });
    await rm(join(work, 'keys', 'cloud.pem'));
  });

  afterAll(async () => {
    await server?.destroy();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it('runs from the image environment: healthy, replicates, unhealthy without database', async () => {
    const metricsPort = await freePort();
    const storeDir = join(work, 'store');
    const entry = spawn(`${ROOT}docker/entrypoint.sh`, [], {
      env: {
        PATH: process.env.PATH,
        DATABASE_URL: databaseUrl,
        CLOUD_API_URL: storeDir,
        RSA_PUBLIC_KEY_PATH: join(work, 'keys', 'cloud.pub'),
        CAPTURE_MODE: 'logical',
        STATE_DIR: join(work, 'state'),
        METRICS_PORT: String(metricsPort),
        METRICS_HOST: '127.0.0.1',
        HEALTH_CAPTURE_STALL_S: '1',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let logs = '';
    entry.stderr.on('data', (chunk: Buffer) => {
      logs += chunk.toString('utf8');
    });
    const exited = new Promise<number | null>((resolve) => entry.on('exit', resolve));

    try {
      // Healthy, as Docker's HEALTHCHECK would see it.
      await waitFor(
        async () => (await runHealthcheck({ METRICS_PORT: String(metricsPort) })).code === 0,
        { timeoutMs: 60_000, what: `a healthy replicator (logs: ${logs.slice(-500)})` },
      );

      // The entry point's process (PID 1 in the image) runs the replicator with a bounded heap.
      const children = readFileSync(`/proc/${entry.pid}/task/${entry.pid}/children`, 'utf8');
      const bounded = children.trim().split(/\s+/).map(Number);
      const commandLines = bounded.map((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
      expect(commandLines.join(' ')).toContain('--max-old-space-size=128');

      // Configured from the environment alone: a change reaches the store folder.
      await server.query("INSERT INTO public.nis2_audit_log VALUES (1, 'ann')", [], 'app');
      await waitFor(
        () => readdirSync(storeDir, { recursive: true }).some((f) => String(f).endsWith('.seg')),
        {
          timeoutMs: 30_000,
          what: 'a segment in the store folder',
        },
      );

      // The database goes away: liveness fails, so the container would turn unhealthy.
      await server.crash();
      await waitFor(
        async () => (await runHealthcheck({ METRICS_PORT: String(metricsPort) })).code === 1,
        { timeoutMs: 30_000, what: 'the health check to fail' },
      );
    } finally {
      // `docker stop` sends SIGTERM to the process the entry point exec'd.
      entry.kill('SIGTERM');
    }
    // Exited on its own after the signal (a code, not killed by the signal).
    expect(await exited).not.toBeNull();
  });
});

describe('docker/entrypoint.sh arguments', () => {
  beforeAll(ensureBuilt);

  it('passes dash arguments to `run` and runs other commands as given', async () => {
    const help = await runEntry(['--help']);
    expect(help.code).toBe(0);
    expect(help.output).toContain('Usage: crypto-replicator run');

    const verify = await runEntry(['verify', '--help']);
    expect(verify.code).toBe(0);
    expect(verify.output).toContain('Usage: crypto-replicator verify');
  });

  it('refuses to run without a database URL, naming the setting', async () => {
    const result = await runEntry([]);
    expect(result.code).toBe(2);
    expect(result.output).toContain('error: missing --database-url');
  });
});

function runEntry(args: string[]): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(`${ROOT}docker/entrypoint.sh`, args, {
      env: { PATH: process.env.PATH, STATE_DIR: tmpdir() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
  });
}

/** Build dist/ when it is missing or older than a source file (npm test builds it first). */
async function ensureBuilt(): Promise<void> {
  const main = `${ROOT}dist/cli/main.js`;
  const builtAt = existsSync(main) ? statSync(main).mtimeMs : 0;
  const sources = readdirSync(`${ROOT}src`, { recursive: true }).map((f) => `${ROOT}src/${f}`);
  if (sources.every((file) => statSync(file).mtimeMs <= builtAt)) return;
  // NOTE: type errors elsewhere in the tree do not stop tsc from emitting; the test needs
  // only the emitted JavaScript.
  await new Promise<void>((resolve) => {
    const tsc = spawn(
      process.execPath,
      [`${ROOT}node_modules/typescript/bin/tsc`, '-p', `${ROOT}tsconfig.build.json`],
      {
        stdio: 'ignore',
      },
    );
    tsc.on('exit', () => resolve());
  });
  expect(existsSync(main)).toBe(true);
}
