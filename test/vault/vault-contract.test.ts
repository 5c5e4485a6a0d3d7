import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStore } from '../../src/store/file-store.js';
import { startVault } from '../../src/vault/start-vault.js';
import { describeStoreContract } from '../store/contract.js';
import { READ_TOKEN, twoTokenStore, WRITE_TOKEN } from './two-token-store.js';

describeStoreContract('HttpStore through the vault on a folder', async ({ pageSize }) => {
  const dir = await mkdtemp(join(tmpdir(), 'cr-vault-contract-'));
  const vault = await startVault({
    store: new FileStore(dir),
    writeToken: WRITE_TOKEN,
    readToken: READ_TOKEN,
    port: 0,
    limits: { ratePerSecond: 10_000, burst: 10_000 },
  });
  return {
    store: twoTokenStore(vault.url, { pageSize }),
    cleanup: async () => {
      await vault.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
