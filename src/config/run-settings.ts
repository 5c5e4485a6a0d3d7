import { z } from 'zod';
import { parseTableName, splitTableList, type TableName } from '../change/change.js';
import { MAX_SEGMENT_PLAINTEXT_BYTES } from '../segment/index.js';
import { type Setting, setting } from './setting.js';

/** Default time a batch may wait before it is sealed and stored, in milliseconds. */
export const DEFAULT_FLUSH_INTERVAL_MS = 250;
/** Default cap of a segment's plaintext, in bytes. */
export const DEFAULT_MAX_SEGMENT_BYTES = 4 * 1024 * 1024;
/** Default minimum time between two checkpoints, in seconds (0: after every segment). */
export const DEFAULT_CHECKPOINT_INTERVAL_S = 10;
/** Default seconds of failing store or lost database before /healthz turns unhealthy. */
export const DEFAULT_STALL_S = 60;
/** Default seconds behind the source beyond which /readyz says not ready. */
export const DEFAULT_READY_MAX_LAG_S = 30;

/** Everything `crypto-replicator run` needs, resolved from flags, environment and defaults. */
export interface RunSettings {
  databaseUrl: string;
  mode: 'notify' | 'outbox' | 'logical';
  store: string;
  recipients: string[];
  /** A file listing more recipient public key paths (see readRecipientsFile). */
  recipientsFile?: string;
  signingKey?: string;
  tables?: TableName[];
  stateDir: string;
  flushIntervalMs: number;
  format: 'v1' | 'v2';
  maxSegmentBytes: number;
  checkpointIntervalS: number;
  metricsPort?: number;
  metricsHost: string;
  channel?: string;
  slot?: string;
  publication?: string;
  snapshot: boolean;
  spoolMaxBytes?: number;
  tokenFile?: string;
  token?: string;
  s3Endpoint?: string;
  s3Region?: string;
  insecureHttp: boolean;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  storeStallS: number;
  captureStallS: number;
  readyMaxLagS: number;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;
const whole = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((text) => ['true', '1', 'yes'].includes(text));

/** Parse `a,b,"Odd, name"` into table names. */
function tableList(text: string): TableName[] {
  return splitTableList(text).map((name) => parseTableName(name));
}

/**
 * The settings of `crypto-replicator run`, in the order `--help` and the README list them.
 *
 * @example
 * ```ts
 * RUN_SETTINGS.find((s) => s.key === 'stateDir')?.env; // => 'STATE_DIR'
 * ```
 */
export const RUN_SETTINGS: Setting[] = [
  setting({
    key: 'databaseUrl',
    flag: '--database-url',
    placeholder: 'URL',
    env: 'DATABASE_URL',
    required: true,
    secret: true,
    schema: z.string().regex(/^postgres(ql)?:\/\/\S+$/),
    expected: 'a postgresql:// connection URL',
    description: 'the database to follow',
  }),
  setting({
    key: 'mode',
    flag: '--mode',
    placeholder: 'MODE',
    env: 'CAPTURE_MODE',
    defaultValue: 'notify',
    schema: z.enum(['notify', 'outbox', 'logical']),
    expected: 'notify, outbox or logical',
    description: 'capture mode (notify is the seed default and loses changes made while stopped)',
  }),
  setting({
    key: 'store',
    flag: '--store',
    placeholder: 'URL',
    env: 'CLOUD_API_URL',
    required: true,
    secret: true,
    schema: z.string().min(1),
    expected: 'a folder path, file: URL, s3://bucket/prefix or https:// URL',
    description: 'where sealed segments go',
  }),
  setting({
    key: 'recipients',
    flag: '--recipient',
    placeholder: 'PUB.pem',
    env: 'RSA_PUBLIC_KEY_PATH',
    repeatable: true,
    schema: z.array(z.string().min(1)).min(1),
    expected: 'the path of an RSA public key (PEM)',
    description: 'recovery public key segments are sealed for (repeat for several)',
  }),
  setting({
    key: 'recipientsFile',
    flag: '--recipients-file',
    placeholder: 'FILE',
    env: 'RECIPIENTS_FILE',
    schema: z.string().min(1),
    expected: 'the path of a text file listing one public key path per line',
    description: 'more recovery public keys: one PEM path per line (# comments, relative to it)',
  }),
  setting({
    key: 'signingKey',
    flag: '--signing-key',
    placeholder: 'signing.pem',
    env: 'SIGNING_KEY_PATH',
    schema: z.string().min(1),
    expected: 'the path of an Ed25519 private key (PEM)',
    description: 'Ed25519 key that signs segments (default: made once in the state folder)',
  }),
  setting({
    key: 'tables',
    flag: '--tables',
    placeholder: 'a,b',
    env: 'CAPTURE_TABLES',
    schema: z.string().min(1).transform(tableList),
    expected: 'a comma-separated list of table or schema.table names',
    description: 'tables to follow (default: every table the capture set-up covers)',
  }),
  setting({
    key: 'stateDir',
    flag: '--state-dir',
    placeholder: 'DIR',
    env: 'STATE_DIR',
    defaultValue: './state',
    schema: z.string().min(1),
    expected: 'a folder path',
    description: 'state folder: stream id, head, lock, spool, generated signing key',
  }),
  setting({
    key: 'flushIntervalMs',
    flag: '--flush-interval',
    placeholder: 'MS',
    env: 'FLUSH_INTERVAL_MS',
    defaultValue: DEFAULT_FLUSH_INTERVAL_MS,
    schema: whole(1, 600_000),
    expected: 'whole milliseconds between 1 and 600000',
    description: 'longest time a change waits before its segment is sealed and stored',
  }),
  setting({
    key: 'format',
    flag: '--format',
    placeholder: 'v1|v2',
    env: 'SEGMENT_FORMAT',
    defaultValue: 'v2',
    schema: z.enum(['v1', 'v2']),
    expected: 'v1 or v2',
    description: 'v2 signed chained segments, or v1 per-row envelopes of the original design',
  }),
  setting({
    key: 'maxSegmentBytes',
    flag: '--max-segment-bytes',
    placeholder: 'BYTES',
    env: 'MAX_SEGMENT_BYTES',
    defaultValue: DEFAULT_MAX_SEGMENT_BYTES,
    schema: whole(1024, MAX_SEGMENT_PLAINTEXT_BYTES),
    expected: `whole bytes between 1024 and ${MAX_SEGMENT_PLAINTEXT_BYTES} (the format's cap)`,
    description: 'cut a segment before its plaintext exceeds this size',
  }),
  setting({
    key: 'checkpointIntervalS',
    flag: '--checkpoint-interval',
    placeholder: 'S',
    env: 'CHECKPOINT_INTERVAL_S',
    defaultValue: DEFAULT_CHECKPOINT_INTERVAL_S,
    schema: whole(0, 86_400),
    expected: 'whole seconds between 0 and 86400',
    description: 'least time between signed checkpoints (0: after every segment)',
  }),
  setting({
    key: 'metricsPort',
    flag: '--metrics-port',
    placeholder: 'N',
    env: 'METRICS_PORT',
    schema: whole(0, 65_535),
    expected: 'a TCP port number between 0 and 65535',
    description: 'serve /metrics, /healthz and /readyz on this port (default: no server)',
  }),
  setting({
    key: 'metricsHost',
    flag: '--metrics-host',
    placeholder: 'ADDR',
    env: 'METRICS_HOST',
    defaultValue: '0.0.0.0',
    schema: z.string().min(1),
    expected: 'an address to listen on, e.g. 127.0.0.1',
    description: 'address of the metrics server (all interfaces by default, as exporters do)',
  }),
  setting({
    key: 'channel',
    flag: '--channel',
    placeholder: 'NAME',
    env: 'LISTEN_CHANNEL',
    schema: z.string().regex(IDENTIFIER),
    expected: 'a channel name of letters, digits and _ (at most 63)',
    description: 'notify: LISTEN channel of the seed trigger (default nis2_changes)',
  }),
  setting({
    key: 'slot',
    flag: '--slot',
    placeholder: 'NAME',
    env: 'SLOT_NAME',
    schema: z.string().regex(/^[a-z0-9_]{1,63}$/),
    expected: 'a slot name of lowercase letters, digits and _ (at most 63)',
    description: 'logical: replication slot name (default crypto_replicator)',
  }),
  setting({
    key: 'publication',
    flag: '--publication',
    placeholder: 'NAME',
    env: 'PUBLICATION_NAME',
    schema: z.string().regex(/^[a-z0-9_]{1,63}$/),
    expected: 'a publication name of lowercase letters, digits and _ (at most 63)',
    description: 'logical: publication name (default crypto_replicator)',
  }),
  setting({
    key: 'snapshot',
    flag: '--no-snapshot',
    env: 'SNAPSHOT',
    defaultValue: true,
    schema: z.union([z.boolean(), bool]),
    expected: 'true or false',
    description: 'skip the initial snapshot of rows already in the tables',
  }),
  setting({
    key: 'spoolMaxBytes',
    flag: '--spool-max-bytes',
    placeholder: 'BYTES',
    env: 'SPOOL_MAX_BYTES',
    schema: whole(1024 * 1024, Number.MAX_SAFE_INTEGER),
    expected: 'whole bytes, at least 1048576',
    description: 'notify: size cap of the local spool (default 256 MiB)',
  }),
  ...storeAndOperationSettings(),
];

function storeAndOperationSettings(): Setting[] {
  return [
    setting({
      key: 'tokenFile',
      flag: '--token-file',
      placeholder: 'FILE',
      env: 'CLOUD_API_TOKEN_FILE',
      schema: z.string().min(1),
      expected: 'the path of a file holding the API token',
      description: 'https store: bearer token file (else CLOUD_API_TOKEN)',
    }),
    setting({
      key: 'token',
      env: 'CLOUD_API_TOKEN',
      secret: true,
      schema: z.string().min(1),
      expected: 'a non-empty token',
      description: 'https store: bearer token, from the environment only',
    }),
    setting({
      key: 's3Endpoint',
      flag: '--s3-endpoint',
      placeholder: 'URL',
      env: 'S3_ENDPOINT',
      schema: z.string().regex(/^https?:\/\/\S+$/),
      expected: 'an http:// or https:// URL',
      description: 's3 store: endpoint of an S3-compatible service',
    }),
    setting({
      key: 's3Region',
      flag: '--s3-region',
      placeholder: 'REGION',
      env: 'AWS_REGION',
      schema: z.string().min(1),
      expected: 'a region name',
      description: 's3 store: region',
    }),
    setting({
      key: 'insecureHttp',
      flag: '--insecure-http',
      env: 'INSECURE_HTTP',
      defaultValue: false,
      schema: z.union([z.boolean(), bool]),
      expected: 'true or false',
      description: 'allow a plain http:// store on a host that is not loopback',
    }),
    setting({
      key: 'logLevel',
      flag: '--log-level',
      placeholder: 'LEVEL',
      env: 'LOG_LEVEL',
      defaultValue: 'info',
      schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']),
      expected: 'fatal, error, warn, info, debug or trace',
      description: 'log level (DEBUG=true means debug)',
    }),
    setting({
      key: 'storeStallS',
      flag: '--health-store-stall',
      placeholder: 'S',
      env: 'HEALTH_STORE_STALL_S',
      defaultValue: DEFAULT_STALL_S,
      schema: whole(1, 86_400),
      expected: 'whole seconds between 1 and 86400',
      description: '/healthz fails when the store has failed, or one request has waited, this long',
    }),
    setting({
      key: 'captureStallS',
      flag: '--health-capture-stall',
      placeholder: 'S',
      env: 'HEALTH_CAPTURE_STALL_S',
      defaultValue: DEFAULT_STALL_S,
      schema: whole(1, 86_400),
      expected: 'whole seconds between 1 and 86400',
      description: '/healthz fails when the database has been unreachable for this long',
    }),
    setting({
      key: 'readyMaxLagS',
      flag: '--ready-max-lag',
      placeholder: 'S',
      env: 'READY_MAX_LAG_S',
      defaultValue: DEFAULT_READY_MAX_LAG_S,
      schema: whole(1, 86_400),
      expected: 'whole seconds between 1 and 86400',
      description: '/readyz fails while stored changes are older than this when more wait',
    }),
  ];
}
