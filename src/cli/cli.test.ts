// The fjord command's topic and group commands against a broker process, with real clients
// around them: kcat produces, a confluent-kafka-python (librdkafka) group member consumes and
// commits leaving lag, and after reset-offsets the same client resumes where the reset put it.
// The CLI runs as a subprocess: its tables, JSON and exit codes are what scripts see.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url))
const PYTHON = '/usr/bin/python3'

interface RunningBroker { bootstrap: string; proc: ChildProcess; output: string[] }

async function startBroker(dataDir: string): Promise<RunningBroker> {
  const proc = spawn(process.execPath, [MAIN, 'broker', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--set', 'group.initial.rebalance.delay.ms=0', '--log-level', 'warn'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const output: string[] = []
  proc.stderr!.on('data', (d: Buffer) => output.push(d.toString()))
  const bootstrap = await new Promise<string>((resolve, reject) => {
    let buf = ''
    const timer = setTimeout(() => reject(new Error(`broker not ready: ${buf}${output.join('')}`)), 15_000)
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString()
      const m = /ready.*?(127\.0\.0\.1:\d+)/.exec(buf)
      if (m) {
        clearTimeout(timer)
        resolve(m[1]!)
      }
    })
    proc.once('exit', (code) => reject(new Error(`broker exited with ${code}: ${output.join('')}`)))
  })
  return { bootstrap, proc, output }
}

async function stopBroker(b: RunningBroker): Promise<void> {
  if (b.proc.exitCode !== null) return
  const exited = new Promise<void>((resolve) => b.proc.once('exit', () => resolve()))
  b.proc.kill('SIGTERM')
  await Promise.race([exited, sleep(10_000).then(() => b.proc.kill('SIGKILL'))])
  await exited
}

interface Result { code: number; stdout: string; stderr: string }

/** Runs a command to its end; a non-zero exit is a result, not an exception. */
function exec(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: opts.timeoutMs ?? 45_000, maxBuffer: 16 * 1024 * 1024, env: opts.env ?? process.env }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0
      if (code === null) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err!.message}\n${stderr}`))
      else resolve({ code, stdout, stderr })
    })
    if (opts.input !== undefined) child.stdin!.end(opts.input)
  })
}

/** Produces `count` records to one partition with kcat. */
async function kcatProduce(bootstrap: string, topic: string, partition: number, count: number, prefix: string): Promise<void> {
  const input = Array.from({ length: count }, (_, i) => `${prefix}-${i}`).join('\n') + '\n'
  const r = await exec('kcat', ['-P', '-b', bootstrap, '-t', topic, '-p', String(partition)], { input })
  assert.equal(r.code, 0, r.stderr)
}

/** Rows of a table as arrays of cells (columns never contain spaces in these tests). */
function rows(table: string, firstHeader: string): string[][] {
  const lines = table.split('\n')
  const start = lines.findIndex((l) => l.startsWith(firstHeader + ' '))
  assert.ok(start >= 0, `no table starting with ${firstHeader} in:\n${table}`)
  const out: string[][] = []
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === '') break
    out.push(line.trim().split(/\s+/))
  }
  return out
}

// A group member that subscribes, consumes everything there is, commits the offsets it is told
// to, prints "ready" with its member id, and leaves the group when its stdin closes.
const MEMBER = `
import json, sys, time
from confluent_kafka import Consumer, TopicPartition
b, topic, group, commits, total = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4]), int(sys.argv[5])
c = Consumer({'bootstrap.servers': b, 'group.id': group, 'client.id': 'cli-test-member', 'auto.offset.reset': 'earliest',
              'enable.auto.commit': False, 'session.timeout.ms': 6000})
c.subscribe([topic])
n, t0 = 0, time.time()
while n < total and time.time() - t0 < 30:
    m = c.poll(0.1)
    if m is None: continue
    if m.error(): raise Exception(str(m.error()))
    n += 1
if n < total: raise Exception('consumed %d of %d' % (n, total))
c.commit(offsets=[TopicPartition(topic, int(p), o) for p, o in commits.items()], asynchronous=False)
print(json.dumps({'ready': True, 'assigned': sorted(tp.partition for tp in c.assignment())}), flush=True)
sys.stdin.readline()
c.close()
`

// A member that resumes from the committed offsets (auto.offset.reset=latest would skip
// anything without one) and reports the offsets it reads per partition, committing nothing.
const RESUME = `
import json, sys, time
from confluent_kafka import Consumer
b, topic, group, total = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
c = Consumer({'bootstrap.servers': b, 'group.id': group, 'auto.offset.reset': 'latest', 'enable.auto.commit': False, 'session.timeout.ms': 6000})
c.subscribe([topic])
seen, t0 = {}, time.time()
while sum(len(v) for v in seen.values()) < total and time.time() - t0 < 30:
    m = c.poll(0.1)
    if m is None: continue
    if m.error(): raise Exception(str(m.error()))
    seen.setdefault(str(m.partition()), []).append(m.offset())
t1 = time.time()
while time.time() - t1 < 1:
    m = c.poll(0.1)
    if m is not None and not m.error(): seen.setdefault(str(m.partition()), []).append(m.offset())
c.close()
print(json.dumps(seen))
`

interface Member { proc: ChildProcess; assigned: number[]; leave(): Promise<void> }

async function startMember(bootstrap: string, topic: string, group: string, commits: Record<number, number>, total: number): Promise<Member> {
  const proc = spawn(PYTHON, ['-c', MEMBER, bootstrap, topic, group, JSON.stringify(commits), String(total)], { stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString() })
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)))
  const ready = await new Promise<{ assigned: number[] }>((resolve, reject) => {
    let buf = ''
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`member not ready: ${buf}${stderr}`)) }, 40_000)
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString()
      const line = buf.split('\n').find((l) => l.startsWith('{'))
      if (line) { clearTimeout(timer); resolve(JSON.parse(line) as { assigned: number[] }) }
    })
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`member exited with ${code}: ${buf}${stderr}`)) })
  })
  return {
    proc,
    ...ready,
    async leave() {
      proc.stdin!.end('\n')
      const code = await Promise.race([exited, sleep(20_000).then(() => { proc.kill('SIGKILL'); return -1 })])
      assert.equal(code, 0, `member exit: ${stderr}`)
    },
  }
}

describe('fjord topic and group commands', { timeout: 240_000 }, () => {
  let dir: string
  let broker: RunningBroker
  let env: NodeJS.ProcessEnv

  const fjord = (...args: string[]) => exec(process.execPath, [MAIN, ...args], { env })
  const json = async <T>(...args: string[]): Promise<T> => {
    const r = await fjord(...args, '--output', 'json')
    assert.equal(r.code, 0, `fjord ${args.join(' ')}: ${r.stderr}`)
    return JSON.parse(r.stdout) as T
  }

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'fjord-cli-'))
    broker = await startBroker(dir)
    env = { ...process.env, FJORD_BOOTSTRAP: broker.bootstrap }
  })

  after(async () => {
    if (broker) await stopBroker(broker)
    rmSync(dir, { recursive: true, force: true })
  })

  it('help lists every command; usage errors exit 2', async () => {
    const top = await fjord('--help')
    assert.equal(top.code, 0)
    for (const s of ['broker', 'topic list', 'topic describe', 'topic create', 'topic delete', 'group list', 'group describe', 'group reset-offsets', 'group delete', '--bootstrap-server', '--output']) {
      assert.ok(top.stdout.includes(s), `fjord --help mentions ${s}`)
    }
    const topic = await fjord('topic', '--help')
    assert.equal(topic.code, 0)
    assert.match(topic.stdout, /--partitions N/)
    assert.match(topic.stdout, /--config KEY=VALUE/)
    const group = await fjord('group', 'reset-offsets', '--help')
    assert.equal(group.code, 0)
    for (const s of ['--to-earliest', '--to-latest', '--to-datetime', '--to-offset', '--execute', '--dry-run', '--all-topics']) assert.ok(group.stdout.includes(s), s)
    assert.match((await fjord('broker', '--help')).stdout, /Usage: fjord broker/)

    for (const args of [
      ['nonsense'],
      [],
      ['topic', 'frobnicate'],
      ['topic', 'create'],
      ['topic', 'create', 'x', '--partitions', 'many'],
      ['topic', 'create', 'x', '--config', 'novalue'],
      ['topic', 'list', '--output', 'xml'],
      ['topic', 'list', '--no-such-flag'],
      ['group', 'reset-offsets', 'g', '--topic', 't'],
      ['group', 'reset-offsets', 'g', '--to-earliest'],
      ['group', 'reset-offsets', 'g', '--topic', 't', '--to-earliest', '--to-latest'],
      ['group', 'reset-offsets', 'g', '--topic', 't', '--to-datetime', 'yesterday'],
      ['group', 'reset-offsets', 'g', '--topic', 't:x', '--to-earliest'],
      ['group', 'describe'],
    ]) {
      const r = await fjord(...args)
      assert.equal(r.code, 2, `fjord ${args.join(' ')} exits 2 (stderr: ${r.stderr})`)
      assert.ok(r.stderr.length > 0, `fjord ${args.join(' ')} says why`)
    }
  })

  it('an unreachable cluster fails with exit 1 and says where it tried', async () => {
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as { port: number }).port
    await new Promise<void>((resolve) => server.close(() => resolve()))
    const r = await fjord('topic', 'list', '--bootstrap-server', `127.0.0.1:${port}`)
    assert.equal(r.code, 1)
    assert.match(r.stderr, new RegExp(`cannot connect to 127\\.0\\.0\\.1:${port}: ECONNREFUSED`))
  })

  it('topic create, list, describe (log offsets, config overrides) and delete', async () => {
    const created = await fjord('topic', 'create', 'cli-orders', '--partitions', '3', '--config', 'retention.ms=123456', '--config', 'max.message.bytes=200000')
    assert.equal(created.code, 0, created.stderr)
    assert.equal(created.stdout, 'Created topic cli-orders (3 partitions, replication factor 1).\n')
    const again = await fjord('topic', 'create', 'cli-orders')
    assert.equal(again.code, 1)
    assert.match(again.stderr, /^fjord: TOPIC_ALREADY_EXISTS: /)
    const bad = await fjord('topic', 'create', 'cli-bad', '--config', 'retention.ms=soon')
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /^fjord: INVALID_CONFIG: /)
    assert.deepEqual(await json('topic', 'create', 'cli-default'), { name: 'cli-default', topicId: (await json<{ topicId: string }>('topic', 'describe', 'cli-default')).topicId, partitions: 1, replicationFactor: 1 })

    await kcatProduce(broker.bootstrap, 'cli-orders', 0, 10, 'a')
    await kcatProduce(broker.bootstrap, 'cli-orders', 1, 7, 'b')
    await kcatProduce(broker.bootstrap, 'cli-orders', 2, 4, 'c')

    const list = await fjord('topic', 'list')
    assert.equal(list.code, 0)
    const listed = rows(list.stdout, 'TOPIC')
    assert.deepEqual(listed.find((r) => r[0] === 'cli-orders'), ['cli-orders', '3', '1', 'no'])
    assert.deepEqual(listed.find((r) => r[0] === 'cli-default'), ['cli-default', '1', '1', 'no'])
    const { topics } = await json<{ topics: { name: string; topicId: string; partitions: number; internal: boolean }[] }>('topic', 'list')
    assert.deepEqual(topics.find((t) => t.name === 'cli-orders'), { name: 'cli-orders', topicId: topics.find((t) => t.name === 'cli-orders')!.topicId, internal: false, partitions: 3, replicationFactor: 1 })

    const d = await fjord('topic', 'describe', 'cli-orders')
    assert.equal(d.code, 0, d.stderr)
    assert.match(d.stdout, /^Topic: cli-orders {2}TopicId: [0-9a-f]{32} {2}Partitions: 3 {2}ReplicationFactor: 1\n/)
    assert.match(d.stdout, /\nConfigs: max.message.bytes=200000,retention.ms=123456\n/)
    assert.deepEqual(rows(d.stdout, 'PARTITION'), [['0', '0', '0', '0', '0', '10'], ['1', '0', '0', '0', '0', '7'], ['2', '0', '0', '0', '0', '4']])
    const dj = await json<{ partitionDetails: { partition: number; logStartOffset: number; logEndOffset: number }[]; configs: { name: string; value: string; source: string }[] }>('topic', 'describe', 'cli-orders')
    assert.deepEqual(dj.partitionDetails.map((p) => [p.partition, p.logStartOffset, p.logEndOffset]), [[0, 0, 10], [1, 0, 7], [2, 0, 4]])
    assert.deepEqual(dj.configs.find((c) => c.name === 'retention.ms'), { name: 'retention.ms', value: '123456', source: 'DYNAMIC_TOPIC_CONFIG', readOnly: false, sensitive: false })
    assert.equal(dj.configs.find((c) => c.name === 'segment.bytes')?.source, 'DEFAULT_CONFIG')

    const del = await fjord('topic', 'delete', 'cli-default')
    assert.equal(del.code, 0, del.stderr)
    assert.equal(del.stdout, 'Deleted topic cli-default.\n')
    const gone = await fjord('topic', 'describe', 'cli-default')
    assert.equal(gone.code, 1)
    assert.equal(gone.stderr, "fjord: UNKNOWN_TOPIC_OR_PARTITION: Topic 'cli-default' does not exist.\n")
    const delAgain = await fjord('topic', 'delete', 'cli-default')
    assert.equal(delAgain.code, 1)
    assert.match(delAgain.stderr, /^fjord: UNKNOWN_TOPIC_OR_PARTITION: /)
  })

  it('group describe shows lag; reset-offsets plans, refuses while a member is active, executes; a real consumer resumes there', { timeout: 180_000 }, async () => {
    const topic = 'cli-lag'
    const group = 'cli-lag-g'
    assert.equal((await fjord('topic', 'create', topic, '--partitions', '3')).code, 0)
    await kcatProduce(broker.bootstrap, topic, 0, 6, 'early')
    await kcatProduce(broker.bootstrap, topic, 1, 7, 'early')
    await kcatProduce(broker.bootstrap, topic, 2, 4, 'early')
    await sleep(50)
    const between = new Date()
    await sleep(50)
    await kcatProduce(broker.bootstrap, topic, 0, 4, 'late') // partition 0: 6 before `between`, 4 after

    // A real member consumes all 21 records and commits 7 on partition 0, 2 on 1, none on 2.
    const member = await startMember(broker.bootstrap, topic, group, { 0: 7, 1: 2 }, 21)
    try {
      assert.deepEqual(member.assigned, [0, 1, 2])
      const list = await fjord('group', 'list')
      assert.equal(list.code, 0, list.stderr)
      assert.deepEqual(rows(list.stdout, 'GROUP').find((r) => r[0] === group), [group, 'Stable', 'consumer', 'classic'])

      const dj = await json<{ state: string; members: { memberId: string; clientId: string; host: string; assignment: unknown }[]; partitions: unknown[] }>('group', 'describe', group)
      assert.equal(dj.members.length, 1)
      const memberId = dj.members[0]!.memberId
      assert.match(memberId, /^cli-test-member-/)
      const d = await fjord('group', 'describe', group)
      assert.equal(d.code, 0, d.stderr)
      assert.match(d.stdout, new RegExp(`^Group ${group}: state Stable, protocol type consumer, assignor range, coordinator 0 \\(${broker.bootstrap.replace(/\./g, '\\.')}\\)\n`))
      assert.deepEqual(rows(d.stdout, 'MEMBER-ID'), [[memberId, 'cli-test-member', '/127.0.0.1', `${topic}:0,1,2`]])
      assert.deepEqual(rows(d.stdout, 'TOPIC'), [
        [topic, '0', '7', '10', '3', memberId, '/127.0.0.1', 'cli-test-member'],
        [topic, '1', '2', '7', '5', memberId, '/127.0.0.1', 'cli-test-member'],
        [topic, '2', '-', '4', '-', memberId, '/127.0.0.1', 'cli-test-member'],
      ])
      assert.equal(dj.state, 'Stable')
      assert.deepEqual(dj.members.map((m) => [m.clientId, m.host, m.assignment]), [['cli-test-member', '/127.0.0.1', [{ topic, partitions: [0, 1, 2] }]]])
      assert.deepEqual(dj.partitions, [
        { topic, partition: 0, currentOffset: 7, logEndOffset: 10, lag: 3, memberId: memberId, clientId: 'cli-test-member', host: '/127.0.0.1' },
        { topic, partition: 1, currentOffset: 2, logEndOffset: 7, lag: 5, memberId: memberId, clientId: 'cli-test-member', host: '/127.0.0.1' },
        { topic, partition: 2, currentOffset: null, logEndOffset: 4, lag: null, memberId: memberId, clientId: 'cli-test-member', host: '/127.0.0.1' },
      ])

      // While the member is there: refused, dry run or not, with the reason; nothing changes.
      for (const extra of [[], ['--execute']]) {
        const r = await fjord('group', 'reset-offsets', group, '--topic', topic, '--to-earliest', ...extra)
        assert.equal(r.code, 1, `refused ${extra.join(' ')}`)
        assert.equal(r.stdout, '')
        assert.match(r.stderr, /^fjord: NON_EMPTY_GROUP: offsets of group 'cli-lag-g' can only be reset while it is inactive \(Empty or Dead\), but it is Stable with 1 active member: cli-test-member/)
      }
      const del = await fjord('group', 'delete', group)
      assert.equal(del.code, 1)
      assert.match(del.stderr, /^fjord: NON_EMPTY_GROUP: /)
    } finally {
      await member.leave()
    }

    const lags = async () => (await json<{ partitions: { currentOffset: number | null; lag: number | null }[] }>('group', 'describe', group)).partitions.map((p) => [p.currentOffset, p.lag])
    const empty = await fjord('group', 'describe', group)
    assert.equal(empty.code, 0, empty.stderr)
    assert.match(empty.stdout, /state Empty/)
    assert.match(empty.stdout, /Consumer group 'cli-lag-g' has no active members\./)
    assert.deepEqual(rows(empty.stdout, 'TOPIC'), [[topic, '0', '7', '10', '3', '-', '-', '-'], [topic, '1', '2', '7', '5', '-', '-', '-']])

    // Dry run (the default): a plan, nothing committed.
    const dry = await fjord('group', 'reset-offsets', group, '--topic', topic, '--to-earliest')
    assert.equal(dry.code, 0, dry.stderr)
    assert.deepEqual(rows(dry.stdout, 'GROUP'), [[group, topic, '0', '7', '0'], [group, topic, '1', '2', '0'], [group, topic, '2', '-', '0']])
    assert.match(dry.stdout, /Dry run: nothing was committed/)
    assert.deepEqual(await json('group', 'reset-offsets', group, '--topic', topic, '--to-latest', '--dry-run'), {
      groupId: group, state: 'Empty', executed: false,
      partitions: [
        { topic, partition: 0, currentOffset: 7, newOffset: 10 },
        { topic, partition: 1, currentOffset: 2, newOffset: 7 },
        { topic, partition: 2, currentOffset: null, newOffset: 4 },
      ],
    })
    assert.deepEqual(await lags(), [[7, 3], [2, 5]])

    // --to-datetime: the first record at or after the time, the end where none is that recent.
    const byTime = await json<{ executed: boolean; partitions: { newOffset: number }[] }>('group', 'reset-offsets', group, '--topic', topic, '--to-datetime', between.toISOString(), '--execute')
    assert.equal(byTime.executed, true)
    assert.deepEqual(byTime.partitions.map((p) => p.newOffset), [6, 7, 4])
    assert.deepEqual(await lags(), [[6, 4], [7, 0], [4, 0]])

    // --to-offset on some partitions, moved into the log's range with a warning.
    const byOffset = await fjord('group', 'reset-offsets', group, '--topic', `${topic}:0,2`, '--to-offset', '5', '--execute')
    assert.equal(byOffset.code, 0, byOffset.stderr)
    assert.deepEqual(rows(byOffset.stdout, 'GROUP'), [[group, topic, '0', '6', '5'], [group, topic, '2', '4', '4']])
    assert.match(byOffset.stdout, /Committed the new offsets of group cli-lag-g\./)
    assert.match(byOffset.stderr, /warning: new offset 5 is past the end of cli-lag-2; using its log end offset 4/)
    assert.deepEqual(await lags(), [[5, 5], [7, 0], [4, 0]])

    // The real consumer resumes exactly there: 5-9 on partition 0, then the new record on 1 (offset 7).
    await kcatProduce(broker.bootstrap, topic, 1, 1, 'after-reset')
    const resumed = await exec(PYTHON, ['-c', RESUME, broker.bootstrap, topic, group, '6'])
    assert.equal(resumed.code, 0, resumed.stderr)
    assert.deepEqual(JSON.parse(resumed.stdout.trim().split('\n').pop()!), { 0: [5, 6, 7, 8, 9], 1: [7] })

    // Back to the start, then the group is deleted.
    assert.equal((await fjord('group', 'reset-offsets', group, '--all-topics', '--to-earliest', '--execute')).code, 0)
    assert.deepEqual(await lags(), [[0, 10], [0, 8], [0, 4]])
    const deleted = await fjord('group', 'delete', group)
    assert.equal(deleted.code, 0, deleted.stderr)
    assert.equal(deleted.stdout, `Deleted group ${group}.\n`)
    const { groups } = await json<{ groups: { groupId: string }[] }>('group', 'list')
    assert.ok(!groups.some((g) => g.groupId === group))
    const gone = await fjord('group', 'describe', group)
    assert.equal(gone.code, 1)
    assert.equal(gone.stderr, `fjord: GROUP_ID_NOT_FOUND: Consumer group '${group}' does not exist.\n`)
  })
})
