/**
 * Library API of crypto-replicator. Everything a program needs to seal, store, verify and
 * restore is exported from here; the CLI is a thin layer over it.
 */

export type { CaptureMode, CaptureSource, CaptureStatus } from './capture/capture-source.js';
export * from './change/change.js';
export * from './envelope/index.js';
export * from './errors.js';
export * from './keys/index.js';
export { createLogger, redactUrl } from './log/logger.js';
export * from './restore/index.js';
export * from './segment/index.js';
export { FileStore, type FileStoreOptions } from './store/file-store.js';
export { checkObjectName } from './store/object-name.js';
export { openStore, type StoreOptions } from './store/open-store.js';
export { type RetryOptions, withRetry } from './store/retry.js';
export * from './store/store.js';
