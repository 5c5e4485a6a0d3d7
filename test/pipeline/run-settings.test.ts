import { describe, expect, it } from 'vitest';
import { resolveRunSettings } from '../../src/config/resolve-settings.js';

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
});
