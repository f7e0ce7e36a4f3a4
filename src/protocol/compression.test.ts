import { test } from 'node:test'
import assert from 'node:assert/strict'
import zlib from 'node:zlib'
import * as snappy from 'snappy'
import * as lz4 from 'lz4-napi'
import zstdBinding from 'zstd-napi/binding.js'
import {
  Compression,
  compress,
  compressSync,
  compressionFromName,
  compressionName,
  decompress,
  isXerialSnappy,
  lz4FrameBound,
} from './compression.js'
import { ErrorCode, KafkaError } from './errors.js'

const CODECS = [Compression.None, Compression.Gzip, Compression.Snappy, Compression.Lz4, Compression.Zstd]

function sample(n: number): Buffer {
  const b = Buffer.alloc(n)
  for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >> 5)) & 0xff
  return b
}

function isCode(code: number): (err: unknown) => boolean {
  return (err) => err instanceof KafkaError && err.code === code
}

test('every codec round-trips, sync and async, empty and large inputs', async () => {
  for (const codec of CODECS) {
    for (const data of [Buffer.alloc(0), Buffer.from('hello'), sample(300_000)]) {
      const a = compressSync(codec, data)
      const b = await compress(codec, data)
      assert.deepEqual(decompress(codec, a), data, `${compressionName(codec)} sync`)
      assert.deepEqual(decompress(codec, b), data, `${compressionName(codec)} async`)
    }
  }
})

test('codec names map both ways', () => {
  for (const codec of CODECS) assert.equal(compressionFromName(compressionName(codec)), codec)
  assert.throws(() => compressionFromName('brotli'), isCode(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE.code))
})

function xerial(data: Buffer, blockSize: number): Buffer {
  const parts: Buffer[] = [Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1])]
  for (let at = 0; at < data.length; at += blockSize) {
    const block = snappy.compressSync(data.subarray(at, at + blockSize))
    const len = Buffer.alloc(4)
    len.writeInt32BE(block.length)
    parts.push(len, block)
  }
  return Buffer.concat(parts)
}

test('snappy: raw and xerial-framed (Java client, kafka-python) payloads both decompress', () => {
  const data = sample(100_000)
  const framed = xerial(data, 32 * 1024)
  assert.ok(isXerialSnappy(framed))
  assert.ok(!isXerialSnappy(compressSync(Compression.Snappy, data)))
  assert.deepEqual(decompress(Compression.Snappy, framed), data)
  assert.deepEqual(decompress(Compression.Snappy, xerial(data, 1 << 20)), data) // one block
})

test('snappy: a truncated xerial block or a forged length is CORRUPT_MESSAGE / MESSAGE_TOO_LARGE', () => {
  const framed = xerial(sample(100_000), 32 * 1024)
  assert.throws(() => decompress(Compression.Snappy, framed.subarray(0, framed.length - 3)), isCode(ErrorCode.CORRUPT_MESSAGE.code))
  // a raw block announcing 4 GiB - 1
  const forged = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x00])
  assert.throws(() => decompress(Compression.Snappy, forged, 1 << 20), isCode(ErrorCode.MESSAGE_TOO_LARGE.code))
})

test('lz4: the frame bound is exact when walked and decompression refuses bombs before allocating', () => {
  const zeros = Buffer.alloc(8 << 20)
  const frame = lz4.compressFrameSync(zeros)
  assert.equal(lz4FrameBound(frame, true), zeros.length)
  assert.ok(lz4FrameBound(frame, false) >= zeros.length)
  assert.throws(() => decompress(Compression.Lz4, frame, 1 << 20), isCode(ErrorCode.MESSAGE_TOO_LARGE.code))
  assert.deepEqual(decompress(Compression.Lz4, frame, 8 << 20), zeros)
  const data = sample(200_000)
  assert.equal(lz4FrameBound(lz4.compressFrameSync(data), true), data.length)
  assert.throws(() => decompress(Compression.Lz4, Buffer.from('not an lz4 frame')), isCode(ErrorCode.CORRUPT_MESSAGE.code))
})

test('zstd: frames without a content size decompress by streaming, bounded', () => {
  // a frame without content size, as librdkafka writes it: compress with the streaming API
  const data = sample(1 << 20)
  const cctx = new zstdBinding.CCtx()
  cctx.setParameter(zstdBinding.CParameter.contentSizeFlag, 0)
  const out = Buffer.alloc(zstdBinding.compressBound(data.length))
  const [, produced] = cctx.compressStream2(out, data, zstdBinding.EndDirective.end)
  const frame = out.subarray(0, produced)
  assert.equal(zstdBinding.getFrameContentSize(frame), null)
  assert.deepEqual(decompress(Compression.Zstd, frame), data)
  assert.throws(() => decompress(Compression.Zstd, frame, 100_000), isCode(ErrorCode.MESSAGE_TOO_LARGE.code))
  // content size present but above the limit: refused before allocating
  const sized = compressSync(Compression.Zstd, Buffer.alloc(4 << 20))
  assert.throws(() => decompress(Compression.Zstd, sized, 1 << 20), isCode(ErrorCode.MESSAGE_TOO_LARGE.code))
  // two concatenated frames
  const two = Buffer.concat([compressSync(Compression.Zstd, Buffer.from('ab')), frame])
  assert.deepEqual(decompress(Compression.Zstd, two), Buffer.concat([Buffer.from('ab'), data]))
  assert.throws(() => decompress(Compression.Zstd, frame.subarray(0, frame.length - 5)), isCode(ErrorCode.CORRUPT_MESSAGE.code))
})

test('gzip: bounded by maxOutputLength; garbage is CORRUPT_MESSAGE', () => {
  const bomb = zlib.gzipSync(Buffer.alloc(16 << 20))
  assert.throws(() => decompress(Compression.Gzip, bomb, 1 << 20), isCode(ErrorCode.MESSAGE_TOO_LARGE.code))
  assert.throws(() => decompress(Compression.Gzip, Buffer.from('nope')), isCode(ErrorCode.CORRUPT_MESSAGE.code))
})

test('unknown codec ids are CORRUPT_MESSAGE', () => {
  assert.throws(() => decompress(5 as Compression, Buffer.from('x')), isCode(ErrorCode.CORRUPT_MESSAGE.code))
  assert.throws(() => compressSync(7 as Compression, Buffer.from('x')), isCode(ErrorCode.CORRUPT_MESSAGE.code))
})
