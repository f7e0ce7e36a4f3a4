// The leader-epoch cache alone: Kafka's endOffsetFor cases, assign ordering, truncations, and
// the checkpoint file (Kafka's format, atomic writes, coalescing, torn and missing files).

import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { LEADER_EPOCH_CHECKPOINT, LeaderEpochCache, decodeEpochCheckpoint, encodeEpochCheckpoint, nodeFs, type StorageFs } from './index.js'

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'fjord-epochs-'))
}

function cacheOf(...entries: Array<[number, number]>): LeaderEpochCache {
  const c = new LeaderEpochCache()
  for (const [e, o] of entries) assert.equal(c.assign(e, o), true)
  return c
}

const pairs = (c: LeaderEpochCache): Array<[number, number]> => c.entries().map((e) => [e.epoch, e.startOffset])

test('endOffsetFor: every case of Kafka LeaderEpochFileCache.endOffsetFor', () => {
  const empty = new LeaderEpochCache()
  assert.equal(empty.latestEpoch, -1)
  assert.deepEqual(empty.endOffsetFor(-1, 50), { epoch: -1, endOffset: -1 }, 'undefined epoch')
  assert.deepEqual(empty.endOffsetFor(0, 50), { epoch: -1, endOffset: -1 }, 'empty cache: no larger epoch')

  const c = cacheOf([1, 0], [3, 5], [6, 10])
  assert.equal(c.latestEpoch, 6)
  assert.deepEqual(c.endOffsetFor(-1, 42), { epoch: -1, endOffset: -1 }, 'undefined epoch')
  assert.deepEqual(c.endOffsetFor(6, 42), { epoch: 6, endOffset: 42 }, 'latest epoch: the log end offset')
  assert.deepEqual(c.endOffsetFor(0, 42), { epoch: 0, endOffset: 0 }, 'below the first epoch: the requested epoch, first start offset')
  assert.deepEqual(c.endOffsetFor(1, 42), { epoch: 1, endOffset: 5 }, 'a known epoch: the start of the next')
  assert.deepEqual(c.endOffsetFor(2, 42), { epoch: 1, endOffset: 5 }, 'an unknown epoch between: the previous one, the start of the next')
  assert.deepEqual(c.endOffsetFor(3, 42), { epoch: 3, endOffset: 10 })
  assert.deepEqual(c.endOffsetFor(4, 42), { epoch: 3, endOffset: 10 })
  assert.deepEqual(c.endOffsetFor(5, 42), { epoch: 3, endOffset: 10 })
  assert.deepEqual(c.endOffsetFor(7, 42), { epoch: -1, endOffset: -1 }, 'above the latest epoch')

  const one = cacheOf([2, 7])
  assert.deepEqual(one.endOffsetFor(2, 9), { epoch: 2, endOffset: 9 })
  assert.deepEqual(one.endOffsetFor(1, 9), { epoch: 1, endOffset: 7 })
  assert.deepEqual(one.endOffsetFor(3, 9), { epoch: -1, endOffset: -1 })
})

test('assign: only newer epochs; entries whose start offset is not below the new one are replaced', () => {
  const c = cacheOf([0, 0], [2, 10], [3, 15])
  assert.equal(c.assign(3, 20), false, 'same epoch: ignored')
  assert.equal(c.assign(3, 12), false, 'same epoch, earlier start: ignored')
  assert.equal(c.assign(1, 30), false, 'older epoch: ignored')
  assert.deepEqual(pairs(c), [[0, 0], [2, 10], [3, 15]])
  // a newer epoch starting before the latest start: the later entry goes
  assert.equal(c.assign(5, 12), true)
  assert.deepEqual(pairs(c), [[0, 0], [2, 10], [5, 12]])
  // starting at an existing start offset: that epoch wrote nothing, it is replaced
  assert.equal(c.assign(6, 10), true)
  assert.deepEqual(pairs(c), [[0, 0], [6, 10]])
  assert.equal(c.assign(7, 0), true)
  assert.deepEqual(pairs(c), [[7, 0]])
  assert.equal(c.assign(9, 100), true)
  assert.deepEqual(pairs(c), [[7, 0], [9, 100]])
  assert.equal(c.latestEpoch, 9)
  assert.deepEqual(c.latestEntry, { epoch: 9, startOffset: 100 })
  assert.deepEqual(c.earliestEntry, { epoch: 7, startOffset: 0 })
  assert.equal(c.epochForOffset(99), 7)
  assert.equal(c.epochForOffset(100), 9)
  assert.throws(() => c.assign(-1, 5), RangeError)
  assert.throws(() => c.assign(10, -5), RangeError)
})

test('truncateFromEnd drops entries starting at or after the offset', () => {
  const c = cacheOf([0, 0], [2, 10], [5, 20])
  assert.equal(c.truncateFromEnd(25), false)
  assert.equal(c.truncateFromEnd(-1), false)
  assert.equal(c.truncateFromEnd(20), true)
  assert.deepEqual(pairs(c), [[0, 0], [2, 10]])
  assert.equal(c.truncateFromEnd(11), false)
  assert.equal(c.truncateFromEnd(10), true)
  assert.deepEqual(pairs(c), [[0, 0]])
  assert.equal(c.truncateFromEnd(0), true)
  assert.deepEqual(pairs(c), [])
  assert.equal(c.latestEpoch, -1)
})

test('truncateFromStart keeps the epoch covering the new start, starting there', () => {
  const c = cacheOf([0, 0], [2, 10], [5, 20])
  assert.equal(c.truncateFromStart(0), false, 'the first entry already starts there')
  assert.equal(c.truncateFromStart(15), true)
  assert.deepEqual(pairs(c), [[2, 15], [5, 20]])
  assert.equal(c.truncateFromStart(20), true)
  assert.deepEqual(pairs(c), [[5, 20]])
  assert.equal(c.truncateFromStart(25), true)
  assert.deepEqual(pairs(c), [[5, 25]])
  const later = cacheOf([3, 50])
  assert.equal(later.truncateFromStart(10), false, 'every entry starts after it')
  assert.deepEqual(pairs(later), [[3, 50]])
  later.clear()
  assert.deepEqual(later.entries(), [])
  assert.equal(later.truncateFromStart(10), false)
})

test('checkpoint format: Kafka lines, strict parsing', () => {
  assert.equal(encodeEpochCheckpoint([{ epoch: 0, startOffset: 0 }, { epoch: 3, startOffset: 1200 }]), '0\n2\n0 0\n3 1200\n')
  assert.equal(encodeEpochCheckpoint([]), '0\n0\n')
  assert.deepEqual(decodeEpochCheckpoint('0\n2\n0 0\n3 1200\n'), [{ epoch: 0, startOffset: 0 }, { epoch: 3, startOffset: 1200 }])
  assert.deepEqual(decodeEpochCheckpoint('0\n1\n4 9'), [{ epoch: 4, startOffset: 9 }], 'no final newline')
  assert.deepEqual(decodeEpochCheckpoint('0\n0\n'), [])
  assert.throws(() => decodeEpochCheckpoint('1\n0\n'), /version/)
  assert.throws(() => decodeEpochCheckpoint('0\n3\n0 0\n2 5\n'), /3 entries/)
  assert.throws(() => decodeEpochCheckpoint('0\n1\n0 0\n2 5\n'), /1 entries/)
  assert.throws(() => decodeEpochCheckpoint('0\n1\n0\n'), /malformed/)
  assert.throws(() => decodeEpochCheckpoint('0\n1\n0 x\n'), /malformed/)
  assert.throws(() => decodeEpochCheckpoint(''), /malformed/)
})

test('file round trip: written atomically (temp, rename, directory fsync), loaded back', async () => {
  const dir = tmp()
  const calls: string[] = []
  const f: StorageFs = {
    ...nodeFs,
    writeFileAtomic: (p, d) => (calls.push(`write ${path.basename(p)}`), nodeFs.writeFileAtomic(p, d)),
    fsyncDir: (p) => (calls.push(`fsyncDir ${p}`), nodeFs.fsyncDir!(p)),
  }
  const { cache, status } = await LeaderEpochCache.load(dir, f)
  assert.equal(status, 'missing')
  assert.equal(cache.size, 0)
  cache.assign(0, 0)
  cache.assign(3, 1200)
  assert.equal(cache.dirty, true)
  await cache.flush()
  assert.equal(cache.dirty, false)
  const file = path.join(dir, LEADER_EPOCH_CHECKPOINT)
  assert.equal(fs.readFileSync(file, 'utf8'), '0\n2\n0 0\n3 1200\n')
  assert.deepEqual(calls.slice(-2), [`write ${LEADER_EPOCH_CHECKPOINT}`, `fsyncDir ${dir}`])
  assert.ok(!fs.existsSync(`${file}.tmp`))
  const again = await LeaderEpochCache.load(dir, f)
  assert.equal(again.status, 'ok')
  assert.deepEqual(pairs(again.cache), [[0, 0], [3, 1200]])
  assert.equal(again.cache.dirty, false, 'loading writes nothing')
  // A Kafka file with the empty-list layout, and an empty file (Kafka creates it so).
  fs.writeFileSync(file, '0\n0\n')
  assert.equal((await LeaderEpochCache.load(dir, f)).status, 'ok')
  fs.writeFileSync(file, '')
  assert.equal((await LeaderEpochCache.load(dir, f)).status, 'missing')
})

test('writes are asynchronous, ordered and coalesced; flush waits for the state it was called with', async () => {
  const dir = tmp()
  let writes = 0
  let inFlight = 0
  const f: StorageFs = {
    ...nodeFs,
    writeFileAtomic: async (p, d) => {
      writes++
      inFlight++
      assert.equal(inFlight, 1, 'one write at a time')
      await new Promise((r) => setTimeout(r, 5))
      await nodeFs.writeFileAtomic(p, d)
      inFlight--
    },
  }
  const { cache } = await LeaderEpochCache.load(dir, f)
  for (let e = 0; e < 50; e++) cache.assign(e, e * 10)
  cache.truncateFromEnd(400)
  cache.truncateFromStart(5)
  await cache.flush()
  assert.ok(writes <= 3, `${writes} writes for 52 changes`)
  const { cache: loaded } = await LeaderEpochCache.load(dir, nodeFs)
  assert.deepEqual(loaded.entries(), cache.entries())
  assert.deepEqual(loaded.entries()[0], { epoch: 0, startOffset: 5 })
  assert.equal(loaded.latestEpoch, 39)
  await cache.close()
  cache.assign(60, 1000) // after close: memory only
  assert.equal((await LeaderEpochCache.load(dir, nodeFs)).cache.latestEpoch, 39)
})

test('a failed write: flush rejects, a later flush writes once the disk is back', async () => {
  const dir = tmp()
  let fail = true
  const logged: string[] = []
  const f: StorageFs = {
    ...nodeFs,
    writeFileAtomic: (p, d) => (fail ? Promise.reject(Object.assign(new Error('ENOSPC'), { code: 'ENOSPC' })) : nodeFs.writeFileAtomic(p, d)),
  }
  const { cache } = await LeaderEpochCache.load(dir, f, (msg) => logged.push(msg))
  cache.assign(1, 0)
  await assert.rejects(cache.flush(), /ENOSPC/)
  assert.ok(logged.length > 0)
  assert.equal(cache.dirty, true)
  fail = false
  await cache.flush()
  assert.deepEqual(pairs((await LeaderEpochCache.load(dir, nodeFs)).cache), [[1, 0]])
})

test('torn and malformed files load as corrupt (empty, rewritten on the next flush)', async () => {
  const dir = tmp()
  const file = path.join(dir, LEADER_EPOCH_CHECKPOINT)
  for (const text of ['0\n3\n0 0\n2 5', '0\n2\n0 0\n2', '7\n0\n', 'garbage']) {
    fs.writeFileSync(file, text)
    const { cache, status } = await LeaderEpochCache.load(dir, nodeFs)
    assert.equal(status, 'corrupt', JSON.stringify(text))
    assert.equal(cache.size, 0)
    assert.equal(cache.dirty, true)
    await cache.flush()
    assert.equal(fs.readFileSync(file, 'utf8'), '0\n0\n')
  }
  // Entries out of order in the file go through assign: an older epoch after a newer one is ignored.
  fs.writeFileSync(file, '0\n3\n0 0\n4 20\n2 10\n')
  const { cache, status } = await LeaderEpochCache.load(dir, nodeFs)
  assert.equal(status, 'ok')
  assert.deepEqual(pairs(cache), [[0, 0], [4, 20]])
})
