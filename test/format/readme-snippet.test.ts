import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { HybridEncryptor } from '../../src/envelope/index.js';
import { keyPath } from './fixture-keys.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MARKER = '<!-- snippet: disaster-recovery -->';
let dir: string | undefined;

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** The TypeScript block that follows the marker in README.md. */
async function readmeSnippet(): Promise<string> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf(MARKER);
  expect(start, 'README.md has the disaster-recovery snippet').toBeGreaterThan(0);
  const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(start));
  return block![1]!;
}

describe('the seed disaster-recovery snippet in README.md', () => {
  it('decrypts downloaded envelopes, the seed Python ones included, as shown', async () => {
    // A folder laid out as the snippet expects: private.pem and envelopes/.
    dir = await mkdtemp(join(tmpdir(), 'snippet-'));
    await copyFile(keyPath('TEST-ONLY-seed-2048-pkcs1.pem'), join(dir, 'private.pem'));
    await mkdir(join(dir, 'envelopes'));
    const encryptor = HybridEncryptor.fromPublicKeyFile(keyPath('TEST-ONLY-seed-2048.pub'));
    const row = { id: 5, actor: 'ana', note: null };
    await writeFile(
      join(dir, 'envelopes', 'a.json'),
      encryptor
        .encrypt(row, { table: 'nis2_audit_log', operation: 'INSERT' })
        .toJson({ indent: 2 }),
    );
    await copyFile(
      fileURLToPath(new URL('../fixtures/vectors/v1/ok-python-indented.json', import.meta.url)),
      join(dir, 'envelopes', 'b.json'),
    );

    // The snippet verbatim, with the package name pointing at this checkout's source.
    const snippet = (await readmeSnippet()).replace(
      "'crypto-replicator'",
      `'${pathToFileURL(join(ROOT, 'src/index.ts')).href}'`,
    );
    await writeFile(join(dir, 'restore.mts'), snippet);
    const tsx = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
    const { stdout } = await run(process.execPath, ['--import', tsx, 'restore.mts'], { cwd: dir });
    expect(
      stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line)),
    ).toEqual([row, { id: 1, actor: 'zoë', note: null }]);
  });
});
