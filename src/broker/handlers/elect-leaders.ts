// ElectLeaders (v0 was ElectPreferredLeaders): forwarded to the controller, which elects as
// Kafka's ReplicationControlManager.electLeader does (Controller.electLeaders):
// - preferred (type 0; v0 has no electionType): the first replica, when it is alive and in the
//   ISR (PREFERRED_LEADER_NOT_AVAILABLE otherwise; ELECTION_NOT_NEEDED when it leads already);
// - unclean (type 1): for a partition without a leader, any live replica, even out of sync
//   (ELECTION_NOT_NEEDED when it has a leader, ELIGIBLE_LEADERS_NOT_AVAILABLE when none is live);
// - unknown partitions: UNKNOWN_TOPIC_OR_PARTITION.
// topicPartitions null means every partition of the cluster (as this broker's metadata knows
// them); then, as in Kafka, partitions that need no election (or no longer exist) are left out of
// the answer. A partition named twice is answered once. Any other election type is
// INVALID_REQUEST. The controller answers once the new leaders are committed and this broker's
// metadata shows them, so timeoutMs is not needed. When no controller answers, every partition
// (and, v1+, the response) carries that error.

import { Apis } from '../../protocol/apis.js'
import { ErrorCode, KafkaError } from '../../protocol/errors.js'
import type { Outcome } from '../../controller/controller.js'
import { defineHandler } from '../registry.js'

const PREFERRED = 0
const UNCLEAN = 1

type Elected = Outcome<{ topic: string; partition: number; leader: number }>

export const electLeadersHandler = defineHandler(Apis.ElectLeaders, async (ctx, req) => {
  const { broker, version } = ctx
  const type = version >= 1 ? req.electionType : PREFERRED
  const all = req.topicPartitions === null
  const wanted: { topic: string; partition: number }[] = []
  if (all) {
    // every partition this broker's image knows of; the controller checks each against its own
    for (const t of broker.link.image.allTopics()) for (let partition = 0; partition < t.partitions; partition++) wanted.push({ topic: t.name, partition })
  } else {
    const seen = new Set<string>()
    for (const t of req.topicPartitions!) {
      for (const partition of t.partitions) {
        const k = `${t.topic}\0${partition}`
        if (seen.has(k)) continue
        seen.add(k)
        wanted.push({ topic: t.topic, partition })
      }
    }
  }

  let outcomes: { topic: string; partition: number; errorCode: number; errorMessage: string | null }[]
  let errorCode = 0
  try {
    if (type !== PREFERRED && type !== UNCLEAN) throw new KafkaError(ErrorCode.INVALID_REQUEST, `Unknown election type ${type}`)
    const answer = wanted.length === 0 ? [] : await broker.link.call<Elected[]>('electLeaders', { type, partitions: wanted })
    if (answer.length !== wanted.length) throw new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, `the controller answered ${answer.length} outcomes for ${wanted.length} partitions`)
    outcomes = answer.map((o, i) => ('ok' in o
      ? { ...wanted[i]!, errorCode: 0, errorMessage: null }
      : { ...wanted[i]!, errorCode: o.error.code, errorMessage: o.error.message }))
    // Electing everything reports only the partitions that needed an election (and still exist).
    if (all) outcomes = outcomes.filter((o) => o.errorCode !== ErrorCode.ELECTION_NOT_NEEDED.code && o.errorCode !== ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code)
  } catch (err) {
    if (!(err instanceof KafkaError)) throw err
    errorCode = err.code
    outcomes = wanted.map((tp) => ({ ...tp, errorCode: err.code, errorMessage: err.message }))
  }

  const byTopic = new Map<string, { partitionId: number; errorCode: number; errorMessage: string | null }[]>()
  for (const o of outcomes) {
    let list = byTopic.get(o.topic)
    if (!list) byTopic.set(o.topic, (list = []))
    list.push({ partitionId: o.partition, errorCode: o.errorCode, errorMessage: o.errorMessage })
  }
  return {
    throttleTimeMs: 0,
    errorCode,
    replicaElectionResults: [...byTopic].map(([topic, partitionResult]) => ({ topic, partitionResult })),
  }
})
