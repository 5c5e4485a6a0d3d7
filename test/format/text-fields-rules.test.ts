import { describe, expect, it } from 'vitest';
import { decodeTextFields } from '../../src/segment/text-fields-codec.js';

/** A payload written with `␀` for each NUL, as docs/FORMAT.md 2.5.2 shows it. */
const fields = (text: string) => Buffer.from(text.replaceAll('␀', '\u0000'), 'utf8');

/** The example of docs/FORMAT.md 2.5.2: an INSERT, then an UPDATE of the same row. */
const EXAMPLE =
  '741␀2026-12-03T16:59:59.123456+00:00␀0/16B3748␀0␀1␀' +
  'c␀+␀public␀nis2_audit_log␀INSERT␀+␀4␀id␀actor␀details␀note␀0001␀1␀ana␀null␀-␀-␀-␀0␀' +
  '742␀2026-12-03T17:00:01.000001+00:00␀0/16B3800␀0␀1␀' +
  'c␀0␀UPDATE␀0␀0000␀1␀ana␀{"seen": true}␀checked␀+␀1␀id␀0␀1␀-␀-␀0␀';

/** A schema record with a type, so that a type kind can be damaged. */
const SCHEMA =
  '900␀2026-12-03T16:59:58.000001+00:00␀0/16B3000␀0␀1␀' +
  's␀+␀app␀Orders␀1␀id␀bigint␀1␀1␀id␀1␀app␀mood␀enum␀ENUM (1)␀';

/** The row data of the payloads above, which no error may repeat. */
const ROW_DATA = ['ana', 'seen', 'checked', 'ENUM (1)'];

/** One case per rejection rule of docs/FORMAT.md 2.5.2: [rule, payload, the error it gives]. */
const REJECTED: Array<[string, string, RegExp]> = [
  ['an empty payload', '', /one or more fields, each ending in NUL/],
  ['a payload not ending in NUL', EXAMPLE.slice(0, -1), /each ending in NUL/],
  ['a payload ending inside a transaction', `${EXAMPLE}743␀`, /transaction 3: .*ends inside/],
  ['a flag spelled otherwise', EXAMPLE.replace('0/16B3748␀0␀', '0/16B3748␀false␀'), /not a flag/],
  ['a count with a leading zero', EXAMPLE.replace('0/16B3748␀0␀1␀', '0/16B3748␀0␀01␀'), /count/],
  ['a count of nine digits', EXAMPLE.replace('+␀4␀', '+␀100000000␀'), /not a decimal count/],
  ['an index spelled with a sign', EXAMPLE.replace('c␀0␀UPDATE', 'c␀+0␀UPDATE'), /table index/],
  ['an op spelled otherwise', EXAMPLE.replace('INSERT', 'insert'), /record 1: unknown op/],
  ['a type kind spelled otherwise', SCHEMA.replace('enum', 'ENUM'), /unknown type kind/],
  ['a record kind other than c or s', EXAMPLE.replace('c␀0␀UPDATE', 'x␀0␀UPDATE'), /neither/],
  ['a table index naming no table', EXAMPLE.replace('c␀0␀UPDATE', 'c␀1␀UPDATE'), /no table/],
  ['a list index naming no list', EXAMPLE.replace('UPDATE␀0␀', 'UPDATE␀1␀'), /no list/],
  [
    'a table defined twice',
    EXAMPLE.replace('c␀0␀UPDATE', 'c␀+␀public␀nis2_audit_log␀UPDATE'),
    /table is defined twice/,
  ],
  [
    'a column list defined twice',
    EXAMPLE.replace('UPDATE␀0␀', 'UPDATE␀+␀4␀id␀actor␀details␀note␀'),
    /column list is defined twice/,
  ],
  [
    'a column list naming a column twice',
    EXAMPLE.replace('details␀note␀', 'details␀id␀'),
    /repeats a name/,
  ],
  [
    'a column list out of row order',
    EXAMPLE.replace('+␀1␀id␀0␀1␀', '+␀2␀id␀7␀00␀1␀1␀'),
    /not in the order a row keeps/,
  ],
  ['a null mask of the wrong length', EXAMPLE.replace('␀0001␀', '␀001␀'), /wrong length/],
  ['a null mask with another character', EXAMPLE.replace('␀0001␀', '␀0002␀'), /malformed/],
  ['`-` for a table', EXAMPLE.replace('c␀0␀UPDATE', 'c␀-␀UPDATE'), /table index/],
  ['`-` for a column list definition', EXAMPLE.replace('+␀1␀id␀', '+␀-␀'), /definition is absent/],
  ['`-` for a record count', EXAMPLE.replace('0/16B3748␀0␀1␀', '0/16B3748␀0␀-␀'), /record count/],
];

describe('text-fields rejection rules (docs/FORMAT.md 2.5.2)', () => {
  it('accepts the undamaged payloads', () => {
    expect(decodeTextFields(fields(EXAMPLE))).toHaveLength(2);
    expect(decodeTextFields(fields(SCHEMA))).toHaveLength(1);
  });

  it.each(REJECTED)('rejects %s without repeating row data', (_rule, text, message) => {
    expect(text === EXAMPLE || text === SCHEMA, 'the damage changed nothing').toBe(false);
    let error: unknown;
    try {
      decodeTextFields(fields(text));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(TypeError);
    const said = (error as Error).message;
    expect(said).toMatch(message);
    for (const data of ROW_DATA) expect(said).not.toContain(data);
  });

  it('rejects a payload that is not UTF-8', () => {
    const bytes = fields(EXAMPLE);
    bytes[bytes.indexOf('ana')] = 0xff;
    expect(() => decodeTextFields(bytes)).toThrow(/not valid UTF-8/);
  });
});
