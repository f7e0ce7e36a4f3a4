// IncrementalAlterConfigs: changes single keys of a resource: SET (0), DELETE (1, back to the
// default), APPEND (2) and SUBTRACT (3) on list-typed keys (comma-separated values; appending
// skips values already present; anything else is INVALID_CONFIG "Can't APPEND to key …").
// Each resource succeeds or fails as a whole; validateOnly checks without changing anything.
// As in Kafka: a resource named twice is INVALID_REQUEST for each occurrence; a key named twice,
// an unknown operation, or a null value for anything but DELETE is INVALID_REQUEST.
// - TOPIC: the resulting overrides must all be known keys with valid values (INVALID_CONFIG
//   naming the key); DELETE of a key that is not set is a no-op. Unknown topic:
//   UNKNOWN_TOPIC_OR_PARTITION.
// - BROKER ("" for the cluster default, or this broker's id): SET and DELETE of a dynamic
//   setting (volume.size.bytes, follower/leader.replication.throttled.rate:
//   src/broker/dynamic-config.ts) are checked here, then the controller merges them into that
//   layer of the cluster metadata, from which every broker (for "") or this one applies them; the
//   answer comes once this broker runs with them. A bad value is INVALID_CONFIG, APPEND/SUBTRACT
//   INVALID_CONFIG (not a list). Any other key is INVALID_REQUEST ("Cannot update these configs
//   dynamically"), as Kafka answers for static settings. Another broker's id is INVALID_REQUEST,
//   as Kafka's broker answers (Kafka's admin clients send it to that broker). No controller
//   within controller.request.timeout.ms: REQUEST_TIMED_OUT (retriable).
// - BROKER_LOGGER (this broker's id): Fjord has no named loggers, so SET or DELETE of a logger is
//   INVALID_CONFIG ("Logger … does not exist!"), APPEND/SUBTRACT INVALID_REQUEST, as in Kafka.
// Deviation: APPEND/SUBTRACT on a key without override start from its effective value (which
// includes the broker's synonym setting); Kafka starts from the key's static default.

import { Apis } from '../../protocol/apis.js'
import { ErrorCode, KafkaError } from '../../protocol/errors.js'
import { effectiveConfig, topicConfigDefs, validateTopicConfig } from '../../controller/topic-configs.js'
import type { Broker } from '../broker.js'
import { defineHandler } from '../registry.js'
import { brokerScope, checkNoDuplicateKeys, checkTopicExists, checkTopicResourceName, duplicateResources } from './alter-configs.js'
import { ResourceType, checkBrokerResourceName } from './describe-configs.js'

export const OpType = { SET: 0, DELETE: 1, APPEND: 2, SUBTRACT: 3 } as const
const OP_NAMES = ['SET', 'DELETE', 'APPEND', 'SUBTRACT']

interface Op {
  name: string
  configOperation: number
  value: string | null
}

function parts(value: string): string[] {
  return value.split(',').filter((s) => s !== '')
}

/** The topic's overrides after applying the operations; throws INVALID_CONFIG on a bad one. */
function applyTopicOps(broker: Broker, topic: string, ops: readonly Op[]): Record<string, string> {
  const overrides = { ...(broker.metadata.topic(topic)?.configs ?? {}) }
  for (const op of ops) {
    switch (op.configOperation) {
      case OpType.SET:
        overrides[op.name] = op.value!
        break
      case OpType.DELETE:
        delete overrides[op.name]
        break
      case OpType.APPEND:
      case OpType.SUBTRACT: {
        const def = topicConfigDefs.get(op.name)
        if (!def || def.type !== 'list') {
          throw new KafkaError(ErrorCode.INVALID_CONFIG, `Can't ${OP_NAMES[op.configOperation]} to key ${op.name} because its type is not LIST.`)
        }
        const current = parts(overrides[op.name] ?? effectiveConfig(op.name, {}, broker.settings))
        const given = parts(op.value!)
        const next = op.configOperation === OpType.APPEND
          ? [...current, ...given.filter((v, i) => !current.includes(v) && given.indexOf(v) === i)]
          : current.filter((v) => !given.includes(v))
        overrides[op.name] = next.join(',')
        break
      }
    }
  }
  for (const [k, v] of Object.entries(overrides)) validateTopicConfig(k, v)
  return overrides
}

/** A BROKER resource: SET and DELETE of dynamic settings on the layer it names (null: DELETE). */
async function alterBroker(broker: Broker, resourceName: string, ops: readonly Op[], validateOnly: boolean): Promise<void> {
  const scope = brokerScope(broker, resourceName, ops.map((op) => op.name))
  const changes = new Map<string, string | null>()
  for (const op of ops) {
    if (op.configOperation === OpType.SET) changes.set(op.name, op.value!)
    else if (op.configOperation === OpType.DELETE) changes.set(op.name, null)
    else throw new KafkaError(ErrorCode.INVALID_CONFIG, `Can't ${OP_NAMES[op.configOperation]} to key ${op.name} because its type is not LIST.`)
  }
  await broker.alterDynamicConfigs(scope, changes, false, validateOnly)
}

function alterLoggers(broker: Broker, resourceName: string, ops: readonly Op[]): void {
  checkBrokerResourceName(broker, resourceName)
  for (const op of ops) {
    if (op.configOperation === OpType.SET || op.configOperation === OpType.DELETE) {
      throw new KafkaError(ErrorCode.INVALID_CONFIG, `Logger ${op.name} does not exist!`)
    }
    throw new KafkaError(ErrorCode.INVALID_REQUEST, `${OP_NAMES[op.configOperation]} operation is not allowed for the BROKER_LOGGER resource`)
  }
}

export const incrementalAlterConfigsHandler = defineHandler(Apis.IncrementalAlterConfigs, async (ctx, req) => {
  const { broker } = ctx
  const duplicates = duplicateResources(req.resources)
  const responses = await Promise.all(req.resources.map(async (r, i) => {
    const base = { resourceType: r.resourceType, resourceName: r.resourceName }
    try {
      if (duplicates.has(i)) throw new KafkaError(ErrorCode.INVALID_REQUEST, 'Each resource must appear at most once.')
      checkNoDuplicateKeys(r.configs)
      const bad = r.configs.find((c) => c.configOperation < 0 || c.configOperation > 3)
      if (bad) throw new KafkaError(ErrorCode.INVALID_REQUEST, `Unknown operations type ${bad.configOperation}`)
      const nulls = r.configs.filter((c) => c.value === null && c.configOperation !== OpType.DELETE).map((c) => c.name)
      if (nulls.length > 0) throw new KafkaError(ErrorCode.INVALID_REQUEST, `Null value not supported for : ${nulls.join(', ')}`)
      switch (r.resourceType) {
        case ResourceType.TOPIC: {
          checkTopicResourceName(r.resourceName)
          const overrides = applyTopicOps(broker, r.resourceName, r.configs)
          checkTopicExists(broker, r.resourceName)
          await broker.setTopicConfigs(r.resourceName, overrides, req.validateOnly)
          break
        }
        case ResourceType.BROKER:
          await alterBroker(broker, r.resourceName, r.configs, req.validateOnly)
          break
        case ResourceType.BROKER_LOGGER:
          alterLoggers(broker, r.resourceName, r.configs)
          break
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
