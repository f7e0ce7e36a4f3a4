// FindCoordinator: on a single broker, this broker coordinates every group and transactional id.
// v0-3 ask for one key; v4+ batch them (coordinatorKeys).

import { Apis } from '../../protocol/apis.js'
import { ErrorCode } from '../../protocol/errors.js'
import { defineHandler } from '../registry.js'

const GROUP = 0
const TRANSACTION = 1

export const findCoordinatorHandler = defineHandler(Apis.FindCoordinator, (ctx, req) => {
  const { broker, version } = ctx
  const keyType = version >= 1 ? req.keyType : GROUP
  const answer = (key: string) => {
    let errorCode = 0
    if (keyType !== GROUP && keyType !== TRANSACTION) errorCode = ErrorCode.INVALID_REQUEST.code
    else if (key === '') errorCode = keyType === GROUP ? ErrorCode.INVALID_GROUP_ID.code : ErrorCode.INVALID_REQUEST.code
    return errorCode === 0
      ? { key, nodeId: broker.brokerId, host: broker.host, port: broker.port, errorCode, errorMessage: null }
      : { key, nodeId: -1, host: '', port: -1, errorCode, errorMessage: null }
  }
  if (version < 4) {
    const a = answer(req.key)
    return { throttleTimeMs: 0, errorCode: a.errorCode, errorMessage: a.errorMessage, nodeId: a.nodeId, host: a.host, port: a.port }
  }
  return { throttleTimeMs: 0, coordinators: req.coordinatorKeys.map(answer) }
})
