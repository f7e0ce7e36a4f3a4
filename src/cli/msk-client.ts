// The control plane as `fjord cluster` and `fjord start` reach it: the MSK API over HTTP through
// @aws-sdk/client-kafka (real SigV4-signed calls, the same an AWS user's tools make), plus the
// Fjord extension endpoints (plain JSON over fetch). Failures come out as one of three errors the
// commands turn into exit codes:
//   MskApiError          the API answered with an error (NotFoundException, ...)      → 1
//   EndpointUnreachable  nothing (or nothing speaking the MSK API) at the endpoint     → 3
// and usage errors stay UsageError (→ 2).

import {
  CreateClusterV2Command,
  CreateConfigurationCommand,
  DeleteClusterCommand,
  DeleteConfigurationCommand,
  DescribeClusterOperationCommand,
  DescribeClusterV2Command,
  DescribeConfigurationCommand,
  DescribeConfigurationRevisionCommand,
  GetBootstrapBrokersCommand,
  KafkaClient,
  ListClusterOperationsCommand,
  ListClustersV2Command,
  ListConfigurationsCommand,
  ListNodesCommand,
  RebootBrokerCommand,
  UpdateBrokerCountCommand,
  UpdateBrokerStorageCommand,
  UpdateClusterConfigurationCommand,
  UpdateConfigurationCommand,
  type Cluster,
  type ClusterOperationInfo,
  type Configuration,
  type CreateClusterV2CommandInput,
  type CreateConfigurationCommandOutput,
  type DescribeConfigurationCommandOutput,
  type DescribeConfigurationRevisionCommandOutput,
  type GetBootstrapBrokersCommandOutput,
  type NodeInfo,
  type UpdateConfigurationCommandOutput,
} from '@aws-sdk/client-kafka'
import { UsageError } from './common.js'

export const EXIT_UNREACHABLE = 3
export const DEFAULT_ENDPOINT = 'http://127.0.0.1:8092'
export const DEFAULT_REGION = 'us-east-1'

/** Credentials when the environment has none: the control plane does not check signatures (yet). */
const LOCAL_CREDENTIALS = { accessKeyId: 'FJORDLOCALACCESSKEY', secretAccessKey: 'fjord-local-secret-key' }

/** The API answered with an error: `name` is MSK's exception name (NotFoundException, ...). */
export class MskApiError extends Error {
  constructor(
    readonly exception: string,
    message: string,
    readonly status: number | undefined,
  ) {
    super(message)
    this.name = 'MskApiError'
  }
}

/** No answer from the endpoint, or an answer that is not the MSK API. */
export class EndpointUnreachable extends Error {
  override name = 'EndpointUnreachable'
}

export interface MskOptions {
  endpoint: string
  region: string
  /** Deadline of each request. */
  timeoutMs: number
}

/** --endpoint / FJORD_ENDPOINT and --region / AWS_REGION, checked. */
export function mskOptions(values: { endpoint?: string | undefined; region?: string | undefined }, timeoutMs: number): MskOptions {
  const endpoint = (values.endpoint ?? process.env.FJORD_ENDPOINT ?? DEFAULT_ENDPOINT).replace(/\/+$/, '')
  let url: URL
  try {
    url = new URL(endpoint)
  } catch {
    throw new UsageError(`--endpoint must be a URL such as ${DEFAULT_ENDPOINT}, not '${endpoint}'`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--endpoint must be an http:// or https:// URL, not '${endpoint}'`)
  const region = values.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? DEFAULT_REGION
  if (!/^[a-z0-9-]+$/.test(region)) throw new UsageError(`--region must look like us-east-1, not '${region}'`)
  return { endpoint, region, timeoutMs }
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ECONNABORTED'])

/** An MSK client bound to one endpoint; every call's failure is an MskApiError or EndpointUnreachable. */
export class Msk {
  private readonly client: KafkaClient

  constructor(readonly options: MskOptions) {
    // The SDK warns on stderr that future versions need Node 22; not our users' concern.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'
    const { AWS_ACCESS_KEY_ID: id, AWS_SECRET_ACCESS_KEY: secret, AWS_SESSION_TOKEN: token } = process.env
    this.client = new KafkaClient({
      endpoint: options.endpoint,
      region: options.region,
      credentials: id && secret ? { accessKeyId: id, secretAccessKey: secret, ...(token ? { sessionToken: token } : {}) } : LOCAL_CREDENTIALS,
      maxAttempts: 3,
      requestHandler: { requestTimeout: options.timeoutMs, connectionTimeout: Math.min(options.timeoutMs, 10_000) },
    })
  }

  close(): void {
    this.client.destroy()
  }

  /** Runs one SDK call, translating its failure. */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (err) {
      throw this.translate(err)
    }
  }

  private translate(err: unknown): Error {
    const e = err as { name?: string; code?: string; message?: string; $fault?: string; $metadata?: { httpStatusCode?: number } }
    const status = e.$metadata?.httpStatusCode
    if (e.code !== undefined && NETWORK_CODES.has(e.code)) {
      return new EndpointUnreachable(`cannot reach the control plane at ${this.options.endpoint} (${e.code}); is it running? (fjord start, or fjord controlplane)`)
    }
    if (e.name === 'TimeoutError' || e.name === 'RequestTimeout') {
      return new EndpointUnreachable(`the control plane at ${this.options.endpoint} did not answer within ${this.options.timeoutMs} ms`)
    }
    const headers = (err as { $response?: { headers?: Record<string, string> } }).$response?.headers ?? {}
    if ((e.$fault === 'client' || e.$fault === 'server') && e.name === 'Unknown' && !Object.keys(headers).some((h) => h.toLowerCase() === 'x-amzn-errortype')) {
      // An error without MSK's error type: a proxy or another server answered, not the API.
      return new EndpointUnreachable(`${this.options.endpoint} answered HTTP ${status ?? '?'} but not as the MSK API (is it a Fjord control plane?)`)
    }
    if (e.$fault === 'client' || e.$fault === 'server') {
      const name = e.name && e.name !== 'Error' ? e.name : status !== undefined ? `HTTP ${status}` : 'Error'
      return new MskApiError(name, e.message ?? '', status)
    }
    if (status !== undefined) {
      // An answer the SDK could not read as the MSK API: something else listens there.
      return new EndpointUnreachable(`${this.options.endpoint} answered HTTP ${status} but not as the MSK API (is it a Fjord control plane?)`)
    }
    return err instanceof Error ? err : new Error(String(err))
  }

  // Clusters

  async createCluster(input: CreateClusterV2CommandInput): Promise<{ clusterArn: string; state: string }> {
    const out = await this.call(() => this.client.send(new CreateClusterV2Command(input)))
    return { clusterArn: out.ClusterArn!, state: out.State ?? 'CREATING' }
  }

  /** Every cluster whose name starts with `prefix` (MSK's ClusterNameFilter), all pages. */
  async listClusters(prefix?: string): Promise<Cluster[]> {
    const out: Cluster[] = []
    let token: string | undefined
    do {
      const page = await this.call(() => this.client.send(new ListClustersV2Command({ ...(prefix ? { ClusterNameFilter: prefix } : {}), ...(token ? { NextToken: token } : {}) })))
      out.push(...(page.ClusterInfoList ?? []))
      token = page.NextToken || undefined
    } while (token)
    return out
  }

  async describeCluster(arn: string): Promise<Cluster> {
    const out = await this.call(() => this.client.send(new DescribeClusterV2Command({ ClusterArn: arn })))
    return out.ClusterInfo!
  }

  /** The cluster, or null once it is gone (NotFoundException). */
  async describeClusterIfExists(arn: string): Promise<Cluster | null> {
    try {
      return await this.describeCluster(arn)
    } catch (err) {
      if (err instanceof MskApiError && err.exception === 'NotFoundException') return null
      throw err
    }
  }

  /**
   * A cluster's ARN from its name (exact match among the ListClustersV2 prefix matches) or the ARN
   * itself; a missing name is a NotFoundException like a missing ARN.
   */
  async resolveCluster(nameOrArn: string): Promise<string> {
    if (nameOrArn.startsWith('arn:')) return nameOrArn
    const matches = (await this.listClusters(nameOrArn)).filter((c) => c.ClusterName === nameOrArn)
    if (matches.length === 0) throw new MskApiError('NotFoundException', `no cluster named '${nameOrArn}' at ${this.options.endpoint} (region ${this.options.region})`, 404)
    if (matches.length > 1) throw new UsageError(`${matches.length} clusters are named '${nameOrArn}'; give the ARN:\n  ${matches.map((c) => c.ClusterArn).join('\n  ')}`)
    return matches[0]!.ClusterArn!
  }

  async bootstrapBrokers(arn: string): Promise<Omit<GetBootstrapBrokersCommandOutput, '$metadata'>> {
    const { $metadata: _, ...out } = await this.call(() => this.client.send(new GetBootstrapBrokersCommand({ ClusterArn: arn })))
    return out
  }

  async listNodes(arn: string): Promise<NodeInfo[]> {
    const out: NodeInfo[] = []
    let token: string | undefined
    do {
      const page = await this.call(() => this.client.send(new ListNodesCommand({ ClusterArn: arn, ...(token ? { NextToken: token } : {}) })))
      out.push(...(page.NodeInfoList ?? []))
      token = page.NextToken || undefined
    } while (token)
    return out
  }

  async updateBrokerCount(arn: string, currentVersion: string, brokers: number): Promise<string> {
    const out = await this.call(() => this.client.send(new UpdateBrokerCountCommand({ ClusterArn: arn, CurrentVersion: currentVersion, TargetNumberOfBrokerNodes: brokers })))
    return out.ClusterOperationArn!
  }

  /** `broker` 'ALL' or one broker id. */
  async updateBrokerStorage(arn: string, currentVersion: string, broker: string, volumeSizeGiB: number): Promise<string> {
    const out = await this.call(() =>
      this.client.send(new UpdateBrokerStorageCommand({ ClusterArn: arn, CurrentVersion: currentVersion, TargetBrokerEBSVolumeInfo: [{ KafkaBrokerNodeId: broker, VolumeSizeGB: volumeSizeGiB }] })),
    )
    return out.ClusterOperationArn!
  }

  async updateClusterConfiguration(arn: string, currentVersion: string, configuration: { arn: string; revision: number }): Promise<string> {
    const out = await this.call(() =>
      this.client.send(new UpdateClusterConfigurationCommand({ ClusterArn: arn, CurrentVersion: currentVersion, ConfigurationInfo: { Arn: configuration.arn, Revision: configuration.revision } })),
    )
    return out.ClusterOperationArn!
  }

  async rebootBroker(arn: string, brokerIds: string[]): Promise<string> {
    const out = await this.call(() => this.client.send(new RebootBrokerCommand({ ClusterArn: arn, BrokerIds: brokerIds })))
    return out.ClusterOperationArn!
  }

  async deleteCluster(arn: string): Promise<{ clusterArn: string; state: string }> {
    const out = await this.call(() => this.client.send(new DeleteClusterCommand({ ClusterArn: arn })))
    return { clusterArn: out.ClusterArn ?? arn, state: out.State ?? 'DELETING' }
  }

  /** Newest first, all pages. */
  async listOperations(arn: string): Promise<ClusterOperationInfo[]> {
    const out: ClusterOperationInfo[] = []
    let token: string | undefined
    do {
      const page = await this.call(() => this.client.send(new ListClusterOperationsCommand({ ClusterArn: arn, ...(token ? { NextToken: token } : {}) })))
      out.push(...(page.ClusterOperationInfoList ?? []))
      token = page.NextToken || undefined
    } while (token)
    return out
  }

  async describeOperation(operationArn: string): Promise<ClusterOperationInfo> {
    const out = await this.call(() => this.client.send(new DescribeClusterOperationCommand({ ClusterOperationArn: operationArn })))
    return out.ClusterOperationInfo!
  }

  // Configurations

  async createConfiguration(name: string, serverProperties: string, kafkaVersions: string[] | undefined, description: string | undefined): Promise<Omit<CreateConfigurationCommandOutput, '$metadata'>> {
    const { $metadata: _, ...out } = await this.call(() =>
      this.client.send(
        new CreateConfigurationCommand({
          Name: name,
          ServerProperties: Buffer.from(serverProperties, 'utf8'),
          ...(kafkaVersions ? { KafkaVersions: kafkaVersions } : {}),
          ...(description !== undefined ? { Description: description } : {}),
        }),
      ),
    )
    return out
  }

  async listConfigurations(): Promise<Configuration[]> {
    const out: Configuration[] = []
    let token: string | undefined
    do {
      const page = await this.call(() => this.client.send(new ListConfigurationsCommand({ ...(token ? { NextToken: token } : {}) })))
      out.push(...(page.Configurations ?? []))
      token = page.NextToken || undefined
    } while (token)
    return out
  }

  /** A configuration's ARN from its name or the ARN itself. */
  async resolveConfiguration(nameOrArn: string): Promise<string> {
    if (nameOrArn.startsWith('arn:')) return nameOrArn
    const matches = (await this.listConfigurations()).filter((c) => c.Name === nameOrArn)
    if (matches.length === 0) throw new MskApiError('NotFoundException', `no configuration named '${nameOrArn}' at ${this.options.endpoint} (region ${this.options.region})`, 404)
    if (matches.length > 1) throw new UsageError(`${matches.length} configurations are named '${nameOrArn}'; give the ARN`)
    return matches[0]!.Arn!
  }

  async describeConfiguration(arn: string): Promise<Omit<DescribeConfigurationCommandOutput, '$metadata'>> {
    const { $metadata: _, ...out } = await this.call(() => this.client.send(new DescribeConfigurationCommand({ Arn: arn })))
    return out
  }

  async describeConfigurationRevision(arn: string, revision: number): Promise<Omit<DescribeConfigurationRevisionCommandOutput, '$metadata'>> {
    const { $metadata: _, ...out } = await this.call(() => this.client.send(new DescribeConfigurationRevisionCommand({ Arn: arn, Revision: revision })))
    return out
  }

  async updateConfiguration(arn: string, serverProperties: string, description: string | undefined): Promise<Omit<UpdateConfigurationCommandOutput, '$metadata'>> {
    const { $metadata: _, ...out } = await this.call(() =>
      this.client.send(new UpdateConfigurationCommand({ Arn: arn, ServerProperties: Buffer.from(serverProperties, 'utf8'), ...(description !== undefined ? { Description: description } : {}) })),
    )
    return out
  }

  async deleteConfiguration(arn: string): Promise<{ arn: string; state: string }> {
    const out = await this.call(() => this.client.send(new DeleteConfigurationCommand({ Arn: arn })))
    return { arn: out.Arn ?? arn, state: out.State ?? 'DELETING' }
  }

  // Fjord extensions (not part of MSK; plain JSON)

  /** PUT /fjord/v1/clusters/{arn}/storage-autoscaling. */
  async putStorageAutoScaling(arn: string, body: { targetUtilization: number; maxVolumeSizeGiB: number; cooldownSeconds?: number }): Promise<unknown> {
    return this.fjord('PUT', `/fjord/v1/clusters/${encodeURIComponent(arn)}/storage-autoscaling`, body)
  }

  /** GET /fjord/v1/clusters/{arn}/usage: each broker's volume size and the bytes its logs hold. */
  async usage(arn: string): Promise<{ brokers: { brokerId: number; volumeSizeBytes: number; usedBytes: number | null; usedAt: string | null }[] }> {
    return (await this.fjord('GET', `/fjord/v1/clusters/${encodeURIComponent(arn)}/usage`)) as { brokers: { brokerId: number; volumeSizeBytes: number; usedBytes: number | null; usedAt: string | null }[] }
  }

  private async fjord(method: string, path: string, body?: unknown): Promise<unknown> {
    let res: Response
    try {
      res = await fetch(this.options.endpoint + path, {
        method,
        headers: { 'content-type': 'application/json' },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      })
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause
      if ((err as Error).name === 'TimeoutError') throw new EndpointUnreachable(`the control plane at ${this.options.endpoint} did not answer within ${this.options.timeoutMs} ms`)
      throw new EndpointUnreachable(`cannot reach the control plane at ${this.options.endpoint} (${cause?.code ?? (err as Error).message}); is it running? (fjord start, or fjord controlplane)`)
    }
    const text = await res.text()
    let json: unknown = undefined
    try {
      json = text ? JSON.parse(text) : {}
    } catch {
      throw new EndpointUnreachable(`${this.options.endpoint} answered HTTP ${res.status} but not as the Fjord control plane`)
    }
    if (!res.ok) {
      const type = res.headers.get('x-amzn-errortype')?.split(':')[0]
      const message = (json as { message?: string } | undefined)?.message ?? text
      throw new MskApiError(type ?? `HTTP ${res.status}`, message, res.status)
    }
    return json
  }
}

/** MSK's exception names end in 'Exception'; printed as `NotFoundException: message`. */
export function describeApiError(err: MskApiError): string {
  return `${err.exception}: ${err.message}`
}
