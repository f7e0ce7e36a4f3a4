// Every API of the table, at every version of its range, request and response:
// - round-trip of a value whose every field holds something other than its default,
//   of a value with every nullable field null, and of an empty value (which must decode to the defaults);
// - fuzzing: random bytes and damaged valid encodings decode or fail with DecodeError, nothing else.
// Values are generated from the declarations, so an API added to the table is covered without edits here.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { Apis } from './apis.js'
import { DecodeError, Reader } from './primitives.js'
import { defaults, inRange, UUID_ZERO, type Field, type Fields, type Message, type Type } from './schema.js'

type AnyMessage = Message<Fields>
type Variant = 'full' | 'nulls'

const messages: { api: string; dir: 'request' | 'response'; m: AnyMessage }[] = Object.values(Apis).flatMap((a) => [
  { api: a.name, dir: 'request' as const, m: a.request as unknown as AnyMessage },
  { api: a.name, dir: 'response' as const, m: a.response as unknown as AnyMessage },
])

function versionsOf(m: AnyMessage): number[] {
  const out: number[] = []
  for (let v = m.versions.min; v <= m.versions.max; v++) out.push(v)
  return out
}

// ---------------------------------------------------------------------------------------------
// Sample values built from a declaration

function typeDefault(type: Type<unknown, unknown>): unknown {
  switch (type.kind) {
    case 'bool': return false
    case 'string': return ''
    case 'bytes': return Buffer.alloc(0)
    case 'records': return null
    case 'uuid': return UUID_ZERO
    case 'array': return []
    case 'struct': return structDefaults(type.fields!)
    default: return 0
  }
}

function fieldDefault(f: Field<unknown, unknown>): unknown {
  return f.defaultValue !== undefined ? f.defaultValue : typeDefault(f.type)
}

function structDefaults(fields: Fields): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [name, f] of Object.entries(fields)) out[name] = fieldDefault(f)
  return out
}

/** A deterministic stream of distinct values, so two fields never carry the same one by accident. */
class Sampler {
  private n = 0
  next(): number { return ++this.n }

  scalar(type: Type<unknown, unknown>, avoid: unknown): unknown {
    const k = this.next()
    const pick = (a: unknown, b: unknown) => (a === avoid ? b : a)
    switch (type.kind) {
      case 'bool': return avoid === true ? false : true
      case 'int8': return pick(-(k % 100) - 2, 42)
      case 'int16': return pick(1000 + k, -1000 - k)
      case 'uint16': return pick(40000 + k, 7)
      case 'int32': return pick(100000 + k * 7, -3)
      case 'uint32': return pick(3000000000 + k, 9)
      case 'int64': return pick(2 ** 40 + k * 13, -7)
      case 'float64': return pick(k + 0.5, -0.25)
      case 'string': return `s${k}-ø€`
      case 'bytes': return Buffer.from([k & 0xff, 1, 2, 3])
      case 'records': return Buffer.from(`batch-${k}`)
      case 'uuid': return (k.toString(16).padStart(8, '0') + 'a1b2c3d4e5f60718293a4b5c').slice(0, 32)
      default: throw new Error(`not a scalar: ${type.kind}`)
    }
  }
}

/**
 * input: what is handed to the encoder (every field set, even the ones absent at this version);
 * expected: what must come back (defaults where the version lacks the field).
 */
function sample(fields: Fields, version: number, variant: Variant, s: Sampler): { input: Record<string, unknown>; expected: Record<string, unknown> } {
  const input: Record<string, unknown> = {}
  const expected: Record<string, unknown> = {}
  for (const [name, f] of Object.entries(fields)) {
    const present = inRange(f.versions, version)
    const nullable = present && inRange(f.nullableVersions, version)
    if (variant === 'nulls' && nullable) {
      input[name] = null
      expected[name] = null
      continue
    }
    const v = sampleType(f.type, version, variant, s, fieldDefault(f))
    input[name] = v.input
    expected[name] = present ? v.expected : fieldDefault(f)
  }
  return { input, expected }
}

function sampleType(type: Type<unknown, unknown>, version: number, variant: Variant, s: Sampler, avoid: unknown): { input: unknown; expected: unknown } {
  if (type.kind === 'struct') return sample(type.fields!, version, variant, s)
  if (type.kind === 'array') {
    const items = [0, 1].map(() => sampleType(type.of!, version, variant, s, undefined))
    return { input: items.map((i) => i.input), expected: items.map((i) => i.expected) }
  }
  const x = s.scalar(type, avoid)
  return { input: x, expected: x }
}

function roundTrip(m: AnyMessage, version: number, input: unknown): { decoded: unknown; remaining: number; bytes: Buffer } {
  const bytes = m.encode(version, input as never).toBuffer()
  const r = new Reader(bytes)
  const decoded = m.decode(version, r)
  return { decoded, remaining: r.remaining, bytes }
}

// ---------------------------------------------------------------------------------------------
// Round trips

test('the table holds every API once, keys match the declarations', () => {
  const keys = new Set<number>()
  for (const a of Object.values(Apis)) {
    assert.equal(a.request.apiKey, a.key)
    assert.equal(a.response.apiKey, a.key)
    assert.ok(!keys.has(a.key), `duplicate key ${a.key}`)
    keys.add(a.key)
    assert.deepEqual(a.request.versions, a.response.versions, `${a.name}: request and response ranges differ`)
    assert.deepEqual(a.request.flexibleVersions, a.response.flexibleVersions, `${a.name}: flexible ranges differ`)
    assert.equal(a.request.name, `${a.name}Request`)
    assert.equal(a.response.name, `${a.name}Response`)
  }
})

for (const { api, dir, m } of messages) {
  test(`${api} ${dir} round-trips at every version`, () => {
    for (const version of versionsOf(m)) {
      for (const variant of ['full', 'nulls'] as const) {
        const { input, expected } = sample(m.fields, version, variant, new Sampler())
        const { decoded, remaining } = roundTrip(m, version, input)
        assert.equal(remaining, 0, `v${version} ${variant}: bytes left over`)
        assert.deepEqual(decoded, expected, `v${version} ${variant}`)
      }
      // nothing set: every field encodes as its default and decodes back to it
      const { decoded, remaining } = roundTrip(m, version, {})
      assert.equal(remaining, 0, `v${version} empty: bytes left over`)
      assert.deepEqual(decoded, defaults(m), `v${version} empty`)
    }
  })
}

// ---------------------------------------------------------------------------------------------
// Fuzzing

/** Counts decoded objects and array elements, to catch a decoder that builds far more than its input holds. */
function size(x: unknown): number {
  if (Array.isArray(x)) return 1 + x.reduce((n: number, e) => n + size(e), 0)
  if (x !== null && typeof x === 'object' && !Buffer.isBuffer(x)) return 1 + Object.values(x).reduce((n: number, e) => n + size(e), 0)
  return 1
}

function mustDecodeOrRefuse(m: AnyMessage, version: number, bytes: Uint8Array): void {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
  const started = performance.now()
  try {
    const decoded = m.decode(version, new Reader(buf))
    // a value is bounded by its bytes: each element or struct costs at least a byte, bar structs that are empty at a version
    const objects = size(decoded)
    const fixed = size(defaults(m))
    assert.ok(objects <= fixed + 4 * buf.length + 64, `v${version}: ${objects} objects decoded from ${buf.length} bytes`)
  } catch (e) {
    if (!(e instanceof DecodeError)) {
      throw new Error(`${m.name} v${version} threw ${(e as Error)?.name}: ${(e as Error)?.message} on ${buf.toString('hex')}`)
    }
  }
  assert.ok(performance.now() - started < 200, `${m.name} v${version}: decode took too long`)
}

const validEncodings = new Map<AnyMessage, Buffer[][]>()
function encodings(m: AnyMessage): Buffer[][] {
  let out = validEncodings.get(m)
  if (!out) {
    out = []
    for (const version of versionsOf(m)) {
      out[version] = (['full', 'nulls'] as const).map((variant) => m.encode(version, sample(m.fields, version, variant, new Sampler()).input as never).toBuffer())
    }
    validEncodings.set(m, out)
  }
  return out
}

const RUNS = 60

for (const { api, dir, m } of messages) {
  test(`${api} ${dir} decoders refuse bad bytes with DecodeError only`, () => {
    const version = fc.integer({ min: m.versions.min, max: m.versions.max })
    // random bytes
    fc.assert(fc.property(version, fc.uint8Array({ maxLength: 256 }), (v, bytes) => { mustDecodeOrRefuse(m, v, bytes) }), { numRuns: RUNS })
    // valid encodings, truncated
    fc.assert(
      fc.property(version, fc.nat(1), fc.double({ min: 0, max: 1, noNaN: true }), (v, which, cut) => {
        const b = encodings(m)[v]![which]!
        mustDecodeOrRefuse(m, v, b.subarray(0, Math.floor(b.length * cut)))
      }),
      { numRuns: RUNS },
    )
    // valid encodings with flipped bits, overwritten bytes and inserted bytes
    fc.assert(
      fc.property(
        version, fc.nat(1),
        fc.array(fc.tuple(fc.nat(), fc.nat(7), fc.constantFrom('flip', 'set', 'insert'), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        (v, which, edits) => {
          const bytes = [...encodings(m)[v]![which]!]
          for (const [at, bit, op, value] of edits) {
            if (bytes.length === 0) break
            const i = at % bytes.length
            if (op === 'flip') bytes[i]! ^= 1 << bit
            else if (op === 'set') bytes[i] = value
            else bytes.splice(i, 0, value)
          }
          mustDecodeOrRefuse(m, v, Uint8Array.from(bytes))
        },
      ),
      { numRuns: RUNS },
    )
  })
}

test('a forged huge length is refused before anything is allocated', () => {
  // Metadata request v0: topics array claiming 2^31-1 entries, then nothing
  const bytes = Buffer.from([0x7f, 0xff, 0xff, 0xff])
  assert.throws(() => Apis.Metadata.request.decode(0, new Reader(bytes)), DecodeError)
  // the same in a flexible version (compact array length as uvarint)
  const compact = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f])
  assert.throws(() => Apis.Metadata.request.decode(12, new Reader(compact)), DecodeError)
})
