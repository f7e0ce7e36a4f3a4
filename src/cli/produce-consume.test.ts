// `fjord produce` and `fjord consume` as subprocesses against a broker process, checked with kcat:
// keyed, compressed records read back by kcat and by fjord consume (same partitions as
// librdkafka's murmur2 partitioner), kcat's records read by fjord consume, a group's committed
// offsets, an unknown topic (exit 1) and usage errors (exit 2). Kafka's murmur2 test vectors.

import { after, before, describe, it, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { murmur2, partitionForKey } from './producer.js'

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url))

interface Result { code: number; stdout: string; stderr: string }

function exec(cmd: string, args: string[], input?: string): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0
      if (code === null) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err!.message}\n${stderr}`))
      else resolve({ code, stdout, stderr })
    })
    child.stdin!.end(input ?? '')
  })
}

const fjord = (args: string[], input?: string) => exec(process.execPath, [MAIN, ...args], input)

test('murmur2 and the default partitioner agree with Kafka (Utils.murmur2 test vectors)', () => {
  const cases: [string, number][] = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ]
  for (const [key, hash] of cases) assert.equal(murmur2(Buffer.from(key)), hash, key)
  assert.equal(partitionForKey(Buffer.from('foobar'), 7), (-790332482 & 0x7fffffff) % 7)
})

describe('fjord produce and consume', { timeout: 180_000 }, () => {
  let dir: string
  let proc: ChildProcess
  let bootstrap: string
  const bs = () => ['--bootstrap-server', bootstrap]

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'fjord-produce-consume-'))
    proc = spawn(process.execPath, [MAIN, 'broker', '--listen', '127.0.0.1:0', '--data-dir', dir, '--set', 'group.initial.rebalance.delay.ms=0', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] })
    const errors: string[] = []
    proc.stderr!.on('data', (d: Buffer) => errors.push(d.toString()))
    bootstrap = await new Promise<string>((resolve, reject) => {
      let buf = ''
      const timer = setTimeout(() => reject(new Error(`broker not ready: ${buf}${errors.join('')}`)), 15_000)
      proc.stdout!.on('data', (d: Buffer) => {
        buf += d.toString()
        const m = /ready.*?(127\.0\.0\.1:\d+)/.exec(buf)
        if (m) { clearTimeout(timer); resolve(m[1]!) }
      })
    })
  })

  after(async () => {
    if (proc.exitCode === null) {
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
      proc.kill('SIGTERM')
      await Promise.race([exited, sleep(10_000).then(() => proc.kill('SIGKILL'))])
    }
    rmSync(dir, { recursive: true, force: true })
  })

  async function createTopic(name: string, partitions: number): Promise<void> {
    const r = await fjord(['topic', 'create', name, '--partitions', String(partitions), ...bs()])
    assert.equal(r.code, 0, r.stderr)
  }

  for (const codec of ['zstd', 'gzip', 'snappy', 'lz4', 'none']) {
    it(`produces 1000 keyed lines with ${codec}; kcat and fjord consume read them back`, async () => {
      const topic = `keyed-${codec}`
      await createTopic(topic, 3)
      const lines = Array.from({ length: 1000 }, (_, i) => `key-${i % 37}|value ${i} ${'x'.repeat(i % 50)}`)
      const p = await fjord(['produce', topic, '--key-separator', '|', '--compression', codec, '-o', 'json', ...bs()], lines.join('\n') + '\n')
      assert.equal(p.code, 0, p.stderr)
      assert.match(p.stderr, /1000 of 1000 records acknowledged/)
      const summary = JSON.parse(p.stdout) as { acknowledged: number; failed: number; partitions: { partition: number; records: number; firstOffset: number; lastOffset: number }[] }
      assert.equal(summary.acknowledged, 1000)
      assert.equal(summary.failed, 0)
      assert.equal(summary.partitions.reduce((n, x) => n + x.records, 0), 1000)
      for (const x of summary.partitions) assert.equal(x.lastOffset - x.firstOffset + 1, x.records)

      // kcat: every record, in each partition in input order, on the partition librdkafka's murmur2 picks
      const k = await exec('kcat', ['-C', '-b', bootstrap, '-t', topic, '-e', '-q', '-f', '%p\t%k\t%s\n'])
      assert.equal(k.code, 0, k.stderr)
      const rows = k.stdout.trim().split('\n').map((l) => l.split('\t') as [string, string, string])
      assert.equal(rows.length, 1000)
      for (const [part, key] of rows) assert.equal(Number(part), partitionForKey(Buffer.from(key), 3), key)
      const expected = lines.map((l) => l.split('|') as [string, string])
      for (let part = 0; part < 3; part++) {
        const got = rows.filter((r) => Number(r[0]) === part).map((r) => `${r[1]}|${r[2]}`)
        const want = expected.filter(([key]) => partitionForKey(Buffer.from(key), 3) === part).map(([key, v]) => `${key}|${v}`)
        assert.deepEqual(got, want)
      }

      // fjord consume: the same records, key SEP value
      const c = await fjord(['consume', topic, '--from-beginning', '--timeout-ms', '1500', '--print-key', '--key-separator', '|', ...bs()])
      assert.equal(c.code, 0, c.stderr)
      assert.deepEqual(c.stdout.trim().split('\n').sort(), [...lines].sort())
      assert.match(c.stderr, /Processed a total of 1000 messages/)
    })
  }

  it('consumes what kcat produced: JSON lines with headers, offsets, --partition, --offset N and --max-messages', async () => {
    const topic = 'from-kcat'
    await createTopic(topic, 2)
    const input = Array.from({ length: 50 }, (_, i) => `k${i}:v${i}`).join('\n') + '\n'
    const k = await exec('kcat', ['-P', '-b', bootstrap, '-t', topic, '-p', '1', '-K:', '-H', 'h1=one', '-z', 'snappy'], input)
    assert.equal(k.code, 0, k.stderr)
    const c = await fjord(['consume', topic, '--partition', '1', '--offset', '10', '--max-messages', '5', '-o', 'json', ...bs()])
    assert.equal(c.code, 0, c.stderr)
    const recs = c.stdout.trim().split('\n').map((l) => JSON.parse(l) as { topic: string; partition: number; offset: number; timestamp: number; key: string; value: string; headers: { key: string; value: string }[] })
    assert.deepEqual(recs.map((r) => [r.partition, r.offset, r.key, r.value]), [10, 11, 12, 13, 14].map((o) => [1, o, `k${o}`, `v${o}`]))
    assert.deepEqual(recs[0]!.headers, [{ key: 'h1', value: 'one' }])
    assert.equal(recs[0]!.topic, topic)
    assert.ok(recs[0]!.timestamp > 1_600_000_000_000)
    // all partitions, values only
    const all = await fjord(['consume', topic, '--from-beginning', '--timeout-ms', '1000', ...bs()])
    assert.equal(all.code, 0, all.stderr)
    assert.deepEqual(all.stdout.trim().split('\n'), Array.from({ length: 50 }, (_, i) => `v${i}`))
  })

  it('with --group: starts from the committed offsets and commits what it printed', async () => {
    const topic = 'grouped'
    await createTopic(topic, 1)
    const p = await fjord(['produce', topic, ...bs()], Array.from({ length: 30 }, (_, i) => `m${i}`).join('\n') + '\n')
    assert.equal(p.code, 0, p.stderr)
    const first = await fjord(['consume', topic, '--group', 'g1', '--from-beginning', '--max-messages', '12', ...bs()])
    assert.equal(first.code, 0, first.stderr)
    assert.deepEqual(first.stdout.trim().split('\n'), Array.from({ length: 12 }, (_, i) => `m${i}`))
    const described = await fjord(['group', 'describe', 'g1', '-o', 'json', ...bs()])
    assert.equal(described.code, 0, described.stderr)
    assert.match(described.stdout, /"currentOffset": 12,\s*"logEndOffset": 30/)
    const second = await fjord(['consume', topic, '--group', 'g1', '--timeout-ms', '1000', ...bs()])
    assert.equal(second.code, 0, second.stderr)
    assert.deepEqual(second.stdout.trim().split('\n'), Array.from({ length: 18 }, (_, i) => `m${i + 12}`))
  })

  it('null keys spread over partitions; --partition and --acks 1 / 0', async () => {
    const topic = 'unkeyed'
    await createTopic(topic, 4)
    const lines = Array.from({ length: 3000 }, (_, i) => `line ${i} ${'y'.repeat(40)}`)
    const p = await fjord(['produce', topic, '--acks', '1', '-o', 'json', ...bs()], lines.join('\n') + '\n')
    assert.equal(p.code, 0, p.stderr)
    const s = JSON.parse(p.stdout) as { partitions: { partition: number; records: number }[] }
    assert.ok(s.partitions.length > 1, 'sticky batches move on round robin')
    const z = await fjord(['produce', topic, '--partition', '2', '--acks', '0', ...bs()], 'zero-1\nzero-2\n')
    assert.equal(z.code, 0, z.stderr)
    const k = await exec('kcat', ['-C', '-b', bootstrap, '-t', topic, '-p', '2', '-e', '-q'])
    assert.deepEqual(k.stdout.trim().split('\n').slice(-2), ['zero-1', 'zero-2'])
    const total = await exec('kcat', ['-C', '-b', bootstrap, '-t', topic, '-e', '-q'])
    assert.equal(total.stdout.trim().split('\n').length, 3002)
  })

  it('an unknown topic or partition is exit 1 with a clear error; bad usage is exit 2', async () => {
    const p = await fjord(['produce', 'no-such-topic', ...bs()], 'x\n')
    assert.equal(p.code, 1)
    assert.match(p.stderr, /UNKNOWN_TOPIC_OR_PARTITION: topic 'no-such-topic' does not exist/)
    const c = await fjord(['consume', 'no-such-topic', '--timeout-ms', '100', ...bs()])
    assert.equal(c.code, 1)
    assert.match(c.stderr, /UNKNOWN_TOPIC_OR_PARTITION: topic 'no-such-topic' does not exist/)
    const part = await fjord(['produce', 'grouped', '--partition', '9', ...bs()], 'x\n')
    assert.equal(part.code, 1)
    assert.match(part.stderr, /partition 9 of topic 'grouped' does not exist/)
    for (const args of [
      ['produce'],
      ['produce', 't', '--acks', '2'],
      ['produce', 't', '--compression', 'brotli'],
      ['produce', 't', '--partition', '-1'],
      ['produce', 't', '--bogus'],
      ['consume'],
      ['consume', 't', '--offset', 'soon'],
      ['consume', 't', '--from-beginning', '--offset', '3'],
      ['consume', 't', '--max-messages', '0'],
      ['consume', 't', 'extra'],
    ]) {
      const r = await fjord([...args, ...bs()])
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
      assert.match(r.stderr, /for usage/)
    }
  })
})
