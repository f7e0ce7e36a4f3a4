// Fuzzes the API's decoders over raw HTTP (node:net, so anything can be sent): random methods on
// every route of the route table with garbage path parameters, query strings and headers; the
// real request shapes with members mutated (wrong types, null, missing, extra, huge numbers,
// deep nesting, enormous arrays); non-JSON bodies; wrong content-lengths; truncated bodies.
// Properties: no answer is 5xx, every error is MSK's form (4xx, `x-amzn-ErrorType: …Exception`,
// a JSON body with `message`); a request that is not accepted (2xx) changes nothing in the store;
// the server stays up (ListClusters with the SDK after every run) and its clusters keep a shape
// the SDK reads (DescribeCluster). Then oversized bodies and slowloris connections.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import fc from 'fast-check'
import {
  CreateClusterCommand,
  CreateConfigurationCommand,
  DescribeClusterCommand,
  ListClustersCommand,
  ListClustersV2Command,
} from '@aws-sdk/client-kafka'
import { MAX_BODY_BYTES } from '../http/server.js'
import { ROUTES } from './routes.js'
import { startTestApi, type TestApi } from './testing.js'

// ---- raw HTTP ---------------------------------------------------------------------------------

interface RawResponse {
  status: number
  headers: Record<string, string>
  body: Buffer
}

/** Splits what the server sent on one connection into its responses. */
function parseResponses(data: Buffer, head: boolean): RawResponse[] {
  const out: RawResponse[] = []
  let at = 0
  while (at < data.length) {
    const end = data.indexOf('\r\n\r\n', at)
    assert.ok(end >= 0, `an incomplete response head: ${JSON.stringify(data.subarray(at, at + 200).toString('latin1'))}`)
    const lines = data.subarray(at, end).toString('latin1').split('\r\n')
    const m = /^HTTP\/1\.1 (\d{3}) /.exec(lines[0] ?? '')
    assert.ok(m !== null, `not an HTTP/1.1 status line: ${JSON.stringify(lines[0])}`)
    const headers: Record<string, string> = {}
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':')
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
    }
    assert.notEqual(headers['transfer-encoding'], 'chunked', 'the server answers with a content-length')
    // A HEAD answer has no body, unless the parser refused the request before knowing it was HEAD.
    const bodiless = head && (end + 4 === data.length || data.subarray(end + 4, end + 9).toString('latin1') === 'HTTP/')
    const length = bodiless ? 0 : Number(headers['content-length'] ?? 0)
    out.push({ status: Number(m[1]), headers, body: data.subarray(end + 4, end + 4 + length) })
    at = end + 4 + length
  }
  return out
}

/**
 * Sends `payload` as is on a new connection, half-closes it (unless `keepOpen`) and collects every
 * response until the server closes; fails when the server has not closed within `timeoutMs`.
 */
function raw(port: number, payload: Buffer | string, opts: { head?: boolean; keepOpen?: boolean; timeoutMs?: number } = {}): Promise<{ responses: RawResponse[]; data: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const timer = setTimeout(() => {
      reject(new Error(`no answer within ${opts.timeoutMs ?? 5000} ms; got ${JSON.stringify(Buffer.concat(chunks).toString('latin1').slice(0, 300))}`))
      socket.destroy()
    }, opts.timeoutMs ?? 5000)
    const chunks: Buffer[] = []
    socket.on('data', (d: Buffer) => chunks.push(d))
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // The server may close while we still write (an early refusal); what it said still counts.
      if (err.code !== 'EPIPE' && err.code !== 'ECONNRESET') reject(err)
    })
    socket.on('close', () => {
      clearTimeout(timer)
      const data = Buffer.concat(chunks)
      try {
        resolve({ responses: parseResponses(data, opts.head === true), data })
      } catch (err) {
        reject(err)
      }
    })
    if (opts.keepOpen === true) socket.write(payload)
    else socket.end(payload)
  })
}

function requestBytes(method: string, target: string, headers: Array<[string, string]>, body: Buffer): Buffer {
  const head = `${method} ${target} HTTP/1.1\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`
  return Buffer.concat([Buffer.from(head, 'utf8'), body])
}

/** MSK's error form, or a 2xx with a JSON object (or nothing, for 204 and HEAD). */
function checkResponse(r: RawResponse, what: string, head = false): void {
  assert.ok(r.status >= 200 && r.status < 500, `${what}: answered ${r.status} ${r.body.toString('utf8').slice(0, 300)}`)
  if (r.status >= 300) {
    assert.match(r.headers['x-amzn-errortype'] ?? '', /^[A-Za-z]+Exception$/, `${what}: ${r.status} without x-amzn-ErrorType`)
    if (head) return
    const body = JSON.parse(r.body.toString('utf8')) as { message?: unknown }
    assert.equal(typeof body.message, 'string', `${what}: error body without a message`)
    assert.ok((body.message as string).length > 0)
    return
  }
  if (r.status === 204 || head) return
  const body: unknown = JSON.parse(r.body.toString('utf8'))
  assert.ok(typeof body === 'object' && body !== null && !Array.isArray(body), `${what}: a 2xx body that is not a JSON object`)
}

// ---- the world the fuzzer acts on -------------------------------------------------------------

const SCRAM = { sasl: { scram: { enabled: true } } }
const PROPS = Buffer.from('auto.create.topics.enable=true\nlog.retention.hours=24\n').toString('base64')

interface World {
  api: TestApi
  /** Created before fuzzing; the fuzzer may name it (its 2xx are then the only changes allowed). */
  keep: string
  keepConfig: string
  /** The cluster mutating requests are aimed at; completed after each accepted operation, recreated when deleted. */
  victim: string
  victimConfig: string
  seq: number
}

async function createActive(api: TestApi, name: string, configArn: string, version: string): Promise<string> {
  const created = await api.client.send(
    new CreateClusterCommand({
      ClusterName: name,
      KafkaVersion: version,
      NumberOfBrokerNodes: 3,
      BrokerNodeGroupInfo: { ClientSubnets: ['subnet-a', 'subnet-b', 'subnet-c'], InstanceType: 'kafka.m5.large', StorageInfo: { EbsStorageInfo: { VolumeSize: 100 } } },
      ClientAuthentication: { Sasl: { Scram: { Enabled: true } } },
      ConfigurationInfo: { Arn: configArn, Revision: 1 },
      Tags: { team: 'fuzz' },
    }),
  )
  const arn = created.ClusterArn as string
  api.complete(arn)
  return arn
}

async function createConfig(api: TestApi, name: string): Promise<string> {
  const c = await api.client.send(new CreateConfigurationCommand({ Name: name, ServerProperties: Buffer.from(PROPS, 'base64') }))
  return c.Arn as string
}

/** Every record the store holds, as one string: what a refused request must leave alone. */
function snapshot(api: TestApi): string {
  const clusters = api.store.listClusters()
  const configs = api.store.listConfigurations()
  return JSON.stringify({
    clusters,
    operations: clusters.map((c) => api.store.listOperations(c.arn)),
    scram: clusters.map((c) => api.store.listScramSecrets(c.arn)),
    policies: clusters.map((c) => api.store.getClusterPolicy(c.arn) ?? null),
    configs,
    tags: configs.map((c) => api.store.getTags(c.arn)),
  })
}

/** Brings the victim back to ACTIVE (or back to life) after an accepted request moved it. */
async function settle(w: World): Promise<void> {
  for (const arn of [w.victim, w.keep]) {
    const c = w.api.store.getCluster(arn)
    if (c?.activeOperationArn != null) w.api.complete(arn)
  }
  if (w.api.store.getCluster(w.keep) === undefined) w.keep = await createActive(w.api, `keep-${++w.seq}`, w.keepConfig, '3.9.x.kraft')
  if (w.api.store.getCluster(w.victim) === undefined) w.victim = await createActive(w.api, `victim-${++w.seq}`, w.victimConfig, '3.7.x.kraft')
  if (w.api.store.getConfiguration(w.victimConfig) === undefined) w.victimConfig = await createConfig(w.api, `victim-config-${++w.seq}`)
}

// ---- generators -------------------------------------------------------------------------------

type Ref = 'keep' | 'keepConfig' | 'keepOperation' | 'victim' | 'victimConfig' | 'victimOperation' | 'missingCluster'
type Param = { ref: Ref } | { text: string }
type Encoding = 'encode' | 'raw' | 'double' | 'suffix' | 'upper' | 'cut'

const garbageText = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 10 }),
  fc.string({ unit: 'binary', maxLength: 10 }),
  fc.constantFrom('..', '.', '%zz', '%', '%2', '%E0%A4%A', '%ED%A0%80', '%C0%AF', '%00', '%2F..%2F', '%252F', '..%2F..%2Fetc%2Fpasswd', '🦀', 'ü', '1', '0', '-1', '99999999999999999999', '1e3', 'NaN'),
  fc.integer({ min: 1000, max: 12000 }).map((n) => 'x'.repeat(n)),
)
const param: fc.Arbitrary<Param> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom<Ref>('victim', 'victimConfig', 'victimOperation').map((ref) => ({ ref })) },
  { weight: 1, arbitrary: fc.constantFrom<Ref>('keep', 'keepConfig', 'keepOperation', 'missingCluster').map((ref) => ({ ref })) },
  { weight: 2, arbitrary: garbageText.map((text) => ({ text })) },
)
const encoding = fc.oneof(
  { weight: 5, arbitrary: fc.constant<Encoding>('encode') },
  { weight: 2, arbitrary: fc.constantFrom<Encoding>('raw', 'double', 'suffix', 'upper', 'cut') },
)

const queryKey = fc.oneof(
  fc.constantFrom('maxResults', 'nextToken', 'clusterNameFilter', 'clusterTypeFilter', 'currentVersion', 'tagKeys', 'clusterArn'),
  fc.string({ maxLength: 8 }),
)
const queryValue = fc.oneof(
  fc.constantFrom('1', '0', '-1', '100', '101', '1.5', '1e2', 'NaN', '', ' 5', '0x10', '99999999999999999999999', '00000000000000000000007'),
  fc.constantFrom(Buffer.from('o:5').toString('base64url'), Buffer.from('o:9999999999').toString('base64url'), Buffer.from('o:-1').toString('base64url'), '!!!', 'PROVISIONED', 'SERVERLESS', 'team'),
  fc.string({ maxLength: 20 }),
  fc.integer({ min: 1000, max: 8000 }).map((n) => '9'.repeat(n)),
)
const query = fc.array(fc.tuple(queryKey, queryValue, fc.boolean()), { maxLength: 6 })

/** A value to put where a member was. */
const wrongValue = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1.5, -0, 1e308, -1e308, 2 ** 53 + 1, Number.MAX_SAFE_INTEGER, 4294967296),
  fc.constantFrom('NaN', 'Infinity', '-Infinity', '1e999', '0x10', '', ' ', 'ALL', 'all', '__proto__', 'kafka.', '3.9.x.kraft'),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 20 }),
  fc.jsonValue({ maxDepth: 3 }),
  fc.dictionary(fc.constantFrom('__proto__', 'constructor', 'toString', 'enabled', 'status', 'arn'), fc.jsonValue({ maxDepth: 1 })),
)

type Mutation =
  | { at: number; kind: 'set'; value: unknown }
  | { at: number; kind: 'delete' }
  | { at: number; kind: 'extra'; name: string; value: unknown }
  | { at: number; kind: 'deep'; depth: number; arrays: boolean }
  | { at: number; kind: 'huge'; length: number; item: unknown }

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ at: fc.nat(), kind: fc.constant('set' as const), value: wrongValue }) },
  { weight: 3, arbitrary: fc.record({ at: fc.nat(), kind: fc.constant('delete' as const) }) },
  { weight: 2, arbitrary: fc.record({ at: fc.nat(), kind: fc.constant('extra' as const), name: fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom('__proto__', 'constructor', 'serverless', 'provisioned')), value: wrongValue }) },
  { weight: 2, arbitrary: fc.record({ at: fc.nat(), kind: fc.constant('deep' as const), depth: fc.oneof(fc.integer({ min: 2, max: 200 }), fc.constantFrom(33, 5_000, 20_000, 150_000)), arrays: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ at: fc.nat(), kind: fc.constant('huge' as const), length: fc.constantFrom(51, 1_000, 100_000), item: fc.constantFrom<unknown>(0, 'subnet-a', '', null, { a: 1 }) }) },
)

type BodySpec =
  | { kind: 'shape'; alt: boolean; mutations: Mutation[] }
  | { kind: 'text'; text: string }
  | { kind: 'bytes'; bytes: Uint8Array }
  | { kind: 'json'; value: unknown }
  | { kind: 'none' }

const bodySpec: fc.Arbitrary<BodySpec> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('shape' as const), alt: fc.boolean(), mutations: fc.constant([]) }) },
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('shape' as const), alt: fc.boolean(), mutations: fc.array(mutation, { minLength: 1, maxLength: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('text' as const), text: fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('{', '{"a":', '[1]', 'null', '"x"', '1', '{"a":1}{"b":2}', '{"a":1,}', '\uFEFF{}', '{"a":"\\ud800"}')) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('bytes' as const), bytes: fc.uint8Array({ maxLength: 100 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('json' as const), value: fc.jsonValue({ maxDepth: 4 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'none' as const }) },
)

const authorization = fc.option(
  fc.oneof(
    fc.string({ maxLength: 60 }).map((s) => s.replace(/[\r\n]/g, '')),
    fc.constantFrom(
      'AWS4-HMAC-SHA256 Credential=AKID/20240101/eu-west-1/kafka/aws4_request, SignedHeaders=host, Signature=00',
      'AWS4-HMAC-SHA256 Credential=AKID/20240101/../kafka/aws4_request',
      'AWS4-HMAC-SHA256 Credential=//////',
      'Bearer x',
      'Credential=' + 'Credential='.repeat(1000),
      'AWS4-HMAC-SHA256 Credential=AKID/20240101/' + 'us-'.repeat(2000) + 'x/kafka/aws4_request',
    ),
  ),
  { freq: 2 },
)

const requestSpec = fc.record({
  route: fc.nat({ max: ROUTES.length - 1 }),
  method: fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS') }),
  params: fc.tuple(fc.tuple(param, encoding), fc.tuple(param, encoding)),
  trailingSlash: fc.boolean(),
  query,
  body: bodySpec,
  auth: authorization,
  contentType: fc.constantFrom('application/json', 'text/plain', 'application/x-amz-json-1.1', null),
})
type RequestSpec = typeof requestSpec extends fc.Arbitrary<infer T> ? T : never

// ---- turning a spec into bytes ----------------------------------------------------------------

function resolve(w: World, ref: Ref): string {
  const lastOp = (arn: string) => w.api.store.listOperations(arn)[0]?.arn ?? arn
  switch (ref) {
    case 'keep':
      return w.keep
    case 'keepConfig':
      return w.keepConfig
    case 'keepOperation':
      return lastOp(w.keep)
    case 'victim':
      return w.victim
    case 'victimConfig':
      return w.victimConfig
    case 'victimOperation':
      return lastOp(w.victim)
    case 'missingCluster':
      return w.victim.replace(/[0-9a-f]{8}-/, '00000000-')
  }
}

function encodeParam(value: string, how: Encoding): string {
  switch (how) {
    case 'encode':
      return encodeURIComponent(value)
    case 'raw':
      return value
    case 'double':
      return encodeURIComponent(encodeURIComponent(value))
    case 'suffix':
      return `${encodeURIComponent(value)}%2F..`
    case 'upper':
      return encodeURIComponent(value.toUpperCase())
    case 'cut':
      return encodeURIComponent(value).slice(0, -2)
  }
}

/** The real request shape of each operation, valid for the world as it is now. */
function shape(w: World, operation: string, alt: boolean): Record<string, unknown> {
  const victim = w.api.store.getCluster(w.victim)
  const currentVersion = victim?.currentVersion ?? 'K3AEGXETSR30VB'
  const volume = victim?.spec.brokerNodeGroupInfo.storageInfo?.ebsStorageInfo?.volumeSize ?? 100
  const provisioned = {
    kafkaVersion: '3.9.x.kraft',
    numberOfBrokerNodes: 3,
    brokerNodeGroupInfo: {
      clientSubnets: ['subnet-a', 'subnet-b', 'subnet-c'],
      instanceType: 'kafka.m5.large',
      securityGroups: ['sg-1'],
      storageInfo: { ebsStorageInfo: { volumeSize: 100, provisionedThroughput: { enabled: true, volumeThroughput: 250 } } },
      connectivityInfo: { publicAccess: { type: 'DISABLED' } },
    },
    encryptionInfo: { encryptionInTransit: { clientBroker: 'TLS', inCluster: true } },
    enhancedMonitoring: 'PER_BROKER',
    clientAuthentication: SCRAM,
    configurationInfo: { arn: w.victimConfig, revision: 1 },
    rebalancing: { status: 'PAUSED' },
  }
  const name = `fuzz-${++w.seq}`
  switch (operation) {
    case 'CreateCluster':
      return { clusterName: name, ...provisioned, tags: { team: 'fuzz' } }
    case 'CreateClusterV2':
      return alt
        ? { clusterName: name, serverless: { vpcConfigs: [{ subnetIds: ['subnet-a', 'subnet-b'], securityGroupIds: ['sg-1'] }], clientAuthentication: SCRAM } }
        : { clusterName: name, provisioned, tags: { team: 'fuzz' } }
    case 'UpdateBrokerCount':
      return { currentVersion, targetNumberOfBrokerNodes: alt ? 6 : 9 }
    case 'UpdateBrokerStorage':
      return { currentVersion, targetBrokerEBSVolumeInfo: [{ kafkaBrokerNodeId: alt ? 'ALL' : '1', volumeSizeGB: volume + 10, provisionedThroughput: { enabled: true, volumeThroughput: 300 } }] }
    case 'UpdateBrokerType':
      return { currentVersion, targetInstanceType: alt ? 'kafka.m5.xlarge' : 'kafka.m7g.large' }
    case 'UpdateStorage':
      return { currentVersion, volumeSizeGB: volume + 10, provisionedThroughput: { enabled: true, volumeThroughput: 500 }, storageMode: alt ? 'TIERED' : 'LOCAL' }
    case 'UpdateClusterConfiguration':
      return { currentVersion, configurationInfo: { arn: alt ? w.victimConfig : w.keepConfig, revision: 1 } }
    case 'UpdateClusterKafkaVersion':
      return { currentVersion, targetKafkaVersion: alt ? '3.8.x.kraft' : '4.0.x.kraft', configurationInfo: { arn: w.victimConfig, revision: 1 } }
    case 'UpdateMonitoring':
      return { currentVersion, enhancedMonitoring: 'PER_TOPIC_PER_BROKER', openMonitoring: { prometheus: { jmxExporter: { enabledInBroker: true } } }, loggingInfo: { brokerLogs: { s3: { enabled: false } } } }
    case 'UpdateSecurity':
      return { currentVersion, clientAuthentication: SCRAM, encryptionInfo: { encryptionInTransit: { clientBroker: 'TLS_PLAINTEXT' } } }
    case 'UpdateConnectivity':
      return { currentVersion, connectivityInfo: { publicAccess: { type: alt ? 'SERVICE_PROVIDED_EIPS' : 'DISABLED' } } }
    case 'UpdateRebalancing':
      return { currentVersion, rebalancing: { status: alt ? 'ACTIVE' : 'PAUSED' } }
    case 'RebootBroker':
      return { brokerIds: [alt ? '1' : '2'] }
    case 'CreateConfiguration':
      return { name, description: 'fuzzed', kafkaVersions: ['3.9.x.kraft'], serverProperties: PROPS }
    case 'UpdateConfiguration':
      return { description: 'fuzzed again', serverProperties: PROPS }
    case 'TagResource':
      return { tags: { env: 'fuzz', [`k${w.seq}`]: 'v' } }
    case 'BatchAssociateScramSecret':
    case 'BatchDisassociateScramSecret':
      return { secretArnList: ['arn:aws:secretsmanager:us-east-1:123456789012:secret:AmazonMSK_fuzz', alt ? 'nope' : 'arn:aws:secretsmanager:us-east-1:123456789012:secret:other'] }
    case 'PutClusterPolicy':
      return alt ? { policy: '{"Version":"2012-10-17","Statement":[]}', currentVersion } : { policy: '{"Version":"2012-10-17","Statement":[]}' }
    case 'CreateTopic':
      return { topicName: `fuzz-${w.seq}`, partitionCount: 3, replicationFactor: alt ? 2 : 3, configs: Buffer.from('{"retention.ms":"60000"}').toString('base64') }
    case 'UpdateTopic':
      return alt ? { partitionCount: 6 } : { configs: Buffer.from('retention.ms=60000').toString('base64') }
    case 'FjordPutStorageAutoScaling':
      return alt ? { targetUtilization: 0 } : { targetUtilization: 60, maxVolumeSizeGiB: 16000, cooldownSeconds: 60 }
    default:
      return {}
  }
}

function nested(depth: number, arrays: boolean): string {
  return arrays ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`
}

/**
 * Applies the mutations to `base`; returns the body's JSON text. Deep nesting is spliced into the
 * text (building it as an object would need the recursion the server must not need).
 */
function mutate(base: Record<string, unknown>, mutations: Mutation[]): string {
  let root: unknown = structuredClone(base)
  const splices: string[] = []
  for (const m of mutations) {
    // Every place in the body: [parent, key] pairs, the root as [null, null].
    const places: Array<[Record<string, unknown> | unknown[] | null, string | number | null]> = [[null, null]]
    const walk = (v: unknown) => {
      if (Array.isArray(v)) v.forEach((item, i) => (places.push([v, i]), walk(item)))
      else if (typeof v === 'object' && v !== null) for (const [k, item] of Object.entries(v)) places.push([v as Record<string, unknown>, k]), walk(item)
    }
    walk(root)
    const [parent, key] = places[m.at % places.length] as (typeof places)[number]
    const current = parent === null ? root : (parent as Record<string | number, unknown>)[key as string]
    let value: unknown
    switch (m.kind) {
      case 'set':
        value = structuredClone(m.value)
        break
      case 'delete':
        if (parent === null) root = {}
        else if (Array.isArray(parent)) parent.splice(key as number, 1)
        else delete parent[key as string]
        continue
      case 'extra':
        if (Array.isArray(current)) current.push(structuredClone(m.value))
        else if (typeof current === 'object' && current !== null) Object.defineProperty(current, m.name, { value: structuredClone(m.value), enumerable: true, writable: true, configurable: true })
        continue
      case 'deep':
        value = `@@SPLICE${splices.length}@@`
        splices.push(nested(m.depth, m.arrays))
        break
      case 'huge':
        value = Array.from({ length: m.length }, () => structuredClone(m.item))
        break
    }
    if (parent === null) root = value
    else (parent as Record<string | number, unknown>)[key as string] = value
  }
  let text = JSON.stringify(root) ?? 'null'
  splices.forEach((s, i) => (text = text.replace(`"@@SPLICE${i}@@"`, () => s)))
  return text
}

function bodyBytes(w: World, operation: string, spec: BodySpec): Buffer {
  switch (spec.kind) {
    case 'shape':
      return Buffer.from(mutate(shape(w, operation, spec.alt), spec.mutations), 'utf8')
    case 'text':
      return Buffer.from(spec.text, 'utf8')
    case 'bytes':
      return Buffer.from(spec.bytes)
    case 'json':
      return Buffer.from(JSON.stringify(spec.value) ?? '', 'utf8')
    case 'none':
      return Buffer.alloc(0)
  }
}

function target(w: World, spec: RequestSpec): { method: string; path: string; operation: string } {
  const route = ROUTES[spec.route] as (typeof ROUTES)[number]
  let i = 0
  const path = route.path.replace(/\{[^}]+\}/g, () => {
    const [p, how] = spec.params[i++ % 2] as [Param, Encoding]
    return encodeParam('ref' in p ? resolve(w, p.ref) : p.text, how)
  })
  const qs = spec.query.map(([k, v, enc]) => (enc ? `${encodeURIComponent(k)}=${encodeURIComponent(v)}` : `${k}=${v}`)).join('&')
  return { method: spec.method ?? route.method, operation: route.operation, path: `${path}${spec.trailingSlash ? '/' : ''}${qs === '' ? '' : `?${qs}`}` }
}

// ---- the runs ---------------------------------------------------------------------------------

async function setUp(api: TestApi): Promise<World> {
  const keepConfig = await createConfig(api, 'keep-config')
  const victimConfig = await createConfig(api, 'victim-config')
  const keep = await createActive(api, 'keep', keepConfig, '3.9.x.kraft')
  const victim = await createActive(api, 'victim', victimConfig, '3.7.x.kraft')
  return { api, keep, keepConfig, victim, victimConfig, seq: 0 }
}

/** The SDK still lists clusters, and reads the kept cluster and the victim in a valid shape. */
async function checkAlive(w: World): Promise<void> {
  const listed = await w.api.client.send(new ListClustersCommand({}))
  assert.ok((listed.ClusterInfoList ?? []).some((c) => c.ClusterArn === w.keep), 'ListClusters lists the kept cluster')
  await w.api.client.send(new ListClustersV2Command({}))
  for (const arn of [w.keep, w.victim]) {
    const info = (await w.api.client.send(new DescribeClusterCommand({ ClusterArn: arn }))).ClusterInfo
    assert.equal(info?.ClusterArn, arn)
    assert.equal(info?.State, 'ACTIVE')
    assert.ok(Number.isInteger(info?.NumberOfBrokerNodes) && (info?.NumberOfBrokerNodes ?? 0) > 0)
    assert.match(info?.CurrentVersion ?? '', /^[A-Z0-9]{14}$/)
    assert.match(info?.BrokerNodeGroupInfo?.InstanceType ?? '', /^kafka\.[a-z0-9]+\.[a-z0-9]+$/)
    assert.ok((info?.BrokerNodeGroupInfo?.ClientSubnets ?? []).every((s) => typeof s === 'string' && s !== ''))
    assert.ok(Number.isInteger(info?.BrokerNodeGroupInfo?.StorageInfo?.EbsStorageInfo?.VolumeSize))
  }
}

test('fuzz: random requests on every route answer 2xx or MSK-form 4xx, and only accepted ones change the store', async () => {
  const api = await startTestApi()
  try {
    const w = await setUp(api)
    let accepted = 0
    await fc.assert(
      fc.asyncProperty(fc.array(requestSpec, { minLength: 1, maxLength: 8 }), async (specs) => {
        for (const spec of specs) {
          const { method, path, operation } = target(w, spec)
          const headers: Array<[string, string]> = [['Host', '127.0.0.1'], ['Connection', 'close']]
          if (spec.contentType !== null) headers.push(['Content-Type', spec.contentType])
          if (spec.auth !== null) headers.push(['Authorization', spec.auth])
          const body = bodyBytes(w, operation, spec.body)
          headers.push(['Content-Length', String(body.length)])
          const before = snapshot(api)
          const { responses } = await raw(api.server.port, requestBytes(method, path, headers, body), { head: method === 'HEAD' })
          const what = `${method} ${path.slice(0, 200)} (${operation}) ${body.subarray(0, 200).toString('utf8')}`
          assert.equal(responses.length, 1, `${what}: one response`)
          const r = responses[0] as RawResponse
          checkResponse(r, what, method === 'HEAD')
          const after = snapshot(api)
          if (r.status >= 300 || method === 'GET' || method === 'HEAD') {
            assert.equal(after, before, `${what}: answered ${r.status} yet the store changed`)
          } else {
            accepted++
          }
          await settle(w)
        }
        await checkAlive(w)
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 150) },
    )
    assert.ok(accepted > 0, 'some fuzzed requests were valid enough to be accepted')
  } finally {
    await api.close()
  }
})

// ---- framing: wrong content-lengths, truncated bodies, broken chunks ------------------------

const framing = fc.record({
  route: fc.nat({ max: ROUTES.length - 1 }),
  body: bodySpec,
  how: fc.constantFrom('short', 'long', 'invalid', 'duplicate', 'chunked', 'chunked-garbage', 'both'),
  delta: fc.integer({ min: 1, max: 50 }),
  invalid: fc.constantFrom('abc', '-1', '1.5', '1e3', ' ', '0x10', '99999999999999999999', '1, 2', '+5'),
})

test('fuzz: wrong content-lengths, truncated bodies and broken chunks get MSK-form 4xx and change nothing', async () => {
  const api = await startTestApi()
  try {
    const w = await setUp(api)
    await fc.assert(
      fc.asyncProperty(framing, async (f) => {
        const spec: RequestSpec = { route: f.route, method: null, params: [[{ ref: 'victim' }, 'encode'], [{ ref: 'victimConfig' }, 'encode']], trailingSlash: false, query: [], body: f.body, auth: null, contentType: 'application/json' }
        const { method, path, operation } = target(w, spec)
        const body = bodyBytes(w, operation, f.body)
        const headers: Array<[string, string]> = [['Host', '127.0.0.1']]
        let payload = body
        switch (f.how) {
          case 'short': // the rest of the body is read as the next request
            headers.push(['Content-Length', String(Math.max(0, body.length - f.delta))])
            break
          case 'long': // the body ends early and the client half-closes
            headers.push(['Content-Length', String(body.length + f.delta)])
            break
          case 'invalid':
            headers.push(['Content-Length', f.invalid])
            break
          case 'duplicate':
            headers.push(['Content-Length', String(body.length)], ['Content-Length', String(body.length + f.delta)])
            break
          case 'chunked':
            headers.push(['Transfer-Encoding', 'chunked'])
            payload = Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from(body.length > 0 ? '\r\n0\r\n\r\n' : '\r\n\r\n')])
            break
          case 'chunked-garbage':
            headers.push(['Transfer-Encoding', 'chunked'])
            payload = Buffer.concat([Buffer.from(`${(body.length + f.delta).toString(16)}\r\n`), body, Buffer.from('\r\nzz\r\n')])
            break
          case 'both':
            headers.push(['Transfer-Encoding', 'chunked'], ['Content-Length', String(body.length)])
            break
        }
        const before = snapshot(api)
        const { responses } = await raw(api.server.port, requestBytes(method, path, headers, payload))
        const what = `${f.how} ${method} ${path.slice(0, 120)} ${body.subarray(0, 120).toString('utf8')}`
        assert.ok(responses.length >= 1, `${what}: an answer`)
        for (const r of responses) checkResponse(r, what)
        if (responses.every((r) => r.status >= 300)) assert.equal(snapshot(api), before, `${what}: refused yet the store changed`)
        await settle(w)
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 150) },
    )
    await checkAlive(w)
  } finally {
    await api.close()
  }
})

// ---- oversized bodies and slowloris ------------------------------------------------------------

test('bodies over the limit are refused (400) whether declared, chunked or cut short, and the server stays up', async () => {
  const api = await startTestApi()
  try {
    const w = await setUp(api)
    const before = snapshot(api)
    const big = Buffer.alloc(MAX_BODY_BYTES + 1, 'x')
    const head = (extra: string) => `POST /v1/clusters HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${extra}\r\n`
    // Declared too large: refused at once, without waiting for a body that never comes.
    const declared = await raw(api.server.port, head(`Content-Length: ${MAX_BODY_BYTES + 1}\r\n`), { keepOpen: true })
    // Declared too large and sent whole, and an enormous declared length.
    const sent = await raw(api.server.port, Buffer.concat([Buffer.from(head(`Content-Length: ${big.length}\r\n`)), big]))
    const enormous = await raw(api.server.port, head('Content-Length: 99999999999999\r\n'), { keepOpen: true })
    // Chunked, so only counting tells: 1 MiB + 1 in 64 KiB chunks.
    const chunks: Buffer[] = [Buffer.from(head('Transfer-Encoding: chunked\r\n'))]
    for (let at = 0; at < big.length; at += 65536) {
      const part = big.subarray(at, at + 65536)
      chunks.push(Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from('\r\n'))
    }
    chunks.push(Buffer.from('0\r\n\r\n'))
    const chunked = await raw(api.server.port, Buffer.concat(chunks))
    for (const [name, got] of Object.entries({ declared, sent, enormous, chunked })) {
      assert.equal(got.responses.length, 1, name)
      const r = got.responses[0] as RawResponse
      assert.equal(r.status, 400, name)
      checkResponse(r, name)
      assert.match(r.body.toString('utf8'), /larger than/, name)
    }
    assert.equal(snapshot(api), before)
    await checkAlive(w)
  } finally {
    await api.close()
  }
})

test('slowloris: headers or a body that never end are cut off (408) at the request timeout, and others are served meanwhile', async () => {
  const timeoutMs = 1000
  const api = await startTestApi({ requestTimeoutMs: timeoutMs })
  try {
    const w = await setUp(api)
    const before = snapshot(api)
    const started = Date.now()
    /** Opens a connection that sends `first`, then one more byte of `drip` every 100 ms, for ever. */
    const slow = (first: string, drip: string) => {
      const socket = connect(api.server.port, '127.0.0.1')
      let data = ''
      let i = 0
      socket.on('data', (d: Buffer) => (data += d.toString('latin1')))
      socket.on('error', () => {})
      socket.write(first)
      const timer = setInterval(() => socket.writable && socket.write(drip[i++ % drip.length] as string), 100)
      return new Promise<{ data: string; ms: number }>((resolve) =>
        socket.on('close', () => {
          clearInterval(timer)
          resolve({ data, ms: Date.now() - started })
        }),
      )
    }
    const loris = [
      ...Array.from({ length: 20 }, (_, i) => slow(`GET /v1/clusters HTTP/1.1\r\nHost: x\r\n`, `X-Slow-${i}: aaaaaaaaaaaaaaa\r\n`)),
      ...Array.from({ length: 20 }, () => slow(`POST /v1/clusters HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"clusterName":"`, 'abcdef')),
    ]
    // While they hang on, the server answers others.
    for (let i = 0; i < 3; i++) {
      await checkAlive(w)
      await new Promise((r) => setTimeout(r, 150))
    }
    const ended = await Promise.all(loris)
    for (const { data, ms } of ended) {
      assert.ok(ms < timeoutMs + 2000, `cut off after ${ms} ms`)
      const [r] = parseResponses(Buffer.from(data, 'latin1'), false)
      assert.equal(r?.status, 408, data)
      assert.equal(r?.headers['x-amzn-errortype'], 'RequestTimeoutException')
      assert.match((JSON.parse(r?.body.toString('utf8') ?? '') as { message: string }).message, /did not arrive in time/)
    }
    assert.equal(snapshot(api), before, 'nothing was half-written')
    await checkAlive(w)
  } finally {
    await api.close()
  }
})
