import { appendFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Spool } from '../../src/capture/spool.js';

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
});
