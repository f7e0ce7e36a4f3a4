// Decode tests on request frames captured from real clients (kcat/librdkafka 2.0.2, KafkaJS 2.2.4,
// kafka-python 2.0.2, @platformatic/kafka 1.35.0) with test/fixtures/capture-tool.ts. Each fixture is
// one request, header and body, as hex without the 4-byte size prefix. Every one must decode to the
// values the client was asked to send, leave no byte unread, and encode back to the very same bytes.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { apiByKey } from './apis.js'
import { decodeRequestHeader, encodeRequestHeader, skipHeaderTaggedFields } from './headers.js'
import { Reader, Writer } from './primitives.js'

// dist/src/protocol/ -> repository root
const fixtures = fileURLToPath(new URL('../../../test/fixtures/captured/', import.meta.url))

interface Decoded {
  header: ReturnType<typeof decodeRequestHeader>
  flexible: boolean
  body: Record<string, unknown>
  bytes: Buffer
}

function load(file: string): Decoded {
  const bytes = Buffer.from(readFileSync(fixtures + file, 'utf8').trim(), 'hex')
  const r = new Reader(bytes)
  const header = decodeRequestHeader(r)
  const api = apiByKey.get(header.apiKey)
  assert.ok(api, `${file}: unknown api key ${header.apiKey}`)
  const flexible = api.request.isFlexible(header.apiVersion)
  if (flexible) skipHeaderTaggedFields(r)
  const body = api.request.decode(header.apiVersion, r) as Record<string, unknown>
  assert.equal(r.remaining, 0, `${file}: ${r.remaining} bytes left unread`)
  return { header, flexible, body, bytes }
}

function reencode(d: Decoded): Buffer {
  const w = new Writer()
  encodeRequestHeader(w, d.header, d.flexible)
  apiByKey.get(d.header.apiKey)!.request.encode(d.header.apiVersion, d.body as never, w)
  return w.toBuffer()
}

/** A magic-v2 record batch: its length field matches, and the payload holds the value the client sent. */
function assertBatch(records: unknown, value: string): void {
  assert.ok(Buffer.isBuffer(records), 'records should be bytes')
  const b = records as Buffer
  assert.equal(Number(b.readBigInt64BE(0)), 0, 'base offset')
  assert.equal(b.readInt32BE(8), b.length - 12, 'batch length')
  assert.equal(b.readInt8(16), 2, 'magic')
  assert.ok(b.includes(Buffer.from(value)), `batch should carry '${value}'`)
}

const topicX = [{ name: 'x', topicId: '00000000000000000000000000000000' }]

const cases: { file: string; key: number; version: number; clientId: string; check: (body: Record<string, unknown>) => void }[] = [
  // kcat 1.7 on librdkafka 2.0.2: ApiVersions v3 is flexible, the rest is not
  {
    file: 'kcat-2.0.2-api-versions-v3.hex', key: 18, version: 3, clientId: 'rdkafka',
    check: (b) => assert.deepEqual(b, { clientSoftwareName: 'librdkafka', clientSoftwareVersion: '2.0.2' }),
  },
  {
    file: 'kcat-2.0.2-metadata-v4.hex', key: 3, version: 4, clientId: 'rdkafka',
    check: (b) => { assert.deepEqual(b.topics, []); assert.equal(b.allowAutoTopicCreation, false) },
  },
  {
    // kcat -L: all topics, written as a null array
    file: 'kcat-2.0.2-metadata-v4-2.hex', key: 3, version: 4, clientId: 'rdkafka',
    check: (b) => { assert.equal(b.topics, null); assert.equal(b.allowAutoTopicCreation, true) },
  },
  {
    file: 'kcat-2.0.2-metadata-v4-3.hex', key: 3, version: 4, clientId: 'rdkafka',
    check: (b) => { assert.deepEqual(b.topics, topicX); assert.equal(b.allowAutoTopicCreation, true) },
  },
  {
    file: 'kcat-2.0.2-metadata-v4-4.hex', key: 3, version: 4, clientId: 'rdkafka',
    check: (b) => { assert.deepEqual(b.topics, topicX); assert.equal(b.allowAutoTopicCreation, false) },
  },
  {
    // echo hi | kcat -P -t x
    file: 'kcat-2.0.2-produce-v7.hex', key: 0, version: 7, clientId: 'rdkafka',
    check: (b) => {
      assert.equal(b.transactionalId, null)
      assert.equal(b.acks, -1)
      assert.equal(b.timeoutMs, 30000)
      const topics = b.topicData as { name: string; partitionData: { index: number; records: unknown }[] }[]
      assert.equal(topics.length, 1)
      assert.equal(topics[0]!.name, 'x')
      assert.equal(topics[0]!.partitionData[0]!.index, 0)
      assertBatch(topics[0]!.partitionData[0]!.records, 'hi')
    },
  },
  {
    // kcat -C -t x -o beginning
    file: 'kcat-2.0.2-list-offsets-v2.hex', key: 2, version: 2, clientId: 'rdkafka',
    check: (b) => {
      assert.equal(b.replicaId, -1)
      assert.equal(b.isolationLevel, 1)
      assert.deepEqual(b.topics, [{ name: 'x', partitions: [{ partitionIndex: 0, timestamp: -2, currentLeaderEpoch: -1, maxNumOffsets: 1 }] }])
    },
  },
  {
    file: 'kcat-2.0.2-fetch-v11.hex', key: 1, version: 11, clientId: 'rdkafka',
    check: (b) => {
      assert.equal(b.replicaId, -1)
      assert.equal(b.maxWaitMs, 500)
      assert.equal(b.minBytes, 1)
      assert.equal(b.maxBytes, 52428800)
      assert.equal(b.isolationLevel, 1)
      assert.equal(b.sessionId, 0)
      assert.equal(b.sessionEpoch, -1)
      assert.equal(b.rackId, '')
      assert.deepEqual(b.forgottenTopicsData, [])
      const topics = b.topics as { topic: string; partitions: Record<string, unknown>[] }[]
      assert.equal(topics[0]!.topic, 'x')
      assert.deepEqual(
        { ...topics[0]!.partitions[0] },
        { partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 1048576, lastFetchedEpoch: -1, replicaDirectoryId: '00000000000000000000000000000000' },
      )
    },
  },

  // KafkaJS 2.2.4: admin.fetchTopicMetadata({ topics: ['x'] }), then producer.send
  {
    file: 'kafkajs-2.2.4-api-versions-v2.hex', key: 18, version: 2, clientId: 'fjord-capture-kafkajs',
    check: (b) => assert.deepEqual(b, { clientSoftwareName: '', clientSoftwareVersion: '' }),
  },
  {
    file: 'kafkajs-2.2.4-metadata-v6.hex', key: 3, version: 6, clientId: 'fjord-capture-kafkajs',
    check: (b) => { assert.deepEqual(b.topics, topicX); assert.equal(b.allowAutoTopicCreation, false) },
  },
  {
    file: 'kafkajs-2.2.4-metadata-v6-2.hex', key: 3, version: 6, clientId: 'fjord-capture-kafkajs',
    check: (b) => { assert.deepEqual(b.topics, topicX); assert.equal(b.allowAutoTopicCreation, true) },
  },
  {
    file: 'kafkajs-2.2.4-produce-v7.hex', key: 0, version: 7, clientId: 'fjord-capture-kafkajs',
    check: (b) => {
      assert.equal(b.transactionalId, null)
      assert.equal(b.acks, -1)
      assert.equal(b.timeoutMs, 30000)
      const topics = b.topicData as { name: string; partitionData: { index: number; records: unknown }[] }[]
      assert.equal(topics[0]!.name, 'x')
      assert.equal(topics[0]!.partitionData[0]!.index, 0)
      assertBatch(topics[0]!.partitionData[0]!.records, 'hi')
    },
  },

  // kafka-python 2.0.2: KafkaAdminClient (probes Metadata v0 and v1 to guess the broker version), KafkaProducer
  {
    file: 'kafka-python-2.0.2-api-versions-v0.hex', key: 18, version: 0, clientId: 'fjord-capture-kpy',
    check: (b) => assert.deepEqual(b, { clientSoftwareName: '', clientSoftwareVersion: '' }),
  },
  {
    // v0 has no null array: empty means every topic
    file: 'kafka-python-2.0.2-metadata-v0.hex', key: 3, version: 0, clientId: 'fjord-capture-kpy',
    check: (b) => assert.deepEqual(b.topics, []),
  },
  {
    file: 'kafka-python-2.0.2-metadata-v1.hex', key: 3, version: 1, clientId: 'fjord-capture-kpy',
    check: (b) => assert.equal(b.topics, null),
  },
  {
    file: 'kafka-python-2.0.2-metadata-v5.hex', key: 3, version: 5, clientId: 'fjord-capture-kpy',
    check: (b) => { assert.equal(b.topics, null); assert.equal(b.allowAutoTopicCreation, false) },
  },
  {
    file: 'kafka-python-2.0.2-produce-v7.hex', key: 0, version: 7, clientId: 'fjord-capture-kpy',
    check: (b) => {
      assert.equal(b.transactionalId, null)
      assert.equal(b.acks, 1)
      assert.equal(b.timeoutMs, 5000)
      const topics = b.topicData as { name: string; partitionData: { index: number; records: unknown }[] }[]
      assert.equal(topics[0]!.name, 'x')
      assertBatch(topics[0]!.partitionData[0]!.records, 'hi')
    },
  },

  // @platformatic/kafka 1.35.0: flexible (compact, tagged) encodings of Metadata and Produce
  {
    file: 'platformatic-kafka-1.35.0-api-versions-v3.hex', key: 18, version: 3, clientId: 'fjord-capture-platformatic',
    check: (b) => {
      assert.equal(b.clientSoftwareName, 'platformatic-kafka')
      assert.equal(b.clientSoftwareVersion, '1.35.0')
    },
  },
  {
    file: 'platformatic-kafka-1.35.0-metadata-v12.hex', key: 3, version: 12, clientId: 'fjord-capture-platformatic',
    check: (b) => assert.deepEqual(b.topics, topicX),
  },
  {
    file: 'platformatic-kafka-1.35.0-produce-v11.hex', key: 0, version: 11, clientId: 'fjord-capture-platformatic',
    check: (b) => {
      assert.equal(b.transactionalId, null)
      assert.equal(b.acks, 1)
      const topics = b.topicData as { name: string; partitionData: { index: number; records: unknown }[] }[]
      assert.equal(topics[0]!.name, 'x')
      assert.equal(topics[0]!.partitionData[0]!.index, 0)
      assertBatch(topics[0]!.partitionData[0]!.records, 'hi')
    },
  },
]

for (const c of cases) {
  test(`captured ${c.file} decodes and re-encodes byte for byte`, () => {
    const d = load(c.file)
    assert.equal(d.header.apiKey, c.key)
    assert.equal(d.header.apiVersion, c.version)
    assert.equal(d.header.clientId, c.clientId)
    c.check(d.body)
    assert.equal(reencode(d).toString('hex'), d.bytes.toString('hex'))
  })
}
