// DescribeConfigs: the configuration of topics (type 2), of this broker (type 4) and of its
// loggers (type 8), as Kafka's ConfigHelper answers it.
//
// - TOPIC: every topic config with its effective value. configSource (v1+) says where the value
//   comes from: DYNAMIC_TOPIC_CONFIG for a topic override, STATIC_BROKER_CONFIG when the broker
//   synonym (retention.ms ← log.retention.ms) was set explicitly, DEFAULT_CONFIG otherwise; v0
//   says the same with isDefault. Synonyms (v1+, when asked) list the chain most specific first.
//   An invalid name answers INVALID_TOPIC_EXCEPTION, an unknown topic UNKNOWN_TOPIC_OR_PARTITION.
// - BROKER: resourceName "" means the cluster-wide dynamic defaults: those set live
//   (DYNAMIC_DEFAULT_BROKER_CONFIG), as this broker has them from the cluster metadata. This
//   broker's id gives every broker setting with the value it runs with: DYNAMIC_BROKER_CONFIG /
//   DYNAMIC_DEFAULT_BROKER_CONFIG when changed live (src/broker/dynamic-config.ts; kept in the
//   metadata across restarts), STATIC_BROKER_CONFIG when set explicitly, DEFAULT_CONFIG when
//   left at its default; read-only except the dynamic ones (volume.size.bytes, follower/leader.replication.throttled.rate). Another id is
//   INVALID_REQUEST.
// - BROKER_LOGGER: this broker's id answers an empty list (Fjord has no per-logger levels).
// configurationKeys null or [] means all keys (Kafka treats both alike); unknown keys are left out.
// Deviations: whether a broker setting was "set explicitly" is judged by comparing it with its
// built-in default, so a setting explicitly set to its default value reports DEFAULT_CONFIG.
// Broker settings have no declared type, so configType is inferred from the value.

import { Apis } from '../../protocol/apis.js'
import { ErrorCode, KafkaError } from '../../protocol/errors.js'
import { validateTopicName } from '../../controller/topic-names.js'
import {
  ConfigSource, ConfigTypeCode, describeTopicConfig, topicConfigDefs,
  type BrokerConfigView, type ConfigDef, type ConfigType, type DescribedConfig,
} from '../../controller/topic-configs.js'
import { brokerSettingDefs, type BrokerSettings } from '../config.js'
import type { Broker } from '../broker.js'
import { isDynamicSetting } from '../dynamic-config.js'
import { defineHandler } from '../registry.js'

export const ResourceType = { TOPIC: 2, BROKER: 4, BROKER_LOGGER: 8 } as const

const settingDefaults: ReadonlyMap<string, string> = new Map(brokerSettingDefs.map((d) => [d.name, d.default]))
const settingDocs: ReadonlyMap<string, string> = new Map(brokerSettingDefs.map((d) => [d.name, d.doc]))
/** Broker settings that are the default of a topic config, e.g. log.retention.ms → retention.ms. */
const topicDefBySynonym: ReadonlyMap<string, ConfigDef> = new Map(
  [...topicConfigDefs.values()].flatMap((d) => (d.synonym ? [[d.synonym, d] as const] : [])),
)
const SENSITIVE = /password|secret|jaas|credential|token/i

export function brokerConfigView(settings: BrokerSettings): BrokerConfigView {
  return {
    value: (name) => settings[name],
    isExplicit: (name) => settings[name] !== undefined && settings[name] !== settingDefaults.get(name),
    defaultOf: (name) => settingDefaults.get(name),
  }
}

/** Every topic config of a topic (or of a topic about to be created), sorted by name. */
export function topicConfigEntries(broker: Broker, overrides: Readonly<Record<string, string>>): DescribedConfig[] {
  const view = brokerConfigView(broker.settings)
  return [...topicConfigDefs.values()].map((d) => describeTopicConfig(d, overrides, view)).sort((a, b) => (a.name < b.name ? -1 : 1))
}

function inferType(name: string, value: string): ConfigType {
  const topicDef = topicDefBySynonym.get(name)
  if (topicDef) return topicDef.type
  if (name === 'volume.size.bytes') return 'long'
  if (SENSITIVE.test(name)) return 'password'
  if (value === 'true' || value === 'false') return 'boolean'
  if (/^-?\d+$/.test(value)) return Math.abs(Number(value)) <= 2 ** 31 - 1 ? 'int' : 'long'
  return 'string'
}

/** Every setting of this broker: the declared ones, any others it was given, and the topic defaults. */
function brokerConfigEntries(broker: Broker): DescribedConfig[] {
  const settings = broker.settings
  const view = brokerConfigView(settings)
  const names = new Set([...settingDefaults.keys(), ...Object.keys(settings), ...topicDefBySynonym.keys()])
  const own = broker.dynamicConfig.overrides('broker')
  const clusterDefault = broker.dynamicConfig.overrides('default')
  const out: DescribedConfig[] = []
  for (const name of [...names].sort()) {
    const def = settingDefaults.get(name) ?? topicDefBySynonym.get(name)?.default
    const value = broker.dynamicConfig.value(name) ?? def ?? ''
    const sensitive = SENSITIVE.test(name)
    const shown = sensitive ? null : value
    const synonyms = []
    const live = own.get(name)
    if (live !== undefined) synonyms.push({ name, value: live, source: ConfigSource.DYNAMIC_BROKER_CONFIG })
    const liveDefault = clusterDefault.get(name)
    if (liveDefault !== undefined) synonyms.push({ name, value: liveDefault, source: ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG })
    if (view.isExplicit(name)) synonyms.push({ name, value: sensitive ? null : settings[name]!, source: ConfigSource.STATIC_BROKER_CONFIG })
    if (def !== undefined) synonyms.push({ name, value: sensitive ? null : def, source: ConfigSource.DEFAULT_CONFIG })
    const topicDef = topicDefBySynonym.get(name)
    out.push({
      name,
      value: shown,
      source: synonyms[0]?.source ?? ConfigSource.DEFAULT_CONFIG,
      readOnly: !isDynamicSetting(name),
      sensitive,
      type: inferType(name, value),
      doc: settingDocs.get(name) ?? (topicDef ? `Default of the topic config ${topicDef.name}: ${topicDef.doc}` : ''),
      synonyms,
    })
  }
  return out
}

/** The cluster-wide dynamic defaults set live (BROKER resource ""). */
function clusterDefaultEntries(broker: Broker): DescribedConfig[] {
  return [...broker.dynamicConfig.overrides('default')].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, value]) => ({
    name,
    value,
    source: ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG,
    readOnly: false,
    sensitive: false,
    type: inferType(name, value),
    doc: settingDocs.get(name) ?? '',
    synonyms: [{ name, value, source: ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG }],
  }))
}

/** The broker id a BROKER or BROKER_LOGGER resource names, as Kafka checks it. */
export function checkBrokerResourceName(broker: Broker, name: string): void {
  if (!/^-?\d+$/.test(name)) throw new KafkaError(ErrorCode.INVALID_REQUEST, `Broker id must be an integer, but it is: ${name}`)
  if (Number(name) !== broker.brokerId) {
    throw new KafkaError(ErrorCode.INVALID_REQUEST, `Unexpected broker id, expected ${broker.brokerId} or empty string, but received ${name}`)
  }
}

function resourceConfigs(broker: Broker, resourceType: number, resourceName: string): DescribedConfig[] {
  switch (resourceType) {
    case ResourceType.TOPIC: {
      validateTopicName(resourceName)
      const topic = broker.metadata.topic(resourceName)
      if (!topic) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic ${resourceName} does not exist.`)
      return topicConfigEntries(broker, topic.configs)
    }
    case ResourceType.BROKER:
      if (resourceName === '') return clusterDefaultEntries(broker)
      checkBrokerResourceName(broker, resourceName)
      return brokerConfigEntries(broker)
    case ResourceType.BROKER_LOGGER:
      if (resourceName === '') throw new KafkaError(ErrorCode.INVALID_REQUEST, 'Broker id must not be empty')
      checkBrokerResourceName(broker, resourceName)
      return []
    default:
      throw new KafkaError(ErrorCode.INVALID_REQUEST, `Unsupported resource type: ${resourceType}`)
  }
}

export const describeConfigsHandler = defineHandler(Apis.DescribeConfigs, (ctx, req) => {
  const { broker, version } = ctx
  const results = req.resources.map((r) => {
    const base = { resourceType: r.resourceType, resourceName: r.resourceName }
    try {
      let configs = resourceConfigs(broker, r.resourceType, r.resourceName)
      const keys = r.configurationKeys
      if (keys !== null && keys.length > 0) configs = configs.filter((c) => keys.includes(c.name))
      return {
        ...base,
        errorCode: 0,
        errorMessage: null,
        configs: configs.map((c) => ({
          name: c.name,
          value: c.value,
          readOnly: c.readOnly,
          isDefault: c.source === ConfigSource.DEFAULT_CONFIG,
          configSource: c.source,
          isSensitive: c.sensitive,
          synonyms: version >= 1 && req.includeSynonyms ? c.synonyms : [],
          configType: ConfigTypeCode[c.type],
          documentation: req.includeDocumentation ? c.doc : null,
        })),
      }
    } catch (err) {
      if (!(err instanceof KafkaError)) throw err
      return { ...base, errorCode: err.code, errorMessage: err.message, configs: [] }
    }
  })
  return { throttleTimeMs: 0, results }
})
