import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ProducerStateManager } from './producer-state.js'
import { KafkaError } from '../protocol/errors.js'

const code = (fn: () => unknown) => {
  try { fn() } catch (err) { if (err instanceof KafkaError) return err.error.name; throw err }
  return 'NONE'
}

test('in-sequence batches pass; a retried batch is a duplicate with its original offsets', () => {
  const p = new ProducerStateManager()
  assert.equal(p.check(7, 0, 0, 9), undefined)
  p.record(7, 0, { firstSeq: 0, lastSeq: 9, firstOffset: 100, lastOffset: 109 })
  assert.equal(p.check(7, 0, 10, 19), undefined)
  p.record(7, 0, { firstSeq: 10, lastSeq: 19, firstOffset: 110, lastOffset: 119 })
  assert.deepEqual(p.check(7, 0, 0, 9), { firstSeq: 0, lastSeq: 9, firstOffset: 100, lastOffset: 109 })
})

test('a gap is OUT_OF_ORDER_SEQUENCE_NUMBER, an older epoch INVALID_PRODUCER_EPOCH', () => {
  const p = new ProducerStateManager()
  p.record(7, 3, { firstSeq: 0, lastSeq: 4, firstOffset: 0, lastOffset: 4 })
  assert.equal(code(() => p.check(7, 3, 8, 9)), 'OUT_OF_ORDER_SEQUENCE_NUMBER')
  assert.equal(code(() => p.check(7, 2, 5, 9)), 'INVALID_PRODUCER_EPOCH')
  assert.equal(code(() => p.check(7, 4, 5, 9)), 'OUT_OF_ORDER_SEQUENCE_NUMBER')
  assert.equal(code(() => p.check(7, 4, 0, 9)), 'NONE')
})

test('only the last five batches are remembered; an unknown producer may start anywhere', () => {
  const p = new ProducerStateManager()
  for (let i = 0; i < 7; i++) p.record(1, 0, { firstSeq: i, lastSeq: i, firstOffset: i, lastOffset: i })
  assert.equal(p.check(1, 0, 2, 2)?.firstOffset, 2)
  assert.equal(code(() => p.check(1, 0, 1, 1)), 'OUT_OF_ORDER_SEQUENCE_NUMBER')
  assert.equal(p.check(2, 0, 42, 50), undefined)
})
