// PRODUCER_FENCED (KIP-588) is only understood by newer request versions; older clients hear
// INVALID_PRODUCER_EPOCH for the same condition, as Kafka answers them.

import { ErrorCode, type KafkaErrorInfo } from '../../protocol/errors.js'

/** The code to answer: PRODUCER_FENCED becomes INVALID_PRODUCER_EPOCH below `fencedFrom`. */
export function txnErrorCode(error: KafkaErrorInfo, version: number, fencedFrom: number): number {
  if (error.code === ErrorCode.PRODUCER_FENCED.code && version < fencedFrom) return ErrorCode.INVALID_PRODUCER_EPOCH.code
  return error.code
}
