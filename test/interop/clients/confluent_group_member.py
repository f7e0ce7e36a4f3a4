#!/usr/bin/python3
"""One member of a consumer group, with confluent-kafka-python (librdkafka 2.0.2), for the
consumer-group interop tests (test/interop/groups-*.test.ts).

  confluent_group_member.py --bootstrap B --group G --topic T
      [--strategy roundrobin|range|cooperative-sticky] [--session-timeout-ms 6000]
      [--batch 20] [--delay-ms 0] [--client-id ID]

Subscribes (the classic group protocol), consumes in batches of poll()ed messages and, after
each processed batch, commits the next offset of every partition of the batch synchronously
(a failed commit is retried with the next round while the partition stays assigned).
Auto commit is off, so only acknowledged commits move the group's offsets.

One JSON line per event on stdout (flushed at once, so a SIGKILL loses nothing printed):
  {"ev": "assign", "partitions": [..], "assignment": [..], "protocol": "..."}  (on_assign)
  {"ev": "revoke", "partitions": [..], "assignment": [..]}                    (on_revoke)
  {"ev": "lost", "partitions": [..]}                                          (on_lost)
  {"ev": "rec", "p": P, "o": O, "k": "key"}
  {"ev": "commit", "offsets": {"P": O, ..}}      (after the broker acknowledged the commit)
  {"ev": "commit-failed", "error": "..."}
  {"ev": "closed"}
`partitions` are the ones the callback was given (incremental with cooperative-sticky);
`assignment` is Consumer.assignment() after the callback.

Stops (close(): LeaveGroup) when stdin reaches EOF or a line "stop" arrives.
"""
import argparse
import json
import sys
import threading
import time

from confluent_kafka import Consumer, KafkaException, TopicPartition


def emit(obj):
    sys.stdout.write(json.dumps(obj, separators=(',', ':')) + '\n')
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--bootstrap', required=True)
    ap.add_argument('--group', required=True)
    ap.add_argument('--topic', required=True)
    ap.add_argument('--strategy', default='roundrobin')
    ap.add_argument('--session-timeout-ms', type=int, default=6000)
    ap.add_argument('--batch', type=int, default=20)
    ap.add_argument('--delay-ms', type=int, default=0)
    ap.add_argument('--client-id', default='confluent-group-member')
    args = ap.parse_args()

    stop = threading.Event()
    pending = {}  # partition -> next offset, processed but not committed yet

    def watch_stdin():
        for line in sys.stdin:
            if line.strip() == 'stop':
                break
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()

    c = Consumer({
        'bootstrap.servers': args.bootstrap,
        'broker.address.family': 'v4',
        'client.id': args.client_id,
        'group.id': args.group,
        'partition.assignment.strategy': args.strategy,
        'session.timeout.ms': args.session_timeout_ms,
        'heartbeat.interval.ms': 500,
        'enable.auto.commit': False,
        'auto.offset.reset': 'earliest',
        'fetch.wait.max.ms': 100,
        'topic.metadata.refresh.interval.ms': 2000,
    })

    def parts(ps):
        return sorted(tp.partition for tp in ps)

    def assignment():
        try:
            return parts(c.assignment())
        except Exception:  # noqa: BLE001 - the callback runs while the assignment changes
            return None

    def on_assign(consumer, ps):
        if args.strategy == 'cooperative-sticky':
            consumer.incremental_assign(ps)
        else:
            consumer.assign(ps)
        emit({'ev': 'assign', 'partitions': parts(ps), 'assignment': assignment()})

    def on_revoke(consumer, ps):
        # Commit what was processed of the partitions that go (the usual on_revoke), best effort.
        mine = sorted((tp.partition, pending.pop(tp.partition)) for tp in ps if tp.partition in pending)
        if mine:
            try:
                consumer.commit(offsets=[TopicPartition(args.topic, p, o) for p, o in mine], asynchronous=False)
                emit({'ev': 'commit', 'offsets': {str(p): o for p, o in mine}})
            except KafkaException as e:
                emit({'ev': 'commit-failed', 'error': 'on_revoke: %s' % e})
        if args.strategy == 'cooperative-sticky':
            consumer.incremental_unassign(ps)
        else:
            consumer.unassign()
        emit({'ev': 'revoke', 'partitions': parts(ps), 'assignment': assignment()})

    def on_lost(consumer, ps):
        emit({'ev': 'lost', 'partitions': parts(ps)})
        on_revoke(consumer, ps)

    c.subscribe([args.topic], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)
    emit({'ev': 'started'})
    while not stop.is_set():
        # A batch from poll(), not Consumer.consume(): librdkafka 2.0's batch consume API can skip
        # an offset when the assignment changes (a known issue of 2.0, fixed in 2.1: librdkafka
        # PR #4117/#4235), which is what incremental rebalancing does all the time.
        msgs = []
        while len(msgs) < args.batch:
            m = c.poll(0.2 if not msgs else 0)
            if m is None:
                break
            msgs.append(m)
        got = False
        for m in msgs:
            if m.error():
                emit({'ev': 'error', 'error': str(m.error())})
                continue
            k = m.key()
            emit({'ev': 'rec', 'p': m.partition(), 'o': m.offset(), 'k': None if k is None else k.decode('utf-8', 'replace')})
            pending[m.partition()] = m.offset() + 1
            got = True
        if got and args.delay_ms > 0:
            time.sleep(args.delay_ms / 1000.0)  # "processing"
        if pending:
            # A failed commit (REBALANCE_IN_PROGRESS while the group rebalances) is retried on the
            # next round, for the partitions still assigned.
            offsets = sorted(pending.items())
            try:
                c.commit(offsets=[TopicPartition(args.topic, p, o) for p, o in offsets], asynchronous=False)
                emit({'ev': 'commit', 'offsets': {str(p): o for p, o in offsets}})
                for p, o in offsets:
                    if pending.get(p) == o:
                        del pending[p]
            except KafkaException as e:
                emit({'ev': 'commit-failed', 'error': str(e)})
    c.close()
    emit({'ev': 'closed'})


if __name__ == '__main__':
    main()
