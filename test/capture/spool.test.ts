import { appendFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Spool } from '../../src/capture/spool.js';
import { mountSmallDisk } from '../support/faults/full-disk.js';

describe('notify spool', () => {
  let dir: string;
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('cuts a torn last line after a crash and keeps counting from the last whole entry', async () => {
    dir = await mkdtemp(join(tmpdir(), 'cr-spool-unit-'));
    const spool = await Spool.open<string>(dir);
    expect(await spool.append([['a'], ['b', 'c']])).toEqual(['1', '2']);
    await spool.close();
    const [file] = (await readdir(dir)).filter((name) => name.startsWith('spool-'));
    await appendFile(join(dir, file!), '{"p":"3","t":"2026-12-03T00:00:00Z","ite');

    const reopened = await Spool.open<string>(dir);
    expect((await reopened.readAfter('0')).map((e) => e.items)).toEqual([['a'], ['b', 'c']]);
    expect(await reopened.append([['d']])).toEqual(['3']);
    expect((await reopened.readAfter('2')).map((e) => e.items)).toEqual([['d']]);
    await reopened.close();
  });

  it('never reuses a position once everything was acknowledged and deleted', async () => {
    dir = await mkdtemp(join(tmpdir(), 'cr-spool-unit-'));
    const spool = await Spool.open<string>(dir);
    await spool.append([['a'], ['b']]);
    await spool.acknowledge('2');
    expect(spool.bytes).toBe(0);
    await spool.close();
    const reopened = await Spool.open<string>(dir);
    expect(await reopened.append([['c']])).toEqual(['3']);
    expect(await reopened.readAfter(reopened.acknowledgedPosition)).toHaveLength(1);
    await reopened.close();
  });

  it('leaves itself intact when a full disk fails an append, so the append can be retried', async (context) => {
    dir = await mkdtemp(join(tmpdir(), 'cr-spool-unit-'));
    const disk = await mountSmallDisk(join(dir, 'disk'), 1024 * 1024);
    if ('skipped' in disk) {
      context.skip();
      return;
    }
    try {
      const spool = await Spool.open<string>(disk.dir);
      expect(await spool.append([['before']])).toEqual(['1']);
      await disk.fill();
      // Entries larger than what is left: a real ENOSPC, after part of the bytes went in.
      const big = 'x'.repeat(64 * 1024);
      await expect(spool.append([[big], [big]])).rejects.toMatchObject({ code: 'ENOSPC' });
      expect(spool.lastPosition).toBe('1');
      await disk.free();
      expect(await spool.append([[big], ['after']])).toEqual(['2', '3']);
      const entries = await spool.readAfter('0');
      expect(entries.map((e) => e.position)).toEqual(['1', '2', '3']);
      expect(entries.map((e) => e.items[0]!.length)).toEqual([6, big.length, 5]);
      await spool.close();
      const reopened = await Spool.open<string>(disk.dir);
      expect(reopened.lastPosition).toBe('3');
      await reopened.close();
    } finally {
      await disk.unmount();
    }
  });
});
