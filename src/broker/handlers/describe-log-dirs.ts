// DescribeLogDirs: the broker's one log directory (its data dir, as an absolute path) and the
// size of every partition replica in it, led or followed; topics=null means every partition, a
// list only those named (topics with none of their partitions here are left out). isFutureKey is
// false: Fjord never moves replicas between directories. offsetLag is how far this replica's log
// end is behind the high watermark it knows, never negative — Kafka's
// max(highWatermark - logEndOffset, 0), which is 0 for a leader (its high watermark never passes
// its log end) and for a follower too, whose high watermark is the leader's capped at its own log
// end: a follower does not keep the leader's uncapped high watermark, so its lag behind the
// leader is not reported here. v4+ adds the volume's total and usable bytes: the file system's
// (fs.statfs; -1 when it cannot say), or with volume.size.bytes set, the quota and what is left
// of it (quota - bytes held, never negative), each capped by the file system's when smaller.

import { statfs } from 'node:fs/promises'
import { resolve } from 'node:path'
import { Apis } from '../../protocol/apis.js'
import type { Volume } from '../../storage/index.js'
import { defineHandler } from '../registry.js'

interface Space { totalBytes: number; usableBytes: number }

async function fileSystemSpace(dir: string): Promise<Space> {
  try {
    const s = await statfs(dir)
    return { totalBytes: s.blocks * s.bsize, usableBytes: s.bavail * s.bsize }
  } catch {
    return { totalBytes: -1, usableBytes: -1 }
  }
}

/** The file system's numbers, or the quota's when one is set (capped by the file system's). */
export function volumeSpace(volume: Volume, fsSpace: Space): Space {
  const quota = volume.limitBytes
  if (quota < 0) return fsSpace
  const left = Math.max(0, quota - volume.usedBytes)
  const cap = (ours: number, theirs: number) => (theirs >= 0 ? Math.min(ours, theirs) : ours)
  return { totalBytes: cap(quota, fsSpace.totalBytes), usableBytes: cap(left, fsSpace.usableBytes) }
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
    const replica = broker.replicas.get(p.topic, p.partition)
    const offsetLag = replica ? Math.max(0, replica.hw - replica.log.logEndOffset) : 0
    list.push({ partitionIndex: p.partition, partitionSize: p.size, offsetLag, isFutureKey: false })
  }
  const topics = [...byTopic].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, partitions]) => ({
    name,
    partitions: partitions.sort((a, b) => a.partitionIndex - b.partitionIndex),
  }))
  const logDir = resolve(dir.path)
  const space = version >= 4 ? volumeSpace(broker.logs.volume, await fileSystemSpace(logDir)) : { totalBytes: -1, usableBytes: -1 }
  return {
    throttleTimeMs: 0,
    errorCode: 0,
    results: [{ errorCode: 0, logDir, topics, ...space }],
  }
})
