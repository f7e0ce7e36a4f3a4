// Which broker settings may change at run time (Kafka's dynamic broker configs) and what values
// they accept, in one place for the broker that receives a change and the controller that records
// it (the controller cannot import the broker's code, as with topic-configs.ts).
//
// Dynamic: volume.size.bytes, and the replication throttles follower.replication.throttled.rate
// and leader.replication.throttled.rate (bytes/s over the replicas a reassignment adds, see
// src/replication/quota.ts). Any other key is refused as Kafka refuses a static setting:
// INVALID_REQUEST "Cannot update these configs dynamically"; a bad value is INVALID_CONFIG.

import { ErrorCode, KafkaError } from '../protocol/errors.js'

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

/** Throws INVALID_REQUEST for a key that is not dynamic, INVALID_CONFIG for a bad value. */
export function validateDynamicSetting(name: string, value: string): void {
  checkDynamicKeys([name])
  dynamicSettingDefs.get(name)!.validate(value)
}

/**
 * The canonical name of a BROKER config resource as the controller records it: "" (the cluster
 * default) or a broker id, registered or not (Kafka's controller checks no more than that).
 */
export function brokerConfigResource(name: string): string {
  if (name === '') return ''
  if (!/^-?\d+$/.test(name) || !Number.isSafeInteger(Number(name))) throw new KafkaError(ErrorCode.INVALID_REQUEST, `Unable to parse broker name as a base 10 number: ${name}`)
  if (Number(name) < 0) throw new KafkaError(ErrorCode.INVALID_REQUEST, `Invalid negative broker ID: ${name}`)
  return String(Number(name))
}
