// Metadata: the live brokers, and each requested topic's partitions with their leaders, leader
// epochs, replicas, ISR and offline (fenced) replicas, from this broker's metadata image. topics=null
// (or, in v0, an empty list) means every topic; [] means none. Unknown topics are auto-created
// when the client allows it and `auto.create.topics.enable` is on.

import { Apis } from '../../protocol/apis.js'
import { ErrorCode } from '../../protocol/errors.js'
import { UUID_ZERO } from '../../protocol/schema.js'
import type { TopicRecord } from '../../controller/records.js'
import { validateTopicName } from '../../controller/topic-names.js'
import { KafkaError } from '../../protocol/errors.js'
import { defineHandler } from '../registry.js'

export const metadataHandler = defineHandler(Apis.Metadata, async (ctx, req) => {
  const { broker } = ctx
  const all = req.topics === null || (ctx.version === 0 && req.topics.length === 0)
  const topics: { errorCode: number; name: string; topicId?: string; isInternal?: boolean; partitions?: unknown[] }[] = []
  const image = broker.link.image
  const describe = (t: TopicRecord) => {
    const partitions = new Array(t.partitions)
    for (let p = 0; p < t.partitions; p++) {
      const s = t.states[p]!
      const offline = s.replicas.filter((r) => image.brokers.get(r)?.fenced !== false)
      partitions[p] = {
        errorCode: s.leader === -1 ? ErrorCode.LEADER_NOT_AVAILABLE.code : 0,
        partitionIndex: p, leaderId: s.leader, leaderEpoch: s.leaderEpoch, replicaNodes: s.replicas, isrNodes: s.isr, offlineReplicas: offline,
      }
    }
    return { errorCode: 0, name: t.name, topicId: t.id, isInternal: t.internal, partitions }
  }
  if (all) {
    for (const t of broker.metadata.allTopics()) topics.push(describe(t))
  } else {
    const wanted: string[] = []
    for (const entry of req.topics!) {
      let name = entry.name
      if (name === null || name === '') {
        const byId = entry.topicId !== UUID_ZERO ? broker.metadata.topicById(entry.topicId) : undefined
        if (!byId) {
          topics.push({ errorCode: ErrorCode.UNKNOWN_TOPIC_ID.code, name: '', topicId: entry.topicId })
          continue
        }
        name = byId.name
      }
      wanted.push(name)
    }
    const allowAuto = req.allowAutoTopicCreation && broker.autoCreateTopics
    if (allowAuto) {
      const creatable = wanted.filter((n) => { try { validateTopicName(n); return true } catch { return false } })
      await broker.autoCreate(creatable)
    }
    for (const name of wanted) {
      const t = broker.metadata.topic(name)
      if (t) topics.push(describe(t))
      else {
        let errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code
        try { validateTopicName(name) } catch (err) { if (err instanceof KafkaError) errorCode = err.code }
        topics.push({ errorCode, name, topicId: UUID_ZERO, isInternal: false, partitions: [] })
      }
    }
  }
  return {
    throttleTimeMs: 0,
    brokers: image.liveBrokers().map((b) => ({ nodeId: b.id, host: b.host, port: b.port, rack: b.rack })),
    clusterId: broker.metadata.clusterId,
    // Admin requests sent to the "controller" are forwarded by whichever broker gets them.
    controllerId: broker.brokerId,
    topics: topics as never,
  }
})
