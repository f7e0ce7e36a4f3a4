// Record batches (magic v2): splitting a records field into batches, validating a batch the way
// Kafka's LogValidator does, assigning offsets in place, reading records, and building batches.
// No I/O.
//
// Layout of one record inside a batch (all varints zig-zag encoded):
//   length varint, attributes int8, timestampDelta varlong, offsetDelta varint,
//   keyLength varint (-1 = null), key, valueLength varint (-1 = null), value,
//   headerCount varint, headers: [keyLength varint, key utf8, valueLength varint (-1 = null), value]
//
// The validation path walks the records of a batch reading varints straight from the buffer; it
// allocates nothing per record. Compressed batches are decompressed once (bounded) and walked the
// same way; the compressed payload itself is kept and written unchanged, as Kafka does.

import { crc32c } from '@node-rs/crc32'
import {
  Attributes,
  BATCH_HEADER_SIZE,
  BATCH_LOG_OVERHEAD,
  BatchOffset,
  Compression,
  readInt64,
  writeInt64,
} from './record-batch.js'
import { compress, compressSync, decompress } from './compression.js'
import { ErrorCode, KafkaError, type KafkaErrorInfo } from './errors.js'

export type TimestampType = 'CreateTime' | 'LogAppendTime'

export const MAGIC_V2 = 2
export const NO_TIMESTAMP = -1
export const NO_PRODUCER_ID = -1
export const NO_PRODUCER_EPOCH = -1
export const NO_SEQUENCE = -1
/** Kafka's smallest legacy message (RECORD_OVERHEAD_V0): a length field below it is corrupt. */
const MIN_LENGTH_FIELD = 14

/** One rejected record, as ProduceResponse v8+ reports it (`record_errors`). */
export interface RecordError {
  batchIndex: number
  message: string
}

/**
 * A batch rejected for the records it holds (Kafka's RecordValidationException): the partition
 * answers `error` (INVALID_RECORD or INVALID_TIMESTAMP), with `recordErrors` for Produce v8+.
 */
export class RecordValidationError extends KafkaError {
  override name = 'RecordValidationError'
  constructor(error: KafkaErrorInfo, message: string, readonly recordErrors: RecordError[]) {
    super(error, message)
  }
}

function invalid(message: string): KafkaError {
  return new KafkaError(ErrorCode.INVALID_RECORD, message)
}

function corrupt(message: string): KafkaError {
  return new KafkaError(ErrorCode.CORRUPT_MESSAGE, message)
}

// ---------------------------------------------------------------------------------------------
// Splitting a records field into batches

/**
 * Slices (no copy) of each batch in a Produce request's records field. Every byte must belong to
 * a complete batch: a truncated or malformed length field throws CORRUPT_MESSAGE.
 */
export function splitBatches(records: Buffer): Buffer[] {
  return split(records, true)
}

/**
 * Like `splitBatches`, for a Fetch response or a log read: a trailing partial batch (the reader's
 * size limit cut it) is dropped, not an error.
 */
export function splitBatchesLenient(records: Buffer): Buffer[] {
  return split(records, false)
}

function split(records: Buffer, strict: boolean): Buffer[] {
  const out: Buffer[] = []
  let at = 0
  while (at < records.length) {
    const left = records.length - at
    if (left < BATCH_LOG_OVERHEAD) {
      if (strict) throw corrupt(`${left} trailing bytes do not hold a batch header`)
      break
    }
    const length = records.readInt32BE(at + BatchOffset.batchLength)
    if (length < MIN_LENGTH_FIELD) throw corrupt(`Record size ${length} is less than the minimum record overhead (${MIN_LENGTH_FIELD})`)
    const size = length + BATCH_LOG_OVERHEAD
    if (size > left) {
      if (strict) throw corrupt(`batch of ${size} bytes is truncated: ${left} bytes left`)
      break
    }
    out.push(records.subarray(at, at + size))
    at += size
  }
  return out
}

/**
 * The one batch of a Produce (v3+) partition, with the checks Kafka makes when it parses the
 * request: at least one batch, magic 2, exactly one batch (INVALID_RECORD), and no zstd before
 * Produce v7 (UNSUPPORTED_COMPRESSION_TYPE).
 */
export function produceBatch(records: Buffer | null, apiVersion: number): Buffer {
  const batches = records === null ? [] : splitBatches(records)
  const first = batches[0]
  if (first === undefined) throw invalid(`Produce requests with version ${apiVersion} must have at least one record batch per partition`)
  if (first.length <= BatchOffset.magic || first[BatchOffset.magic] !== MAGIC_V2) {
    throw invalid(`Produce requests with version ${apiVersion} are only allowed to contain record batches with magic version 2`)
  }
  if (apiVersion < 7 && first.length > BatchOffset.attributes + 1 && (first.readInt16BE(BatchOffset.attributes) & Attributes.compressionMask) === Compression.Zstd) {
    throw new KafkaError(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `Produce requests with version ${apiVersion} are not allowed to use ZStandard compression`)
  }
  if (batches.length > 1) throw invalid(`Produce requests with version ${apiVersion} are only allowed to contain exactly one record batch per partition`)
  return first
}

// ---------------------------------------------------------------------------------------------
// Header

export interface BatchHeader {
  baseOffset: number
  batchLength: number
  partitionLeaderEpoch: number
  magic: number
  crc: number
  attributes: number
  lastOffsetDelta: number
  baseTimestamp: number
  maxTimestamp: number
  producerId: number
  producerEpoch: number
  baseSequence: number
  recordCount: number
  compression: Compression
  timestampType: TimestampType
  isTransactional: boolean
  isControl: boolean
  /** Set by compaction once tombstones may be removed (attributes bit 6): baseTimestamp holds it. */
  hasDeleteHorizon: boolean
}

/** The fixed header of a v2 batch, read without any check beyond its length and magic. */
export function readBatchHeader(batch: Buffer): BatchHeader {
  if (batch.length < BATCH_HEADER_SIZE) throw corrupt(`Record batch is corrupt (the size ${batch.length} is smaller than the minimum allowed overhead ${BATCH_HEADER_SIZE})`)
  const magic = batch.readInt8(BatchOffset.magic)
  if (magic !== MAGIC_V2) throw invalid(`record batch magic ${magic} is not supported; only magic 2 is`)
  const attributes = batch.readInt16BE(BatchOffset.attributes)
  return {
    baseOffset: readInt64(batch, BatchOffset.baseOffset),
    batchLength: batch.readInt32BE(BatchOffset.batchLength),
    partitionLeaderEpoch: batch.readInt32BE(BatchOffset.partitionLeaderEpoch),
    magic,
    crc: batch.readUInt32BE(BatchOffset.crc),
    attributes,
    lastOffsetDelta: batch.readInt32BE(BatchOffset.lastOffsetDelta),
    baseTimestamp: readInt64(batch, BatchOffset.baseTimestamp),
    maxTimestamp: readInt64(batch, BatchOffset.maxTimestamp),
    producerId: readInt64(batch, BatchOffset.producerId),
    producerEpoch: batch.readInt16BE(BatchOffset.producerEpoch),
    baseSequence: batch.readInt32BE(BatchOffset.baseSequence),
    recordCount: batch.readInt32BE(BatchOffset.recordCount),
    compression: (attributes & Attributes.compressionMask) as Compression,
    timestampType: (attributes & Attributes.timestampTypeLogAppend) !== 0 ? 'LogAppendTime' : 'CreateTime',
    isTransactional: (attributes & Attributes.transactional) !== 0,
    isControl: (attributes & Attributes.control) !== 0,
    hasDeleteHorizon: (attributes & Attributes.deleteHorizon) !== 0,
  }
}

/** CRC32C of the batch from `attributes` to its end, as stored in the header. */
export function computeBatchCrc(batch: Buffer): number {
  return crc32c(batch.subarray(BatchOffset.attributes)) >>> 0
}

export function isBatchCrcValid(batch: Buffer): boolean {
  return batch.length >= BATCH_HEADER_SIZE && batch.readUInt32BE(BatchOffset.crc) === computeBatchCrc(batch)
}

// ---------------------------------------------------------------------------------------------
// Allocation-free record walking

// Cursor shared by the readers below. JavaScript is single-threaded and no walker yields, so one
// module-level position is safe and saves returning a pair per varint.
let pos = 0

function badStructure(): KafkaError {
  return invalid('Found invalid record structure')
}

/** Zig-zag int32 varint at `pos`, at most 5 bytes, not reading at or past `end`. */
function readVarint(buf: Buffer, end: number): number {
  let value = 0
  for (let shift = 0; shift < 35; shift += 7) {
    if (pos >= end) throw badStructure()
    const b = buf[pos++]!
    value |= (b & 0x7f) << shift
    if ((b & 0x80) === 0) return (value >>> 1) ^ -(value & 1)
  }
  throw badStructure() // "Varint is too long"
}

/** Zig-zag int64 varlong as a Number (exact below 2^53), at most 10 bytes. */
function readVarlong(buf: Buffer, end: number): number {
  let value = 0
  for (let shift = 0; shift < 70; shift += 7) {
    if (pos >= end) throw badStructure()
    const b = buf[pos++]!
    value += (b & 0x7f) * 2 ** shift
    if ((b & 0x80) === 0) return value % 2 === 0 ? value / 2 : -(value + 1) / 2
  }
  throw badStructure()
}

interface WalkState {
  // inputs
  baseTimestamp: number
  logAppendTimeBatch: boolean
  headerMaxTimestamp: number
  compacted: boolean
  /** Client batches: offset deltas are exactly 0..count-1. Otherwise increasing up to lastOffsetDelta. */
  consecutive: boolean
  lastOffsetDelta: number
  checkTimestamps: boolean
  now: number
  before: number
  after: number
  // outputs
  maxTimestamp: number
  offsetDeltaOfMax: number
  errors: RecordError[] | null
}

function recordError(state: WalkState, batchIndex: number, message: string, timestamp: boolean): void {
  (state.errors ??= []).push({ batchIndex, message })
  if (timestamp) hadTimestampError = true
}
let hadTimestampError = false

/**
 * Walks `count` records in buf[start, end): checks their structure, sequential offset deltas and
 * that nothing follows the last record; validates keys and timestamps per LogValidator.
 */
function walkRecords(buf: Buffer, start: number, end: number, count: number, st: WalkState): void {
  pos = start
  let previousDelta = -1
  for (let i = 0; i < count; i++) {
    const size = readVarint(buf, end)
    const bodyStart = pos
    const bodyEnd = bodyStart + size
    if (size < 0 || bodyEnd > end) {
      throw invalid(`Invalid record size: expected ${size} bytes in record payload, but instead the buffer has only ${end - bodyStart} remaining bytes.`)
    }
    if (pos >= bodyEnd) throw badStructure()
    pos++ // attributes: unused in v2
    const timestampDelta = readVarlong(buf, bodyEnd)
    const offsetDelta = readVarint(buf, bodyEnd)
    const keyLength = readVarint(buf, bodyEnd)
    if (keyLength > 0) { pos += keyLength; if (pos > bodyEnd) throw badStructure() }
    const valueLength = readVarint(buf, bodyEnd)
    if (valueLength > 0) { pos += valueLength; if (pos > bodyEnd) throw badStructure() }
    const headers = readVarint(buf, bodyEnd)
    if (headers < 0) throw invalid(`Found invalid number of record headers ${headers}`)
    for (let h = 0; h < headers; h++) {
      const hk = readVarint(buf, bodyEnd)
      if (hk < 0) throw invalid(`Invalid negative header key size ${hk}`)
      pos += hk
      if (pos > bodyEnd) throw badStructure()
      const hv = readVarint(buf, bodyEnd)
      if (hv > 0) { pos += hv; if (pos > bodyEnd) throw badStructure() }
    }
    if (pos !== bodyEnd) {
      throw invalid(`Invalid record size: expected to read ${size} bytes in record payload, but instead read ${pos - bodyStart}`)
    }
    // Kafka rebuilds a client batch whose inner offsets are not 0..n-1 (a v0/v1 client habit); no
    // v2 client sends one, so we refuse it rather than rewrite it. Compacted batches have gaps.
    if (st.consecutive ? offsetDelta !== i : offsetDelta <= previousDelta || offsetDelta > st.lastOffsetDelta) {
      throw invalid(`Inner record ${i} has offset delta ${offsetDelta}: offsets in a batch must be ${st.consecutive ? 'consecutive from 0' : `increasing up to ${st.lastOffsetDelta}`}`)
    }
    previousDelta = offsetDelta

    const timestamp = st.logAppendTimeBatch ? st.headerMaxTimestamp : st.baseTimestamp + timestampDelta
    if (timestamp > st.maxTimestamp) {
      st.maxTimestamp = timestamp
      st.offsetDeltaOfMax = offsetDelta
    }
    if (st.compacted && keyLength < 0) {
      recordError(st, i, 'Compacted topic cannot accept message without key', false)
    } else if (st.checkTimestamps && timestamp !== NO_TIMESTAMP) {
      if (st.now - timestamp > st.before || timestamp - st.now > st.after) {
        recordError(st, i, `Timestamp ${timestamp} of message with offset ${offsetDelta} is out of range. The timestamp should be within [${st.now - st.before}, ${st.now + st.after}]`, true)
      }
    } else if (st.logAppendTimeBatch) {
      recordError(st, i, 'Invalid timestamp type in message. Producer should not set timestamp type to LogAppendTime.', true)
    }
  }
  if (pos !== end) throw invalid('Incorrect declared batch size, records still remaining in file')
}

// ---------------------------------------------------------------------------------------------
// Validation

export interface ValidateOptions {
  /** The topic's max.message.bytes: the whole batch, header included, may not exceed it. */
  maxMessageBytes: number
  /** The topic's message.timestamp.type. */
  timestampType: TimestampType
  /** The broker's clock, for timestamp bounds (and the log append time the caller will write). */
  now: number
  /** message.timestamp.before.max.ms (default: unbounded). */
  timestampBeforeMaxMs?: number
  /** message.timestamp.after.max.ms (default: unbounded). */
  timestampAfterMaxMs?: number
  /** cleanup.policy contains compact: every record needs a key. */
  compactedTopic?: boolean
  /**
   * The batch comes from a producer (default). Then base offset must be 0, control batches are
   * refused and the offset range must match the record count; coordinators writing markers pass false.
   */
  fromClient?: boolean
  /** Bound on the decompressed records of a compressed batch; default max(64 MiB, 8 × maxMessageBytes). */
  maxUncompressedBytes?: number
}

export interface BatchInfo {
  recordCount: number
  lastOffsetDelta: number
  /**
   * The max timestamp the batch carries once offsets are assigned: `now` for a LogAppendTime topic,
   * else the largest record timestamp (-1 when none has one). When it differs from the header,
   * pass it to `assignOffsets` as `maxTimestamp`, as Kafka rewrites it.
   */
  maxTimestamp: number
  /** Offset delta of the record holding `maxTimestamp` (-1 when none), for the time index. */
  offsetDeltaOfMaxTimestamp: number
  /** The max timestamp the client wrote in the header. */
  headerMaxTimestamp: number
  baseTimestamp: number
  producerId: number
  producerEpoch: number
  baseSequence: number
  isTransactional: boolean
  isControl: boolean
  compression: Compression
  /** Bytes of the whole batch. */
  sizeInBytes: number
  /** Bytes of the records section once decompressed (equals the section size when uncompressed). */
  uncompressedRecordsBytes: number
}

const MIN_UNCOMPRESSED_LIMIT = 64 * 1024 * 1024
const MAX_BUFFER = 2 ** 31 - 1

/**
 * Validates one v2 batch as Kafka does on a produce (ProduceRequest.validateRecords,
 * UnifiedLog.analyzeAndValidateRecords, LogValidator): magic, length, size, CRC, offset range and
 * count, producer fields, then each record (structure, keys for compacted topics, timestamps).
 * Throws KafkaError (CORRUPT_MESSAGE, INVALID_RECORD, MESSAGE_TOO_LARGE) or RecordValidationError
 * (INVALID_RECORD / INVALID_TIMESTAMP with per-record errors). Nothing is modified.
 */
export function validateBatch(batch: Buffer, opts: ValidateOptions): BatchInfo {
  const fromClient = opts.fromClient ?? true
  if (batch.length <= BatchOffset.magic) throw corrupt(`Record batch is corrupt (the size ${batch.length} is smaller than the minimum allowed overhead ${BATCH_HEADER_SIZE})`)
  const magic = batch.readInt8(BatchOffset.magic)
  if (magic !== MAGIC_V2) throw invalid(`Record batches must have magic version 2, got ${magic}`)
  const length = batch.readInt32BE(BatchOffset.batchLength)
  if (length + BATCH_LOG_OVERHEAD !== batch.length) throw corrupt(`batch length field ${length} does not match the ${batch.length - BATCH_LOG_OVERHEAD} bytes that follow it`)
  if (batch.length < BATCH_HEADER_SIZE) throw corrupt(`Record batch is corrupt (the size ${batch.length} is smaller than the minimum allowed overhead ${BATCH_HEADER_SIZE})`)
  if (batch.length > opts.maxMessageBytes) {
    throw new KafkaError(ErrorCode.MESSAGE_TOO_LARGE, `The record batch size in the append is ${batch.length} bytes which exceeds the maximum configured value of ${opts.maxMessageBytes}.`)
  }
  const baseOffset = readInt64(batch, BatchOffset.baseOffset)
  if (fromClient && baseOffset !== 0) throw invalid(`The baseOffset of the record batch in the append should be 0, but it is ${baseOffset}`)
  const storedCrc = batch.readUInt32BE(BatchOffset.crc)
  const crc = computeBatchCrc(batch)
  if (storedCrc !== crc) throw corrupt(`Record is corrupt (stored crc = ${storedCrc}, computed crc = ${crc})`)

  const attributes = batch.readInt16BE(BatchOffset.attributes)
  const compression = (attributes & Attributes.compressionMask) as Compression
  if (compression > Compression.Zstd) throw corrupt(`Unknown compression type id ${compression}`)
  const lastOffsetDelta = batch.readInt32BE(BatchOffset.lastOffsetDelta)
  const recordCount = batch.readInt32BE(BatchOffset.recordCount)
  const producerId = readInt64(batch, BatchOffset.producerId)
  const baseSequence = batch.readInt32BE(BatchOffset.baseSequence)
  const isControl = (attributes & Attributes.control) !== 0
  if (fromClient) {
    if (lastOffsetDelta < 0) throw invalid(`Batch has an invalid offset range: [0, ${lastOffsetDelta}]`)
    if (recordCount <= 0) throw invalid(`Invalid reported count for record batch: ${recordCount}`)
    if (lastOffsetDelta + 1 !== recordCount) throw invalid(`Inconsistent batch offset range [0, ${lastOffsetDelta}] and count of records ${recordCount}`)
    if (isControl) throw invalid('Clients are not allowed to write control records')
    if (producerId > NO_PRODUCER_ID && baseSequence < 0) throw invalid(`Invalid sequence number ${baseSequence} in record batch with producerId ${producerId}`)
  } else if (recordCount < 0) {
    throw invalid(`Found invalid record count ${recordCount} in magic v2 batch`)
  }

  const headerMaxTimestamp = readInt64(batch, BatchOffset.maxTimestamp)
  const baseTimestamp = readInt64(batch, BatchOffset.baseTimestamp)
  const st: WalkState = {
    baseTimestamp,
    logAppendTimeBatch: (attributes & Attributes.timestampTypeLogAppend) !== 0,
    headerMaxTimestamp,
    compacted: opts.compactedTopic ?? false,
    consecutive: fromClient,
    lastOffsetDelta,
    checkTimestamps: opts.timestampType === 'CreateTime',
    now: opts.now,
    before: opts.timestampBeforeMaxMs ?? Infinity,
    after: opts.timestampAfterMaxMs ?? Infinity,
    maxTimestamp: NO_TIMESTAMP,
    offsetDeltaOfMax: -1,
    errors: null,
  }
  // a record takes at least 7 bytes; refuse a forged count before walking
  let records: Buffer = batch
  let start = BATCH_HEADER_SIZE
  if (compression !== Compression.None) {
    const limit = Math.min(MAX_BUFFER, opts.maxUncompressedBytes ?? Math.max(MIN_UNCOMPRESSED_LIMIT, 8 * opts.maxMessageBytes))
    records = decompress(compression, batch.subarray(BATCH_HEADER_SIZE), limit)
    start = 0
  }
  if (recordCount > (records.length - start) / 7) throw invalid(`Record count ${recordCount} cannot fit in ${records.length - start} bytes of records`)
  hadTimestampError = false
  walkRecords(records, start, records.length, recordCount, st)
  if (st.errors !== null) {
    const timestamp = hadTimestampError
    throw new RecordValidationError(
      timestamp ? ErrorCode.INVALID_TIMESTAMP : ErrorCode.INVALID_RECORD,
      timestamp
        ? 'One or more records have been rejected due to invalid timestamp'
        : `One or more records have been rejected due to ${st.errors.length} record errors in total, and only showing the first three errors at most: ${JSON.stringify(st.errors.slice(0, 3))}`,
      st.errors,
    )
  }
  const logAppend = opts.timestampType === 'LogAppendTime'
  return {
    recordCount,
    lastOffsetDelta,
    maxTimestamp: logAppend ? opts.now : st.maxTimestamp,
    offsetDeltaOfMaxTimestamp: logAppend ? lastOffsetDelta : st.offsetDeltaOfMax,
    headerMaxTimestamp,
    baseTimestamp,
    producerId,
    producerEpoch: batch.readInt16BE(BatchOffset.producerEpoch),
    baseSequence,
    isTransactional: (attributes & Attributes.transactional) !== 0,
    isControl,
    compression,
    sizeInBytes: batch.length,
    uncompressedRecordsBytes: records.length - start,
  }
}

// ---------------------------------------------------------------------------------------------
// Offset assignment

export interface AssignOptions {
  /** The topic uses LogAppendTime: set the timestamp type bit and maxTimestamp to this. */
  logAppendTime?: number
  partitionLeaderEpoch?: number
  /**
   * CreateTime topics: the max timestamp computed by `validateBatch`; rewritten (clearing a
   * LogAppendTime bit) when the header disagrees, as Kafka's setMaxTimestamp does.
   */
  maxTimestamp?: number
}

/**
 * Rewrites baseOffset and partitionLeaderEpoch in place (neither is under the CRC); rewrites the
 * timestamp type and maxTimestamp when asked, then recomputes the CRC. Record bytes are untouched.
 */
export function assignOffsets(batch: Buffer, baseOffset: number, opts: AssignOptions = {}): void {
  writeInt64(batch, BatchOffset.baseOffset, baseOffset)
  if (opts.partitionLeaderEpoch !== undefined) batch.writeInt32BE(opts.partitionLeaderEpoch, BatchOffset.partitionLeaderEpoch)
  let type: number
  let max: number
  if (opts.logAppendTime !== undefined) {
    type = Attributes.timestampTypeLogAppend
    max = opts.logAppendTime
  } else if (opts.maxTimestamp !== undefined) {
    type = 0
    max = opts.maxTimestamp
  } else {
    return
  }
  const attributes = batch.readInt16BE(BatchOffset.attributes)
  if ((attributes & Attributes.timestampTypeLogAppend) === type && readInt64(batch, BatchOffset.maxTimestamp) === max) return
  batch.writeInt16BE((attributes & ~Attributes.timestampTypeLogAppend) | type, BatchOffset.attributes)
  writeInt64(batch, BatchOffset.maxTimestamp, max)
  batch.writeUInt32BE(computeBatchCrc(batch), BatchOffset.crc)
}

// ---------------------------------------------------------------------------------------------
// Reading records

export interface RecordHeader {
  key: string
  value: Buffer | null
}

export interface RecordView {
  offset: number
  timestamp: number
  key: Buffer | null
  value: Buffer | null
  headers: RecordHeader[]
}

export interface ReadOptions {
  /** Bound on the decompressed records (default 256 MiB). */
  maxUncompressedBytes?: number
}

/**
 * Every record of a batch, decompressing if needed; keys, values and header values are slices of
 * the batch (or of its decompressed records). Does not check the CRC: see `validateBatch`. A batch
 * may hold fewer records than its offset range (compaction keeps the range); an empty one yields [].
 */
export function readRecords(batch: Buffer, opts: ReadOptions = {}): RecordView[] {
  const h = readBatchHeader(batch)
  if (h.batchLength + BATCH_LOG_OVERHEAD !== batch.length) throw corrupt(`batch length field ${h.batchLength} does not match the ${batch.length - BATCH_LOG_OVERHEAD} bytes that follow it`)
  if (h.recordCount < 0) throw invalid(`Found invalid record count ${h.recordCount} in magic v2 batch`)
  if (h.compression > Compression.Zstd) throw corrupt(`Unknown compression type id ${h.compression}`)
  let buf: Buffer = batch
  let start = BATCH_HEADER_SIZE
  if (h.compression !== Compression.None) {
    buf = decompress(h.compression, batch.subarray(BATCH_HEADER_SIZE), opts.maxUncompressedBytes)
    start = 0
  }
  const end = buf.length
  if (h.recordCount > (end - start) / 7) throw invalid(`Record count ${h.recordCount} cannot fit in ${end - start} bytes of records`)
  const logAppend = h.timestampType === 'LogAppendTime'
  const out: RecordView[] = []
  pos = start
  for (let i = 0; i < h.recordCount; i++) {
    const size = readVarint(buf, end)
    const bodyStart = pos
    const bodyEnd = bodyStart + size
    if (size < 0 || bodyEnd > end || pos >= bodyEnd) throw invalid(`Invalid record size ${size}`)
    pos++
    const timestampDelta = readVarlong(buf, bodyEnd)
    const offsetDelta = readVarint(buf, bodyEnd)
    const key = readBytes(buf, bodyEnd)
    const value = readBytes(buf, bodyEnd)
    const count = readVarint(buf, bodyEnd)
    if (count < 0) throw invalid(`Found invalid number of record headers ${count}`)
    if (count > bodyEnd - pos) throw badStructure()
    const headers: RecordHeader[] = []
    for (let j = 0; j < count; j++) {
      const kl = readVarint(buf, bodyEnd)
      if (kl < 0) throw invalid(`Invalid negative header key size ${kl}`)
      if (pos + kl > bodyEnd) throw badStructure()
      const hk = buf.toString('utf8', pos, pos + kl)
      pos += kl
      headers.push({ key: hk, value: readBytes(buf, bodyEnd) })
    }
    if (pos !== bodyEnd) throw invalid(`Invalid record size: expected to read ${size} bytes in record payload, but instead read ${pos - bodyStart}`)
    out.push({
      offset: h.baseOffset + offsetDelta,
      timestamp: logAppend ? h.maxTimestamp : h.baseTimestamp + timestampDelta,
      key,
      value,
      headers,
    })
  }
  if (pos !== end) throw invalid('Incorrect declared batch size, records still remaining in file')
  return out
}

function readBytes(buf: Buffer, end: number): Buffer | null {
  const n = readVarint(buf, end)
  if (n < 0) return null
  if (pos + n > end) throw badStructure()
  const b = buf.subarray(pos, pos + n)
  pos += n
  return b
}

// ---------------------------------------------------------------------------------------------
// Building batches

export interface BuildRecord {
  key: Buffer | string | null
  value: Buffer | string | null
  headers?: { key: string; value: Buffer | string | null }[]
  /** Default: the batch's `timestamp` option, else Date.now(). */
  timestamp?: number
  /** Default: the record's index. Compaction passes the original delta to keep offsets. */
  offsetDelta?: number
}

export interface BuildBatchOptions {
  baseOffset?: number
  records: BuildRecord[]
  compression?: Compression
  producerId?: number
  producerEpoch?: number
  baseSequence?: number
  transactional?: boolean
  control?: boolean
  partitionLeaderEpoch?: number
  timestampType?: TimestampType
  /** LogAppendTime batches: the max timestamp to write (default: the largest record timestamp). */
  logAppendTime?: number
  /** Default timestamp of records that carry none (default Date.now()). */
  timestamp?: number
  /**
   * Default: the last record's offset delta. Compaction keeps the original batch's last offset
   * (so producer state survives), which may exceed it, and may even leave no record at all.
   */
  lastOffsetDelta?: number
  /** Compaction: the time after which tombstones may go; sets attributes bit 6 and baseTimestamp. */
  deleteHorizonMs?: number
}

interface Prepared {
  header: Buffer
  records: Buffer
  compression: Compression
}

function toBytes(v: Buffer | string | null): Buffer | null {
  return v === null ? null : typeof v === 'string' ? Buffer.from(v, 'utf8') : v
}

function zigzag32(n: number): number {
  return ((n << 1) ^ (n >> 31)) >>> 0
}

function zigzag64(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1
}

function uvarintSize(u: number): number {
  let n = 1
  while (u >= 0x80) { u = Math.floor(u / 128); n++ }
  return n
}

function writeUvarint(buf: Buffer, u: number): void {
  while (u >= 0x80) {
    buf[pos++] = (u % 128) | 0x80
    u = Math.floor(u / 128)
  }
  buf[pos++] = u
}

function writeBytesField(buf: Buffer, b: Buffer | null): void {
  if (b === null) { writeUvarint(buf, 1); return } // zig-zag(-1)
  writeUvarint(buf, zigzag32(b.length))
  b.copy(buf, pos)
  pos += b.length
}

function bytesFieldSize(b: Buffer | null): number {
  return b === null ? 1 : uvarintSize(zigzag32(b.length)) + b.length
}

function prepare(opts: BuildBatchOptions): Prepared {
  const now = opts.timestamp ?? Date.now()
  const n = opts.records.length
  const keys: (Buffer | null)[] = new Array(n)
  const values: (Buffer | null)[] = new Array(n)
  const headers: { key: Buffer; value: Buffer | null }[][] = new Array(n)
  const timestamps: number[] = new Array(n)
  const deltas: number[] = new Array(n)
  let maxTimestamp = NO_TIMESTAMP
  for (let i = 0; i < n; i++) {
    const r = opts.records[i]!
    keys[i] = toBytes(r.key)
    values[i] = toBytes(r.value)
    headers[i] = (r.headers ?? []).map((h) => ({ key: Buffer.from(h.key, 'utf8'), value: toBytes(h.value) }))
    const ts = r.timestamp ?? now
    timestamps[i] = ts
    if (ts > maxTimestamp) maxTimestamp = ts
    const delta = r.offsetDelta ?? i
    if (i > 0 && delta <= deltas[i - 1]!) throw new RangeError(`offset deltas must increase: ${delta} after ${deltas[i - 1]}`)
    if (delta < 0 || delta > 0x7fffffff) throw new RangeError(`offset delta ${delta} out of range`)
    deltas[i] = delta
  }
  const lastOffsetDelta = opts.lastOffsetDelta ?? (n > 0 ? deltas[n - 1]! : undefined)
  if (lastOffsetDelta === undefined) throw new RangeError('an empty batch needs lastOffsetDelta')
  if (n > 0 && lastOffsetDelta < deltas[n - 1]!) throw new RangeError(`lastOffsetDelta ${lastOffsetDelta} is below the last record's delta ${deltas[n - 1]}`)
  const baseTimestamp = opts.deleteHorizonMs ?? (n > 0 ? timestamps[0]! : now)

  // sizes first, so the records section is written into one exact allocation
  const bodySizes: number[] = new Array(n)
  let total = 0
  for (let i = 0; i < n; i++) {
    let body = 1 + uvarintSize(zigzag64(timestamps[i]! - baseTimestamp)) + uvarintSize(zigzag32(deltas[i]!))
    body += bytesFieldSize(keys[i]!) + bytesFieldSize(values[i]!)
    const hs = headers[i]!
    body += uvarintSize(zigzag32(hs.length))
    for (const h of hs) body += bytesFieldSize(h.key) + bytesFieldSize(h.value)
    bodySizes[i] = body
    total += uvarintSize(zigzag32(body)) + body
  }
  const records = Buffer.allocUnsafe(total)
  pos = 0
  for (let i = 0; i < n; i++) {
    writeUvarint(records, zigzag32(bodySizes[i]!))
    records[pos++] = 0
    writeUvarint(records, zigzag64(timestamps[i]! - baseTimestamp))
    writeUvarint(records, zigzag32(deltas[i]!))
    writeBytesField(records, keys[i]!)
    writeBytesField(records, values[i]!)
    const hs = headers[i]!
    writeUvarint(records, zigzag32(hs.length))
    for (const h of hs) { writeBytesField(records, h.key); writeBytesField(records, h.value) }
  }

  const compression = opts.compression ?? Compression.None
  const logAppend = opts.timestampType === 'LogAppendTime'
  let attributes: number = compression
  if (logAppend) attributes |= Attributes.timestampTypeLogAppend
  if (opts.transactional) attributes |= Attributes.transactional
  if (opts.control) attributes |= Attributes.control
  if (opts.deleteHorizonMs !== undefined) attributes |= Attributes.deleteHorizon
  const header = Buffer.alloc(BATCH_HEADER_SIZE)
  writeInt64(header, BatchOffset.baseOffset, opts.baseOffset ?? 0)
  header.writeInt32BE(opts.partitionLeaderEpoch ?? -1, BatchOffset.partitionLeaderEpoch)
  header.writeInt8(MAGIC_V2, BatchOffset.magic)
  header.writeInt16BE(attributes, BatchOffset.attributes)
  header.writeInt32BE(lastOffsetDelta, BatchOffset.lastOffsetDelta)
  writeInt64(header, BatchOffset.baseTimestamp, baseTimestamp)
  writeInt64(header, BatchOffset.maxTimestamp, logAppend ? opts.logAppendTime ?? maxTimestamp : maxTimestamp)
  writeInt64(header, BatchOffset.producerId, opts.producerId ?? NO_PRODUCER_ID)
  header.writeInt16BE(opts.producerEpoch ?? NO_PRODUCER_EPOCH, BatchOffset.producerEpoch)
  header.writeInt32BE(opts.baseSequence ?? NO_SEQUENCE, BatchOffset.baseSequence)
  header.writeInt32BE(n, BatchOffset.recordCount)
  return { header, records, compression }
}

function finish(p: Prepared, payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(BATCH_HEADER_SIZE + payload.length)
  p.header.copy(out, 0)
  payload.copy(out, BATCH_HEADER_SIZE)
  out.writeInt32BE(out.length - BATCH_LOG_OVERHEAD, BatchOffset.batchLength)
  out.writeUInt32BE(computeBatchCrc(out), BatchOffset.crc)
  return out
}

/** Builds a v2 batch; compresses off the main thread where the codec allows. */
export async function buildBatch(opts: BuildBatchOptions): Promise<Buffer> {
  const p = prepare(opts)
  return finish(p, await compress(p.compression, p.records))
}

export function buildBatchSync(opts: BuildBatchOptions): Buffer {
  const p = prepare(opts)
  return finish(p, compressSync(p.compression, p.records))
}

// ---------------------------------------------------------------------------------------------
// Control records (transaction markers)

/** ControlRecordType ids (the key's second int16). */
export const ControlType = {
  ABORT: 0,
  COMMIT: 1,
  LEADER_CHANGE: 2,
  SNAPSHOT_HEADER: 3,
  SNAPSHOT_FOOTER: 4,
  KRAFT_VERSION: 5,
  KRAFT_VOTERS: 6,
} as const

export interface ControlBatchOptions {
  type: 'COMMIT' | 'ABORT'
  producerId: number
  producerEpoch: number
  coordinatorEpoch: number
  baseOffset: number
  timestamp: number
  partitionLeaderEpoch?: number
}

/** A transaction marker: a transactional control batch holding one EndTxnMarker record (v0). */
export function buildControlBatch(opts: ControlBatchOptions): Buffer {
  const key = Buffer.alloc(4)
  key.writeInt16BE(0, 0) // ControlRecordType version
  key.writeInt16BE(ControlType[opts.type], 2)
  const value = Buffer.alloc(6)
  value.writeInt16BE(0, 0) // EndTransactionMarker version
  value.writeInt32BE(opts.coordinatorEpoch, 2)
  return buildBatchSync({
    baseOffset: opts.baseOffset,
    records: [{ key, value, timestamp: opts.timestamp }],
    producerId: opts.producerId,
    producerEpoch: opts.producerEpoch,
    baseSequence: NO_SEQUENCE,
    transactional: true,
    control: true,
    partitionLeaderEpoch: opts.partitionLeaderEpoch,
  })
}

export interface ControlRecord {
  /** A ControlType id; 0 ABORT and 1 COMMIT are transaction markers. */
  type: number
  /** For transaction markers: the coordinator epoch of the value. */
  coordinatorEpoch?: number
}

/** Decodes the key (and for markers the value) of a record from a control batch. */
export function readControlRecord(record: { key: Buffer | null; value: Buffer | null }): ControlRecord {
  const key = record.key
  if (key === null || key.length < 4) throw invalid('Invalid control record key: fewer than 4 bytes')
  const version = key.readInt16BE(0)
  if (version < 0) throw invalid(`Invalid version found for control record: ${version}`)
  const type = key.readInt16BE(2)
  if (type !== ControlType.ABORT && type !== ControlType.COMMIT) return { type }
  const value = record.value
  if (value === null || value.length < 6) throw invalid('Invalid end transaction marker value: fewer than 6 bytes')
  if (value.readInt16BE(0) < 0) throw invalid(`Invalid version found for end transaction marker: ${value.readInt16BE(0)}`)
  return { type, coordinatorEpoch: value.readInt32BE(2) }
}
