// DescribeLogDirs: the broker's one log directory (its data dir, as an absolute path) and the
// size of every partition in it; topics=null means every partition, a list only those named
// (topics with none of their partitions here are left out). offsetLag is 0 and isFutureKey
// false: Fjord never moves replicas between directories. v4+ adds the file system's total and
// usable bytes (fs.statfs; -1 when the file system cannot say).

import { statfs } from 'node:fs/promises'
import { resolve } from 'node:path'
import { Apis } from '../../protocol/apis.js'
import { defineHandler } from '../registry.js'

async function diskSpace(dir: string): Promise<{ totalBytes: number; usableBytes: number }> {
  try {
    const s = await statfs(dir)
    return { totalBytes: s.blocks * s.bsize, usableBytes: s.bavail * s.bsize }
  } catch {
    return { totalBytes: -1, usableBytes: -1 }
  }
}

export const describeLogDirsHandler = defineHandler(Apis.DescribeLogDirs, async (ctx, req) => {
  const { broker, version } = ctx
  const dir = broker.logs.describe()
  let wanted: Map<string, Set<number>> | null = null
  if (req.topics !== null) {
    wanted = new Map()
    for (const t of req.topics) {
      let set = wanted.get(t.topic)
      if (!set) wanted.set(t.topic, (set = new Set()))
      for (const p of t.partitions) set.add(p)
    }
  }
  const byTopic = new Map<string, { partitionIndex: number; partitionSize: number; offsetLag: number; isFutureKey: boolean }[]>()
  for (const p of dir.partitions) {
    if (wanted && !wanted.get(p.topic)?.has(p.partition)) continue
    let list = byTopic.get(p.topic)
    if (!list) byTopic.set(p.topic, (list = []))
    list.push({ partitionIndex: p.partition, partitionSize: p.size, offsetLag: 0, isFutureKey: false })
  }
  const topics = [...byTopic].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, partitions]) => ({
    name,
    partitions: partitions.sort((a, b) => a.partitionIndex - b.partitionIndex),
  }))
  const logDir = resolve(dir.path)
  const space = version >= 4 ? await diskSpace(logDir) : { totalBytes: -1, usableBytes: -1 }
  return {
    throttleTimeMs: 0,
    errorCode: 0,
    results: [{ errorCode: 0, logDir, topics, ...space }],
  }
})
