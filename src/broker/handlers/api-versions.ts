// ApiVersions: what this broker speaks. Clients pick the highest version both sides know; the
// ranges come from the handler registry, so advertising and dispatch cannot disagree.

import { Apis } from '../../protocol/apis.js'
import { defineHandler } from '../registry.js'

export const apiVersionsHandler = defineHandler(Apis.ApiVersions, (ctx) => ({
  errorCode: 0,
  apiKeys: ctx.broker.registry.versions(),
  throttleTimeMs: 0,
}))
