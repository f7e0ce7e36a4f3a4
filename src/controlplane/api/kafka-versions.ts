// ListKafkaVersions and GetCompatibleKafkaVersions, and the version rules the other handlers use:
// the versions Fjord offers, which are KRaft (`….kraft`, from 3.7.x on), and which a cluster may
// move to (the same metadata mode, higher versions only).

import type { ApiContext, ApiRequest, ApiResponse } from './context.js'
import { findCluster } from './lookup.js'
import { page } from './validate.js'

export const KAFKA_VERSIONS: readonly string[] = [
  '2.8.1',
  '3.5.1',
  '3.6.0',
  '3.7.x',
  '3.7.x.kraft',
  '3.8.x',
  '3.8.x.kraft',
  '3.9.x',
  '3.9.x.kraft',
  '4.0.x.kraft',
]

/** The version serverless clusters run (they have no kafkaVersion of their own). */
export const SERVERLESS_KAFKA_VERSION = '3.9.x.kraft'

export function isKnownVersion(version: string): boolean {
  return KAFKA_VERSIONS.includes(version)
}

export function isKraft(version: string): boolean {
  return version.endsWith('.kraft')
}

/** MSK's broker limits: 30 brokers a cluster with ZooKeeper, 60 with KRaft. */
export function maxBrokers(version: string): number {
  return isKraft(version) ? 60 : 30
}

/** Orders versions by their numbers; `x` (any patch) ranks above every number. */
function compareVersions(a: string, b: string): number {
  const nums = (v: string) =>
    v
      .replace(/\.kraft$/, '')
      .split('.')
      .map((p) => (p === 'x' ? Number.MAX_SAFE_INTEGER : Number(p)))
  const [pa, pb] = [nums(a), nums(b)]
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0)
    if (d !== 0) return d
  }
  return 0
}

/** What a cluster on `source` may be upgraded to: higher versions of the same metadata mode. */
export function compatibleTargets(source: string): string[] {
  return KAFKA_VERSIONS.filter((v) => isKraft(v) === isKraft(source) && compareVersions(v, source) > 0)
}

export function listKafkaVersions(req: ApiRequest): ApiResponse {
  const { items, nextToken } = page([...KAFKA_VERSIONS], req.query)
  return { body: { kafkaVersions: items.map((version) => ({ version, status: 'ACTIVE' })), nextToken } }
}

export function getCompatibleKafkaVersions(req: ApiRequest, ctx: ApiContext): ApiResponse {
  const arn = req.query.get('clusterArn')
  const sources = arn === null ? [...KAFKA_VERSIONS] : [findCluster(ctx, arn, 'clusterArn').spec.kafkaVersion]
  return {
    body: { compatibleKafkaVersions: sources.map((sourceVersion) => ({ sourceVersion, targetVersions: compatibleTargets(sourceVersion) })) },
  }
}
