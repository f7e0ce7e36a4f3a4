// OffsetForLeaderEpoch: where a leader epoch ends in the leader's log, for consumers (KIP-320,
// replicaId -1) and followers checking whether their log diverged after a leader change. As in
// Kafka (Partition.lastOffsetForLeaderEpoch, always fetchOnlyFromLeader), only the leader answers:
// - the partition unknown to the cluster: UNKNOWN_TOPIC_OR_PARTITION; known but with no replica
//   here: NOT_LEADER_OR_FOLLOWER;
// - currentLeaderEpoch (v2+; only -1 skips the check, as Kafka reads any other value as an epoch)
//   is checked first against the epoch of our replica: older FENCED_LEADER_EPOCH, newer
//   UNKNOWN_LEADER_EPOCH;
// - then a follower (or an offline partition) answers NOT_LEADER_OR_FOLLOWER;
// - the leader answers its epoch cache's endOffsetFor (Kafka's LeaderEpochFileCache semantics,
//   PartitionLog.endOffsetForEpoch): the requested epoch when it is the latest, with the log end
//   offset; the largest epoch at or below the requested one, with the start offset of the next
//   epoch; the requested epoch with the first epoch's start offset when it is older than every
//   epoch; and epoch -1 / offset -1 (no error) when it is undefined or newer than every epoch.
// v0 has no leaderEpoch in the answer (the encoder drops it).

import { Apis } from '../../protocol/apis.js'
import { ErrorCode, KafkaError } from '../../protocol/errors.js'
import { defineHandler } from '../registry.js'

const NO_EPOCH = -1

export const offsetForLeaderEpochHandler = defineHandler(Apis.OffsetForLeaderEpoch, (ctx, req) => {
  const { broker, version } = ctx
  const image = broker.link.image
  const topics = req.topics.map((t) => ({
    topic: t.topic,
    partitions: t.partitions.map((p) => {
      const out = { partition: p.partition, errorCode: 0, leaderEpoch: NO_EPOCH, endOffset: -1 }
      try {
        const replica = broker.replicas.get(t.topic, p.partition)
        if (!replica) {
          if (!image.partitionState(t.topic, p.partition)) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
          throw new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `broker ${broker.brokerId} has no replica of ${t.topic}-${p.partition}`)
        }
        const current = version >= 2 ? p.currentLeaderEpoch : NO_EPOCH
        const epoch = replica.state.leaderEpoch
        if (current !== NO_EPOCH && current < epoch) throw new KafkaError(ErrorCode.FENCED_LEADER_EPOCH, `leader epoch ${current} is older than the current ${epoch}`)
        if (current > epoch) throw new KafkaError(ErrorCode.UNKNOWN_LEADER_EPOCH, `leader epoch ${current} is newer than the current ${epoch}`)
        if (!replica.isLeader) throw new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `broker ${broker.brokerId} does not lead ${t.topic}-${p.partition}`)
        const found = replica.log.endOffsetForEpoch(p.leaderEpoch)
        if (found.endOffset >= 0) {
          out.leaderEpoch = found.epoch
          out.endOffset = found.endOffset
        }
      } catch (err) {
        if (!(err instanceof KafkaError)) throw err
        out.errorCode = err.code
      }
      return out
    }),
  }))
  return { throttleTimeMs: 0, topics }
})
