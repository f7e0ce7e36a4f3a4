// The assignment a consumer group's leader hands each member (protocol type "consumer"): Kafka's
// ConsumerProtocolAssignment, an int16 version followed by the same fields in every version
// (0-3, never flexible). DescribeGroups returns it as opaque bytes; `fjord group describe` reads
// the partitions out of it.

import { Reader } from '../protocol/primitives.js'
import { arrayField, field, structCodec, t } from '../protocol/schema.js'

const assignmentFields = {
  assignedPartitions: arrayField({
    topic: field(t.string),
    partitions: field(t.array(t.int32)),
  }),
  userData: field(t.bytes, { nullable: '0+' }),
}

export interface TopicPartitions { topic: string; partitions: number[] }

/** The partitions of a member's assignment; [] for an empty assignment (during a rebalance). */
export function decodeConsumerAssignment(bytes: Buffer): TopicPartitions[] {
  if (bytes.length === 0) return []
  const r = new Reader(bytes)
  r.int16() // version: v1-3 add nothing to the assignment's layout
  const decoded = structCodec(assignmentFields, 0, false).decode(r) as { assignedPartitions: TopicPartitions[] }
  return decoded.assignedPartitions
    .map((a) => ({ topic: a.topic, partitions: [...a.partitions].sort((x, y) => x - y) }))
    .sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0))
}
