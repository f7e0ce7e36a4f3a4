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
]
