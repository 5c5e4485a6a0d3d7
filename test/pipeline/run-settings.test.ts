import { describe, expect, it } from 'vitest';
import { resolveRunSettings } from '../../src/config/resolve-settings.js';
import { MAX_SEGMENT_PLAINTEXT_BYTES } from '../../src/segment/index.js';

const BASE_ENV = {
  DATABASE_URL: 'postgresql://app:s3cret@db:5432/app',
  CLOUD_API_URL: '/var/twin',
  RSA_PUBLIC_KEY_PATH: '/keys/cloud.pub',
};

describe('run settings', () => {
  it('reads the seed environment variables and applies defaults', () => {
    const settings = resolveRunSettings({}, { ...BASE_ENV, LISTEN_CHANNEL: 'audit' });
    expect(settings).toMatchObject({
      databaseUrl: BASE_ENV.DATABASE_URL,
      store: '/var/twin',
      recipients: ['/keys/cloud.pub'],
      channel: 'audit',
      mode: 'notify',
      format: 'v2',
      flushIntervalMs: 250,
      stateDir: './state',
      snapshot: true,
      logLevel: 'info',
    });
  });

  it('lets a flag win over its environment variable', () => {
    const settings = resolveRunSettings(
      { flushIntervalMs: '100', recipients: ['a.pub', 'b.pub'], tables: 'audit.events,"Odd T"' },
      { ...BASE_ENV, FLUSH_INTERVAL_MS: '900' },
    );
    expect(settings.flushIntervalMs).toBe(100);
    expect(settings.recipients).toEqual(['a.pub', 'b.pub']);
    expect(settings.tables).toEqual([
      { schema: 'audit', name: 'events' },
      { schema: 'public', name: 'Odd T' },
    ]);
  });

  it('turns on debug logs with the seed DEBUG=true', () => {
    expect(resolveRunSettings({}, { ...BASE_ENV, DEBUG: 'true' }).logLevel).toBe('debug');
  });

  it('rejects a malformed flush interval, naming the flag and what was expected', () => {
    expect(() => resolveRunSettings({ flushIntervalMs: '5x' }, BASE_ENV)).toThrow(
      'invalid --flush-interval "5x": expected whole milliseconds between 1 and 600000',
    );
  });

  it('rejects a malformed environment variable, naming the variable', () => {
    expect(() => resolveRunSettings({}, { ...BASE_ENV, CAPTURE_MODE: 'trigger' })).toThrow(
      'invalid CAPTURE_MODE "trigger": expected notify, outbox or logical',
    );
  });

  it('never echoes a malformed database URL, which may hold a password', () => {
    let message = '';
    try {
      resolveRunSettings({}, { ...BASE_ENV, DATABASE_URL: 'mysql://u:hunter2@db' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toBe('invalid DATABASE_URL: expected a postgresql:// connection URL');
  });

  it('refuses to start without a recipient public key', () => {
    const env = { ...BASE_ENV, RSA_PUBLIC_KEY_PATH: undefined };
    expect(() => resolveRunSettings({}, env)).toThrow(/missing recipient/);
  });

  it('refuses to start without a store', () => {
    const env = { ...BASE_ENV, CLOUD_API_URL: undefined };
    expect(() => resolveRunSettings({}, env)).toThrow('missing --store');
  });

  it('rejects a segment size above the format cap, naming the setting and the real cap', () => {
    const env = { DATABASE_URL: 'postgresql://h/db', CLOUD_API_URL: './twin' };
    const flags = { recipients: ['a.pub'] };
    const cap = String(MAX_SEGMENT_PLAINTEXT_BYTES);
    expect(resolveRunSettings({ ...flags, maxSegmentBytes: cap }, env).maxSegmentBytes).toBe(
      MAX_SEGMENT_PLAINTEXT_BYTES,
    );
    expect(() =>
      resolveRunSettings({ ...flags, maxSegmentBytes: String(32 * 1024 * 1024) }, env),
    ).toThrow(
      `invalid --max-segment-bytes "33554432": expected whole bytes between 1024 and ${cap}`,
    );
    expect(() =>
      resolveRunSettings(flags, {
        ...env,
        MAX_SEGMENT_BYTES: String(MAX_SEGMENT_PLAINTEXT_BYTES + 1),
      }),
    ).toThrow(
      /^invalid MAX_SEGMENT_BYTES "16777217": expected whole bytes between 1024 and 16777216/,
    );
  });
});
