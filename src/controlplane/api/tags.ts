// ListTagsForResource, TagResource (204), UntagResource (204, tagKeys in the query) for clusters
// (tags kept in ClusterRecord.tags) and configurations (tags kept by the store's tag table).

import { notFound } from '../errors.js'
import type { ApiContext, ApiRequest, ApiResponse } from './context.js'
import { fail, optionalTags } from './validate.js'

interface Tagged {
  get(): Record<string, string>
  set(tags: Record<string, string>): void
}

function resource(ctx: ApiContext, arn: string): Tagged {
  if (ctx.store.getCluster(arn) !== undefined) {
    return {
      get: () => ctx.store.getCluster(arn)?.tags ?? {},
      set: (tags) => ctx.store.updateCluster(arn, (c) => (c.tags = tags)),
    }
  }
  if (ctx.store.getConfiguration(arn) !== undefined) {
    return { get: () => ctx.store.getTags(arn), set: (tags) => ctx.store.setTags(arn, tags) }
  }
  throw notFound(`Resource ${arn} does not exist`, 'resourceArn')
}

export function listTagsForResource(req: ApiRequest, ctx: ApiContext): ApiResponse {
  return { body: { tags: resource(ctx, req.params.resourceArn ?? '').get() } }
}

export function tagResource(req: ApiRequest, ctx: ApiContext): ApiResponse {
  const target = resource(ctx, req.params.resourceArn ?? '')
  const tags = optionalTags(req.body, 'tags')
  if (tags === undefined || Object.keys(tags).length === 0) fail('tags', 'is required and must not be empty')
  const merged = { ...target.get(), ...tags }
  if (Object.keys(merged).length > 50) fail('tags', 'would give the resource more than 50 tags')
  target.set(merged)
  return { status: 204 }
}

export function untagResource(req: ApiRequest, ctx: ApiContext): ApiResponse {
  const target = resource(ctx, req.params.resourceArn ?? '')
  const keys = req.query.getAll('tagKeys')
  if (keys.length === 0) fail('tagKeys', 'is required and must not be empty')
  const tags = target.get()
  for (const key of keys) delete tags[key]
  target.set(tags)
  return { status: 204 }
}
