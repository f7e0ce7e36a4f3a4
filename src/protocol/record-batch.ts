// Layout of a record batch (magic v2) header. Offsets into a batch; every field before
// `records` is fixed-size, so the hot path reads and rewrites them in place without decoding
// any record. The CRC32C covers the bytes from `attributes` to the end of the batch.

export const BatchOffset = {
  baseOffset: 0, // int64
  batchLength: 8, // int32: bytes after this field
  partitionLeaderEpoch: 12, // int32
  magic: 16, // int8
  crc: 17, // uint32
  attributes: 21, // int16
  lastOffsetDelta: 23, // int32
  baseTimestamp: 27, // int64
  maxTimestamp: 35, // int64
  producerId: 43, // int64
  producerEpoch: 51, // int16
  baseSequence: 53, // int32
  recordCount: 57, // int32
  records: 61,
} as const

export const BATCH_HEADER_SIZE = 61
/** Bytes before the batchLength-counted part: baseOffset and batchLength themselves. */
export const BATCH_LOG_OVERHEAD = 12

export const Attributes = {
  compressionMask: 0x07,
  timestampTypeLogAppend: 0x08,
  transactional: 0x10,
  control: 0x20,
  deleteHorizon: 0x40,
} as const

export const enum Compression {
  None = 0,
  Gzip = 1,
  Snappy = 2,
  Lz4 = 3,
  Zstd = 4,
}

const TWO_32 = 2 ** 32

export function readInt64(buf: Buffer, at: number): number {
  return buf.readInt32BE(at) * TWO_32 + buf.readUInt32BE(at + 4)
}

export function writeInt64(buf: Buffer, at: number, v: number): void {
  const hi = Math.floor(v / TWO_32)
  buf.writeInt32BE(hi, at)
  buf.writeUInt32BE(v - hi * TWO_32, at + 4)
}

/** Total bytes of the batch starting at `at`, from its length field. */
export function batchSize(buf: Buffer, at = 0): number {
  return buf.readInt32BE(at + BatchOffset.batchLength) + BATCH_LOG_OVERHEAD
}

export function baseOffsetOf(buf: Buffer, at = 0): number {
  return readInt64(buf, at + BatchOffset.baseOffset)
}

export function lastOffsetOf(buf: Buffer, at = 0): number {
  return baseOffsetOf(buf, at) + buf.readInt32BE(at + BatchOffset.lastOffsetDelta)
}

export function maxTimestampOf(buf: Buffer, at = 0): number {
  return readInt64(buf, at + BatchOffset.maxTimestamp)
}

export function attributesOf(buf: Buffer, at = 0): number {
  return buf.readInt16BE(at + BatchOffset.attributes)
}

export function compressionOf(buf: Buffer, at = 0): Compression {
  return (attributesOf(buf, at) & Attributes.compressionMask) as Compression
}
