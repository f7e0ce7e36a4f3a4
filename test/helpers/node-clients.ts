/**
 * Produce/consume helpers for the Node clients: KafkaJS 2.2.4 and @platformatic/kafka 1.35.
 *
 * These helpers read without consumer groups, so the data-path tests do not depend on them (the
 * groups-* tests cover groups):
 *  - KafkaJS has no group-less consumer. We read through KafkaJS's own cluster/broker layer
 *    (the same code its consumer uses: Metadata, Fetch v11 and its RecordBatch decoder) via the
 *    client's internal cluster factory. That is unmodified KafkaJS code, only not its public API.
 *  - @platformatic/kafka's Consumer has a public, group-less `fetch({ node, topics })`; we drive it
 *    partition by partition from offset 0 up to the high watermark from `listOffsets`.
 */
import { Kafka, logLevel, CompressionTypes, type Admin as KafkaJSAdmin } from 'kafkajs';
import { Admin as PltAdmin, Consumer as PltConsumer, Producer as PltProducer } from '@platformatic/kafka';
import { chunkForSend, type ConsumedRecord, type TestRecord } from './dataset.js';

// ------------------------------------------------------------------------------------------ KafkaJS

export function kafkajs(bootstrap: string, clientId = 'fjord-interop-kafkajs'): Kafka {
  return new Kafka({
    clientId,
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 10_000,
    requestTimeout: 60_000,
    retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 5_000 },
  });
}

export const KAFKAJS_CODECS: Record<string, CompressionTypes> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
};

export async function kafkajsProduce(
  kafka: Kafka,
  topic: string,
  records: TestRecord[],
  opts: { codec?: string; acks?: number; idempotent?: boolean } = {},
): Promise<void> {
  const compression = KAFKAJS_CODECS[opts.codec ?? 'none'];
  if (compression === undefined) throw new Error(`KafkaJS cannot use codec ${opts.codec} without a codec plugin`);
  const producer = kafka.producer({
    allowAutoTopicCreation: false,
    idempotent: opts.idempotent ?? false,
    ...(opts.idempotent ? { maxInFlightRequests: 1 } : {}),
  });
  await producer.connect();
  try {
    for (const chunk of chunkForSend(records)) {
      await producer.send({
        topic,
        acks: opts.acks ?? -1,
        compression,
        messages: chunk.map((r) => {
          const headers: Record<string, Buffer | Buffer[]> = {};
          for (const [n, v] of r.headers) {
            const prev = headers[n];
            headers[n] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
          }
          return {
            partition: r.partition,
            key: r.key,
            value: r.value,
            headers,
            timestamp: r.timestamp !== undefined ? String(r.timestamp) : undefined,
          };
        }),
      });
    }
  } finally {
    await producer.disconnect();
  }
}

interface KafkaJSMessage {
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  timestamp: string;
  headers: Record<string, Buffer | null | Array<Buffer | null>>;
  isControlRecord?: boolean;
}

interface KafkaJSBroker {
  fetch(req: {
    replicaId: number;
    isolationLevel: number;
    maxWaitTime: number;
    minBytes: number;
    maxBytes: number;
    topics: Array<{ topic: string; partitions: Array<{ partition: number; fetchOffset: string; maxBytes: number }> }>;
  }): Promise<{ responses: Array<{ topicName: string; partitions: Array<{ partition: number; errorCode: number; highWatermark: string; messages: KafkaJSMessage[] }> }> }>;
}

interface KafkaJSCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  refreshMetadata(): Promise<void>;
  findTopicPartitionMetadata(topic: string): Array<{ partitionId: number; leader: number }>;
  findBroker(b: { nodeId: number }): Promise<KafkaJSBroker>;
}

function kafkajsCluster(kafka: Kafka): KafkaJSCluster {
  const sym = Object.getOwnPropertySymbols(kafka).find((s) => s.description === 'private:Kafka:createCluster');
  if (!sym) throw new Error('KafkaJS internals changed: no private:Kafka:createCluster symbol');
  const create = (kafka as unknown as Record<symbol, (o: object) => KafkaJSCluster>)[sym];
  return create({ metadataMaxAge: 300_000, allowAutoTopicCreation: false, maxInFlightRequests: null, isolationLevel: 1 });
}

/** Reads every record of a topic, from offset 0 to the high watermark, with KafkaJS's fetch path. */
export async function kafkajsConsume(kafka: Kafka, topic: string, opts: { timeoutMs?: number } = {}): Promise<ConsumedRecord[]> {
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  const admin = kafka.admin();
  await admin.connect();
  let highs: Array<{ partition: number; high: string; low: string }>;
  try {
    highs = await admin.fetchTopicOffsets(topic);
  } finally {
    await admin.disconnect();
  }
  const cluster = kafkajsCluster(kafka);
  await cluster.connect();
  const out: ConsumedRecord[] = [];
  try {
    await cluster.addTargetTopic(topic);
    const meta = cluster.findTopicPartitionMetadata(topic);
    for (const { partition, high, low } of highs.sort((a, b) => a.partition - b.partition)) {
      const leader = meta.find((m) => m.partitionId === partition)?.leader;
      if (leader === undefined) throw new Error(`KafkaJS: no leader for ${topic}/${partition}`);
      const broker = await cluster.findBroker({ nodeId: leader });
      let offset = BigInt(low);
      const end = BigInt(high);
      while (offset < end) {
        if (Date.now() > deadline) throw new Error(`KafkaJS fetch timed out at ${topic}/${partition} offset ${offset} (high ${end})`);
        const res = await broker.fetch({
          replicaId: -1,
          isolationLevel: 1,
          maxWaitTime: 200,
          minBytes: 1,
          maxBytes: 16 * 1024 * 1024,
          topics: [{ topic, partitions: [{ partition, fetchOffset: offset.toString(), maxBytes: 4 * 1024 * 1024 }] }],
        });
        const pr = res.responses[0]?.partitions.find((p) => p.partition === partition);
        if (!pr) throw new Error(`KafkaJS fetch: no data for ${topic}/${partition}`);
        if (pr.errorCode !== 0) throw new Error(`KafkaJS fetch: error code ${pr.errorCode} for ${topic}/${partition}`);
        let progressed = false;
        for (const m of pr.messages) {
          const o = BigInt(m.offset);
          if (o < offset || m.isControlRecord) continue;
          if (o >= end) break;
          const headers: Array<[string, Buffer]> = [];
          for (const [n, v] of Object.entries(m.headers ?? {})) {
            for (const x of Array.isArray(v) ? v : [v]) headers.push([n, x ?? Buffer.alloc(0)]);
          }
          out.push({ partition, offset: Number(o), key: m.key, value: m.value, headers, timestamp: Number(m.timestamp) });
          offset = o + 1n;
          progressed = true;
        }
        if (!progressed && pr.messages.length > 0) {
          // Only records before our offset (e.g. a batch starting earlier): skip to the last one.
          const last = BigInt(pr.messages[pr.messages.length - 1].offset);
          if (last >= offset) offset = last + 1n;
        } else if (!progressed) {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    }
  } finally {
    await cluster.disconnect();
  }
  return out;
}

export async function withKafkaJSAdmin<T>(kafka: Kafka, fn: (admin: KafkaJSAdmin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

// ------------------------------------------------------------------------------------------ @platformatic/kafka

const PLT_BASE = (bootstrap: string, clientId: string) => ({
  clientId,
  bootstrapBrokers: [bootstrap],
  timeout: 60_000,
  retries: 3,
  retryDelay: 250,
  connectTimeout: 10_000,
});

/**
 * @platformatic/kafka's codecs: none/gzip/snappy/lz4 natively (snappy and lz4 through its bundled
 * wasm). zstd needs node:zlib's zstd (Node >= 22.15); on Node 20 it reports
 * "zstd is not supported in the current Node.js version", so it is skipped there.
 */
export function platformaticCodecs(): string[] {
  const codecs = ['none', 'gzip', 'snappy', 'lz4'];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  if (typeof (process.versions as any).zstd === 'string') codecs.push('zstd');
  return codecs;
}

export function platformaticAdmin(bootstrap: string): PltAdmin {
  return new PltAdmin(PLT_BASE(bootstrap, 'fjord-interop-plt-admin'));
}

export async function platformaticProduce(
  bootstrap: string,
  topic: string,
  records: TestRecord[],
  opts: { codec?: string; acks?: number; idempotent?: boolean } = {},
): Promise<void> {
  const producer = new PltProducer({
    ...PLT_BASE(bootstrap, 'fjord-interop-plt-producer'),
    autocreateTopics: false,
    ...(opts.idempotent ? { idempotent: true } : {}),
  });
  try {
    for (const chunk of chunkForSend(records)) {
      await producer.send({
        acks: opts.acks ?? -1,
        compression: (opts.codec ?? 'none') as 'none',
        messages: chunk.map((r) => {
          const headers = new Map<Buffer, Buffer>();
          for (const [n, v] of r.headers) headers.set(Buffer.from(n, 'utf8'), v);
          return {
            topic,
            partition: r.partition,
            key: r.key ?? undefined,
            value: r.value ?? undefined,
            headers,
            timestamp: r.timestamp !== undefined ? BigInt(r.timestamp) : undefined,
          };
        }),
      });
    }
  } finally {
    await producer.close();
  }
}

/** Reads every record of a topic with @platformatic/kafka's group-less Consumer.fetch(). */
export async function platformaticConsume(bootstrap: string, topic: string, opts: { timeoutMs?: number } = {}): Promise<ConsumedRecord[]> {
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  // groupId is mandatory in the options, but no group API is called by fetch()/listOffsets().
  const consumer = new PltConsumer({ ...PLT_BASE(bootstrap, 'fjord-interop-plt-consumer'), groupId: 'fjord-interop-unused' });
  const out: ConsumedRecord[] = [];
  try {
    const meta = await consumer.metadata({ topics: [topic] });
    const tmeta = meta.topics.get(topic);
    if (!tmeta) throw new Error(`@platformatic/kafka: no metadata for ${topic}`);
    const latest = (await consumer.listOffsets({ topics: [topic] })).get(topic) ?? [];
    const earliest = (await consumer.listOffsets({ topics: [topic], timestamp: -2n })).get(topic) ?? [];
    for (let partition = 0; partition < tmeta.partitionsCount; partition++) {
      const leader = tmeta.partitions[partition].leader;
      let offset = earliest[partition] ?? 0n;
      const end = latest[partition] ?? 0n;
      while (offset < end) {
        if (Date.now() > deadline) throw new Error(`@platformatic/kafka fetch timed out at ${topic}/${partition} offset ${offset} (high ${end})`);
        const res = await consumer.fetch({
          node: leader,
          maxWaitTime: 200,
          minBytes: 1,
          maxBytes: 16 * 1024 * 1024,
          topics: [
            {
              topicId: tmeta.id,
              partitions: [{ partition, fetchOffset: offset, partitionMaxBytes: 4 * 1024 * 1024, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }],
            },
          ],
        });
        const pr = res.responses[0]?.partitions.find((p) => p.partitionIndex === partition);
        if (!pr) throw new Error(`@platformatic/kafka fetch: no data for ${topic}/${partition}`);
        if (pr.errorCode !== 0) throw new Error(`@platformatic/kafka fetch: error code ${pr.errorCode} for ${topic}/${partition}`);
        let progressed = false;
        for (const batch of pr.records ?? []) {
          const isControl = (batch.attributes & 0x20) !== 0;
          for (const r of batch.records) {
            const o = batch.firstOffset + BigInt(r.offsetDelta);
            if (o < offset || isControl || o >= end) continue;
            out.push({
              partition,
              offset: Number(o),
              key: r.key,
              value: r.value,
              headers: r.headers.map(([k, v]) => [k === null ? '' : k.toString('utf8'), v ?? Buffer.alloc(0)] as [string, Buffer]),
              timestamp: Number(batch.firstTimestamp + r.timestampDelta),
            });
            offset = o + 1n;
            progressed = true;
          }
        }
        if (!progressed && (pr.records?.length ?? 0) === 0 && offset < end) {
          // Nothing returned below the high watermark: keep polling until the deadline.
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    }
  } finally {
    await consumer.close(true);
  }
  return out;
}
