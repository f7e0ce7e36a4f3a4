/**
 * Durability across crashes: topics with flush.messages=1, producers with acks=all/-1, the broker
 * SIGKILLed after (or while) producers get their acks, restarted on the same data dir: every
 * acknowledged record must be there, at the offset that was acknowledged, byte for byte.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startBroker, type BrokerHandle } from '../helpers/broker.js';
import { requireKcat, requirePythonModule, runKcat, runPython } from '../helpers/clients.js';
import { assertSameRecords, makeDataset, writeJsonl, type ConsumedRecord, type TestRecord } from '../helpers/dataset.js';
import { kcatConsume, parseKcatOutput, pythonConsume, pythonCreateTopic, pythonProduce, scratchDir } from '../helpers/external.js';
import { kafkajs, kafkajsConsume, kafkajsProduce, withKafkaJSAdmin } from '../helpers/node-clients.js';
import { seedOf, uniqueTopic } from '../helpers/util.js';

const PARTITIONS = 3;

function byPartition<T extends { partition: number }>(recs: T[]): Map<number, T[]> {
  const m = new Map<number, T[]>();
  for (const r of recs) {
    if (!m.has(r.partition)) m.set(r.partition, []);
    m.get(r.partition)!.push(r);
  }
  return m;
}

describe('crash/restart durability', { timeout: 600_000 }, () => {
  let broker: BrokerHandle | undefined;

  before(async () => {
    await requireKcat();
    await requirePythonModule('confluent_kafka');
    broker = await startBroker({ settings: { 'num.partitions': '1', 'auto.create.topics.enable': 'false' } });
  });

  after(async () => {
    await broker?.stop();
  });

  it('KafkaJS (acks=-1): every acknowledged record survives SIGKILL + restart, then a clean restart', { timeout: 240_000 }, async () => {
    const b = broker!;
    await b.explain(async () => {
      const kafka = kafkajs(b.bootstrap);
      const topic = uniqueTopic('restart-kafkajs');
      await withKafkaJSAdmin(kafka, (admin) =>
        admin.createTopics({
          topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1, configEntries: [{ name: 'flush.messages', value: '1' }] }],
          waitForLeaders: true,
        }),
      );
      const data = makeDataset({ seed: seedOf('restart/kafkajs'), count: 3000, partitions: PARTITIONS, bigValues: { 1500: 500_000 } });
      await kafkajsProduce(kafka, topic, data, { acks: -1, codec: 'gzip' }); // resolves only after every ack
      await b.kill();
      await b.restart();

      const k2 = kafkajs(b.bootstrap);
      const got = await kafkajsConsume(k2, topic);
      assertSameRecords(data, got, { label: 'after SIGKILL + restart (KafkaJS fetch)' });
      const viaKcat = await kcatConsume(b.bootstrap, topic);
      assertSameRecords(data, viaKcat, { label: 'after SIGKILL + restart (kcat)' });

      // Appending after the crash continues the offsets, and a clean restart keeps everything.
      const more = makeDataset({ seed: seedOf('restart/kafkajs/more'), count: 300, partitions: PARTITIONS, bigValues: {} });
      await kafkajsProduce(k2, topic, more, { acks: -1 });
      await b.restart(); // SIGTERM + start
      const all = await kafkajsConsume(kafkajs(b.bootstrap), topic);
      assertSameRecords([...data, ...more], all, { label: 'after append + clean restart' });
    });
  });

  it('confluent-kafka-python (acks=all): SIGKILL while records are in flight, every acked record is kept at its acked offset', { timeout: 240_000 }, async (t) => {
    const b = broker!;
    await b.explain(async () => {
      const topic = uniqueTopic('restart-confluent');
      await pythonCreateTopic('confluent', b.bootstrap, topic, PARTITIONS, { 'flush.messages': '1' });
      const data = makeDataset({ seed: seedOf('restart/confluent'), count: 8000, partitions: PARTITIONS, bigValues: {} });
      const s = scratchDir();
      const acked = new Map<string, number>(); // "p/o" -> record index
      let killed: Promise<void> | null = null;
      try {
        const input = join(s.dir, 'in.jsonl');
        writeJsonl(input, data);
        const run = await runPython(
          'confluent_client.py',
          [
            'produce',
            '--bootstrap',
            b.bootstrap,
            '--topic',
            topic,
            '--input',
            input,
            '--acks',
            'all',
            '--ack-log',
            '--message-timeout-ms',
            '8000',
            '--flush-timeout',
            '20',
            '--pause-every',
            '100',
            '--pause-ms',
            '25',
          ],
          {
            timeoutMs: 120_000,
            check: false,
            onLine: (line) => {
              const m = /^ACK (\d+) (\d+) (\d+)$/.exec(line);
              if (!m) return;
              acked.set(`${m[2]}/${m[3]}`, Number(m[1]));
              if (acked.size >= 2500 && !killed) killed = b.kill();
            },
          },
        );
        if (!killed) killed = b.kill(); // producer finished before 2500 acks: crash after all acks
        await killed;
        assert.ok(acked.size > 0, `no acknowledgements at all; producer output:\n${run.stderr.slice(-2000)}`);
      } finally {
        s.cleanup();
      }
      await b.restart();

      const got = await pythonConsume('confluent', b.bootstrap, topic);
      t.diagnostic(`${data.length} records sent, ${acked.size} acknowledged before the SIGKILL, ${got.length} in the log after restart`);
      const gotAt = new Map<string, ConsumedRecord>(got.map((r) => [`${r.partition}/${r.offset}`, r]));
      const missing: string[] = [];
      const expectedAcked: TestRecord[] = [];
      const gotAcked: ConsumedRecord[] = [];
      for (const [po, idx] of acked) {
        const r = gotAt.get(po);
        if (!r) {
          if (missing.length < 20) missing.push(`${po} (record #${idx})`);
          continue;
        }
        expectedAcked.push(data[idx]);
        gotAcked.push(r);
      }
      assert.equal(missing.length, 0, `${acked.size} acked records, some are missing after restart: ${missing.join(', ')}`);
      // Same content at the acked offsets.
      const order = (a: { partition: number; offset?: number }, z: { partition: number; offset?: number }) =>
        a.partition - z.partition || (a.offset ?? 0) - (z.offset ?? 0);
      const pairs = gotAcked.map((g, i) => ({ g, e: expectedAcked[i] })).sort((x, y) => order(x.g, y.g));
      assertSameRecords(
        pairs.map((p) => p.e),
        pairs.map((p) => p.g),
        { label: 'acked records after SIGKILL + restart' },
      );
      // Each partition's log is a prefix of what the producer sent to it (unacked tail may or may not be there).
      const sentBy = byPartition(data);
      for (const [p, recs] of byPartition(got)) {
        const sent = sentBy.get(p) ?? [];
        assert.ok(recs.length <= sent.length, `partition ${p} has more records (${recs.length}) than were sent (${sent.length})`);
        assertSameRecords(sent.slice(0, recs.length), recs, { label: `partition ${p} after restart is a prefix of the sent records` });
      }
    });
  });

  it('kafka-python (acks=1) into 1 MiB segments: SIGKILL + restart recovers every segment, reads from any offset', { timeout: 240_000 }, async (t) => {
    const b = broker!;
    await b.explain(async () => {
      await requirePythonModule('kafka');
      const topic = uniqueTopic('restart-segments');
      // 1 MiB is Kafka 4's minimum segment.bytes; ~6 MB of data rolls several segments.
      await pythonCreateTopic('kafka-python', b.bootstrap, topic, 1, { 'flush.messages': '1', 'segment.bytes': '1048576' });
      const bigValues: Record<number, number> = {};
      for (let i = 0; i < 3000; i += 3) bigValues[i] = 6000;
      const data = makeDataset({ seed: seedOf('restart/segments'), count: 3000, partitions: 1, bigValues });
      const summary = await pythonProduce('kafka-python', b.bootstrap, topic, data, { compression: 'none', acks: '1' });
      assert.equal(summary?.delivered, data.length, `producer summary: ${JSON.stringify(summary)}`);
      await b.kill();
      await b.restart();
      const got = await kcatConsume(b.bootstrap, topic);
      t.diagnostic(`${data.length} records acknowledged (acks=1), ${got.length} read after SIGKILL + restart`);
      assertSameRecords(data, got, { label: 'multi-segment log after SIGKILL + restart' });
      for (const start of [999, 1500, 2999]) {
        const r = await runKcat(['-C', '-b', b.bootstrap, '-t', topic, '-p', '0', '-o', String(start), '-e', '-q', '-f', '%p %o %K %S\\n%k%s\\n%h\\n', '-m', '20'], {
          timeoutMs: 60_000,
        });
        assertSameRecords(data.slice(start), parseKcatOutput(r.stdout), { label: `read from offset ${start} after restart` });
      }
    });
  });
});
