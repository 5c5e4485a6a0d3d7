import { qualifiedName, type TableName } from '../change/change.js';
import type { CaptureMode } from './capture-source.js';
import { quoteLiteral } from './catalog.js';
import { chunkFunctionSql } from './outbox/outbox-chunks.js';

/** Our own schema: outbox table, drain positions, state, trigger functions. */
export const CAPTURE_SCHEMA = 'crypto_replicator';
/** The channel the outbox triggers NOTIFY (a wake-up only; the outbox row is the change). */
export const OUTBOX_WAKE_CHANNEL = 'crypto_replicator_outbox';
/** Trigger names, the same on every table. */
export const ROW_TRIGGER = 'crypto_replicator_capture';
export const TRUNCATE_TRIGGER = 'crypto_replicator_truncate';
export const WAKE_TRIGGER = 'crypto_replicator_wake';
export const INSERT_TRIGGER = 'crypto_replicator_insert';
export const DELETE_TRIGGER = 'crypto_replicator_delete';
/**
 * The advisory lock (two-key form) an idle outbox drainer holds while it waits for a wake-up:
 * 'cryp', 'wake' as int4. Writers send the wake-up NOTIFY only while it is held.
 */
export const WAKE_LOCK_KEYS = [1668446576, 2002873189] as const;
/** pg_notify refuses payloads of this many bytes or more (BLCKSZ - NAMEDATALEN - 128). */
export const NOTIFY_PAYLOAD_MAX_BYTES = 8000;

export interface CaptureSqlOptions {
  mode: CaptureMode;
  /** Tables to add (install) or remove (uninstall); empty with `everything` on uninstall. */
  tables: TableName[];
  channel: string;
  publicationName: string;
  /** Schema that holds the hstore extension (ours when install creates it). */
  hstoreSchema?: string;
}

const S = CAPTURE_SCHEMA;

/**
 * The wake-up a trigger sends: a NOTIFY only when a drainer waits for one (it holds the wake
 * lock). Otherwise the writer takes the lock shared until its commit, so a drainer about to
 * wait first waits for this commit and then sees the change (outbox-wake.ts).
 */
// NOTE: NOTIFY takes a database-wide lock from commit until the commit is flushed, so every
// notifying writer's commit waits for the one before: under load this, not the outbox row,
// was the outbox's largest write cost. A busy or absent drainer needs no wake-up.
const WAKE_SQL = `IF NOT pg_try_advisory_xact_lock_shared(${WAKE_LOCK_KEYS.join(', ')}) THEN
    PERFORM pg_notify('${OUTBOX_WAKE_CHANNEL}', '');
  END IF;`;

/** Schema, outbox, drain position sequence and state table shared by outbox and notify mode. */
function outboxSql(hstore: string): string[] {
  return [
    `CREATE SCHEMA IF NOT EXISTS ${S}`,
    `DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'hstore') THEN
    CREATE EXTENSION hstore WITH SCHEMA ${S};
  END IF;
END $$`,
    // NOTE: the id sequence must keep CACHE 1 (the default): drain order relies on ids being
    // handed out in real time order across sessions.
    `CREATE TABLE IF NOT EXISTS ${S}.outbox (
  id bigint GENERATED ALWAYS AS IDENTITY (CACHE 1),
  xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
  table_schema text NOT NULL,
  table_name text NOT NULL,
  op "char" NOT NULL,
  new_row ${hstore}.hstore,
  old_row ${hstore}.hstore,
  changed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  position bigint
)`,
    // Chunk rows (one per statement chunk, see outbox-chunks.ts); added to an older outbox,
    // whose single-row entries the drain still reads.
    `ALTER TABLE ${S}.outbox ADD COLUMN IF NOT EXISTS new_rows ${hstore}.hstore[]`,
    `ALTER TABLE ${S}.outbox ADD COLUMN IF NOT EXISTS old_rows ${hstore}.hstore[]`,
    `CREATE INDEX IF NOT EXISTS outbox_position ON ${S}.outbox (position, id)
  WHERE position IS NOT NULL`,
    // The drain's look at waiting rows (outbox-drain.ts): the oldest by id, and whether a
    // transaction has more of them further on. Without these each round read the whole backlog.
    `CREATE INDEX IF NOT EXISTS outbox_waiting ON ${S}.outbox (id) WHERE position IS NULL`,
    `CREATE INDEX IF NOT EXISTS outbox_waiting_xid ON ${S}.outbox (xid, id)
  WHERE position IS NULL`,
    `CREATE SEQUENCE IF NOT EXISTS ${S}.drain_position`,
    `CREATE TABLE IF NOT EXISTS ${S}.state (name text PRIMARY KEY, value text NOT NULL)`,
    // NOTE: INSERT and DELETE are captured per statement from transition tables, as chunk rows
    // holding many changed rows each (one outbox row per changed row cost about as much WAL as
    // the change itself); UPDATE needs old and new paired, so it stays a row trigger. The
    // statement functions send the wake-up themselves (a separate wake trigger per statement
    // cost about a fifth of the outbox's write overhead), and only when a row changed.
    chunkFunctionSql({
      schema: S,
      hstore,
      kind: 'insert',
      transitionTable: 'crypto_replicator_new',
      onChanged: WAKE_SQL,
    }),
    chunkFunctionSql({
      schema: S,
      hstore,
      kind: 'delete',
      transitionTable: 'crypto_replicator_old',
      onChanged: WAKE_SQL,
    }),
    `CREATE OR REPLACE FUNCTION ${S}.capture_row() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO ${S}.outbox (table_schema, table_name, op, new_row, old_row)
  VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, 'U', ${hstore}.hstore(NEW), ${hstore}.hstore(OLD));
  RETURN NULL;
END $fn$`,
    `CREATE OR REPLACE FUNCTION ${S}.capture_truncate() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO ${S}.outbox (table_schema, table_name, op) VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, 'T');
  ${WAKE_SQL}
  RETURN NULL;
END $fn$`,
    `CREATE OR REPLACE FUNCTION ${S}.wake() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  ${WAKE_SQL}
  RETURN NULL;
END $fn$`,
  ];
}

/** The notify-mode row function: small changes by NOTIFY, large ones through the outbox. */
function notifyFunctionSql(hstore: string, channel: string): string[] {
  const ch = quoteLiteral(channel);
  return [
    `CREATE OR REPLACE FUNCTION ${S}.notify_row() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  payload text;
BEGIN
  payload := json_build_object(
    'format', 'text', 'schema', TG_TABLE_SCHEMA, 'table', TG_TABLE_NAME,
    'operation', TG_OP, 'xid', pg_current_xact_id()::text,
    'data', CASE WHEN TG_OP <> 'DELETE' THEN ${hstore}.hstore_to_json(${hstore}.hstore(NEW)) END,
    'old_data', CASE WHEN TG_OP <> 'INSERT' THEN ${hstore}.hstore_to_json(${hstore}.hstore(OLD)) END
  )::text;
  IF octet_length(payload) < ${NOTIFY_PAYLOAD_MAX_BYTES} THEN
    PERFORM pg_notify(${ch}, payload);
  ELSE
    -- Too large for NOTIFY: the durable outbox carries it; the notification is a wake-up.
    INSERT INTO ${S}.outbox (table_schema, table_name, op, new_row, old_row)
    VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, left(TG_OP, 1)::"char",
            CASE WHEN TG_OP <> 'DELETE' THEN ${hstore}.hstore(NEW) END,
            CASE WHEN TG_OP <> 'INSERT' THEN ${hstore}.hstore(OLD) END);
    PERFORM pg_notify(${ch}, '{"format":"outbox"}');
  END IF;
  RETURN NULL;
END $fn$`,
    `CREATE OR REPLACE FUNCTION ${S}.notify_truncate() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM pg_notify(${ch}, json_build_object('format', 'text', 'schema', TG_TABLE_SCHEMA,
    'table', TG_TABLE_NAME, 'operation', 'TRUNCATE', 'xid', pg_current_xact_id()::text)::text);
  RETURN NULL;
END $fn$`,
  ];
}

/** Replace (drop, create) one trigger, so install can run again. */
function trigger(
  table: TableName,
  name: string,
  when: string,
  each: string,
  fn: string,
  referencing = '',
): string[] {
  const on = `${qualifiedName(table)}${referencing === '' ? '' : ` REFERENCING ${referencing}`}`;
  return [
    `DROP TRIGGER IF EXISTS ${name} ON ${qualifiedName(table)}`,
    `CREATE TRIGGER ${name} AFTER ${when} ON ${on} FOR EACH ${each} EXECUTE FUNCTION ${S}.${fn}()`,
  ];
}

/** Logical mode needs a replica identity on tables without a primary key. */
function replicaIdentitySql(table: TableName): string {
  const regclass = quoteLiteral(qualifiedName(table));
  return `DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_index WHERE indrelid = ${regclass}::regclass AND indisprimary) THEN
    ALTER TABLE ${qualifiedName(table)} REPLICA IDENTITY FULL;
  END IF;
END $$`;
}

function publicationMemberSql(table: TableName, publication: string, add: boolean): string {
  const member = `SELECT 1 FROM pg_publication_tables WHERE pubname = ${quoteLiteral(publication)}
      AND schemaname = ${quoteLiteral(table.schema)} AND tablename = ${quoteLiteral(table.name)}`;
  const action = add ? 'ADD' : 'DROP';
  return `DO $$ BEGIN
  IF ${add ? 'NOT ' : ''}EXISTS (${member}) THEN
    ALTER PUBLICATION "${publication}" ${action} TABLE ${qualifiedName(table)};
  END IF;
END $$`;
}

/**
 * The statements `install` runs (in one transaction), in order. Every statement can run again
 * without harm, and every identifier is quoted.
 *
 * @example
 * ```ts
 * installStatements({ mode: 'outbox', tables: [t], channel: 'nis2_changes', publicationName: 'p' });
 * ```
 */
export function installStatements(options: CaptureSqlOptions): string[] {
  const hstore = options.hstoreSchema === undefined ? S : `"${options.hstoreSchema}"`;
  const out: string[] = [];
  if (options.mode === 'logical') {
    out.push(`DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = ${quoteLiteral(options.publicationName)}) THEN
    CREATE PUBLICATION "${options.publicationName}";
  END IF;
END $$`);
    for (const table of options.tables) {
      out.push(replicaIdentitySql(table));
      out.push(publicationMemberSql(table, options.publicationName, true));
    }
    return out;
  }
  out.push(...outboxSql(hstore));
  if (options.mode === 'notify') out.push(...notifyFunctionSql(hstore, options.channel));
  for (const table of options.tables) {
    if (options.mode === 'outbox') {
      out.push(...trigger(table, ROW_TRIGGER, 'UPDATE', 'ROW', 'capture_row'));
      out.push(
        ...trigger(
          table,
          INSERT_TRIGGER,
          'INSERT',
          'STATEMENT',
          'capture_insert',
          'NEW TABLE AS crypto_replicator_new',
        ),
      );
      out.push(
        ...trigger(
          table,
          DELETE_TRIGGER,
          'DELETE',
          'STATEMENT',
          'capture_delete',
          'OLD TABLE AS crypto_replicator_old',
        ),
      );
      out.push(...trigger(table, TRUNCATE_TRIGGER, 'TRUNCATE', 'STATEMENT', 'capture_truncate'));
      // The wake-up for UPDATE (its row trigger would send one per row); the statement
      // functions above send their own. Re-creating it upgrades an older install, whose wake
      // trigger fired on every statement.
      out.push(...trigger(table, WAKE_TRIGGER, 'UPDATE', 'STATEMENT', 'wake'));
    } else {
      // A table moved from outbox mode keeps no outbox trigger: each change would be captured
      // twice (by NOTIFY, and as an outbox chunk row).
      for (const name of [INSERT_TRIGGER, DELETE_TRIGGER, WAKE_TRIGGER]) {
        out.push(`DROP TRIGGER IF EXISTS ${name} ON ${qualifiedName(table)}`);
      }
      out.push(...trigger(table, ROW_TRIGGER, 'INSERT OR UPDATE OR DELETE', 'ROW', 'notify_row'));
      out.push(...trigger(table, TRUNCATE_TRIGGER, 'TRUNCATE', 'STATEMENT', 'notify_truncate'));
    }
  }
  return out;
}

/**
 * The statements `uninstall` runs. With tables, only those tables stop being captured; with
 * none, everything the mode installed is removed (for outbox and notify this drops the outbox
 * and any change still waiting in it; for logical the publication and the slot).
 *
 * @example
 * ```ts
 * uninstallStatements({ mode: 'logical', tables: [], channel: 'c', publicationName: 'p' }, 's');
 * ```
 */
export function uninstallStatements(options: CaptureSqlOptions, slotName: string): string[] {
  if (options.mode === 'logical') {
    if (options.tables.length > 0) {
      return options.tables.map((t) => publicationMemberSql(t, options.publicationName, false));
    }
    return [
      `DROP PUBLICATION IF EXISTS "${options.publicationName}"`,
      `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
  WHERE slot_name = ${quoteLiteral(slotName)} AND database = current_database()`,
    ];
  }
  if (options.tables.length > 0) {
    return options.tables.flatMap((table) =>
      [ROW_TRIGGER, INSERT_TRIGGER, DELETE_TRIGGER, TRUNCATE_TRIGGER, WAKE_TRIGGER].map(
        (name) => `DROP TRIGGER IF EXISTS ${name} ON ${qualifiedName(table)}`,
      ),
    );
  }
  // The triggers depend on our functions, so CASCADE removes them from every table.
  return [`DROP SCHEMA IF EXISTS ${S} CASCADE`];
}

/**
 * Render statements as one script for `--print-sql`.
 *
 * @example
 * ```ts
 * process.stdout.write(renderScript(installStatements(options)));
 * ```
 */
export function renderScript(statements: string[]): string {
  return `BEGIN;\n${statements.map((s) => `${s};`).join('\n')}\nCOMMIT;\n`;
}
