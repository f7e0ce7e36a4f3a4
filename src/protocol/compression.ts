// Compression codecs of record batches (the low three bits of the batch attributes). No I/O.
//
// What real clients send, and therefore what `decompress` accepts:
// - gzip: an ordinary gzip stream (zlib).
// - snappy: the Java client writes the xerial framing ("\x82SNAPPY\0", two int32 versions, then
//   [int32 length][raw snappy block] repeated); kafka-python writes xerial too; librdkafka and
//   KafkaJS write a raw snappy block (and read both). We write raw snappy, which every client reads.
// - lz4: the LZ4 *frame* format (magic 0x184D2204), not the raw block format.
// - zstd: one or more zstd frames, often without a content size in the header.
//
// Every decompression is bounded by `maxOutput`: a forged length field or a decompression bomb
// is refused before the output is allocated (snappy, lz4, zstd with content size) or while it is
// produced (gzip, zstd streaming), never after allocating gigabytes.

import { promisify } from 'node:util'
import zlib from 'node:zlib'
import { createRequire } from 'node:module'
import type * as SnappyModule from 'snappy'
import type * as Lz4Module from 'lz4-napi'
import type * as ZstdModule from 'zstd-napi'
import type ZstdBindingModule from 'zstd-napi/binding.js'
import { Compression } from './record-batch.js'
import { ErrorCode, KafkaError } from './errors.js'

// The native codecs load on first use: most brokers never see some codecs, and loading all
// four at start costs a noticeable share of start-to-ready time.
const require = createRequire(import.meta.url)
let snappyModule: typeof SnappyModule | undefined
let lz4Module: typeof Lz4Module | undefined
let zstdModule: typeof ZstdModule | undefined
let zstdBindingModule: typeof ZstdBindingModule | undefined
const lazySnappy = (): typeof SnappyModule => (snappyModule ??= require('snappy') as typeof SnappyModule)
const lazyLz4 = (): typeof Lz4Module => (lz4Module ??= require('lz4-napi') as typeof Lz4Module)
const lazyZstd = (): typeof ZstdModule => (zstdModule ??= require('zstd-napi') as typeof ZstdModule)
const lazyZstdBinding = (): typeof ZstdBindingModule => (zstdBindingModule ??= require('zstd-napi/binding.js') as typeof ZstdBindingModule)

export { Compression }

/** Default bound on one decompressed payload when the caller gives none. */
export const DEFAULT_MAX_DECOMPRESSED = 256 * 1024 * 1024

const CODEC_NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const
export type CompressionName = (typeof CODEC_NAMES)[number]

export function compressionName(codec: Compression): CompressionName {
  const name = CODEC_NAMES[codec]
  if (name === undefined) throw unsupported(codec)
  return name
}

export function compressionFromName(name: string): Compression {
  const i = (CODEC_NAMES as readonly string[]).indexOf(name.toLowerCase())
  if (i < 0) throw new KafkaError(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `unknown compression type ${name}`)
  return i as Compression
}

function unsupported(codec: number): KafkaError {
  return new KafkaError(ErrorCode.CORRUPT_MESSAGE, `unknown compression type id ${codec}`)
}

function corrupt(codec: Compression, cause: unknown): KafkaError {
  if (cause instanceof KafkaError) return cause
  const why = cause instanceof Error ? cause.message : String(cause)
  return new KafkaError(ErrorCode.CORRUPT_MESSAGE, `${CODEC_NAMES[codec] ?? codec} payload cannot be decompressed: ${why}`)
}

function tooLarge(codec: Compression, size: number, max: number): KafkaError {
  return new KafkaError(
    ErrorCode.MESSAGE_TOO_LARGE,
    `${CODEC_NAMES[codec]} payload decompresses to ${size} bytes or more, above the ${max} byte limit`,
  )
}

// ---------------------------------------------------------------------------------------------
// compress

const gzipAsync = promisify(zlib.gzip)

export async function compress(codec: Compression, data: Buffer): Promise<Buffer> {
  switch (codec) {
    case Compression.None: return data
    case Compression.Gzip: return gzipAsync(data)
    case Compression.Snappy: return lazySnappy().compress(data)
    case Compression.Lz4: return lazyLz4().compressFrame(data)
    case Compression.Zstd: return lazyZstd().compress(data) // zstd-napi has no async one-shot; it is fast
    default: throw unsupported(codec)
  }
}

export function compressSync(codec: Compression, data: Buffer): Buffer {
  switch (codec) {
    case Compression.None: return data
    case Compression.Gzip: return zlib.gzipSync(data)
    case Compression.Snappy: return lazySnappy().compressSync(data)
    case Compression.Lz4: return lazyLz4().compressFrameSync(data)
    case Compression.Zstd: return lazyZstd().compress(data)
    default: throw unsupported(codec)
  }
}

// ---------------------------------------------------------------------------------------------
// decompress

export function decompress(codec: Compression, data: Buffer, maxOutput = DEFAULT_MAX_DECOMPRESSED): Buffer {
  try {
    switch (codec) {
      case Compression.None:
        if (data.length > maxOutput) throw tooLarge(codec, data.length, maxOutput)
        return data
      case Compression.Gzip: return gunzipBounded(data, maxOutput)
      case Compression.Snappy: return snappyDecompress(data, maxOutput)
      case Compression.Lz4: return lz4Decompress(data, maxOutput)
      case Compression.Zstd: return zstdDecompress(data, maxOutput)
      default: throw unsupported(codec)
    }
  } catch (err) {
    throw corrupt(codec, err)
  }
}

function gunzipBounded(data: Buffer, maxOutput: number): Buffer {
  try {
    return zlib.gunzipSync(data, { maxOutputLength: Math.max(1, maxOutput) })
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(Compression.Gzip, maxOutput + 1, maxOutput)
    throw err
  }
}

// --- snappy

const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]) // \x82SNAPPY\0
const XERIAL_HEADER = 16 // magic, int32 version, int32 compatible version

export function isXerialSnappy(data: Buffer): boolean {
  return data.length >= XERIAL_HEADER && data.compare(XERIAL_MAGIC, 0, 8, 0, 8) === 0
}

/** The uncompressed length a raw snappy block announces (its leading uvarint). */
function snappyRawLength(data: Buffer, start: number, end: number): number {
  let value = 0
  for (let i = 0, at = start; i < 5; i++, at++) {
    if (at >= end) throw new Error('truncated snappy length')
    const b = data[at]!
    value += (b & 0x7f) * 2 ** (7 * i)
    if ((b & 0x80) === 0) return value
  }
  throw new Error('snappy length varint too long')
}

/**
 * Snappy's densest element is a 3-byte copy emitting 64 bytes, so a block can never expand more
 * than ~21.3 times: an announced length beyond that is a forgery, refused before the decoder
 * allocates it.
 */
const SNAPPY_MAX_RATIO = 22

function snappyRaw(block: Buffer): Buffer {
  const n = snappyRawLength(block, 0, block.length)
  if (n > block.length * SNAPPY_MAX_RATIO + 16) throw new Error(`snappy block of ${block.length} bytes cannot hold ${n} bytes`)
  return lazySnappy().uncompressSync(block, { asBuffer: true }) as Buffer
}

function snappyDecompress(data: Buffer, maxOutput: number): Buffer {
  if (!isXerialSnappy(data)) {
    const n = snappyRawLength(data, 0, data.length)
    if (n > maxOutput) throw tooLarge(Compression.Snappy, n, maxOutput)
    return snappyRaw(data)
  }
  // xerial: validate every block header and sum the announced sizes before decompressing any
  let total = 0
  let blocks = 0
  for (let at = XERIAL_HEADER; at < data.length;) {
    if (at + 4 > data.length) throw new Error('truncated xerial block length')
    const len = data.readInt32BE(at)
    if (len < 0 || at + 4 + len > data.length) throw new Error(`xerial block length ${len} overruns the payload`)
    total += snappyRawLength(data, at + 4, at + 4 + len)
    if (total > maxOutput) throw tooLarge(Compression.Snappy, total, maxOutput)
    blocks++
    at += 4 + len
  }
  const out = blocks === 1 ? null : Buffer.allocUnsafe(total)
  let pos = 0
  for (let at = XERIAL_HEADER; at < data.length;) {
    const len = data.readInt32BE(at)
    const part = snappyRaw(data.subarray(at + 4, at + 4 + len))
    if (out === null) return part
    part.copy(out, pos)
    pos += part.length
    at += 4 + len
  }
  return out ?? Buffer.alloc(0)
}

// --- lz4 (frame format)

const LZ4_MAGIC = 0x184d2204
const LZ4_SKIPPABLE_MASK = 0xfffffff0
const LZ4_SKIPPABLE = 0x184d2a50
const LZ4_BLOCK_MAX = [0, 0, 0, 0, 64 << 10, 256 << 10, 1 << 20, 4 << 20]
/** An LZ4 sequence emits at most ~255 bytes per input byte. */
const LZ4_MAX_RATIO = 255

function lz4Decompress(data: Buffer, maxOutput: number): Buffer {
  const bound = lz4FrameBound(data, false)
  if (bound > maxOutput) {
    // the cheap bound is too loose to decide: count the exact output by walking the sequences
    const exact = lz4FrameBound(data, true)
    if (exact > maxOutput) throw tooLarge(Compression.Lz4, exact, maxOutput)
  }
  return lazyLz4().decompressFrameSync(data)
}

/**
 * An upper bound of the output of the LZ4 frames in `data` (exact when `exact`), walking the frame
 * and block headers only (or, when exact, each block's sequences) without allocating.
 */
export function lz4FrameBound(data: Buffer, exact: boolean): number {
  let total = 0
  let at = 0
  if (data.length < 7) throw new Error('truncated lz4 frame')
  while (at < data.length) {
    if (at + 4 > data.length) throw new Error('truncated lz4 frame magic')
    const magic = data.readUInt32LE(at)
    if ((magic & LZ4_SKIPPABLE_MASK) >>> 0 === LZ4_SKIPPABLE) {
      if (at + 8 > data.length) throw new Error('truncated lz4 skippable frame')
      at += 8 + data.readUInt32LE(at + 4)
      continue
    }
    if (magic !== LZ4_MAGIC) throw new Error(`bad lz4 frame magic 0x${magic.toString(16)}`)
    if (at + 7 > data.length) throw new Error('truncated lz4 frame header')
    const flg = data[at + 4]!
    const bd = data[at + 5]!
    if (flg >> 6 !== 1) throw new Error('unsupported lz4 frame version')
    const blockMax = LZ4_BLOCK_MAX[(bd >> 4) & 7]!
    if (blockMax === 0) throw new Error('bad lz4 block max size')
    const blockChecksum = (flg & 0x10) !== 0
    const contentChecksum = (flg & 0x04) !== 0
    at += 4 + 2 + ((flg & 0x08) !== 0 ? 8 : 0) + ((flg & 0x01) !== 0 ? 4 : 0) + 1
    for (;;) {
      if (at + 4 > data.length) throw new Error('truncated lz4 block header')
      const word = data.readUInt32LE(at)
      at += 4
      if (word === 0) break // end mark
      const size = word & 0x7fffffff
      const stored = word >>> 31 === 1
      if (size > blockMax || at + size > data.length) throw new Error(`lz4 block size ${size} invalid`)
      if (stored) total += size
      else if (exact) total += lz4BlockOutput(data, at, at + size, blockMax)
      else total += Math.min(blockMax, size * LZ4_MAX_RATIO + 16)
      at += size + (blockChecksum ? 4 : 0)
    }
    if (contentChecksum) at += 4
    if (at > data.length) throw new Error('truncated lz4 frame')
  }
  return total
}

/** Exact output size of one compressed LZ4 block, from its sequences, without decompressing. */
function lz4BlockOutput(data: Buffer, start: number, end: number, blockMax: number): number {
  let out = 0
  let p = start
  while (p < end) {
    const token = data[p++]!
    let lit = token >> 4
    if (lit === 15) {
      let b: number
      do { if (p >= end) throw new Error('truncated lz4 literal length'); b = data[p++]!; lit += b } while (b === 255)
    }
    p += lit
    out += lit
    if (p >= end) {
      if (p > end) throw new Error('lz4 literals overrun the block')
      break // the last sequence carries literals only
    }
    p += 2 // match offset
    let match = token & 15
    if (match === 15) {
      let b: number
      do { if (p >= end) throw new Error('truncated lz4 match length'); b = data[p++]!; match += b } while (b === 255)
    }
    out += match + 4
    if (out > blockMax) throw new Error('lz4 block decompresses beyond its max size')
  }
  return out
}

// --- zstd

const ZSTD_WINDOW_LOG_MAX = 24 // 16 MiB: producers compress batches of at most a few MiB
const ZSTD_TRUSTED_SIZE = 4 << 20
let zstdCtx: InstanceType<typeof ZstdBindingModule.DCtx> | undefined

function zstdContext(): InstanceType<typeof ZstdBindingModule.DCtx> {
  if (zstdCtx === undefined) {
    const binding = lazyZstdBinding()
    zstdCtx = new binding.DCtx()
    zstdCtx.setParameter(binding.DParameter.windowLogMax, ZSTD_WINDOW_LOG_MAX)
  }
  return zstdCtx
}

function zstdDecompress(data: Buffer, maxOutput: number): Buffer {
  const dctx = zstdContext()
  dctx.reset(lazyZstdBinding().ResetDirective.sessionOnly)
  // fast path: every frame announces its content size, and the size is plausible (zstd's RLE
  // blocks make any ratio possible, so a large announced size is only trusted while streaming)
  let known: number | null = 0
  for (let rest: Buffer = data; rest.length > 0 && known !== null;) {
    const size = lazyZstdBinding().getFrameContentSize(rest)
    if (size === null) { known = null; break }
    known += size
    if (known > maxOutput) throw tooLarge(Compression.Zstd, known, maxOutput)
    rest = rest.subarray(lazyZstdBinding().findFrameCompressedSize(rest))
  }
  if (known !== null && known <= Math.max(ZSTD_TRUSTED_SIZE, data.length * 64)) {
    const out = Buffer.allocUnsafe(known)
    const n = dctx.decompress(out, data)
    if (n !== known) throw new Error(`zstd frame produced ${n} bytes, announced ${known}`)
    return out
  }
  // streaming: chunks grow with the output, never beyond maxOutput
  const chunks: Buffer[] = []
  let produced = 0
  let rest: Buffer = data
  let chunkSize = Math.min(Math.max(64 << 10, data.length * 4), maxOutput + 1)
  for (;;) {
    const chunk = Buffer.allocUnsafe(chunkSize)
    const [hint, written, consumed] = dctx.decompressStream(chunk, rest)
    rest = rest.subarray(consumed)
    if (written > 0) {
      chunks.push(chunk.subarray(0, written))
      produced += written
      if (produced > maxOutput) throw tooLarge(Compression.Zstd, produced, maxOutput)
    }
    if (rest.length === 0 && hint === 0 && written < chunkSize) break
    if (consumed === 0 && written === 0) throw new Error('zstd stream makes no progress (truncated frame?)')
    chunkSize = Math.min(chunkSize * 2, Math.max(1, maxOutput + 1 - produced))
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, produced)
}
