/**
 * Deterministic (seeded) test records, their JSONL interchange format with the Python/kcat
 * helpers, and the per-partition comparison of what was produced against what was consumed.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import assert from 'node:assert/strict';

export interface TestRecord {
  partition: number;
  /** null = null key; an empty Buffer is an empty (non-null) key. */
  key: Buffer | null;
  /** null = null value (tombstone); makeDataset makes some only with `nullValues`. */
  value: Buffer | null;
  /** Header names are ASCII; values are bytes from a printable alphabet (see HEADER_ALPHABET). */
  headers: Array<[string, Buffer]>;
  /** Create timestamp (ms) when a test sets one explicitly. */
  timestamp?: number;
}

export interface ConsumedRecord extends TestRecord {
  offset: number;
}

/** mulberry32: small, fast, good enough for test data. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(maxExclusive: number): number {
    return Math.floor(this.next() * maxExclusive);
  }
  range(min: number, maxInclusive: number): number {
    return min + this.int(maxInclusive - min + 1);
  }
}

/**
 * Header values use this alphabet so that every client, including kcat's `%h` (n=v CSV) output,
 * can carry them unambiguously: no ',', '=', newline or control bytes.
 */
export const HEADER_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 _-.:/+@#$%&*()[]{}<>?!~;|^';
const WORDS = ['fjord', 'kafka', 'broker', 'record', 'batch', 'offset', 'partition', 'leader', 'segment', 'index', '\u00e6\u00f8\u00e5', '\u2603', 'zstd', 'lz4'];

/** Bytes that kcat uses as delimiters in our kcat runs: kcat-produced data must avoid them. */
export const KCAT_MSG_DELIM = 0x1e;
export const KCAT_KEY_DELIM = 0x1f;

export interface DatasetOptions {
  seed: number;
  count: number;
  partitions: number;
  /** Index -> size of the few big values (default: three values of ~1 MB, ~0.99 MiB, 300 kB). */
  bigValues?: Record<number, number>;
  /** Avoid kcat's delimiter bytes in keys and values, and empty values with null keys. */
  kcatSafe?: boolean;
  /** Generate headers (default true). kcat can only attach the same headers to every record. */
  headers?: boolean;
  /** Fraction (0..1) of keyed records with a null value (tombstones). Default 0. */
  nullValues?: number;
}

export function defaultBigValues(count: number): Record<number, number> {
  // "Up to 1 MiB": Kafka's default max.message.bytes is 1048588 for a whole batch, so the largest
  // value stays a little under 1 MiB to leave room for the batch and record overhead.
  const big: Record<number, number> = {};
  if (count > 100) {
    big[Math.floor(count * 0.17)] = 1_000_000;
    big[Math.floor(count * 0.52)] = 1_040_000;
    big[Math.floor(count * 0.83)] = 300_000;
  }
  return big;
}

function randomBytes(rng: Rng, len: number, kcatSafe: boolean): Buffer {
  const b = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) {
    let x = rng.int(256);
    if (kcatSafe && (x === KCAT_MSG_DELIM || x === KCAT_KEY_DELIM)) x = 0x41;
    b[i] = x;
  }
  return b;
}

function textBytes(rng: Rng, approxLen: number): Buffer {
  const parts: string[] = [];
  let len = 0;
  while (len < approxLen) {
    const w = WORDS[rng.int(WORDS.length)] + (rng.int(4) === 0 ? String(rng.int(100000)) : '');
    parts.push(w);
    len += Buffer.byteLength(w) + 1;
  }
  return Buffer.from(parts.join(' '), 'utf8');
}

function bigValue(rng: Rng, size: number, kcatSafe: boolean): Buffer {
  // Half compressible text, half random bytes, so codecs actually do something.
  const b = Buffer.alloc(size);
  const text = textBytes(rng, Math.min(size, 4096));
  let i = 0;
  for (; i < size / 2; i++) b[i] = text[i % text.length];
  const rnd = randomBytes(rng, size - i, kcatSafe);
  rnd.copy(b, i);
  return b;
}

export function makeDataset(opts: DatasetOptions): TestRecord[] {
  const rng = new Rng(opts.seed);
  const kcatSafe = opts.kcatSafe ?? false;
  const withHeaders = opts.headers ?? true;
  const big = opts.bigValues ?? defaultBigValues(opts.count);
  const out: TestRecord[] = [];
  for (let i = 0; i < opts.count; i++) {
    const partition = rng.int(opts.partitions);
    // Keys: null, empty, short binary, printable.
    let key: Buffer | null;
    const kr = rng.int(10);
    if (kr < 2) key = null;
    else if (kr === 2) key = Buffer.alloc(0);
    else if (kr < 6) key = randomBytes(rng, rng.range(1, 24), kcatSafe);
    else key = Buffer.from(`key-${i}-${rng.int(1000)}`, 'utf8');
    // Values: empty, binary, text; a few big ones.
    let value: Buffer;
    if (big[i] !== undefined) {
      value = bigValue(rng, big[i], kcatSafe);
    } else {
      const vr = rng.int(10);
      if (vr === 0) value = Buffer.alloc(0);
      else if (vr < 5) value = randomBytes(rng, rng.range(1, 300), kcatSafe);
      else value = textBytes(rng, rng.range(1, 400));
    }
    // kcat skips empty input records: a record with neither key nor value can not be produced.
    if (kcatSafe && key === null && value.length === 0) value = Buffer.from('v');
    // Tombstones carry a key (kafka-python refuses records with neither key nor value).
    const tombstone = opts.nullValues !== undefined && rng.next() < opts.nullValues && big[i] === undefined && key !== null;
    const headers: Array<[string, Buffer]> = [];
    if (withHeaders) {
      const hn = rng.int(4); // 0..3 headers
      for (let h = 0; h < hn; h++) {
        const len = rng.int(3) === 0 ? 0 : rng.range(1, 40);
        let s = '';
        for (let c = 0; c < len; c++) s += HEADER_ALPHABET[rng.int(HEADER_ALPHABET.length)];
        headers.push([`h${h}-${['trace', 'src', 'type', 'x'][rng.int(4)]}`, Buffer.from(s, 'latin1')]);
      }
    }
    out.push({ partition, key, value: tombstone ? null : value, headers });
  }
  return out;
}

export function totalBytes(records: TestRecord[]): number {
  let n = 0;
  for (const r of records) n += (r.key?.length ?? 0) + (r.value?.length ?? 0);
  return n;
}

// ---------------------------------------------------------------------------------------------
// JSONL interchange: {"p":0,"o":12,"k":"<b64>"|null,"v":"<b64>"|null,"h":[["name","<b64>"]],"t":ms}

interface JsonRecord {
  p: number;
  o?: number;
  k: string | null;
  v: string | null;
  h: Array<[string, string]>;
  t?: number;
}

export function toJsonl(records: TestRecord[]): string {
  const lines: string[] = [];
  for (const r of records) {
    const j: JsonRecord = {
      p: r.partition,
      k: r.key === null ? null : r.key.toString('base64'),
      v: r.value === null ? null : r.value.toString('base64'),
      h: r.headers.map(([n, v]) => [n, v.toString('base64')]),
    };
    if (r.timestamp !== undefined) j.t = r.timestamp;
    lines.push(JSON.stringify(j));
  }
  return lines.join('\n') + '\n';
}

export function writeJsonl(path: string, records: TestRecord[]): void {
  writeFileSync(path, toJsonl(records));
}

export function parseJsonl(text: string): ConsumedRecord[] {
  const out: ConsumedRecord[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const j = JSON.parse(line) as JsonRecord;
    out.push({
      partition: j.p,
      offset: j.o ?? -1,
      key: j.k === null ? null : Buffer.from(j.k, 'base64'),
      value: j.v === null ? null : Buffer.from(j.v, 'base64'),
      headers: (j.h ?? []).map(([n, v]) => [n, Buffer.from(v, 'base64')] as [string, Buffer]),
      timestamp: j.t,
    });
  }
  return out;
}

export function readJsonl(path: string): ConsumedRecord[] {
  return parseJsonl(readFileSync(path, 'utf8'));
}

// ---------------------------------------------------------------------------------------------
// Comparison

function show(b: Buffer | null): string {
  if (b === null) return 'null';
  if (b.length > 48) return `<${b.length} bytes ${b.subarray(0, 24).toString('hex')}…>`;
  return `<${b.length} bytes ${b.toString('hex')}>`;
}

function sameBytes(a: Buffer | null, b: Buffer | null): boolean {
  if (a === null || b === null) return a === b;
  return a.equals(b);
}

function headersEqual(a: Array<[string, Buffer]>, b: Array<[string, Buffer]>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i][0] !== b[i][0] || !a[i][1].equals(b[i][1])) return false;
  }
  return true;
}

function showHeaders(h: Array<[string, Buffer]>): string {
  return '[' + h.map(([n, v]) => `${n}=${JSON.stringify(v.toString('latin1'))}`).join(', ') + ']';
}

export interface CompareOptions {
  /** Compare header order too (default true). Some clients hand headers over as a map. */
  headerOrder?: boolean;
  /** Skip header comparison (e.g. when the consuming client cannot return headers). */
  ignoreHeaders?: boolean;
  /** Treat an empty key/value as equal to null (clients that cannot tell them apart). */
  emptyEqualsNull?: boolean;
  /** Label for messages. */
  label?: string;
}

/**
 * Asserts that `consumed` holds exactly `expected`, partition by partition, in order, and
 * byte-identical (keys, values, headers). Offsets must be strictly increasing per partition.
 */
export function assertSameRecords(expected: TestRecord[], consumed: ConsumedRecord[], opts: CompareOptions = {}): void {
  const label = opts.label ? `${opts.label}: ` : '';
  const exp = new Map<number, TestRecord[]>();
  const got = new Map<number, ConsumedRecord[]>();
  for (const r of expected) {
    if (!exp.has(r.partition)) exp.set(r.partition, []);
    exp.get(r.partition)!.push(r);
  }
  for (const r of consumed) {
    if (!got.has(r.partition)) got.set(r.partition, []);
    got.get(r.partition)!.push(r);
  }
  const partitions = [...new Set([...exp.keys(), ...got.keys()])].sort((a, b) => a - b);
  const problems: string[] = [];
  const norm = (b: Buffer | null): Buffer | null => (opts.emptyEqualsNull && b !== null && b.length === 0 ? null : b);
  for (const p of partitions) {
    const e = exp.get(p) ?? [];
    const g = got.get(p) ?? [];
    if (e.length !== g.length) {
      problems.push(`partition ${p}: expected ${e.length} records, consumed ${g.length}`);
    }
    let lastOffset = -1;
    let mismatches = 0;
    for (let i = 0; i < Math.min(e.length, g.length); i++) {
      const a = e[i];
      const b = g[i];
      const where = `partition ${p} record #${i} (offset ${b.offset})`;
      if (b.offset >= 0) {
        if (b.offset <= lastOffset) problems.push(`${where}: offset not increasing (previous ${lastOffset})`);
        lastOffset = b.offset;
      }
      const diffs: string[] = [];
      if (!sameBytes(norm(a.key), norm(b.key))) diffs.push(`key expected ${show(a.key)} got ${show(b.key)}`);
      if (!sameBytes(norm(a.value), norm(b.value))) diffs.push(`value expected ${show(a.value)} got ${show(b.value)}`);
      if (!opts.ignoreHeaders) {
        const ha = opts.headerOrder === false ? [...a.headers].sort((x, y) => x[0].localeCompare(y[0])) : a.headers;
        const hb = opts.headerOrder === false ? [...b.headers].sort((x, y) => x[0].localeCompare(y[0])) : b.headers;
        if (!headersEqual(ha, hb)) diffs.push(`headers expected ${showHeaders(a.headers)} got ${showHeaders(b.headers)}`);
      }
      if (diffs.length > 0) {
        mismatches++;
        if (mismatches <= 5) problems.push(`${where}: ${diffs.join('; ')}`);
      }
    }
    if (mismatches > 5) problems.push(`partition ${p}: ${mismatches} mismatching records in total`);
    if (problems.length > 30) break;
  }
  if (problems.length > 0) {
    assert.fail(
      `${label}consumed records differ from produced ones (${expected.length} produced, ${consumed.length} consumed):\n  ` +
        problems.slice(0, 30).join('\n  '),
    );
  }
}

/** Splits records into chunks for clients that put one send() into one batch per partition. */
export function chunkForSend(records: TestRecord[], maxChunkBytes = 256 * 1024, maxChunkRecords = 1000): TestRecord[][] {
  const chunks: TestRecord[][] = [];
  let cur: TestRecord[] = [];
  let curBytes = 0;
  for (const r of records) {
    const size = (r.key?.length ?? 0) + (r.value?.length ?? 0) + 64;
    if (size > maxChunkBytes) {
      // Big records travel alone so that no batch exceeds the broker's max.message.bytes.
      if (cur.length) chunks.push(cur);
      chunks.push([r]);
      cur = [];
      curBytes = 0;
      continue;
    }
    if (cur.length >= maxChunkRecords || curBytes + size > maxChunkBytes) {
      chunks.push(cur);
      cur = [];
      curBytes = 0;
    }
    cur.push(r);
    curBytes += size;
  }
  if (cur.length) chunks.push(cur);
  return chunks;
}
