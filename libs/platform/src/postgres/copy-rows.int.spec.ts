import { randomUUID } from 'node:crypto';
import { Row } from '../projection/projection';
import { withoutNul } from '../projection/runner';
import { databaseUrl } from '../testing/infra';
import { createDataSource } from './data-source';
import { DataSource } from 'typeorm';
import { CopyColumn, copyRows, copyValue } from './copy-rows';

/**
 * COPY must put the same bytes in a table as the JSON path the projection runner and the
 * rebuild's upserts use (jsonb_populate_recordset over the rows' JSON), or a rebuilt table would
 * differ from a live one. Both write the same awkward rows here; the tables must match.
 */
describe('copyRows writes what jsonb_populate_recordset writes (real Postgres)', () => {
  const schema = `copy_${randomUUID().slice(0, 8)}`;
  let db: DataSource;
  const columns: CopyColumn[] = [
    { name: 'id', kind: 'text' },
    { name: 't', kind: 'text' },
    { name: 'v', kind: 'text' },
    { name: 'i', kind: 'other' },
    { name: 'f', kind: 'other' },
    { name: 'b', kind: 'other' },
    { name: 'ts', kind: 'other' },
    { name: 'j', kind: 'json' },
    { name: 'jj', kind: 'json' },
  ];
  const tableSql = (table: string) =>
    `CREATE TABLE ${table} (id text PRIMARY KEY, t text, v varchar(100), i integer, f double precision,
       b boolean, ts timestamptz, j jsonb, jj json)`;
  const awkward = ['tab\there', 'new\nline', 'cr\rhere', 'back\\slash', '\\N', 'nul\u0000in', '\\u0000', 'é ✓ 😀', ''];
  const rows: Row[] = [
    ...awkward.map((s, k) => ({
      id: `s${k}`,
      t: s,
      v: s,
      j: { [s]: s, nested: [s, { s }] },
      jj: s,
    })),
    ...[0.1, 1e300, -0, 5e-324, 2 ** 53 + 2, NaN, Infinity, -1.5].map((f, k) => ({ id: `f${k}`, f, j: f })),
    { id: 'n1', t: null, i: null, f: null, b: null, ts: null, j: null, jj: null },
    { id: 'n2' },
    { id: 'n3', j: undefined, t: undefined },
    { id: 'b1', b: true, i: 2_147_483_647, ts: '2026-01-01T00:00:00.001Z', j: false, jj: 0 },
    { id: 'b2', b: false, i: -1, ts: '2026-01-01T00:00:00.001+00:00', j: [], jj: {} },
    { id: 'j1', j: { a: { b: ['x', 1, null, true] }, 'k\u0000': 'v\u0000', '\\': '\\\\u0000' } },
  ];

  beforeAll(async () => {
    db = createDataSource({ url: databaseUrl(), schema, migrations: [] });
    await db.initialize();
    await db.query(`CREATE SCHEMA ${schema}`);
    await db.query(tableSql(`${schema}.via_json`));
    await db.query(tableSql(`${schema}.via_copy`));
  });
  afterAll(async () => {
    await db.query(`DROP SCHEMA ${schema} CASCADE`);
    await db.destroy();
  });

  it('gives byte-identical rows', async () => {
    const table = `${schema}.via_json`;
    await db.query(`INSERT INTO ${table} SELECT * FROM jsonb_populate_recordset(NULL::${table}, $1::jsonb)`, [
      withoutNul(JSON.stringify(rows)),
    ]);
    await db.transaction((tx) => copyRows(tx, `${schema}.via_copy`, columns, rows));
    const read = (t: string) => db.query(`SELECT id, t::text AS row FROM ${schema}.${t} t ORDER BY id`);
    const viaJson = await read('via_json');
    expect(viaJson).toHaveLength(rows.length);
    expect(await read('via_copy')).toEqual(viaJson);
  });

  it('fails on a row already in the table, and leaves the transaction usable from a savepoint', async () => {
    const table = `${schema}.via_copy`;
    const after = await db.transaction(async (tx) => {
      await tx.query('SAVEPOINT copy_rows');
      const failed = await copyRows(tx, table, columns, [{ id: 'new' }, rows[0]]).catch(
        (e: { code?: string }) => e.code,
      );
      await tx.query('ROLLBACK TO SAVEPOINT copy_rows');
      const [{ n }] = await tx.query(`SELECT count(*)::int AS n FROM ${table}`);
      return { failed, n };
    });
    expect(after).toEqual({ failed: '23505', n: rows.length });
  });

  it('refuses values the JSON path would render as jsonb prints them', () => {
    expect(() => copyValue({ a: 1 }, 'text')).toThrow(/object/);
    expect(() => copyValue(1, 'text')).toThrow(/number/);
    expect(() => copyValue([1], 'other')).toThrow(/object/);
  });
});
