import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CaptureSource } from '../../src/capture/capture-source.js';
import { createCaptureSource, installCapture } from '../../src/capture/index.js';
import { startTcpProxy, type TcpProxy } from '../support/faults/tcp-proxy.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { waitFor } from '../support/wait-for.js';
import { collect } from './collect.js';

describe('logical capture behind a silent network partition', () => {
  let server: TestPostgres;
  let proxy: TcpProxy;
  let source: CaptureSource | undefined;

  beforeAll(async () => {
    // A short wal_sender_timeout keeps the receive deadline (and this test) short.
    server = await startPostgres({ settings: { wal_sender_timeout: '2s' } });
    const url = await server.createDatabase('source');
    await server.query('CREATE TABLE items (id int PRIMARY KEY)', [], 'source');
    await installCapture({
      mode: 'logical',
      databaseUrl: url,
      tables: [{ schema: 'public', name: 'items' }],
      publicationName: 'part_pub',
    });
    proxy = await startTcpProxy({ targetPort: Number(new URL(url).port) });
  });

  afterAll(async () => {
    await source?.stop().catch(() => {});
    await proxy?.close();
    await server?.destroy();
  });

  it('reports the link dead when the server goes silent without closing, and resumes after', async () => {
    const url = new URL(server.url('source'));
    url.port = String(proxy.port);
    source = createCaptureSource({
      mode: 'logical',
      databaseUrl: url.toString(),
      slotName: 'part_slot',
      publicationName: 'part_pub',
    });
    await source.start();
    const seen = collect(source);
    await waitFor(() => source!.status().connected, { what: 'the stream to start' });

    // Every byte held both ways, nothing closed: only the receive deadline can tell.
    proxy.setMode({ kind: 'stall' });
    await waitFor(() => source!.status().connected === false, {
      what: 'the silent link noticed',
      timeoutMs: 20_000,
    });
    expect(source.status().problem).toMatch(/no message from the server for \d+ s/);

    proxy.setMode({ kind: 'pass' });
    proxy.cutAll();
    await server.query('INSERT INTO items VALUES (1)', [], 'source');
    await seen.waitForChanges(2, 'the TRUNCATE and the insert after the partition');
    await waitFor(() => source!.status().connected, { what: 'the stream back', timeoutMs: 30_000 });
    await seen.acknowledgeAll();
  }, 60_000);
});
