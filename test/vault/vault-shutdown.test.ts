import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file-store.js';
import { startVault } from '../../src/vault/start-vault.js';
import { waitFor } from '../support/wait-for.js';
import { READ_TOKEN, WRITE_TOKEN } from './two-token-store.js';

describe('vault graceful shutdown', () => {
  it('finishes an upload in flight when asked to stop, then refuses new connections', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cr-vault-shutdown-'));
    const vault = await startVault({
      store: new FileStore(dir),
      writeToken: WRITE_TOKEN,
      readToken: READ_TOKEN,
      port: 0,
    });
    try {
      // Send the headers and half of a segment, and hold the rest back.
      const body = randomBytes(256 * 1024);
      const path = `/streams/${'f'.repeat(32)}/segments/1`;
      const upload = request(`${vault.url}${path}`, {
        method: 'PUT',
        headers: {
          authorization: `Bearer ${WRITE_TOKEN}`,
          'content-type': 'application/octet-stream',
          'content-length': String(body.byteLength),
        },
      });
      const answered = new Promise<number>((resolve, reject) => {
        upload.on('response', (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        });
        upload.on('error', reject);
      });
      upload.write(body.subarray(0, body.byteLength / 2));
      await waitFor(
        () =>
          new Promise<boolean>((resolve) =>
            vault.app.server.getConnections((_e, count) => resolve(count === 1)),
          ),
        { what: 'the upload connection at the vault' },
      );

      // Stop while the upload is in flight; it must still complete and be stored.
      const closing = vault.close();
      upload.end(body.subarray(body.byteLength / 2));
      expect(await answered).toBe(201);
      await closing;
      const stored = await readFile(
        join(dir, 'streams', 'f'.repeat(32), 'segments', `${'1'.padStart(20, '0')}.seg`),
      );
      expect(stored.equals(body)).toBe(true);
      await expect(fetch(`${vault.url}/health`)).rejects.toThrow();
    } finally {
      await vault.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
