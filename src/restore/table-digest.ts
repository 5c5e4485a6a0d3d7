import type pg from 'pg';
import type { TableName } from '../change/change.js';
import { qualifiedName } from '../change/change.js';

/** Row count and order-independent digest of a table's content. */
export interface TableDigest {
  rows: number;
  /** 16 hex characters: the sum, modulo 2^64, of the first 64 bits of md5(row text) per row. */
  digest: string;
}

/**
 * Session settings that fix how values print, so that the same rows give the same row text
 * (and digest) on two servers whatever their defaults.
 */
export const DIGEST_SESSION_SQL = `
  SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres';
  SET extra_float_digits = 1; SET bytea_output = 'hex'`;

const MODULUS = 1n << 64n;

/**
 * Count a table's rows and digest its content in one scan inside PostgreSQL. Each row's text
 * form (`row::text`, columns in table order) is hashed with md5; the first 64 bits of every
 * hash are summed as numeric and reduced modulo 2^64. A sum does not depend on physical row
 * order, memory stays constant, and unlike XOR a duplicated row changes it.
 * Run {@link DIGEST_SESSION_SQL} on the connection first.
 *
 * @example
 * ```ts
 * await client.query(DIGEST_SESSION_SQL);
 * await tableDigest(client, { schema: 'public', name: 'orders' }); // => { rows: 3, digest: '…' }
 * ```
 */
export async function tableDigest(client: pg.ClientBase, table: TableName): Promise<TableDigest> {
  const result = await client.query<{ rows: string; total: string }>(
    `SELECT count(*)::text AS rows,
            coalesce(sum(('x' || left(md5(cr_row_::text), 16))::bit(64)::bigint::numeric), 0)::text
              AS total
       FROM ${qualifiedName(table)} AS cr_row_`,
  );
  const row = result.rows[0]!;
  const total = BigInt(row.total);
  const reduced = ((total % MODULUS) + MODULUS) % MODULUS;
  return { rows: Number(row.rows), digest: reduced.toString(16).padStart(16, '0') };
}
