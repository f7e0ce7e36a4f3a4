// Against a real ZooKeeper (test/helpers/zookeeper.ts: FJORD_TEST_ZOOKEEPER, or a private
// standalone server); each test has its own root znode.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, connect, type Server, type Socket } from 'node:net'
import type { Client } from 'node-zookeeper-client'
import { NotControllerError, type ControllerCandidate } from './backend.js'
import { Controller } from './controller.js'
import type { MetadataRecord } from './records.js'
import { ZooKeeperBackend } from './zookeeper-backend.js'
import { connectClient, zookeeperForTest, type ZooKeeperForTest } from '../../test/helpers/zookeeper.js'

const A: ControllerCandidate = { id: 1, endpoint: 'ctl-1:9093' }
const B: ControllerCandidate = { id: 2, endpoint: 'ctl-2:9093' }
const C: ControllerCandidate = { id: 3, endpoint: 'ctl-3:9093' }
const opts = { timeout: 120_000 }

// One reference held for the whole file, so a private server is started once, not per test.
let keeper: ZooKeeperForTest
before(async () => {
  keeper = await zookeeperForTest()
})
after(async () => {
  await keeper?.stop()
})

/** A unique root, backends that are closed at the end, and a raw client as a third party. */
async function withZk(fn: (zk: { connectString: string; root: string; backend: (o?: { sessionTimeoutMs?: number; connectString?: string }) => ZooKeeperBackend; raw: () => Promise<Client> }) => Promise<void>): Promise<void> {
  const zk = await zookeeperForTest()
  const backends: ZooKeeperBackend[] = []
  const raws: Client[] = []
  try {
    await fn({
      connectString: zk.connectString,
      root: zk.root,
      backend: (o = {}) => {
        const b = new ZooKeeperBackend(o.connectString ?? zk.connectString, { root: zk.root, sessionTimeoutMs: o.sessionTimeoutMs ?? 10_000, connectTimeoutMs: 10_000 })
        backends.push(b)
        return b
      },
      raw: async () => {
        const c = await connectClient(zk.connectString)
        raws.push(c)
        return c
      },
    })
  } finally {
    await Promise.all(backends.map((b) => b.close().catch(() => {})))
    for (const c of raws) c.close()
    await zk.stop()
  }
}

function topic(name: string): MetadataRecord {
  return { type: 'topic', name, id: Buffer.from(name).toString('hex').padEnd(32, '0').slice(0, 32), internal: false, configs: {} }
}

function partition(t: string, p: number): MetadataRecord {
  return { type: 'partition', topic: t, partition: p, replicas: [1, 2, 3], isr: [1, 2, 3], leader: 1 + (p % 3), leaderEpoch: p, partitionEpoch: p, addingReplicas: [], removingReplicas: [] }
}

/** A promise for the next onDeposed call, and the count of calls. */
function deposedWatch(): { onDeposed: (reason: string) => void; next: Promise<string>; calls: string[] } {
  const calls: string[] = []
  let resolve!: (r: string) => void
  const next = new Promise<string>((r) => (resolve = r))
  return {
    calls,
    next,
    onDeposed: (reason) => {
      calls.push(reason)
      resolve(reason)
    },
  }
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<T>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)
  })
  return Promise.race([p, late]).finally(() => clearTimeout(timer))
}

async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let settled = false
  void p.then(
    () => (settled = true),
    () => (settled = true),
  )
  await new Promise((r) => setTimeout(r, ms))
  return settled
}

function zkCall<T>(fn: (cb: (err: unknown, r: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, r) => (err ? reject(err) : resolve(r))))
}

test('zookeeper: the first candidate wins, the second waits and takes over with a higher epoch when the first closes', opts, () =>
  withZk(async (zk) => {
    const a = zk.backend()
    const b = zk.backend()
    const da = deposedWatch()
    const db = deposedWatch()
    assert.deepEqual(await a.load(), [], 'nothing under a new root')
    assert.equal(await a.active(), null)
    const epochA = await a.campaign(A, da.onDeposed)
    assert.ok(epochA >= 1)
    const campaignB = b.campaign(B, db.onDeposed)
    assert.equal(await settlesWithin(campaignB, 1000), false, 'the second candidate waits')
    assert.deepEqual(await a.active(), A)
    assert.deepEqual(await b.active(), A)
    await assert.rejects(b.append([topic('nope')]), (e: unknown) => e instanceof NotControllerError)

    const batches: MetadataRecord[][] = [[{ type: 'cluster', clusterId: 'zk-cluster' }], [topic('orders'), partition('orders', 0), partition('orders', 1)], [{ type: 'producerIds', nextBlock: 1000 }]]
    for (const batch of batches) await a.append(batch)
    assert.deepEqual(await zk.backend().load(), batches.flat(), 'a fresh backend loads the appends in order')

    await a.close()
    const epochB = await within(campaignB, 15_000, 'the second candidate takes over')
    assert.ok(epochB > epochA, `epoch ${epochB} > ${epochA}`)
    assert.deepEqual(await zk.backend().active(), B)
    assert.deepEqual(da.calls, [], 'closing is not being deposed')
    assert.deepEqual(await b.load(), batches.flat())
    await b.append([topic('payments')])
    assert.deepEqual(await zk.backend().load(), [...batches.flat(), topic('payments')])
    assert.deepEqual(db.calls, [])

    // the epoch znode holds the epoch as text
    const raw = await zk.raw()
    const data = await zkCall<Buffer>((cb) => raw.getData(`${zk.root}/controller_epoch`, cb))
    assert.equal(data.toString(), String(epochB))
    const ctl = JSON.parse((await zkCall<Buffer>((cb) => raw.getData(`${zk.root}/controller`, cb))).toString())
    assert.deepEqual(ctl, { ...B, epoch: epochB })
  }))

test('zookeeper: a controller whose znode is deleted and taken by another is deposed and fenced', opts, () =>
  withZk(async (zk) => {
    const a = zk.backend()
    const b = zk.backend()
    const da = deposedWatch()
    const db = deposedWatch()
    const epochA = await a.campaign(A, da.onDeposed)
    await a.append([topic('from-a')])
    const campaignB = b.campaign(B, db.onDeposed)

    const raw = await zk.raw()
    await zkCall<void>((cb) => raw.remove(`${zk.root}/controller`, -1, (e) => cb(e, undefined)))
    const reason = await within(da.next, 10_000, 'onDeposed')
    assert.match(reason, /controller znode/)
    const epochB = await within(campaignB, 10_000, 'the second candidate takes over')
    assert.ok(epochB > epochA)

    const e = await a.append([topic('late-from-a')]).then(
      () => assert.fail('a deposed controller appended'),
      (err: unknown) => err,
    )
    assert.ok(e instanceof NotControllerError, String(e))
    assert.deepEqual(e.active, B)
    assert.equal(da.calls.length, 1, 'onDeposed is called once')
    await b.append([topic('from-b')])
    assert.deepEqual(await zk.backend().load(), [topic('from-a'), topic('from-b')])
    assert.deepEqual(db.calls, [])
  }))

test('zookeeper: a controller whose epoch is bumped behind its back is deposed and fenced', opts, () =>
  withZk(async (zk) => {
    const a = zk.backend()
    const da = deposedWatch()
    const epochA = await a.campaign(A, da.onDeposed)
    await a.append([topic('one')])
    const raw = await zk.raw()
    await zkCall((cb) => raw.setData(`${zk.root}/controller_epoch`, Buffer.from(String(epochA + 5)), -1, cb))
    // the append may race the watch: either way it is refused
    await assert.rejects(a.append([topic('two')]), NotControllerError)
    assert.match(await within(da.next, 10_000, 'onDeposed'), /epoch/)
    await assert.rejects(a.append([topic('three')]), NotControllerError)
    assert.equal(da.calls.length, 1)

    // the deposed controller gave its znode up: another candidate wins, above the bumped epoch
    const c = zk.backend()
    const epochC = await within(c.campaign(C, () => {}), 10_000, 'a new candidate wins')
    assert.ok(epochC > epochA + 5, `epoch ${epochC}`)
    await c.append([topic('four')])
    assert.deepEqual(await zk.backend().load(), [topic('one'), topic('four')])
  }))

test('zookeeper: an expired session deposes the controller; it can campaign again', opts, () =>
  withZk(async (zk) => {
    const proxy = await startProxy(zk.connectString)
    try {
      const a = zk.backend({ connectString: `127.0.0.1:${proxy.port}` })
      const da = deposedWatch()
      await a.campaign(A, da.onDeposed)
      await a.append([topic('x')])
      // Cut the controller off, end its session from a second connection (the classic way to
      // expire a session), then let it reconnect: ZooKeeper tells it the session expired.
      proxy.pause()
      const inner = (a as unknown as { client: Client }).client
      const twin = await connectClient(zk.connectString, 10_000, { sessionId: inner.getSessionId(), sessionPassword: inner.getSessionPassword() })
      await new Promise<void>((resolve) => {
        twin.once('disconnected', resolve)
        twin.close()
      })
      proxy.resume()
      const reason = await within(da.next, 20_000, 'onDeposed after the session expired')
      assert.match(reason, /session expired/)
      await assert.rejects(a.append([topic('y')]), NotControllerError)
      assert.equal(da.calls.length, 1)
      // the backend campaigns again, with a new session
      assert.ok((await within(a.campaign(A, () => {}), 20_000, 'a new campaign')) > 0)
      await a.append([topic('z')])
      assert.deepEqual(await zk.backend().load(), [topic('x'), topic('z')])
    } finally {
      proxy.close()
    }
  }))

test('zookeeper: a controller disconnected past its session timeout is deposed', opts, () =>
  withZk(async (zk) => {
    const proxy = await startProxy(zk.connectString)
    try {
      const a = zk.backend({ connectString: `127.0.0.1:${proxy.port}`, sessionTimeoutMs: 4000 })
      const da = deposedWatch()
      await a.campaign(A, da.onDeposed)
      const negotiated = (a as unknown as { client: Client }).client.getSessionTimeout()
      const started = Date.now()
      proxy.pause()
      const reason = await within(da.next, negotiated + 10_000, 'onDeposed while disconnected')
      assert.match(reason, /disconnected from ZooKeeper .* longer than the session timeout/)
      assert.ok(Date.now() - started >= negotiated - 100, `deposed after ${Date.now() - started} ms, session timeout ${negotiated} ms`)
      await assert.rejects(a.append([topic('y')]), NotControllerError)
      // meanwhile ZooKeeper expires the session: another candidate wins
      const b = zk.backend()
      await within(b.campaign(B, () => {}), 30_000, 'another candidate wins')
      assert.deepEqual(await zk.backend().active(), B)
      proxy.resume()
    } finally {
      proxy.close()
    }
  }))

test('zookeeper: close() does not wait for a lost connection to come back', opts, () =>
  withZk(async (zk) => {
    const proxy = await startProxy(zk.connectString)
    try {
      const a = zk.backend({ connectString: `127.0.0.1:${proxy.port}` })
      await a.campaign(A, () => {})
      proxy.pause()
      const pending = a.append([topic('never-answered')]).then(
        () => 'appended',
        (e: unknown) => e,
      )
      await new Promise((r) => setTimeout(r, 300))
      const started = Date.now()
      await a.close()
      assert.ok(Date.now() - started < 3000, `close took ${Date.now() - started} ms`)
      assert.ok((await pending) instanceof NotControllerError)
    } finally {
      proxy.close()
    }
  }))

test('zookeeper: snapshots over 1 MB are chunked, compact the log, and load with the appends after them', opts, () =>
  withZk(async (zk) => {
    const a = zk.backend()
    await a.campaign(A, () => {})
    const all: MetadataRecord[] = [topic('big')]
    await a.append([topic('big')])
    for (let k = 0; k < 12; k++) {
      const batch = Array.from({ length: 500 }, (_, i) => partition('big', k * 500 + i))
      all.push(...batch)
      await a.append(batch)
    }
    // one append bigger than a znode: written in parts, loaded as one batch
    const huge = Array.from({ length: 6000 }, (_, i) => partition('huge', i))
    all.push(topic('huge'), ...huge)
    await a.append([topic('huge'), ...huge])
    assert.ok(Buffer.byteLength(JSON.stringify(all)) > 1_500_000)
    assert.deepEqual(await zk.backend().load(), all)

    await a.snapshot(all)
    const raw = await zk.raw()
    const logLeft = await zkCall<string[]>((cb) => raw.getChildren(`${zk.root}/metadata/log`, cb))
    assert.deepEqual(logLeft, [], 'the log the snapshot covers is deleted')
    const chunks = await zkCall<string[]>((cb) => raw.getChildren(`${zk.root}/metadata/snapshot-chunks`, cb))
    assert.ok(chunks.length >= 2, `chunks: ${chunks.length}`)
    assert.deepEqual(await zk.backend().load(), all)

    await a.append([topic('after')])
    assert.deepEqual(await zk.backend().load(), [...all, topic('after')])

    // a small snapshot replaces the chunked one; its chunks go
    const small = [topic('big'), topic('after')]
    await a.snapshot(small)
    assert.deepEqual(await zkCall<string[]>((cb) => raw.getChildren(`${zk.root}/metadata/snapshot-chunks`, cb)), [])
    await a.append([topic('last')])
    assert.deepEqual(await zk.backend().load(), [...small, topic('last')])

    // a new controller loads it all and goes on
    await a.close()
    const b = zk.backend()
    await b.campaign(B, () => {})
    assert.deepEqual(await b.load(), [...small, topic('last')])
  }))

test('zookeeper: a controller replays dynamic broker configs from the log and from a snapshot, on another candidate too', opts, () =>
  withZk(async (zk) => {
    const controller = async (candidate: ControllerCandidate, options: { snapshotEveryRecords?: number } = {}): Promise<Controller> => {
      const c = new Controller(zk.backend(), candidate, { leaderImbalanceCheckIntervalMs: 0, ...options })
      await c.activate()
      return c
    }
    const layers = (c: Controller) => [c.image.brokerConfigs(''), c.image.brokerConfigs('3')]
    const a = await controller(A)
    assert.deepEqual(layers(a), [{}, {}])
    await a.alterBrokerConfigs('', { 'volume.size.bytes': '1000000' }, false, false)
    await a.alterBrokerConfigs('3', { 'follower.replication.throttled.rate': '1024', 'volume.size.bytes': '2000000' }, false, false)
    await a.alterBrokerConfigs('3', { 'volume.size.bytes': null }, false, false)
    await a.close()
    const expected = [{ 'volume.size.bytes': '1000000' }, { 'follower.replication.throttled.rate': '1024' }]

    const b = await controller(B, { snapshotEveryRecords: 1 })
    assert.deepEqual(layers(b), expected)
    await b.alterBrokerConfigs('', { 'leader.replication.throttled.rate': '2048' }, false, false) // snapshots
    await b.close()
    const raw = await zk.raw()
    assert.deepEqual(await zkCall<string[]>((cb) => raw.getChildren(`${zk.root}/metadata/log`, cb)), [], 'the snapshot holds everything')

    const c = await controller(C)
    assert.deepEqual(layers(c), [{ ...expected[0], 'leader.replication.throttled.rate': '2048' }, expected[1]])
    await c.close()
  }))

test('zookeeper: an append whose answer is lost is resolved, neither lost nor doubled', opts, () =>
  withZk(async (zk) => {
    const proxy = await startProxy(zk.connectString)
    try {
      const a = zk.backend({ connectString: `127.0.0.1:${proxy.port}` })
      const da = deposedWatch()
      await a.campaign(A, da.onDeposed)
      await a.append([topic('first')])

      proxy.cut = 'response' // the server applies the append, the answer never arrives
      await within(a.append([topic('answer-lost')]), 20_000, 'append with a lost answer')
      assert.equal(proxy.cuts, 1)

      proxy.cut = 'request' // the append never reaches the server
      await within(a.append([topic('request-lost')]), 20_000, 'append with a lost request')
      assert.equal(proxy.cuts, 2)

      assert.deepEqual(await zk.backend().load(), [topic('first'), topic('answer-lost'), topic('request-lost')])
      assert.deepEqual(da.calls, [])
    } finally {
      proxy.close()
    }
  }))

test('zookeeper: an unreachable ZooKeeper fails with the connect string named', opts, async () => {
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port
      s.close(() => resolve(p))
    })
  })
  const b = new ZooKeeperBackend(`127.0.0.1:${port}`, { root: '/fjord', connectTimeoutMs: 1500 })
  const started = Date.now()
  await assert.rejects(b.load(), new RegExp(`cannot connect to ZooKeeper at 127\\.0\\.0\\.1:${port} within 1500 ms`))
  assert.ok(Date.now() - started < 5000)
  await assert.rejects(b.campaign(A, () => {}), /cannot connect to ZooKeeper/)
  assert.equal(await b.active(), null)
  await b.close()
  assert.throws(() => new ZooKeeperBackend('not a connect string'), /invalid ZooKeeper connect string/)
  assert.throws(() => new ZooKeeperBackend('127.0.0.1:2181', { root: 'relative' }), /invalid ZooKeeper root/)
})

/**
 * A TCP proxy to ZooKeeper that can lose one exchange: with `cut = 'request'` the next request
 * bigger than a ping is dropped, with `cut = 'response'` the next response bigger than a ping's
 * is dropped; then both sides of that connection are destroyed (the client reconnects). pause()
 * cuts the client off ZooKeeper until resume().
 */
interface Proxy {
  port: number
  cut: 'none' | 'request' | 'response'
  cuts: number
  /** Drops every connection and refuses new ones until resume(). */
  pause(): void
  resume(): void
  close(): void
}

function startProxy(connectString: string): Promise<Proxy> {
  const target = connectString.split(',')[0]!
  const host = target.slice(0, target.lastIndexOf(':'))
  const port = Number(target.slice(target.lastIndexOf(':') + 1))
  const sockets = new Set<Socket>()
  let paused = false
  const state: Proxy = {
    port: 0,
    cut: 'none',
    cuts: 0,
    pause: () => {
      paused = true
      for (const s of sockets) s.destroy()
    },
    resume: () => {
      paused = false
    },
    close: () => {
      server.close()
      for (const s of sockets) s.destroy()
    },
  }
  const PING = 20 // a ping request is 12 bytes, its response 20 (with the length prefix)
  const server: Server = createServer((client) => {
    if (paused) {
      client.destroy()
      return
    }
    const upstream = connect(port, host)
    sockets.add(client)
    sockets.add(upstream)
    const kill = (): void => {
      client.destroy()
      upstream.destroy()
    }
    let connected = false
    client.on('data', (chunk: Buffer) => {
      if (connected && state.cut === 'request' && chunk.length > PING) {
        state.cut = 'none'
        state.cuts++
        kill()
        return
      }
      upstream.write(chunk)
    })
    upstream.on('data', (chunk: Buffer) => {
      if (connected && state.cut === 'response' && chunk.length > PING) {
        state.cut = 'none'
        state.cuts++
        kill()
        return
      }
      connected = true // the first answer is the session's
      client.write(chunk)
    })
    for (const s of [client, upstream]) {
      s.on('error', kill)
      s.on('close', () => {
        sockets.delete(s)
        kill()
      })
    }
  })
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      state.port = (server.address() as { port: number }).port
      resolve(state)
    })
  })
}
