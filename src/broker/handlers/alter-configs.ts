// AlterConfigs (the legacy API): replaces the whole set of overrides of a resource; keys left out
// return to their defaults. validateOnly checks without changing anything. As in Kafka
// (ConfigAdminManager.preprocess, then the controller): a resource named twice is INVALID_REQUEST
// for each occurrence; a key named twice, or a null value, is INVALID_REQUEST.
// - TOPIC: the name must be valid (INVALID_TOPIC_EXCEPTION; "" is INVALID_REQUEST), every key
//   known and every value valid (INVALID_CONFIG naming the key), and the topic must exist
//   (UNKNOWN_TOPIC_OR_PARTITION).
// - BROKER ("" for the cluster default, or this broker's id): the given keys replace the dynamic
//   overrides of that layer (src/broker/dynamic-config.ts): checked here, then recorded by the
//   controller in the cluster metadata, from which every broker (for "") or this one applies
//   them; the answer comes once this broker runs with them. Only volume.size.bytes and the
//   replication throttles are dynamic; any other key is INVALID_REQUEST ("Cannot update these
//   configs dynamically"), as Kafka answers for static settings; a bad value is INVALID_CONFIG; an
//   empty set removes the layer's overrides. Another broker id is INVALID_REQUEST, as Kafka's
//   broker answers. No controller within controller.request.timeout.ms: REQUEST_TIMED_OUT.
// - Any other resource type (BROKER_LOGGER included, which the legacy API never supported) is
//   INVALID_REQUEST.

import { Apis } from '../../protocol/apis.js'
import { ErrorCode, KafkaError } from '../../protocol/errors.js'
import { validateTopicName } from '../../controller/topic-names.js'
import { validateTopicConfig } from '../../controller/topic-configs.js'
import type { Broker } from '../broker.js'
import { checkDynamicKeys, type DynamicScope } from '../dynamic-config.js'
import { defineHandler } from '../registry.js'
import { ResourceType, checkBrokerResourceName } from './describe-configs.js'

/** Indexes of resources (type and name) that appear more than once. */
export function duplicateResources(resources: readonly { resourceType: number; resourceName: string }[]): Set<number> {
  const first = new Map<string, number>()
  const dup = new Set<number>()
  resources.forEach((r, i) => {
    const key = `${r.resourceType}\0${r.resourceName}`
    const j = first.get(key)
    if (j === undefined) first.set(key, i)
    else { dup.add(i); dup.add(j) }
  })
  return dup
}

export function checkNoDuplicateKeys(configs: readonly { name: string }[]): void {
  const names = new Set<string>()
  for (const c of configs) {
    if (names.has(c.name)) throw new KafkaError(ErrorCode.INVALID_REQUEST, 'Error due to duplicate config keys')
    names.add(c.name)
  }
}

export function checkTopicResourceName(name: string): void {
  if (name === '') throw new KafkaError(ErrorCode.INVALID_REQUEST, 'Default topic resources are not allowed.')
  validateTopicName(name)
}

export function checkTopicExists(broker: Broker, name: string): void {
  if (!broker.metadata.topic(name)) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `The topic '${name}' does not exist.`)
}

/**
 * The dynamic layer a BROKER resource names ("" the cluster default, else this broker's id), once
 * its keys are all dynamic settings; the others are refused the way Kafka refuses static ones.
 */
export function brokerScope(broker: Broker, resourceName: string, keys: readonly string[]): DynamicScope {
  if (resourceName !== '') checkBrokerResourceName(broker, resourceName)
  checkDynamicKeys(keys)
  return resourceName === '' ? 'default' : 'broker'
}

export const alterConfigsHandler = defineHandler(Apis.AlterConfigs, async (ctx, req) => {
  const { broker } = ctx
  const duplicates = duplicateResources(req.resources)
  const responses = await Promise.all(req.resources.map(async (r, i) => {
    const base = { resourceType: r.resourceType, resourceName: r.resourceName }
    try {
      if (duplicates.has(i)) throw new KafkaError(ErrorCode.INVALID_REQUEST, 'Each resource must appear at most once.')
      checkNoDuplicateKeys(r.configs)
      const nulls = r.configs.filter((c) => c.value === null).map((c) => c.name)
      if (nulls.length > 0) throw new KafkaError(ErrorCode.INVALID_REQUEST, `Null value not supported for : ${nulls.join(', ')}`)
      switch (r.resourceType) {
        case ResourceType.TOPIC: {
          checkTopicResourceName(r.resourceName)
          const configs: Record<string, string> = {}
          for (const c of r.configs) {
            validateTopicConfig(c.name, c.value)
            configs[c.name] = c.value!
          }
          checkTopicExists(broker, r.resourceName)
          await broker.setTopicConfigs(r.resourceName, configs, req.validateOnly)
          break
        }
        case ResourceType.BROKER: {
          const scope = brokerScope(broker, r.resourceName, r.configs.map((c) => c.name))
          await broker.alterDynamicConfigs(scope, new Map(r.configs.map((c) => [c.name, c.value!])), true, req.validateOnly)
          break
        }
        default:
          throw new KafkaError(ErrorCode.INVALID_REQUEST, `Unknown resource type ${r.resourceType}`)
      }
      return { ...base, errorCode: 0, errorMessage: null }
    } catch (err) {
      if (!(err instanceof KafkaError)) throw err
      return { ...base, errorCode: err.code, errorMessage: err.message }
    }
  }))
  return { throttleTimeMs: 0, responses }
})
