import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError, UsageError } from '../../src/errors.js';
import { FileStore } from '../../src/store/file-store.js';
import { HttpStore } from '../../src/store/http-store.js';
import { type RunningVault, startVault } from '../../src/vault/start-vault.js';
import { objectBytes } from '../store/contract.js';

const WRITE = 'test-only-write-token-0123456789abcdef';
const READ = 'test-only-read-token-0123456789abcdef';
const STREAM = 'c'.repeat(32);

function envelopeJson(overrides: Record<string, unknown> = {}): string {
  const base = JSON.parse(Buffer.from(objectBytes('envelopes/x.json')).toString('utf8'));
  return JSON.stringify({ ...base, ...overrides });
}

describe('vault HTTP API', () => {
  let dir: string;
  let vault: RunningVault;
  const logLines: string[] = [];

  const call = (
    path: string,
    init: {
      method?: string;
      token?: string;
      body?: string | Buffer;
      type?: string;
      headers?: Record<string, string>;
    } = {},
  ) => {
    const headers: Record<string, string> = { ...init.headers };
    if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
    if (init.body !== undefined) headers['content-type'] = init.type ?? 'application/json';
    return fetch(`${vault.url}${path}`, { method: init.method ?? 'GET', headers, body: init.body });
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cr-vault-http-'));
    const sink = new Writable({
      write(chunk, _encoding, done) {
        logLines.push(String(chunk));
        done();
      },
    });
    vault = await startVault({
      store: new FileStore(dir),
      writeToken: WRITE,
      readToken: READ,
      port: 0,
      limits: {
        envelopeBytes: 8 * 1024,
        objectBytes: 64 * 1024,
        ratePerSecond: 10_000,
        burst: 10_000,
      },
      logger: pino({ level: 'info', redact: ['req.headers.authorization'] }, sink),
    });
  });
  afterAll(async () => {
    await vault?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers health without a token', async () => {
    const response = await call('/health');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('refuses a missing, forged or malformed token alike, without saying which', async () => {
    const bodies = new Set<string>();
    const attempts: Array<Record<string, string>> = [
      {},
      { authorization: `Bearer ${WRITE}x` },
      { authorization: WRITE },
    ];
    for (const headers of attempts) {
      const response = await call('/envelopes', { method: 'POST', body: envelopeJson(), headers });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toContain('Bearer');
      bodies.add(await response.text());
    }
    expect(bodies.size).toBe(1);
    expect((await call('/envelopes', { token: 'x'.repeat(40) })).status).toBe(401);
    // HEAD must not become an unauthenticated probe for which ids exist.
    expect((await call('/envelopes/durable-1', { method: 'HEAD' })).status).toBe(401);
    expect((await call('/envelopes/durable-1', { method: 'HEAD', token: WRITE })).status).toBe(403);
  });

  it('forbids the write token to read or list (append only)', async () => {
    expect((await call('/envelopes', { token: WRITE })).status).toBe(403);
    expect((await call('/envelopes/some-id', { token: WRITE })).status).toBe(403);
    expect((await call(`/streams/${STREAM}/segments`, { token: WRITE })).status).toBe(403);
    expect((await call('/streams', { token: WRITE })).status).toBe(403);
  });

  it('makes the client store stop on a refused token with a hint instead of retrying', async () => {
    const forged = new HttpStore(new URL(vault.url), { token: `${WRITE}x` });
    const wrongRole = new HttpStore(new URL(vault.url), { token: READ });
    const name = `streams/${STREAM}/segments/00000000000000000077.seg`;
    for (const client of [forged, wrongRole]) {
      const error = await client.put(name, Buffer.from('x')).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UsageError);
      expect((error as UsageError).hint).toContain('CLOUD_API_TOKEN');
      expect((error as Error).message).not.toContain(READ);
      await client.close();
    }
  });

  it('forbids the read token to write', async () => {
    const response = await call('/envelopes', {
      method: 'POST',
      token: READ,
      body: envelopeJson(),
    });
    expect(response.status).toBe(403);
    const put = await call(`/streams/${STREAM}/segments/1`, {
      method: 'PUT',
      token: READ,
      body: Buffer.from('x'),
      type: 'application/octet-stream',
    });
    expect(put.status).toBe(403);
  });

  it('answers 201 only once the envelope is on disk under its final name', async () => {
    const body = envelopeJson();
    const response = await call('/envelopes', {
      method: 'POST',
      token: WRITE,
      body,
      headers: { 'idempotency-key': 'durable-1' },
    });
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({ id: 'durable-1', created: true });
    // Stored byte for byte as sent, and no temporary file left beside it.
    expect(await readFile(join(dir, 'envelopes/durable-1.json'), 'utf8')).toBe(body);
    expect((await readdir(join(dir, 'envelopes'))).filter((f) => f.includes('~'))).toEqual([]);
  });

  it('accepts the same envelope twice once, and refuses different bytes under its id', async () => {
    const body = envelopeJson();
    const post = (text: string) =>
      call('/envelopes', {
        method: 'POST',
        token: WRITE,
        body: text,
        headers: { 'idempotency-key': 'dup-1' },
      });
    expect((await post(body)).status).toBe(201);
    const again = await post(body);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ id: 'dup-1', created: false });
    const other = await post(envelopeJson());
    expect(other.status).toBe(409);
    expect(await call('/envelopes/dup-1', { token: READ }).then((r) => r.text())).toBe(body);
  });

  it('names an envelope itself when no Idempotency-Key is sent, in arrival order', async () => {
    const first = (await (
      await call('/envelopes', { method: 'POST', token: WRITE, body: envelopeJson() })
    ).json()) as { id: string };
    const second = (await (
      await call('/envelopes', { method: 'POST', token: WRITE, body: envelopeJson() })
    ).json()) as { id: string };
    expect(first.id).toMatch(/^[0-9]{14}-[0-9a-f]{16}$/);
    expect(second.id > first.id || second.id.slice(0, 14) === first.id.slice(0, 14)).toBe(true);
  });

  it('rejects an oversized body with 413 before storing it', async () => {
    const response = await call('/envelopes', {
      method: 'POST',
      token: WRITE,
      body: envelopeJson({ encrypted_data: randomBytes(9000).toString('base64') }),
      headers: { 'idempotency-key': 'too-big' },
    });
    expect(response.status).toBe(413);
    const segment = await call(`/streams/${STREAM}/segments/9`, {
      method: 'PUT',
      token: WRITE,
      body: randomBytes(65 * 1024),
      type: 'application/octet-stream',
    });
    expect(segment.status).toBe(413);
    expect((await call('/envelopes/too-big', { token: READ })).status).toBe(404);
  });

  it('rejects path traversal and wrong-shape ids with 400', async () => {
    for (const path of [
      '/envelopes/..%2F..%2Fetc%2Fpasswd',
      '/envelopes/a.b',
      `/envelopes/${'a'.repeat(129)}`,
      `/streams/..%2Fx/segments`,
      `/streams/${STREAM}/segments/-1`,
      `/streams/${STREAM}/segments/1e3`,
      `/streams/${STREAM}/segments/0`,
    ]) {
      const response = await call(path, { token: READ });
      expect(response.status, path).toBe(400);
    }
    const badKey = await call('/envelopes', {
      method: 'POST',
      token: WRITE,
      body: envelopeJson(),
      headers: { 'idempotency-key': '../../x' },
    });
    expect(badKey.status).toBe(400);
  });

  it('rejects malformed JSON and names the invalid field', async () => {
    const broken = await call('/envelopes', { method: 'POST', token: WRITE, body: '{"version":' });
    expect(broken.status).toBe(400);
    expect(((await broken.json()) as { message: string }).message).toMatch(/invalid JSON/);

    const badTag = await call('/envelopes', {
      method: 'POST',
      token: WRITE,
      body: envelopeJson({ tag: 'not base64!' }),
    });
    expect(badTag.status).toBe(400);
    expect(((await badTag.json()) as { message: string }).message).toContain('tag');

    const noIv = JSON.parse(envelopeJson());
    delete noIv.iv;
    const missing = await call('/envelopes', {
      method: 'POST',
      token: WRITE,
      body: JSON.stringify(noIv),
    });
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { message: string }).message).toContain('iv');
  });

  it('stores a bulk of envelopes and reports a conflicting item by id', async () => {
    const items = Array.from({ length: 100 }, (_, i) => ({
      id: `bulk-${i}`,
      envelope: JSON.parse(envelopeJson()),
    }));
    const ok = await call('/envelopes/bulk', {
      method: 'POST',
      token: WRITE,
      body: JSON.stringify({ items }),
    });
    expect(ok.status).toBe(201);
    const results = ((await ok.json()) as { results: Array<{ created: boolean }> }).results;
    expect(results.filter((r) => r.created)).toHaveLength(100);

    const tooMany = [...items, { id: 'bulk-100', envelope: items[0]!.envelope }];
    const over = await call('/envelopes/bulk', {
      method: 'POST',
      token: WRITE,
      body: JSON.stringify({ items: tooMany }),
    });
    expect(over.status).toBe(400);

    const clash = [items[0]!, { id: 'bulk-1', envelope: JSON.parse(envelopeJson()) }];
    const conflict = await call('/envelopes/bulk', {
      method: 'POST',
      token: WRITE,
      body: JSON.stringify({ items: clash }),
    });
    expect(conflict.status).toBe(409);
    expect(await conflict.json()).toEqual({
      results: [
        { id: 'bulk-0', created: false },
        { id: 'bulk-1', error: 'conflict' },
      ],
    });
  });

  it('lists envelope metadata in pages: id, size, table, operation, time', async () => {
    const first = await call('/envelopes?limit=2', { token: READ });
    const page = (await first.json()) as { items: Array<Record<string, unknown>>; next: string };
    expect(page.items).toHaveLength(2);
    expect(page.items[0]).toMatchObject({ table: 'orders', operation: 'INSERT' });
    expect(typeof page.items[0]!.bytes).toBe('number');
    const second = (await (
      await call(`/envelopes?limit=2&after=${page.next}`, { token: READ })
    ).json()) as { items: Array<{ id: string }> };
    expect(second.items[0]!.id > page.next).toBe(true);
    expect((await call('/envelopes?limit=5000', { token: READ })).status).toBe(400);
  });

  it('puts, lists and gets segments and checkpoints by stream and sequence', async () => {
    for (const seq of [3, 1, 2]) {
      const put = await call(`/streams/${STREAM}/segments/${seq}`, {
        method: 'PUT',
        token: WRITE,
        body: Buffer.from(`segment ${seq}`),
        type: 'application/octet-stream',
      });
      expect(put.status).toBe(201);
    }
    const ckpt = await call(`/streams/${STREAM}/checkpoints/3`, {
      method: 'PUT',
      token: WRITE,
      body: Buffer.from('ckpt'),
      type: 'application/octet-stream',
    });
    expect(await ckpt.json()).toEqual({ stream: STREAM, sequence: 3, created: true });
    const list = await (
      await call(`/streams/${STREAM}/segments?after=1&limit=10`, { token: READ })
    ).json();
    expect(list).toEqual({ items: [{ sequence: 2 }, { sequence: 3 }], next: null });
    const got = await call(`/streams/${STREAM}/segments/2`, { token: READ });
    expect(got.headers.get('content-type')).toBe('application/octet-stream');
    expect(await got.text()).toBe('segment 2');
    expect((await call(`/streams/${STREAM}/segments/4`, { token: READ })).status).toBe(404);
    expect(await (await call('/streams', { token: READ })).json()).toEqual({
      items: [{ stream: STREAM }],
      next: null,
    });
    const json = await call(`/streams/${STREAM}/segments/8`, {
      method: 'PUT',
      token: WRITE,
      body: '{}',
    });
    expect(json.status).toBe(415);
  });

  it('exports Prometheus metrics and keeps tokens and bodies out of the access log', async () => {
    const metrics = await (await call('/metrics')).text();
    expect(metrics).toContain('vault_requests_total');
    expect(metrics).toMatch(/vault_objects_stored_total\{kind="envelope",created="true"\} [1-9]/);
    const log = logLines.join('');
    expect(log).toContain('"url":"/envelopes"');
    expect(log).not.toContain(WRITE);
    expect(log).not.toContain(READ);
    expect(log).not.toContain('encrypted_data');
  });
});

describe('vault rate limit', () => {
  it('answers 429 with Retry-After once a client exceeds its burst', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cr-vault-rate-'));
    const vault = await startVault({
      store: new FileStore(dir),
      writeToken: WRITE,
      readToken: READ,
      port: 0,
      limits: { ratePerSecond: 1, burst: 3 },
    });
    try {
      const statuses: number[] = [];
      let retryAfter: string | null = null;
      for (let i = 0; i < 5; i += 1) {
        const response = await fetch(`${vault.url}/streams`, {
          headers: { authorization: `Bearer ${READ}` },
        });
        statuses.push(response.status);
        if (response.status === 429) retryAfter = response.headers.get('retry-after');
      }
      expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
      expect(statuses[4]).toBe(429);
      expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
      // Health stays reachable for load balancers while a client is throttled.
      expect((await fetch(`${vault.url}/health`)).status).toBe(200);

      // The client store treats throttling as transient: retried, not a usage error.
      const client = new HttpStore(new URL(vault.url), { token: READ });
      const error = await client.get('envelopes/x.json').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect((error as Error).message).toContain('HTTP 429');
      await client.close();
    } finally {
      await vault.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
