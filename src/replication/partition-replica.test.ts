// PartitionReplica as leader: the high watermark is the ISR's smallest log end, acks=all waits for
// it, and a write that completes after leadership moved never looks committed.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { PartitionState } from '../controller/records.js'
import { ErrorCode, KafkaError } from '../protocol/errors.js'
import { buildBatchSync } from '../protocol/records.js'
import { PartitionLog } from '../storage/index.js'
import { PartitionReplica, type ReplicaHost } from './partition-replica.js'

function host(proposals: number[][] = [], replicaLagTimeMaxMs = 30_000): ReplicaHost {
  return {
    brokerId: 1,
    replicaLagTimeMaxMs,
    isAlive: () => true,
    proposeIsr: (_t, _p, state, isr) => {
      proposals.push(isr)
      return Promise.resolve({ ...state, isr, partitionEpoch: state.partitionEpoch + 1 })
    },
    notifyCommitted: () => {},
    notifyWritten: () => {},
    warn: () => {},
  }
}

const state = (over: Partial<PartitionState> = {}): PartitionState => ({
  replicas: [1, 2, 3], isr: [1, 2, 3], leader: 1, leaderEpoch: 5, partitionEpoch: 7, addingReplicas: [], removingReplicas: [], ...over,
})

async function withLog(fn: (log: PartitionLog) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fjord-replica-'))
  const log = await PartitionLog.open(dir)
  try {
    await fn(log)
  } finally {
    await log.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

async function write(replica: PartitionReplica, n: number): Promise<number> {
  const batch = buildBatchSync({ records: Array.from({ length: n }, (_, i) => ({ key: null, value: Buffer.from(`v${i}`) })) })
  batch.writeInt32BE(replica.state.leaderEpoch, 12)
  const appended = replica.log.append([batch])
  await appended.done
  replica.written(appended.lastOffset + 1, batch.length)
  return appended.lastOffset + 1
}

test('the high watermark is the smallest log end of the ISR, and acks=all waits for it', async () => {
  await withLog(async (log) => {
    const r = new PartitionReplica(host(), 't', 0, log, state(), 0)
    r.becomeLeader(state())
    const end = await write(r, 10)
    assert.equal(r.hw, 0, 'no follower has fetched yet')
    const acked = r.waitForHighWatermark(end, 5_000)
    r.followerFetched(2, end)
    assert.equal(r.hw, 0, 'broker 3 is still missing the records')
    r.followerFetched(3, 4)
    assert.equal(r.hw, 4)
    r.followerFetched(3, end)
    assert.equal(r.hw, end)
    await acked
  })
})

test('a write completing after leadership moved is not acknowledged and does not move the high watermark', async () => {
  await withLog(async (log) => {
    const r = new PartitionReplica(host(), 't', 0, log, state(), 0)
    r.becomeLeader(state())
    const epoch = r.state.leaderEpoch
    const batch = buildBatchSync({ records: [{ key: null, value: Buffer.from('late') }] })
    const appended = log.append([batch])
    // the controller moves leadership to broker 2 while the write is in flight
    r.becomeFollower(state({ leader: 2, leaderEpoch: 6, partitionEpoch: 8 }))
    await appended.done
    r.written(appended.lastOffset + 1, batch.length)
    assert.equal(r.hw, 0, 'a follower takes its high watermark from the leader, not from its own log end')
    await assert.rejects(r.waitForHighWatermark(appended.lastOffset + 1, 1_000, epoch), (err: unknown) => err instanceof KafkaError && err.code === ErrorCode.NOT_LEADER_OR_FOLLOWER.code)
  })
})

test('acks=all waiters fail when leadership moves, and a shrink does not let the high watermark pass the removed follower before it commits', async () => {
  await withLog(async (log) => {
    const proposals: number[][] = []
    const r = new PartitionReplica(host(proposals, 50), 't', 0, log, state(), 0)
    r.becomeLeader(state())
    const end = await write(r, 3)
    await new Promise((resolve) => setTimeout(resolve, 100))
    r.followerFetched(2, end)
    const waiting = r.waitForHighWatermark(end, 5_000)
    // broker 3 has not fetched for longer than replica.lag.time.max.ms: the shrink is proposed,
    // and until it commits broker 3 still counts
    r.checkLaggingFollowers(Date.now())
    assert.deepEqual(proposals, [[1, 2]])
    assert.equal(r.hw, 0)
    r.becomeFollower(state({ leader: 2, leaderEpoch: 6 }))
    await assert.rejects(waiting, (err: unknown) => err instanceof KafkaError && err.code === ErrorCode.NOT_LEADER_OR_FOLLOWER.code)
  })
})
