import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MetadataStore } from './metadata-store.js'

test('cluster.id names a new cluster and must match an existing one', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fjord-meta-'))
  try {
    assert.equal(new MetadataStore(dir, 'my-cluster').clusterId, 'my-cluster')
    assert.equal(new MetadataStore(dir).clusterId, 'my-cluster')
    assert.throws(() => new MetadataStore(dir, 'another'), /does not match/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('producer ids are never handed out twice across restarts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fjord-meta-'))
  try {
    const first = new MetadataStore(dir)
    const a = [first.allocateProducerId(), first.allocateProducerId()]
    const b = new MetadataStore(dir).allocateProducerId()
    assert.equal(a[1], a[0]! + 1)
    assert.ok(b > a[1]!)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('topics and configs survive reopening', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fjord-meta-'))
  try {
    const m = new MetadataStore(dir)
    const [t] = m.createTopics([{ name: 'orders', partitions: 3, replicationFactor: 1, configs: { 'retention.ms': '1000' }, internal: false }])
    m.setPartitionCount('orders', 5)
    const again = new MetadataStore(dir)
    assert.deepEqual(again.topic('orders'), { ...t, partitions: 5 })
    assert.equal(again.topicById(t!.id)?.name, 'orders')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
