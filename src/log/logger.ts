import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/**
 * Every log field that may hold a secret or row data, redacted in one place. Library code never
 * logs rows; this list is the safety net for options objects and errors passed to a logger.
 */
export const REDACTED_PATHS = [
  'password',
  '*.password',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'passphrase',
  '*.passphrase',
  'privateKey',
  '*.privateKey',
  'secretAccessKey',
  '*.secretAccessKey',
  'row',
  '*.row',
  'rows',
  '*.rows',
  'data',
  '*.data',
];

export interface LoggerOptions {
  /** pino level; `debug` when the seed's `DEBUG=true` is set. */
  level?: string;
  /** Where JSON lines go; standard error by default so stdout stays for command output. */
  destination?: DestinationStream;
}

/**
 * Create the structured JSON logger used by the CLI. Library code takes a logger as an option
 * and never prints.
 *
 * @example
 * ```ts
 * const log = createLogger({ level: 'info' });
 * log.info({ sequence: 42, bytes: 18_204 }, 'segment stored');
 * ```
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { name: 'crypto-replicator' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    },
    options.destination ?? pino.destination({ fd: 2, sync: true }),
  );
}

/** A logger that drops everything, the default for library callers that pass none. */
export const silentLogger: Logger = pino({ level: 'silent' });

/**
 * Replace the password in a PostgreSQL connection string, for logs and error messages.
 *
 * @example
 * ```ts
 * redactUrl('postgresql://app:s3cret@db:5432/prod'); // => 'postgresql://app:***@db:5432/prod'
 * ```
 */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    for (const key of [...parsed.searchParams.keys()]) {
      if (/pass|token|secret|key/i.test(key)) parsed.searchParams.set(key, '***');
    }
    return parsed.toString();
  } catch {
    return url.replace(/:\/\/([^:/@]*):[^@]*@/, '://$1:***@');
  }
}
