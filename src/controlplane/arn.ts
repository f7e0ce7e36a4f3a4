// Amazon Resource Names of the control plane's resources, in MSK's forms:
//   arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>
//   arn:aws:kafka:<region>:<account>:cluster-operation/<name>/<cluster uuid>/<operation uuid>
//   arn:aws:kafka:<region>:<account>:configuration/<name>/<uuid>
//   arn:aws:kafka:<region>:<account>:broker/<cluster name>/<cluster uuid>/<broker id>   (ListNodes' nodeARN)
//   arn:aws:kafka:<region>:<account>:topic/<cluster name>/<cluster uuid>/<topic name>    (the topics API's topicArn; built, not parsed)

export const DEFAULT_REGION = 'us-east-1'
/** The account Fjord answers for when none is configured (12 digits, as AWS accounts are). */
export const DEFAULT_ACCOUNT = '000000000000'

export type ResourceKind = 'cluster' | 'cluster-operation' | 'configuration' | 'broker'

export interface ParsedArn {
  region: string
  account: string
  kind: ResourceKind
  /** The path after `<kind>/`, split on '/': [name, uuid] for clusters and configurations. */
  parts: string[]
}

const PARTS: Record<ResourceKind, number> = { cluster: 2, 'cluster-operation': 3, configuration: 2, broker: 3 }

export function clusterArn(region: string, account: string, name: string, uuid: string): string {
  return `arn:aws:kafka:${region}:${account}:cluster/${name}/${uuid}`
}

/** An operation ARN is built from its cluster's: same region, account, name and uuid. */
export function operationArn(clusterArnValue: string, operationUuid: string): string {
  const c = parseArn(clusterArnValue, 'cluster')
  if (c === undefined) throw new Error(`not a cluster ARN: ${clusterArnValue}`)
  return `arn:aws:kafka:${c.region}:${c.account}:cluster-operation/${c.parts[0]}/${c.parts[1]}/${operationUuid}`
}

export function nodeArn(clusterArnValue: string, brokerId: number): string {
  const c = parseArn(clusterArnValue, 'cluster')
  if (c === undefined) throw new Error(`not a cluster ARN: ${clusterArnValue}`)
  return `arn:aws:kafka:${c.region}:${c.account}:broker/${c.parts[0]}/${c.parts[1]}/${brokerId}`
}

export function topicArn(clusterArnValue: string, topicName: string): string {
  const c = parseArn(clusterArnValue, 'cluster')
  if (c === undefined) throw new Error(`not a cluster ARN: ${clusterArnValue}`)
  return `arn:aws:kafka:${c.region}:${c.account}:topic/${c.parts[0]}/${c.parts[1]}/${topicName}`
}

export function configurationArn(region: string, account: string, name: string, uuid: string): string {
  return `arn:aws:kafka:${region}:${account}:configuration/${name}/${uuid}`
}

/** Parses a kafka ARN; undefined when it is not one (of `kind`, when given). */
export function parseArn(arn: string, kind?: ResourceKind): ParsedArn | undefined {
  const m = /^arn:aws:kafka:([a-z0-9-]+):(\d{12}):([a-z-]+)\/(.+)$/.exec(arn)
  if (m === null) return undefined
  const [, region, account, k, rest] = m as unknown as [string, string, string, string, string]
  if (!(k in PARTS)) return undefined
  const parsedKind = k as ResourceKind
  if (kind !== undefined && parsedKind !== kind) return undefined
  const parts = rest.split('/')
  if (parts.length !== PARTS[parsedKind] || parts.some((p) => p === '')) return undefined
  return { region, account, kind: parsedKind, parts }
}
