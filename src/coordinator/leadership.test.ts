// Coordinators that follow the leadership of their internal partitions: requests for groups and
// transactional ids of partitions not led here answer NOT_COORDINATOR, a partition that is
// loading answers COORDINATOR_LOAD_IN_PROGRESS, becomeLeader replays a partition, resign drops
// it, and a later becomeLeader replays it again (with what other leaders wrote meanwhile). Then
// the same through a fake broker (real partition logs, appendCommitted, the leadership hook,
// FindCoordinator's partition), and markers sent by WriteTxnMarkers to another broker.

import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pino } from 'pino'
import { Broker } from '../broker/broker.js'
import { resolveSettings } from '../broker/config.js'
import { ErrorCode as E, KafkaError } from '../protocol/errors.js'
import { buildBatchSync } from '../protocol/records.js'
import { PartitionLog } from '../storage/index.js'
import { groupConfig } from './config.js'
import { ConsumerGroupCoordinator, consumerGroupConfig, type TopicView } from './consumer-group-coordinator.js'
import { GroupCoordinator, type JoinRequest } from './group-coordinator.js'
import {
  becomeLeaderOfLedPartitions,
  coordinatorPartition,
  ensureInternalTopic,
  ensureOffsetsTopic,
  ensureTxnTopic,
  onInternalLeadershipChange,
  openGroupCoordinator,
  openTransactionCoordinator,
} from './index.js'
import { MemoryGroupStore, OFFSETS_TOPIC, encodeRecord, partitionFor, type KeyValue, type TxnProducer } from './offsets-log.js'
import { txnConfig } from './transactions/config.js'
import { TransactionCoordinator, type MarkerTarget, type TxnMarker } from './transactions/coordinator.js'
import { writeMarker } from './transactions/index.js'
import { MarkerRouter } from './transactions/markers.js'
import { TXN_TOPIC, encodeTxnRecord, type TxnLogValue } from './transactions/txn-log.js'

const keepAlive = setInterval(() => {}, 1000)
after(() => clearInterval(keepAlive))

const NC = E.NOT_COORDINATOR.code
const LOADING = E.COORDINATOR_LOAD_IN_PROGRESS.code

/** A key (group id, transactional id) that hashes to `partition` of `partitions`. */
function keyIn(prefix: string, partition: number, partitions: number): string {
  for (let i = 0; ; i++) if (partitionFor(`${prefix}${i}`, partitions) === partition) return `${prefix}${i}`
}

class Topics {
  readonly byName = new Map<string, TopicView>()
  constructor() {
    this.byName.set('foo', { name: 'foo', id: 'f'.repeat(32), partitions: 2, internal: false })
  }
  topic(name: string) {
    return this.byName.get(name)
  }
  topicById(id: string) {
    return [...this.byName.values()].find((t) => t.id === id)
  }
  allTopics() {
    return this.byName.values()
  }
}

function groups(store: MemoryGroupStore, over: Record<string, string> = {}) {
  const c = new GroupCoordinator(groupConfig({ 'group.initial.rebalance.delay.ms': '0', 'group.min.session.timeout.ms': '10', ...over }), store)
  c.consumerGroups = new ConsumerGroupCoordinator(consumerGroupConfig({}), store, new Topics(), c)
  return c
}

function joinReq(groupId: string, over: Partial<JoinRequest> = {}): JoinRequest {
  return {
    groupId,
    memberId: '',
    groupInstanceId: null,
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 1_000,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.alloc(0) }],
    clientId: 'client',
    clientHost: '/127.0.0.1',
    apiVersion: 3, // no MEMBER_ID_REQUIRED round
    ...over,
  }
}

const commit = (c: GroupCoordinator, groupId: string, offset: number, generationId = -1, memberId = '') =>
  c.commitOffsets({ groupId, generationId, memberId, groupInstanceId: null, retentionTimeMs: -1, offsets: [{ topic: 'foo', partition: 0, offset, leaderEpoch: -1, metadata: '' }] })

const fetched = (c: GroupCoordinator, groupId: string) => c.fetchOffsets(groupId, [{ topic: 'foo', partitions: [0] }])[0]!

/** A member joins alone and syncs: the group is Stable with generation 1. */
async function stable(c: GroupCoordinator, groupId: string): Promise<string> {
  const j = await c.join(joinReq(groupId))
  assert.equal(j.errorCode, 0)
  const s = await c.sync({ groupId, generationId: j.generationId, memberId: j.memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: [{ memberId: j.memberId, assignment: Buffer.from('A') }] })
  assert.equal(s.errorCode, 0)
  return j.memberId
}

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void
  const promise = new Promise<void>((r) => (open = r))
  return { promise, open }
}

describe('group coordinator: partitions follow leadership', () => {
  it('answers NOT_COORDINATOR for groups of partitions it does not lead', async () => {
    const store = new MemoryGroupStore(3)
    const c = groups(store)
    await c.becomeLeader(0)
    const mine = keyIn('g', 0, 3)
    const other = keyIn('g', 1, 3)
    assert.deepEqual(c.ownedPartitions(), [0])
    assert.equal(c.coordinatorError(mine), 0)
    assert.equal(c.coordinatorError(other), NC)
    assert.equal((await c.join(joinReq(other))).errorCode, NC)
    assert.equal((await c.sync({ groupId: other, generationId: 1, memberId: 'm', groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] })).errorCode, NC)
    assert.equal(c.heartbeat(other, 1, 'm', null), NC)
    assert.equal(c.leave(other, [{ memberId: 'm', groupInstanceId: null }]).errorCode, NC)
    assert.deepEqual(await commit(c, other, 5), [NC])
    assert.deepEqual(await c.commitTxnOffsets({ groupId: other, producerId: 1, producerEpoch: 0, generationId: -1, memberId: '', groupInstanceId: null, offsets: [{ topic: 'foo', partition: 0, offset: 1, leaderEpoch: -1, metadata: null }] }), [NC])
    assert.equal(fetched(c, other).errorCode, NC)
    assert.deepEqual(c.fetchOffsets(other, null), [])
    assert.equal((await c.deleteOffsets(other, [{ topic: 'foo', partition: 0 }])).errorCode, NC)
    assert.deepEqual(await c.deleteGroups([other]), [NC])
    assert.equal(c.describe(other).errorCode, NC)
    const hb = await c.consumerGroups!.heartbeat({ groupId: other, memberId: 'm', memberEpoch: 0, instanceId: null, rackId: null, rebalanceTimeoutMs: 1000, subscribedTopicNames: ['foo'], subscribedTopicRegex: null, serverAssignor: null, topicPartitions: [], clientId: 'c', clientHost: 'h', apiVersion: 1 })
    assert.equal(hb.errorCode, NC)
    assert.equal(c.consumerGroups!.describeGroups([other])[0]!.errorCode, NC)
    // nothing was written for them, and the group this broker leads works
    assert.equal(store.logs[1]!.length, 0)
    assert.deepEqual(await commit(c, mine, 5), [0])
    assert.equal(fetched(c, mine).offset, 5)
    await c.close()
  })

  it('becomeLeader loads the offsets and groups committed earlier in that partition only', async () => {
    const store = new MemoryGroupStore(2)
    const a = keyIn('g', 0, 2)
    const b = keyIn('g', 1, 2)
    const first = groups(store)
    await first.load()
    const member = await stable(first, a)
    assert.deepEqual(await commit(first, a, 10, 1, member), [0])
    assert.deepEqual(await commit(first, b, 20), [0])
    await first.close()

    const c = groups(store)
    await c.becomeLeader(1)
    assert.equal(fetched(c, b).offset, 20)
    assert.equal(fetched(c, a).errorCode, NC)
    assert.equal(c.groupState(a), undefined)
    assert.deepEqual(c.list().map((g) => g.groupId), [b])
    await c.becomeLeader(0)
    assert.equal(fetched(c, a).offset, 10)
    assert.equal(c.groupState(a), 'Stable', 'members move with the coordinator')
    assert.equal(c.generation(a), 1)
    assert.equal(c.heartbeat(a, 1, member, null), 0)
    assert.deepEqual(c.list().map((g) => g.groupId).sort(), [a, b].sort())
    await c.close()
  })

  it('resign drops the groups and answers waiting members; becomeLeader reloads what other leaders wrote meanwhile', async () => {
    const store = new MemoryGroupStore(2)
    const a = keyIn('g', 0, 2)
    const b = keyIn('g', 1, 2)
    const c = groups(store, { 'group.initial.rebalance.delay.ms': '60000' })
    await c.load()
    assert.deepEqual(await commit(c, a, 1), [0])
    assert.deepEqual(await commit(c, b, 2), [0])
    const waiting = c.join(joinReq(a)) // held by the initial rebalance delay
    await new Promise((r) => setImmediate(r))
    assert.equal(c.groupState(a), 'PreparingRebalance')
    c.resign(0)
    const answered = await waiting
    assert.equal(answered.errorCode, NC)
    assert.equal(c.groupState(a), undefined)
    assert.equal(fetched(c, a).errorCode, NC)
    assert.deepEqual(await commit(c, a, 3), [NC])
    assert.equal(fetched(c, b).offset, 2, 'the other partition is untouched')
    assert.deepEqual(c.ownedPartitions(), [1])

    // Another broker leads partition 0 for a while (same replicated log) and commits there.
    const other = groups(store)
    await other.becomeLeader(0)
    assert.equal(fetched(other, a).offset, 1)
    assert.deepEqual(await commit(other, a, 77), [0])
    other.resign(0)
    await other.close()

    await c.becomeLeader(0)
    assert.equal(fetched(c, a).offset, 77)
    assert.equal(c.groupState(a), 'Empty')
    assert.deepEqual(await commit(c, a, 78), [0])
    await c.close()
  })

  it('answers COORDINATOR_LOAD_IN_PROGRESS while a partition loads; markers arriving then are applied after', async () => {
    const store = new MemoryGroupStore(2)
    const a = keyIn('g', 0, 2)
    // a transactional commit of producer 9, its marker not yet in the log
    store.logs[0]!.push({ ...encodeRecord({ type: 'offset', group: a, topic: 'foo', partition: 0, value: { offset: 42, leaderEpoch: -1, metadata: '', commitTimestamp: 1, expireTimestamp: -1 } }), producerId: 9 } as KeyValue)
    const c = groups(store)
    const g = gate()
    store.replayGate = g.promise
    const loading = c.becomeLeader(0)
    assert.equal(c.becomeLeader(0), loading, 'the same leadership loads once')
    assert.equal(c.coordinatorError(a), LOADING)
    assert.equal((await c.join(joinReq(a))).errorCode, LOADING)
    assert.equal(c.heartbeat(a, 1, 'm', null), LOADING)
    assert.deepEqual(await commit(c, a, 5), [LOADING])
    assert.equal(fetched(c, a).errorCode, LOADING)
    assert.equal(c.describe(a).errorCode, LOADING)
    assert.equal(c.listErrorCode(), LOADING)
    // the marker is written while the partition loads (after the replay read the log)
    c.completeTransaction(9, true, 0)
    g.open()
    store.replayGate = null
    await loading
    assert.equal(c.listErrorCode(), 0)
    assert.equal(fetched(c, a).offset, 42)
    assert.deepEqual(await commit(c, a, 43), [0])
    await c.close()
  })

  it('a load overtaken by a resign is dropped; a newer leader epoch reloads, the same one does not', async () => {
    const store = new MemoryGroupStore(2)
    const b = keyIn('g', 1, 2)
    const c = groups(store)
    const g = gate()
    store.replayGate = g.promise
    const loading = c.becomeLeader(1)
    c.resign(1)
    g.open()
    store.replayGate = null
    await loading
    assert.equal(c.coordinatorError(b), NC)
    assert.deepEqual(c.list(), [])

    await c.becomeLeader(1, 5)
    assert.deepEqual(await commit(c, b, 1), [0])
    // another leader wrote meanwhile (this broker missed the resign)
    const other = groups(store)
    await other.becomeLeader(1)
    await commit(other, b, 2)
    await other.close()
    await c.becomeLeader(1, 5)
    assert.equal(fetched(c, b).offset, 1, 'same epoch: nothing reloaded')
    await c.becomeLeader(1, 6)
    assert.equal(fetched(c, b).offset, 2, 'newer epoch: reloaded')
    await c.close()
  })

  it('consumer groups leave with their partition and come back from its records', async () => {
    const store = new MemoryGroupStore(1)
    const c = groups(store)
    await c.load()
    const cg = c.consumerGroups!
    const req = { groupId: 'cg', memberId: 'm1', memberEpoch: 0, instanceId: null, rackId: null, rebalanceTimeoutMs: 1000, subscribedTopicNames: ['foo'], subscribedTopicRegex: null, serverAssignor: null, topicPartitions: [], clientId: 'c', clientHost: 'h', apiVersion: 1 }
    const joined = await cg.heartbeat(req)
    assert.equal(joined.errorCode, 0)
    c.resign(0)
    assert.equal(cg.group('cg'), undefined)
    assert.equal((await cg.heartbeat({ ...req, memberEpoch: joined.memberEpoch, topicPartitions: null })).errorCode, NC)
    await c.becomeLeader(0)
    assert.deepEqual(cg.group('cg')!.members.map((m) => [m.memberId, m.memberEpoch]), [['m1', joined.memberEpoch]])
    await c.close()
  })
})

// ---- Transactions -------------------------------------------------------------------------------

class Markers implements MarkerTarget {
  written: { topic: string; partition: number; marker: TxnMarker }[] = []
  async writeMarker(topic: string, partition: number, marker: TxnMarker): Promise<boolean> {
    await Promise.resolve()
    this.written.push({ topic, partition, marker })
    return true
  }
}

/** A store whose appends wait for a gate (a write in flight while leadership moves). */
class GatedStore extends MemoryGroupStore {
  gate: Promise<void> | null = null
  override async append(partition: number, records: KeyValue[], txn?: TxnProducer): Promise<void> {
    if (this.gate) await this.gate
    return super.append(partition, records, txn)
  }
}

function txns(store: MemoryGroupStore) {
  const markers = new Markers()
  let pid = 1000
  const c = new TransactionCoordinator(txnConfig({}), store, markers, () => pid++)
  return { c, markers }
}

describe('transaction coordinator: partitions follow leadership', () => {
  it('answers NOT_COORDINATOR for ids of partitions it does not lead; produce and TxnOffsetCommit checks are left to their coordinator', async () => {
    const store = new MemoryGroupStore(2)
    const { c } = txns(store)
    await c.becomeLeader(0)
    const other = keyIn('t', 1, 2)
    assert.equal((await c.initProducerId(other, 60000, null)).error, E.NOT_COORDINATOR)
    assert.equal(await c.addPartitions(other, 1, 0, [{ topic: 'a', partition: 0 }]), E.NOT_COORDINATOR)
    assert.equal(await c.endTxn(other, 1, 0, true), E.NOT_COORDINATOR)
    assert.equal(c.describe(other).error, E.NOT_COORDINATOR)
    assert.equal(c.verifyInTransaction(other, 1, 0, 'a', 0), E.NOT_COORDINATOR)
    assert.equal(c.checkProduce(other, 1, 0, 'a', 0), E.NONE)
    assert.equal(c.checkTxnOffsetCommit(other, 1, 0, OFFSETS_TOPIC, 0), E.NONE)
    assert.equal(store.logs[1]!.length, 0)
    const mine = keyIn('t', 0, 2)
    assert.equal((await c.initProducerId(mine, 60000, null)).error, E.NONE)
    assert.deepEqual(c.list([], []).transactions.map((t) => t.transactionalId), [mine])
    await c.close()
  })

  it('resign then becomeLeader keeps an ongoing transaction (from the log), which then commits', async () => {
    const store = new MemoryGroupStore(1)
    const { c, markers } = txns(store)
    await c.load()
    const p = await c.initProducerId('t', 60000, null)
    assert.equal(await c.addPartitions('t', p.producerId, p.producerEpoch, [{ topic: 'a', partition: 0 }, { topic: 'a', partition: 1 }]), E.NONE)
    c.resign(0)
    assert.equal(c.get('t'), undefined)
    assert.equal(await c.addPartitions('t', p.producerId, p.producerEpoch, [{ topic: 'a', partition: 2 }]), E.NOT_COORDINATOR)
    assert.equal(await c.endTxn('t', p.producerId, p.producerEpoch, true), E.NOT_COORDINATOR)
    await c.becomeLeader(0)
    const m = c.get('t')!
    assert.deepEqual([m.state, m.producerId, m.producerEpoch, [...m.partitions.get('a')!].sort()], ['Ongoing', p.producerId, p.producerEpoch, [0, 1]])
    assert.equal(c.checkProduce('t', p.producerId, p.producerEpoch, 'a', 1), E.NONE)
    assert.equal(await c.endTxn('t', p.producerId, p.producerEpoch, true), E.NONE)
    assert.deepEqual(markers.written.map((w) => `${w.topic}-${w.partition}:${w.marker.commit}`).sort(), ['a-0:true', 'a-1:true'])
    assert.equal(c.get('t')!.state, 'CompleteCommit')
    await c.close()
  })

  it('a new leader completes a Prepare* transaction, its markers carrying the leader epoch as coordinator epoch', async () => {
    const store = new MemoryGroupStore(1)
    const v: TxnLogValue = { producerId: 7, lastProducerId: -1, producerEpoch: 2, lastProducerEpoch: -1, timeoutMs: 60000, state: 'PrepareAbort', partitions: [{ topic: 'x', partitions: [3] }], txnStartTimestamp: Date.now(), txnLastUpdateTimestamp: Date.now() }
    store.logs[0]!.push(encodeTxnRecord({ transactionalId: 't', value: v }))
    const { c, markers } = txns(store)
    await c.becomeLeader(0, 7)
    assert.equal(c.get('t')!.state, 'CompleteAbort')
    assert.deepEqual(markers.written, [{ topic: 'x', partition: 3, marker: { producerId: 7, producerEpoch: 2, commit: false, coordinatorEpoch: 7 } }])
    await c.close()
  })

  it('answers COORDINATOR_LOAD_IN_PROGRESS while loading (a local produce check: NOT_ENOUGH_REPLICAS)', async () => {
    const store = new MemoryGroupStore(1)
    const { c } = txns(store)
    const g = gate()
    store.replayGate = g.promise
    const loading = c.becomeLeader(0)
    assert.equal((await c.initProducerId('t', 60000, null)).error, E.COORDINATOR_LOAD_IN_PROGRESS)
    assert.equal(c.describe('t').error, E.COORDINATOR_LOAD_IN_PROGRESS)
    assert.equal(c.list([], []).error, E.COORDINATOR_LOAD_IN_PROGRESS)
    assert.equal(c.checkProduce('t', 1, 0, 'a', 0), E.NOT_ENOUGH_REPLICAS)
    assert.equal(c.checkTxnOffsetCommit('t', 1, 0, OFFSETS_TOPIC, 0), E.COORDINATOR_LOAD_IN_PROGRESS)
    g.open()
    store.replayGate = null
    await loading
    assert.equal((await c.initProducerId('t', 60000, null)).error, E.NONE)
    await c.close()
  })

  it('a write in flight when leadership moves is not installed; the next load finds it in the log', async () => {
    const store = new GatedStore(1)
    const { c } = txns(store)
    await c.load()
    const g = gate()
    store.gate = g.promise
    const init = c.initProducerId('t', 60000, null)
    await new Promise((r) => setImmediate(r))
    c.resign(0)
    g.open()
    store.gate = null
    assert.equal((await init).error, E.NOT_COORDINATOR)
    assert.equal(c.get('t'), undefined)
    await c.becomeLeader(0)
    assert.equal(c.get('t')!.state, 'Empty')
    await c.close()
  })
})

// ---- Through a fake broker ------------------------------------------------------------------------

const silent = { info() {}, warn() {}, error() {} }

/** A broker as the coordinators see it: real partition logs, leadership set by the test. */
class FakeHost {
  readonly brokerId = 0
  readonly settings: Record<string, string> = {
    'group.initial.rebalance.delay.ms': '0',
    'offsets.topic.num.partitions': '2',
    'transaction.state.log.num.partitions': '2',
  }
  readonly warnings: string[] = []
  readonly log = { info() {}, warn: (_: object, msg?: string) => void this.warnings.push(msg ?? ''), error() {} }
  liveBrokerCount = 1
  /** Above this the controller refuses a creation with INVALID_REPLICATION_FACTOR. */
  maxReplicationFactor = Infinity
  /** The internal topics' creations, as asked of the controller. */
  readonly created: { name: string; replicationFactor: number; configs: Record<string, string> }[] = []
  /** waitCommitted calls (topic-partition@offset); each waits for `commitGate` when set. */
  readonly commitWaits: string[] = []
  commitGate: Promise<void> | null = null
  readonly leaders = new Set<string>()
  readonly logs = new Map<string, PartitionLog>()
  readonly topics = new Map<string, TopicView>()
  readonly appends: string[] = []
  groups!: GroupCoordinator
  transactions!: TransactionCoordinator
  private pid = 5000
  readonly metadata = {
    topic: (n: string) => this.topics.get(n),
    topicById: (id: string) => [...this.topics.values()].find((t) => t.id === id),
    allTopics: () => this.topics.values(),
    allocateProducerId: () => this.pid++,
  }

  constructor(readonly dir: string) {}

  async createTopics(requests: { name: string; partitions: number; replicationFactor: number; configs: Record<string, string> }[]) {
    const out = []
    for (const r of requests) {
      if (this.topics.has(r.name)) {
        out.push({ error: new KafkaError(E.TOPIC_ALREADY_EXISTS) })
        continue
      }
      if (r.replicationFactor > this.maxReplicationFactor) {
        out.push({ error: new KafkaError(E.INVALID_REPLICATION_FACTOR) })
        continue
      }
      this.created.push({ name: r.name, replicationFactor: r.replicationFactor, configs: r.configs })
      for (let p = 0; p < r.partitions; p++) this.logs.set(`${r.name}-${p}`, await PartitionLog.open(path.join(this.dir, `${r.name}-${p}`)))
      const t = { name: r.name, id: String(this.topics.size).repeat(32).slice(0, 32), partitions: r.partitions, internal: r.name.startsWith('__') }
      this.topics.set(r.name, t)
      out.push({ topic: t })
    }
    return out
  }

  partition(topic: string, partition: number) {
    return this.logs.get(`${topic}-${partition}`)
  }

  isLeader(topic: string, partition: number): boolean {
    return this.leaders.has(`${topic}-${partition}`)
  }

  leaderEndpoint(topic: string, partition: number) {
    return this.isLeader(topic, partition) ? { nodeId: 0, host: 'here', port: 1 } : null
  }

  async appendCommitted(topic: string, partition: number, batches: Buffer[]) {
    if (!this.isLeader(topic, partition)) throw new KafkaError(E.NOT_LEADER_OR_FOLLOWER)
    this.appends.push(`${topic}-${partition}`)
    const a = this.partition(topic, partition)!.append(batches)
    await a.done
    return { baseOffset: a.baseOffset, lastOffset: a.lastOffset }
  }

  notifyAppend(): void {}

  async waitCommitted(topic: string, partition: number, endOffset: number): Promise<void> {
    this.commitWaits.push(`${topic}-${partition}@${endOffset}`)
    if (this.commitGate) await this.commitGate
    if (!this.isLeader(topic, partition)) throw new KafkaError(E.NOT_LEADER_OR_FOLLOWER)
  }

  async close(): Promise<void> {
    await this.transactions?.close()
    await this.groups?.close()
    for (const l of this.logs.values()) await l.close()
  }
}

describe('coordinators on a broker whose leadership moves', () => {
  it('open serves nothing; the leadership hook loads and drops partitions; writes go through appendCommitted', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fjord-leadership-'))
    const host = new FakeHost(dir)
    try {
      host.groups = await openGroupCoordinator(host)
      host.transactions = await openTransactionCoordinator(host)
      assert.equal(host.topics.get(OFFSETS_TOPIC)?.partitions, 2)
      assert.equal(host.topics.get(TXN_TOPIC)?.partitions, 2)
      const g = keyIn('g', 1, 2)
      const t = keyIn('t', 0, 2)
      assert.deepEqual(await commit(host.groups, g, 1), [NC], 'nothing is served before becomeLeader')
      assert.equal((await host.transactions.initProducerId(t, 60000, null)).error, E.NOT_COORDINATOR)

      for (const topic of [OFFSETS_TOPIC, TXN_TOPIC]) for (const p of [0, 1]) host.leaders.add(`${topic}-${p}`)
      await becomeLeaderOfLedPartitions(host)
      assert.deepEqual(host.groups.ownedPartitions(), [0, 1])
      assert.deepEqual(host.transactions.ownedPartitions(), [0, 1])
      assert.deepEqual(await commit(host.groups, g, 11), [0])
      assert.equal((await host.transactions.initProducerId(t, 60000, null)).error, E.NONE)
      assert.deepEqual(host.appends, [`${OFFSETS_TOPIC}-1`, `${TXN_TOPIC}-0`])

      // leadership lost before the broker says so: the write is refused, the client hears NOT_COORDINATOR
      host.leaders.delete(`${OFFSETS_TOPIC}-1`)
      assert.deepEqual(await commit(host.groups, g, 12), [NC])
      await onInternalLeadershipChange(host, OFFSETS_TOPIC, 1, false)
      assert.equal(fetched(host.groups, g).errorCode, NC)
      await onInternalLeadershipChange(host, 'orders', 1, false) // other topics: nothing happens
      host.leaders.add(`${OFFSETS_TOPIC}-1`)
      await onInternalLeadershipChange(host, OFFSETS_TOPIC, 1, true)
      assert.equal(fetched(host.groups, g).offset, 11, 'reloaded from the log')

      await onInternalLeadershipChange(host, TXN_TOPIC, 0, false)
      assert.equal(host.transactions.describe(t).error, E.NOT_COORDINATOR)
      await onInternalLeadershipChange(host, TXN_TOPIC, 0, true)
      assert.equal(host.transactions.describe(t).state, 'Empty')

      assert.deepEqual(coordinatorPartition(host, 'group', g), { topic: OFFSETS_TOPIC, partition: 1 })
      assert.deepEqual(coordinatorPartition(host, 'transaction', t), { topic: TXN_TOPIC, partition: 0 })
    } finally {
      await host.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('FindCoordinator on a missing internal topic creates it and answers null meanwhile', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fjord-leadership-'))
    const host = new FakeHost(dir)
    try {
      assert.equal(coordinatorPartition(host, 'transaction', 'x'), null)
      assert.equal(coordinatorPartition(host, 'transaction', 'y'), null)
      for (let i = 0; i < 100 && !host.topics.has(TXN_TOPIC); i++) await new Promise((r) => setTimeout(r, 10))
      assert.equal(host.topics.get(TXN_TOPIC)?.partitions, 2)
      assert.deepEqual(coordinatorPartition(host, 'transaction', 'x'), { topic: TXN_TOPIC, partition: partitionFor('x', 2) })
    } finally {
      await host.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('internal topics', () => {
  async function withHost(fn: (host: FakeHost) => Promise<void>): Promise<void> {
    const dir = mkdtempSync(path.join(tmpdir(), 'fjord-internal-topics-'))
    const host = new FakeHost(dir)
    try {
      await fn(host)
    } finally {
      await host.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }
  const created = (host: FakeHost) => host.created.map((c) => [c.name, c.replicationFactor, c.configs['min.insync.replicas']])

  it('a standalone broker creates them with one replica (capped, with a warning), __transaction_state with min.insync.replicas 1', async () => {
    await withHost(async (host) => {
      host.groups = await openGroupCoordinator(host)
      host.transactions = await openTransactionCoordinator(host)
      assert.deepEqual(created(host), [[OFFSETS_TOPIC, 1, undefined], [TXN_TOPIC, 1, '1']])
      assert.equal(host.warnings.length, 2)
      assert.match(host.warnings[0]!, /offsets\.topic\.replication\.factor is 3 but 1 broker\(s\) are alive/)
      assert.match(host.warnings[1]!, /transaction\.state\.log\.replication\.factor is 3/)
    })
  })

  it('with enough brokers: replication factor 3 and min.insync.replicas 2 by default, or as set (min.isr at most the factor)', async () => {
    await withHost(async (host) => {
      host.liveBrokerCount = 3
      await ensureOffsetsTopic(host)
      await ensureTxnTopic(host)
      assert.deepEqual(created(host), [[OFFSETS_TOPIC, 3, undefined], [TXN_TOPIC, 3, '2']])
      assert.deepEqual(host.warnings, [])
    })
    await withHost(async (host) => {
      host.liveBrokerCount = 5
      Object.assign(host.settings, { 'offsets.topic.replication.factor': '2', 'transaction.state.log.replication.factor': '2', 'transaction.state.log.min.isr': '3' })
      await ensureOffsetsTopic(host)
      await ensureTxnTopic(host)
      assert.deepEqual(created(host), [[OFFSETS_TOPIC, 2, undefined], [TXN_TOPIC, 2, '2']])
      assert.deepEqual(host.warnings, [])
    })
  })

  it('a broker of a cluster waits a while for more brokers before it settles for fewer replicas; a refused factor is lowered', async () => {
    await withHost(async (host) => {
      host.settings['controller.endpoints'] = '127.0.0.1:1'
      setTimeout(() => (host.liveBrokerCount = 3), 150)
      await ensureOffsetsTopic(host)
      assert.deepEqual(created(host), [[OFFSETS_TOPIC, 3, undefined]], 'waited for the other brokers')
      host.liveBrokerCount = 2
      const spec = { name: TXN_TOPIC, partitions: 1, replicationFactor: 3, replicationSetting: 'transaction.state.log.replication.factor', configs: () => ({}) }
      const started = Date.now()
      await ensureInternalTopic(host, spec, 100)
      assert.ok(Date.now() - started >= 100)
      assert.deepEqual(created(host)[1], [TXN_TOPIC, 2, undefined], 'capped at the live brokers after the wait')
      assert.equal(host.warnings.length, 1)
    })
    await withHost(async (host) => {
      host.liveBrokerCount = 3
      host.maxReplicationFactor = 2 // the controller knows fewer live brokers than this broker's image
      await ensureOffsetsTopic(host)
      assert.deepEqual(created(host), [[OFFSETS_TOPIC, 2, undefined]])
      assert.equal(host.warnings.length, 1)
    })
  })
})

describe('local transaction markers', () => {
  it('count as written once replicated (waitCommitted); a pending transactional offset commit becomes visible only then', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fjord-local-markers-'))
    const host = new FakeHost(dir)
    try {
      host.groups = await openGroupCoordinator(host)
      await host.createTopics([{ name: 'data', partitions: 1, replicationFactor: 1, configs: {} }])
      host.leaders.add('data-0')
      const log = host.partition('data', 0)!
      const batch = (pid: number) => buildBatchSync({ records: [{ key: 'k', value: 'v' }], producerId: pid, producerEpoch: 0, baseSequence: 0, transactional: true })
      await log.append([batch(4242)]).done
      let g = gate()
      host.commitGate = g.promise
      let written: boolean | undefined
      const w = writeMarker(host, 'data', 0, { producerId: 4242, producerEpoch: 0, commit: true, coordinatorEpoch: 3 }).then((r) => (written = r))
      await new Promise((r) => setTimeout(r, 20))
      assert.equal(written, undefined, 'not reported before it is replicated')
      assert.deepEqual(host.commitWaits, ['data-0@2'])
      g.open()
      assert.equal(await w, true)

      // leadership lost while the marker waits: the coordinator hears NOT_LEADER_OR_FOLLOWER and retries elsewhere
      await log.append([batch(4343)]).done
      g = gate()
      host.commitGate = g.promise
      const lost = writeMarker(host, 'data', 0, { producerId: 4343, producerEpoch: 0, commit: false, coordinatorEpoch: 3 })
      await new Promise((r) => setTimeout(r, 5))
      host.leaders.delete('data-0')
      g.open()
      await assert.rejects(lost, (e: KafkaError) => e.code === E.NOT_LEADER_OR_FOLLOWER.code)

      // a marker to __consumer_offsets completes the producer's pending offsets after the wait
      const group = keyIn('g', 1, 2)
      host.leaders.add(`${OFFSETS_TOPIC}-1`)
      host.commitGate = null
      await host.groups.becomeLeader(1)
      assert.deepEqual(await host.groups.commitTxnOffsets({ groupId: group, producerId: 77, producerEpoch: 0, generationId: -1, memberId: '', groupInstanceId: null, offsets: [{ topic: 'foo', partition: 0, offset: 9, leaderEpoch: -1, metadata: null }] }), [0])
      g = gate()
      host.commitGate = g.promise
      const toOffsets = writeMarker(host, OFFSETS_TOPIC, 1, { producerId: 77, producerEpoch: 0, commit: true, coordinatorEpoch: 3 })
      await new Promise((r) => setTimeout(r, 20))
      assert.equal(fetched(host.groups, group).offset, -1, 'still pending')
      g.open()
      assert.equal(await toOffsets, true)
      assert.equal(fetched(host.groups, group).offset, 9)
    } finally {
      await host.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('transaction markers for partitions led by another broker', () => {
  it('go by WriteTxnMarkers to the leader; stale ones count as written; no leader is an error to retry', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fjord-markers-'))
    const broker = await Broker.open(resolveSettings({ listeners: '127.0.0.1:0', 'log.dirs': dir }, {}), pino({ level: 'silent' }))
    let leader: { nodeId: number; host: string; port: number } | null = null
    const router = new MarkerRouter(
      {
        topicExists: (topic) => topic === 'data',
        isLeader: () => false,
        leaderEndpoint: () => leader,
        writeLocal: () => Promise.reject(new Error('not local')),
      },
      'test-coordinator',
    )
    try {
      await broker.listen()
      await broker.createTopics([{ name: 'data', partitions: 1, replicationFactor: 1, configs: {} }])
      leader = { nodeId: broker.brokerId, host: '127.0.0.1', port: broker.port }
      const log = broker.partition('data', 0)!
      const batch = (epoch: number, seq: number) => buildBatchSync({ records: [{ key: 'k', value: 'v' }], producerId: 4242, producerEpoch: epoch, baseSequence: seq, transactional: true })
      await log.append([batch(0, 0)]).done
      assert.ok(log.lastStableOffset < log.writtenEndOffset, 'an open transaction holds the LSO')
      assert.equal(await router.writeMarker('data', 0, { producerId: 4242, producerEpoch: 0, commit: true, coordinatorEpoch: 0 }), true)
      assert.equal(log.lastStableOffset, log.writtenEndOffset, 'the marker ended it')
      await log.append([batch(3, 0)]).done
      assert.equal(await router.writeMarker('data', 0, { producerId: 4242, producerEpoch: 1, commit: false, coordinatorEpoch: 0 }), false, 'a stale marker')
      assert.equal(await router.writeMarker('gone', 0, { producerId: 4242, producerEpoch: 3, commit: false, coordinatorEpoch: 0 }), false, 'a deleted topic')
      leader = null
      await assert.rejects(router.writeMarker('data', 0, { producerId: 4242, producerEpoch: 3, commit: false, coordinatorEpoch: 0 }), (e: KafkaError) => e.code === E.LEADER_NOT_AVAILABLE.code)
    } finally {
      router.close()
      await broker.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
