// A local cluster in ZooKeeper mode: three controller candidates on one ZooKeeper root and three
// brokers naming all of them; a crashed candidate is restarted by the supervisor.

import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { KafkaClient } from '../cli/kafka-client.js'
import { zookeeperForTest } from '../../test/helpers/zookeeper.js'
import { LocalCluster } from './local-cluster.js'

const cleanups: (() => Promise<void>)[] = []
after(async () => {
  for (const f of cleanups.reverse()) await f().catch(() => {})
})

describe('local cluster with ZooKeeper', () => {
  it('starts three controller candidates, then the brokers; restarts a crashed candidate', async () => {
    const zk = await zookeeperForTest()
    cleanups.push(() => zk.stop())
    const dataDir = mkdtempSync(path.join(tmpdir(), 'fjord-cluster-zk-'))
    cleanups.push(async () => {
      if (process.env.KEEP_TEST_DATA !== '1') rmSync(dataDir, { recursive: true, force: true })
    })
    const c = await LocalCluster.create(
      { name: 'zk', dataDir, brokers: 3, zones: 3, metadata: { mode: 'zookeeper', connect: `${zk.connectString}${zk.root}`, controllers: 3 } },
      { healthCheck: false, backoff: { initialMs: 100 }, stopTimeoutMs: 10_000, readyTimeoutMs: 30_000 },
    )
    cleanups.push(() => c.stop({ force: true }))
    await c.start()
    assert.deepEqual(c.status().map((p) => `${p.role} ${p.id} ${p.state}`), [
      'controller 1001 running',
      'controller 1002 running',
      'controller 1003 running',
      'broker 1 running',
      'broker 2 running',
      'broker 3 running',
    ])
    for (const id of c.controllerIds) {
      assert.match(readFileSync(c.process({ role: 'controller', id }).logFile, 'utf8'), new RegExp(`Fjord controller ${id} ready: .*zookeeper`))
    }
    assert.match(readFileSync(c.process(1).logFile, 'utf8'), new RegExp(`controller\\.endpoints=${c.controllerEndpoints}`))

    await c.kill({ role: 'controller', id: 1001 })
    const deadline = Date.now() + 15_000
    while (c.process({ role: 'controller', id: 1001 }).state !== 'running') {
      if (Date.now() > deadline) throw new Error(`controller 1001 not restarted:\n${c.logTail({ role: 'controller', id: 1001 })}`)
      await new Promise((r) => setTimeout(r, 50))
    }
    const client = await KafkaClient.connect(c.bootstrap, { requestTimeoutMs: 5_000 })
    try {
      const md = await client.metadata([])
      assert.deepEqual(md.brokers.map((b) => [b.nodeId, b.rack]).sort(), [[1, 'az-1'], [2, 'az-2'], [3, 'az-3']])
    } finally {
      await client.close()
    }
    await c.stop()
    assert.ok(c.status().every((p) => p.pid === null))
  })
})
