#!/usr/bin/python3
"""kafka-python 2.0.2 and consumer groups, for the consumer-group interop tests
(test/interop/groups-*.test.ts).

  kafka_python_group_member.py member --bootstrap B --group G --topic T [--session-timeout-ms 6000]
      One group member (subscribe(), the classic protocol, range assignor). After each poll()
      batch it commits the next offsets synchronously (a failed commit is retried next round). JSON lines on stdout:
        {"ev": "assign", "partitions": [..]}   {"ev": "revoke", "partitions": [..]}
        {"ev": "rec", "p": P, "o": O, "k": "key"}   {"ev": "commit", "offsets": {"P": O}}
        {"ev": "commit-failed", "error": "..."}   {"ev": "closed"}
      Stops (close(): LeaveGroup) when stdin reaches EOF or a line "stop" arrives.

  kafka_python_group_member.py committed --bootstrap B --group G --topic T --partitions N
      The group's committed offsets (OffsetFetch, without joining): {"0": 12, "1": null, ..}
"""
import argparse
import json
import sys
import threading

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.structs import OffsetAndMetadata


def emit(obj):
    sys.stdout.write(json.dumps(obj, separators=(',', ':')) + '\n')
    sys.stdout.flush()


class Listener(ConsumerRebalanceListener):
    def on_partitions_revoked(self, revoked):
        emit({'ev': 'revoke', 'partitions': sorted(tp.partition for tp in revoked)})

    def on_partitions_assigned(self, assigned):
        emit({'ev': 'assign', 'partitions': sorted(tp.partition for tp in assigned)})


def cmd_member(args):
    stop = threading.Event()
    pending = {}  # partition -> next offset, processed but not committed yet

    def watch_stdin():
        for line in sys.stdin:
            if line.strip() == 'stop':
                break
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    c = KafkaConsumer(
        bootstrap_servers=args.bootstrap,
        client_id='kafka-python-group-member',
        group_id=args.group,
        enable_auto_commit=False,
        auto_offset_reset='earliest',
        session_timeout_ms=args.session_timeout_ms,
        heartbeat_interval_ms=500,
        fetch_max_wait_ms=100,
        metadata_max_age_ms=2000,
    )
    c.subscribe([args.topic], listener=Listener())
    emit({'ev': 'started'})
    while not stop.is_set():
        batches = c.poll(timeout_ms=200)
        for tp, msgs in batches.items():
            for m in msgs:
                k = m.key
                emit({'ev': 'rec', 'p': tp.partition, 'o': m.offset, 'k': None if k is None else k.decode('utf-8', 'replace')})
                pending[tp.partition] = m.offset + 1
        if pending:
            # A failed commit (a rebalance) is retried next round for partitions still assigned.
            owned = set(tp.partition for tp in c.assignment())
            for p in [p for p in pending if p not in owned]:
                del pending[p]
            offsets = sorted(pending.items())
            if not offsets:
                continue
            try:
                c.commit({TopicPartition(args.topic, p): OffsetAndMetadata(o, None) for p, o in offsets})
                emit({'ev': 'commit', 'offsets': {str(p): o for p, o in offsets}})
                for p, o in offsets:
                    if pending.get(p) == o:
                        del pending[p]
            except Exception as e:  # noqa: BLE001 - CommitFailedError and friends are reported
                emit({'ev': 'commit-failed', 'error': '%s: %s' % (type(e).__name__, e)})
    c.close()
    emit({'ev': 'closed'})


def cmd_committed(args):
    c = KafkaConsumer(bootstrap_servers=args.bootstrap, client_id='kafka-python-offset-fetch',
                      group_id=args.group, enable_auto_commit=False)
    out = {str(p): c.committed(TopicPartition(args.topic, p)) for p in range(args.partitions)}
    c.close()
    emit(out)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest='cmd', required=True)
    m = sub.add_parser('member')
    m.add_argument('--bootstrap', required=True)
    m.add_argument('--group', required=True)
    m.add_argument('--topic', required=True)
    m.add_argument('--session-timeout-ms', type=int, default=6000)
    m.set_defaults(fn=cmd_member)
    q = sub.add_parser('committed')
    q.add_argument('--bootstrap', required=True)
    q.add_argument('--group', required=True)
    q.add_argument('--topic', required=True)
    q.add_argument('--partitions', type=int, required=True)
    q.set_defaults(fn=cmd_committed)
    args = ap.parse_args()
    args.fn(args)


if __name__ == '__main__':
    main()
