// ListPartitionReassignments (KIP-455): the reassignments in progress, from the controller
// (Controller.listReassignments): each partition's full replica set (target and replicas being
// removed) with the replicas being added and removed. topics null lists every reassigning
// partition; otherwise only the named partitions that are reassigning (as in Kafka, partitions
// that do not exist or are not moving are left out, without an error). When no controller
// answers, the response carries that error.

import { Apis } from '../../protocol/apis.js'
import { KafkaError } from '../../protocol/errors.js'
import { defineHandler } from '../registry.js'

interface Reassigning {
  topic: string
  partition: number
  replicas: number[]
  addingReplicas: number[]
  removingReplicas: number[]
}

export const listPartitionReassignmentsHandler = defineHandler(Apis.ListPartitionReassignments, async (ctx, req) => {
  const { broker } = ctx
  let moving: Reassigning[]
  try {
    moving = await broker.link.call<Reassigning[]>('listReassignments', {})
  } catch (err) {
    if (!(err instanceof KafkaError)) throw err
    return { throttleTimeMs: 0, errorCode: err.code, errorMessage: err.message, topics: [] }
  }
  let wanted: Map<string, Set<number>> | null = null
  if (req.topics !== null) {
    wanted = new Map()
    for (const t of req.topics) {
      let set = wanted.get(t.name)
      if (!set) wanted.set(t.name, (set = new Set()))
      for (const p of t.partitionIndexes) set.add(p)
    }
  }
  const byTopic = new Map<string, { partitionIndex: number; replicas: number[]; addingReplicas: number[]; removingReplicas: number[] }[]>()
  for (const r of moving) {
    if (wanted && !wanted.get(r.topic)?.has(r.partition)) continue
    let list = byTopic.get(r.topic)
    if (!list) byTopic.set(r.topic, (list = []))
    list.push({ partitionIndex: r.partition, replicas: r.replicas, addingReplicas: r.addingReplicas, removingReplicas: r.removingReplicas })
  }
  return {
    throttleTimeMs: 0,
    errorCode: 0,
    errorMessage: null,
    topics: [...byTopic].map(([name, partitions]) => ({ name, partitions: partitions.sort((a, b) => a.partitionIndex - b.partitionIndex) })),
  }
})
