// DeleteTopics: deletes topics named in `topicNames` (v0-5) or in `topics` by name or by id (v6+),
// as Kafka's ControllerApis.deleteTopics does: an entry with neither name nor id, or with both, is
// INVALID_REQUEST; a name or id given twice is INVALID_REQUEST ("Duplicate topic name/id.");
// an unknown name is UNKNOWN_TOPIC_OR_PARTITION, an unknown id UNKNOWN_TOPIC_ID. Each answer
// carries both the name and (v6+) the id when known. With delete.topic.enable=false every topic
// answers TOPIC_DELETION_DISABLED (INVALID_REQUEST before v3, as Kafka does).
// Deviation: Kafka shuffles the answers (so positions leak nothing about authorization); Fjord
// keeps request order, with duplicates and malformed entries answered first.

import { Apis } from '../../protocol/apis.js'
import { ErrorCode, KafkaError, type KafkaErrorInfo } from '../../protocol/errors.js'
import { UUID_ZERO } from '../../protocol/schema.js'
import { boolSetting } from '../config.js'
import { defineHandler } from '../registry.js'

interface Answer {
  name: string | null
  topicId: string
  errorCode: number
  errorMessage: string | null
}

export const deleteTopicsHandler = defineHandler(Apis.DeleteTopics, async (ctx, req) => {
  const { broker, version } = ctx
  const responses: Answer[] = []
  const fail = (name: string | null, topicId: string, error: KafkaErrorInfo, message: string | null = null) =>
    responses.push({ name: version >= 6 ? name : (name ?? ''), topicId, errorCode: error.code, errorMessage: message })

  const requested: { name: string | null; topicId: string }[] =
    version >= 6 ? req.topics : req.topicNames.map((name) => ({ name, topicId: UUID_ZERO }))

  if (!boolSetting(broker.settings, 'delete.topic.enable')) {
    const error = version < 3 ? ErrorCode.INVALID_REQUEST : ErrorCode.TOPIC_DELETION_DISABLED
    for (const t of requested) fail(t.name, t.topicId, error, 'Topic deletion is disabled.')
    return { throttleTimeMs: 0, responses }
  }

  const nameCount = new Map<string, number>()
  const idCount = new Map<string, number>()
  for (const t of requested) {
    if (t.name !== null && t.topicId === UUID_ZERO) nameCount.set(t.name, (nameCount.get(t.name) ?? 0) + 1)
    else if (t.name === null && t.topicId !== UUID_ZERO) idCount.set(t.topicId, (idCount.get(t.topicId) ?? 0) + 1)
  }
  for (const [name, n] of nameCount) if (n > 1) fail(name, UUID_ZERO, ErrorCode.INVALID_REQUEST, 'Duplicate topic name.')
  for (const [id, n] of idCount) if (n > 1) fail(null, id, ErrorCode.INVALID_REQUEST, 'Duplicate topic id.')

  // Resolve to names, then delete each named topic once.
  const toDelete: { name: string; topicId: string }[] = []
  const chosen = new Set<string>()
  for (const t of requested) {
    if (t.name === null && t.topicId === UUID_ZERO) {
      fail(null, UUID_ZERO, ErrorCode.INVALID_REQUEST, 'Neither topic name nor id were specified.')
    } else if (t.name !== null && t.topicId !== UUID_ZERO) {
      fail(t.name, t.topicId, ErrorCode.INVALID_REQUEST, 'You may not specify both topic name and topic id.')
    } else if (t.name !== null) {
      if (nameCount.get(t.name)! > 1) continue
      const topic = broker.metadata.topic(t.name)
      if (!topic) fail(t.name, UUID_ZERO, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.message)
      else if (chosen.has(topic.name)) fail(t.name, topic.id, ErrorCode.INVALID_REQUEST, 'The provided topic name maps to an ID that was already supplied.')
      else { chosen.add(topic.name); toDelete.push({ name: topic.name, topicId: topic.id }) }
    } else {
      if (idCount.get(t.topicId)! > 1) continue
      const topic = broker.metadata.topicById(t.topicId)
      if (!topic) fail(null, t.topicId, ErrorCode.UNKNOWN_TOPIC_ID, ErrorCode.UNKNOWN_TOPIC_ID.message)
      else if (chosen.has(topic.name)) fail(topic.name, t.topicId, ErrorCode.INVALID_REQUEST, 'The provided topic name maps to an ID that was already supplied.')
      else { chosen.add(topic.name); toDelete.push({ name: topic.name, topicId: topic.id }) }
    }
  }

  for (const t of toDelete) {
    try {
      await broker.deleteTopic(t.name)
      responses.push({ name: t.name, topicId: t.topicId, errorCode: 0, errorMessage: null })
    } catch (err) {
      if (!(err instanceof KafkaError)) throw err
      fail(t.name, t.topicId, err.error, err.message)
    }
  }
  return { throttleTimeMs: 0, responses }
})
