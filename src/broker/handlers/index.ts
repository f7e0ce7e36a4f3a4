// The registry's contents: one handler per API, each in its own file.

import type { Handler } from '../registry.js'
import { apiVersionsHandler } from './api-versions.js'
import { fetchHandler } from './fetch.js'
import { listOffsetsHandler } from './list-offsets.js'
import { metadataHandler } from './metadata.js'
import { produceHandler } from './produce.js'

export const handlers: Handler<any, any>[] = [
  apiVersionsHandler,
  produceHandler,
  fetchHandler,
  listOffsetsHandler,
  metadataHandler,
]
