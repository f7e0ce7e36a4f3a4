import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { BATCH_HEADER_SIZE, BatchOffset, Compression, writeInt64 } from './record-batch.js'
import { compressSync } from './compression.js'
import { ErrorCode, KafkaError } from './errors.js'
import { DecodeError } from './primitives.js'
import {
  type BuildRecord,
  type ValidateOptions,
  ControlType,
  RecordValidationError,
  assignOffsets,
  buildBatch,
  buildBatchSync,
  buildControlBatch,
  computeBatchCrc,
  isBatchCrcValid,
  produceBatch,
  readBatchHeader,
  readControlRecord,
  readRecords,
  splitBatches,
  splitBatchesLenient,
  validateBatch,
} from './records.js'

const CODECS = [Compression.None, Compression.Gzip, Compression.Snappy, Compression.Lz4, Compression.Zstd]
const NOW = 1_700_000_100_000
const OPTS: ValidateOptions = { maxMessageBytes: 1 << 20, timestampType: 'CreateTime', now: NOW }

function code(error: { code: number }): (err: unknown) => boolean {
  return (err) => {
    if (!(err instanceof KafkaError)) return false
    if (err.code !== error.code) assert.fail(`expected error ${error.code}, got ${err.code}: ${err.message}`)
    return true
  }
}

/** Recomputes the CRC after a test tampers with the covered bytes. */
function reCrc(batch: Buffer): Buffer {
  batch.writeUInt32BE(computeBatchCrc(batch), BatchOffset.crc)
  return batch
}

/** The same batch with its records section compressed by `codec` (header fixed up). */
function recompress(batch: Buffer, codec: Compression): Buffer {
  const out = Buffer.concat([batch.subarray(0, BATCH_HEADER_SIZE), compressSync(codec, batch.subarray(BATCH_HEADER_SIZE))])
  out.writeInt32BE(out.length - 12, BatchOffset.batchLength)
  out.writeInt16BE((out.readInt16BE(BatchOffset.attributes) & ~7) | codec, BatchOffset.attributes)
  return reCrc(out)
}

function records(n: number, t0 = NOW - 1000): BuildRecord[] {
  const out: BuildRecord[] = []
  for (let i = 0; i < n; i++) {
    out.push({
      key: i % 3 === 2 ? null : `key-${i}`,
      value: i % 4 === 3 ? null : `value ${i} `.repeat(i + 1),
      headers: i % 2 === 0 ? [{ key: 'h', value: `v${i}` }, { key: 'null', value: null }] : [],
      timestamp: t0 + i * 10,
    })
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// Captured batches

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/batches/', import.meta.url))

function fixture(name: string): Buffer {
  return Buffer.from(fs.readFileSync(FIXTURES + name, 'utf8').trim(), 'hex')
}

interface Expected { key: string | null; value: string | null; headers: [string, string | null][] }

/** What the capture scripts produced: 20 records, keys key-(i%5) except every 7th, JSON values. */
function expectedFor(client: string): Expected[] {
  if (client === 'kcat') {
    return fs.readFileSync(FIXTURES + 'kcat-input.txt', 'utf8').trim().split('\n').map((line) => {
      const bar = line.indexOf('|')
      const key = line.slice(0, bar)
      return { key: key === '' ? null : key, value: line.slice(bar + 1), headers: [['trace', 'abc'], ['empty', '']] }
    })
  }
  const out: Expected[] = []
  for (let i = 0; i < 20; i++) {
    const value = client === 'kafka-python'
      ? `{"id": ${i}, "name": "user number ${i}", "pad": "${'x'.repeat(i * 13)}"}`
      : JSON.stringify({ id: i, name: `user number ${i}`, pad: 'x'.repeat(i * 13) })
    const headers: [string, string | null][] = i % 2 !== 0 ? []
      : client === 'kafka-python' ? [['trace', 'abc'], ['empty', '']] : [['trace', 'abc'], ['multi', '1'], ['multi', '2']]
    out.push({ key: i % 7 === 3 ? null : `key-${i % 5}`, value: i === 5 ? null : value, headers })
  }
  return out
}

const CAPTURED = fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.hex')).sort()

test('captured batches: every client and codec is found, validated and decoded', () => {
  const names = ['none', 'gzip', 'snappy', 'lz4', 'zstd']
  for (const client of ['kcat', 'kafka-python', 'kafkajs']) {
    for (const c of names) assert.ok(CAPTURED.includes(`${client}-${c}.hex`), `${client}-${c}.hex is captured`)
  }
  for (const name of CAPTURED) {
    const client = name.startsWith('kafka-python') ? 'kafka-python' : name.startsWith('kafkajs') ? 'kafkajs' : 'kcat'
    const batch = produceBatch(fixture(name), 7)
    const info = validateBatch(batch, { ...OPTS, now: Date.now() })
    const codec = names.indexOf(name.replace(/\.hex$/, '').split('-').at(-1)!)
    assert.equal(info.compression, codec, name)
    assert.equal(info.recordCount, 20, name)
    assert.equal(info.lastOffsetDelta, 19, name)
    const recs = readRecords(batch)
    assert.deepEqual(recs.map((r) => r.offset), [...Array(20).keys()], name)
    const max = Math.max(...recs.map((r) => r.timestamp))
    assert.equal(info.maxTimestamp, max, name)
    assert.equal(readBatchHeader(batch).maxTimestamp, max, `${name}: client wrote the max timestamp`)
    if (client !== 'kcat') assert.deepEqual(recs.map((r) => r.timestamp), recs.map((_, i) => 1_700_000_000_000 + i), name)
    const want = expectedFor(client)
    const idempotent = name.includes('idempotent')
    recs.forEach((r, i) => {
      const w = want[i]!
      assert.equal(r.key === null ? null : r.key.toString(), idempotent && w.key === null ? '' : w.key, `${name} key ${i}`)
      assert.equal(r.value === null ? null : r.value.toString(), w.value, `${name} value ${i}`)
      if (!idempotent) assert.deepEqual(r.headers.map((h) => [h.key, h.value === null ? null : h.value.toString()]), w.headers, `${name} headers ${i}`)
    })
    if (idempotent) {
      assert.equal(info.producerId, 4242) // what the capture broker's InitProducerId answered
      assert.equal(info.producerEpoch, 7)
      assert.equal(info.baseSequence, 0)
    }
  }
})

test('captured uncompressed batches are re-encoded byte for byte by buildBatch', () => {
  for (const name of CAPTURED.filter((f) => f.endsWith('-none.hex'))) {
    const batch = fixture(name)
    const h = readBatchHeader(batch)
    const rebuilt = buildBatchSync({
      baseOffset: h.baseOffset,
      partitionLeaderEpoch: h.partitionLeaderEpoch,
      producerId: h.producerId,
      producerEpoch: h.producerEpoch,
      baseSequence: h.baseSequence,
      records: readRecords(batch).map((r) => ({ ...r, offsetDelta: r.offset - h.baseOffset })),
    })
    assert.deepEqual(rebuilt, batch, name)
  }
})

test('captured compressed batches decode to the same records as their uncompressed twins', () => {
  const strip = (b: Buffer) => readRecords(b).map((r) => ({ ...r, timestamp: 0 }))
  for (const client of ['kcat', 'kafka-python', 'kafkajs']) {
    const plain = strip(fixture(`${client}-none.hex`))
    for (const c of ['gzip', 'snappy', 'lz4', 'zstd']) assert.deepEqual(strip(fixture(`${client}-${c}.hex`)), plain, `${client}-${c}`)
  }
})

// ---------------------------------------------------------------------------------------------
// Round trips, CRC, offset assignment

test('build → validate → read round-trips for every codec, async and sync', async () => {
  for (const compression of CODECS) {
    const recs = records(12)
    const a = await buildBatch({ records: recs, compression })
    const b = buildBatchSync({ records: recs, compression })
    assert.deepEqual(a, b)
    const info = validateBatch(a, OPTS)
    assert.equal(info.recordCount, 12)
    assert.equal(info.compression, compression)
    assert.equal(info.maxTimestamp, NOW - 1000 + 110)
    assert.equal(info.offsetDeltaOfMaxTimestamp, 11)
    const back = readRecords(a)
    back.forEach((r, i) => {
      const w = recs[i]!
      assert.equal(r.offset, i)
      assert.equal(r.timestamp, w.timestamp)
      assert.equal(r.key?.toString() ?? null, w.key)
      assert.equal(r.value?.toString() ?? null, w.value)
      assert.deepEqual(r.headers.map((h) => [h.key, h.value?.toString() ?? null]), (w.headers ?? []).map((h) => [h.key, h.value]))
    })
  }
})

test('a tampered byte under the CRC is CORRUPT_MESSAGE; base offset and leader epoch are not covered', () => {
  for (const compression of CODECS) {
    const batch = buildBatchSync({ records: records(5), compression })
    for (const at of [BatchOffset.attributes + 1, BatchOffset.maxTimestamp + 7, BatchOffset.recordCount + 3, batch.length - 1]) {
      const bad = Buffer.from(batch)
      bad[at] ^= 0x01
      assert.throws(() => validateBatch(bad, OPTS), code(ErrorCode.CORRUPT_MESSAGE))
    }
    const moved = Buffer.from(batch)
    writeInt64(moved, BatchOffset.baseOffset, 12345)
    moved.writeInt32BE(9, BatchOffset.partitionLeaderEpoch)
    assert.ok(isBatchCrcValid(moved))
  }
})

test('assignOffsets: offsets and leader epoch in place; LogAppendTime sets the bit and max timestamp with a valid CRC', () => {
  for (const compression of CODECS) {
    const batch = buildBatchSync({ records: records(4), compression, partitionLeaderEpoch: 0 })
    const recordBytes = Buffer.from(batch.subarray(BATCH_HEADER_SIZE))
    const crcBefore = batch.readUInt32BE(BatchOffset.crc)
    assignOffsets(batch, 1000, { partitionLeaderEpoch: 5 })
    assert.equal(batch.readUInt32BE(BatchOffset.crc), crcBefore) // CreateTime: header CRC untouched
    assignOffsets(batch, 1000, { partitionLeaderEpoch: 5, logAppendTime: NOW })
    const h = readBatchHeader(batch)
    assert.equal(h.baseOffset, 1000)
    assert.equal(h.partitionLeaderEpoch, 5)
    assert.equal(h.timestampType, 'LogAppendTime')
    assert.equal(h.maxTimestamp, NOW)
    assert.equal(h.compression, compression)
    assert.ok(isBatchCrcValid(batch))
    assert.deepEqual(batch.subarray(BATCH_HEADER_SIZE), recordBytes)
    const recs = readRecords(batch)
    assert.deepEqual(recs.map((r) => r.offset), [1000, 1001, 1002, 1003])
    assert.deepEqual(recs.map((r) => r.timestamp), [NOW, NOW, NOW, NOW])
  }
})

test('assignOffsets with maxTimestamp rewrites a wrong client max timestamp, as Kafka does', () => {
  const batch = buildBatchSync({ records: records(3) })
  writeInt64(batch, BatchOffset.maxTimestamp, 1)
  reCrc(batch)
  const info = validateBatch(batch, OPTS)
  assert.equal(info.headerMaxTimestamp, 1)
  assert.equal(info.maxTimestamp, NOW - 1000 + 20)
  assignOffsets(batch, 7, { maxTimestamp: info.maxTimestamp })
  assert.equal(readBatchHeader(batch).maxTimestamp, info.maxTimestamp)
  assert.ok(isBatchCrcValid(batch))
})

test('LogAppendTime topic: info.maxTimestamp is now, and the offset of the max is the last record', () => {
  const info = validateBatch(buildBatchSync({ records: records(3) }), { ...OPTS, timestampType: 'LogAppendTime', timestampBeforeMaxMs: 0, timestampAfterMaxMs: 0 })
  assert.equal(info.maxTimestamp, NOW)
  assert.equal(info.offsetDeltaOfMaxTimestamp, 2)
})

// ---------------------------------------------------------------------------------------------
// LogValidator checks

test('batch-level checks: magic, length, size, base offset, count, control, sequence', () => {
  const good = buildBatchSync({ records: records(3) })
  const tamper = (f: (b: Buffer) => void, crc = true): Buffer => { const b = Buffer.from(good); f(b); return crc ? reCrc(b) : b }

  assert.throws(() => validateBatch(tamper((b) => b.writeInt8(1, BatchOffset.magic)), OPTS), code(ErrorCode.INVALID_RECORD))
  assert.throws(() => validateBatch(tamper((b) => b.writeInt32BE(b.length, BatchOffset.batchLength)), OPTS), code(ErrorCode.CORRUPT_MESSAGE))
  assert.throws(() => validateBatch(good.subarray(0, 40), OPTS), code(ErrorCode.CORRUPT_MESSAGE))
  assert.throws(() => validateBatch(good, { ...OPTS, maxMessageBytes: good.length - 1 }), code(ErrorCode.MESSAGE_TOO_LARGE))
  assert.doesNotThrow(() => validateBatch(good, { ...OPTS, maxMessageBytes: good.length }))
  assert.throws(() => validateBatch(tamper((b) => writeInt64(b, 0, 5), false), OPTS), code(ErrorCode.INVALID_RECORD))
  assert.doesNotThrow(() => validateBatch(tamper((b) => writeInt64(b, 0, 5), false), { ...OPTS, fromClient: false }))
  assert.throws(() => validateBatch(tamper((b) => b.writeInt32BE(4, BatchOffset.recordCount)), OPTS), code(ErrorCode.INVALID_RECORD))
  assert.throws(() => validateBatch(tamper((b) => b.writeInt32BE(0, BatchOffset.recordCount)), OPTS), code(ErrorCode.INVALID_RECORD))
  assert.throws(() => validateBatch(tamper((b) => b.writeInt32BE(-1, BatchOffset.lastOffsetDelta)), OPTS), code(ErrorCode.INVALID_RECORD))
  assert.throws(() => validateBatch(tamper((b) => { b.writeInt32BE(1, BatchOffset.lastOffsetDelta); b.writeInt32BE(2, BatchOffset.recordCount) }), OPTS), code(ErrorCode.INVALID_RECORD))
  assert.throws(() => validateBatch(tamper((b) => b.writeInt16BE(0x20, BatchOffset.attributes)), OPTS), code(ErrorCode.INVALID_RECORD))
  assert.throws(() => validateBatch(tamper((b) => b.writeInt16BE(6, BatchOffset.attributes)), OPTS), code(ErrorCode.CORRUPT_MESSAGE))
  assert.throws(() => validateBatch(buildBatchSync({ records: records(2), producerId: 9, producerEpoch: 0, baseSequence: -1 }), OPTS), code(ErrorCode.INVALID_RECORD))
  assert.doesNotThrow(() => validateBatch(buildBatchSync({ records: records(2), producerId: 9, producerEpoch: 0, baseSequence: 0 }), OPTS))
})

test('record-level checks: structure, consecutive offset deltas, nothing after the last record', () => {
  for (const compression of CODECS) {
    // declared count smaller than the records present
    const extra = buildBatchSync({ records: records(3), compression })
    extra.writeInt32BE(2, BatchOffset.recordCount)
    extra.writeInt32BE(1, BatchOffset.lastOffsetDelta)
    assert.throws(() => validateBatch(reCrc(extra), OPTS), code(ErrorCode.INVALID_RECORD))
    // declared count larger than the records present
    const short = buildBatchSync({ records: records(3), compression })
    short.writeInt32BE(4, BatchOffset.recordCount)
    short.writeInt32BE(3, BatchOffset.lastOffsetDelta)
    assert.throws(() => validateBatch(reCrc(short), OPTS), code(ErrorCode.INVALID_RECORD))
    // offset deltas 0, 5, 2: count and range agree, the deltas do not
    const same = [0, 1, 2].map((i) => ({ key: `k${i}`, value: 'v', timestamp: NOW }))
    const plain = buildBatchSync({ records: same })
    const second = buildBatchSync({ records: same.slice(0, 1) }).length
    assert.equal(plain[second + 3], 2) // length, attributes, timestamp delta 0, then offset delta 1 (zig-zag 2)
    plain[second + 3] = 10
    const gap = recompress(plain, compression)
    assert.throws(() => validateBatch(gap, OPTS), code(ErrorCode.INVALID_RECORD))
    // a compacted batch (not from a client) may skip offsets, but only upwards and within its range
    const compacted = buildBatchSync({ records: same.map((r, i) => ({ ...r, offsetDelta: i * 2 })), compression })
    assert.doesNotThrow(() => validateBatch(compacted, { ...OPTS, fromClient: false }))
    assert.throws(() => validateBatch(compacted, OPTS), code(ErrorCode.INVALID_RECORD))
    const beyond = Buffer.from(compacted)
    beyond.writeInt32BE(3, BatchOffset.lastOffsetDelta)
    assert.throws(() => validateBatch(reCrc(beyond), { ...OPTS, fromClient: false }), code(ErrorCode.INVALID_RECORD))
  }
  // a record whose length varint lies
  const lie = buildBatchSync({ records: [{ key: 'k', value: 'v', timestamp: NOW }] })
  lie[BATCH_HEADER_SIZE] += 2
  assert.throws(() => validateBatch(reCrc(lie), OPTS), code(ErrorCode.INVALID_RECORD))
})

test('compacted topics need a key on every record: RecordValidationError names the records', () => {
  for (const compression of CODECS) {
    const batch = buildBatchSync({ records: records(6), compression })
    try {
      validateBatch(batch, { ...OPTS, compactedTopic: true })
      assert.fail('expected a RecordValidationError')
    } catch (err) {
      assert.ok(err instanceof RecordValidationError)
      assert.equal(err.code, ErrorCode.INVALID_RECORD.code)
      assert.deepEqual(err.recordErrors.map((e) => e.batchIndex), [2, 5])
    }
    assert.doesNotThrow(() => validateBatch(buildBatchSync({ records: records(6).map((r) => ({ ...r, key: 'k' })), compression }), { ...OPTS, compactedTopic: true }))
  }
})

test('timestamps: out of [now - before, now + after] is INVALID_TIMESTAMP; -1 passes; LogAppendTime from a producer fails', () => {
  const batch = buildBatchSync({ records: [{ key: 'a', value: 'x', timestamp: NOW - 5000 }, { key: 'b', value: 'y', timestamp: NOW + 10 }, { key: 'c', value: 'z', timestamp: -1 }] })
  assert.doesNotThrow(() => validateBatch(batch, { ...OPTS, timestampBeforeMaxMs: 5000, timestampAfterMaxMs: 10 }))
  try {
    validateBatch(batch, { ...OPTS, timestampBeforeMaxMs: 4999, timestampAfterMaxMs: 9 })
    assert.fail('expected INVALID_TIMESTAMP')
  } catch (err) {
    assert.ok(err instanceof RecordValidationError)
    assert.equal(err.code, ErrorCode.INVALID_TIMESTAMP.code)
    assert.deepEqual(err.recordErrors.map((e) => e.batchIndex), [0, 1])
  }
  // LogAppendTime topics do not check timestamps…
  assert.doesNotThrow(() => validateBatch(batch, { ...OPTS, timestampType: 'LogAppendTime', timestampBeforeMaxMs: 0 }))
  // …but a producer may not send a LogAppendTime batch
  const lat = buildBatchSync({ records: records(2), timestampType: 'LogAppendTime', logAppendTime: NOW })
  assert.throws(() => validateBatch(lat, { ...OPTS, timestampType: 'LogAppendTime' }), code(ErrorCode.INVALID_TIMESTAMP))
})

test('a decompression bomb is MESSAGE_TOO_LARGE, never allocated', () => {
  for (const compression of [Compression.Gzip, Compression.Lz4, Compression.Zstd, Compression.Snappy]) {
    const batch = buildBatchSync({ records: [{ key: 'k', value: Buffer.alloc(4 << 20), timestamp: NOW }], compression })
    assert.ok(batch.length < 1 << 20)
    assert.throws(() => validateBatch(batch, { ...OPTS, maxUncompressedBytes: 1 << 20 }), code(ErrorCode.MESSAGE_TOO_LARGE))
    assert.throws(() => readRecords(batch, { maxUncompressedBytes: 1 << 20 }), code(ErrorCode.MESSAGE_TOO_LARGE))
    assert.equal(validateBatch(batch, OPTS).uncompressedRecordsBytes > 4 << 20, true)
  }
})

// ---------------------------------------------------------------------------------------------
// Splitting

test('splitBatches: slices without copying; truncation and bad lengths are CORRUPT_MESSAGE', () => {
  const a = buildBatchSync({ records: records(2) })
  const b = buildBatchSync({ records: records(3), compression: Compression.Lz4 })
  const both = Buffer.concat([a, b])
  const parts = splitBatches(both)
  assert.equal(parts.length, 2)
  assert.deepEqual(parts[0], a)
  assert.deepEqual(parts[1], b)
  assert.equal(parts[1]!.buffer, both.buffer)
  assert.equal(parts[1]!.byteOffset, both.byteOffset + a.length)
  assert.deepEqual(splitBatches(Buffer.alloc(0)), [])

  assert.throws(() => splitBatches(both.subarray(0, both.length - 1)), code(ErrorCode.CORRUPT_MESSAGE))
  assert.throws(() => splitBatches(Buffer.concat([a, Buffer.alloc(5)])), code(ErrorCode.CORRUPT_MESSAGE))
  assert.deepEqual(splitBatchesLenient(both.subarray(0, both.length - 1)), [a])
  assert.deepEqual(splitBatchesLenient(Buffer.concat([a, Buffer.alloc(5)])), [a])
  const tiny = Buffer.from(a)
  tiny.writeInt32BE(13, BatchOffset.batchLength)
  assert.throws(() => splitBatches(tiny), code(ErrorCode.CORRUPT_MESSAGE))
  assert.throws(() => splitBatchesLenient(tiny), code(ErrorCode.CORRUPT_MESSAGE))
})

test('produceBatch: exactly one magic-2 batch; zstd needs Produce v7', () => {
  const a = buildBatchSync({ records: records(2) })
  const z = buildBatchSync({ records: records(2), compression: Compression.Zstd })
  assert.deepEqual(produceBatch(a, 3), a)
  assert.throws(() => produceBatch(Buffer.concat([a, a]), 7), code(ErrorCode.INVALID_RECORD))
  assert.throws(() => produceBatch(Buffer.alloc(0), 7), code(ErrorCode.INVALID_RECORD))
  assert.throws(() => produceBatch(null, 7), code(ErrorCode.INVALID_RECORD))
  const v1 = Buffer.from(a)
  v1.writeInt8(1, BatchOffset.magic)
  assert.throws(() => produceBatch(v1, 7), code(ErrorCode.INVALID_RECORD))
  assert.throws(() => produceBatch(z, 6), code(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE))
  assert.deepEqual(produceBatch(z, 7), z)
})

// ---------------------------------------------------------------------------------------------
// Compaction and control batches

test('buildBatch for compaction: keeps offsets, timestamps and the original last offset; empty batches', () => {
  for (const compression of CODECS) {
    const original = buildBatchSync({ baseOffset: 500, records: records(10), compression, producerId: 3, producerEpoch: 1, baseSequence: 40 })
    const kept = readRecords(original).filter((r) => (r.offset - 500) % 3 === 0)
    const compacted = buildBatchSync({
      baseOffset: 500,
      records: kept.map((r) => ({ ...r, offsetDelta: r.offset - 500 })),
      compression,
      producerId: 3,
      producerEpoch: 1,
      baseSequence: 40,
      lastOffsetDelta: 9,
    })
    const h = readBatchHeader(compacted)
    assert.equal(h.lastOffsetDelta, 9)
    assert.equal(h.recordCount, 4)
    assert.deepEqual(readRecords(compacted), kept)
    assert.doesNotThrow(() => validateBatch(compacted, { ...OPTS, fromClient: false }))
    const empty = buildBatchSync({ baseOffset: 500, records: [], lastOffsetDelta: 9, producerId: 3, producerEpoch: 1, baseSequence: 40, deleteHorizonMs: NOW })
    assert.deepEqual(readRecords(empty), [])
    assert.equal(readBatchHeader(empty).hasDeleteHorizon, true)
    assert.equal(readBatchHeader(empty).baseTimestamp, NOW)
  }
  assert.throws(() => buildBatchSync({ records: [] }), RangeError)
})

test('control batches: transaction markers build, read back, and are refused from clients', () => {
  for (const type of ['COMMIT', 'ABORT'] as const) {
    const batch = buildControlBatch({ type, producerId: 77, producerEpoch: 2, coordinatorEpoch: 5, baseOffset: 900, timestamp: NOW })
    const h = readBatchHeader(batch)
    assert.equal(h.isControl, true)
    assert.equal(h.isTransactional, true)
    assert.equal(h.producerId, 77)
    assert.equal(h.baseOffset, 900)
    const [rec, ...rest] = readRecords(batch)
    assert.equal(rest.length, 0)
    assert.equal(rec!.offset, 900)
    assert.deepEqual(readControlRecord(rec!), { type: ControlType[type], coordinatorEpoch: 5 })
    const fromClient = buildControlBatch({ type, producerId: 77, producerEpoch: 2, coordinatorEpoch: 5, baseOffset: 0, timestamp: NOW })
    assert.throws(() => validateBatch(fromClient, OPTS), (err) => err instanceof KafkaError && /control records/.test(err.message))
    assert.doesNotThrow(() => validateBatch(batch, { ...OPTS, fromClient: false }))
  }
})

// ---------------------------------------------------------------------------------------------
// Fuzzing: only KafkaError or DecodeError may escape

function onlyKnownErrors(f: () => unknown): void {
  try {
    f()
  } catch (err) {
    if (err instanceof KafkaError || err instanceof DecodeError) return
    throw err
  }
}

function exercise(bytes: Buffer): void {
  onlyKnownErrors(() => splitBatches(bytes))
  onlyKnownErrors(() => splitBatchesLenient(bytes))
  onlyKnownErrors(() => validateBatch(bytes, OPTS))
  onlyKnownErrors(() => validateBatch(bytes, { ...OPTS, fromClient: false, compactedTopic: true }))
  onlyKnownErrors(() => readRecords(bytes, { maxUncompressedBytes: 1 << 20 }))
  onlyKnownErrors(() => readBatchHeader(bytes))
}

const SEEDS = CODECS.map((compression) => buildBatchSync({ records: records(6), compression }))

test('fuzz: random bytes never throw anything but KafkaError / DecodeError', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (arr) => { exercise(Buffer.from(arr)) }), { numRuns: 2000 })
})

test('fuzz: mutated valid batches (CRC fixed up so the records are walked) fail only with known errors', () => {
  const mutation = fc.record({
    seed: fc.integer({ min: 0, max: SEEDS.length - 1 }),
    flips: fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 6 }),
    cut: fc.option(fc.nat(), { nil: undefined }),
    fixCrc: fc.boolean(),
  })
  fc.assert(fc.property(mutation, ({ seed, flips, cut, fixCrc }) => {
    let b = Buffer.from(SEEDS[seed]!)
    for (const { at, value } of flips) b[at % b.length] = value
    if (cut !== undefined) b = b.subarray(0, cut % (b.length + 1))
    if (fixCrc && b.length >= BATCH_HEADER_SIZE) reCrc(b)
    exercise(b)
  }), { numRuns: 3000 })
})

test('fuzz: compressed payloads replaced by mutated codec output fail only with known errors', () => {
  const payload = Buffer.from('some records '.repeat(200))
  const frames = CODECS.filter((c) => c !== Compression.None).map((c) => ({ c, frame: compressSync(c, payload) }))
  fc.assert(fc.property(
    fc.integer({ min: 0, max: frames.length - 1 }),
    fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { maxLength: 4 }),
    (i, flips) => {
      const { c, frame } = frames[i]!
      const f = Buffer.from(frame)
      for (const { at, value } of flips) f[at % f.length] = value
      const batch = Buffer.concat([SEEDS[0]!.subarray(0, BATCH_HEADER_SIZE), f])
      batch.writeInt32BE(batch.length - 12, BatchOffset.batchLength)
      batch.writeInt16BE(c, BatchOffset.attributes)
      exercise(reCrc(batch))
    },
  ), { numRuns: 1500 })
})
