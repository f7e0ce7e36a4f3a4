import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Reader } from './primitives.js'
import { ApiVersionsResponse } from './messages/api-versions.js'
import { arrayField, field, message, t } from './schema.js'

test('ApiVersions response round-trips at every version, tagged fields included', () => {
  for (let v = ApiVersionsResponse.versions.min; v <= ApiVersionsResponse.versions.max; v++) {
    const value = {
      errorCode: 0,
      apiKeys: [{ apiKey: 0, minVersion: 0, maxVersion: 11 }, { apiKey: 18, minVersion: 0, maxVersion: 4 }],
      throttleTimeMs: v >= 1 ? 7 : 0,
      finalizedFeaturesEpoch: v >= 3 ? 42 : -1,
    }
    const bytes = ApiVersionsResponse.encode(v, value).toBuffer()
    const r = new Reader(bytes)
    const back = ApiVersionsResponse.decode(v, r)
    assert.equal(r.remaining, 0)
    assert.deepEqual(back.apiKeys, value.apiKeys)
    assert.equal(back.throttleTimeMs, value.throttleTimeMs)
    assert.equal(back.finalizedFeaturesEpoch, value.finalizedFeaturesEpoch)
  }
})

test('null and empty arrays stay apart, in classic and compact encodings', () => {
  const m = message({
    name: 'X', apiKey: 99, validVersions: '0-1', flexibleVersions: '1+',
    fields: { topics: arrayField({ name: field(t.string) }, { nullable: '0+' }), s: field(t.string, { nullable: '0+' }) },
  })
  for (const v of [0, 1]) {
    for (const topics of [null, [], [{ name: 'a' }]]) {
      const back = m.decode(v, new Reader(m.encode(v, { topics, s: null }).toBuffer()))
      assert.deepEqual(back.topics, topics)
      assert.equal(back.s, null)
    }
  }
})

test('unknown tagged fields are skipped', () => {
  const m = message({ name: 'Y', apiKey: 98, validVersions: '0', flexibleVersions: '0+', fields: { a: field(t.int32) } })
  // a=5, then one tagged field (tag 9, 3 bytes)
  const bytes = Buffer.from([0, 0, 0, 5, 1, 9, 3, 1, 2, 3])
  const r = new Reader(bytes)
  assert.deepEqual(m.decode(0, r), { a: 5 })
  assert.equal(r.remaining, 0)
})
