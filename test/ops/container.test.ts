import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

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
