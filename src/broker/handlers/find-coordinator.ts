// FindCoordinator: the coordinator of a group (transactional id) is the leader of the partition
// of __consumer_offsets (__transaction_state) its key hashes to. A partition without a leader, or
// an internal topic that does not exist yet (created now, as Kafka does), is
// COORDINATOR_NOT_AVAILABLE: the client asks again. v0-3 ask for one key; v4+ batch them
// (coordinatorKeys).

import { Apis } from '../../protocol/apis.js'
import { ErrorCode } from '../../protocol/errors.js'
import { coordinatorPartition } from '../../coordinator/index.js'
import { defineHandler } from '../registry.js'

const GROUP = 0
const TRANSACTION = 1

export const findCoordinatorHandler = defineHandler(Apis.FindCoordinator, (ctx, req) => {
  const { broker, version } = ctx
  const keyType = version >= 1 ? req.keyType : GROUP
  const answer = (key: string) => {
    const fail = (errorCode: number) => ({ key, nodeId: -1, host: '', port: -1, errorCode, errorMessage: null })
    if (keyType !== GROUP && keyType !== TRANSACTION) return fail(ErrorCode.INVALID_REQUEST.code)
    if (key === '') return fail(keyType === GROUP ? ErrorCode.INVALID_GROUP_ID.code : ErrorCode.INVALID_REQUEST.code)
    const at = coordinatorPartition(broker, keyType === GROUP ? 'group' : 'transaction', key)
    const leader = at && broker.leaderEndpoint(at.topic, at.partition)
    if (!leader) return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE.code)
    return { key, nodeId: leader.nodeId, host: leader.host, port: leader.port, errorCode: 0, errorMessage: null }
  }
  if (version < 4) {
    const a = answer(req.key)
    return { throttleTimeMs: 0, errorCode: a.errorCode, errorMessage: a.errorMessage, nodeId: a.nodeId, host: a.host, port: a.port }
  }
  return { throttleTimeMs: 0, coordinators: req.coordinatorKeys.map(answer) }
})
