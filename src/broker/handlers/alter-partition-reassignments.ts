// AlterPartitionReassignments (KIP-455): starts (replicas given) or cancels (null) moving a
// partition's replicas, forwarded to the controller (Controller.alterReassignments). A started
// reassignment makes the replica set target + current, with the difference recorded as adding
// and removing replicas; the new replicas copy from the leader and the reassignment completes
// (adding/removing cleared, leadership moved into the target if needed) once every target
// replica is in the ISR. Per-partition errors as Kafka's ReplicationControlManager answers them:
// UNKNOWN_TOPIC_OR_PARTITION, INVALID_REPLICA_ASSIGNMENT (empty or duplicate replicas, a broker
// that is not registered), NO_REASSIGNMENT_IN_PROGRESS (cancelling none). When no controller
// answers, the response and every partition carry that error.

import { Apis } from '../../protocol/apis.js'
import { KafkaError } from '../../protocol/errors.js'
import type { Outcome } from '../../controller/controller.js'
import { defineHandler } from '../registry.js'

export const alterPartitionReassignmentsHandler = defineHandler(Apis.AlterPartitionReassignments, async (ctx, req) => {
  const { broker } = ctx
  const changes = req.topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partitionIndex, replicas: p.replicas === null ? null : [...p.replicas] })))
  let results: { errorCode: number; errorMessage: string | null }[]
  let top = { errorCode: 0, errorMessage: null as string | null }
  try {
    const outcomes = changes.length === 0 ? [] : await broker.link.call<Outcome<null>[]>('alterReassignments', { changes })
    results = outcomes.map((o) => ('ok' in o ? { errorCode: 0, errorMessage: null } : { errorCode: o.error.code, errorMessage: o.error.message }))
  } catch (err) {
    if (!(err instanceof KafkaError)) throw err
    top = { errorCode: err.code, errorMessage: err.message }
    results = changes.map(() => ({ ...top }))
  }
  let i = 0
  return {
    throttleTimeMs: 0,
    ...top,
    responses: req.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, ...(results[i++] ?? { errorCode: 0, errorMessage: null }) })),
    })),
  }
})
