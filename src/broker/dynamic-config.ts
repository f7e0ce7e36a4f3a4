// Broker settings that change at run time (Kafka's dynamic broker configs), in two layers as Kafka
// keeps them: this broker's own (BROKER resource named by its id) over the cluster-wide default
// (BROKER resource ""), both over the static setting (flag, file, environment, default).
//
// As in Kafka (KRaft), both layers are cluster metadata: a change goes to the controller, which
// records the whole layer in the metadata log (a `brokerConfigs` record, src/controller/records.ts),
// and every broker takes the default layer and its own id's layer from its metadata image, so a
// "" change reaches every broker and a restarted broker gets its layers back from the controller
// when it joins. This class holds the layers the broker runs with and applies every effective
// value that changes (the volume quota, the replication quotas: Broker.applyDynamicSetting).
//
// Which keys are dynamic and what values they accept: src/controller/broker-configs.ts.

import type { BrokerSettings } from './config.js'
import { dynamicSettingDefs } from '../controller/broker-configs.js'

export { checkDynamicKeys, dynamicSettingDefs, isDynamicSetting, validateDynamicSetting, type DynamicSettingDef } from '../controller/broker-configs.js'

export type DynamicScope = 'broker' | 'default'

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
   * Replaces the overrides of the layers given (keys and values already validated), both at once
   * so that no value in between is applied, then applies every effective value that changed.
   */
  replace(next: Partial<Record<DynamicScope, ReadonlyMap<string, string>>>): void {
    const before = new Map([...dynamicSettingDefs.keys()].map((n) => [n, this.value(n)]))
    for (const scope of ['broker', 'default'] as const) {
      const layer = next[scope]
      if (layer) this.layers[scope] = new Map(layer)
    }
    for (const [name, old] of before) {
      const now = this.value(name)
      if (now !== old && now !== undefined) this.apply(name, now)
    }
  }
}
