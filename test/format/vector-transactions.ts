import type { Transaction } from '../../src/change/change.js';

/** The transactions of the worked example in docs/FORMAT.md. */
export const EXAMPLE_TRANSACTIONS: Transaction[] = [
  {
    xid: '741',
    commitTime: '2026-12-03T16:59:59.123456+00:00',
    position: '0/16B3748',
    records: [
      {
        kind: 'change',
        table: { schema: 'public', name: 'nis2_audit_log' },
        op: 'INSERT',
        new: { id: '1', actor: 'ana', details: 'null', note: null },
      },
    ],
  },
];

/** A schema record, an UPDATE with an unchanged column and a TRUNCATE, in a continued transaction. */
export const SCHEMA_TRANSACTIONS: Transaction[] = [
  {
    xid: '900',
    commitTime: '2026-12-03T16:59:58.000001+00:00',
    position: '0/16B3000',
    records: [
      {
        kind: 'schema',
        table: { schema: 'app', name: 'Orders' },
        columns: [
          { name: 'id', type: 'bigint', notNull: true },
          { name: 'total', type: 'numeric(40,2)', notNull: false },
          { name: 'mood', type: 'app.mood', notNull: false },
        ],
        primaryKey: ['id'],
        types: [{ schema: 'app', name: 'mood', kind: 'enum', definition: "ENUM ('ok', 'sad')" }],
      },
      {
        kind: 'change',
        table: { schema: 'app', name: 'Orders' },
        op: 'UPDATE',
        new: { id: '9007199254740993', mood: 'sad' },
        old: { id: '9007199254740993' },
        unchanged: ['total'],
      },
      {
        kind: 'change',
        table: { schema: 'app', name: 'Orders' },
        op: 'TRUNCATE',
        tables: [{ schema: 'app', name: 'Orders' }],
      },
    ],
    continues: true,
  },
];
