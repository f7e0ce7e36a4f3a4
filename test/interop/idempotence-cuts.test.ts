/**
 * Idempotent producers under connection cuts (issue 4 acceptance): a proxy in front of the broker
 * (test/helpers/cutting-proxy.ts) destroys every live connection, both sides, every 300-700 ms
 * (seeded), half of them mid-frame. The broker advertises the proxy's address, so clients
 * reconnect through it. Two real, unmodified clients each write 100 000 records "<client>-<n>"
 * to partition n % 3 of their own topic and must finish successfully, their retries handling the
 * cuts:
 *  - confluent-kafka-python (librdkafka 2.0.2): enable.idempotence=true, acks=all,
 *    max.in.flight 5;
 *  - KafkaJS 2.2.4: idempotent: true, maxInFlightRequests 1, acks -1, high retries.
 * Then, with the cutting stopped, kcat reads each topic back and every sequence number must be
 * there exactly once (no duplicates, no gaps), in its partition, in increasing order.
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import { startBroker, type BrokerHandle } from '../helpers/broker.js';
import { requireKcat, requirePythonModule, runKcat, runPython } from '../helpers/clients.js';
import { startCuttingProxy, type CuttingProxy, type ProxyStats } from '../helpers/cutting-proxy.js';
import { describeError, freePort, uniqueTopic } from '../helpers/util.js';

const RECORDS = 100_000;
const PARTITIONS = 3;
/** Pause between cuts: 300-700 ms (FJORD_CUTS_MS="min,max" overrides, for stress runs). */
const [CUT_MIN, CUT_MAX] = (process.env.FJORD_CUTS_MS ?? '300,700').split(',').map(Number) as [number, number];
const CUTS = { minMs: CUT_MIN, maxMs: CUT_MAX, midFrame: 0.5 };
/** Producers are paced (records/s) so that a run sees a few dozen cuts; FJORD_CUTS_RATE overrides. */
const RATE = Number(process.env.FJORD_CUTS_RATE ?? 5_000);

function kafkajsVia(bootstrap: string, clientId: string): Kafka {
  return new Kafka({
    clientId,
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3_000,
    requestTimeout: 30_000,
    retry: { retries: 30, initialRetryTime: 50, maxRetryTime: 1_000 },
  });
}

/**
 * Reads the whole topic with kcat (through the proxy, which no longer cuts) and checks that
 * every "<prefix>-<n>", n < count, is there exactly once, in partition n % 3, and that each
 * partition holds its sequence numbers in increasing order.
 */
async function verify(bootstrap: string, topic: string, prefix: string, count: number): Promise<{ perPartition: number[] }> {
  const r = await runKcat(['-C', '-b', bootstrap, '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%p %o %s\\n'], { timeoutMs: 90_000 });
  const lines = r.stdout.toString().split('\n').filter((l) => l !== '');
  const seen = new Uint32Array(count);
  const perPartition = new Array<number>(PARTITIONS).fill(0);
  const lastSeq = new Array<number>(PARTITIONS).fill(-1);
  const lastOffset = new Array<number>(PARTITIONS).fill(-1);
  const foreign: string[] = [];
  const misplaced: string[] = [];
  const disorder: string[] = [];
  for (const line of lines) {
    const [p, o, v] = line.split(' ') as [string, string, string | undefined];
    const partition = Number(p);
    const offset = Number(o);
    const m = v === undefined ? null : /^(.+)-(\d+)$/.exec(v);
    if (!m || m[1] !== prefix || Number(m[2]) >= count) {
      if (foreign.length < 10) foreign.push(line);
      continue;
    }
    const n = Number(m[2]);
    seen[n]!++;
    perPartition[partition]!++;
    if (partition !== n % PARTITIONS && misplaced.length < 10) misplaced.push(line);
    assert.ok(offset > lastOffset[partition]!, `kcat returned partition ${partition} out of offset order: ${line}`);
    lastOffset[partition] = offset;
    if (n <= lastSeq[partition]! && disorder.length < 10) disorder.push(`p${partition}@${offset}: ${n} after ${lastSeq[partition]}`);
    lastSeq[partition] = Math.max(lastSeq[partition]!, n);
  }
  const duplicates: number[] = [];
  const missing: number[] = [];
  let duplicateCount = 0;
  let missingCount = 0;
  for (let n = 0; n < count; n++) {
    if (seen[n]! > 1) {
      duplicateCount += seen[n]! - 1;
      if (duplicates.length < 20) duplicates.push(n);
    } else if (seen[n] === 0) {
      missingCount++;
      if (missing.length < 20) missing.push(n);
    }
  }
  assert.deepEqual(foreign, [], 'records that are not "<prefix>-<n>"');
  assert.equal(duplicateCount, 0, `${duplicateCount} duplicate records, first sequence numbers: ${duplicates.join(', ')}`);
  assert.equal(missingCount, 0, `${missingCount} records missing, first sequence numbers: ${missing.join(', ')}`);
  assert.deepEqual(misplaced, [], 'records in the wrong partition');
  assert.deepEqual(disorder, [], 'sequence numbers out of order within a partition');
  assert.equal(lines.length, count);
  return { perPartition };
}

function describeCuts(stats: ProxyStats, before: ProxyStats, maxRecords: number): string {
  const d = (k: keyof ProxyStats) => stats[k] - before[k];
  return (
    `${d('cuts')} cuts killing ${d('connectionsCut')} connections (${d('midRequestCuts')} mid-request, ` +
    `${d('midResponseCuts')} mid-response); ${d('cutsWithProduceInFlight')} of them had Produce requests in flight ` +
    `(${d('produceInFlightAtCuts')} requests, ${d('recordsInFlightAtCuts')} records in total, at most ${maxRecords} ` +
    `at one cut: forwarded whole to the broker, the response not delivered); ${d('connections')} connections accepted; the broker received ${d('produceRecordsForwarded')} records in whole Produce requests ` +
    `(${d('produceRecordsForwarded') - RECORDS} sent again)`
  );
}

describe('idempotent producers under connection cuts', { timeout: 600_000 }, () => {
  let broker: BrokerHandle | undefined;
  let proxy: CuttingProxy | undefined;
  let realPort = 0;
  let seed = 0x5eed;

  before(async () => {
    await requirePythonModule('confluent_kafka');
    await requireKcat();
    proxy = await startCuttingProxy();
    realPort = await freePort();
    // The ready line shows the advertised address (the proxy); the broker listens on realPort.
    broker = await startBroker({
      port: realPort,
      settings: { 'advertised.listeners': proxy.address, 'num.partitions': String(PARTITIONS), 'auto.create.topics.enable': 'false' },
    });
    proxy.setTarget('127.0.0.1', realPort);
  });

  after(async () => {
    await proxy?.close();
    await broker?.stop();
  });

  async function createTopic(topic: string): Promise<void> {
    // bootstrap on the real port; Metadata sends the client on to the proxy (not cutting now)
    const admin = kafkajsVia(`127.0.0.1:${realPort}`, 'cuts-admin').admin();
    await admin.connect();
    try {
      assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true }), true);
    } finally {
      await admin.disconnect();
    }
  }

  async function underCuts<T>(t: TestContext, topic: string, prefix: string, produce: () => Promise<T>): Promise<T> {
    const p = proxy!;
    const b = broker!;
    return b.explain(async () => {
      await createTopic(topic);
      const before = p.stats();
      const killsBefore = p.kills().length;
      const started = Date.now();
      p.startCutting({ ...CUTS, seed: seed++ });
      let out: T;
      try {
        out = await produce();
      } finally {
        p.stopCutting();
      }
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      t.diagnostic(`${prefix}: ${RECORDS} records produced in ${seconds} s under ${describeCuts(p.stats(), before, Math.max(0, ...p.kills().slice(killsBefore).map((k) => k.inFlightRecords)))}`);
      const { perPartition } = await verify(p.address, topic, prefix, RECORDS);
      t.diagnostic(`${prefix}: read back ${RECORDS} records, each once, in order (per partition: ${perPartition.join('/')})`);
      const after = p.stats();
      assert.ok(after.cuts - before.cuts > 0, 'the proxy cut no connection while the producer ran');
      return out;
    });
  }

  it('confluent-kafka-python (librdkafka 2.0.2), enable.idempotence=true acks=all: no duplicates, no gaps', { timeout: 240_000 }, async (t) => {
    const topic = uniqueTopic('idem-cuts-ck');
    const summary = await underCuts(t, topic, 'ck', async () => {
      // bootstrap through the proxy: the first connection may be cut too
      const r = await runPython('idempotent_producer.py', [proxy!.address, topic, String(RECORDS), 'ck', String(PARTITIONS), String(RATE)], {
        timeoutMs: 200_000,
        check: false,
      });
      const last = r.stdout.toString().trim().split('\n').pop() ?? '';
      let s: Record<string, unknown>;
      try {
        s = JSON.parse(last) as Record<string, unknown>;
      } catch {
        throw new Error(`the producer printed no summary (exit ${r.code}):\n${r.stderr.slice(-4000)}`);
      }
      assert.equal(r.code, 0, `the producer failed: ${JSON.stringify(s)}\n${r.stderr.slice(-4000)}`);
      return s;
    });
    t.diagnostic(
      `ck: librdkafka retried ${String(summary.retries)} requests, ${String(summary.disconnects)} disconnects, ` +
        `${String(summary.client_errors)} error callbacks, eos ${JSON.stringify(summary.eos)}`,
    );
    assert.equal(summary.delivered, RECORDS);
    assert.equal(summary.fatal, null);
  });

  it('KafkaJS 2.2.4, idempotent: true maxInFlightRequests 1: no duplicates, no gaps', { timeout: 240_000 }, async (t) => {
    const topic = uniqueTopic('idem-cuts-kjs');
    const CHUNK = 100;
    const res = await underCuts(t, topic, 'kjs', async () => {
      const kafka = kafkajsVia(proxy!.address, 'cuts-kjs');
      const producer = kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        retry: { retries: 100, initialRetryTime: 50, maxRetryTime: 1_000 },
      });
      let outerRetries = 0;
      const errors: string[] = [];
      for (let attempt = 0; ; attempt++) {
        try {
          await producer.connect();
          break;
        } catch (e) {
          if (attempt > 50) throw e;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      const started = Date.now();
      try {
        // one send at a time: KafkaJS assigns sequence numbers per send and advances them on success
        for (let base = 0; base < RECORDS; base += CHUNK) {
          const messages = Array.from({ length: Math.min(CHUNK, RECORDS - base) }, (_, i) => ({
            value: `kjs-${base + i}`,
            partition: (base + i) % PARTITIONS,
          }));
          for (let attempt = 0; ; attempt++) {
            try {
              await producer.send({ topic, acks: -1, messages });
              break;
            } catch (e) {
              // KafkaJS gave up on its own retries: send the same records again (same sequence
              // numbers: KafkaJS advances them only on success)
              outerRetries++;
              if (errors.length < 10) errors.push(describeError(e));
              if (attempt >= 20) throw new Error(`send of records ${base}.. failed ${attempt + 1} times: ${errors.join(' | ')}`);
              await new Promise((r) => setTimeout(r, 100));
            }
          }
          const ahead = ((base + CHUNK) / RATE) * 1000 - (Date.now() - started);
          if (ahead > 0) await new Promise((r) => setTimeout(r, ahead));
        }
      } finally {
        await producer.disconnect().catch(() => {});
      }
      return { outerRetries, errors };
    });
    t.diagnostic(`kjs: ${res.outerRetries} sends retried after KafkaJS gave up${res.errors.length ? `: ${res.errors.join(' | ')}` : ''}`);
  });
});
