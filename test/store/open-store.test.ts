import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { FileStore } from '../../src/store/file-store.js';
import { isLoopback, openStore } from '../../src/store/open-store.js';

describe('openStore', () => {
  it('opens a plain path and a file: URL as the same folder store', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cr-open-'));
    try {
      const byPath = await openStore(dir);
      const byUrl = await openStore(pathToFileURL(dir).href);
      expect(byPath).toBeInstanceOf(FileStore);
      expect(byUrl.url).toBe(byPath.url);
      await byPath.put('envelopes/x.json', Buffer.from('{}'));
      expect(await byUrl.get('envelopes/x.json')).toBeDefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses plain http to a remote host without --insecure-http', async () => {
    await expect(openStore('http://vault.example.com/api')).rejects.toThrow(
      /plain http to a non-loopback host/,
    );
  });

  it('rejects an unknown scheme naming the supported ones', async () => {
    const error = await openStore('ftp://host/x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).hint).toContain('s3:');
  });

  it('recognises loopback hosts only', () => {
    expect(isLoopback('127.0.0.1')).toBe(true);
    expect(isLoopback('[::1]')).toBe(true);
    expect(isLoopback('localhost')).toBe(true);
    expect(isLoopback('10.0.0.1')).toBe(false);
    expect(isLoopback('127.0.0.1.evil.example')).toBe(false);
  });
});
