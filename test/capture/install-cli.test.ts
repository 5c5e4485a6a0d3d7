import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';

describe('install and uninstall commands', () => {
  let server: TestPostgres;
  let url: string;
  const sql = (text: string) => server.query(text, [], 'source');
  const triggers = async () =>
    (
      await sql(
        `SELECT c.relname || ':' || t.tgname AS t FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
          WHERE t.tgname LIKE 'crypto_replicator%' ORDER BY 1`,
      )
    ).map((row) => row.t as string);

  beforeAll(async () => {
    server = await startPostgres();
    url = await server.createDatabase('source');
    await sql('CREATE SCHEMA "Odd Schema"');
    await sql('CREATE TABLE "Odd Schema"."Odd Table" (id int PRIMARY KEY, v text)');
    await sql('CREATE TABLE "MixedCase" (id int PRIMARY KEY)');
    await sql('CREATE TABLE no_key (a int)');
  });

  afterAll(async () => {
    await server?.destroy();
  });

  it('prints quoted, idempotent SQL without connecting to any database', async () => {
    const result = await runCli(
      [
        'install',
        '--mode',
        'outbox',
        '--tables',
        '"Odd Schema"."Odd Table",MixedCase',
        '--print-sql',
      ],
      { env: { DATABASE_URL: 'postgresql://nobody:secret@127.0.0.1:1/none' } },
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('AFTER UPDATE ON "Odd Schema"."Odd Table" FOR EACH ROW');
    expect(result.stdout).toContain(
      'AFTER INSERT ON "Odd Schema"."Odd Table" REFERENCING NEW TABLE AS crypto_replicator_new',
    );
    expect(result.stdout).toContain(
      'DROP TRIGGER IF EXISTS crypto_replicator_capture ON "public"."MixedCase"',
    );
    expect(result.stdout).toContain('CREATE TABLE IF NOT EXISTS crypto_replicator.outbox');
    expect(result.stdout.startsWith('BEGIN;')).toBe(true);

    // The printed script runs as it is, twice.
    await sql(result.stdout);
    await sql(result.stdout);
    expect(await triggers()).toContain('Odd Table:crypto_replicator_capture');
    await sql('DROP SCHEMA crypto_replicator CASCADE');
  });

  it('installs outbox capture twice without harm and removes it with uninstall', async () => {
    const args = ['install', '--mode', 'outbox', '--tables', '"Odd Schema"."Odd Table",no_key'];
    const first = await runCli([...args, '--database-url', url]);
    expect(first.code).toBe(0);
    const second = await runCli(args, { env: { DATABASE_URL: url } });
    expect(second.code).toBe(0);
    expect(second.stderr).toMatch(/warning: table "public"."no_key" has no primary key/);
    const kinds = ['capture', 'delete', 'insert', 'truncate', 'wake'];
    expect(await triggers()).toEqual([
      ...kinds.map((kind) => `Odd Table:crypto_replicator_${kind}`),
      ...kinds.map((kind) => `no_key:crypto_replicator_${kind}`),
    ]);
    await sql('INSERT INTO "Odd Schema"."Odd Table" VALUES (1, \'x\')');
    expect((await sql('SELECT count(*)::int AS n FROM crypto_replicator.outbox'))[0]?.n).toBe(1);

    const partial = await runCli([
      'uninstall',
      '--mode',
      'outbox',
      '--tables',
      'no_key',
      '--database-url',
      url,
    ]);
    expect(partial.code).toBe(0);
    expect(await triggers()).toHaveLength(5);
    const all = await runCli(['uninstall', '--mode', 'outbox', '--database-url', url]);
    expect(all.code).toBe(0);
    expect(await triggers()).toEqual([]);
    expect(await sql("SELECT 1 FROM pg_namespace WHERE nspname = 'crypto_replicator'")).toEqual([]);
  });

  it('logical install adds tables to the publication idempotently and sets a replica identity where no key exists', async () => {
    const args = ['install', '--mode', 'logical', '--all-tables', '--database-url', url];
    const first = await runCli(args);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('created replication slot "crypto_replicator"');
    const second = await runCli(args);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('replication slot "crypto_replicator" exists already');
    const slots = await sql(
      "SELECT plugin FROM pg_replication_slots WHERE slot_name = 'crypto_replicator'",
    );
    expect(slots).toEqual([{ plugin: 'pgoutput' }]);
    const members = await sql(
      "SELECT schemaname || '.' || tablename AS t FROM pg_publication_tables WHERE pubname = 'crypto_replicator' ORDER BY 1",
    );
    expect(members.map((row) => row.t)).toEqual([
      'Odd Schema.Odd Table',
      'public.MixedCase',
      'public.no_key',
    ]);
    const identity = await sql(
      "SELECT relreplident::text AS r FROM pg_class WHERE relname = 'no_key'",
    );
    expect(identity[0]?.r).toBe('f');
    const removed = await runCli(['uninstall', '--mode', 'logical', '--database-url', url]);
    expect(removed.code).toBe(0);
    expect(await sql("SELECT 1 FROM pg_publication WHERE pubname = 'crypto_replicator'")).toEqual(
      [],
    );
    expect(
      await sql("SELECT 1 FROM pg_replication_slots WHERE slot_name = 'crypto_replicator'"),
    ).toEqual([]);
  });

  it('prints the logical slot after the transaction, and the printed script runs twice', async () => {
    const result = await runCli([
      ...['install', '--mode', 'logical', '--tables', 'MixedCase', '--slot', 'printed_slot'],
      '--print-sql',
    ]);
    expect(result.code, result.stderr).toBe(0);
    const [transaction, after] = result.stdout.split('COMMIT;\n');
    expect(transaction).toContain('CREATE PUBLICATION');
    expect(after).toContain("pg_create_logical_replication_slot('printed_slot', 'pgoutput')");
    await sql(result.stdout);
    await sql(result.stdout);
    const slots = await sql(
      "SELECT plugin FROM pg_replication_slots WHERE slot_name = 'printed_slot'",
    );
    expect(slots).toEqual([{ plugin: 'pgoutput' }]);
    await sql("SELECT pg_drop_replication_slot('printed_slot')");
    await sql('DROP PUBLICATION crypto_replicator');
  });

  it('refuses a slot name that another database uses', async () => {
    await server.createDatabase('other');
    await server.query(
      "SELECT pg_create_logical_replication_slot('taken_slot', 'pgoutput')",
      [],
      'other',
    );
    const result = await runCli([
      ...['install', '--mode', 'logical', '--tables', 'MixedCase', '--slot', 'taken_slot'],
      ...['--database-url', url],
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^error: install logical capture: replication slot "taken_slot" exists but is not a pgoutput slot of this database\nhint: /,
    );
    await server.query("SELECT pg_drop_replication_slot('taken_slot')", [], 'other');
    await sql('DROP PUBLICATION IF EXISTS crypto_replicator');
  });

  it('rejects an unknown table with one line and a hint', async () => {
    const result = await runCli([
      'install',
      '--mode',
      'outbox',
      '--tables',
      'missing',
      '--database-url',
      url,
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^error: find table "public"."missing": no such table\nhint: /);
  });

  it('reports an unreachable database in one line with the password redacted', async () => {
    const result = await runCli([
      'install',
      '--mode',
      'logical',
      '--tables',
      'x',
      '--database-url',
      'postgresql://app:s3cret-pw@127.0.0.1:1/db',
    ]);
    expect(result.code).toBe(6);
    expect(result.stderr).toMatch(
      /^error: connect to postgresql:\/\/app:\*\*\*@127\.0\.0\.1:1\/db: /,
    );
    expect(result.stderr).not.toContain('s3cret-pw');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('rejects an unknown mode', async () => {
    const result = await runCli(['install', '--mode', 'wal2json', '--all-tables']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      'error: invalid --mode "wal2json": expected notify, outbox or logical',
    );
  });
});
