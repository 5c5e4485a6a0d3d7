import { Command } from 'commander';
import {
  type ChangeRecord,
  type Operation,
  parseTableName,
  type Row,
  type Transaction,
} from '../../change/change.js';
import { HybridEncryptor } from '../../envelope/index.js';
import { UsageError } from '../../errors.js';
import { loadRecipient, loadSigningKey } from '../../keys/index.js';
import {
  GENESIS_HASH,
  MAX_SEGMENT_PLAINTEXT_BYTES,
  newStreamId,
  sealSegment,
} from '../../segment/index.js';
import { action } from '../action.js';
import { collect } from './decrypt.js';

const OPERATIONS: readonly Operation[] = ['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE'];

interface EncryptOptions {
  format: string;
  recipient?: string[];
  signingKey?: string;
  table?: string;
  operation?: string;
}

/** One line of input: where it goes and the row. */
interface InputChange {
  table: string;
  operation: string;
  data: unknown;
}

/**
 * `crypto-replicator encrypt`: seal JSON lines from stdin, as one v1 envelope per line or as
 * one signed v2 segment holding them all.
 *
 * @example
 * ```sh
 * echo '{"id":1}' | crypto-replicator encrypt --format v1 --recipient keys/recovery.pub \
 *   --table nis2_audit_log --operation INSERT
 * ```
 */
export function encryptCommand(): Command {
  return new Command('encrypt')
    .description('seal JSON lines from stdin as v1 envelopes or one v2 segment')
    .option('--format <format>', 'v1 (one envelope per line) or v2 (one signed segment)', 'v2')
    .option('--recipient <pub.pem>', 'public recovery key to seal for; repeatable (v2)', collect)
    .option('--signing-key <key.pem>', 'Ed25519 signing key (v2, e.g. keys/signing.pem)')
    .option(
      '--table <table>',
      'every line is a row of this table (else {"table","operation","data"})',
    )
    .option('--operation <op>', 'with --table: INSERT, UPDATE, DELETE or TRUNCATE', 'INSERT')
    .action(action(encrypt));
}

async function encrypt(options: EncryptOptions): Promise<void> {
  // Guard: format, its keys, and a binary output not aimed at a terminal.
  if (options.format !== 'v1' && options.format !== 'v2') {
    throw new UsageError(`invalid --format "${options.format}": expected v1 or v2`);
  }
  const operation = options.operation?.toUpperCase() ?? 'INSERT';
  if (options.table !== undefined && !OPERATIONS.includes(operation as Operation)) {
    throw new UsageError(
      `invalid --operation "${options.operation}": expected INSERT, UPDATE, DELETE or TRUNCATE`,
    );
  }
  const recipientPaths = options.recipient ?? [];
  if (recipientPaths.length === 0) {
    throw new UsageError(`encrypt ${options.format}: --recipient is missing`, {
      hint: 'pass the public recovery key, e.g. --recipient keys/recovery.pub',
    });
  }
  if (options.format === 'v1' && recipientPaths.length !== 1) {
    throw new UsageError('encrypt v1: an envelope has exactly one recipient', {
      hint: 'pass one --recipient, or use --format v2 for several',
    });
  }
  if (options.format === 'v2' && options.signingKey === undefined) {
    throw new UsageError('encrypt v2: a segment must be signed, --signing-key is missing', {
      hint: 'pass --signing-key keys/signing.pem (made by "crypto-replicator keygen")',
    });
  }
  if (options.format === 'v2' && process.stdout.isTTY === true) {
    throw new UsageError('encrypt v2: refusing to write a binary segment to a terminal', {
      hint: 'redirect the output, e.g. "> changes.seg"',
    });
  }
  const recipients = await Promise.all(recipientPaths.map((path) => loadRecipient(path)));
  const signingKey =
    options.signingKey === undefined ? undefined : await loadSigningKey(options.signingKey);

  // Read every line before sealing, so bad input seals nothing.
  const changes = parseInput(await readStdin(), options.table, operation);

  // v1: one envelope per line, exactly as the seed's receiver expects them.
  if (options.format === 'v1') {
    const encryptor = new HybridEncryptor(recipients[0]!);
    const lines = changes.map((change) =>
      encryptor.encrypt(change.data, { table: change.table, operation: change.operation }).toJson(),
    );
    process.stdout.write(lines.map((line) => `${line}\n`).join(''));
    return;
  }

  // v2: one segment, one transaction per line, first of a new stream.
  const commitTime = new Date().toISOString().replace('Z', '000+00:00');
  const transactions: Transaction[] = changes.map((change, index) => ({
    xid: String(index + 1),
    commitTime,
    position: String(index + 1),
    records: [toChangeRecord(change, index + 1)],
  }));
  let sealed: ReturnType<typeof sealSegment>;
  try {
    sealed = sealSegment({
      streamId: newStreamId(),
      sequence: 1,
      previousHash: GENESIS_HASH,
      transactions,
      recipients,
      signingKey: signingKey!,
    });
  } catch (error) {
    if (error instanceof RangeError) {
      throw new UsageError(
        `encrypt v2: the input exceeds one segment (${MAX_SEGMENT_PLAINTEXT_BYTES} bytes serialised)`,
        { hint: 'split the input into several runs' },
      );
    }
    throw error;
  }
  process.stdout.write(sealed.bytes);
}

function parseInput(text: string, table: string | undefined, operation: string): InputChange[] {
  const changes: InputChange[] = [];
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!.trim();
    if (line === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new UsageError(`read stdin line ${index + 1}: not JSON`, {
        hint: 'pass one JSON object per line',
      });
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new UsageError(`read stdin line ${index + 1}: not a JSON object`);
    }
    if (table !== undefined) {
      changes.push({ table, operation, data: value });
      continue;
    }
    const object = value as Record<string, unknown>;
    if (typeof object.table !== 'string' || typeof object.operation !== 'string') {
      throw new UsageError(
        `read stdin line ${index + 1}: expected {"table","operation","data"} (the seed's notification)`,
        { hint: 'or pass --table T (and --operation OP) and one row object per line' },
      );
    }
    changes.push({ table: object.table, operation: object.operation, data: object.data });
  }
  if (changes.length === 0) {
    throw new UsageError('read stdin: no input lines', { hint: 'pipe JSON lines into encrypt' });
  }
  return changes;
}

function toChangeRecord(change: InputChange, line: number): ChangeRecord {
  // Table and operation as the change model spells them.
  let table: ReturnType<typeof parseTableName>;
  try {
    table = parseTableName(change.table);
  } catch {
    throw new UsageError(`read input ${line}: invalid table name "${change.table.slice(0, 80)}"`);
  }
  const op = change.operation.toUpperCase() as Operation;
  if (!OPERATIONS.includes(op)) {
    throw new UsageError(
      `read input ${line}: unknown operation "${change.operation.slice(0, 20)}"`,
    );
  }
  if (op === 'TRUNCATE') return { kind: 'change', table, op, tables: [table] };

  // Values become text the way PostgreSQL prints them; JSON null is SQL NULL here.
  const data = change.data;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new UsageError(`read input ${line}: the row is not a JSON object`);
  }
  // NOTE: fromEntries defines own properties, so a column named __proto__ stays a column.
  const row: Row = Object.fromEntries(
    Object.entries(data).map(([column, value]) => [
      column,
      value === null ? null : typeof value === 'string' ? value : JSON.stringify(value),
    ]),
  );
  return op === 'DELETE'
    ? { kind: 'change', table, op, old: row }
    : { kind: 'change', table, op, new: row };
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
