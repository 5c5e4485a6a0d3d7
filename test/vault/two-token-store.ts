import { HttpStore } from '../../src/store/http-store.js';
import type { ObjectStore } from '../../src/store/store.js';

export const WRITE_TOKEN = 'test-only-write-token-0123456789abcdef';
export const READ_TOKEN = 'test-only-read-token-0123456789abcdef';

/**
 * One ObjectStore over a vault that writes with the write token and reads with the read token,
 * as the replicator and the restore do separately. The contract suite needs both at once.
 */
export function twoTokenStore(
  url: string,
  options: { pageSize?: number; tlsCa?: string | Buffer } = {},
): ObjectStore {
  const base = new URL(url);
  const writer = new HttpStore(base, { ...options, token: WRITE_TOKEN });
  const reader = new HttpStore(base, { ...options, token: READ_TOKEN });
  return {
    url: writer.url,
    put: (name, bytes) => writer.put(name, bytes),
    get: (name) => reader.get(name),
    list: (prefix, listOptions) => reader.list(prefix, listOptions),
    close: async () => {
      await writer.close();
      await reader.close();
    },
  };
}
