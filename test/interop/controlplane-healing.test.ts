/**
 * Self-healing and a control-plane restart, watched through the AWS CLI v2 (/usr/bin/aws) with a
 * confluent-kafka-python producer (idempotent, acks=all) running the whole time:
 *  - a broker process is SIGKILLed: the cluster goes HEALING (a HEAL operation is recorded), then
 *    ACTIVE once the supervisor restarted it and every partition is fully replicated again;
 *  - a broker's volume is lost (the process frozen, its data directory emptied, then killed): it
 *    comes back empty, is re-replicated from its peers (back in every ISR, its log dir filled);
 *  - the control plane itself is SIGKILLed: the brokers keep serving (the producer keeps getting
 *    acknowledgements), and a new control plane adopts the same broker processes (same pids),
 *    reports ACTIVE and heals the next broker crash as before;
 * and at the end every acknowledged record is read back once, in order.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { requireKcat, requirePythonModule } from '../helpers/clients.js';
import { brokerPids, clusterDirOf, startControlPlane, type ControlPlaneHandle } from '../helpers/controlplane.js';
import { uniqueTopic } from '../helpers/util.js';
import {
  checkAcked,
  createTopic,
  isRetriable,
  isrFull,
  readTopic,
  sleep,
  startProducer,
  describeView,
  topicView,
  within,
  type ProducerRun,
} from './clients/replication-helpers.js';

const PARTITIONS = 6;

function bytesUnder(dir: string): number {
  if (!existsSync(dir)) return 0;
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    total += e.isDirectory() ? bytesUnder(p) : statSync(p).size;
  }
  return total;
}

/** Polls one broker's view of the topic until every partition has a leader and a full ISR. */
async function waitIsrFull(address: string, topic: string, timeoutMs: number): Promise<void> {
  const full = isrFull(PARTITIONS, 3);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await topicView(address, topic);
    if (v && full(v)) return;
    if (Date.now() > deadline) assert.fail(`ISRs not full within ${timeoutMs} ms: ${describeView(v)}`);
    await sleep(300);
  }
}

describe('control plane: self-healing and a control-plane restart', { timeout: 600_000 }, () => {
  let cp: ControlPlaneHandle;
  let arn = '';
  let bootstrap = '';
  let topic = '';
  let producer: ProducerRun | null = null;

  before(async () => {
    await requireKcat();
    await requirePythonModule('confluent_kafka');
    cp = await startControlPlane();
    const created = await cp.awsJson<{ ClusterArn: string }>([
      'create-cluster', '--cluster-name', 'healing', '--kafka-version', '3.7.x.kraft', '--number-of-broker-nodes', '3',
      '--broker-node-group-info', JSON.stringify({ InstanceType: 'kafka.m5.large', ClientSubnets: ['subnet-a', 'subnet-b', 'subnet-c'] }),
    ]);
    arn = created.ClusterArn;
    await waitFor('ACTIVE');
    bootstrap = (await cp.awsJson<{ BootstrapBrokerString: string }>(['get-bootstrap-brokers', '--cluster-arn', arn])).BootstrapBrokerString;
    topic = uniqueTopic('cp-heal');
    await createTopic(bootstrap, topic, PARTITIONS, 3, { 'min.insync.replicas': '2' });
    producer = startProducer(['--bootstrap', bootstrap, '--topic', topic, '--rate', '500', '--duration', '0']);
  });

  after(async () => {
    producer?.client.kill();
    await cp?.stop();
  });

  async function state(): Promise<string> {
    return (await cp.awsJson<{ ClusterInfo: { State: string } }>(['describe-cluster', '--cluster-arn', arn])).ClusterInfo.State;
  }

  async function healOperations(): Promise<Array<{ OperationArn: string; OperationState: string }>> {
    const listed = await cp.awsJson<{ ClusterOperationInfoList?: Array<{ OperationArn: string; OperationType: string; OperationState: string }> }>([
      'list-cluster-operations', '--cluster-arn', arn,
    ]);
    return (listed.ClusterOperationInfoList ?? []).filter((op) => op.OperationType === 'HEAL');
  }

  /**
   * Waits for the healing of a crash: a HEAL operation that did not exist before (`known`) has
   * completed and the cluster is ACTIVE. The HEALING state itself can last less than one poll of
   * describe-cluster (a restarted broker catches up in under a second on a quiet cluster), so
   * the recorded operation is what proves the cluster went HEALING; the states seen are reported.
   */
  async function waitForHeal(known: Set<string>, timeoutMs = 120_000): Promise<string[]> {
    const seen: string[] = [];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await state();
      if (seen[seen.length - 1] !== s) seen.push(s);
      const heal = (await healOperations()).find((op) => !known.has(op.OperationArn));
      if (heal?.OperationState === 'UPDATE_COMPLETE' && (await state()) === 'ACTIVE') {
        if (seen[seen.length - 1] !== 'ACTIVE') seen.push('ACTIVE');
        return seen;
      }
      if (Date.now() > deadline) {
        assert.fail(`no completed HEAL operation and ACTIVE within ${timeoutMs} ms: ${seen.join(' → ')}, HEAL: ${heal?.OperationState ?? 'none'}\n${cp.output().slice(-3000)}`);
      }
      await sleep(100);
    }
  }

  async function waitFor(wanted: string, timeoutMs = 120_000): Promise<string[]> {
    const seen: string[] = [];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await state();
      if (seen[seen.length - 1] !== s) seen.push(s);
      if (s === wanted) return seen;
      if (Date.now() > deadline) assert.fail(`not ${wanted} within ${timeoutMs} ms: ${seen.join(' → ')}\n${cp.output().slice(-3000)}`);
      await sleep(100);
    }
  }

  it('a killed broker: HEALING, restarted, ACTIVE once fully replicated', async (t) => {
    await sleep(1000);
    const pids = brokerPids(cp.dataDir, 'healing');
    const known = new Set((await healOperations()).map((op) => op.OperationArn));
    const began = Date.now();
    process.kill(pids.get(2)!, 'SIGKILL');
    const seen = await waitForHeal(known);
    t.diagnostic(`SIGKILL of broker 2: healed, ACTIVE after ${Date.now() - began} ms (states seen: ${seen.join(' → ')})`);
    const after = brokerPids(cp.dataDir, 'healing');
    assert.notEqual(after.get(2), pids.get(2), 'broker 2 runs as a new process');
    await waitIsrFull(bootstrap.split(',')[0]!, topic, 30_000);
  });

  it('a lost volume: the broker comes back empty and is re-replicated from its peers', async (t) => {
    const dir = join(clusterDirOf(cp.dataDir, 'healing'), 'broker-3');
    assert.ok(existsSync(dir), `broker 3's volume at ${dir}`);
    const pid = brokerPids(cp.dataDir, 'healing').get(3)!;
    const before = bytesUnder(dir);
    const known = new Set((await healOperations()).map((op) => op.OperationArn));
    process.kill(pid, 'SIGSTOP');
    for (const name of readdirSync(dir)) if (name !== 'process.log') rmSync(join(dir, name), { recursive: true, force: true });
    const began = Date.now();
    process.kill(pid, 'SIGKILL');
    await waitForHeal(known);
    await waitIsrFull(bootstrap.split(',')[0]!, topic, 60_000);
    const afterBytes = bytesUnder(dir);
    t.diagnostic(`volume of broker 3 lost (${before} bytes): ACTIVE and back in every ISR after ${Date.now() - began} ms, ${afterBytes} bytes re-replicated`);
    assert.ok(afterBytes > 0, 'the empty volume was filled again');
  });

  it('the control plane is killed: brokers keep serving; a new one adopts them and heals again', async (t) => {
    const pids = brokerPids(cp.dataDir, 'healing');
    await cp.kill('SIGKILL');
    const acksBefore = producer!.acks.length;
    await sleep(3000);
    assert.ok(producer!.acks.length > acksBefore + 500, `acknowledgements while the control plane is down: ${producer!.acks.length - acksBefore}`);
    const began = Date.now();
    await cp.start();
    assert.equal(await state(), 'ACTIVE');
    t.diagnostic(`control plane back and ACTIVE in ${Date.now() - began} ms`);
    assert.deepEqual([...brokerPids(cp.dataDir, 'healing')].sort(), [...pids].sort(), 'the same broker processes, adopted');

    const known = new Set((await healOperations()).map((op) => op.OperationArn));
    process.kill(pids.get(1)!, 'SIGKILL');
    const seen = await waitForHeal(known);
    t.diagnostic(`SIGKILL of broker 1 under the new control plane: healed (states seen: ${seen.join(' → ')})`);
    assert.notEqual(brokerPids(cp.dataDir, 'healing').get(1), pids.get(1), 'broker 1 runs as a new process');
    await waitIsrFull(bootstrap.split(',')[1]!, topic, 30_000);
  });

  it('every acknowledged record survived, once and in order; the producer saw only retriable errors', async (t) => {
    await sleep(1000);
    producer!.client.stop();
    await within(producer!.client.done, 120_000, 'producer');
    const p = producer!;
    producer = null;
    assert.deepEqual(p.failures, [], 'no record failed delivery');
    const bad = p.clientErrors.filter((e) => e.fatal || !isRetriable(e.error));
    assert.deepEqual(bad, [], 'only retriable client errors');
    const read = await readTopic(bootstrap, topic);
    const check = checkAcked(p.acks, read);
    t.diagnostic(`${p.acks.length} acknowledged, ${read.length} read`);
    assert.deepEqual(check.missing, [], `${check.missingCount} acknowledged records missing`);
    assert.deepEqual(check.moved, []);
    assert.deepEqual(check.duplicates, []);
    assert.deepEqual(check.disorder, []);
    const view = await topicView(bootstrap.split(',')[0]!, topic);
    assert.ok(view);
  });
});
