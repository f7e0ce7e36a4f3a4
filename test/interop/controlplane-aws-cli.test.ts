/**
 * The control plane driven by the AWS CLI v2 (Debian's awscli, /usr/bin/aws), unmodified, as an
 * MSK user drives MSK: `aws kafka ... --endpoint-url` against `fjord controlplane`.
 *
 * One cluster's life, in order (each step needs the previous one):
 *  - create-cluster (3 brokers, 3 client subnets, KRaft version) → CREATING → ACTIVE; the time is
 *    reported;
 *  - get-bootstrap-brokers; confluent-kafka-python produces through them (RF 3, acks=all) and kcat
 *    reads every record back;
 *  - create-configuration with server properties (fileb://) and update-cluster-configuration: the
 *    brokers restart one at a time with it (DescribeConfigs of each broker shows it);
 *  - update-broker-storage grows the volumes (describe shows the new size; the brokers' volumes
 *    report it through DescribeLogDirs);
 *  - update-broker-count 3 → 6 (list-nodes shows 6 in 3 zones, partitions moved onto the new
 *    brokers) and back to 3, the data intact after each;
 *  - reboot-broker while an idempotent acks=all producer runs: only retriable errors, every
 *    acknowledged record read back once;
 *  - list-cluster-operations lists all of the above, completed, with their steps;
 *  - delete-cluster → DELETING → describe-cluster fails with NotFoundException; the brokers are
 *    gone.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireKcat, requirePythonModule } from '../helpers/clients.js';
import { brokerPids, startControlPlane, type ControlPlaneHandle } from '../helpers/controlplane.js';
import { uniqueTopic } from '../helpers/util.js';
import {
  checkAcked,
  countBy,
  createTopic,
  isRetriable,
  kafkajsClient,
  readTopic,
  sleep,
  startProducer,
  within,
  type Ack,
} from './clients/replication-helpers.js';

interface ClusterInfo {
  ClusterArn: string;
  State: string;
  CurrentVersion: string;
  NumberOfBrokerNodes: number;
  BrokerNodeGroupInfo: { StorageInfo?: { EbsStorageInfo?: { VolumeSize?: number } } };
  CurrentBrokerSoftwareInfo?: { ConfigurationArn?: string; ConfigurationRevision?: number; KafkaVersion?: string };
}

describe('control plane: an MSK cluster lifecycle with the AWS CLI v2', { timeout: 600_000 }, () => {
  let cp: ControlPlaneHandle;
  let arn = '';
  let bootstrap = '';
  let topic = '';
  let acked: Ack[] = [];
  const states: string[] = [];

  before(async () => {
    await requireKcat();
    await requirePythonModule('confluent_kafka');
    cp = await startControlPlane();
  });

  after(async () => {
    await cp?.stop();
  });

  const describeCluster = async (): Promise<ClusterInfo> => (await cp.awsJson<{ ClusterInfo: ClusterInfo }>(['describe-cluster', '--cluster-arn', arn])).ClusterInfo;

  /** Polls describe-cluster until `state`; remembers every state seen on the way. */
  async function waitFor(state: string, timeoutMs = 120_000): Promise<ClusterInfo> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const info = await describeCluster();
      if (states[states.length - 1] !== info.State) states.push(info.State);
      if (info.State === state) return info;
      if (info.State === 'FAILED') assert.fail(`cluster FAILED: ${JSON.stringify(info)}\n${cp.output().slice(-4000)}`);
      if (Date.now() > deadline) assert.fail(`cluster not ${state} within ${timeoutMs} ms (now ${info.State})\n${cp.output().slice(-4000)}`);
      await sleep(200);
    }
  }

  async function readAll(): Promise<void> {
    const read = await readTopic(bootstrap, topic);
    const check = checkAcked(acked, read);
    assert.deepEqual(check.missing, [], `${check.missingCount} acknowledged records missing`);
    assert.deepEqual(check.duplicates, [], `${check.duplicateCount} duplicated values`);
    assert.equal(read.length, acked.length, 'the topic holds exactly the acknowledged records');
  }

  it('create-cluster: CREATING, then ACTIVE with 3 brokers over 3 zones', async (t) => {
    const began = Date.now();
    const created = await cp.awsJson<{ ClusterArn: string; ClusterName: string; State: string }>([
      'create-cluster',
      '--cluster-name', 'lifecycle',
      '--kafka-version', '3.7.x.kraft',
      '--number-of-broker-nodes', '3',
      '--broker-node-group-info', JSON.stringify({ InstanceType: 'kafka.m5.large', ClientSubnets: ['subnet-a', 'subnet-b', 'subnet-c'], StorageInfo: { EbsStorageInfo: { VolumeSize: 10 } } }),
      '--tags', 'team=streaming',
    ]);
    arn = created.ClusterArn;
    assert.match(arn, /^arn:aws:kafka:us-east-1:\d{12}:cluster\/lifecycle\/[0-9a-f-]+/);
    assert.equal(created.State, 'CREATING');
    const info = await waitFor('ACTIVE');
    t.diagnostic(`CreateCluster → ACTIVE in ${Date.now() - began} ms (states ${states.join(' → ')})`);
    assert.equal(info.NumberOfBrokerNodes, 3);
    const nodes = await cp.awsJson<{ NodeInfoList: { BrokerNodeInfo: { BrokerId: number; ClientSubnet: string; Endpoints: string[] } }[] }>(['list-nodes', '--cluster-arn', arn]);
    assert.equal(nodes.NodeInfoList.length, 3);
    assert.deepEqual(nodes.NodeInfoList.map((n) => n.BrokerNodeInfo.ClientSubnet).sort(), ['subnet-a', 'subnet-b', 'subnet-c']);
    const listed = await cp.awsJson<{ ClusterInfoList: { ClusterArn: string; Tags?: Record<string, string> }[] }>(['list-clusters', '--cluster-name-filter', 'life']);
    assert.deepEqual(listed.ClusterInfoList.map((c) => c.ClusterArn), [arn]);
  });

  it('get-bootstrap-brokers: confluent-kafka-python produces through them, kcat reads it all', async () => {
    const b = await cp.awsJson<{ BootstrapBrokerString: string }>(['get-bootstrap-brokers', '--cluster-arn', arn]);
    bootstrap = b.BootstrapBrokerString;
    assert.equal(bootstrap.split(',').length, 3);
    topic = uniqueTopic('cp-cli');
    await createTopic(bootstrap, topic, 6, 3, { 'min.insync.replicas': '2' });
    const producer = startProducer(['--bootstrap', bootstrap, '--topic', topic, '--rate', '2000', '--duration', '2']);
    await within(producer.client.done, 60_000, 'producer');
    assert.deepEqual(producer.failures, []);
    assert.ok(producer.acks.length >= 3000, `${producer.acks.length} acknowledged`);
    acked = producer.acks;
    await readAll();
  });

  it('create-configuration and update-cluster-configuration roll the brokers onto it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fjord-cp-cli-'));
    try {
      const props = join(dir, 'server.properties');
      writeFileSync(props, 'num.partitions=5\nlog.retention.hours=100\n');
      const cfg = await cp.awsJson<{ Arn: string; LatestRevision: { Revision: number } }>([
        'create-configuration', '--name', 'lifecycle-config', '--kafka-versions', '3.7.x.kraft', '--server-properties', `fileb://${props}`,
      ]);
      assert.equal(cfg.LatestRevision.Revision, 1);
      const rev = await cp.awsJson<{ ServerProperties: string }>(['describe-configuration-revision', '--arn', cfg.Arn, '--revision', '1']);
      assert.equal(Buffer.from(rev.ServerProperties, 'base64').toString('utf8'), 'num.partitions=5\nlog.retention.hours=100\n');

      const before = await describeCluster();
      const op = await cp.awsJson<{ ClusterOperationArn: string }>([
        'update-cluster-configuration', '--cluster-arn', arn, '--current-version', before.CurrentVersion,
        '--configuration-info', JSON.stringify({ Arn: cfg.Arn, Revision: 1 }),
      ]);
      assert.ok(op.ClusterOperationArn);
      // a stale version is refused while (and after) the update runs
      const stale = await cp.aws(['update-broker-count', '--cluster-arn', arn, '--current-version', before.CurrentVersion, '--target-number-of-broker-nodes', '6'], { check: false });
      assert.notEqual(stale.code, 0);
      assert.match(stale.stderr, /ConflictException|BadRequestException/);
      const info = await waitFor('ACTIVE', 180_000);
      assert.equal(info.CurrentBrokerSoftwareInfo?.ConfigurationArn, cfg.Arn);
      assert.equal(info.CurrentBrokerSoftwareInfo?.ConfigurationRevision, 1);

      const admin = kafkajsClient(bootstrap, 'cp-cli-admin').admin();
      await admin.connect();
      try {
        for (const id of ['1', '2', '3']) {
          const res = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 4, name: id, configNames: ['num.partitions'] }] });
          assert.equal(res.resources[0]!.configEntries.find((e) => e.configName === 'num.partitions')?.configValue, '5', `broker ${id}`);
        }
      } finally {
        await admin.disconnect();
      }
      await readAll();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('update-broker-storage grows every volume', async () => {
    const v = (await describeCluster()).CurrentVersion;
    await cp.awsJson(['update-broker-storage', '--cluster-arn', arn, '--current-version', v, '--target-broker-ebs-volume-info', JSON.stringify([{ KafkaBrokerNodeId: 'All', VolumeSizeGB: 20 }])]);
    const info = await waitFor('ACTIVE');
    assert.equal(info.BrokerNodeGroupInfo.StorageInfo?.EbsStorageInfo?.VolumeSize, 20);
    const admin = kafkajsClient(bootstrap, 'cp-cli-admin').admin();
    await admin.connect();
    try {
      const res = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 4, name: '1', configNames: ['volume.size.bytes'] }] });
      assert.equal(res.resources[0]!.configEntries.find((e) => e.configName === 'volume.size.bytes')?.configValue, String(20 * 2 ** 30));
    } finally {
      await admin.disconnect();
    }
  });

  it('update-broker-count 3 → 6 → 3: partitions move, the data stays', async (t) => {
    let began = Date.now();
    let v = (await describeCluster()).CurrentVersion;
    await cp.awsJson(['update-broker-count', '--cluster-arn', arn, '--current-version', v, '--target-number-of-broker-nodes', '6']);
    let info = await waitFor('ACTIVE', 240_000);
    t.diagnostic(`3 → 6 in ${Date.now() - began} ms`);
    assert.equal(info.NumberOfBrokerNodes, 6);
    const nodes = await cp.awsJson<{ NodeInfoList: { BrokerNodeInfo: { BrokerId: number; ClientSubnet: string } }[] }>(['list-nodes', '--cluster-arn', arn]);
    assert.equal(nodes.NodeInfoList.length, 6);
    assert.deepEqual(Object.values(countBy(nodes.NodeInfoList, (n) => n.BrokerNodeInfo.ClientSubnet)), [2, 2, 2]);
    // the new brokers hold replicas now
    const admin = kafkajsClient(bootstrap, 'cp-cli-admin').admin();
    await admin.connect();
    try {
      const meta = await admin.fetchTopicMetadata({ topics: [topic] });
      const holders = new Set(meta.topics[0]!.partitions.flatMap((p) => p.replicas));
      assert.ok([4, 5, 6].some((id) => holders.has(id)), `replicas only on ${[...holders].join(',')}`);
    } finally {
      await admin.disconnect();
    }
    await readAll();

    began = Date.now();
    v = (await describeCluster()).CurrentVersion;
    await cp.awsJson(['update-broker-count', '--cluster-arn', arn, '--current-version', v, '--target-number-of-broker-nodes', '3']);
    info = await waitFor('ACTIVE', 240_000);
    t.diagnostic(`6 → 3 in ${Date.now() - began} ms`);
    assert.equal(info.NumberOfBrokerNodes, 3);
    bootstrap = (await cp.awsJson<{ BootstrapBrokerString: string }>(['get-bootstrap-brokers', '--cluster-arn', arn])).BootstrapBrokerString;
    assert.equal(bootstrap.split(',').length, 3);
    await readAll();
  });

  it('reboot-broker under load: only retriable errors, every acknowledged record once', async (t) => {
    const loadTopic = uniqueTopic('cp-cli-reboot');
    await createTopic(bootstrap, loadTopic, 6, 3, { 'min.insync.replicas': '2' });
    const producer = startProducer(['--bootstrap', bootstrap, '--topic', loadTopic, '--rate', '500', '--duration', '0']);
    try {
      await sleep(1000);
      const ids = (await cp.awsJson<{ NodeInfoList: { BrokerNodeInfo: { BrokerId: number } }[] }>(['list-nodes', '--cluster-arn', arn])).NodeInfoList.map((n) => n.BrokerNodeInfo.BrokerId);
      const pidBefore = brokerPids(cp.dataDir, 'lifecycle').get(ids[0]!);
      const began = Date.now();
      const reboot = await cp.awsJson<{ ClusterOperationArn: string }>(['reboot-broker', '--cluster-arn', arn, '--broker-ids', String(ids[0])]);
      await waitFor('ACTIVE', 120_000);
      // a reboot takes about a second here: polling through the CLI (~0.5 s a call) may not see
      // REBOOTING_BROKER, so the operation and the new process are what prove it happened
      const op = await cp.awsJson<{ ClusterOperationInfo: { OperationType: string; OperationState: string; OperationSteps: { StepName: string }[] } }>(['describe-cluster-operation', '--cluster-operation-arn', reboot.ClusterOperationArn]);
      t.diagnostic(`reboot of broker ${ids[0]}: ACTIVE again after ${Date.now() - began} ms (steps ${op.ClusterOperationInfo.OperationSteps.map((s) => s.StepName).join(', ')})`);
      assert.equal(op.ClusterOperationInfo.OperationType, 'REBOOT_NODE');
      assert.equal(op.ClusterOperationInfo.OperationState, 'UPDATE_COMPLETE');
      assert.notEqual(brokerPids(cp.dataDir, 'lifecycle').get(ids[0]!), pidBefore, `broker ${ids[0]} runs as a new process`);
      await sleep(1000);
    } finally {
      producer.client.stop();
      await within(producer.client.done, 120_000, 'producer');
    }
    assert.deepEqual(producer.failures, [], 'no record failed delivery');
    const bad = producer.clientErrors.filter((e) => e.fatal || !isRetriable(e.error));
    assert.deepEqual(bad, [], 'only retriable client errors');
    const read = await readTopic(bootstrap, loadTopic);
    const check = checkAcked(producer.acks, read);
    t.diagnostic(`${producer.acks.length} acknowledged during the reboot, ${read.length} read`);
    assert.deepEqual(check.missing, [], `${check.missingCount} acknowledged records missing`);
    assert.deepEqual(check.moved, []);
    assert.deepEqual(check.duplicates, [], `${check.duplicateCount} duplicated values`);
    assert.deepEqual(check.disorder, []);
    await readAll();
  });

  it('list-cluster-operations lists every operation, completed, with steps', async () => {
    const ops = await cp.awsJson<{ ClusterOperationInfoList: { OperationType: string; OperationState: string; OperationArn: string }[] }>(['list-cluster-operations', '--cluster-arn', arn]);
    const types = ops.ClusterOperationInfoList.map((o) => o.OperationType);
    for (const type of ['CREATE', 'UPDATE_CLUSTER_CONFIGURATION', 'UPDATE_BROKER_STORAGE', 'UPDATE_BROKER_COUNT', 'REBOOT_NODE']) {
      assert.ok(types.includes(type), `${type} in ${types.join(', ')}`);
    }
    for (const o of ops.ClusterOperationInfoList) assert.equal(o.OperationState, 'UPDATE_COMPLETE', `${o.OperationType}`);
    const scale = ops.ClusterOperationInfoList.find((o) => o.OperationType === 'UPDATE_BROKER_COUNT')!;
    const d = await cp.awsJson<{ ClusterOperationInfo: { OperationSteps: { StepName: string; StepInfo: { StepStatus: string } }[] } }>(['describe-cluster-operation', '--cluster-operation-arn', scale.OperationArn]);
    assert.ok(d.ClusterOperationInfo.OperationSteps.length > 0);
  });

  it('delete-cluster: DELETING, then NotFoundException, the processes are gone', async () => {
    await cp.awsJson(['delete-cluster', '--cluster-arn', arn]);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const r = await cp.aws(['describe-cluster', '--cluster-arn', arn], { check: false });
      if (r.code !== 0) {
        assert.match(r.stderr, /NotFoundException/);
        break;
      }
      assert.ok(Date.now() < deadline, 'cluster still there 60 s after delete-cluster');
      await sleep(200);
    }
    const r = await cp.aws(['get-bootstrap-brokers', '--cluster-arn', arn], { check: false });
    assert.match(r.stderr, /NotFoundException/);
    for (const address of bootstrap.split(',')) {
      const [host, port] = address.split(':');
      const open = await new Promise<boolean>((resolve) => {
        const s = connect({ host: host!, port: Number(port) });
        s.once('connect', () => (s.destroy(), resolve(true)));
        s.once('error', () => resolve(false));
      });
      assert.equal(open, false, `${address} still accepts connections after delete-cluster`);
    }
  });
});
