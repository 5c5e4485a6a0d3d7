import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file-store.js';
import { startVault } from '../../src/vault/start-vault.js';
import { describeStoreContract, objectBytes } from '../store/contract.js';
import { READ_TOKEN, twoTokenStore, WRITE_TOKEN } from './two-token-store.js';

describeStoreContract('HttpStore through the vault on a folder', async ({ pageSize }) => {
  const dir = await mkdtemp(join(tmpdir(), 'cr-vault-contract-'));
  const vault = await startVault({
    store: new FileStore(dir),
    writeToken: WRITE_TOKEN,
    readToken: READ_TOKEN,
    port: 0,
    limits: { ratePerSecond: 10_000, burst: 10_000 },
  }).catch(async (error: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw error;
  });
  return {
    store: twoTokenStore(vault.url, { pageSize }),
    cleanup: async () => {
      await vault.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe('vault under a base path', () => {
  it('serves the API under /api for clients given the seed-style URL …/api', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cr-vault-base-'));
    const vault = await startVault({
      store: new FileStore(dir),
      writeToken: WRITE_TOKEN,
      readToken: READ_TOKEN,
      port: 0,
      basePath: '/api/',
    });
    try {
      expect(vault.url).toMatch(/:\d+\/api$/);
      const store = twoTokenStore(vault.url);
      const name = 'envelopes/based-1.json';
      const bytes = objectBytes(name);
      expect(await store.put(name, bytes)).toEqual({ created: true });
      const names: string[] = [];
      for await (const listed of store.list('envelopes/')) names.push(listed);
      expect(names).toEqual([name]);
      await store.close();
      const root = await fetch(`${new URL(vault.url).origin}/envelopes/based-1`, {
        headers: { authorization: `Bearer ${READ_TOKEN}` },
      });
      expect(root.status).toBe(404);
    } finally {
      await vault.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
