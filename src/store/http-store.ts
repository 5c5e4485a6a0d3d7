import { UsageError } from '../errors.js';
import type { StoreOptions } from './open-store.js';
import type { ObjectStore, PutResult } from './store.js';

// PLACEHOLDER: the Cloud Receiver API client lands in a later commit.
export class HttpStore implements ObjectStore {
  readonly url: string;
  constructor(url: URL, _options: StoreOptions) {
    this.url = url.origin;
    throw new UsageError(`open store ${url.origin}: https backend not available yet`);
  }
  async put(): Promise<PutResult> {
    return { created: false };
  }
  async get(): Promise<undefined> {
    return undefined;
  }
  async *list(): AsyncIterable<string> {}
  async close(): Promise<void> {}
}
