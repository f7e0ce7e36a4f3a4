// The transaction APIs over the wire against an in-process broker, at the versions clients send
// (KafkaJS 2.2.4: v1 everywhere; librdkafka 2.0.2: InitProducerId 4, AddPartitionsToTxn 0,
// AddOffsetsToTxn 0, EndTxn 1, TxnOffsetCommit 3) and the newest flexible ones: the transactional
// produce checks, zombie fencing with the error each version understands, pending transactional
// offsets and requireStable, WriteTxnMarkers, DescribeTransactions and ListTransactions.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pino } from 'pino'
import { Broker } from '../broker/broker.js'
import { resolveSettings } from '../broker/config.js'
import { TestClient } from '../broker/handlers/test-client.js'
import { Apis } from '../protocol/apis.js'
import { ErrorCode as E } from '../protocol/errors.js'
import { buildBatchSync } from '../protocol/records.js'

interface Versions {
  init: number
  add: number
  offsets: number
  end: number
  txnCommit: number
  produce: number
}

const VERSION_SETS: Versions[] = [
  { init: 1, add: 1, offsets: 1, end: 1, txnCommit: 1, produce: 7 }, // KafkaJS 2.2.4
  { init: 4, add: 0, offsets: 0, end: 1, txnCommit: 3, produce: 7 }, // librdkafka 2.0.2
  { init: 5, add: 3, offsets: 4, end: 4, txnCommit: 4, produce: 9 }, // newest classic shapes, flexible
]

function txnBatch(producerId: number, producerEpoch: number, baseSequence: number, n = 2): Buffer {
  return buildBatchSync({ records: Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: `v${i}` })), producerId, producerEpoch, baseSequence, transactional: true })
}

describe('transaction APIs over the wire', () => {
  let dir: string
  let broker: Broker
  let client: TestClient

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'fjord-txn-handlers-'))
    broker = await Broker.open(resolveSettings({ listeners: '127.0.0.1:0', 'log.dirs': dir, 'group.initial.rebalance.delay.ms': '0' }, {}), pino({ level: 'silent' }))
    await broker.listen()
    await broker.createTopics([{ name: 't', partitions: 2, replicationFactor: 1, configs: {} }])
    client = await TestClient.connect('127.0.0.1', broker.port)
  })

  after(async () => {
    await client.close()
    await broker.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('creates __transaction_state as an internal compacted topic', () => {
    const t = broker.metadata.topic('__transaction_state')
    assert.ok(t)
    assert.equal(t.internal, true)
    assert.equal(t.configs['cleanup.policy'], 'compact')
  })

  for (const v of VERSION_SETS) {
    it(`a transaction's life at InitProducerId v${v.init}, AddPartitionsToTxn v${v.add}, TxnOffsetCommit v${v.txnCommit}, EndTxn v${v.end}`, async () => {
      const txnId = `tx-${v.init}-${v.add}`
      const group = `g-${v.init}-${v.add}`
      const init = () => client.request(Apis.InitProducerId, v.init, { transactionalId: txnId, transactionTimeoutMs: 60000, producerId: -1, producerEpoch: -1 })
      const produce = (pid: number, epoch: number, seq: number, partition = 0) =>
        client.request(Apis.Produce, v.produce, { transactionalId: txnId, acks: -1, timeoutMs: 5000, topicData: [{ name: 't', partitionData: [{ index: partition, records: txnBatch(pid, epoch, seq) }] }] })
      const produceCode = async (pid: number, epoch: number, seq: number, partition = 0) => (await produce(pid, epoch, seq, partition)).responses[0]!.partitionResponses[0]!.errorCode
      const addPartitions = async (pid: number, epoch: number, partitions: number[]) => {
        const r = await client.request(Apis.AddPartitionsToTxn, v.add, {
          transactions: [],
          v3AndBelowTransactionalId: txnId,
          v3AndBelowProducerId: pid,
          v3AndBelowProducerEpoch: epoch,
          v3AndBelowTopics: [{ name: 't', partitions }],
        })
        return r.resultsByTopicV3AndBelow.flatMap((t) => t.resultsByPartition.map((p) => p.partitionErrorCode))
      }
      const addOffsets = async (pid: number, epoch: number) => (await client.request(Apis.AddOffsetsToTxn, v.offsets, { transactionalId: txnId, producerId: pid, producerEpoch: epoch, groupId: group })).errorCode
      const txnCommit = async (pid: number, epoch: number, offset: number) => {
        const r = await client.request(Apis.TxnOffsetCommit, v.txnCommit, {
          transactionalId: txnId, groupId: group, producerId: pid, producerEpoch: epoch, generationId: -1, memberId: '', groupInstanceId: null,
          topics: [{ name: 't', partitions: [{ partitionIndex: 0, committedOffset: offset, committedLeaderEpoch: -1, committedMetadata: '' }] }],
        })
        return r.topics[0]!.partitions[0]!.errorCode
      }
      const fetchOffset = async (requireStable: boolean) => {
        const r = await client.request(Apis.OffsetFetch, 7, { groupId: group, topics: [{ name: 't', partitionIndexes: [0] }], requireStable, groups: [] })
        const p = r.topics[0]!.partitions[0]!
        return [p.committedOffset, p.errorCode]
      }
      const endTxn = async (pid: number, epoch: number, committed: boolean) => (await client.request(Apis.EndTxn, v.end, { transactionalId: txnId, producerId: pid, producerEpoch: epoch, committed })).errorCode
      const fenced = (fencedFrom: number, version: number) => (version >= fencedFrom ? E.PRODUCER_FENCED.code : E.INVALID_PRODUCER_EPOCH.code)

      const first = await init()
      assert.equal(first.errorCode, 0)
      const pid = first.producerId
      const e0 = first.producerEpoch
      // a partition not added to the transaction
      assert.equal(await produceCode(pid, e0, 0), E.INVALID_TXN_STATE.code)
      assert.deepEqual(await addPartitions(pid, e0, [0, 7]), [E.OPERATION_NOT_ATTEMPTED.code, E.UNKNOWN_TOPIC_OR_PARTITION.code])
      assert.deepEqual(await addPartitions(pid, e0, [0]), [0])
      assert.equal(await produceCode(pid, e0, 0), 0)
      assert.equal(await addOffsets(pid, e0), 0)
      assert.equal(await txnCommit(pid, e0, 5), 0)
      assert.deepEqual(await fetchOffset(true), [-1, E.UNSTABLE_OFFSET_COMMIT.code])
      assert.deepEqual(await fetchOffset(false), [-1, 0])

      // a new instance fences the zombie; its transaction is aborted
      const second = await init()
      assert.equal(second.errorCode, 0)
      assert.equal(second.producerId, pid)
      assert.equal(second.producerEpoch, e0 + 2)
      assert.equal(await produceCode(pid, e0, 1), E.INVALID_PRODUCER_EPOCH.code)
      assert.deepEqual(await addPartitions(pid, e0, [0]), [fenced(2, v.add)])
      assert.equal(await endTxn(pid, e0, true), fenced(2, v.end))
      assert.equal(await txnCommit(pid, e0, 6), fenced(3, v.txnCommit))
      assert.deepEqual(await fetchOffset(true), [-1, 0])
      const d = await client.request(Apis.DescribeTransactions, 0, { transactionalIds: [txnId] })
      assert.equal(d.transactionStates[0]!.transactionState, 'Empty') // aborted, then the new epoch

      // the new instance commits
      const e2 = second.producerEpoch
      assert.deepEqual(await addPartitions(pid, e2, [0, 1]), [0, 0])
      assert.equal(await produceCode(pid, e2, 0, 1), 0)
      assert.equal(await addOffsets(pid, e2), 0)
      assert.equal(await txnCommit(pid, e2, 7), 0)
      const ongoing = await client.request(Apis.DescribeTransactions, 0, { transactionalIds: [txnId] })
      assert.equal(ongoing.transactionStates[0]!.transactionState, 'Ongoing')
      assert.deepEqual(ongoing.transactionStates[0]!.topics.map((t) => [t.topic, [...t.partitions]]).sort(), [['__consumer_offsets', [0]], ['t', [0, 1]]])
      const listed = await client.request(Apis.ListTransactions, 0, { stateFilters: ['Ongoing'], producerIdFilters: [pid] })
      assert.deepEqual(listed.transactionStates.map((t) => t.transactionalId), [txnId])
      assert.equal(await endTxn(pid, e2, true), 0)
      assert.deepEqual(await fetchOffset(true), [7, 0])
      assert.equal(await endTxn(pid, e2, true), 0) // a retry
      assert.equal(await endTxn(pid, e2, false), E.INVALID_TXN_STATE.code)
    })
  }

  it('InitProducerId refuses a timeout above transaction.max.timeout.ms; KIP-360 fences a stale epoch', async () => {
    const r = await client.request(Apis.InitProducerId, 4, { transactionalId: 'tx-timeout', transactionTimeoutMs: 900001, producerId: -1, producerEpoch: -1 })
    assert.equal(r.errorCode, E.INVALID_TRANSACTION_TIMEOUT.code)
    const a = await client.request(Apis.InitProducerId, 4, { transactionalId: 'tx-360', transactionTimeoutMs: 1000, producerId: -1, producerEpoch: -1 })
    const b = await client.request(Apis.InitProducerId, 4, { transactionalId: 'tx-360', transactionTimeoutMs: 1000, producerId: a.producerId, producerEpoch: a.producerEpoch })
    assert.deepEqual([b.errorCode, b.producerId, b.producerEpoch], [0, a.producerId, a.producerEpoch + 1])
    const stale = await client.request(Apis.InitProducerId, 4, { transactionalId: 'tx-360', transactionTimeoutMs: 1000, producerId: a.producerId + 1, producerEpoch: 0 })
    assert.equal(stale.errorCode, E.PRODUCER_FENCED.code)
    const old = await client.request(Apis.InitProducerId, 3, { transactionalId: 'tx-360', transactionTimeoutMs: 1000, producerId: a.producerId + 1, producerEpoch: 0 })
    assert.equal(old.errorCode, E.INVALID_PRODUCER_EPOCH.code)
  })

  it('AddPartitionsToTxn v4 verifyOnly answers from the coordinator: in the transaction, not in it, not coordinated here', async () => {
    const init = await client.request(Apis.InitProducerId, 4, { transactionalId: 'tx-verify', transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 })
    assert.equal(init.errorCode, 0)
    const { producerId, producerEpoch } = init
    const add = await client.request(Apis.AddPartitionsToTxn, 3, { v3AndBelowTransactionalId: 'tx-verify', v3AndBelowProducerId: producerId, v3AndBelowProducerEpoch: producerEpoch, v3AndBelowTopics: [{ name: 't', partitions: [0] }] })
    assert.equal(add.resultsByTopicV3AndBelow[0]!.resultsByPartition[0]!.partitionErrorCode, 0)
    const verify = async (epoch: number) => {
      const r = await client.request(Apis.AddPartitionsToTxn, 4, { transactions: [{ transactionalId: 'tx-verify', producerId, producerEpoch: epoch, verifyOnly: true, topics: [{ name: 't', partitions: [0, 1] }] }] })
      return r.resultsByTransaction[0]!.topicResults[0]!.resultsByPartition.map((p) => p.partitionErrorCode)
    }
    assert.deepEqual(await verify(producerEpoch), [0, E.INVALID_TXN_STATE.code])
    assert.deepEqual(await verify(producerEpoch - 1), [E.PRODUCER_FENCED.code, E.PRODUCER_FENCED.code])
    const epoch = broker.replicas.get('__transaction_state', 0)!.state.leaderEpoch
    broker.transactions.resign(0)
    try {
      assert.deepEqual(await verify(producerEpoch), [E.NOT_COORDINATOR.code, E.NOT_COORDINATOR.code])
    } finally {
      await broker.transactions.becomeLeader(0, epoch)
    }
    const end = await client.request(Apis.EndTxn, 3, { transactionalId: 'tx-verify', producerId, producerEpoch, committed: false })
    assert.equal(end.errorCode, 0)
  })

  it('WriteTxnMarkers ends a producer\'s transaction in a partition', async () => {
    const pid = broker.metadata.allocateProducerId()
    const p = await client.request(Apis.Produce, 7, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: 't', partitionData: [{ index: 1, records: txnBatch(pid, 0, 0) }] }] })
    assert.equal(p.responses[0]!.partitionResponses[0]!.errorCode, 0)
    const log = broker.partition('t', 1)!
    assert.ok(log.lastStableOffset < log.writtenEndOffset)
    const r = await client.request(Apis.WriteTxnMarkers, 1, {
      markers: [{ producerId: pid, producerEpoch: 0, transactionResult: false, coordinatorEpoch: 0, topics: [{ name: 't', partitionIndexes: [1] }, { name: 'nope', partitionIndexes: [0] }] }],
    })
    assert.deepEqual(r.markers[0]!.topics.map((t) => t.partitions.map((x) => x.errorCode)), [[0], [E.UNKNOWN_TOPIC_OR_PARTITION.code]])
    assert.equal(log.lastStableOffset, log.writtenEndOffset)
  })
})
