// Produce: validate each record batch, assign offsets, append, and answer when the write is
// done (acks=1/all; on one broker the ISR is the leader itself) or not at all (acks=0).
// Work is per batch: the record bytes are validated in place and stored exactly as received.

import { Apis } from '../../protocol/apis.js'
import { ErrorCode, KafkaError } from '../../protocol/errors.js'
import { BatchOffset } from '../../protocol/record-batch.js'
import { RecordValidationError, assignOffsets, produceBatch, validateBatch } from '../../protocol/records.js'
import { NO_RESPONSE, defineHandler, type RequestContext } from '../registry.js'

interface PartitionResult {
  index: number
  errorCode: number
  baseOffset: number
  logAppendTimeMs: number
  logStartOffset: number
  errorMessage: string | null
  recordErrors: { batchIndex: number; batchIndexErrorMessage: string | null }[]
}

async function producePartition(ctx: RequestContext, topic: string, index: number, records: Buffer | null, acks: number, transactionalId: string | null): Promise<PartitionResult> {
  // Everything up to log.append runs synchronously, so pipelined requests append in order.
  const { broker } = ctx
  const result: PartitionResult = { index, errorCode: 0, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1, errorMessage: null, recordErrors: [] }
  const log = broker.partition(topic, index)
  try {
    if (!log) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    const settings = broker.topicSettings(topic)
    const now = Date.now()
    const batch = produceBatch(records, ctx.version)
    const info = validateBatch(batch, {
      maxMessageBytes: settings.maxMessageBytes,
      timestampType: settings.logAppendTime ? 'LogAppendTime' : 'CreateTime',
      now,
      timestampBeforeMaxMs: settings.timestampBeforeMaxMs,
      timestampAfterMaxMs: settings.timestampAfterMaxMs,
      compactedTopic: settings.compacted,
    })
    if (settings.logAppendTime) assignOffsets(batch, 0, { logAppendTime: now, partitionLeaderEpoch: 0 })
    else if (info.maxTimestamp !== info.headerMaxTimestamp) assignOffsets(batch, 0, { partitionLeaderEpoch: 0, maxTimestamp: info.maxTimestamp })
    else batch.writeInt32BE(0, BatchOffset.partitionLeaderEpoch) // not under the CRC
    if (transactionalId !== null) {
      // A transactional producer: its batch must be transactional, from the id's current producer
      // and epoch, to a partition added to its ongoing transaction (AddPartitionsToTxn).
      if (!info.isTransactional || info.producerId < 0) throw new KafkaError(ErrorCode.INVALID_RECORD, 'A produce request with a transactional id must carry transactional batches')
      const error = broker.transactions.checkProduce(transactionalId, info.producerId, info.producerEpoch, topic, index)
      if (error !== ErrorCode.NONE) throw new KafkaError(error)
    }
    const idempotent = info.producerId >= 0
    const firstSeq = info.baseSequence
    const lastSeq = (firstSeq + info.lastOffsetDelta) % 2 ** 31
    if (idempotent) {
      const duplicate = log.producers.check(info.producerId, info.producerEpoch, firstSeq, lastSeq)
      if (duplicate) {
        // A retry of a batch we already have: answer with where it went, append nothing. If the
        // original is still being written, its outcome is the retry's: wait for it.
        await log.whenWritten(duplicate.lastOffset)
        result.baseOffset = duplicate.firstOffset
        result.logStartOffset = log.logStartOffset
        return result
      }
    }
    const appended = log.append([batch], settings.logAppendTime ? { logAppendTime: now } : undefined)
    if (idempotent) {
      log.producers.record(info.producerId, info.producerEpoch, { firstSeq, lastSeq, firstOffset: appended.baseOffset, lastOffset: appended.lastOffset }, now)
      appended.done.catch(() => log.producers.forget(info.producerId))
    }
    result.baseOffset = appended.baseOffset
    result.logAppendTimeMs = settings.logAppendTime ? now : -1
    // Waiting fetches wake when this batch becomes readable, i.e. once its write completes.
    const readable = appended.done.then(() => broker.notifyAppend(topic, index, batch.length))
    if (acks !== 0) await readable
    else readable.catch((err) => broker.log.warn({ err, topic, partition: index }, 'acks=0 append failed'))
    result.logStartOffset = log.logStartOffset
  } catch (err) {
    if (!(err instanceof KafkaError)) throw err
    result.errorCode = err.code
    result.errorMessage = err.message
    if (err instanceof RecordValidationError) {
      result.recordErrors = err.recordErrors.map((e) => ({ batchIndex: e.batchIndex, batchIndexErrorMessage: e.message }))
    }
    result.baseOffset = -1
  }
  return result
}

export const produceHandler = defineHandler(Apis.Produce, async (ctx, req) => {
  const { broker } = ctx
  if (req.acks !== 0 && req.acks !== 1 && req.acks !== -1) {
    return {
      responses: req.topicData.map((t) => ({
        name: t.name,
        partitionResponses: t.partitionData.map((p) => ({ index: p.index, errorCode: ErrorCode.INVALID_REQUIRED_ACKS.code })),
      })),
    }
  }
  // Only await when there is something to create: pipelined produces must start in arrival order.
  const missing = req.topicData.map((t) => t.name).filter((n) => !broker.metadata.topic(n))
  if (missing.length > 0) await broker.autoCreate(missing)
  // Start every partition's append now, in request order, then wait for them together.
  const responses = req.topicData.map((t) => ({
    name: t.name,
    partitionResponses: t.partitionData.map((p) => producePartition(ctx, t.name, p.index, p.records, req.acks, req.transactionalId)),
  }))
  const settled = await Promise.all(responses.map(async (t) => ({ name: t.name, partitionResponses: await Promise.all(t.partitionResponses) })))
  if (req.acks === 0) return NO_RESPONSE
  return { responses: settled, throttleTimeMs: 0 }
})
