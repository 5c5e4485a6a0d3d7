import { parseTableName, qualifiedName, type TableName } from '../change/change.js';
import { EncryptedEnvelope, HybridDecryptor } from '../envelope/index.js';
import { AuthenticationError, UsageError } from '../errors.js';
import type { ObjectStore } from '../store/store.js';
import { connect } from './compare-databases.js';
import type { RestoreOptions } from './restore.js';
import type { RestorePoint } from './restore-point.js';
import { epochMicros } from './restore-point.js';
import type { RestoreReport } from './restore-report.js';
import { V1Applier } from './v1-applier.js';

/** What v1 cannot guarantee; printed with every v1 restore and kept in its report. */
export const V1_LIMITATIONS = [
  'v1 store: no completeness proof (envelopes are not chained or counted: a dropped envelope is not detected)',
  'v1 store: envelopes with equal timestamps have no defined order (applied by name)',
  'v1 store: no transaction boundaries (a transaction may be restored in part)',
  'v1 store: the storage can drop, replay or reorder envelopes undetected (they are encrypted, not signed)',
];

const ENVELOPE_PREFIX = 'envelopes/';
/** Envelopes applied per database transaction. */
const V1_GROUP = 1_000;

interface EnvelopeRef {
  name: string;
  timestamp: string;
  micros: bigint;
}

/**
 * Restore a v1 store (the seed's `envelopes/*.json`) into existing tables: envelopes are read
 * once to sort them by timestamp (then name), then decrypted and applied in that order as
 * upserts and deletes on the primary keys the target catalog reports. Memory holds only names
 * and timestamps.
 *
 * @example
 * ```ts
 * const report = await restoreV1({ store, identities, to: url });
 * ```
 */
export async function restoreV1(
  options: RestoreOptions & { until?: RestorePoint },
): Promise<RestoreReport> {
  if (options.until?.kind === 'position') {
    throw new UsageError(
      `invalid --until "${options.until.text}" for a v1 store: v1 has no positions`,
      {
        hint: 'give a time, e.g. --until 2026-12-03T17:00:00Z',
      },
    );
  }
  const started = new Date();
  const report = v1Report(options, started);

  // First pass: names and timestamps only, to order the envelopes.
  const refs = await listEnvelopes(options.store);
  refs.sort((a, b) =>
    a.micros < b.micros ? -1 : a.micros > b.micros ? 1 : a.name < b.name ? -1 : 1,
  );
  const limit = options.until?.kind === 'time' ? options.until.micros : undefined;
  const selected = limit === undefined ? refs : refs.filter((ref) => ref.micros <= limit);
  const tables = options.tables ? new Set(options.tables.map(qualifiedName)) : undefined;

  // Second pass: decrypt and apply in order.
  const decryptors = options.identities.map((identity) => ({
    keyId: identity.keyId,
    decryptor: new HybridDecryptor(identity),
  }));
  const client =
    options.dryRun || options.toJsonl ? undefined : await connect(options.to!, 'target');
  const applier = new V1Applier({
    client,
    jsonlDir: options.toJsonl,
    allowNonempty: options.allowNonempty ?? false,
    warn: (message) => report.warnings.push(message),
  });
  report.target = applier.description(options.to);
  try {
    let inGroup = 0;
    for (const ref of selected) {
      const envelope = await readEnvelope(options.store, ref.name);
      const table = tableOf(envelope.table);
      if (tables !== undefined && !tables.has(qualifiedName(table))) continue;
      const data = decrypt(decryptors, envelope, ref.name);
      await applier.apply({ name: ref.name, timestamp: ref.timestamp, table, envelope, data });
      if (++inGroup >= V1_GROUP) {
        await applier.commit();
        inGroup = 0;
      }
    }
    await applier.commit();
  } catch (error) {
    await applier.rollback();
    throw error;
  } finally {
    await applier.close();
  }

  // The report: counts per table, and what v1 cannot prove.
  report.tables = [...applier.counts].map(([table, counts]) => ({ table, ...counts }));
  const last = selected.at(-1);
  const newest = refs.at(-1);
  if (newest !== undefined) {
    report.lastChangeInStoreAt = newest.timestamp;
    const newestMs = Number(newest.micros / 1000n);
    report.rpoSeconds = Math.max(0, (started.getTime() - newestMs) / 1000);
  }
  report.warnings.push(
    `applied ${selected.length} of ${refs.length} envelopes (last ${last?.name ?? 'none'})`,
  );
  const finished = new Date();
  report.finishedAt = finished.toISOString();
  report.rtoSeconds = (finished.getTime() - started.getTime()) / 1000;
  report.complete = true;
  return report;
}

async function listEnvelopes(store: ObjectStore): Promise<EnvelopeRef[]> {
  const refs: EnvelopeRef[] = [];
  for await (const name of store.list(ENVELOPE_PREFIX)) {
    if (!name.endsWith('.json')) continue;
    const envelope = await readEnvelope(store, name);
    const micros = epochMicros(String(envelope.timestamp));
    if (micros === undefined) {
      throw new UsageError(
        `read envelope ${name}: timestamp "${envelope.timestamp}" is not ISO 8601`,
      );
    }
    refs.push({ name, timestamp: String(envelope.timestamp), micros });
  }
  return refs;
}

async function readEnvelope(store: ObjectStore, name: string): Promise<EncryptedEnvelope> {
  const bytes = await store.get(name);
  if (bytes === undefined) {
    throw new UsageError(`read envelope ${name}: listed but gone`, {
      hint: 'run the command again',
    });
  }
  return EncryptedEnvelope.fromJson(Buffer.from(bytes).toString('utf8'));
}

function tableOf(text: string): TableName {
  try {
    return parseTableName(text);
  } catch {
    throw new UsageError(`read envelope table "${text}": not a table name`);
  }
}

function decrypt(
  decryptors: Array<{ keyId: string; decryptor: HybridDecryptor }>,
  envelope: EncryptedEnvelope,
  name: string,
): unknown {
  // The identity whose key id the envelope names goes first; the others are tried after it.
  const ordered = [
    ...decryptors.filter((d) => d.keyId === envelope.key_id),
    ...decryptors.filter((d) => d.keyId !== envelope.key_id),
  ];
  for (const { decryptor } of ordered) {
    try {
      return decryptor.decrypt(envelope);
    } catch {
      // Try the next identity.
    }
  }
  throw new AuthenticationError(
    `decrypt envelope ${name}: failed authentication: wrong key, corrupted or tampered with`,
    { hint: 'pass --identity with the private key the envelopes were encrypted for' },
  );
}

function v1Report(options: RestoreOptions, started: Date): RestoreReport {
  return {
    report: 'crypto-replicator restore',
    reportVersion: 1,
    format: 'v1',
    startedAt: started.toISOString(),
    finishedAt: '',
    rtoSeconds: 0,
    store: options.store.url,
    target: '',
    dryRun: options.dryRun ?? false,
    until: typeof options.until === 'string' ? options.until : options.until?.text,
    tablesSelected: options.tables?.map(qualifiedName),
    keys: {
      identityKeyIds: options.identities.map((identity) => identity.keyId),
      authenticityProven: false,
    },
    streams: [],
    tables: [],
    complete: false,
    interrupted: false,
    leftOut: [],
    warnings: [...V1_LIMITATIONS],
  };
}
