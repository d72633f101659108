// parquet_check: reads Parquet files with two independent readers (DuckDB and hyparquet) and
// compares every row with the expected values, by the Hive schema the files were written with.
//
//   node parquet_check.mjs --schema "<columns>" --expect <expected.jsonl> [--types] file...
//
// The first column must be a bigint key unique per row: rows are matched by it. Expected values
// are canonical JSON: bigint/int as numbers or strings, decimal as exact strings ("-1.50"),
// timestamp as microseconds since the epoch (a string), date as "yyyy-MM-dd", float/double as
// numbers, binary as (ASCII) strings, map as an object, null or a missing key as null.
// Prints {"rows":N,"files":K,"duckdbTypes":[...]} and exits 0 when both readers return exactly the
// expected rows; prints the first difference and exits 1 otherwise.
import { DuckDBInstance } from '@duckdb/node-api';
import { parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
let schemaText = '', expectPath = '', files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--schema') schemaText = args[++i];
  else if (args[i] === '--expect') expectPath = args[++i];
  else files.push(args[i]);
}

// Hive types: {kind, children, names, precision, scale}.
function parseColumns(text) {
  let i = 0;
  const space = () => { while (i < text.length && /\s/.test(text[i])) i++; };
  const word = () => { space(); const m = /^[A-Za-z0-9_]+/.exec(text.slice(i)); if (!m) throw new Error(`name expected at ${i}`); i += m[0].length; return m[0].toLowerCase(); };
  const expect = (c) => { space(); if (text[i] !== c) throw new Error(`'${c}' expected at ${i}`); i++; };
  const accept = (c) => { space(); if (text[i] === c) { i++; return true; } return false; };
  function type() {
    const w = word();
    if (w === 'array') { expect('<'); const e = type(); expect('>'); return { kind: 'array', children: [e] }; }
    if (w === 'map') { expect('<'); const k = type(); expect(','); const v = type(); expect('>'); return { kind: 'map', children: [k, v] }; }
    if (w === 'struct') {
      expect('<'); const names = [], children = [];
      do { names.push(word()); expect(':'); children.push(type()); } while (accept(','));
      expect('>'); return { kind: 'struct', names, children };
    }
    if (w === 'decimal') {
      let precision = 10, scale = 0;
      if (accept('(')) { precision = Number(word()); if (accept(',')) scale = Number(word()); expect(')'); }
      return { kind: 'decimal', precision, scale };
    }
    return { kind: w };
  }
  const names = [], children = [];
  do { names.push(word()); children.push(type()); } while (accept(','));
  return { kind: 'struct', names, children };
}

const isNull = (v) => v === null || v === undefined;

// Timestamps: microseconds (BigInt) from DuckDB's "yyyy-MM-dd HH:mm:ss[.ffffff]+00" text.
function duckMicros(s) {
  const m = /^(-?\d+)-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:\+00)?$/.exec(s);
  if (!m) throw new Error(`timestamp text ${s}`);
  const d = new Date(0);
  d.setUTCFullYear(Number(m[1]), Number(m[2]) - 1, Number(m[3]));  // years below 100 too
  d.setUTCHours(Number(m[4]), Number(m[5]), Number(m[6]), 0);
  return BigInt(d.getTime()) * 1000n + BigInt((m[7] || '').padEnd(6, '0').slice(0, 6));
}

// Compares one value; returns null when equal, else a description.
function diff(t, exp, got, reader, path) {
  if (isNull(exp) || isNull(got)) {
    if (isNull(exp) && isNull(got)) return null;
    return `${path}: expected ${JSON.stringify(exp)}, ${reader} returned ${show(got)}`;
  }
  const bad = () => `${path}: expected ${JSON.stringify(exp)}, ${reader} returned ${show(got)}`;
  switch (t.kind) {
    case 'string': case 'varchar': case 'char':
      return String(exp) === String(got) ? null : bad();
    case 'binary': {
      const g = got instanceof Uint8Array ? Buffer.from(got).toString('latin1') : String(got);
      return String(exp) === g ? null : bad();
    }
    case 'boolean': return exp === got ? null : bad();
    case 'tinyint': case 'smallint': case 'int': case 'integer': case 'bigint':
      return BigInt(exp) === BigInt(got) ? null : bad();
    case 'float': return Math.fround(Number(exp)) === Math.fround(Number(got)) ? null : bad();
    case 'double': return Number(exp) === Number(got) ? null : bad();
    case 'decimal': {
      if (reader === 'duckdb') return canonDecimal(String(exp), t.scale) === canonDecimal(String(got), t.scale) ? null : bad();
      const e = Number(exp), g = Number(got);  // hyparquet returns decimals as doubles
      return Math.abs(e - g) <= 1e-9 * Math.max(1, Math.abs(e)) ? null : bad();
    }
    case 'date': {
      const g = got instanceof Date ? got.toISOString().slice(0, 10) : String(got);
      return String(exp) === g ? null : bad();
    }
    case 'timestamp': {
      const e = BigInt(exp);
      if (reader === 'duckdb') return e === duckMicros(String(got)) ? null : bad();
      const g = BigInt(got.getTime());  // hyparquet: a Date, to the millisecond
      const d = e / 1000n - g;
      return d >= -1n && d <= 1n ? null : bad();
    }
    case 'array': {
      if (!Array.isArray(got) || got.length !== exp.length) return bad();
      for (let k = 0; k < exp.length; k++) {
        const r = diff(t.children[0], exp[k], got[k], reader, `${path}[${k}]`);
        if (r) return r;
      }
      return null;
    }
    case 'map': {
      const g = new Map();
      if (Array.isArray(got)) for (const { key, value } of got) g.set(String(key), value);
      else for (const [key, value] of Object.entries(got)) g.set(String(key), value);
      const ek = Object.keys(exp);
      if (ek.length !== g.size) return bad();
      for (const key of ek) {
        const canonKey = t.children[0].kind === 'string' ? key : String(BigInt(key));
        if (!g.has(canonKey)) return `${path}: key ${key} missing from ${reader}'s ${show(got)}`;
        const r = diff(t.children[1], exp[key], g.get(canonKey), reader, `${path}{${key}}`);
        if (r) return r;
      }
      return null;
    }
    case 'struct': {
      for (let k = 0; k < t.names.length; k++) {
        const r = diff(t.children[k], exp[t.names[k]], got[t.names[k]], reader, `${path}.${t.names[k]}`);
        if (r) return r;
      }
      return null;
    }
  }
  return `${path}: unknown type ${t.kind}`;
}

function canonDecimal(s, scale) {
  let neg = s.startsWith('-'); if (neg || s.startsWith('+')) s = s.slice(1);
  let [i, f = ''] = s.split('.');
  f = f.padEnd(scale, '0');
  i = i.replace(/^0+(?=\d)/, '');
  const out = scale ? `${i}.${f}` : i;
  return /^0(\.0*)?$/.test(out) ? out : (neg ? '-' : '') + out;
}

function show(v) {
  return JSON.stringify(v, (k, x) => typeof x === 'bigint' ? x.toString() : x instanceof Uint8Array ? Array.from(x) : x);
}

const schema = parseColumns(schemaText);
const keyName = schema.names[0];
const expected = new Map();
for (const line of readFileSync(expectPath, 'utf8').split('\n')) {
  if (!line) continue;
  // Keys may exceed 2^53: take the key's digits from the text.
  const row = JSON.parse(line);
  const m = new RegExp(`"${keyName}":\\s*"?(-?\\d+)`).exec(line);
  expected.set(m ? m[1] : String(row[keyName]), row);
}

const failures = [];
function check(reader, rows) {
  const seen = new Set();
  for (const row of rows) {
    const key = String(row[keyName]);
    const exp = expected.get(key);
    if (!exp) { failures.push(`${reader}: row with ${keyName}=${key} was not expected`); return; }
    if (seen.has(key)) { failures.push(`${reader}: row ${key} appears twice`); return; }
    seen.add(key);
    const d = diff(schema, exp, row, reader, `row ${key}`);
    if (d) { failures.push(d); return; }
  }
  if (seen.size !== expected.size) failures.push(`${reader}: ${expected.size - seen.size} expected rows missing (read ${seen.size})`);
}

const db = await DuckDBInstance.create();
const conn = await db.connect();
await conn.run("SET TimeZone = 'UTC'");
let duckRows = [], duckTypes = [];
for (const f of files) {
  const r = await conn.runAndReadAll(`SELECT * FROM read_parquet('${f.replaceAll("'", "''")}')`);
  duckTypes = r.columnTypes().map(String);
  duckRows = duckRows.concat(r.getRowObjectsJson());
}
check('duckdb', duckRows);
let hyRows = [];
for (const f of files) {
  const buf = readFileSync(f);
  const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  hyRows = hyRows.concat(await parquetReadObjects({ file, compressors }));
}
check('hyparquet', hyRows);
if (failures.length) {
  console.log(JSON.stringify({ ok: false, failures: failures.slice(0, 5) }));
  process.exit(1);
}
console.log(JSON.stringify({ ok: true, rows: duckRows.length, files: files.length, duckdbTypes: duckTypes }));
