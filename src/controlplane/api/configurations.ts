// Configurations: Create/List/Describe/Update/Delete, ListConfigurationRevisions,
// DescribeConfigurationRevision. serverProperties travels base64-encoded and must decode to
// `key=value` lines of Kafka-looking keys (comments and blank lines allowed).

import { randomUUID } from 'node:crypto'
import { configurationArn, parseArn } from '../arn.js'
import { badRequest, conflict, notFound } from '../errors.js'
import type { ConfigurationRecord, ConfigurationRevision } from '../model.js'
import type { ApiContext, ApiRequest, ApiResponse } from './context.js'
import { isKnownVersion } from './kafka-versions.js'
import { findConfiguration } from './lookup.js'
import { configuration, configurationRevision, latestRevision } from './shapes.js'
import { CLUSTER_NAME, fail, optionalString, optionalStringList, page, requiredString, type Json } from './validate.js'

/** A Kafka property name: lowercase words joined by dots, hyphens or underscores. */
const PROPERTY_KEY = /^[a-z][a-z0-9]*([._-][a-z0-9]+)*$/

/** Decodes the base64 serverProperties member and checks its lines; returns the text. */
export function serverProperties(body: Json): string {
  const encoded = requiredString(body, 'serverProperties').replace(/\s+/g, '')
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(encoded) || encoded.length % 4 === 1) fail('serverProperties', 'must be base64-encoded')
  const text = Buffer.from(encoded, 'base64').toString('utf8')
  let properties = 0
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim()
    if (line === '' || line.startsWith('#') || line.startsWith('!')) return
    const eq = line.indexOf('=')
    if (eq <= 0) fail('serverProperties', `line ${i + 1} is not key=value: ${JSON.stringify(line.slice(0, 80))}`)
    const key = line.slice(0, eq).trim()
    if (!PROPERTY_KEY.test(key)) fail('serverProperties', `line ${i + 1}: ${JSON.stringify(key.slice(0, 80))} is not a Kafka property name`)
    properties++
  })
  if (properties === 0) fail('serverProperties', 'must hold at least one key=value line')
  return text
}

function configurationsOf(ctx: ApiContext, region: string): ConfigurationRecord[] {
  return ctx.store.listConfigurations().filter((c) => parseArn(c.arn)?.region === region)
}

export function createConfiguration(req: ApiRequest, ctx: ApiContext): ApiResponse {
  const name = requiredString(req.body, 'name', CLUSTER_NAME)
  const description = optionalString(req.body, 'description', { max: 1024 }) ?? ''
  const kafkaVersions = optionalStringList(req.body, 'kafkaVersions') ?? []
  for (const v of kafkaVersions) if (!isKnownVersion(v)) fail('kafkaVersions', `names ${v}, not a Kafka version Fjord offers`)
  const text = serverProperties(req.body)
  if (configurationsOf(ctx, req.region).some((c) => c.name === name)) {
    throw conflict(`A configuration named ${name} already exists in ${req.region}`, 'name')
  }
  const now = ctx.now().toISOString()
  const record: ConfigurationRecord = {
    arn: configurationArn(req.region, ctx.account, name, randomUUID()),
    name,
    description,
    kafkaVersions,
    creationTime: now,
    state: 'ACTIVE',
    revisions: [{ revision: 1, description, creationTime: now, serverProperties: text }],
  }
  ctx.store.insertConfiguration(record)
  const latest = configurationRevision(latestRevision(record))
  return { body: { arn: record.arn, creationTime: record.creationTime, latestRevision: latest, name, state: record.state } }
}

export function listConfigurations(req: ApiRequest, ctx: ApiContext): ApiResponse {
  const { items, nextToken } = page(configurationsOf(ctx, req.region), req.query)
  return { body: { configurations: items.map(configuration), nextToken } }
}

export function describeConfiguration(req: ApiRequest, ctx: ApiContext): ApiResponse {
  return { body: configuration(findConfiguration(ctx, req.params.arn ?? '')) }
}

export function updateConfiguration(req: ApiRequest, ctx: ApiContext): ApiResponse {
  const arn = req.params.arn ?? ''
  findConfiguration(ctx, arn)
  const description = optionalString(req.body, 'description', { max: 1024 })
  const text = serverProperties(req.body)
  const updated = ctx.store.updateConfiguration(arn, (c) => {
    const revision: ConfigurationRevision = {
      revision: latestRevision(c).revision + 1,
      description: description ?? '',
      creationTime: ctx.now().toISOString(),
      serverProperties: text,
    }
    c.revisions.push(revision)
  })
  return { body: { arn, latestRevision: configurationRevision(latestRevision(updated)) } }
}

/** Refused (400) while a cluster uses the configuration or an unfinished operation moves one to it. */
export function deleteConfiguration(req: ApiRequest, ctx: ApiContext): ApiResponse {
  const config = findConfiguration(ctx, req.params.arn ?? '')
  const user = ctx.store.listClusters().find((c) => c.spec.configurationInfo?.arn === config.arn)
  if (user !== undefined) throw badRequest(`Configuration ${config.name} is in use by cluster ${user.name}`, 'arn')
  const pending = ctx.store.unfinishedOperations().find((op) => op.targetClusterInfo?.configurationInfo?.arn === config.arn)
  if (pending !== undefined) throw badRequest(`Configuration ${config.name} is in use by operation ${pending.arn}`, 'arn')
  ctx.store.deleteConfiguration(config.arn)
  return { body: { arn: config.arn, state: 'DELETING' } }
}

export function listConfigurationRevisions(req: ApiRequest, ctx: ApiContext): ApiResponse {
  const config = findConfiguration(ctx, req.params.arn ?? '')
  const { items, nextToken } = page(config.revisions, req.query)
  return { body: { revisions: items.map(configurationRevision), nextToken } }
}

export function describeConfigurationRevision(req: ApiRequest, ctx: ApiContext): ApiResponse {
  const config = findConfiguration(ctx, req.params.arn ?? '')
  const raw = req.params.revision ?? ''
  if (!/^\d{1,15}$/.test(raw)) fail('revision', `must be a revision number (got ${JSON.stringify(raw)})`)
  const revision = config.revisions.find((r) => r.revision === Number(raw))
  if (revision === undefined) throw notFound(`Configuration ${config.name} has no revision ${raw}`, 'revision')
  return {
    body: {
      arn: config.arn,
      creationTime: revision.creationTime,
      description: revision.description,
      revision: revision.revision,
      serverProperties: Buffer.from(revision.serverProperties, 'utf8').toString('base64'),
    },
  }
}
