/**
 * @platformatic/kafka 1.35 against Fjord.
 *
 * Codecs: none, gzip, snappy and lz4 are built in; zstd uses node:zlib's zstd, which Node 20
 * lacks ("zstd is not supported in the current Node.js version"), so zstd is only tested when the
 * running Node has it.
 * Consumption: the group-less Consumer.fetch() (Fetch v12+ with topic IDs), partition by partition.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, type BrokerHandle } from '../helpers/broker.js';
import { assertSameRecords, makeDataset, totalBytes } from '../helpers/dataset.js';
import { platformaticAdmin, platformaticCodecs, platformaticConsume, platformaticProduce } from '../helpers/node-clients.js';
import { seedOf, uniqueTopic } from '../helpers/util.js';

const COUNT = 10_000;
const PARTITIONS = 4;

describe('@platformatic/kafka interop', { timeout: 600_000 }, () => {
  let broker: BrokerHandle | undefined;

  before(async () => {
    broker = await startBroker({ settings: { 'num.partitions': '1', 'auto.create.topics.enable': 'false' } });
  });

  after(async () => {
    await broker?.stop();
  });

  for (const codec of platformaticCodecs()) {
    it(`creates a topic with Admin, produces ${COUNT} records with ${codec} and fetches them back byte for byte`, { timeout: 300_000 }, async () => {
      const b = broker!;
      await b.explain(async () => {
        const topic = uniqueTopic(`plt-${codec}`);
        const admin = platformaticAdmin(b.bootstrap);
        try {
          const created = await admin.createTopics({ topics: [topic], partitions: PARTITIONS, replicas: 1 });
          assert.equal(created.length, 1);
          assert.equal(created[0].name, topic);
          assert.equal(created[0].partitions, PARTITIONS);
          const md = await admin.metadata({ topics: [topic], forceUpdate: true });
          assert.equal(md.topics.get(topic)?.partitionsCount, PARTITIONS);
        } finally {
          await admin.close();
        }
        const data = makeDataset({ seed: seedOf(`plt/${codec}`), count: COUNT, partitions: PARTITIONS });
        assert.ok(totalBytes(data) < 30e6);
        await platformaticProduce(b.bootstrap, topic, data, { codec, acks: -1 });
        const got = await platformaticConsume(b.bootstrap, topic);
        assertSameRecords(data, got, { label: `@platformatic/kafka ${codec}` });
      });
    });
  }
});
