import { cpSync, lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hydrateEmbeddedSymlinks, platformPackageRoot } from '../../src/demo/embedded-binaries.js';
import { searchStore } from '../../src/demo/search-store.js';
import { FileStore } from '../../src/store/file-store.js';

const scratch = await mkdtemp(join(tmpdir(), 'cr-ops-parts-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));

describe('searchStore', () => {
  const marker = 'demo-marker-00112233aabbccdd';

  it('finds a value stored in clear, as UTF-16 or base64 at any alignment', async () => {
    const store = new FileStore(join(scratch, 'readable'));
    await store.put('plain.json', Buffer.from(`{"actor":"${marker}@example.test"}`));
    await store.put('utf16.bin', Buffer.from(`x${marker}y`, 'utf16le'));
    for (const prefix of ['', 'a', 'ab']) {
      const text = Buffer.from(`${prefix}{"note":"${marker}"}`).toString('base64');
      await store.put(`b64-${prefix.length}.txt`, Buffer.from(text));
    }
    await store.put('unrelated.bin', Buffer.from('nothing to see'));

    const found = await searchStore(store, marker);
    expect(found.objects).toBe(6);
    expect(found.matches.sort()).toEqual([
      'b64-0.txt',
      'b64-1.txt',
      'b64-2.txt',
      'plain.json',
      'utf16.bin',
    ]);
    await store.close();
  });

  it('counts segments, checkpoints and bytes while it searches', async () => {
    const store = new FileStore(join(scratch, 'counted'));
    const stream = 'streams/0123456789abcdef0123456789abcdef';
    await store.put(`${stream}/segments/00000000000000000001.seg`, Buffer.alloc(100, 1));
    await store.put(`${stream}/checkpoints/00000000000000000001.ckpt`, Buffer.alloc(168, 2));

    const found = await searchStore(store, marker);
    expect(found).toMatchObject({ objects: 2, segments: 1, checkpoints: 1, bytes: 268 });
    expect(found.matches).toEqual([]);
    await store.close();
  });
});

describe('hydrateEmbeddedSymlinks', () => {
  it('restores library links a skipped postinstall did not make (npm ci --ignore-scripts)', () => {
    const installed = platformPackageRoot();
    expect(installed).toBeDefined();

    // Work on a copy of the package's link list, never on node_modules itself; the links may
    // dangle here (the libraries are not copied), which is all the check needs.
    const copy = join(scratch, 'platform-package');
    mkdirSync(join(copy, 'native', 'lib'), { recursive: true });
    cpSync(
      join(installed!, 'native', 'pg-symlinks.json'),
      join(copy, 'native', 'pg-symlinks.json'),
    );
    symlinkSync('libpq.so.5.15', join(copy, 'native', 'lib', 'libpq.so.5'));

    const expected = JSON.parse(
      readFileSync(join(copy, 'native', 'pg-symlinks.json'), 'utf8'),
    ) as unknown[];
    expect(hydrateEmbeddedSymlinks(copy)).toBe(expected.length - 1);
    expect(lstatSync(join(copy, 'native', 'lib', 'libpq.so')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(copy, 'native', 'lib', 'libpq.so'))).toBe('libpq.so.5.15');

    // A second run finds nothing to do.
    expect(hydrateEmbeddedSymlinks(copy)).toBe(0);
  });
});
