// DescribeCluster: the cluster id, a "controller" and the live (unfenced) brokers with their
// racks, from this broker's metadata image, for admin clients. As with Kafka's KRaft brokers,
// clients never reach the controller itself: controllerId names a live broker, which forwards
// admin changes to the controller (this broker, as Metadata answers, or the first live one if
// this broker is fenced; -1 when none is live). As in Kafka
// (AuthHelper.computeDescribeClusterResponse): a broker answers endpoint type BROKERS (1);
// CONTROLLERS (2) is MISMATCHED_ENDPOINT_TYPE and any other value UNSUPPORTED_ENDPOINT_TYPE
// (INVALID_REQUEST for both in v0). clusterAuthorizedOperations stays at its "not asked" value
// (-2^31) unless asked for; then, with no authorizer, it is every operation Kafka supports on the
// cluster resource.

import { Apis } from '../../protocol/apis.js'
import { ErrorCode } from '../../protocol/errors.js'
import { defineHandler } from '../registry.js'

const EndpointType = { BROKER: 1, CONTROLLER: 2 } as const
const NOT_REQUESTED = -2147483648
/** AclOperation codes Kafka supports on CLUSTER: CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE. */
const CLUSTER_OPERATIONS = [5, 7, 8, 9, 10, 11, 12].reduce((bits, op) => bits | (1 << op), 0)

export const describeClusterHandler = defineHandler(Apis.DescribeCluster, (ctx, req) => {
  const { broker, version } = ctx
  const failed = (error: { code: number }, message: string) => ({
    throttleTimeMs: 0, errorCode: version === 0 ? ErrorCode.INVALID_REQUEST.code : error.code, errorMessage: message,
    endpointType: req.endpointType, clusterId: '', controllerId: -1, brokers: [], clusterAuthorizedOperations: NOT_REQUESTED,
  })
  if (req.endpointType === EndpointType.CONTROLLER) {
    return failed(ErrorCode.MISMATCHED_ENDPOINT_TYPE, 'The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER')
  }
  if (req.endpointType !== EndpointType.BROKER) return failed(ErrorCode.UNSUPPORTED_ENDPOINT_TYPE, `Unsupported endpoint type ${req.endpointType}`)
  const live = broker.link.image.liveBrokers()
  const controllerId = live.some((b) => b.id === broker.brokerId) ? broker.brokerId : (live[0]?.id ?? -1)
  return {
    throttleTimeMs: 0,
    errorCode: 0,
    errorMessage: null,
    endpointType: EndpointType.BROKER,
    clusterId: broker.metadata.clusterId,
    controllerId,
    brokers: live.map((b) => ({ brokerId: b.id, host: b.host, port: b.port, rack: b.rack })),
    clusterAuthorizedOperations: req.includeClusterAuthorizedOperations ? CLUSTER_OPERATIONS : NOT_REQUESTED,
  }
})
