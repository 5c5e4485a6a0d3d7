import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectText } from '../../src/capture/text-client.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';

/** The kernel's timer of the TCP socket with this local port: kind and clock ticks left. */
async function socketTimer(localPort: number): Promise<{ kind: number; ticks: number }> {
  const hexPort = localPort.toString(16).toUpperCase().padStart(4, '0');
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const lines = (await readFile(table, 'utf8').catch(() => '')).split('\n').slice(1);
    for (const line of lines) {
      const fields = line.trim().split(/\s+/);
      if (!fields[1]?.endsWith(`:${hexPort}`) || fields[3] !== '01') continue;
      // Field 5 is "timer:ticks": timer 2 is the keepalive timer, ticks in USER_HZ (1/100 s).
      const [kind, ticks] = fields[5]!.split(':').map((hex) => Number.parseInt(hex, 16));
      return { kind: kind!, ticks: ticks! };
    }
  }
  throw new Error(`no established socket with local port ${localPort}`);
}

describe('capture connections', () => {
  let server: TestPostgres;
  let url: string;

  beforeAll(async () => {
    server = await startPostgres();
    url = await server.createDatabase('text_client');
  });
  afterAll(async () => {
    await server?.destroy();
  });

  it('probe a silent peer with TCP keepalive after 10 s, not the system default of 2 h', async () => {
    const client = await connectText(url, 'keepalive test');
    try {
      await client.query('SELECT 1');
      const stream = (client as unknown as { connection: { stream: { localPort: number } } })
        .connection.stream;
      const timer = await socketTimer(stream.localPort);
      expect(timer.kind).toBe(2);
      expect(timer.ticks).toBeGreaterThan(0);
      expect(timer.ticks).toBeLessThanOrEqual(10 * 100);
    } finally {
      await client.end();
    }
  });
});
