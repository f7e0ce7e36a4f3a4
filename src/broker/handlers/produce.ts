// Produce: validate each record batch, assign offsets, append, and answer when the leader's write
// is done (acks=1), when the high watermark passes the batch (acks=all: every ISR member has it),
// or not at all (acks=0). acks=all needs min.insync.replicas in the ISR: NOT_ENOUGH_REPLICAS
// before appending, NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR shrank while it waited.
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

async function producePartition(ctx: RequestContext, topic: string, index: number, records: Buffer | null, acks: number, transactionalId: string | null, timeoutMs: number): Promise<PartitionResult> {
  // Everything up to log.append runs synchronously, so pipelined requests append in order.
  const { broker } = ctx
  const result: PartitionResult = { index, errorCode: 0, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1, errorMessage: null, recordErrors: [] }
  try {
    const replica = broker.leaderReplica(topic, index)
    const log = replica.log
    const settings = broker.topicSettings(topic)
    const epoch = replica.state.leaderEpoch
    if (acks === -1 && replica.state.isr.length < settings.minInsyncReplicas) {
      throw new KafkaError(ErrorCode.NOT_ENOUGH_REPLICAS, `The ISR of ${topic}-${index} has ${replica.state.isr.length} replicas, fewer than min.insync.replicas=${settings.minInsyncReplicas}`)
    }
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
    if (settings.logAppendTime) assignOffsets(batch, 0, { logAppendTime: now, partitionLeaderEpoch: epoch })
    else if (info.maxTimestamp !== info.headerMaxTimestamp) assignOffsets(batch, 0, { partitionLeaderEpoch: epoch, maxTimestamp: info.maxTimestamp })
    else batch.writeInt32BE(epoch, BatchOffset.partitionLeaderEpoch) // not under the CRC
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
        if (acks === -1) await replica.waitForHighWatermark(duplicate.lastOffset + 1, timeoutMs, epoch)
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
    // Followers wake when the write completes; consumers when the high watermark passes it.
    const written = appended.done.then(() => replica.written(appended.lastOffset + 1, batch.length))
    if (acks === 0) written.catch((err) => broker.log.warn({ err, topic, partition: index }, 'acks=0 append failed'))
    else await written
    if (acks === -1) {
      await replica.waitForHighWatermark(appended.lastOffset + 1, timeoutMs, epoch)
      if (replica.state.isr.length < settings.minInsyncReplicas) {
        throw new KafkaError(ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND, `The ISR of ${topic}-${index} shrank to ${replica.state.isr.length}, below min.insync.replicas=${settings.minInsyncReplicas}, after the append`)
      }
    }
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
    partitionResponses: t.partitionData.map((p) => producePartition(ctx, t.name, p.index, p.records, req.acks, req.transactionalId, req.timeoutMs)),
  }))
  const settled = await Promise.all(responses.map(async (t) => ({ name: t.name, partitionResponses: await Promise.all(t.partitionResponses) })))
  if (req.acks === 0) return NO_RESPONSE
  return { responses: settled, throttleTimeMs: 0 }
})
