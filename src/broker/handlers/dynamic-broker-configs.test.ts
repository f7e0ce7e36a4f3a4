// Dynamic broker configs as cluster metadata, on a real 3-broker cluster in this process (a
// controller on the embedded log serving brokers over its TCP RPC, as in
// replication-throttle.test.ts): the cluster default set through one broker reaches every broker,
// a broker's own value set through it stays its own, both come back when the broker restarts (and
// apply: the volume quota DescribeLogDirs v4 reports, the replication quota) and when the
// controller restarts, a DELETE removes them everywhere for good, and with no controller a change
// fails with a retriable error while the broker keeps serving. Requests go through our client
// (IncrementalAlterConfigs, DescribeConfigs, DescribeLogDirs), so every version field is checked.

import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino, type Logger } from 'pino'
import { Broker } from '../broker.js'
import { resolveSettings } from '../config.js'
import { Controller } from '../../controller/controller.js'
import { EmbeddedBackend } from '../../controller/embedded-backend.js'
import { ControllerServer } from '../../controller/rpc.js'
import { Apis } from '../../protocol/apis.js'
import { ErrorCode } from '../../protocol/errors.js'
import { TestClient } from './test-client.js'

const BROKER = 4
const SET = 0
const DELETE = 1
const VOLUME = 'volume.size.bytes'
const FOLLOWER = 'follower.replication.throttled.rate'
const Source = { DYNAMIC_BROKER_CONFIG: 2, DYNAMIC_DEFAULT_BROKER_CONFIG: 3, DEFAULT_CONFIG: 5 }
const DEFAULT_VOLUME = String(50 * 1024 * 1024)
const RATE = String(512 * 1024)
/** How long a change waits for a controller: short, so the unreachable case fails quickly. */
const CONTROLLER_TIMEOUT_MS = 3000

let dir: string
let controller: Controller
let server: ControllerServer
let controllerPort = 0
const brokers = new Map<number, Broker>()
const log: Logger = pino({ level: process.env.FJORD_TEST_LOG ?? 'silent' }, pino.destination(2))

async function startController(): Promise<void> {
  const candidate = { id: 0, endpoint: '' }
  controller = new Controller(new EmbeddedBackend(join(dir, 'controller', 'metadata')), candidate, {
    sessionTimeoutMs: 6000, disconnectGraceMs: 300, leaderImbalanceCheckIntervalMs: 0, log: log.child({ component: 'controller' }),
  })
  server = new ControllerServer(controller, async () => null)
  await server.listen('127.0.0.1', controllerPort)
  controllerPort = server.port
  candidate.endpoint = `127.0.0.1:${server.port}`
  await controller.activate()
}

async function stopController(): Promise<void> {
  await server.close()
  await controller.close()
}

async function startBroker(id: number): Promise<void> {
  const b = await Broker.open(resolveSettings({
    'broker.id': String(id),
    listeners: '127.0.0.1:0',
    'log.dirs': join(dir, `broker-${id}`),
    'controller.endpoints': `127.0.0.1:${controllerPort}`,
    'controller.request.timeout.ms': String(CONTROLLER_TIMEOUT_MS),
    'auto.create.topics.enable': 'false',
    'controlled.shutdown.timeout.ms': '2000',
  }, {}), log.child({ broker: id }))
  await b.listen()
  brokers.set(id, b)
}

/** Stops a broker and starts it again on the same data dir: a new process's state, nothing kept in memory. */
async function restartBroker(id: number): Promise<void> {
  await brokers.get(id)!.close()
  brokers.delete(id)
  await startBroker(id)
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fjord-dynamic-configs-'))
  await startController()
  await Promise.all([1, 2, 3].map(startBroker))
})

after(async () => {
  for (const b of brokers.values()) await b.close()
  await stopController()
  rmSync(dir, { recursive: true, force: true })
})

function broker(id: number): Broker {
  return brokers.get(id)!
}

function raw<T>(id: number, fn: (c: TestClient) => Promise<T>): Promise<T> {
  return TestClient.with(broker(id), fn)
}

/** IncrementalAlterConfigs v1 on one BROKER resource, sent to broker `via`: its error code and message. */
async function alter(via: number, resourceName: string, configs: { name: string; configOperation: number; value: string | null }[], validateOnly = false) {
  const res = await raw(via, (c) => c.request(Apis.IncrementalAlterConfigs, 1, { resources: [{ resourceType: BROKER, resourceName, configs }], validateOnly }))
  const r = res.responses[0]!
  return { code: r.errorCode, message: r.errorMessage ?? '' }
}

async function altered(via: number, resourceName: string, configs: { name: string; configOperation: number; value: string | null }[]): Promise<void> {
  const r = await alter(via, resourceName, configs)
  assert.equal(r.code, 0, `IncrementalAlterConfigs on '${resourceName}' via broker ${via}: ${r.message}`)
}

/** DescribeConfigs v4 of a BROKER resource on broker `id`: name -> [value, source]. */
async function describe(id: number, resourceName: string, keys: string[] | null): Promise<Map<string, [string | null, number]>> {
  const res = await raw(id, (c) => c.request(Apis.DescribeConfigs, 4, { resources: [{ resourceType: BROKER, resourceName, configurationKeys: keys }], includeSynonyms: true, includeDocumentation: false }))
  const r = res.results[0]!
  assert.equal(r.errorCode, 0, r.errorMessage ?? '')
  return new Map(r.configs.map((c) => [c.name, [c.value, c.configSource]]))
}

/** What DescribeLogDirs v4 says of broker `id`'s volume: its total bytes (the quota when one is set). */
async function volumeTotal(id: number): Promise<number> {
  const res = await raw(id, (c) => c.request(Apis.DescribeLogDirs, 4, { topics: null }))
  return Number(res.results[0]!.totalBytes)
}

async function waitFor(what: string, fn: () => boolean, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!fn()) {
    if (Date.now() > until) assert.fail(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

/** Each broker's view of the cluster default and of its own follower throttle. */
async function views(): Promise<Map<number, { defaults: Map<string, [string | null, number]>; own: Map<string, [string | null, number]> }>> {
  const out = new Map()
  for (const id of [1, 2, 3]) out.set(id, { defaults: await describe(id, '', null), own: await describe(id, String(id), [VOLUME, FOLLOWER]) })
  return out
}

test('the cluster default set via broker 1 reaches every broker; broker 2\'s own value set via broker 2 stays its own; naming broker 2 at broker 1 is refused, as in Kafka', async () => {
  await altered(1, '', [{ name: VOLUME, configOperation: SET, value: DEFAULT_VOLUME }])
  await altered(2, '2', [{ name: FOLLOWER, configOperation: SET, value: RATE }])
  // validateOnly changes nothing anywhere
  assert.equal((await alter(3, '', [{ name: FOLLOWER, configOperation: SET, value: '1' }], true)).code, 0)
  // Kafka's broker refuses another broker's id (its admin clients send such a change to that broker)
  const other = await alter(1, '2', [{ name: FOLLOWER, configOperation: SET, value: '1' }])
  assert.equal(other.code, ErrorCode.INVALID_REQUEST.code, other.message)
  // validation at the receiving broker, with the codes as before
  assert.equal((await alter(1, '', [{ name: 'num.partitions', configOperation: SET, value: '3' }])).code, ErrorCode.INVALID_REQUEST.code)
  assert.equal((await alter(1, '', [{ name: VOLUME, configOperation: SET, value: 'lots' }])).code, ErrorCode.INVALID_CONFIG.code)

  // the broker that took a change answers once it runs with it; the others follow the metadata push
  assert.equal(broker(1).logs.volume.limitBytes, Number(DEFAULT_VOLUME))
  assert.equal(broker(2).replicas.followerQuota.rate, Number(RATE))
  await waitFor('the default on every broker', () => [1, 2, 3].every((id) => broker(id).logs.volume.limitBytes === Number(DEFAULT_VOLUME)))
  assert.deepEqual(controller.image.brokerConfigs(''), { [VOLUME]: DEFAULT_VOLUME })
  assert.deepEqual(controller.image.brokerConfigs('2'), { [FOLLOWER]: RATE })

  const v = await views()
  for (const id of [1, 2, 3]) {
    assert.deepEqual([...v.get(id)!.defaults], [[VOLUME, [DEFAULT_VOLUME, Source.DYNAMIC_DEFAULT_BROKER_CONFIG]]], `broker ${id}: the cluster default`)
    assert.deepEqual(v.get(id)!.own.get(VOLUME), [DEFAULT_VOLUME, Source.DYNAMIC_DEFAULT_BROKER_CONFIG], `broker ${id}: its volume`)
    assert.equal(await volumeTotal(id), Number(DEFAULT_VOLUME), `broker ${id}: DescribeLogDirs total bytes`)
  }
  assert.deepEqual(v.get(2)!.own.get(FOLLOWER), [RATE, Source.DYNAMIC_BROKER_CONFIG])
  for (const id of [1, 3]) {
    assert.deepEqual(v.get(id)!.own.get(FOLLOWER), ['0', Source.DEFAULT_CONFIG], `broker ${id}: not broker 2's throttle`)
    assert.equal(broker(id).replicas.followerQuota.rate, 0)
  }
})

test('a restarted broker gets its layers back from the controller: same values and sources, and they apply', async () => {
  await restartBroker(2)
  assert.equal(broker(2).logs.volume.limitBytes, Number(DEFAULT_VOLUME))
  assert.equal(broker(2).replicas.followerQuota.rate, Number(RATE))
  assert.equal(await volumeTotal(2), Number(DEFAULT_VOLUME))
  const own = await describe(2, '2', [VOLUME, FOLLOWER])
  assert.deepEqual(own.get(VOLUME), [DEFAULT_VOLUME, Source.DYNAMIC_DEFAULT_BROKER_CONFIG])
  assert.deepEqual(own.get(FOLLOWER), [RATE, Source.DYNAMIC_BROKER_CONFIG])
  assert.deepEqual([...(await describe(2, '', null))], [[VOLUME, [DEFAULT_VOLUME, Source.DYNAMIC_DEFAULT_BROKER_CONFIG]]])
})

test('the controller restarting replays them; with no controller a change fails with a retriable error and the broker keeps serving', async () => {
  await stopController()
  const t0 = Date.now()
  const down = await alter(1, '', [{ name: VOLUME, configOperation: SET, value: '1' }])
  assert.equal(down.code, ErrorCode.REQUEST_TIMED_OUT.code, down.message)
  assert.ok(errorIsRetriable(down.code))
  assert.ok(Date.now() - t0 >= CONTROLLER_TIMEOUT_MS - 100, 'it waited for a controller')
  // still serving, with the values it had
  assert.deepEqual((await describe(1, '1', [VOLUME])).get(VOLUME), [DEFAULT_VOLUME, Source.DYNAMIC_DEFAULT_BROKER_CONFIG])
  assert.equal(broker(1).logs.volume.limitBytes, Number(DEFAULT_VOLUME))

  await startController()
  assert.deepEqual(controller.image.brokerConfigs(''), { [VOLUME]: DEFAULT_VOLUME }, 'replayed from the embedded log')
  assert.deepEqual(controller.image.brokerConfigs('2'), { [FOLLOWER]: RATE })
  await waitFor('every broker registered again', () => [1, 2, 3].every((id) => broker(id).link.connected))
  // a broker restarted after the controller did gets them from the replayed log
  await restartBroker(2)
  assert.equal(broker(2).replicas.followerQuota.rate, Number(RATE))
  assert.equal(await volumeTotal(2), Number(DEFAULT_VOLUME))
  assert.deepEqual((await describe(2, '2', [FOLLOWER])).get(FOLLOWER), [RATE, Source.DYNAMIC_BROKER_CONFIG])
})

test('a DELETE removes them everywhere, and a restart does not bring them back', async () => {
  await altered(3, '', [{ name: VOLUME, configOperation: DELETE, value: null }])
  await altered(2, '2', [{ name: FOLLOWER, configOperation: DELETE, value: null }])
  assert.deepEqual(controller.image.brokerConfigs(''), {})
  assert.deepEqual(controller.image.brokerConfigs('2'), {})
  await waitFor('no volume quota on any broker', () => [1, 2, 3].every((id) => broker(id).logs.volume.limitBytes === -1))
  assert.equal(broker(2).replicas.followerQuota.rate, 0)
  for (const id of [1, 2, 3]) {
    assert.deepEqual([...(await describe(id, '', null))], [], `broker ${id}: no cluster default`)
    const own = await describe(id, String(id), [VOLUME, FOLLOWER])
    assert.deepEqual(own.get(VOLUME), ['-1', Source.DEFAULT_CONFIG])
    assert.deepEqual(own.get(FOLLOWER), ['0', Source.DEFAULT_CONFIG])
  }
  await restartBroker(2)
  assert.equal(broker(2).logs.volume.limitBytes, -1)
  assert.equal(broker(2).replicas.followerQuota.rate, 0)
  assert.notEqual(await volumeTotal(2), Number(DEFAULT_VOLUME))
  const own = await describe(2, '2', [VOLUME, FOLLOWER])
  assert.deepEqual(own.get(VOLUME), ['-1', Source.DEFAULT_CONFIG])
  assert.deepEqual(own.get(FOLLOWER), ['0', Source.DEFAULT_CONFIG])
})

function errorIsRetriable(code: number): boolean {
  return Object.values(ErrorCode).some((e) => e.code === code && e.retriable)
}
