export type { TableCounts } from './change-applier.js';
export {
  type CompareOptions,
  type CompareReport,
  compareDatabases,
  type TableComparison,
} from './compare-databases.js';
export {
  checkExpectedHeads,
  headsFromReport,
  parseExpectedHead,
} from './expected-heads.js';
export { formatCompareReport, formatRestoreReport, formatVerifyReport } from './format-report.js';
export { listStoreKeys, type StoreKey } from './list-store-keys.js';
export { type RestoreOptions, restore, restoreReportOf } from './restore.js';
export { epochMicros, parseRestorePoint, type RestorePoint } from './restore-point.js';
export { PROGRESS_SCHEMA, type RestoreProgress } from './restore-progress.js';
export type { LeftOut, RestoreReport, StreamRestore, TableRestore } from './restore-report.js';
export type { RestoreProgressEvent } from './restore-stream.js';
export { V1_LIMITATIONS } from './restore-v1.js';
export { DIGEST_SESSION_SQL, type TableDigest, tableDigest } from './table-digest.js';
export { type VerifyStoreOptions, verifyStore } from './verify-store.js';
export type {
  ExpectedHead,
  ProblemKind,
  StreamSummary,
  VerifyProblem,
  VerifyReport,
} from './verify-types.js';
