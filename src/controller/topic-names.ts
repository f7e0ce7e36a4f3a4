// Kafka's rules for topic names.

import { ErrorCode, KafkaError } from '../protocol/errors.js'

const TOPIC_NAME = /^[a-zA-Z0-9._-]+$/
export const MAX_TOPIC_NAME_LENGTH = 249

export function validateTopicName(name: string): void {
  if (name.length === 0) throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, 'Topic name is illegal, it can\'t be empty')
  if (name === '.' || name === '..') throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, 'Topic name cannot be "." or ".."')
  if (name.length > MAX_TOPIC_NAME_LENGTH) throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, `Topic name is illegal, it can't be longer than ${MAX_TOPIC_NAME_LENGTH} characters`)
  if (!TOPIC_NAME.test(name)) throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, `Topic name "${name}" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'`)
}
