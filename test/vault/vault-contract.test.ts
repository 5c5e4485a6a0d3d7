import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStore } from '../../src/store/file-store.js';
import { HttpStore } from '../../src/store/http-store.js';
import { startVault } from '../../src/vault/start-vault.js';
import { describeStoreContract } from '../store/contract.js';

const WRITE_TOKEN = 'test-only-write-token-0123456789abcdef';
const READ_TOKEN = 'test-only-read-token-0123456789abcdef';

/**
 * The HTTPS client store needs both roles for the contract (it writes and reads back), so the
 * contract runs through a proxy store: puts with the write token, reads with the read token.
 */
describeStoreContract('HttpStore through the vault on a folder', async ({ pageSize }) => {
  const dir = await mkdtemp(join(tmpdir(), 'cr-vault-contract-'));
  const vault = await startVault({
    store: new FileStore(dir),
    writeToken: WRITE_TOKEN,
    readToken: READ_TOKEN,
    port: 0,
    limits: { ratePerSecond: 10_000, burst: 10_000 },
  });
  const url = new URL(vault.url);
  const writer = new HttpStore(url, { token: WRITE_TOKEN, pageSize });
  const reader = new HttpStore(url, { token: READ_TOKEN, pageSize });
  return {
    store: {
      url: writer.url,
      put: (name, bytes) => writer.put(name, bytes),
      get: (name) => reader.get(name),
      list: (prefix, options) => reader.list(prefix, options),
      close: async () => {
        await writer.close();
        await reader.close();
      },
    },
    cleanup: async () => {
      await vault.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
