// The transaction coordinator's state machine, driven directly over an in-memory transaction
// log and a recording marker target: epochs and fencing, KIP-360, epoch exhaustion, EndTxn and
// its markers, timeouts, recovery from the log, marker retries, id expiry, describe/list; and the
// group coordinator's pending transactional offsets.

import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ErrorCode as E } from '../protocol/errors.js'
import { groupConfig } from './config.js'
import { GroupCoordinator } from './group-coordinator.js'
import { MemoryGroupStore, OFFSETS_TOPIC } from './offsets-log.js'
import { txnConfig, type TxnConfig } from './transactions/config.js'
import { TransactionCoordinator, type MarkerTarget, type TxnMarker } from './transactions/coordinator.js'
import { encodeTxnRecord, decodeTxnRecord, type TxnLogValue } from './transactions/txn-log.js'
import { txnErrorCode } from './transactions/errors.js'

const keepAlive = setInterval(() => {}, 1000)
after(() => clearInterval(keepAlive))

class Markers implements MarkerTarget {
  written: { topic: string; partition: number; marker: TxnMarker }[] = []
  failures = 0
  async writeMarker(topic: string, partition: number, marker: TxnMarker): Promise<boolean> {
    await Promise.resolve()
    if (this.failures > 0) {
      this.failures--
      throw new Error('disk on fire')
    }
    this.written.push({ topic, partition, marker })
    return true
  }
}

function setup(opts: { store?: MemoryGroupStore; config?: Partial<TxnConfig>; clock?: { t: number } } = {}) {
  const store = opts.store ?? new MemoryGroupStore(1)
  const markers = new Markers()
  const clock = opts.clock ?? { t: 1_000_000 }
  let nextPid = 1000
  const c = new TransactionCoordinator({ ...txnConfig({}), ...opts.config }, store, markers, () => nextPid++, undefined, () => clock.t)
  return { c, store, markers, clock }
}

function lastValue(store: MemoryGroupStore, id: string): TxnLogValue | null | undefined {
  let v: TxnLogValue | null | undefined
  for (const r of store.logs[0]!) {
    const d = decodeTxnRecord(r.key, r.value)
    if (d?.transactionalId === id) v = d.value
  }
  return v
}

describe('transaction coordinator', () => {
  it('hands out a producer id, then bumps its epoch; refuses bad timeouts and empty ids', async () => {
    const { c, store } = setup()
    await c.load()
    const a = await c.initProducerId('t1', 60000, null)
    assert.deepEqual(a, { error: E.NONE, producerId: 1000, producerEpoch: 0 })
    const b = await c.initProducerId('t1', 60000, null)
    assert.deepEqual(b, { error: E.NONE, producerId: 1000, producerEpoch: 1 })
    assert.equal(lastValue(store, 't1')!.producerEpoch, 1)
    assert.equal((await c.initProducerId('t1', 900001, null)).error, E.INVALID_TRANSACTION_TIMEOUT)
    assert.equal((await c.initProducerId('t1', 0, null)).error, E.INVALID_TRANSACTION_TIMEOUT)
    assert.equal((await c.initProducerId('', 1000, null)).error, E.INVALID_REQUEST)
    await c.close()
  })

  it('commits: partitions added, PrepareCommit persisted, a marker per partition, CompleteCommit', async () => {
    const { c, store, markers } = setup()
    await c.load()
    const { producerId, producerEpoch } = await c.initProducerId('t', 60000, null)
    assert.equal(c.checkProduce('t', producerId, producerEpoch, 'a', 0), E.INVALID_TXN_STATE)
    assert.equal(await c.addPartitions('t', producerId, producerEpoch, [{ topic: 'a', partition: 0 }, { topic: 'a', partition: 1 }]), E.NONE)
    assert.equal(await c.addPartitions('t', producerId, producerEpoch, [{ topic: 'a', partition: 1 }, { topic: OFFSETS_TOPIC, partition: 0 }]), E.NONE)
    assert.equal(c.get('t')!.state, 'Ongoing')
    assert.equal(c.checkProduce('t', producerId, producerEpoch, 'a', 1), E.NONE)
    assert.equal(c.checkProduce('t', producerId, producerEpoch, 'b', 0), E.INVALID_TXN_STATE)
    assert.equal(c.checkProduce('t', producerId + 1, producerEpoch, 'a', 1), E.INVALID_PRODUCER_ID_MAPPING)
    assert.equal(await c.addPartitions('t', producerId + 1, producerEpoch, [{ topic: 'a', partition: 0 }]), E.INVALID_PRODUCER_ID_MAPPING)
    assert.equal(await c.endTxn('t', producerId, producerEpoch, true), E.NONE)
    assert.deepEqual(markers.written.map((w) => `${w.topic}-${w.partition}:${w.marker.commit}:${w.marker.producerEpoch}`).sort(), [`${OFFSETS_TOPIC}-0:true:0`, 'a-0:true:0', 'a-1:true:0'])
    const states = store.logs[0]!.map((r) => decodeTxnRecord(r.key, r.value)!.value!.state)
    assert.deepEqual(states, ['Empty', 'Ongoing', 'Ongoing', 'PrepareCommit', 'CompleteCommit'])
    assert.equal(c.get('t')!.partitions.size, 0)
    // a retried EndTxn is fine, the opposite one is not
    assert.equal(await c.endTxn('t', producerId, producerEpoch, true), E.NONE)
    assert.equal(await c.endTxn('t', producerId, producerEpoch, false), E.INVALID_TXN_STATE)
    // no transaction: EndTxn is INVALID_TXN_STATE
    const again = await c.initProducerId('t', 60000, null)
    assert.equal(await c.endTxn('t', again.producerId, again.producerEpoch, true), E.INVALID_TXN_STATE)
    await c.close()
  })

  it('fences a zombie: InitProducerId aborts its ongoing transaction with a bumped epoch', async () => {
    const { c, markers } = setup()
    await c.load()
    const old = await c.initProducerId('t', 60000, null)
    await c.addPartitions('t', old.producerId, old.producerEpoch, [{ topic: 'a', partition: 0 }])
    const next = await c.initProducerId('t', 60000, null)
    assert.equal(next.error, E.NONE)
    assert.equal(next.producerId, old.producerId)
    assert.equal(next.producerEpoch, old.producerEpoch + 2)
    assert.deepEqual(markers.written, [{ topic: 'a', partition: 0, marker: { producerId: old.producerId, producerEpoch: old.producerEpoch + 1, commit: false, coordinatorEpoch: 0 } }])
    assert.equal(await c.addPartitions('t', old.producerId, old.producerEpoch, [{ topic: 'a', partition: 0 }]), E.PRODUCER_FENCED)
    assert.equal(await c.endTxn('t', old.producerId, old.producerEpoch, true), E.PRODUCER_FENCED)
    assert.equal(c.checkProduce('t', old.producerId, old.producerEpoch, 'a', 0), E.INVALID_PRODUCER_EPOCH)
    assert.equal(c.checkTxnOffsetCommit('t', old.producerId, old.producerEpoch, OFFSETS_TOPIC, 0), E.PRODUCER_FENCED)
    // older request versions hear INVALID_PRODUCER_EPOCH
    assert.equal(txnErrorCode(E.PRODUCER_FENCED, 1, 2), E.INVALID_PRODUCER_EPOCH.code)
    assert.equal(txnErrorCode(E.PRODUCER_FENCED, 2, 2), E.PRODUCER_FENCED.code)
    await c.close()
  })

  it('KIP-360: bumps with the expected id and epoch, answers a retry with the same epoch, fences strangers', async () => {
    const { c } = setup()
    await c.load()
    const a = await c.initProducerId('t', 60000, null)
    const b = await c.initProducerId('t', 60000, { producerId: a.producerId, producerEpoch: a.producerEpoch })
    assert.deepEqual([b.error, b.producerId, b.producerEpoch], [E.NONE, a.producerId, a.producerEpoch + 1])
    const retry = await c.initProducerId('t', 60000, { producerId: a.producerId, producerEpoch: a.producerEpoch })
    assert.deepEqual([retry.error, retry.producerEpoch], [E.NONE, b.producerEpoch])
    assert.equal((await c.initProducerId('t', 60000, { producerId: a.producerId + 77, producerEpoch: 0 })).error, E.PRODUCER_FENCED)
    assert.equal((await c.initProducerId('t', 60000, { producerId: a.producerId, producerEpoch: 9 })).error, E.PRODUCER_FENCED)
    await c.close()
  })

  it('rotates to a new producer id when the epoch is exhausted', async () => {
    const store = new MemoryGroupStore(1)
    const v: TxnLogValue = { producerId: 5, lastProducerId: -1, producerEpoch: 32766, lastProducerEpoch: -1, timeoutMs: 60000, state: 'CompleteCommit', partitions: [], txnStartTimestamp: 1, txnLastUpdateTimestamp: 999_999 }
    store.logs[0]!.push(encodeTxnRecord({ transactionalId: 't', value: v }))
    const { c } = setup({ store })
    await c.load()
    const r = await c.initProducerId('t', 60000, { producerId: 5, producerEpoch: 32766 })
    assert.deepEqual([r.error, r.producerId, r.producerEpoch], [E.NONE, 1000, 0])
    assert.equal(c.get('t')!.lastProducerId, 5)
    // the retry of that request (old id, exhausted epoch) gets the same answer
    const retry = await c.initProducerId('t', 60000, { producerId: 5, producerEpoch: 32766 })
    assert.deepEqual([retry.error, retry.producerId, retry.producerEpoch], [E.NONE, 1000, 0])
    await c.close()
  })

  it('aborts a transaction past its timeout and fences its producer', async () => {
    const { c, markers, clock } = setup()
    await c.load()
    const p = await c.initProducerId('t', 5000, null)
    await c.addPartitions('t', p.producerId, p.producerEpoch, [{ topic: 'a', partition: 3 }])
    clock.t += 4000
    assert.equal(await c.abortTimedOut(), 0)
    clock.t += 2000
    assert.equal(await c.abortTimedOut(), 1)
    assert.equal(c.get('t')!.state, 'CompleteAbort')
    assert.equal(markers.written[0]!.marker.commit, false)
    assert.equal(markers.written[0]!.marker.producerEpoch, p.producerEpoch + 1)
    assert.equal(await c.endTxn('t', p.producerId, p.producerEpoch, true), E.PRODUCER_FENCED)
    await c.close()
  })

  it('completes PrepareCommit/PrepareAbort transactions on load and aborts timed-out ongoing ones', async () => {
    const store = new MemoryGroupStore(1)
    const clock = { t: 1_000_000 }
    const base = { lastProducerId: -1, producerEpoch: 3, lastProducerEpoch: -1, timeoutMs: 60000, txnStartTimestamp: clock.t - 1000, txnLastUpdateTimestamp: clock.t - 1000 }
    store.logs[0]!.push(
      encodeTxnRecord({ transactionalId: 'c', value: { ...base, producerId: 1, state: 'PrepareCommit', partitions: [{ topic: 'x', partitions: [0, 1] }] } }),
      encodeTxnRecord({ transactionalId: 'a', value: { ...base, producerId: 2, state: 'PrepareAbort', partitions: [{ topic: 'x', partitions: [0] }] } }),
      encodeTxnRecord({ transactionalId: 'o', value: { ...base, producerId: 3, state: 'Ongoing', partitions: [{ topic: 'y', partitions: [0] }] } }),
      encodeTxnRecord({ transactionalId: 'late', value: { ...base, producerId: 4, state: 'Ongoing', txnStartTimestamp: clock.t - 70000, partitions: [{ topic: 'y', partitions: [1] }] } }),
      encodeTxnRecord({ transactionalId: 'gone', value: { ...base, producerId: 5, state: 'Empty', partitions: [] } }),
      encodeTxnRecord({ transactionalId: 'gone', value: null }),
    )
    const { c, markers } = setup({ store, clock })
    await c.load()
    assert.equal(c.get('c')!.state, 'CompleteCommit')
    assert.equal(c.get('a')!.state, 'CompleteAbort')
    assert.equal(c.get('o')!.state, 'Ongoing')
    assert.equal(c.get('late')!.state, 'CompleteAbort')
    assert.equal(c.get('gone'), undefined)
    const seen = markers.written.map((w) => `${w.marker.producerId}:${w.topic}-${w.partition}:${w.marker.commit ? 'C' : 'A'}:${w.marker.producerEpoch}`).sort()
    assert.deepEqual(seen, ['1:x-0:C:3', '1:x-1:C:3', '2:x-0:A:3', '4:y-1:A:4'])
    clock.t += 60000
    assert.equal(await c.abortTimedOut(), 1)
    assert.equal(c.get('o')!.state, 'CompleteAbort')
    await c.close()
  })

  it('retries markers that failed; the decision stands meanwhile', async () => {
    const { c, markers } = setup()
    await c.load()
    const p = await c.initProducerId('t', 60000, null)
    await c.addPartitions('t', p.producerId, p.producerEpoch, [{ topic: 'a', partition: 0 }, { topic: 'a', partition: 1 }])
    markers.failures = 1
    assert.equal(await c.endTxn('t', p.producerId, p.producerEpoch, true), E.NONE)
    assert.equal(c.get('t')!.state, 'PrepareCommit')
    assert.equal(await c.addPartitions('t', p.producerId, p.producerEpoch, [{ topic: 'a', partition: 0 }]), E.CONCURRENT_TRANSACTIONS)
    assert.equal(await c.endTxn('t', p.producerId, p.producerEpoch, true), E.CONCURRENT_TRANSACTIONS)
    // InitProducerId tries to complete it first and then proceeds
    const next = await c.initProducerId('t', 60000, null)
    assert.equal(next.error, E.NONE)
    assert.equal(markers.written.length, 2)
    assert.ok(markers.written.every((w) => w.marker.commit))
    await c.close()
  })

  it('expires idle transactional ids, describes and lists', async () => {
    const { c, store, clock } = setup({ config: { idExpirationMs: 10000 } })
    await c.load()
    const a = await c.initProducerId('a', 30000, null)
    await c.addPartitions('a', a.producerId, a.producerEpoch, [{ topic: 'x', partition: 2 }, { topic: 'x', partition: 0 }])
    await c.initProducerId('b', 30000, null)
    const d = c.describe('a')
    assert.deepEqual({ ...d, error: d.error.code }, { error: 0, transactionalId: 'a', state: 'Ongoing', timeoutMs: 30000, startTimeMs: clock.t, producerId: a.producerId, producerEpoch: 0, topics: [{ topic: 'x', partitions: [0, 2] }] })
    assert.equal(c.describe('nope').error, E.TRANSACTIONAL_ID_NOT_FOUND)
    assert.deepEqual(c.list([], []).transactions.map((t) => t.transactionalId).sort(), ['a', 'b'])
    assert.deepEqual(c.list(['Ongoing'], []).transactions.map((t) => t.transactionalId), ['a'])
    assert.deepEqual(c.list([], [a.producerId]).transactions.map((t) => t.transactionalId), ['a'])
    const l = c.list(['Bogus'], [])
    assert.deepEqual([l.unknownStates, l.transactions], [['Bogus'], []])
    clock.t += 20000
    assert.equal(await c.expireTransactionalIds(), 1) // b; a has an ongoing transaction
    assert.equal(c.get('b'), undefined)
    assert.equal(lastValue(store, 'b'), null)
    await c.close()
  })
})

describe('group coordinator: transactional offsets', () => {
  const config = groupConfig({ 'group.initial.rebalance.delay.ms': '0' })

  it('keeps TxnOffsetCommit offsets pending until the marker; requireStable sees them as unstable', async () => {
    const store = new MemoryGroupStore(1)
    const g = new GroupCoordinator(config, store)
    await g.load()
    const codes = await g.commitTxnOffsets({ groupId: 'g', producerId: 7, producerEpoch: 0, generationId: -1, memberId: '', groupInstanceId: null, offsets: [{ topic: 't', partition: 0, offset: 42, leaderEpoch: -1, metadata: '' }] })
    assert.deepEqual(codes, [0])
    assert.equal(g.fetchOffsets('g', [{ topic: 't', partitions: [0] }])[0]!.offset, -1)
    assert.equal(g.fetchOffsets('g', [{ topic: 't', partitions: [0] }], true)[0]!.errorCode, E.UNSTABLE_OFFSET_COMMIT.code)
    g.completeTransaction(7, true, 0)
    assert.equal(g.fetchOffsets('g', [{ topic: 't', partitions: [0] }], true)[0]!.offset, 42)
    // an aborted one is dropped
    await g.commitTxnOffsets({ groupId: 'g', producerId: 7, producerEpoch: 0, generationId: -1, memberId: '', groupInstanceId: null, offsets: [{ topic: 't', partition: 0, offset: 50, leaderEpoch: -1, metadata: '' }] })
    g.completeTransaction(7, false, 0)
    assert.equal(g.fetchOffsets('g', [{ topic: 't', partitions: [0] }], true)[0]!.offset, 42)
    await g.close()
  })

  it('replays transactional offsets: committed with a commit marker, dropped with an abort, pending without one', async () => {
    const store = new MemoryGroupStore(1)
    const g = new GroupCoordinator(config, store)
    await g.load()
    const commit = (pid: number, partition: number, offset: number) =>
      g.commitTxnOffsets({ groupId: 'g', producerId: pid, producerEpoch: 0, generationId: -1, memberId: '', groupInstanceId: null, offsets: [{ topic: 't', partition, offset, leaderEpoch: -1, metadata: null }] })
    await commit(1, 0, 10)
    await commit(2, 1, 20)
    await commit(3, 2, 30)
    store.appendMarker(0, 1, true)
    store.appendMarker(0, 2, false)
    await g.close()
    const again = new GroupCoordinator(config, store)
    await again.load()
    const got = again.fetchOffsets('g', [{ topic: 't', partitions: [0, 1, 2] }], true).map((o) => [o.offset, o.errorCode])
    assert.deepEqual(got, [[10, 0], [-1, 0], [-1, E.UNSTABLE_OFFSET_COMMIT.code]])
    again.completeTransaction(3, true, 0)
    assert.equal(again.fetchOffsets('g', [{ topic: 't', partitions: [2] }])[0]!.offset, 30)
    await again.close()
  })
})
