import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file-store.js';
import { type RunningVault, startVault } from '../../src/vault/start-vault.js';
import { READ_TOKEN, WRITE_TOKEN } from './two-token-store.js';

const OPENAPI = fileURLToPath(new URL('../../docs/openapi.yaml', import.meta.url));
const PARAMS: Record<string, string[]> = {
  id: ['some-id'],
  stream: ['e'.repeat(32)],
  kind: ['segments', 'checkpoints'],
  seq: ['1'],
};

/** Every documented path and method, read from docs/openapi.yaml by its indentation. */
async function documentedOperations(): Promise<Array<{ method: string; path: string }>> {
  const operations: Array<{ method: string; path: string }> = [];
  let path: string | undefined;
  let inPaths = false;
  for (const line of (await readFile(OPENAPI, 'utf8')).split('\n')) {
    if (/^\S/.test(line)) inPaths = line === 'paths:';
    if (!inPaths) continue;
    const pathMatch = /^ {2}(\/\S*):$/.exec(line);
    if (pathMatch !== null) path = pathMatch[1];
    const methodMatch = /^ {4}(get|post|put|delete):$/.exec(line);
    if (methodMatch !== null && path !== undefined) {
      operations.push({ method: methodMatch[1]!.toUpperCase(), path });
    }
  }
  return operations;
}

/** Every concrete URL a templated path stands for. */
function expand(path: string): string[] {
  const match = /\{(\w+)\}/.exec(path);
  if (match === null) return [path];
  return PARAMS[match[1]!]!.flatMap((value) => expand(path.replace(match[0], value)));
}

describe('docs/openapi.yaml', () => {
  let dir: string;
  let vault: RunningVault;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cr-vault-openapi-'));
    vault = await startVault({
      store: new FileStore(dir),
      writeToken: WRITE_TOKEN,
      readToken: READ_TOKEN,
      port: 0,
    });
  });
  afterAll(async () => {
    await vault?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('describes only endpoints the vault serves', async () => {
    const operations = await documentedOperations();
    expect(operations.length).toBeGreaterThanOrEqual(10);
    for (const { method, path } of operations) {
      for (const url of expand(path)) {
        const token = method === 'GET' ? READ_TOKEN : WRITE_TOKEN;
        const response = await fetch(`${vault.url}${url}`, {
          method,
          headers: { authorization: `Bearer ${token}` },
        });
        const body = await response.text();
        expect(body, `${method} ${url}`).not.toContain('no such endpoint');
      }
    }
  });
});
