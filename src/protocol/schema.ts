// The one place a Kafka message's shape is declared. A declaration mirrors Kafka's JSON message
// definitions (fields, version ranges, nullable versions, tagged fields, flexible versions); every
// version's encoder and decoder is derived from it here, compiled once per version and cached.
//
//   const req = message({ name: 'HeartbeatRequest', apiKey: 12, validVersions: '0-4', flexibleVersions: '4+',
//     fields: { groupId: field(t.string), generationId: field(t.int32) } })
//   type HeartbeatRequest = DecodedOf<typeof req>

import { DecodeError, Reader, Writer } from './primitives.js'

// ---------------------------------------------------------------------------------------------
// Versions

/** A version range as Kafka writes it: '0+', '3-7', '5', or 'none'. */
export type VersionSpec = string

export interface VersionRange { min: number; max: number }

const NONE: VersionRange = { min: 1, max: 0 }

export function parseVersions(spec: VersionSpec): VersionRange {
  if (spec === 'none') return NONE
  const plus = /^(\d+)\+$/.exec(spec)
  if (plus) return { min: Number(plus[1]), max: Number.MAX_SAFE_INTEGER }
  const range = /^(\d+)-(\d+)$/.exec(spec)
  if (range) return { min: Number(range[1]), max: Number(range[2]) }
  const single = /^(\d+)$/.exec(spec)
  if (single) return { min: Number(single[1]), max: Number(single[1]) }
  throw new Error(`bad version spec '${spec}'`)
}

export function inRange(r: VersionRange, v: number): boolean {
  return v >= r.min && v <= r.max
}

// ---------------------------------------------------------------------------------------------
// Types. T is the decoded value, I what an encoder accepts (optional fields, buffer lists).

export type Kind =
  | 'bool' | 'int8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'float64'
  | 'string' | 'bytes' | 'records' | 'uuid' | 'array' | 'struct'

export interface Type<T, I = T> {
  readonly kind: Kind
  readonly of?: Type<unknown, unknown>
  readonly fields?: Fields
  /** phantom markers for inference; never set */
  readonly _decoded?: T
  readonly _input?: I
}

export interface FieldOptions {
  /** versions in which the field exists; default '0+' */
  v?: VersionSpec
  /** versions in which it may be null */
  nullable?: VersionSpec
  /** versions in which it is a tagged field, with its tag */
  tagged?: VersionSpec
  tag?: number
  /** value when absent from a version or from the wire */
  default?: unknown
}

export interface Field<T, I = T> {
  readonly type: Type<unknown, unknown>
  readonly versions: VersionRange
  readonly nullableVersions: VersionRange
  readonly taggedVersions: VersionRange
  readonly tag: number
  readonly defaultValue: unknown
  readonly _decoded?: T
  readonly _input?: I
}

export type Fields = Record<string, Field<unknown, unknown>>

export type DecodedStruct<F extends Fields> = { [K in keyof F]: F[K] extends Field<infer T, unknown> ? T : never }
export type InputStruct<F extends Fields> = { [K in keyof F]?: F[K] extends Field<unknown, infer I> ? I : never }

export const UUID_ZERO = '00000000000000000000000000000000'

function prim<T>(kind: Kind): Type<T> {
  return { kind }
}

export const t = {
  bool: prim<boolean>('bool'),
  int8: prim<number>('int8'),
  int16: prim<number>('int16'),
  uint16: prim<number>('uint16'),
  int32: prim<number>('int32'),
  uint32: prim<number>('uint32'),
  int64: prim<number>('int64'),
  float64: prim<number>('float64'),
  string: prim<string>('string'),
  bytes: prim<Buffer>('bytes'),
  /** Record batches: decoded as a slice of the request; encoded from one buffer or a list of them. */
  records: { kind: 'records' } as Type<Buffer | null, Buffer | readonly Buffer[] | null>,
  uuid: prim<string>('uuid'),
  array<T, I>(of: Type<T, I>): Type<T[], I[]> {
    return { kind: 'array', of: of as Type<unknown, unknown> }
  },
  struct<F extends Fields>(fields: F): Type<DecodedStruct<F>, InputStruct<F>> {
    return { kind: 'struct', fields }
  },
}

type Nullable<O> = O extends { nullable: string } ? null : never

export function field<T, I, O extends FieldOptions = FieldOptions>(
  type: Type<T, I>,
  opts?: O,
): Field<T | Nullable<O>, I | Nullable<O>> {
  const nullableVersions = opts?.nullable ? parseVersions(opts.nullable) : NONE
  const taggedVersions = opts?.tagged ? parseVersions(opts.tagged) : NONE
  if (opts?.tagged && opts.tag === undefined) throw new Error('a tagged field needs a tag')
  return {
    type: type as Type<unknown, unknown>,
    versions: parseVersions(opts?.v ?? '0+'),
    nullableVersions,
    taggedVersions,
    tag: opts?.tag ?? -1,
    defaultValue: opts && 'default' in opts ? opts.default : opts?.nullable ? null : undefined,
  }
}

/** A struct field, shorthand for field(t.struct(...)) / field(t.array(t.struct(...))). */
export function structField<F extends Fields, O extends FieldOptions = FieldOptions>(fields: F, opts?: O) {
  return field(t.struct(fields), opts)
}
export function arrayField<F extends Fields, O extends FieldOptions = FieldOptions>(fields: F, opts?: O) {
  return field(t.array(t.struct(fields)), opts)
}

// ---------------------------------------------------------------------------------------------
// Defaults

function typeDefault(type: Type<unknown, unknown>): unknown {
  switch (type.kind) {
    case 'bool': return false
    case 'int8': case 'int16': case 'uint16': case 'int32': case 'uint32': case 'int64': case 'float64': return 0
    case 'string': return ''
    case 'bytes': return Buffer.alloc(0)
    case 'records': return null
    case 'uuid': return UUID_ZERO
    case 'array': return []
    case 'struct': return structDefault(type.fields!)
  }
}

function fieldDefault(f: Field<unknown, unknown>): unknown {
  if (f.defaultValue !== undefined) {
    // arrays and structs must not be shared between decoded messages
    return Array.isArray(f.defaultValue) ? [...f.defaultValue] : f.defaultValue
  }
  return typeDefault(f.type)
}

function structDefault(fields: Fields): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [name, f] of Object.entries(fields)) out[name] = fieldDefault(f)
  return out
}

// ---------------------------------------------------------------------------------------------
// Codecs, compiled per (type, version, flexible)

type Decode = (r: Reader) => unknown
type Encode = (w: Writer, value: unknown) => void

interface StructCodec { decode: Decode; encode: Encode }

const structCache = new WeakMap<Fields, Map<number, StructCodec>>()

function cacheKey(version: number, flexible: boolean): number {
  return version * 2 + (flexible ? 1 : 0)
}

export function structCodec(fields: Fields, version: number, flexible: boolean): StructCodec {
  let byVersion = structCache.get(fields)
  if (!byVersion) structCache.set(fields, (byVersion = new Map()))
  const key = cacheKey(version, flexible)
  let codec = byVersion.get(key)
  if (!codec) byVersion.set(key, (codec = compileStruct(fields, version, flexible)))
  return codec
}

interface Plan {
  name: string
  field: Field<unknown, unknown>
  nullable: boolean
  decode: Decode
  encode: Encode
}

function compileStruct(fields: Fields, version: number, flexible: boolean): StructCodec {
  const regular: Plan[] = []
  const tagged: Plan[] = []
  const absent: [string, Field<unknown, unknown>][] = []
  for (const [name, f] of Object.entries(fields)) {
    if (!inRange(f.versions, version)) {
      absent.push([name, f])
      continue
    }
    const nullable = inRange(f.nullableVersions, version)
    const plan: Plan = {
      name,
      field: f,
      nullable,
      decode: compileDecode(f.type, version, flexible, nullable, f),
      encode: compileEncode(f.type, version, flexible, nullable, f),
    }
    if (flexible && inRange(f.taggedVersions, version)) tagged.push(plan)
    else regular.push(plan)
  }
  tagged.sort((a, b) => a.field.tag - b.field.tag)
  const byTag = new Map(tagged.map((p) => [p.field.tag, p]))

  const decode: Decode = (r) => {
    const out: Record<string, unknown> = {}
    for (const p of regular) out[p.name] = p.decode(r)
    for (const [name, f] of absent) out[name] = fieldDefault(f)
    if (flexible) {
      for (const p of tagged) out[p.name] = fieldDefault(p.field)
      const n = r.count(r.uvarint(), 2)
      let lastTag = -1
      for (let i = 0; i < n; i++) {
        const tag = r.uvarint()
        if (tag <= lastTag) throw new DecodeError(`tagged fields out of order: ${tag} after ${lastTag}`)
        lastTag = tag
        const size = r.count(r.uvarint())
        const p = byTag.get(tag)
        if (!p) {
          r.slice(size) // unknown tags are skipped, as the protocol requires
          continue
        }
        const end = r.offset + size
        const sub = new Reader(r.buf, r.offset, end)
        out[p.name] = p.decode(sub)
        r.offset = end
      }
    }
    return out
  }

  const encode: Encode = (w, value) => {
    const v = (value ?? {}) as Record<string, unknown>
    for (const p of regular) {
      const x = v[p.name]
      p.encode(w, x === undefined ? fieldDefault(p.field) : x)
    }
    if (flexible) {
      const present = tagged.filter((p) => {
        const x = v[p.name]
        return x !== undefined && !isDefault(x, p.field)
      })
      w.uvarint(present.length)
      for (const p of present) {
        const sub = new Writer(64)
        p.encode(sub, v[p.name])
        w.uvarint(p.field.tag).uvarint(sub.length)
        for (const chunk of sub.finish()) w.bytes(chunk)
      }
    }
  }

  return { decode, encode }
}

function isDefault(x: unknown, f: Field<unknown, unknown>): boolean {
  const d = fieldDefault(f)
  if (x === d) return true
  if (Array.isArray(x) && Array.isArray(d)) return x.length === 0 && d.length === 0
  if (Buffer.isBuffer(x) && Buffer.isBuffer(d)) return x.equals(d)
  return false
}

function compileDecode(type: Type<unknown, unknown>, version: number, flexible: boolean, nullable: boolean, f?: Field<unknown, unknown>): Decode {
  const fallback = () => (f ? fieldDefault(f) : typeDefault(type))
  const orNull = () => (nullable ? null : fallback())
  switch (type.kind) {
    case 'bool': return (r) => r.bool()
    case 'int8': return (r) => r.int8()
    case 'int16': return (r) => r.int16()
    case 'uint16': return (r) => r.uint16()
    case 'int32': return (r) => r.int32()
    case 'uint32': return (r) => r.uint32()
    case 'int64': return (r) => r.int64()
    case 'float64': return (r) => r.float64()
    case 'uuid': return (r) => r.uuid()
    case 'string':
      return flexible
        ? (r) => { const n = r.uvarint(); return n === 0 ? orNull() : r.stringOfLength(r.count(n - 1, 1)) }
        : (r) => { const n = r.int16(); return n === -1 ? orNull() : r.stringOfLength(r.count(n, 1)) }
    case 'bytes':
    case 'records':
      return flexible
        ? (r) => { const n = r.uvarint(); return n === 0 ? orNull() : r.slice(r.count(n - 1, 1)) }
        : (r) => { const n = r.int32(); return n === -1 ? orNull() : r.slice(r.count(n, 1)) }
    case 'array': {
      const element = compileDecode(type.of!, version, flexible, false)
      const minSize = type.of!.kind === 'struct' && flexible ? 1 : 1
      const read = (r: Reader, n: number) => {
        r.count(n, minSize)
        const out = new Array(n)
        for (let i = 0; i < n; i++) out[i] = element(r)
        return out
      }
      return flexible
        ? (r) => { const n = r.uvarint(); return n === 0 ? orNull() : read(r, n - 1) }
        : (r) => { const n = r.int32(); return n === -1 ? orNull() : read(r, n) }
    }
    case 'struct': {
      const fields = type.fields!
      // a nullable struct carries a presence byte: -1 for null, 1 before the struct itself
      if (nullable) return (r) => (r.int8() < 0 ? null : structCodec(fields, version, flexible).decode(r))
      return (r) => structCodec(fields, version, flexible).decode(r)
    }
  }
}

function byteLengthOfList(value: Buffer | readonly Buffer[]): number {
  if (Buffer.isBuffer(value)) return value.length
  let n = 0
  for (const b of value) n += b.length
  return n
}

function compileEncode(type: Type<unknown, unknown>, version: number, flexible: boolean, nullable: boolean, f?: Field<unknown, unknown>): Encode {
  const writeNullLength = flexible ? (w: Writer) => { w.uvarint(0) } : (type.kind === 'string' ? (w: Writer) => { w.int16(-1) } : (w: Writer) => { w.int32(-1) })
  const nonNull = (x: unknown) => (x === null || x === undefined ? (f ? fieldDefault(f) : typeDefault(type)) ?? typeDefault(type) : x)
  switch (type.kind) {
    case 'bool': return (w, x) => { w.bool(Boolean(x)) }
    case 'int8': return (w, x) => { w.int8((x as number) ?? 0) }
    case 'int16': return (w, x) => { w.int16((x as number) ?? 0) }
    case 'uint16': return (w, x) => { w.uint16((x as number) ?? 0) }
    case 'int32': return (w, x) => { w.int32((x as number) ?? 0) }
    case 'uint32': return (w, x) => { w.uint32((x as number) ?? 0) }
    case 'int64': return (w, x) => { w.int64((x as number) ?? 0) }
    case 'float64': return (w, x) => { w.float64((x as number) ?? 0) }
    case 'uuid': return (w, x) => { w.uuid((x as string) ?? UUID_ZERO) }
    case 'string':
      return (w, x) => {
        if (x === null && nullable) return writeNullLength(w)
        const s = nonNull(x) as string
        const n = Buffer.byteLength(s)
        if (flexible) w.uvarint(n + 1)
        else w.int16(n)
        w.utf8(s, n)
      }
    case 'bytes':
    case 'records':
      return (w, x) => {
        if ((x === null || x === undefined) && (nullable || type.kind === 'records')) return writeNullLength(w)
        const b = nonNull(x) as Buffer | readonly Buffer[]
        const n = byteLengthOfList(b)
        if (flexible) w.uvarint(n + 1)
        else w.int32(n)
        if (Buffer.isBuffer(b)) w.bytes(b)
        else for (const chunk of b) w.bytes(chunk)
      }
    case 'array': {
      const element = compileEncode(type.of!, version, flexible, false)
      return (w, x) => {
        if (x === null && nullable) return writeNullLength(w)
        const a = (x ?? []) as unknown[]
        if (flexible) w.uvarint(a.length + 1)
        else w.int32(a.length)
        for (const e of a) element(w, e)
      }
    }
    case 'struct': {
      const fields = type.fields!
      if (nullable) {
        return (w, x) => {
          if (x === null || x === undefined) { w.int8(-1); return }
          w.int8(1)
          structCodec(fields, version, flexible).encode(w, x)
        }
      }
      return (w, x) => structCodec(fields, version, flexible).encode(w, x)
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Messages

export interface MessageSpec<F extends Fields> {
  name: string
  apiKey: number
  validVersions: VersionSpec
  flexibleVersions: VersionSpec
  fields: F
}

export interface Message<F extends Fields> {
  readonly name: string
  readonly apiKey: number
  readonly versions: VersionRange
  readonly flexibleVersions: VersionRange
  readonly fields: F
  isFlexible(version: number): boolean
  decode(version: number, r: Reader): DecodedStruct<F>
  encode(version: number, value: InputStruct<F>, w?: Writer): Writer
}

export function message<F extends Fields>(spec: MessageSpec<F>): Message<F> {
  const versions = parseVersions(spec.validVersions)
  const flexibleVersions = parseVersions(spec.flexibleVersions)
  const isFlexible = (v: number) => inRange(flexibleVersions, v)
  return {
    name: spec.name,
    apiKey: spec.apiKey,
    versions,
    flexibleVersions,
    fields: spec.fields,
    isFlexible,
    decode(version, r) {
      return structCodec(spec.fields, version, isFlexible(version)).decode(r) as DecodedStruct<F>
    },
    encode(version, value, w = new Writer()) {
      structCodec(spec.fields, version, isFlexible(version)).encode(w, value)
      return w
    },
  }
}

export type DecodedOf<M> = M extends Message<infer F> ? DecodedStruct<F> : never
export type InputOf<M> = M extends Message<infer F> ? InputStruct<F> : never

/** Fills every field of a message at a version with its default: a starting point for tests and responses. */
export function defaults<F extends Fields>(m: Message<F>): DecodedStruct<F> {
  return structDefault(m.fields) as DecodedStruct<F>
}
