import { UsageError } from '../errors.js';
import type { StoreOptions } from './open-store.js';
import type { ObjectStore } from './store.js';

// PLACEHOLDER: the S3 backend lands in the next commit; the URL scheme is already reserved.
export class S3Store {
  static async fromUrl(url: URL, _options: StoreOptions): Promise<ObjectStore> {
    throw new UsageError(`open store ${url.protocol}//${url.host}: s3 backend not available yet`);
  }
}
