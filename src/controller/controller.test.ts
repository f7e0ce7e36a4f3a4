// The controller on an in-memory metadata log (memory-backend.ts): assignment over racks, fencing
// and elections, AlterPartition's epoch checks, controlled shutdown, reassignment, preferred
// leaders, producer-id blocks across controller restarts, and topic creation's validation. Each
// test drives the Controller's methods directly, as the RPC sessions of brokers would.

import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { Controller, PRODUCER_ID_BLOCK_SIZE, type ControllerOptions, type Outcome, type TopicCreation } from './controller.js'
import { MemoryBackend, MemoryMetadataStore } from './memory-backend.js'
import { MetadataImage, type MetadataRecord, type PartitionState } from './records.js'
import { ErrorCode, KafkaError } from '../protocol/errors.js'

const E = Object.fromEntries(Object.entries(ErrorCode).map(([k, v]) => [k, v.code])) as Record<keyof typeof ErrorCode, number>

interface Harness {
  c: Controller
  store: MemoryMetadataStore
  /** broker id -> its current broker epoch */
  epochs: Map<number, number>
  register(id: number, rack?: string | null): Promise<number>
  state(topic: string, partition: number): PartitionState
  create(name: string, assignments: number[][], configs?: Record<string, string>): Promise<void>
  alter(brokerId: number, topic: string, partition: number, isr: number[], overrides?: { leaderEpoch?: number; partitionEpoch?: number; brokerEpoch?: number }): Promise<PartitionState>
  close(): Promise<void>
}

let incarnations = 0

async function start(options: Partial<ControllerOptions> = {}, store = new MemoryMetadataStore()): Promise<Harness> {
  // no periodic preferred elections and no session expiry unless a test asks for them
  const c = new Controller(new MemoryBackend(store), { id: 100, endpoint: 'memory' }, { sessionTimeoutMs: 60_000, leaderImbalanceCheckIntervalMs: 0, ...options })
  await c.activate()
  const epochs = new Map<number, number>()
  const h: Harness = {
    c,
    store,
    epochs,
    async register(id, rack = null) {
      const { brokerEpoch } = await c.registerBroker({ brokerId: id, host: '127.0.0.1', port: 9000 + id, rack, incarnation: `run-${++incarnations}` })
      epochs.set(id, brokerEpoch)
      return brokerEpoch
    },
    state(topic, partition) {
      const s = c.image.partitionState(topic, partition)
      assert.ok(s, `${topic}-${partition} exists`)
      return s
    },
    async create(name, assignments, configs = {}) {
      const [outcome] = await c.createTopics([{ name, partitions: -1, replicationFactor: -1, configs, assignments }], false)
      assert.ok(outcome && 'ok' in outcome, `created ${name}: ${JSON.stringify(outcome)}`)
    },
    alter(brokerId, topic, partition, isr, o = {}) {
      const s = h.state(topic, partition)
      return c.alterPartition({
        brokerId, brokerEpoch: o.brokerEpoch ?? epochs.get(brokerId)!, topic, partition,
        leaderEpoch: o.leaderEpoch ?? s.leaderEpoch, partitionEpoch: o.partitionEpoch ?? s.partitionEpoch, isr,
      })
    },
    close: () => c.close(),
  }
  return h
}

/** Resolves when `p` rejects with a KafkaError of `code`. */
async function rejectsWith(p: Promise<unknown>, code: number, what = ''): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof KafkaError, `${what}: a KafkaError, got ${String(err)}`)
    assert.equal(err.code, code, `${what}: error ${err.code} (${err.message}), expected ${code}`)
    return true
  })
}

function codeOf<T>(o: Outcome<T> | undefined): number {
  assert.ok(o)
  return 'ok' in o ? 0 : o.error.code
}

function pick(s: PartitionState): Pick<PartitionState, 'replicas' | 'isr' | 'leader' | 'leaderEpoch' | 'partitionEpoch'> {
  return { replicas: s.replicas, isr: s.isr, leader: s.leader, leaderEpoch: s.leaderEpoch, partitionEpoch: s.partitionEpoch }
}

describe('assignment', () => {
  test('rack-aware: 3 racks x 2 brokers, RF 3: every partition spans the 3 racks, leaders spread evenly', async () => {
    const h = await start()
    try {
      const rackOf = new Map<number, string>()
      for (const [id, rack] of [[1, 'az-1'], [2, 'az-1'], [3, 'az-2'], [4, 'az-2'], [5, 'az-3'], [6, 'az-3']] as const) {
        await h.register(id, rack)
        rackOf.set(id, rack)
      }
      for (const partitions of [12, 6, 30]) {
        const name = `spread-${partitions}`
        const [outcome] = await h.c.createTopics([{ name, partitions, replicationFactor: 3, configs: {} }], false)
        assert.equal(codeOf(outcome), 0)
        const leaders = new Map<number, number>()
        const replicaCount = new Map<number, number>()
        for (let p = 0; p < partitions; p++) {
          const s = h.state(name, p)
          assert.equal(s.replicas.length, 3)
          assert.equal(new Set(s.replicas).size, 3, `${name}-${p}: distinct replicas ${s.replicas}`)
          assert.equal(new Set(s.replicas.map((r) => rackOf.get(r))).size, 3, `${name}-${p}: replicas ${s.replicas} in 3 racks`)
          assert.deepEqual(s.isr, s.replicas)
          assert.equal(s.leader, s.replicas[0], 'the preferred replica leads')
          assert.equal(s.leaderEpoch, 0)
          leaders.set(s.leader, (leaders.get(s.leader) ?? 0) + 1)
          for (const r of s.replicas) replicaCount.set(r, (replicaCount.get(r) ?? 0) + 1)
        }
        assert.equal(leaders.size, 6, `${name}: every broker leads some partition`)
        for (const [id, n] of leaders) assert.equal(n, partitions / 6, `${name}: broker ${id} leads ${n} partitions`)
        for (const [id, n] of replicaCount) assert.ok(Math.abs(n - (partitions * 3) / 6) <= partitions / 6, `${name}: broker ${id} holds ${n} replicas`)
      }
      // RF 2 with 3 racks: two different racks each time
      const [rf2] = await h.c.createTopics([{ name: 'rf2', partitions: 6, replicationFactor: 2, configs: {} }], false)
      assert.equal(codeOf(rf2), 0)
      for (let p = 0; p < 6; p++) assert.equal(new Set(h.state('rf2', p).replicas.map((r) => rackOf.get(r))).size, 2)
    } finally {
      await h.close()
    }
  })

  test('without racks every broker is used; fenced and shutting-down brokers get no new replicas', async () => {
    const h = await start()
    try {
      for (const id of [1, 2, 3, 4]) await h.register(id)
      await h.c.fenceBroker(4, 'test')
      await h.c.heartbeat(3, h.epochs.get(3)!, true)
      const [outcome] = await h.c.createTopics([{ name: 'two', partitions: 8, replicationFactor: 2, configs: {} }], false)
      assert.equal(codeOf(outcome), 0)
      const used = new Set<number>()
      for (let p = 0; p < 8; p++) for (const r of h.state('two', p).replicas) used.add(r)
      assert.deepEqual([...used].sort(), [1, 2])
      const [tooMany] = await h.c.createTopics([{ name: 'three', partitions: 1, replicationFactor: 3, configs: {} }], false)
      assert.equal(codeOf(tooMany), E.INVALID_REPLICATION_FACTOR)
    } finally {
      await h.close()
    }
  })
})

describe('fencing and elections', () => {
  test('fencing the leader moves leadership within the ISR and bumps leader and partition epochs', async () => {
    const h = await start()
    try {
      for (const id of [1, 2, 3]) await h.register(id)
      await h.create('t', [[1, 2, 3], [2, 3, 1]])
      assert.deepEqual(pick(h.state('t', 0)), { replicas: [1, 2, 3], isr: [1, 2, 3], leader: 1, leaderEpoch: 0, partitionEpoch: 0 })
      const published: MetadataRecord[][] = []
      h.c.subscribe((records) => published.push(records))
      await h.c.fenceBroker(1, 'test')
      assert.equal(h.c.image.brokers.get(1)!.fenced, true)
      assert.deepEqual(pick(h.state('t', 0)), { replicas: [1, 2, 3], isr: [2, 3], leader: 2, leaderEpoch: 1, partitionEpoch: 1 })
      // a follower leaves the ISR; its leader keeps its epoch
      assert.deepEqual(pick(h.state('t', 1)), { replicas: [2, 3, 1], isr: [2, 3], leader: 2, leaderEpoch: 0, partitionEpoch: 1 })
      assert.equal(published.length, 1, 'one commit')
      assert.deepEqual(published[0]!.map((r) => r.type), ['broker', 'partition', 'partition'])
      // fencing a fenced broker changes nothing
      await h.c.fenceBroker(1, 'again')
      assert.equal(published.length, 1)
    } finally {
      await h.close()
    }
  })

  test('the last ISR member stays recorded and the partition goes offline; its re-registration brings it back as leader', async () => {
    const h = await start()
    try {
      for (const id of [1, 2, 3]) await h.register(id)
      await h.create('t', [[1, 2, 3]])
      await h.c.fenceBroker(1, 'test')
      await h.c.fenceBroker(2, 'test')
      assert.deepEqual(pick(h.state('t', 0)), { replicas: [1, 2, 3], isr: [3], leader: 3, leaderEpoch: 2, partitionEpoch: 2 })
      await h.c.fenceBroker(3, 'test')
      assert.deepEqual(pick(h.state('t', 0)), { replicas: [1, 2, 3], isr: [3], leader: -1, leaderEpoch: 3, partitionEpoch: 3 })
      // out-of-sync replicas coming back do not lead (unclean election is off)
      await h.register(1)
      await h.register(2)
      assert.equal(h.state('t', 0).leader, -1)
      assert.equal(h.c.image.brokers.get(1)!.fenced, false)
      await h.register(3)
      assert.deepEqual(pick(h.state('t', 0)), { replicas: [1, 2, 3], isr: [3], leader: 3, leaderEpoch: 4, partitionEpoch: 4 })
    } finally {
      await h.close()
    }
  })

  test('a broker restarting before it was fenced (a new incarnation) leads again what only it had in sync', async () => {
    const h = await start()
    try {
      for (const id of [1, 2]) await h.register(id)
      await h.create('solo', [[1]])
      await h.create('pair', [[1, 2]])
      const before = h.state('solo', 0).leaderEpoch
      await h.register(1) // a new incarnation: the old one is fenced first, within the same change
      const solo = h.state('solo', 0)
      assert.equal(solo.leader, 1, 'the restarted broker leads its single-replica partition again')
      assert.deepEqual(solo.isr, [1])
      assert.ok(solo.leaderEpoch > before, 'with a new leader epoch')
      const pair = h.state('pair', 0)
      assert.equal(pair.leader, 2, 'a partition with another in-sync replica moved to it')
      assert.deepEqual(pair.isr, [2])
    } finally {
      await h.close()
    }
  })

  test('unclean election: when enabled, an out-of-sync replica leads; when not, only ElectLeaders(unclean) does it', async () => {
    for (const [options, configs] of [[{ uncleanLeaderElection: true }, {}], [{}, { 'unclean.leader.election.enable': 'true' }]] as const) {
      const h = await start(options)
      try {
        for (const id of [1, 2]) await h.register(id)
        await h.create('u', [[1, 2]], configs)
        await h.c.fenceBroker(2, 'test')
        await h.register(2) // alive again but out of sync
        assert.deepEqual(h.state('u', 0).isr, [1])
        await h.c.fenceBroker(1, 'test')
        assert.deepEqual(pick(h.state('u', 0)), { replicas: [1, 2], isr: [2], leader: 2, leaderEpoch: 1, partitionEpoch: 2 })
      } finally {
        await h.close()
      }
    }
    // both replicas down, unclean enabled: the first one back leads
    const back = await start({ uncleanLeaderElection: true })
    try {
      for (const id of [1, 2]) await back.register(id)
      await back.create('u', [[1, 2]])
      await back.c.fenceBroker(2, 'test')
      await back.c.fenceBroker(1, 'test')
      assert.equal(back.state('u', 0).leader, -1)
      await back.register(2)
      assert.equal(back.state('u', 0).leader, 2)
      assert.deepEqual(back.state('u', 0).isr, [2])
    } finally {
      await back.close()
    }
    // disabled: offline until an unclean ElectLeaders
    const h = await start()
    try {
      for (const id of [1, 2]) await h.register(id)
      await h.create('u', [[1, 2]])
      await h.c.fenceBroker(2, 'test')
      await h.register(2)
      await h.c.fenceBroker(1, 'test')
      assert.deepEqual(pick(h.state('u', 0)), { replicas: [1, 2], isr: [1], leader: -1, leaderEpoch: 1, partitionEpoch: 2 })
      const preferred = await h.c.electLeaders(0, [{ topic: 'u', partition: 0 }])
      assert.equal(codeOf(preferred[0]), E.PREFERRED_LEADER_NOT_AVAILABLE)
      const [elected] = await h.c.electLeaders(1, [{ topic: 'u', partition: 0 }])
      assert.deepEqual(elected, { ok: { topic: 'u', partition: 0, leader: 2 } })
      assert.deepEqual(pick(h.state('u', 0)), { replicas: [1, 2], isr: [2], leader: 2, leaderEpoch: 2, partitionEpoch: 3 })
      const [again] = await h.c.electLeaders(1, [{ topic: 'u', partition: 0 }])
      assert.equal(codeOf(again), E.ELECTION_NOT_NEEDED)
      const [missing] = await h.c.electLeaders(1, [{ topic: 'nope', partition: 0 }])
      assert.equal(codeOf(missing), E.UNKNOWN_TOPIC_OR_PARTITION)
      await h.c.fenceBroker(2, 'test')
      const [nobody] = await h.c.electLeaders(1, [{ topic: 'u', partition: 0 }])
      assert.equal(codeOf(nobody), E.ELIGIBLE_LEADERS_NOT_AVAILABLE)
    } finally {
      await h.close()
    }
  })

  test('a broker silent for the session timeout, or whose session connection closed, is fenced', async () => {
    const h = await start({ sessionTimeoutMs: 300, disconnectGraceMs: 50 })
    try {
      for (const id of [1, 2, 3]) await h.register(id)
      await h.create('t', [[1, 2, 3]])
      h.c.sessionConnection(3, true)
      h.c.sessionConnection(3, false)
      const until = Date.now() + 5000
      const beat = setInterval(() => void h.c.heartbeat(2, h.epochs.get(2)!, false), 50)
      try {
        while (!h.c.image.brokers.get(1)!.fenced || !h.c.image.brokers.get(3)!.fenced) {
          assert.ok(Date.now() < until, 'brokers 1 and 3 fenced in time')
          await new Promise((r) => setTimeout(r, 20))
        }
      } finally {
        clearInterval(beat)
      }
      assert.equal(h.c.image.brokers.get(2)!.fenced, false, 'the heartbeating broker stays')
      assert.deepEqual(pick(h.state('t', 0)), { replicas: [1, 2, 3], isr: [2], leader: 2, leaderEpoch: 1, partitionEpoch: 2 })
      assert.deepEqual(await h.c.heartbeat(1, h.epochs.get(1)!, false), { fenced: true, shutdownReady: false })
      assert.deepEqual(await h.c.heartbeat(2, h.epochs.get(2)! - 1, false), { fenced: true, shutdownReady: false }, 'an old incarnation')
    } finally {
      await h.close()
    }
  })
})

describe('AlterPartition', () => {
  test('refused with a stale partition epoch, a wrong leader epoch, a non-leader or a stale broker epoch', async () => {
    const h = await start()
    try {
      for (const id of [1, 2, 3]) await h.register(id)
      await h.create('t', [[1, 2, 3]])
      const shrunk = await h.alter(1, 't', 0, [1, 2])
      assert.deepEqual(pick(shrunk), { replicas: [1, 2, 3], isr: [1, 2], leader: 1, leaderEpoch: 0, partitionEpoch: 1 })
      assert.deepEqual(pick(h.state('t', 0)), pick(shrunk))
      await rejectsWith(h.alter(1, 't', 0, [1], { partitionEpoch: 0 }), E.INVALID_UPDATE_VERSION, 'stale partition epoch')
      await rejectsWith(h.alter(1, 't', 0, [1], { leaderEpoch: 1 }), E.FENCED_LEADER_EPOCH, 'future leader epoch')
      await rejectsWith(h.alter(2, 't', 0, [2]), E.FENCED_LEADER_EPOCH, 'not the leader')
      await rejectsWith(h.alter(1, 't', 0, [1], { brokerEpoch: h.epochs.get(1)! - 1 }), E.STALE_BROKER_EPOCH, 'old broker epoch')
      await rejectsWith(h.alter(1, 't', 0, [2, 3]), E.INVALID_REQUEST, 'leader left out')
      await rejectsWith(h.alter(1, 't', 0, [1, 4]), E.INVALID_REQUEST, 'not a replica')
      await rejectsWith(h.c.alterPartition({ brokerId: 1, brokerEpoch: h.epochs.get(1)!, topic: 'nope', partition: 0, leaderEpoch: 0, partitionEpoch: 0, isr: [1] }),
        E.UNKNOWN_TOPIC_OR_PARTITION, 'unknown partition')
      // a deposed leader (its epoch is over) cannot change the ISR
      await h.c.fenceBroker(1, 'test')
      const s = h.state('t', 0)
      assert.equal(s.leader, 2)
      await rejectsWith(h.alter(1, 't', 0, [1, 2], { leaderEpoch: 0, partitionEpoch: 1 }), E.STALE_BROKER_EPOCH, 'fenced broker')
      await h.register(1)
      await rejectsWith(h.alter(1, 't', 0, [1, 2], { leaderEpoch: 0, partitionEpoch: 1 }), E.FENCED_LEADER_EPOCH, 'old leader epoch')
      assert.deepEqual(pick(h.state('t', 0)), pick(s), 'nothing changed')
    } finally {
      await h.close()
    }
  })

  test('expanding the ISR with a fenced or shutting-down broker is refused (INELIGIBLE_REPLICA); a live one joins', async () => {
    const h = await start()
    try {
      for (const id of [1, 2, 3, 4]) await h.register(id)
      await h.create('t', [[1, 2, 3, 4]])
      await h.c.fenceBroker(3, 'test')
      await h.c.heartbeat(4, h.epochs.get(4)!, true) // controlled shutdown: out of the ISR
      assert.deepEqual(h.state('t', 0).isr, [1, 2])
      await rejectsWith(h.alter(1, 't', 0, [1, 2, 3]), E.INELIGIBLE_REPLICA, 'fenced')
      await rejectsWith(h.alter(1, 't', 0, [1, 2, 4]), E.INELIGIBLE_REPLICA, 'shutting down')
      await h.register(3)
      const before = h.state('t', 0)
      const grown = await h.alter(1, 't', 0, [1, 2, 3])
      assert.deepEqual(pick(grown), { replicas: [1, 2, 3, 4], isr: [1, 2, 3], leader: 1, leaderEpoch: before.leaderEpoch, partitionEpoch: before.partitionEpoch + 1 })
    } finally {
      await h.close()
    }
  })
})

describe('controlled shutdown', () => {
  test('a heartbeat with wantShutdown moves leaderships away and takes the broker out of ISRs', async () => {
    const h = await start()
    try {
      for (const id of [1, 2, 3]) await h.register(id)
      await h.create('t', [[1, 2, 3], [2, 3, 1], [3, 1, 2]])
      await h.create('solo', [[1]])
      const answer = await h.c.heartbeat(1, h.epochs.get(1)!, true)
      assert.deepEqual(answer, { fenced: false, shutdownReady: true })
      const b = h.c.image.brokers.get(1)!
      assert.equal(b.shuttingDown, true)
      assert.equal(b.fenced, false)
      assert.deepEqual(pick(h.state('t', 0)), { replicas: [1, 2, 3], isr: [2, 3], leader: 2, leaderEpoch: 1, partitionEpoch: 1 })
      assert.deepEqual(pick(h.state('t', 1)), { replicas: [2, 3, 1], isr: [2, 3], leader: 2, leaderEpoch: 0, partitionEpoch: 1 })
      assert.deepEqual(pick(h.state('t', 2)), { replicas: [3, 1, 2], isr: [3, 2], leader: 3, leaderEpoch: 0, partitionEpoch: 1 })
      // nobody else can lead it: it leads until it goes
      assert.deepEqual(pick(h.state('solo', 0)), { replicas: [1], isr: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 0 })
      // asking again changes nothing more
      const offset = h.c.image.offset
      assert.deepEqual(await h.c.heartbeat(1, h.epochs.get(1)!, true), { fenced: false, shutdownReady: true })
      assert.equal(h.c.image.offset, offset)
      // preferred elections do not move leadership back to it
      assert.equal(codeOf((await h.c.electLeaders(0, [{ topic: 't', partition: 0 }]))[0]), E.PREFERRED_LEADER_NOT_AVAILABLE)
      assert.deepEqual(await h.c.electPreferredLeaders(), [])
      // once it stops (session closed) it is fenced; the solo partition goes offline, kept in its ISR
      await h.c.fenceBroker(1, 'stopped')
      assert.deepEqual(pick(h.state('solo', 0)), { replicas: [1], isr: [1], leader: -1, leaderEpoch: 1, partitionEpoch: 1 })
      // registering again clears the shutdown and brings the solo partition back
      await h.register(1)
      assert.equal(h.c.image.brokers.get(1)!.shuttingDown, false)
      assert.equal(h.state('solo', 0).leader, 1)
    } finally {
      await h.close()
    }
  })
})

describe('reassignment', () => {
  test('adds the new replicas, completes once they are in the ISR (leadership moves into the target), and cancels', async () => {
    const h = await start()
    try {
      for (const id of [1, 2, 3, 4]) await h.register(id)
      await h.create('r', [[1, 2], [1, 2], [1, 2]])
      const outcomes = await h.c.alterReassignments([
        { topic: 'r', partition: 0, replicas: [2, 3] },
        { topic: 'r', partition: 1, replicas: [3, 4] },
        { topic: 'r', partition: 2, replicas: [2, 1] }, // only the order: completes at once
        { topic: 'r', partition: 9, replicas: [1, 2] },
        { topic: 'nope', partition: 0, replicas: [1, 2] },
        { topic: 'r', partition: 0, replicas: [] },
      ])
      assert.deepEqual(outcomes.map(codeOf), [0, 0, 0, E.UNKNOWN_TOPIC_OR_PARTITION, E.UNKNOWN_TOPIC_OR_PARTITION, E.INVALID_REPLICA_ASSIGNMENT])
      for (const bad of [[2, 2], [2, 9], [-1]]) {
        assert.equal(codeOf((await h.c.alterReassignments([{ topic: 'r', partition: 0, replicas: bad }]))[0]), E.INVALID_REPLICA_ASSIGNMENT, `${bad}`)
      }
      const p0 = h.state('r', 0)
      assert.deepEqual({ ...pick(p0), adding: p0.addingReplicas, removing: p0.removingReplicas },
        { replicas: [2, 3, 1], isr: [1, 2], leader: 1, leaderEpoch: 0, partitionEpoch: 1, adding: [3], removing: [1] })
      assert.deepEqual(pick(h.state('r', 2)), { replicas: [2, 1], isr: [1, 2], leader: 1, leaderEpoch: 0, partitionEpoch: 1 })
      assert.deepEqual(h.c.listReassignments(), [
        { topic: 'r', partition: 0, replicas: [2, 3, 1], addingReplicas: [3], removingReplicas: [1] },
        { topic: 'r', partition: 1, replicas: [3, 4, 1, 2], addingReplicas: [3, 4], removingReplicas: [1, 2] },
      ])

      // broker 3 caught up: the leader adds it to the ISR, which completes the reassignment
      const done = await h.alter(1, 'r', 0, [1, 2, 3])
      assert.deepEqual({ ...pick(done), adding: done.addingReplicas, removing: done.removingReplicas },
        { replicas: [2, 3], isr: [2, 3], leader: 2, leaderEpoch: 1, partitionEpoch: 2, adding: [], removing: [] })
      assert.deepEqual(pick(h.state('r', 0)), pick(done))

      // partition 1: one of two new replicas in sync is not enough
      const half = await h.alter(1, 'r', 1, [1, 2, 3])
      assert.deepEqual(half.addingReplicas, [3, 4])
      assert.deepEqual(half.isr, [1, 2, 3])
      // cancel: back to the original replicas, the added ones leave the ISR
      assert.deepEqual((await h.c.alterReassignments([{ topic: 'r', partition: 1, replicas: null }])).map(codeOf), [0])
      const cancelled = h.state('r', 1)
      assert.deepEqual({ ...pick(cancelled), adding: cancelled.addingReplicas, removing: cancelled.removingReplicas },
        { replicas: [1, 2], isr: [1, 2], leader: 1, leaderEpoch: 0, partitionEpoch: 3, adding: [], removing: [] })
      assert.deepEqual(h.c.listReassignments(), [])
      assert.deepEqual((await h.c.alterReassignments([{ topic: 'r', partition: 1, replicas: null }])).map(codeOf), [E.NO_REASSIGNMENT_IN_PROGRESS])
    } finally {
      await h.close()
    }
  })

  test('a new target replaces one in progress; shrinking to in-sync replicas completes at once', async () => {
    const h = await start()
    try {
      for (const id of [1, 2, 3, 4]) await h.register(id)
      await h.create('r', [[1, 2, 3]])
      await h.c.alterReassignments([{ topic: 'r', partition: 0, replicas: [1, 2, 4] }])
      assert.deepEqual(h.c.listReassignments(), [{ topic: 'r', partition: 0, replicas: [1, 2, 4, 3], addingReplicas: [4], removingReplicas: [3] }])
      // retarget: the original replicas are [1, 2, 3], not counting 4
      await h.c.alterReassignments([{ topic: 'r', partition: 0, replicas: [2, 3] }])
      const s = h.state('r', 0)
      assert.deepEqual({ replicas: s.replicas, isr: s.isr, leader: s.leader, adding: s.addingReplicas, removing: s.removingReplicas },
        { replicas: [2, 3], isr: [2, 3], leader: 2, adding: [], removing: [] })
    } finally {
      await h.close()
    }
  })
})

describe('preferred leaders', () => {
  test('ElectLeaders(preferred) and the periodic check move leadership back to the first replica once it is in sync', async () => {
    const h = await start()
    try {
      for (const id of [1, 2, 3]) await h.register(id)
      await h.create('p', [[1, 2, 3], [2, 3, 1]])
      await h.c.fenceBroker(1, 'test')
      await h.register(1)
      assert.equal(h.state('p', 0).leader, 2)
      assert.deepEqual(h.state('p', 0).isr, [2, 3])
      assert.deepEqual((await h.c.electLeaders(0, [{ topic: 'p', partition: 0 }, { topic: 'p', partition: 1 }, { topic: 'p', partition: 5 }])).map(codeOf),
        [E.PREFERRED_LEADER_NOT_AVAILABLE, E.ELECTION_NOT_NEEDED, E.UNKNOWN_TOPIC_OR_PARTITION])
      assert.deepEqual(await h.c.electPreferredLeaders(), [], 'not in sync yet')
      await h.alter(2, 'p', 0, [2, 3, 1])
      const before = h.state('p', 0)
      const [elected] = await h.c.electLeaders(0, [{ topic: 'p', partition: 0 }])
      assert.deepEqual(elected, { ok: { topic: 'p', partition: 0, leader: 1 } })
      assert.deepEqual(pick(h.state('p', 0)), { replicas: [1, 2, 3], isr: [2, 3, 1], leader: 1, leaderEpoch: before.leaderEpoch + 1, partitionEpoch: before.partitionEpoch + 1 })
      assert.equal(codeOf((await h.c.electLeaders(0, [{ topic: 'p', partition: 0 }]))[0]), E.ELECTION_NOT_NEEDED)

      // the periodic check (electPreferredLeaders) does the same for every partition
      await h.c.fenceBroker(2, 'test')
      await h.register(2)
      assert.equal(h.state('p', 1).leader, 3)
      await h.alter(3, 'p', 1, [3, 1, 2])
      assert.deepEqual(await h.c.electPreferredLeaders(), [{ ok: { topic: 'p', partition: 1, leader: 2 } }])
      assert.equal(h.state('p', 1).leader, 2)
    } finally {
      await h.close()
    }
  })

  test('the periodic check runs on its own when enabled', async () => {
    const h = await start({ leaderImbalanceCheckIntervalMs: 50 })
    try {
      for (const id of [1, 2]) await h.register(id)
      await h.create('p', [[1, 2]])
      await h.c.fenceBroker(1, 'test')
      await h.register(1)
      await h.alter(2, 'p', 0, [2, 1])
      const until = Date.now() + 3000
      while (h.state('p', 0).leader !== 1) {
        assert.ok(Date.now() < until, 'leadership back on broker 1')
        await new Promise((r) => setTimeout(r, 20))
      }
    } finally {
      await h.close()
    }
  })
})

describe('producer ids', () => {
  test('blocks never repeat across restarts of the controller on the same log, snapshots included', async () => {
    for (const snapshotEveryRecords of [5000, 1, 3]) {
      const store = new MemoryMetadataStore()
      const seen: { start: number; length: number }[] = []
      for (let run = 0; run < 3; run++) {
        const h = await start({ snapshotEveryRecords }, store)
        try {
          await h.register(1)
          for (let i = 0; i < 3; i++) seen.push(await h.c.allocateProducerIds())
          // concurrent requests are serialized
          seen.push(...(await Promise.all([h.c.allocateProducerIds(), h.c.allocateProducerIds()])))
        } finally {
          await h.close()
        }
      }
      for (const b of seen) assert.equal(b.length, PRODUCER_ID_BLOCK_SIZE)
      const starts = seen.map((b) => b.start).sort((a, b) => a - b)
      assert.equal(new Set(starts).size, starts.length, `distinct blocks (snapshot every ${snapshotEveryRecords})`)
      for (let i = 1; i < starts.length; i++) assert.ok(starts[i]! >= starts[i - 1]! + PRODUCER_ID_BLOCK_SIZE, 'blocks do not overlap')
      if (snapshotEveryRecords === 1) assert.ok(store.snapshots > 0, 'snapshots were taken')
      // the image rebuilt from the store agrees
      const image = new MetadataImage()
      for (const r of [...store.snapshot, ...store.log]) image.apply(r)
      assert.equal(image.nextProducerIdBlock, starts[starts.length - 1]! + PRODUCER_ID_BLOCK_SIZE)
    }
  })

  test('a controller deposed by a newer one hands out no more blocks', async () => {
    const store = new MemoryMetadataStore()
    const first = await start({}, store)
    const a = await first.c.allocateProducerIds()
    const second = await start({}, store)
    try {
      assert.equal(first.c.isActive, false)
      await rejectsWith(first.c.allocateProducerIds(), E.NOT_CONTROLLER, 'deposed')
      const b = await second.c.allocateProducerIds()
      assert.ok(b.start >= a.start + a.length)
    } finally {
      await first.close()
      await second.close()
    }
  })
})

describe('topic creation', () => {
  test('validation: duplicates, names, existing topics, partitions, replication factor, assignments, configs', async () => {
    const h = await start()
    try {
      for (const id of [1, 2, 3]) await h.register(id)
      await h.create('exists', [[1]])
      const t = (name: string, partitions = 1, replicationFactor = 1, extra: Partial<TopicCreation> = {}): TopicCreation => ({ name, partitions, replicationFactor, configs: {}, ...extra })
      const outcomes = await h.c.createTopics([
        t('dup'), t('dup'),
        t(''), t('.'), t('..'), t('a/b'), t('x'.repeat(250)), t('sp ace'),
        t('exists'),
        t('rf4', 1, 4), t('rf0', 1, 0), t('p0', 0, 1), t('pmax', 100_001, 1),
        t('assign-dup', -1, -1, { assignments: [[1, 1]] }), t('assign-empty', -1, -1, { assignments: [[]] }), t('assign-unknown', -1, -1, { assignments: [[1, 7]] }),
        t('badconfig', 1, 1, { configs: { 'cleanup.policy': 'sometimes' } }), t('unknownconfig', 1, 1, { configs: { 'no.such.config': '1' } }),
        t('fine', 3, 3), t('x'.repeat(249)),
      ], false)
      assert.deepEqual(outcomes.map(codeOf), [
        0, E.INVALID_REQUEST,
        E.INVALID_TOPIC_EXCEPTION, E.INVALID_TOPIC_EXCEPTION, E.INVALID_TOPIC_EXCEPTION, E.INVALID_TOPIC_EXCEPTION, E.INVALID_TOPIC_EXCEPTION, E.INVALID_TOPIC_EXCEPTION,
        E.TOPIC_ALREADY_EXISTS,
        E.INVALID_REPLICATION_FACTOR, E.INVALID_REPLICATION_FACTOR, E.INVALID_PARTITIONS, E.INVALID_PARTITIONS,
        E.INVALID_REPLICA_ASSIGNMENT, E.INVALID_REPLICA_ASSIGNMENT, E.INVALID_REPLICA_ASSIGNMENT,
        E.INVALID_CONFIG, E.INVALID_CONFIG,
        0, 0,
      ])
      const fine = h.c.image.topic('fine')!
      assert.equal(fine.partitions, 3)
      assert.equal(fine.replicationFactor, 3)
      assert.match(fine.id, /^[0-9a-f]{32}$/)
      assert.equal(h.c.image.topic('rf4'), undefined)
      // validateOnly checks without creating
      const dry = await h.c.createTopics([t('dry', 2, 2), t('exists')], true)
      assert.deepEqual(dry.map(codeOf), [0, E.TOPIC_ALREADY_EXISTS])
      assert.equal(h.c.image.topic('dry'), undefined)
      // internal topics are flagged
      await h.c.createTopics([t('__consumer_offsets', 1, 1)], false)
      assert.equal(h.c.image.topic('__consumer_offsets')!.internal, true)
    } finally {
      await h.close()
    }
  })

  test('the metadata survives a controller restart: the image is rebuilt from the log', async () => {
    const store = new MemoryMetadataStore()
    const h = await start({ snapshotEveryRecords: 4 }, store)
    let expected: MetadataRecord[]
    let clusterId: string
    try {
      for (const id of [1, 2, 3]) await h.register(id, `az-${id}`)
      await h.create('kept', [[1, 2, 3], [2, 3, 1]])
      await h.c.fenceBroker(3, 'test')
      await h.c.alterReassignments([{ topic: 'kept', partition: 1, replicas: [1, 2] }])
      await h.c.deleteTopics(['nope'])
      expected = h.c.image.toRecords()
      clusterId = h.c.image.clusterId
      assert.ok(clusterId.length > 0)
    } finally {
      await h.close()
    }
    const again = await start({}, store)
    try {
      assert.equal(again.c.image.clusterId, clusterId)
      assert.deepEqual(again.c.image.toRecords(), expected)
    } finally {
      await again.close()
    }
    await assert.rejects(start({ clusterId: 'another' }, store), /does not match/)
  })
})

describe('dynamic broker configs', () => {
  const VOLUME = 'volume.size.bytes'
  const FOLLOWER = 'follower.replication.throttled.rate'

  test('layers for the cluster default and any broker id: merged, deleted, replaced; validateOnly and no-op changes write nothing; bad keys, values and names refused', async () => {
    const h = await start()
    try {
      await h.register(1)
      const pushed: MetadataRecord[] = []
      h.c.subscribe((records) => pushed.push(...records))
      assert.deepEqual(await h.c.alterBrokerConfigs('', { [VOLUME]: '1000000' }, false, false), { [VOLUME]: '1000000' })
      // a broker id that is not registered is accepted, as Kafka's controller does; '02' is broker 2
      assert.deepEqual(await h.c.alterBrokerConfigs('7', { [FOLLOWER]: '1024' }, false, false), { [FOLLOWER]: '1024' })
      await h.c.alterBrokerConfigs('02', { [FOLLOWER]: '2048', [VOLUME]: '5000' }, false, false)
      assert.deepEqual(h.c.image.brokerConfigs('2'), { [FOLLOWER]: '2048', [VOLUME]: '5000' })
      assert.deepEqual(pushed.map((r) => r.type === 'brokerConfigs' && r.broker), ['', '7', '2'])

      // merge: SET one key, DELETE another (null), the rest kept
      await h.c.alterBrokerConfigs('2', { [FOLLOWER]: '4096', [VOLUME]: null }, false, false)
      assert.deepEqual(h.c.image.brokerConfigs('2'), { [FOLLOWER]: '4096' })
      // replace: the layer becomes what is given; {} removes it
      await h.c.alterBrokerConfigs('7', { [VOLUME]: '9000' }, true, false)
      assert.deepEqual(h.c.image.brokerConfigs('7'), { [VOLUME]: '9000' })
      await h.c.alterBrokerConfigs('7', {}, true, false)
      assert.deepEqual(h.c.image.brokerConfigs('7'), {})
      assert.ok(!h.c.image.toRecords().some((r) => r.type === 'brokerConfigs' && r.broker === '7'), 'an empty layer is not in the snapshot')

      const appends = h.store.appends
      assert.deepEqual(await h.c.alterBrokerConfigs('', { [VOLUME]: '1' }, false, true), { [VOLUME]: '1' })
      await h.c.alterBrokerConfigs('', { [VOLUME]: '1000000' }, false, false)
      await h.c.alterBrokerConfigs('9', { [VOLUME]: null }, false, false)
      assert.equal(h.store.appends, appends, 'validateOnly and changes that change nothing append nothing')
      assert.deepEqual(h.c.image.brokerConfigs(''), { [VOLUME]: '1000000' })

      await rejectsWith(h.c.alterBrokerConfigs('', { 'num.partitions': '3' }, false, false), E.INVALID_REQUEST, 'a static setting')
      await rejectsWith(h.c.alterBrokerConfigs('', { [VOLUME]: '-2' }, false, false), E.INVALID_CONFIG, 'a bad value')
      await rejectsWith(h.c.alterBrokerConfigs('', { [VOLUME]: null }, true, false), E.INVALID_REQUEST, 'a null value replacing')
      await rejectsWith(h.c.alterBrokerConfigs('x', { [VOLUME]: '1' }, false, false), E.INVALID_REQUEST, 'a name that is no number')
      await rejectsWith(h.c.alterBrokerConfigs('-1', { [VOLUME]: '1' }, false, false), E.INVALID_REQUEST, 'a negative id')
      assert.deepEqual(h.c.image.brokerConfigs(''), { [VOLUME]: '1000000' })
    } finally {
      await h.close()
    }
  })

  test('kept across controller restarts, from the log and from a snapshot; a log from before them loads with none', async () => {
    const old = new MemoryMetadataStore()
    const first = await start({}, old)
    await first.register(1)
    await first.close()
    assert.ok(!old.log.some((r) => r.type === 'brokerConfigs'))
    const upgraded = await start({}, old)
    try {
      assert.deepEqual(upgraded.c.image.brokerConfigs(''), {})
      assert.deepEqual(upgraded.c.image.brokerConfigs('1'), {})
      await upgraded.c.alterBrokerConfigs('', { [VOLUME]: '123' }, false, false)
      await upgraded.c.alterBrokerConfigs('1', { [FOLLOWER]: '456' }, false, false)
    } finally {
      await upgraded.close()
    }
    const fromLog = await start({ snapshotEveryRecords: 3 }, old)
    try {
      assert.deepEqual(fromLog.c.image.brokerConfigs(''), { [VOLUME]: '123' })
      assert.deepEqual(fromLog.c.image.brokerConfigs('1'), { [FOLLOWER]: '456' })
      const snapshots = old.snapshots
      await fromLog.c.alterBrokerConfigs('2', { [FOLLOWER]: '789' }, false, false)
      await fromLog.register(2)
      await fromLog.register(3)
      assert.ok(old.snapshots > snapshots, 'a snapshot was taken')
      assert.ok(old.snapshot.some((r) => r.type === 'brokerConfigs' && r.broker === '' && r.configs[VOLUME] === '123'), 'the snapshot holds the layers')
    } finally {
      await fromLog.close()
    }
    const fromSnapshot = await start({}, old)
    try {
      assert.deepEqual(fromSnapshot.c.image.brokerConfigs(''), { [VOLUME]: '123' })
      assert.deepEqual(fromSnapshot.c.image.brokerConfigs('1'), { [FOLLOWER]: '456' })
      assert.deepEqual(fromSnapshot.c.image.brokerConfigs('2'), { [FOLLOWER]: '789' })
    } finally {
      await fromSnapshot.close()
    }
  })
})
