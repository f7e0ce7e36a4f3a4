// The registry's contents: one handler per API, each in its own file.

import type { Handler } from '../registry.js'
import { apiVersionsHandler } from './api-versions.js'
import { fetchHandler } from './fetch.js'
import { listOffsetsHandler } from './list-offsets.js'
import { metadataHandler } from './metadata.js'
import { produceHandler } from './produce.js'
import { createTopicsHandler } from './create-topics.js'
import { deleteTopicsHandler } from './delete-topics.js'
import { createPartitionsHandler } from './create-partitions.js'
import { describeConfigsHandler } from './describe-configs.js'
import { alterConfigsHandler } from './alter-configs.js'
import { incrementalAlterConfigsHandler } from './incremental-alter-configs.js'
import { deleteRecordsHandler } from './delete-records.js'
import { offsetForLeaderEpochHandler } from './offset-for-leader-epoch.js'
import { describeClusterHandler } from './describe-cluster.js'
import { describeLogDirsHandler } from './describe-log-dirs.js'
import { describeProducersHandler } from './describe-producers.js'
import { findCoordinatorHandler } from './find-coordinator.js'
import { joinGroupHandler } from './join-group.js'
import { syncGroupHandler } from './sync-group.js'
import { heartbeatHandler } from './heartbeat.js'
import { leaveGroupHandler } from './leave-group.js'
import { offsetCommitHandler } from './offset-commit.js'
import { offsetFetchHandler } from './offset-fetch.js'
import { describeGroupsHandler } from './describe-groups.js'
import { listGroupsHandler } from './list-groups.js'
import { deleteGroupsHandler } from './delete-groups.js'
import { offsetDeleteHandler } from './offset-delete.js'
import { initProducerIdHandler } from './init-producer-id.js'
import { consumerGroupHeartbeatHandler } from './consumer-group-heartbeat.js'
import { consumerGroupDescribeHandler } from './consumer-group-describe.js'
import { addPartitionsToTxnHandler } from './add-partitions-to-txn.js'
import { addOffsetsToTxnHandler } from './add-offsets-to-txn.js'
import { endTxnHandler } from './end-txn.js'
import { txnOffsetCommitHandler } from './txn-offset-commit.js'
import { writeTxnMarkersHandler } from './write-txn-markers.js'
import { describeTransactionsHandler } from './describe-transactions.js'
import { listTransactionsHandler } from './list-transactions.js'
import { electLeadersHandler } from './elect-leaders.js'
import { alterPartitionReassignmentsHandler } from './alter-partition-reassignments.js'
import { listPartitionReassignmentsHandler } from './list-partition-reassignments.js'

export const handlers: Handler<any, any>[] = [
  apiVersionsHandler,
  produceHandler,
  fetchHandler,
  listOffsetsHandler,
  metadataHandler,
  createTopicsHandler,
  deleteTopicsHandler,
  createPartitionsHandler,
  describeConfigsHandler,
  alterConfigsHandler,
  incrementalAlterConfigsHandler,
  deleteRecordsHandler,
  offsetForLeaderEpochHandler,
  describeClusterHandler,
  describeLogDirsHandler,
  describeProducersHandler,
  findCoordinatorHandler,
  joinGroupHandler,
  syncGroupHandler,
  heartbeatHandler,
  leaveGroupHandler,
  offsetCommitHandler,
  offsetFetchHandler,
  describeGroupsHandler,
  listGroupsHandler,
  deleteGroupsHandler,
  offsetDeleteHandler,
  initProducerIdHandler,
  consumerGroupHeartbeatHandler,
  consumerGroupDescribeHandler,
  addPartitionsToTxnHandler,
  addOffsetsToTxnHandler,
  endTxnHandler,
  txnOffsetCommitHandler,
  writeTxnMarkersHandler,
  describeTransactionsHandler,
  listTransactionsHandler,
  electLeadersHandler,
  alterPartitionReassignmentsHandler,
  listPartitionReassignmentsHandler,
]
