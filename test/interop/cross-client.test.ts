/**
 * Records produced by one client and consumed by another, through Fjord: checks that what Fjord
 * stores from one client's encoder decodes byte for byte in another client's decoder.
 * Codecs are chosen so the consumer can decode them (KafkaJS reads only none/gzip natively).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, type BrokerHandle } from '../helpers/broker.js';
import { requireKcat, requirePythonModule } from '../helpers/clients.js';
import { assertSameRecords, makeDataset, type ConsumedRecord, type TestRecord } from '../helpers/dataset.js';
import { kcatConsume, kcatProduce, pythonConsume, pythonCreateTopic, pythonProduce } from '../helpers/external.js';
import {
  kafkajs,
  kafkajsConsume,
  kafkajsProduce,
  platformaticCodecs,
  platformaticConsume,
  platformaticProduce,
  withKafkaJSAdmin,
} from '../helpers/node-clients.js';
import { seedOf, uniqueTopic } from '../helpers/util.js';

const PARTITIONS = 3;
const COUNT = 2000;

type Producer = (bootstrap: string, topic: string, data: TestRecord[]) => Promise<TestRecord[]>;
type Reader = (bootstrap: string, topic: string) => Promise<ConsumedRecord[]>;

const producers: Record<string, { codec: string; produce: Producer; kcatSafe?: boolean }> = {
  KafkaJS: { codec: 'gzip', produce: async (b, t, d) => (await kafkajsProduce(kafkajs(b), t, d, { codec: 'gzip' }), d) },
  kcat: { codec: 'lz4', kcatSafe: true, produce: (b, t, d) => kcatProduce(b, t, d, { codec: 'lz4' }) },
  'kafka-python': { codec: 'snappy', produce: async (b, t, d) => (await pythonProduce('kafka-python', b, t, d, { compression: 'snappy' }), d) },
  'confluent-kafka-python': { codec: 'zstd', produce: async (b, t, d) => (await pythonProduce('confluent', b, t, d, { compression: 'zstd' }), d) },
  '@platformatic/kafka': { codec: 'snappy', produce: async (b, t, d) => (await platformaticProduce(b, t, d, { codec: 'snappy' }), d) },
  'confluent-kafka-python(none)': { codec: 'none', produce: async (b, t, d) => (await pythonProduce('confluent', b, t, d, { compression: 'none' }), d) },
};

const readers: Record<string, Reader> = {
  KafkaJS: (b, t) => kafkajsConsume(kafkajs(b), t),
  kcat: (b, t) => kcatConsume(b, t),
  'kafka-python': (b, t) => pythonConsume('kafka-python', b, t),
  'confluent-kafka-python': (b, t) => pythonConsume('confluent', b, t),
  '@platformatic/kafka': (b, t) => platformaticConsume(b, t),
};

const PAIRS: Array<[string, string]> = [
  ['KafkaJS', 'confluent-kafka-python'],
  ['kcat', '@platformatic/kafka'],
  ['kafka-python', 'kcat'],
  ['confluent-kafka-python', 'kafka-python'],
  ['@platformatic/kafka', 'confluent-kafka-python'],
  ['confluent-kafka-python(none)', 'KafkaJS'],
];

describe('cross-client interop', { timeout: 600_000 }, () => {
  let broker: BrokerHandle | undefined;

  before(async () => {
    await requireKcat();
    await requirePythonModule('confluent_kafka');
    await requirePythonModule('kafka');
    broker = await startBroker({ settings: { 'num.partitions': String(PARTITIONS), 'auto.create.topics.enable': 'false' } });
  });

  after(async () => {
    await broker?.stop();
  });

  for (const [from, to] of PAIRS) {
    const p = producers[from];
    it(`${from} (${p.codec}) -> ${to}`, { timeout: 180_000 }, async () => {
      const b = broker!;
      await b.explain(async () => {
        const topic = uniqueTopic(`x-${from}-${to}`.replace(/[^a-zA-Z0-9-]/g, ''));
        await pythonCreateTopic('confluent', b.bootstrap, topic, PARTITIONS);
        const data = makeDataset({
          seed: seedOf(`${from}->${to}`),
          count: COUNT,
          partitions: PARTITIONS,
          kcatSafe: p.kcatSafe,
          headers: !p.kcatSafe,
          bigValues: { 700: 900_000 },
        });
        const sent = await p.produce(b.bootstrap, topic, data);
        const got = await readers[to](b.bootstrap, topic);
        assertSameRecords(sent, got, { label: `${from} -> ${to}` });
      });
    });
  }

  it('one topic written by all five clients with different codecs, read back by the clients that can decode every codec', { timeout: 300_000 }, async () => {
    const b = broker!;
    await b.explain(async () => {
      const topic = uniqueTopic('x-mixed');
      await withKafkaJSAdmin(kafkajs(b.bootstrap), (admin) =>
        admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }], waitForLeaders: true }),
      );
      const expected: TestRecord[] = [];
      const order: Array<[string, string]> = [
        ['kcat', 'none'],
        ['kafka-python', 'lz4'],
        ['confluent-kafka-python', 'zstd'],
        ['KafkaJS', 'gzip'],
        ['@platformatic/kafka', 'snappy'],
        ['confluent-kafka-python', 'gzip'],
      ];
      for (const [i, [client, codec]] of order.entries()) {
        const kcatSafe = client === 'kcat';
        const data = makeDataset({ seed: seedOf(`mixed/${i}`), count: 500, partitions: PARTITIONS, kcatSafe, headers: !kcatSafe, bigValues: {} });
        let sent = data;
        if (client === 'kcat') sent = await kcatProduce(b.bootstrap, topic, data, { codec });
        else if (client === 'kafka-python') await pythonProduce('kafka-python', b.bootstrap, topic, data, { compression: codec });
        else if (client === 'confluent-kafka-python') await pythonProduce('confluent', b.bootstrap, topic, data, { compression: codec });
        else if (client === 'KafkaJS') await kafkajsProduce(kafkajs(b.bootstrap), topic, data, { codec });
        else await platformaticProduce(b.bootstrap, topic, data, { codec });
        expected.push(...sent);
      }
      // KafkaJS is not a reader here: it cannot decode lz4/zstd/snappy batches without plugins;
      // @platformatic/kafka reads only when the running Node has zstd (Node >= 22.15).
      const mixedReaders = ['kcat', 'confluent-kafka-python', 'kafka-python'];
      if (platformaticCodecs().includes('zstd')) mixedReaders.push('@platformatic/kafka');
      for (const reader of mixedReaders) {
        const got = await readers[reader](b.bootstrap, topic);
        assert.equal(got.length, expected.length, `${reader} read ${got.length} of ${expected.length} records`);
        assertSameRecords(expected, got, { label: `mixed topic read by ${reader}` });
      }
    });
  });

  it('null values (tombstones) from four producers are read back as null by all five clients', { timeout: 180_000 }, async () => {
    const b = broker!;
    await b.explain(async () => {
      const topic = uniqueTopic('x-tombstones');
      await pythonCreateTopic('kafka-python', b.bootstrap, topic, PARTITIONS);
      const expected: TestRecord[] = [];
      const writers: Array<[string, (d: TestRecord[]) => Promise<unknown>]> = [
        ['confluent-kafka-python', (d) => pythonProduce('confluent', b.bootstrap, topic, d, { compression: 'gzip' })],
        ['kafka-python', (d) => pythonProduce('kafka-python', b.bootstrap, topic, d)],
        ['KafkaJS', (d) => kafkajsProduce(kafkajs(b.bootstrap), topic, d, { codec: 'gzip' })],
        ['@platformatic/kafka', (d) => platformaticProduce(b.bootstrap, topic, d)],
      ];
      for (const [name, write] of writers) {
        const d = makeDataset({ seed: seedOf(`tombstones/${name}`), count: 300, partitions: PARTITIONS, bigValues: {}, nullValues: 0.3 });
        assert.ok(d.some((r) => r.value === null));
        await write(d);
        expected.push(...d);
      }
      for (const reader of Object.keys(readers)) {
        const got = await readers[reader](b.bootstrap, topic);
        assertSameRecords(expected, got, { label: `tombstones read by ${reader}` });
      }
    });
  });

  it('idempotent producers (InitProducerId, sequence numbers) from three clients, read by kcat and kafka-python', { timeout: 180_000 }, async () => {
    const b = broker!;
    await b.explain(async () => {
      const writers: Array<[string, (topic: string, d: TestRecord[]) => Promise<unknown>]> = [
        ['confluent-kafka-python (enable.idempotence=true)', (t, d) => pythonProduce('confluent', b.bootstrap, t, d, { compression: 'lz4', extraArgs: ['--idempotent'] })],
        ['KafkaJS (idempotent: true)', (t, d) => kafkajsProduce(kafkajs(b.bootstrap), t, d, { idempotent: true, acks: -1 })],
        ['@platformatic/kafka (idempotent: true)', (t, d) => platformaticProduce(b.bootstrap, t, d, { idempotent: true, acks: -1 })],
      ];
      // Every client gets its own topic so that one client's failure does not hide the others'.
      const failures: string[] = [];
      for (const [name, write] of writers) {
        try {
          const topic = uniqueTopic('x-idempotent');
          await pythonCreateTopic('confluent', b.bootstrap, topic, PARTITIONS);
          const d = makeDataset({ seed: seedOf(`idempotent/${name}`), count: 1500, partitions: PARTITIONS, bigValues: {} });
          await write(topic, d);
          assertSameRecords(d, await kcatConsume(b.bootstrap, topic), { label: `${name} read by kcat` });
          assertSameRecords(d, await pythonConsume('kafka-python', b.bootstrap, topic), { label: `${name} read by kafka-python` });
        } catch (e) {
          failures.push(`${name}: ${(e as Error).message.split('\n').filter((l) => l.trim()).slice(0, 6).join(' | ')}`);
        }
      }
      assert.equal(failures.length, 0, `idempotent produce failed:\n  - ${failures.join('\n  - ')}`);
    });
  });
});
