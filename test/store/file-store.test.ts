import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file-store.js';
import { describeStoreContract } from './contract.js';

describeStoreContract('FileStore', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cr-filestore-'));
  return {
    store: new FileStore(dir),
    // A put that crashed after writing and flushing its temporary file, before publishing it.
    crashMidPut: async (name, bytes) => {
      const folder = dirname(join(dir, name));
      await mkdir(folder, { recursive: true });
      await writeFile(join(folder, '~tmp-0123456789abcdef'), bytes);
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

describe('FileStore on disk', () => {
  it('leaves no temporary file behind after a successful put', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cr-filestore-'));
    try {
      const store = new FileStore(dir);
      await store.put('envelopes/a.json', Buffer.from('{}'));
      await store.put('envelopes/a.json', Buffer.from('{}'));
      expect(await readdir(join(dir, 'envelopes'))).toEqual(['a.json']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('ignores foreign files whose names are not object names', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cr-filestore-'));
    try {
      await writeFile(join(dir, 'notes with spaces.txt'), 'x');
      const store = new FileStore(dir);
      await store.put('a', Buffer.from('1'));
      const names: string[] = [];
      for await (const name of store.list('')) names.push(name);
      expect(names).toEqual(['a']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('orders names by bytes across folders, not folder by folder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cr-filestore-'));
    try {
      const store = new FileStore(dir);
      for (const name of ['a0', 'a/b', 'a-b']) await store.put(name, Buffer.from(name));
      const names: string[] = [];
      for await (const name of store.list('a')) names.push(name);
      expect(names).toEqual(['a-b', 'a/b', 'a0']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('FileStore listing, property-based', () => {
  it('lists exactly the stored names under a prefix after startAfter, in byte order', async () => {
    const segment = fc.constantFrom('a', 'a-b', 'a0', 'b', 'a.b', 'z_');
    const name = fc.array(segment, { minLength: 1, maxLength: 3 }).map((parts) => parts.join('/'));
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(name, { minLength: 1, maxLength: 8 }),
        fc.constantFrom('', 'a', 'a/', 'a-', 'b/', 'a/a'),
        fc.option(name, { nil: undefined }),
        async (names, prefix, after) => {
          // A name cannot also be a folder of another name: drop such pairs.
          const files = names.filter((n) => !names.some((m) => m.startsWith(`${n}/`)));
          const dir = await mkdtemp(join(tmpdir(), 'cr-filestore-prop-'));
          try {
            const store = new FileStore(dir);
            for (const n of files) await store.put(n, Buffer.from(n));
            const listed: string[] = [];
            for await (const n of store.list(prefix, { startAfter: after })) listed.push(n);
            const expected = files
              .filter((n) => n.startsWith(prefix) && (after === undefined || n > after))
              .sort((x, y) => (x < y ? -1 : 1));
            expect(listed).toEqual(expected);
          } finally {
            await rm(dir, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
