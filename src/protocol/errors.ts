// Kafka's error codes, in one table. Handlers answer with these codes; `retriable` follows Kafka's
// classification so that log lines and tests can tell a transient condition from a bad request.

export interface KafkaErrorInfo {
  code: number
  name: string
  retriable: boolean
  message: string
}

function e(code: number, name: string, retriable: boolean, message: string): KafkaErrorInfo {
  return { code, name, retriable, message }
}

export const ErrorCode = {
  UNKNOWN_SERVER_ERROR: e(-1, 'UNKNOWN_SERVER_ERROR', false, 'The server experienced an unexpected error when processing the request.'),
  NONE: e(0, 'NONE', false, ''),
  OFFSET_OUT_OF_RANGE: e(1, 'OFFSET_OUT_OF_RANGE', false, 'The requested offset is not within the range of offsets maintained by the server.'),
  CORRUPT_MESSAGE: e(2, 'CORRUPT_MESSAGE', true, 'This message has failed its CRC checksum, exceeds the valid size, has a null key for a compacted topic, or is otherwise corrupt.'),
  UNKNOWN_TOPIC_OR_PARTITION: e(3, 'UNKNOWN_TOPIC_OR_PARTITION', true, 'This server does not host this topic-partition.'),
  INVALID_FETCH_SIZE: e(4, 'INVALID_FETCH_SIZE', false, 'The requested fetch size is invalid.'),
  LEADER_NOT_AVAILABLE: e(5, 'LEADER_NOT_AVAILABLE', true, 'There is no leader for this topic-partition as we are in the middle of a leadership election.'),
  NOT_LEADER_OR_FOLLOWER: e(6, 'NOT_LEADER_OR_FOLLOWER', true, 'For requests intended only for the leader, this error indicates that the broker is not the current leader.'),
  REQUEST_TIMED_OUT: e(7, 'REQUEST_TIMED_OUT', true, 'The request timed out.'),
  BROKER_NOT_AVAILABLE: e(8, 'BROKER_NOT_AVAILABLE', false, 'The broker is not available.'),
  REPLICA_NOT_AVAILABLE: e(9, 'REPLICA_NOT_AVAILABLE', true, 'The replica is not available for the requested topic-partition.'),
  MESSAGE_TOO_LARGE: e(10, 'MESSAGE_TOO_LARGE', false, 'The request included a message larger than the max message size the server will accept.'),
  STALE_CONTROLLER_EPOCH: e(11, 'STALE_CONTROLLER_EPOCH', false, 'The controller moved to another broker.'),
  OFFSET_METADATA_TOO_LARGE: e(12, 'OFFSET_METADATA_TOO_LARGE', false, 'The metadata field of the offset request was too large.'),
  NETWORK_EXCEPTION: e(13, 'NETWORK_EXCEPTION', true, 'The server disconnected before a response was received.'),
  COORDINATOR_LOAD_IN_PROGRESS: e(14, 'COORDINATOR_LOAD_IN_PROGRESS', true, 'The coordinator is loading and hence can\'t process requests.'),
  COORDINATOR_NOT_AVAILABLE: e(15, 'COORDINATOR_NOT_AVAILABLE', true, 'The coordinator is not available.'),
  NOT_COORDINATOR: e(16, 'NOT_COORDINATOR', true, 'This is not the correct coordinator.'),
  INVALID_TOPIC_EXCEPTION: e(17, 'INVALID_TOPIC_EXCEPTION', false, 'The request attempted to perform an operation on an invalid topic.'),
  RECORD_LIST_TOO_LARGE: e(18, 'RECORD_LIST_TOO_LARGE', false, 'The request included message batch larger than the configured segment size on the server.'),
  NOT_ENOUGH_REPLICAS: e(19, 'NOT_ENOUGH_REPLICAS', true, 'Messages are rejected since there are fewer in-sync replicas than required.'),
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: e(20, 'NOT_ENOUGH_REPLICAS_AFTER_APPEND', true, 'Messages are written to the log, but to fewer in-sync replicas than required.'),
  INVALID_REQUIRED_ACKS: e(21, 'INVALID_REQUIRED_ACKS', false, 'Produce request specified an invalid value for required acks.'),
  ILLEGAL_GENERATION: e(22, 'ILLEGAL_GENERATION', false, 'Specified group generation id is not valid.'),
  INCONSISTENT_GROUP_PROTOCOL: e(23, 'INCONSISTENT_GROUP_PROTOCOL', false, 'The group member\'s supported protocols are incompatible with those of existing members.'),
  INVALID_GROUP_ID: e(24, 'INVALID_GROUP_ID', false, 'The configured groupId is invalid.'),
  UNKNOWN_MEMBER_ID: e(25, 'UNKNOWN_MEMBER_ID', false, 'The coordinator is not aware of this member.'),
  INVALID_SESSION_TIMEOUT: e(26, 'INVALID_SESSION_TIMEOUT', false, 'The session timeout is not within the range allowed by the broker.'),
  REBALANCE_IN_PROGRESS: e(27, 'REBALANCE_IN_PROGRESS', false, 'The group is rebalancing, so a rejoin is needed.'),
  INVALID_COMMIT_OFFSET_SIZE: e(28, 'INVALID_COMMIT_OFFSET_SIZE', false, 'The committing offset data size is not valid.'),
  TOPIC_AUTHORIZATION_FAILED: e(29, 'TOPIC_AUTHORIZATION_FAILED', false, 'Topic authorization failed.'),
  GROUP_AUTHORIZATION_FAILED: e(30, 'GROUP_AUTHORIZATION_FAILED', false, 'Group authorization failed.'),
  CLUSTER_AUTHORIZATION_FAILED: e(31, 'CLUSTER_AUTHORIZATION_FAILED', false, 'Cluster authorization failed.'),
  INVALID_TIMESTAMP: e(32, 'INVALID_TIMESTAMP', false, 'The timestamp of the message is out of acceptable range.'),
  UNSUPPORTED_SASL_MECHANISM: e(33, 'UNSUPPORTED_SASL_MECHANISM', false, 'The broker does not support the requested SASL mechanism.'),
  ILLEGAL_SASL_STATE: e(34, 'ILLEGAL_SASL_STATE', false, 'Request is not valid given the current SASL state.'),
  UNSUPPORTED_VERSION: e(35, 'UNSUPPORTED_VERSION', false, 'The version of API is not supported.'),
  TOPIC_ALREADY_EXISTS: e(36, 'TOPIC_ALREADY_EXISTS', false, 'Topic with this name already exists.'),
  INVALID_PARTITIONS: e(37, 'INVALID_PARTITIONS', false, 'Number of partitions is below 1.'),
  INVALID_REPLICATION_FACTOR: e(38, 'INVALID_REPLICATION_FACTOR', false, 'Replication factor is below 1 or larger than the number of available brokers.'),
  INVALID_REPLICA_ASSIGNMENT: e(39, 'INVALID_REPLICA_ASSIGNMENT', false, 'Replica assignment is invalid.'),
  INVALID_CONFIG: e(40, 'INVALID_CONFIG', false, 'Configuration is invalid.'),
  NOT_CONTROLLER: e(41, 'NOT_CONTROLLER', true, 'This is not the correct controller for this cluster.'),
  INVALID_REQUEST: e(42, 'INVALID_REQUEST', false, 'This most likely occurs because of a request being malformed by the client library or the message was sent to an incompatible broker.'),
  UNSUPPORTED_FOR_MESSAGE_FORMAT: e(43, 'UNSUPPORTED_FOR_MESSAGE_FORMAT', false, 'The message format version on the broker does not support the request.'),
  POLICY_VIOLATION: e(44, 'POLICY_VIOLATION', false, 'Request parameters do not satisfy the configured policy.'),
  OUT_OF_ORDER_SEQUENCE_NUMBER: e(45, 'OUT_OF_ORDER_SEQUENCE_NUMBER', false, 'The broker received an out of order sequence number.'),
  DUPLICATE_SEQUENCE_NUMBER: e(46, 'DUPLICATE_SEQUENCE_NUMBER', false, 'The broker received a duplicate sequence number.'),
  INVALID_PRODUCER_EPOCH: e(47, 'INVALID_PRODUCER_EPOCH', false, 'Producer attempted to produce with an old epoch.'),
  INVALID_TXN_STATE: e(48, 'INVALID_TXN_STATE', false, 'The producer attempted a transactional operation in an invalid state.'),
  INVALID_PRODUCER_ID_MAPPING: e(49, 'INVALID_PRODUCER_ID_MAPPING', false, 'The producer attempted to use a producer id which is not currently assigned to its transactional id.'),
  INVALID_TRANSACTION_TIMEOUT: e(50, 'INVALID_TRANSACTION_TIMEOUT', false, 'The transaction timeout is larger than the maximum value allowed by the broker.'),
  CONCURRENT_TRANSACTIONS: e(51, 'CONCURRENT_TRANSACTIONS', true, 'The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing.'),
  TRANSACTION_COORDINATOR_FENCED: e(52, 'TRANSACTION_COORDINATOR_FENCED', false, 'Indicates that the transaction coordinator sending a WriteTxnMarker is no longer the current coordinator for a given producer.'),
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: e(53, 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED', false, 'Transactional Id authorization failed.'),
  SECURITY_DISABLED: e(54, 'SECURITY_DISABLED', false, 'Security features are disabled.'),
  OPERATION_NOT_ATTEMPTED: e(55, 'OPERATION_NOT_ATTEMPTED', false, 'The broker did not attempt to execute this operation.'),
  KAFKA_STORAGE_ERROR: e(56, 'KAFKA_STORAGE_ERROR', true, 'Disk error when trying to access log file on the disk.'),
  LOG_DIR_NOT_FOUND: e(57, 'LOG_DIR_NOT_FOUND', false, 'The user-specified log directory is not found in the broker config.'),
  SASL_AUTHENTICATION_FAILED: e(58, 'SASL_AUTHENTICATION_FAILED', false, 'SASL Authentication failed.'),
  UNKNOWN_PRODUCER_ID: e(59, 'UNKNOWN_PRODUCER_ID', false, 'This exception is raised by the broker if it could not locate the producer metadata associated with the producerId in question.'),
  REASSIGNMENT_IN_PROGRESS: e(60, 'REASSIGNMENT_IN_PROGRESS', false, 'A partition reassignment is in progress.'),
  DELEGATION_TOKEN_AUTH_DISABLED: e(61, 'DELEGATION_TOKEN_AUTH_DISABLED', false, 'Delegation Token feature is not enabled.'),
  DELEGATION_TOKEN_NOT_FOUND: e(62, 'DELEGATION_TOKEN_NOT_FOUND', false, 'Delegation Token is not found on server.'),
  DELEGATION_TOKEN_OWNER_MISMATCH: e(63, 'DELEGATION_TOKEN_OWNER_MISMATCH', false, 'Specified Principal is not valid Owner/Renewer.'),
  DELEGATION_TOKEN_REQUEST_NOT_ALLOWED: e(64, 'DELEGATION_TOKEN_REQUEST_NOT_ALLOWED', false, 'Delegation Token requests are not allowed on PLAINTEXT/1-way SSL channels and on delegation token authenticated channels.'),
  DELEGATION_TOKEN_AUTHORIZATION_FAILED: e(65, 'DELEGATION_TOKEN_AUTHORIZATION_FAILED', false, 'Delegation Token authorization failed.'),
  DELEGATION_TOKEN_EXPIRED: e(66, 'DELEGATION_TOKEN_EXPIRED', false, 'Delegation Token is expired.'),
  INVALID_PRINCIPAL_TYPE: e(67, 'INVALID_PRINCIPAL_TYPE', false, 'Supplied principalType is not supported.'),
  NON_EMPTY_GROUP: e(68, 'NON_EMPTY_GROUP', false, 'The group is not empty.'),
  GROUP_ID_NOT_FOUND: e(69, 'GROUP_ID_NOT_FOUND', false, 'The group id does not exist.'),
  FETCH_SESSION_ID_NOT_FOUND: e(70, 'FETCH_SESSION_ID_NOT_FOUND', true, 'The fetch session ID was not found.'),
  INVALID_FETCH_SESSION_EPOCH: e(71, 'INVALID_FETCH_SESSION_EPOCH', true, 'The fetch session epoch is invalid.'),
  LISTENER_NOT_FOUND: e(72, 'LISTENER_NOT_FOUND', true, 'There is no listener on the leader broker that matches the listener on which metadata request was processed.'),
  TOPIC_DELETION_DISABLED: e(73, 'TOPIC_DELETION_DISABLED', false, 'Topic deletion is disabled.'),
  FENCED_LEADER_EPOCH: e(74, 'FENCED_LEADER_EPOCH', true, 'The leader epoch in the request is older than the epoch on the broker.'),
  UNKNOWN_LEADER_EPOCH: e(75, 'UNKNOWN_LEADER_EPOCH', true, 'The leader epoch in the request is newer than the epoch on the broker.'),
  UNSUPPORTED_COMPRESSION_TYPE: e(76, 'UNSUPPORTED_COMPRESSION_TYPE', false, 'The requesting client does not support the compression type of given partition.'),
  STALE_BROKER_EPOCH: e(77, 'STALE_BROKER_EPOCH', false, 'Broker epoch has changed.'),
  OFFSET_NOT_AVAILABLE: e(78, 'OFFSET_NOT_AVAILABLE', true, 'The leader high watermark has not caught up from a recent leader election so the offsets cannot be guaranteed to be monotonically increasing.'),
  MEMBER_ID_REQUIRED: e(79, 'MEMBER_ID_REQUIRED', false, 'The group member needs to have a valid member id before actually entering a consumer group.'),
  PREFERRED_LEADER_NOT_AVAILABLE: e(80, 'PREFERRED_LEADER_NOT_AVAILABLE', true, 'The preferred leader was not available.'),
  GROUP_MAX_SIZE_REACHED: e(81, 'GROUP_MAX_SIZE_REACHED', false, 'The consumer group has reached its max size.'),
  FENCED_INSTANCE_ID: e(82, 'FENCED_INSTANCE_ID', false, 'The broker rejected this static consumer since another consumer with the same group.instance.id has registered with a different member.id.'),
  ELIGIBLE_LEADERS_NOT_AVAILABLE: e(83, 'ELIGIBLE_LEADERS_NOT_AVAILABLE', true, 'Eligible topic partition leaders are not available.'),
  ELECTION_NOT_NEEDED: e(84, 'ELECTION_NOT_NEEDED', true, 'Leader election not needed for topic partition.'),
  NO_REASSIGNMENT_IN_PROGRESS: e(85, 'NO_REASSIGNMENT_IN_PROGRESS', false, 'No partition reassignment is in progress.'),
  GROUP_SUBSCRIBED_TO_TOPIC: e(86, 'GROUP_SUBSCRIBED_TO_TOPIC', false, 'Deleting offsets of a topic is forbidden while the consumer group is actively subscribed to it.'),
  INVALID_RECORD: e(87, 'INVALID_RECORD', false, 'This record has failed the validation on broker and hence will be rejected.'),
  UNSTABLE_OFFSET_COMMIT: e(88, 'UNSTABLE_OFFSET_COMMIT', true, 'There are unstable offsets that need to be cleared.'),
  THROTTLING_QUOTA_EXCEEDED: e(89, 'THROTTLING_QUOTA_EXCEEDED', true, 'The throttling quota has been exceeded.'),
  PRODUCER_FENCED: e(90, 'PRODUCER_FENCED', false, 'There is a newer producer with the same transactionalId which fences the current one.'),
  RESOURCE_NOT_FOUND: e(91, 'RESOURCE_NOT_FOUND', false, 'A request illegally referred to a resource that does not exist.'),
  DUPLICATE_RESOURCE: e(92, 'DUPLICATE_RESOURCE', false, 'A request illegally referred to the same resource twice.'),
  UNACCEPTABLE_CREDENTIAL: e(93, 'UNACCEPTABLE_CREDENTIAL', false, 'Requested credential would not meet criteria for acceptability.'),
  INCONSISTENT_VOTER_SET: e(94, 'INCONSISTENT_VOTER_SET', false, 'Indicates that the either the sender or recipient of a voter-only request is not one of the expected voters.'),
  INVALID_UPDATE_VERSION: e(95, 'INVALID_UPDATE_VERSION', false, 'The given update version was invalid.'),
  FEATURE_UPDATE_FAILED: e(96, 'FEATURE_UPDATE_FAILED', false, 'Unable to update finalized features due to an unexpected server error.'),
  PRINCIPAL_DESERIALIZATION_FAILURE: e(97, 'PRINCIPAL_DESERIALIZATION_FAILURE', false, 'Request principal deserialization failed during forwarding.'),
  SNAPSHOT_NOT_FOUND: e(98, 'SNAPSHOT_NOT_FOUND', false, 'Requested snapshot was not found.'),
  POSITION_OUT_OF_RANGE: e(99, 'POSITION_OUT_OF_RANGE', false, 'Requested position is not greater than or equal to zero, and less than the size of the snapshot.'),
  UNKNOWN_TOPIC_ID: e(100, 'UNKNOWN_TOPIC_ID', true, 'This server does not host this topic ID.'),
  DUPLICATE_BROKER_REGISTRATION: e(101, 'DUPLICATE_BROKER_REGISTRATION', false, 'This broker ID is already in use.'),
  BROKER_ID_NOT_REGISTERED: e(102, 'BROKER_ID_NOT_REGISTERED', false, 'The given broker ID was not registered.'),
  INCONSISTENT_TOPIC_ID: e(103, 'INCONSISTENT_TOPIC_ID', true, 'The log\'s topic ID did not match the topic ID in the request.'),
  INCONSISTENT_CLUSTER_ID: e(104, 'INCONSISTENT_CLUSTER_ID', false, 'The clusterId in the request does not match that found on the server.'),
  TRANSACTIONAL_ID_NOT_FOUND: e(105, 'TRANSACTIONAL_ID_NOT_FOUND', false, 'The transactionalId could not be found.'),
  FETCH_SESSION_TOPIC_ID_ERROR: e(106, 'FETCH_SESSION_TOPIC_ID_ERROR', true, 'The fetch session encountered inconsistent topic ID usage.'),
  INELIGIBLE_REPLICA: e(107, 'INELIGIBLE_REPLICA', false, 'The new ISR contains at least one ineligible replica.'),
  NEW_LEADER_ELECTED: e(108, 'NEW_LEADER_ELECTED', false, 'The AlterPartition request successfully updated the partition state but the leader has changed.'),
  OFFSET_MOVED_TO_TIERED_STORAGE: e(109, 'OFFSET_MOVED_TO_TIERED_STORAGE', false, 'The requested offset is moved to tiered storage.'),
  FENCED_MEMBER_EPOCH: e(110, 'FENCED_MEMBER_EPOCH', false, 'The member epoch is fenced by the group coordinator. The member must abandon all its partitions and rejoin.'),
  UNRELEASED_INSTANCE_ID: e(111, 'UNRELEASED_INSTANCE_ID', false, 'The instance ID is still used by another member in the consumer group. That member must leave first.'),
  UNSUPPORTED_ASSIGNOR: e(112, 'UNSUPPORTED_ASSIGNOR', false, 'The assignor or its version range is not supported by the consumer group.'),
  STALE_MEMBER_EPOCH: e(113, 'STALE_MEMBER_EPOCH', false, 'The member epoch is stale. The member must retry after receiving its updated member epoch via the ConsumerGroupHeartbeat API.'),
  MISMATCHED_ENDPOINT_TYPE: e(114, 'MISMATCHED_ENDPOINT_TYPE', false, 'The request was sent to an endpoint of the wrong type.'),
  UNSUPPORTED_ENDPOINT_TYPE: e(115, 'UNSUPPORTED_ENDPOINT_TYPE', false, 'This endpoint type is not supported yet.'),
  UNKNOWN_CONTROLLER_ID: e(116, 'UNKNOWN_CONTROLLER_ID', false, 'This controller ID is not known.'),
  UNKNOWN_SUBSCRIPTION_ID: e(117, 'UNKNOWN_SUBSCRIPTION_ID', false, 'Client sent a push telemetry request with an invalid or outdated subscription ID.'),
  TELEMETRY_TOO_LARGE: e(118, 'TELEMETRY_TOO_LARGE', false, 'Client sent a push telemetry request larger than the maximum size the broker will accept.'),
  INVALID_REGISTRATION: e(119, 'INVALID_REGISTRATION', false, 'The controller has considered the broker registration to be invalid.'),
  TRANSACTION_ABORTABLE: e(120, 'TRANSACTION_ABORTABLE', false, 'The server encountered an error with the transaction. The client can abort the transaction to continue using this transactional ID.'),
} as const

export type ErrorName = keyof typeof ErrorCode

const byCode = new Map<number, KafkaErrorInfo>(Object.values(ErrorCode).map((x) => [x.code, x]))

export function errorInfo(code: number): KafkaErrorInfo {
  return byCode.get(code) ?? { code, name: `ERROR_${code}`, retriable: false, message: 'Unknown error code' }
}

/** An error a subsystem throws to be answered with a Kafka error code. */
export class KafkaError extends Error {
  override name = 'KafkaError'
  constructor(readonly error: KafkaErrorInfo, message?: string) {
    super(message ?? error.message)
  }
  get code(): number {
    return this.error.code
  }
}
