// Broker settings that change at run time (Kafka's dynamic broker configs), kept in memory in two
// layers as Kafka keeps them: this broker's own (BROKER resource named by its id) over the
// cluster-wide default (BROKER resource ""), both over the static setting (flag, file,
// environment, default). Fjord keeps neither layer across a restart: whoever changes a setting
// live (the launcher, the control plane) passes it again with --set when it restarts the broker.
//
// Dynamic: volume.size.bytes, and the replication throttles follower.replication.throttled.rate
// and leader.replication.throttled.rate (bytes/s over the replicas a reassignment adds, see
// src/replication/quota.ts; the control plane sets them around a reassignment). Other keys are refused by the handlers as today: Kafka's
// answer for a static setting, INVALID_REQUEST "Cannot update these configs dynamically".
// A "" change reaches only the broker that receives it: Fjord has no cluster-wide config store.

import { ErrorCode, KafkaError } from '../protocol/errors.js'
import type { BrokerSettings } from './config.js'

export type DynamicScope = 'broker' | 'default'

export interface DynamicSettingDef {
  name: string
  /** Throws INVALID_CONFIG when the value is not acceptable. */
  validate(value: string): void
}

function volumeSize(value: string): void {
  const n = /^-?\d+$/.test(value.trim()) ? Number(value) : NaN
  if (!Number.isSafeInteger(n) || n < -1) {
    throw new KafkaError(ErrorCode.INVALID_CONFIG, `Invalid value ${value} for configuration volume.size.bytes: must be -1 (the file system's size) or a number of bytes`)
  }
}

function throttleRate(name: string): (value: string) => void {
  return (value) => {
    const n = /^\d+$/.test(value.trim()) ? Number(value) : NaN
    if (!Number.isSafeInteger(n)) {
      throw new KafkaError(ErrorCode.INVALID_CONFIG, `Invalid value ${value} for configuration ${name}: must be 0 (no throttle) or a number of bytes per second`)
    }
  }
}

export const dynamicSettingDefs: ReadonlyMap<string, DynamicSettingDef> = new Map([
  ['volume.size.bytes', { name: 'volume.size.bytes', validate: volumeSize }],
  ...['follower.replication.throttled.rate', 'leader.replication.throttled.rate'].map((name) => [name, { name, validate: throttleRate(name) }] as const),
])

export function isDynamicSetting(name: string): boolean {
  return dynamicSettingDefs.has(name)
}

/** Refuses keys that are not dynamic, as Kafka refuses static settings. */
export function checkDynamicKeys(names: readonly string[]): void {
  const refused = names.filter((n) => !isDynamicSetting(n))
  if (refused.length > 0) throw new KafkaError(ErrorCode.INVALID_REQUEST, `Cannot update these configs dynamically: ${refused.join(', ')}`)
}

export class DynamicBrokerConfig {
  private readonly layers: Record<DynamicScope, Map<string, string>> = { broker: new Map(), default: new Map() }

  /** `apply` is called with a setting's new effective value whenever it changes. */
  constructor(
    private readonly statics: BrokerSettings,
    private readonly apply: (name: string, value: string) => void,
  ) {}

  /** The value the broker runs with: its own override, the cluster default, the static setting. */
  value(name: string): string | undefined {
    return this.layers.broker.get(name) ?? this.layers.default.get(name) ?? this.statics[name]
  }

  /** The overrides of one layer. */
  overrides(scope: DynamicScope): ReadonlyMap<string, string> {
    return this.layers[scope]
  }

  /**
   * Replaces the overrides of a layer by `next` (keys already checked to be dynamic): validates
   * every value (INVALID_CONFIG), then, unless validateOnly, applies every effective value that changed.
   */
  replace(scope: DynamicScope, next: ReadonlyMap<string, string>, validateOnly: boolean): void {
    for (const [name, value] of next) dynamicSettingDefs.get(name)!.validate(value)
    if (validateOnly) return
    const before = new Map([...dynamicSettingDefs.keys()].map((n) => [n, this.value(n)]))
    this.layers[scope] = new Map(next)
    for (const [name, old] of before) {
      const now = this.value(name)
      if (now !== old && now !== undefined) this.apply(name, now)
    }
  }
}
