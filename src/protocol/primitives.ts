// Wire primitives of the Kafka protocol. No I/O: a Reader walks a Buffer, a Writer gathers
// output as a list of chunks so that large payloads (record batches) are referenced, never copied.

/** Thrown when bytes cannot be decoded; the connection answers or closes, the broker stays up. */
export class DecodeError extends Error {
  override name = 'DecodeError'
}

const TWO_32 = 2 ** 32

export class Reader {
  offset: number
  constructor(readonly buf: Buffer, offset = 0, readonly end = buf.length) {
    this.offset = offset
  }

  get remaining(): number {
    return this.end - this.offset
  }

  private need(n: number): number {
    const at = this.offset
    if (n < 0 || at + n > this.end) throw new DecodeError(`truncated: need ${n} bytes at ${at}, have ${this.end - at}`)
    this.offset = at + n
    return at
  }

  int8(): number { return this.buf.readInt8(this.need(1)) }
  uint8(): number { return this.buf.readUInt8(this.need(1)) }
  bool(): boolean { return this.buf.readUInt8(this.need(1)) !== 0 }
  int16(): number { return this.buf.readInt16BE(this.need(2)) }
  uint16(): number { return this.buf.readUInt16BE(this.need(2)) }
  int32(): number { return this.buf.readInt32BE(this.need(4)) }
  uint32(): number { return this.buf.readUInt32BE(this.need(4)) }
  float64(): number { return this.buf.readDoubleBE(this.need(8)) }

  /** int64 as a Number: offsets, timestamps and producer ids stay below 2^53 in practice. */
  int64(): number {
    const at = this.need(8)
    return this.buf.readInt32BE(at) * TWO_32 + this.buf.readUInt32BE(at + 4)
  }

  uvarint(): number {
    let value = 0
    let shift = 0
    for (;;) {
      const b = this.uint8()
      if (shift === 28 && b > 0x0f) throw new DecodeError('uvarint overflows 32 bits')
      value += (b & 0x7f) * 2 ** shift
      if ((b & 0x80) === 0) return value
      shift += 7
    }
  }

  varint(): number {
    const u = this.uvarint()
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2
  }

  uvarlong(): number {
    let value = 0
    let shift = 0
    for (;;) {
      const b = this.uint8()
      if (shift > 63) throw new DecodeError('uvarlong too long')
      value += (b & 0x7f) * 2 ** shift
      if ((b & 0x80) === 0) return value
      shift += 7
    }
  }

  varlong(): number {
    const u = this.uvarlong()
    // zig-zag on a Number: exact below 2^53, which covers every offset and timestamp delta we meet
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2
  }

  /** A slice of the underlying buffer: no copy. */
  slice(n: number): Buffer {
    const at = this.need(n)
    return this.buf.subarray(at, at + n)
  }

  uuid(): string {
    return this.slice(16).toString('hex')
  }

  stringOfLength(n: number): string {
    const at = this.need(n)
    return this.buf.toString('utf8', at, at + n)
  }

  /** Checks an element count against what is left, so a forged length cannot allocate unbounded memory. */
  count(n: number, minElementSize = 1): number {
    if (n < 0) throw new DecodeError(`negative length ${n}`)
    if (n * minElementSize > this.remaining) throw new DecodeError(`length ${n} exceeds the ${this.remaining} bytes left`)
    return n
  }
}

const CHUNK = 16 * 1024
const EMBED_LIMIT = 1024 // payloads above this are referenced, not copied

export class Writer {
  private chunks: Buffer[] = []
  private buf: Buffer
  private pos = 0
  private flushedLength = 0

  constructor(initial = 256) {
    this.buf = Buffer.allocUnsafe(initial)
  }

  get length(): number {
    return this.flushedLength + this.pos
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return
    this.seal()
    this.buf = Buffer.allocUnsafe(Math.max(CHUNK, n))
  }

  private seal(): void {
    if (this.pos > 0) {
      this.chunks.push(this.buf.subarray(0, this.pos))
      this.flushedLength += this.pos
      this.buf = this.buf.subarray(this.pos)
      this.pos = 0
    }
  }

  int8(v: number): this { this.ensure(1); this.buf.writeInt8(v, this.pos); this.pos += 1; return this }
  uint8(v: number): this { this.ensure(1); this.buf.writeUInt8(v, this.pos); this.pos += 1; return this }
  bool(v: boolean): this { return this.uint8(v ? 1 : 0) }
  int16(v: number): this { this.ensure(2); this.buf.writeInt16BE(v, this.pos); this.pos += 2; return this }
  uint16(v: number): this { this.ensure(2); this.buf.writeUInt16BE(v, this.pos); this.pos += 2; return this }
  int32(v: number): this { this.ensure(4); this.buf.writeInt32BE(v, this.pos); this.pos += 4; return this }
  uint32(v: number): this { this.ensure(4); this.buf.writeUInt32BE(v, this.pos); this.pos += 4; return this }
  float64(v: number): this { this.ensure(8); this.buf.writeDoubleBE(v, this.pos); this.pos += 8; return this }

  int64(v: number): this {
    this.ensure(8)
    this.buf.writeBigInt64BE(BigInt(v), this.pos)
    this.pos += 8
    return this
  }

  uvarint(v: number): this {
    this.ensure(10)
    while (v >= 0x80) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80
      v = Math.floor(v / 128)
    }
    this.buf[this.pos++] = v
    return this
  }

  varint(v: number): this {
    return this.uvarint(v >= 0 ? v * 2 : -v * 2 - 1)
  }

  varlong(v: number): this {
    return this.uvarint(v >= 0 ? v * 2 : -v * 2 - 1)
  }

  uuid(hex: string): this {
    if (hex.length !== 32) throw new RangeError(`uuid must be 32 hex digits, got ${hex.length}`)
    this.ensure(16)
    this.buf.write(hex, this.pos, 16, 'hex')
    this.pos += 16
    return this
  }

  utf8(s: string, byteLength: number): this {
    this.ensure(byteLength)
    this.buf.write(s, this.pos, byteLength, 'utf8')
    this.pos += byteLength
    return this
  }

  /** Appends bytes; large ones are kept by reference and written out as their own chunk. */
  bytes(b: Buffer): this {
    if (b.length <= EMBED_LIMIT) {
      this.ensure(b.length)
      b.copy(this.buf, this.pos)
      this.pos += b.length
    } else {
      this.seal()
      this.chunks.push(b)
      this.flushedLength += b.length
    }
    return this
  }

  /** Reserves 4 bytes to patch later (frame sizes); returns a patcher. */
  reserveInt32(): (v: number) => void {
    this.ensure(4)
    const target = this.buf
    const at = this.pos
    this.pos += 4
    return (v: number) => { target.writeInt32BE(v, at) }
  }

  /** The output as chunks, ready for a vectored socket write. */
  finish(): Buffer[] {
    this.seal()
    return this.chunks
  }

  /** The output as one buffer; copies, so keep it off the hot path. */
  toBuffer(): Buffer {
    const chunks = this.finish()
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
  }
}
