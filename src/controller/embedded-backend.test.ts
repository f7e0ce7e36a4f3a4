import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NotControllerError } from './backend.js'
import { Controller } from './controller.js'
import { EMBEDDED_LOCK_FILE, EMBEDDED_LOG_FILE, EMBEDDED_SNAPSHOT_FILE, EmbeddedBackend, encodeFrame } from './embedded-backend.js'
import type { MetadataRecord } from './records.js'

const me = { id: 1, endpoint: '127.0.0.1:9093' }
const noDeposed = (reason: string): void => assert.fail(`embedded controller deposed: ${reason}`)

function topic(name: string): MetadataRecord {
  return { type: 'topic', name, id: name.padEnd(32, '0').slice(0, 32), internal: false, configs: {} }
}

function partition(t: string, p: number): MetadataRecord {
  return { type: 'partition', topic: t, partition: p, replicas: [1], isr: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 0, addingReplicas: [], removingReplicas: [] }
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fjord-embedded-'))
  try {
    await fn(dir)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

test('embedded: appends load back in order, from the same and from a new backend', () =>
  withDir(async (dir) => {
    const b = new EmbeddedBackend(dir)
    assert.equal(b.kind, 'embedded')
    assert.deepEqual(await b.load(), [])
    await b.campaign(me, noDeposed)
    const batch1: MetadataRecord[] = [{ type: 'cluster', clusterId: 'c1' }, topic('orders'), partition('orders', 0)]
    const batch2: MetadataRecord[] = [partition('orders', 1)]
    await b.append(batch1)
    await b.append([])
    await b.append(batch2)
    assert.deepEqual(await b.load(), [...batch1, ...batch2])
    await b.close()

    const again = new EmbeddedBackend(dir)
    assert.deepEqual(await again.load(), [...batch1, ...batch2])
    await again.campaign(me, noDeposed)
    await again.append([topic('payments')])
    assert.deepEqual(await again.load(), [...batch1, ...batch2, topic('payments')])
    await again.close()
  }))

test('embedded: appending without being the active controller is refused', () =>
  withDir(async (dir) => {
    const b = new EmbeddedBackend(dir)
    await assert.rejects(b.append([topic('x')]), NotControllerError)
    await assert.rejects(b.snapshot([]), NotControllerError)
    await b.campaign(me, noDeposed)
    await b.append([topic('x')])
    await b.close()
    await assert.rejects(b.append([topic('y')]), NotControllerError)
  }))

test('embedded: a torn tail frame is dropped on load and truncated by the next controller', () =>
  withDir(async (dir) => {
    const b = new EmbeddedBackend(dir)
    await b.campaign(me, noDeposed)
    await b.append([topic('a')])
    await b.append([topic('b'), partition('b', 0)])
    await b.close()
    const logPath = join(dir, EMBEDDED_LOG_FILE)
    const goodSize = statSync(logPath).size
    // a crash in the middle of the third append: half of its frame reached the disk
    const torn = encodeFrame({ offset: 3, epoch: 1, records: [topic('c')] })
    appendFileSync(logPath, torn.subarray(0, torn.length - 7))

    const reader = new EmbeddedBackend(dir)
    assert.deepEqual(await reader.load(), [topic('a'), topic('b'), partition('b', 0)])
    assert.equal(statSync(logPath).size, goodSize + torn.length - 7, 'loading without the lock does not write')

    const next = new EmbeddedBackend(dir)
    await next.campaign(me, noDeposed)
    assert.equal(statSync(logPath).size, goodSize, 'the torn tail is truncated')
    await next.append([topic('d')])
    await next.close()
    assert.deepEqual(await new EmbeddedBackend(dir).load(), [topic('a'), topic('b'), partition('b', 0), topic('d')])

    // a frame whose bytes are all there but whose checksum does not match is dropped too
    const flipped = Buffer.from(encodeFrame({ offset: 4, epoch: 2, records: [topic('e')] }))
    flipped[flipped.length - 5] ^= 1
    appendFileSync(logPath, flipped)
    assert.deepEqual(await new EmbeddedBackend(dir).load(), [topic('a'), topic('b'), partition('b', 0), topic('d')])
  }))

test('embedded: an invalid frame followed by a valid one is corruption, not a torn tail', () =>
  withDir(async (dir) => {
    const b = new EmbeddedBackend(dir)
    await b.campaign(me, noDeposed)
    await b.append([topic('a')])
    await b.append([topic('b')])
    await b.close()
    const logPath = join(dir, EMBEDDED_LOG_FILE)
    const bytes = readFileSync(logPath)
    bytes[30] ^= 1 // inside the first frame's JSON
    writeFileSync(logPath, bytes)
    await assert.rejects(new EmbeddedBackend(dir).load(), /corrupt/)
    await assert.rejects(new EmbeddedBackend(dir).campaign(me, noDeposed), /corrupt/)
    assert.deepEqual(readFileSync(logPath), bytes, 'a corrupt log is left as it is')
  }))

test('embedded: a snapshot replaces the history, later appends follow it', () =>
  withDir(async (dir) => {
    const b = new EmbeddedBackend(dir)
    await b.campaign(me, noDeposed)
    await b.append([topic('a'), partition('a', 0)])
    await b.append([topic('b'), { type: 'removeTopic', name: 'b' }])
    const image: MetadataRecord[] = [topic('a'), partition('a', 0)]
    await b.snapshot(image)
    assert.equal(statSync(join(dir, EMBEDDED_LOG_FILE)).size, 0, 'the log starts empty after a snapshot')
    assert.deepEqual(await b.load(), image)
    await b.append([topic('c')])
    assert.deepEqual(await b.load(), [...image, topic('c')])
    await b.close()
    assert.deepEqual(await new EmbeddedBackend(dir).load(), [...image, topic('c')])

    const again = new EmbeddedBackend(dir)
    await again.campaign(me, noDeposed)
    await again.snapshot([topic('a')])
    await again.append([topic('d')])
    await again.close()
    assert.deepEqual(await new EmbeddedBackend(dir).load(), [topic('a'), topic('d')])
  }))

test('embedded: a crash between writing the snapshot and emptying the log loads each record once', () =>
  withDir(async (dir) => {
    const b = new EmbeddedBackend(dir)
    await b.campaign(me, noDeposed)
    await b.append([topic('a'), topic('b')])
    await b.append([partition('a', 0)])
    await b.close()
    // the snapshot made it to disk (renamed into place), the log was not emptied yet
    const snap = [topic('a'), partition('a', 0), topic('b')]
    writeFileSync(join(dir, EMBEDDED_SNAPSHOT_FILE), JSON.stringify({ format: 1, nextOffset: 3, epoch: 1, records: snap }))
    assert.deepEqual(await new EmbeddedBackend(dir).load(), snap)

    // a crash before the rename leaves only the temp file: the old snapshot and log still hold
    writeFileSync(join(dir, `${EMBEDDED_SNAPSHOT_FILE}.tmp`), JSON.stringify({ format: 1, nextOffset: 3, epoch: 1, records: [] }))
    assert.deepEqual(await new EmbeddedBackend(dir).load(), snap)

    const next = new EmbeddedBackend(dir)
    await next.campaign(me, noDeposed)
    assert.equal(statSync(join(dir, EMBEDDED_LOG_FILE)).size, 0, 'recovery empties a log the snapshot covers')
    await next.append([topic('c')])
    await next.close()
    assert.deepEqual(await new EmbeddedBackend(dir).load(), [...snap, topic('c')])
  }))

test('embedded: a controller replays dynamic broker configs from the log and from a snapshot; a log from before them loads with none', () =>
  withDir(async (dir) => {
    // a log as an older Fjord wrote it: no brokerConfigs records
    writeFileSync(join(dir, EMBEDDED_LOG_FILE), encodeFrame({ offset: 0, epoch: 1, records: [{ type: 'cluster', clusterId: 'old' }, topic('a'), partition('a', 0)] }))
    const controller = async (options: { snapshotEveryRecords?: number } = {}): Promise<Controller> => {
      const c = new Controller(new EmbeddedBackend(dir), me, { leaderImbalanceCheckIntervalMs: 0, ...options })
      await c.activate()
      return c
    }
    const layers = (c: Controller) => [c.image.brokerConfigs(''), c.image.brokerConfigs('2')]
    const upgraded = await controller()
    assert.equal(upgraded.image.clusterId, 'old')
    assert.deepEqual(layers(upgraded), [{}, {}])
    await upgraded.alterBrokerConfigs('', { 'volume.size.bytes': '1000000' }, false, false)
    await upgraded.alterBrokerConfigs('2', { 'follower.replication.throttled.rate': '1024' }, false, false)
    await upgraded.close()
    const expected = [{ 'volume.size.bytes': '1000000' }, { 'follower.replication.throttled.rate': '1024' }]

    const fromLog = await controller({ snapshotEveryRecords: 1 })
    assert.deepEqual(layers(fromLog), expected)
    await fromLog.alterBrokerConfigs('', { 'leader.replication.throttled.rate': '2048' }, false, false) // snapshots
    await fromLog.close()
    const snapshot = JSON.parse(readFileSync(join(dir, EMBEDDED_SNAPSHOT_FILE), 'utf8')) as { records: MetadataRecord[] }
    assert.deepEqual(snapshot.records.filter((r) => r.type === 'brokerConfigs').map((r) => r.type === 'brokerConfigs' && r.broker).sort(), ['', '2'])
    assert.equal(statSync(join(dir, EMBEDDED_LOG_FILE)).size, 0, 'the snapshot holds everything')

    const fromSnapshot = await controller()
    assert.deepEqual(layers(fromSnapshot), [{ ...expected[0], 'leader.replication.throttled.rate': '2048' }, expected[1]])
    assert.equal(fromSnapshot.image.topic('a')?.partitions, 1)
    await fromSnapshot.close()
  }))

test('embedded: every campaign bumps the persisted controller epoch', () =>
  withDir(async (dir) => {
    const epochs: number[] = []
    for (let i = 0; i < 3; i++) {
      const b = new EmbeddedBackend(dir)
      epochs.push(await b.campaign(me, noDeposed))
      assert.deepEqual(await b.active(), me)
      await b.close()
      assert.equal(existsSync(join(dir, EMBEDDED_LOCK_FILE)), false, 'close releases the lock')
    }
    assert.deepEqual(epochs, [1, 2, 3])
    assert.equal(readFileSync(join(dir, 'controller_epoch'), 'utf8').trim(), '3')
  }))

test('embedded: a live lock refuses a second controller, a stale one is taken over', () =>
  withDir(async (dir) => {
    const first = new EmbeddedBackend(dir)
    await first.campaign(me, noDeposed)
    const second = new EmbeddedBackend(dir)
    await assert.rejects(second.campaign({ id: 2, endpoint: 'h:2' }, noDeposed), new RegExp(`another controller \\(pid ${process.pid}\\) uses ${dir}`))
    assert.deepEqual(await second.active(), me, 'a backend that lost sees the holder')
    await first.close()

    // held by another live process
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' })
    try {
      writeFileSync(join(dir, EMBEDDED_LOCK_FILE), JSON.stringify({ pid: sleeper.pid, id: 7, endpoint: 'other:9093' }))
      await assert.rejects(second.campaign(me, noDeposed), new RegExp(`another controller \\(pid ${sleeper.pid}\\) uses`))
      assert.deepEqual(await second.active(), { id: 7, endpoint: 'other:9093' })
    } finally {
      sleeper.kill('SIGKILL')
    }

    // held by a process that is gone
    const dead = spawnSync('true').pid
    writeFileSync(join(dir, EMBEDDED_LOCK_FILE), `${dead}\n`)
    assert.equal(await second.active(), null)
    assert.equal(await second.campaign(me, noDeposed), 2)
    assert.equal(JSON.parse(readFileSync(join(dir, EMBEDDED_LOCK_FILE), 'utf8')).pid, process.pid)
    await second.close()

    // left by an earlier process that had this process's pid (a restarted container)
    writeFileSync(join(dir, EMBEDDED_LOCK_FILE), JSON.stringify({ pid: process.pid }))
    const third = new EmbeddedBackend(dir)
    assert.equal(await third.campaign(me, noDeposed), 3)
    await third.close()
  }))
