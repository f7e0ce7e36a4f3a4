/**
 * Admin APIs through every client that has them:
 *  - confluent-kafka-python 1.7.0 AdminClient (no incremental_alter_configs before 2.2, no
 *    delete_records before 2.4: the script reports them as unavailable),
 *  - kafka-python 2.0.2 KafkaAdminClient (no incremental alter, no delete records),
 *  - KafkaJS admin (no incremental alter configs API),
 *  - @platformatic/kafka Admin (everything, including incrementalAlterConfigs and deleteRecords).
 * Covered: create/delete topics, create partitions, describe/alter configs, list offsets by
 * timestamp, delete records, and error codes for invalid input.
 */
import { describe, it, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import kafkajsPkg from 'kafkajs';
import { startBroker, type BrokerHandle } from '../helpers/broker.js';
import { describeRun, requirePythonModule } from '../helpers/clients.js';
import { pythonAdminScenario, type PyClient } from '../helpers/external.js';
import { kafkajs, kafkajsProduce, platformaticAdmin, platformaticProduce, withKafkaJSAdmin } from '../helpers/node-clients.js';
import type { TestRecord } from '../helpers/dataset.js';
import { describeError, errorTypes, expectReject, sleep, uniqueTopic } from '../helpers/util.js';

const BAD_TOPIC = 'bad/topic!name';
// kafkajs is CommonJS and its ConfigResourceTypes is not visible as a named ESM export.
const { ConfigResourceTypes } = kafkajsPkg;

function timestamped(base: number, n: number): TestRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    partition: 0,
    key: null,
    value: Buffer.from(`ts-${i}`),
    headers: [],
    timestamp: base + i * 1000,
  }));
}

/** Collects failed checks so one run reports every broken admin behaviour, not just the first. */
class Checks {
  failures: string[] = [];
  constructor(private t: TestContext) {}
  check(name: string, cond: boolean, detail = ''): void {
    if (!cond) this.failures.push(`${name}${detail ? ` — ${detail}` : ''}`);
    else this.t.diagnostic(`ok: ${name}`);
  }
  async step(name: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      this.failures.push(`${name} — threw ${describeError(e)}`);
    }
  }
  done(client: string): void {
    assert.equal(this.failures.length, 0, `${client}: ${this.failures.length} admin check(s) failed:\n  - ${this.failures.join('\n  - ')}`);
  }
}

describe('admin interop', { timeout: 600_000 }, () => {
  let broker: BrokerHandle | undefined;

  before(async () => {
    broker = await startBroker({ settings: { 'num.partitions': '1', 'auto.create.topics.enable': 'false' } });
  });

  after(async () => {
    await broker?.stop();
  });

  for (const client of ['confluent', 'kafka-python'] as PyClient[]) {
    it(`${client} admin scenario`, { timeout: 240_000 }, async (t) => {
      await requirePythonModule(client === 'confluent' ? 'confluent_kafka' : 'kafka');
      const b = broker!;
      await b.explain(async () => {
        const { steps, run } = await pythonAdminScenario(client, b.bootstrap, uniqueTopic(`adm-${client}`));
        for (const s of steps) t.diagnostic(`${s.ok ? (s.info ? 'info' : 'ok') : 'FAIL'}: ${s.step}${s.detail ? ` (${s.detail})` : ''}`);
        const failed = steps.filter((s) => !s.ok);
        assert.ok(steps.length > 0, `the admin script produced no steps:\n${describeRun(run)}`);
        assert.equal(failed.length, 0, `${client}: failed admin steps:\n  - ${failed.map((s) => `${s.step}: ${s.detail}`).join('\n  - ')}`);
        assert.equal(run.code, 0, `admin script exited ${run.code}:\n${describeRun(run)}`);
      });
    });
  }

  it('KafkaJS admin scenario', { timeout: 180_000 }, async (t) => {
    const b = broker!;
    await b.explain(async () => {
      const c = new Checks(t);
      const kafka = kafkajs(b.bootstrap, 'fjord-interop-kafkajs-admin');
      const topic = uniqueTopic('adm-kafkajs');
      await withKafkaJSAdmin(kafka, async (admin) => {
        await c.step('createTopics', async () => {
          const created = await admin.createTopics({
            topics: [{ topic, numPartitions: 3, replicationFactor: 1, configEntries: [{ name: 'retention.ms', value: '86400000' }] }],
            waitForLeaders: true,
          });
          c.check('createTopics returns true', created === true, `got ${created}`);
        });
        await c.step('createTopics existing', async () => {
          // KafkaJS turns TOPIC_ALREADY_EXISTS into a `false` result.
          const again = await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1 }] });
          c.check('creating an existing topic resolves false (TOPIC_ALREADY_EXISTS)', again === false, `got ${again}`);
        });
        await c.step('createTopics invalid name', async () => {
          const e = await expectReject(() => admin.createTopics({ topics: [{ topic: BAD_TOPIC, numPartitions: 1, replicationFactor: 1 }] }), 'invalid name');
          c.check('invalid topic name -> INVALID_TOPIC_EXCEPTION', errorTypes(e).includes('INVALID_TOPIC_EXCEPTION'), describeError(e));
        });
        await c.step('createTopics bad config', async () => {
          const e = await expectReject(
            () =>
              admin.createTopics({
                topics: [{ topic: `${topic}-badcfg`, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: 'retention.ms', value: 'abc' }] }],
              }),
            'bad config',
          );
          c.check('bad config value -> INVALID_CONFIG', errorTypes(e).includes('INVALID_CONFIG'), describeError(e));
        });
        await c.step('createPartitions', async () => {
          await admin.createPartitions({ topicPartitions: [{ topic, count: 5 }] });
          const md = await admin.fetchTopicMetadata({ topics: [topic] });
          c.check('5 partitions after createPartitions', md.topics[0]?.partitions.length === 5, `got ${md.topics[0]?.partitions.length}`);
        });
        await c.step('createPartitions shrink', async () => {
          const e = await expectReject(() => admin.createPartitions({ topicPartitions: [{ topic, count: 2 }] }), 'shrink');
          c.check('shrinking partitions -> INVALID_PARTITIONS', errorTypes(e).includes('INVALID_PARTITIONS'), describeError(e));
        });
        const readConfig = async (): Promise<Map<string, string | null>> => {
          const res = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }], includeSynonyms: false });
          const r = res.resources[0];
          c.check('describeConfigs resource has no error', r.errorCode === 0, `errorCode ${r.errorCode}`);
          return new Map(r.configEntries.map((e) => [e.configName, e.configValue]));
        };
        await c.step('describeConfigs', async () => {
          const cfg = await readConfig();
          c.check('retention.ms=86400000', cfg.get('retention.ms') === '86400000', `got ${cfg.get('retention.ms')}`);
        });
        await c.step('alterConfigs', async () => {
          await admin.alterConfigs({
            validateOnly: false,
            resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configEntries: [{ name: 'retention.ms', value: '3600000' }] }],
          });
          const cfg = await readConfig();
          c.check('retention.ms=3600000 after alterConfigs', cfg.get('retention.ms') === '3600000', `got ${cfg.get('retention.ms')}`);
        });
        await c.step('alterConfigs bad value', async () => {
          const e = await expectReject(
            () =>
              admin.alterConfigs({
                validateOnly: false,
                resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configEntries: [{ name: 'retention.ms', value: 'x' }] }],
              }),
            'alter bad value',
          );
          c.check('alterConfigs bad value -> INVALID_CONFIG', errorTypes(e).includes('INVALID_CONFIG'), describeError(e));
        });
        const base = Date.now() - 600_000;
        await c.step('produce timestamped records', async () => {
          await kafkajsProduce(kafka, topic, timestamped(base, 5));
        });
        await c.step('fetchTopicOffsetsByTimestamp', async () => {
          for (const [ts, want] of [
            [base + 1500, '2'],
            [base, '0'],
            [base + 4000, '4'],
            [base + 99_999, '5'], // KafkaJS maps "no such offset" (-1) to the high watermark
          ] as Array<[number, string]>) {
            const r = await admin.fetchTopicOffsetsByTimestamp(topic, ts);
            const p0 = r.find((x) => x.partition === 0);
            c.check(`offset for timestamp base+${ts - base} is ${want}`, p0?.offset === want, `got ${JSON.stringify(r)}`);
          }
        });
        await c.step('deleteTopicRecords', async () => {
          await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '2' }] });
          const o = await admin.fetchTopicOffsets(topic);
          const p0 = o.find((x) => x.partition === 0);
          c.check('low watermark 2 and high 5 after deleteTopicRecords', p0?.low === '2' && p0?.high === '5', `got ${JSON.stringify(p0)}`);
        });
        await c.step('deleteTopics', async () => {
          await admin.deleteTopics({ topics: [topic], timeout: 30_000 });
          let present = true;
          for (let i = 0; i < 20 && present; i++) {
            present = (await admin.listTopics()).includes(topic);
            if (present) await sleep(250);
          }
          c.check('deleted topic is gone from listTopics', !present);
        });
        await c.step('deleteTopics unknown', async () => {
          const e = await expectReject(() => admin.deleteTopics({ topics: [`${topic}-never-existed`], timeout: 10_000 }), 'delete unknown');
          c.check('deleting an unknown topic -> UNKNOWN_TOPIC_OR_PARTITION', errorTypes(e).includes('UNKNOWN_TOPIC_OR_PARTITION'), describeError(e));
        });
      });
      c.done('KafkaJS');
    });
  });

  it('@platformatic/kafka Admin scenario', { timeout: 180_000 }, async (t) => {
    const b = broker!;
    await b.explain(async () => {
      const c = new Checks(t);
      const admin = platformaticAdmin(b.bootstrap);
      const topic = uniqueTopic('adm-plt');
      const TOPIC = 2; // ConfigResourceTypes.TOPIC
      try {
        await c.step('createTopics', async () => {
          const r = await admin.createTopics({ topics: [topic], partitions: 3, replicas: 1, configs: [{ name: 'retention.ms', value: '86400000' }] });
          c.check('createTopics returns the topic with 3 partitions', r[0]?.name === topic && r[0]?.partitions === 3, JSON.stringify(r));
        });
        await c.step('createTopics existing', async () => {
          const e = await expectReject(() => admin.createTopics({ topics: [topic], partitions: 3, replicas: 1 }), 'existing');
          c.check('existing topic -> TOPIC_ALREADY_EXISTS', errorTypes(e).includes('TOPIC_ALREADY_EXISTS'), describeError(e));
        });
        await c.step('createTopics invalid name', async () => {
          const e = await expectReject(() => admin.createTopics({ topics: [BAD_TOPIC], partitions: 1, replicas: 1 }), 'invalid name');
          c.check('invalid topic name -> INVALID_TOPIC_EXCEPTION', errorTypes(e).includes('INVALID_TOPIC_EXCEPTION'), describeError(e));
        });
        await c.step('createTopics bad config', async () => {
          const e = await expectReject(
            () => admin.createTopics({ topics: [`${topic}-badcfg`], partitions: 1, replicas: 1, configs: [{ name: 'retention.ms', value: 'abc' }] }),
            'bad config',
          );
          c.check('bad config value -> INVALID_CONFIG', errorTypes(e).includes('INVALID_CONFIG'), describeError(e));
        });
        await c.step('createPartitions', async () => {
          await admin.createPartitions({ topics: [{ name: topic, count: 5 }] });
          const md = await admin.metadata({ topics: [topic], forceUpdate: true });
          c.check('5 partitions after createPartitions', md.topics.get(topic)?.partitionsCount === 5, `got ${md.topics.get(topic)?.partitionsCount}`);
        });
        const readConfig = async (): Promise<Map<string, string | null>> => {
          const r = await admin.describeConfigs({ resources: [{ resourceType: TOPIC, resourceName: topic }] });
          return new Map(r[0].configs.map((e) => [e.name, e.value ?? null]));
        };
        await c.step('describeConfigs', async () => {
          const cfg = await readConfig();
          c.check('retention.ms=86400000', cfg.get('retention.ms') === '86400000', `got ${cfg.get('retention.ms')}`);
        });
        await c.step('alterConfigs', async () => {
          await admin.alterConfigs({ resources: [{ resourceType: TOPIC, resourceName: topic, configs: [{ name: 'retention.ms', value: '3600000' }] }] });
          const cfg = await readConfig();
          c.check('retention.ms=3600000 after alterConfigs', cfg.get('retention.ms') === '3600000', `got ${cfg.get('retention.ms')}`);
        });
        await c.step('incrementalAlterConfigs', async () => {
          await admin.incrementalAlterConfigs({
            resources: [
              {
                resourceType: TOPIC,
                resourceName: topic,
                configs: [
                  { name: 'retention.bytes', configOperation: 0, value: '1048576' },
                  { name: 'retention.ms', configOperation: 0, value: '1800000' },
                ],
              },
            ],
          });
          let cfg = await readConfig();
          c.check('retention.bytes=1048576 after incremental SET', cfg.get('retention.bytes') === '1048576', `got ${cfg.get('retention.bytes')}`);
          c.check('retention.ms=1800000 after incremental SET', cfg.get('retention.ms') === '1800000', `got ${cfg.get('retention.ms')}`);
          await admin.incrementalAlterConfigs({
            resources: [{ resourceType: TOPIC, resourceName: topic, configs: [{ name: 'retention.bytes', configOperation: 1 }] }],
          });
          cfg = await readConfig();
          c.check('retention.bytes back to default -1 after incremental DELETE', cfg.get('retention.bytes') === '-1', `got ${cfg.get('retention.bytes')}`);
          c.check('retention.ms untouched by DELETE of another key', cfg.get('retention.ms') === '1800000', `got ${cfg.get('retention.ms')}`);
        });
        await c.step('incrementalAlterConfigs bad value', async () => {
          const e = await expectReject(
            () =>
              admin.incrementalAlterConfigs({
                resources: [{ resourceType: TOPIC, resourceName: topic, configs: [{ name: 'retention.ms', configOperation: 0, value: 'x' }] }],
              }),
            'incremental bad value',
          );
          c.check('incremental bad value -> INVALID_CONFIG', errorTypes(e).includes('INVALID_CONFIG'), describeError(e));
        });
        const base = Date.now() - 600_000;
        await c.step('produce timestamped records', async () => {
          await platformaticProduce(b.bootstrap, topic, timestamped(base, 5));
        });
        await c.step('listOffsets by timestamp', async () => {
          for (const [ts, want] of [
            [BigInt(base + 1500), 2n],
            [BigInt(base), 0n],
            [BigInt(base + 4000), 4n],
            [-2n, 0n], // earliest
            [-1n, 5n], // latest
          ] as Array<[bigint, bigint]>) {
            const r = await admin.listOffsets({ topics: [{ name: topic, partitions: [{ partitionIndex: 0, timestamp: ts }] }] });
            const got = r[0]?.partitions.find((p) => p.partitionIndex === 0)?.offset;
            c.check(`offset for timestamp ${ts < 0n ? ts : `base+${ts - BigInt(base)}`} is ${want}`, got === want, `got ${got}`);
          }
        });
        await c.step('deleteRecords', async () => {
          const r = await admin.deleteRecords({ topics: [{ name: topic, partitions: [{ partition: 0, offset: 2n }] }] });
          const lw = r[0]?.partitions.find((p) => p.partition === 0)?.lowWatermark;
          c.check('deleteRecords returns low watermark 2', lw === 2n, `got ${lw}`);
          const l = await admin.listOffsets({ topics: [{ name: topic, partitions: [{ partitionIndex: 0, timestamp: -2n }] }] });
          const got = l[0]?.partitions[0]?.offset;
          c.check('earliest offset is 2 after deleteRecords', got === 2n, `got ${got}`);
        });
        await c.step('deleteTopics', async () => {
          await admin.deleteTopics({ topics: [topic] });
          let present = true;
          for (let i = 0; i < 20 && present; i++) {
            present = (await admin.listTopics()).includes(topic);
            if (present) await sleep(250);
          }
          c.check('deleted topic is gone from listTopics', !present);
        });
        await c.step('deleteTopics unknown', async () => {
          const e = await expectReject(() => admin.deleteTopics({ topics: [`${topic}-never-existed`] }), 'delete unknown');
          c.check('deleting an unknown topic -> UNKNOWN_TOPIC_OR_PARTITION', errorTypes(e).includes('UNKNOWN_TOPIC_OR_PARTITION'), describeError(e));
        });
      } finally {
        await admin.close();
      }
      c.done('@platformatic/kafka');
    });
  });
});
