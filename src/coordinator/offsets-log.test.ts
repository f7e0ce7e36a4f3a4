// Records of __consumer_offsets: Kafka's key layout, our JSON values, tombstones, and the store
// over a real partition log.

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { PartitionLog } from '../storage/index.js'
import { decodeRecord, encodeRecord, javaStringHash, LogGroupStore, partitionFor } from './offsets-log.js'

describe('offsets log records', () => {
  it('encodes offset commit keys as Kafka does (version 1, group, topic, partition)', () => {
    const { key, value } = encodeRecord({ type: 'offset', group: 'g', topic: 'tp', partition: 7, value: { offset: 5, leaderEpoch: -1, metadata: '', commitTimestamp: 1, expireTimestamp: -1 } })
    assert.deepEqual(key, Buffer.from([0, 1, 0, 1, 0x67, 0, 2, 0x74, 0x70, 0, 0, 0, 7]))
    assert.deepEqual(decodeRecord(key, value), { type: 'offset', group: 'g', topic: 'tp', partition: 7, value: { offset: 5, leaderEpoch: -1, metadata: '', commitTimestamp: 1, expireTimestamp: -1 } })
    const tomb = encodeRecord({ type: 'group', group: 'g', value: null })
    assert.deepEqual(tomb.key, Buffer.from([0, 2, 0, 1, 0x67]))
    assert.equal(tomb.value, null)
    assert.deepEqual(decodeRecord(tomb.key, null), { type: 'group', group: 'g', value: null })
  })

  it('maps groups to partitions with Java\'s String.hashCode', () => {
    assert.equal(javaStringHash('hello'), 99162322)
    assert.equal(javaStringHash('polygenelubricants'), -2147483648)
    assert.equal(partitionFor('polygenelubricants', 50), 0)
    assert.equal(partitionFor('hello', 50), 99162322 % 50)
  })

  it('appends to and replays a partition log', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fjord-offsets-'))
    try {
      const log = await PartitionLog.open(path.join(dir, '__consumer_offsets-0'))
      const store = new LogGroupStore(1, () => log, (_p, batches) => log.append(batches).done)
      const a = encodeRecord({ type: 'offset', group: 'g', topic: 't', partition: 0, value: { offset: 1, leaderEpoch: -1, metadata: null, commitTimestamp: 1, expireTimestamp: -1 } })
      const b = encodeRecord({ type: 'group', group: 'g', value: null })
      await store.append(0, [a])
      await store.append(0, [b, a])
      const seen: (Buffer | null)[] = []
      await store.replay(0, (_k, v) => seen.push(v))
      assert.deepEqual(seen, [a.value, null, a.value])
      await log.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
