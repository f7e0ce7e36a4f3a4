/**
 * KafkaJS 2.2.4 against Fjord.
 *
 * Codecs: KafkaJS only ships gzip; snappy, lz4 and zstd need codec plugin packages
 * (kafkajs-snappy, kafkajs-lz4, @kafkajs/zstd) that are not dependencies, so only none and gzip
 * are tested here.
 * Consumption: KafkaJS's consumer needs consumer groups (not in Fjord yet), so records are read
 * through KafkaJS's own cluster/broker Fetch path (see kafkajsConsume), and cross-checked with kcat.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, type BrokerHandle } from '../helpers/broker.js';
import { requireKcat } from '../helpers/clients.js';
import { assertSameRecords, makeDataset, totalBytes } from '../helpers/dataset.js';
import { kcatConsume } from '../helpers/external.js';
import { kafkajs, kafkajsConsume, kafkajsProduce, withKafkaJSAdmin } from '../helpers/node-clients.js';
import { describeError, errorTypes, seedOf, uniqueTopic } from '../helpers/util.js';

const CODECS = ['none', 'gzip'];
const COUNT = 10_000;
const PARTITIONS = 4;

describe('KafkaJS interop', { timeout: 600_000 }, () => {
  let broker: BrokerHandle | undefined;

  before(async () => {
    broker = await startBroker({ settings: { 'num.partitions': '1', 'auto.create.topics.enable': 'false' } });
  });

  after(async () => {
    await broker?.stop();
  });

  for (const codec of CODECS) {
    it(`creates a topic with admin, produces ${COUNT} records with ${codec} and fetches them back byte for byte`, { timeout: 300_000 }, async () => {
      const b = broker!;
      await b.explain(async () => {
        const kafka = kafkajs(b.bootstrap);
        const topic = uniqueTopic(`kafkajs-${codec}`);
        const created = await withKafkaJSAdmin(kafka, (admin) =>
          admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }], waitForLeaders: true, timeout: 30_000 }),
        );
        assert.equal(created, true, 'admin.createTopics should report the topic as created');
        const meta = await withKafkaJSAdmin(kafka, (admin) => admin.fetchTopicMetadata({ topics: [topic] }));
        assert.equal(meta.topics[0]?.partitions.length, PARTITIONS);

        const data = makeDataset({ seed: seedOf(`kafkajs/${codec}`), count: COUNT, partitions: PARTITIONS });
        assert.ok(totalBytes(data) < 30e6);
        await kafkajsProduce(kafka, topic, data, { codec, acks: -1 });

        const offsets = await withKafkaJSAdmin(kafka, (admin) => admin.fetchTopicOffsets(topic));
        for (let p = 0; p < PARTITIONS; p++) {
          const o = offsets.find((x) => x.partition === p);
          assert.equal(o?.high, String(data.filter((r) => r.partition === p).length), `high watermark of partition ${p}`);
          assert.equal(o?.low, '0', `log start offset of partition ${p}`);
        }

        const got = await kafkajsConsume(kafka, topic);
        assertSameRecords(data, got, { label: `KafkaJS ${codec}` });
      });
    });
  }

  it('records produced by KafkaJS read back identically by kcat', { timeout: 180_000 }, async () => {
    const b = broker!;
    await b.explain(async () => {
      await requireKcat();
      const kafka = kafkajs(b.bootstrap);
      const topic = uniqueTopic('kafkajs-kcat');
      await withKafkaJSAdmin(kafka, (admin) =>
        admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }], waitForLeaders: true }),
      );
      const data = makeDataset({ seed: seedOf('kafkajs/kcat'), count: 2000, partitions: PARTITIONS, bigValues: {} });
      await kafkajsProduce(kafka, topic, data, { codec: 'gzip' });
      const got = await kcatConsume(b.bootstrap, topic);
      assertSameRecords(data, got, { label: 'KafkaJS -> kcat' });
    });
  });

  it('a record larger than max.message.bytes is rejected with MESSAGE_TOO_LARGE, and the partition stays usable', { timeout: 120_000 }, async () => {
    const b = broker!;
    await b.explain(async () => {
      const kafka = kafkajs(b.bootstrap);
      const topic = uniqueTopic('kafkajs-too-large');
      await withKafkaJSAdmin(kafka, (admin) =>
        admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true }),
      );
      const producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
      await producer.connect();
      try {
        let err: unknown = null;
        try {
          // Uncompressed 2 MB value: above Kafka's default max.message.bytes (1048588).
          await producer.send({ topic, acks: -1, messages: [{ partition: 0, value: Buffer.alloc(2 * 1024 * 1024, 7) }] });
        } catch (e) {
          err = e;
        }
        assert.ok(err, 'sending a 2 MB record should fail');
        assert.ok(errorTypes(err).includes('MESSAGE_TOO_LARGE'), `expected MESSAGE_TOO_LARGE, got ${describeError(err)}`);
        await producer.send({ topic, acks: -1, messages: [{ partition: 0, value: Buffer.from('after') }] });
      } finally {
        await producer.disconnect();
      }
      const got = await kafkajsConsume(kafka, topic);
      assert.deepEqual(
        got.map((r) => [r.offset, r.value?.toString()]),
        [[0, 'after']],
        'only the accepted record is in the log, at offset 0',
      );
    });
  });
});
