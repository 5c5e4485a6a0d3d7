/**
 * Library API of crypto-replicator. Everything a program needs to seal, store, verify and
 * restore is exported from here; the CLI is a thin layer over it.
 */

export type { CaptureMode, CaptureSource, CaptureStatus } from './capture/capture-source.js';
export {
  type CaptureOptions,
  captureSql,
  createCaptureSource,
  DEFAULT_CHANNEL,
  DEFAULT_PUBLICATION,
  DEFAULT_SLOT,
  DEFAULT_SPOOL_MAX_BYTES,
  type InstallOptions,
  type InstallReport,
  installCapture,
  uninstallCapture,
} from './capture/index.js';
export * from './change/change.js';
export * from './envelope/index.js';
export * from './errors.js';
export * from './keys/index.js';
export { createLogger, redactUrl } from './log/logger.js';
export {
  checkLiveness,
  checkReadiness,
  type HealthInput,
  type HealthThresholds,
} from './observability/health.js';
export { type MetricsSnapshot, ReplicatorMetrics } from './observability/metrics.js';
export {
  type ObservabilityServer,
  startObservabilityServer,
} from './observability/observability-server.js';
export * from './pipeline/index.js';
export * from './restore/index.js';
export * from './segment/index.js';
export { FileStore, type FileStoreOptions } from './store/file-store.js';
export { HttpStore } from './store/http-store.js';
export { checkObjectName } from './store/object-name.js';
export { isLoopback, openStore, redactStoreUrl, type StoreOptions } from './store/open-store.js';
export { parseReceiverName, receiverName } from './store/receiver-layout.js';
export { type RetryOptions, withRetry } from './store/retry.js';
export { S3Store, type S3StoreOptions } from './store/s3-store.js';
export * from './store/store.js';
export { type RunningVault, type StartVaultOptions, startVault } from './vault/start-vault.js';
export {
  createVaultServer,
  DEFAULT_VAULT_LIMITS,
  type VaultLimits,
  type VaultOptions,
} from './vault/vault-server.js';
