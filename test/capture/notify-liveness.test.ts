import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCaptureSource, installCapture } from '../../src/capture/index.js';
import { parseTableName } from '../../src/change/change.js';
import { startTcpProxy, type TcpProxy } from '../support/faults/tcp-proxy.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { waitFor } from '../support/wait-for.js';
import { collect } from './collect.js';

describe('notify capture on a link that goes silent', () => {
  let server: TestPostgres;
  let proxy: TcpProxy;
  let spoolDir: string;
  let viaProxy: string;

  beforeAll(async () => {
    server = await startPostgres();
    const url = await server.createDatabase('silent');
    await server.query('CREATE TABLE events (id int PRIMARY KEY, body text)', [], 'silent');
    await installCapture({ mode: 'notify', databaseUrl: url, tables: [parseTableName('events')] });
    proxy = await startTcpProxy({ targetPort: server.port });
    viaProxy = url.replace(`:${server.port}/`, `:${proxy.port}/`);
    spoolDir = await mkdtemp(join(tmpdir(), 'cr-liveness-'));
  });

  afterAll(async () => {
    await proxy?.close();
    await server?.destroy();
    await rm(spoolDir, { recursive: true, force: true });
  });

  it('notices a stalled LISTEN connection, makes a new one and hears changes again', async () => {
    const source = createCaptureSource({
      mode: 'notify',
      databaseUrl: viaProxy,
      spoolDir,
      snapshot: false,
      // Short, so the test is; the defaults are 15 s and 10 s.
      liveness: { idleMs: 300, deadlineMs: 700 },
    });
    await source.start();
    const seen = collect(source);
    try {
      const insert = (id: number) =>
        server.query('INSERT INTO events VALUES ($1, $2)', [id, `event ${id}`], 'silent');
      await insert(1);
      await seen.waitForChanges(1);
      const connectionsBefore = proxy.connections;

      // Every byte held both ways and nothing closed: only the liveness probe can tell.
      proxy.setMode({ kind: 'stall' });
      await waitFor(() => source.status().connected === false, {
        what: 'the stalled connection to be given up',
        timeoutMs: 15_000,
      });
      expect(source.status().problem).toMatch(/listen connection lost/);

      proxy.setMode({ kind: 'pass' });
      await waitFor(() => source.status().connected, {
        what: 'a new listening connection',
        timeoutMs: 30_000,
      });
      expect(proxy.connections).toBeGreaterThan(connectionsBefore);
      await insert(2);
      const changes = await seen.waitForChanges(2);
      expect(changes.map((change) => change.new?.id)).toEqual(['1', '2']);
    } finally {
      await source.stop();
    }
  });
});
