/**
 * The per-client produce/consume suite shared by confluent-kafka-python and kafka-python:
 * topic created through the client's admin API, 10 000 records per codec with explicit
 * partitions, read back from the beginning with assign() (no consumer group) and compared
 * per partition, in order, byte for byte.
 */
import { describe, it, before, after } from 'node:test';
import { startBroker, type BrokerHandle } from './broker.js';
import { requirePythonModule } from './clients.js';
import { assertSameRecords, makeDataset, totalBytes } from './dataset.js';
import { pythonConsume, pythonCreateTopic, pythonProduce, type PyClient } from './external.js';
import { seedOf, uniqueTopic } from './util.js';
import assert from 'node:assert/strict';

export function definePythonClientSuite(client: PyClient, codecs: string[], opts: { count?: number; partitions?: number } = {}): void {
  const count = opts.count ?? 10_000;
  const partitions = opts.partitions ?? 4;
  const module = client === 'confluent' ? 'confluent_kafka' : 'kafka';

  describe(`${client} interop`, { timeout: 900_000 }, () => {
    let broker: BrokerHandle | undefined;

    before(async () => {
      await requirePythonModule(module);
      broker = await startBroker({ settings: { 'num.partitions': '1', 'auto.create.topics.enable': 'false' } });
    });

    after(async () => {
      await broker?.stop();
    });

    for (const codec of codecs) {
      it(`creates a ${partitions}-partition topic, produces ${count} records with ${codec} and reads them back byte for byte`, { timeout: 300_000 }, async () => {
        const b = broker!;
        await b.explain(async () => {
          const topic = uniqueTopic(`${client}-${codec}`);
          await pythonCreateTopic(client, b.bootstrap, topic, partitions);
          const data = makeDataset({ seed: seedOf(`${client}/${codec}`), count, partitions });
          assert.ok(totalBytes(data) < 30e6);
          const summary = await pythonProduce(client, b.bootstrap, topic, data, { compression: codec, acks: 'all' });
          assert.equal(summary?.delivered, count, `producer summary: ${JSON.stringify(summary)}`);
          const got = await pythonConsume(client, b.bootstrap, topic);
          assertSameRecords(data, got, { label: `${client} ${codec}` });
        });
      });
    }
  });
}
