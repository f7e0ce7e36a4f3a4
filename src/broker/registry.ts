// The handler registry: one handler per API, each stating the version range it serves. The
// registry drives dispatch, the ApiVersions answer, and the round-trip tests.

import type { Api } from '../protocol/apis.js'
import type { RequestHeader } from '../protocol/headers.js'
import type { DecodedStruct, Fields, InputStruct } from '../protocol/schema.js'
import type { Broker } from './broker.js'
import type { Connection } from './connection.js'

/** Returned by a handler when the request gets no response (Produce with acks=0). */
export const NO_RESPONSE: unique symbol = Symbol('no response')

export interface RequestContext {
  broker: Broker
  connection: Connection
  header: RequestHeader
  version: number
}

export interface Handler<Q extends Fields = Fields, S extends Fields = Fields> {
  api: Api<Q, S>
  minVersion: number
  maxVersion: number
  handle(ctx: RequestContext, request: DecodedStruct<Q>): InputStruct<S> | typeof NO_RESPONSE | Promise<InputStruct<S> | typeof NO_RESPONSE>
}

/** Declares a handler; the version range defaults to everything the message declaration covers. */
export function defineHandler<Q extends Fields, S extends Fields>(
  api: Api<Q, S>,
  handle: Handler<Q, S>['handle'],
  versions?: { min?: number; max?: number },
): Handler<Q, S> {
  const min = versions?.min ?? api.request.versions.min
  const max = versions?.max ?? api.request.versions.max
  if (min < api.request.versions.min || max > api.request.versions.max) {
    throw new Error(`${api.name}: handler versions ${min}-${max} exceed the declared ${api.request.versions.min}-${api.request.versions.max}`)
  }
  return { api, minVersion: min, maxVersion: max, handle }
}

export class HandlerRegistry {
  private readonly byKey = new Map<number, Handler>()

  constructor(handlers: readonly Handler<any, any>[]) {
    for (const h of handlers) {
      if (this.byKey.has(h.api.key)) throw new Error(`two handlers for API ${h.api.name}`)
      this.byKey.set(h.api.key, h as Handler)
    }
  }

  get(key: number): Handler | undefined {
    return this.byKey.get(key)
  }

  all(): Handler[] {
    return [...this.byKey.values()].sort((a, b) => a.api.key - b.api.key)
  }

  versions(): { apiKey: number; minVersion: number; maxVersion: number }[] {
    return this.all().map((h) => ({ apiKey: h.api.key, minVersion: h.minVersion, maxVersion: h.maxVersion }))
  }
}
