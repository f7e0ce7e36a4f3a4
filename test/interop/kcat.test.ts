/**
 * kcat (Debian kcat 1.7.1, librdkafka 2.0.2) against Fjord.
 *
 * kcat has no admin API: the topic is auto-created (num.partitions=4, auto.create.topics.enable)
 * by kcat's first produce. kcat can only attach the same headers to all records of one run, so
 * per-record headers are replaced by per-partition static headers (see kcatProduce).
 * Codecs: none, gzip, snappy, lz4, zstd (all built into librdkafka).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, type BrokerHandle } from '../helpers/broker.js';
import { requireKcat, runKcat } from '../helpers/clients.js';
import { assertSameRecords, makeDataset, totalBytes } from '../helpers/dataset.js';
import { kcatConsume, kcatMetadata, kcatProduce, parseKcatOutput } from '../helpers/external.js';
import { seedOf, uniqueTopic } from '../helpers/util.js';

const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
const COUNT = 10_000;
const PARTITIONS = 4;

describe('kcat interop', { timeout: 600_000 }, () => {
  let broker: BrokerHandle | undefined;

  before(async () => {
    await requireKcat();
    broker = await startBroker({
      settings: { 'num.partitions': String(PARTITIONS), 'auto.create.topics.enable': 'true' },
    });
  });

  after(async () => {
    await broker?.stop();
  });

  it('lists the broker in metadata (kcat -L)', { timeout: 60_000 }, async () => {
    const b = broker!;
    await b.explain(async () => {
      const md = await kcatMetadata(b.bootstrap);
      const brokers = md.brokers as Array<{ id: number; name: string }>;
      assert.ok(Array.isArray(brokers) && brokers.length >= 1, `kcat -L -J shows no brokers: ${JSON.stringify(md)}`);
      assert.ok(
        brokers.some((x) => x.name === b.bootstrap || x.name.endsWith(`:${b.port}`)),
        `advertised broker ${JSON.stringify(brokers)} does not match the listener ${b.bootstrap}`,
      );
    });
  });

  for (const codec of CODECS) {
    it(`produces ${COUNT} records with -z ${codec} to an auto-created topic and reads them back byte for byte`, { timeout: 240_000 }, async () => {
      const b = broker!;
      await b.explain(async () => {
        const topic = uniqueTopic(`kcat-${codec}`);
        const data = makeDataset({ seed: seedOf(`kcat/${codec}`), count: COUNT, partitions: PARTITIONS, kcatSafe: true, headers: false });
        assert.ok(totalBytes(data) < 30e6);
        const sent = await kcatProduce(b.bootstrap, topic, data, { codec });

        const md = await kcatMetadata(b.bootstrap, topic);
        const t = (md.topics as Array<{ topic: string; partitions: unknown[]; error?: string }>).find((x) => x.topic === topic);
        assert.ok(t, `topic ${topic} missing from metadata after auto-create`);
        assert.equal(t.partitions.length, PARTITIONS, `auto-created topic should have num.partitions=${PARTITIONS}`);

        const got = await kcatConsume(b.bootstrap, topic);
        assertSameRecords(sent, got, { label: `kcat ${codec}` });
      });
    });
  }

  it('reads a single partition with -p and an absolute offset', { timeout: 120_000 }, async () => {
    const b = broker!;
    await b.explain(async () => {
      const topic = uniqueTopic('kcat-offset');
      const data = makeDataset({ seed: 7, count: 400, partitions: PARTITIONS, kcatSafe: true, headers: false });
      const sent = await kcatProduce(b.bootstrap, topic, data, { codec: 'none' });
      const p1 = sent.filter((r) => r.partition === 1);
      const got = await kcatConsume(b.bootstrap, topic, { partition: 1 });
      assertSameRecords(p1, got, { label: 'kcat -p 1' });
      assert.deepEqual(
        got.map((r) => r.offset),
        p1.map((_, i) => i),
        'offsets of a fresh partition are 0..n-1',
      );
    });
  });

  it('starts in the middle of compressed batches (-o <offset>) and at a relative offset from the end (-o -N)', { timeout: 120_000 }, async () => {
    const b = broker!;
    await b.explain(async () => {
      const topic = uniqueTopic('kcat-mid');
      const data = makeDataset({ seed: 11, count: 3000, partitions: PARTITIONS, kcatSafe: true, headers: false, bigValues: {} });
      const sent = await kcatProduce(b.bootstrap, topic, data, { codec: 'gzip' });
      const p2 = sent.filter((r) => r.partition === 2);
      for (const start of [1, 137, p2.length - 1]) {
        const r = await runKcat(
          ['-C', '-b', b.bootstrap, '-t', topic, '-p', '2', '-o', String(start), '-e', '-q', '-f', '%p %o %K %S\\n%k%s\\n%h\\n', '-m', '20'],
          { timeoutMs: 60_000 },
        );
        const got = parseKcatOutput(r.stdout);
        assert.equal(got[0]?.offset, start, `first offset returned for -o ${start}`);
        assertSameRecords(p2.slice(start), got, { label: `kcat -p 2 -o ${start}` });
      }
      const r = await runKcat(['-C', '-b', b.bootstrap, '-t', topic, '-p', '2', '-o', '-10', '-e', '-q', '-f', '%p %o %K %S\\n%k%s\\n%h\\n', '-m', '20'], {
        timeoutMs: 60_000,
      });
      assertSameRecords(p2.slice(-10), parseKcatOutput(r.stdout), { label: 'kcat -p 2 -o -10' });
    });
  });
});
