import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { newState, readState, writeState } from '../../src/pipeline/state-file.js';
import { acquireStateLock, LOCK_FILE_NAME } from '../../src/pipeline/state-lock.js';
import { ensureStateSigningKey } from '../../src/pipeline/state-signing-key.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cr-state-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The pid of a process that has exited, so a lock holding it is stale. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid!;
}

describe('state file', () => {
  it('round-trips the stream head and leaves no temporary file behind', async () => {
    const state = { ...newState('v2'), lastSequence: 42, lastAcknowledgedPosition: '0/16B3748' };
    await writeState(dir, state);

    const read = await readState(dir);
    expect(read).toMatchObject({ streamId: state.streamId, lastSequence: 42 });
    expect(read?.lastAcknowledgedPosition).toBe('0/16B3748');
    expect(await readdir(dir)).toEqual(['state.json']);
  });

  it('is undefined for a fresh folder', async () => {
    expect(await readState(join(dir, 'missing'))).toBeUndefined();
  });

  it('refuses a damaged state file instead of starting a new stream over it', async () => {
    await writeFile(join(dir, 'state.json'), '{"streamId": "not hex"');
    await expect(readState(dir)).rejects.toThrow(/not a valid replicator state/);
  });
});

describe('state folder lock', () => {
  it('refuses a second replicator on the same state folder, naming the owner pid', async () => {
    const lock = await acquireStateLock(dir);
    try {
      const second = acquireStateLock(dir);
      await expect(second).rejects.toBeInstanceOf(UsageError);
      await expect(acquireStateLock(dir)).rejects.toThrow(`(pid ${process.pid}) is using it`);
    } finally {
      await lock.release();
    }
  });

  it('refuses when another live process holds the lock', async () => {
    const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    try {
      await writeFile(join(dir, LOCK_FILE_NAME), `${sleeper.pid}\n`);
      await expect(acquireStateLock(dir)).rejects.toThrow(`(pid ${sleeper.pid})`);
    } finally {
      sleeper.kill('SIGKILL');
    }
  });

  it('takes over a stale lock left by a killed replicator', async () => {
    await writeFile(join(dir, LOCK_FILE_NAME), `${await deadPid()}\n`);
    const lock = await acquireStateLock(dir);
    expect((await readFile(lock.path, 'utf8')).trim()).toBe(String(process.pid));
    await lock.release();
    await expect(stat(lock.path)).rejects.toThrow(/ENOENT/);
  });
});

describe('signing key in the state folder', () => {
  it('is made once, private half 0600, and loaded again on the next start', async () => {
    const first = await ensureStateSigningKey(dir);
    const second = await ensureStateSigningKey(dir);

    expect(second.keyId).toBe(first.keyId);
    expect((await stat(join(dir, 'signing.pem'))).mode & 0o777).toBe(0o600);
    expect(await readFile(join(dir, 'signing.pub'), 'utf8')).toContain('BEGIN PUBLIC KEY');
  });
});
