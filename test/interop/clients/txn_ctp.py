"""Consume-transform-produce with confluent-kafka-python (librdkafka) transactions.

argv: bootstrap src dst n [abort_every]. Creates src and dst (3 partitions each), writes n keyed
records to src, then loops: a read_committed group consumer reads up to 25 records, a
transactional producer writes them upper-cased to dst and sends the consumer's positions with
send_offsets_to_transaction; every abort_every-th transaction is aborted and the consumer
rewinds to its committed offsets. Prints one JSON line with the counts.
"""
import sys, json, time
from confluent_kafka import Producer, Consumer, TopicPartition, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic
bootstrap, src, dst, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
abort_every = int(sys.argv[5]) if len(sys.argv) > 5 else 3
admin = AdminClient({'bootstrap.servers': bootstrap})
for f in admin.create_topics([NewTopic(src, 3, 1), NewTopic(dst, 3, 1)]).values():
    f.result()
p = Producer({'bootstrap.servers': bootstrap})
for i in range(n):
    p.produce(src, key=str(i).encode(), value=('v%d' % i).encode(), partition=i % 3)
p.flush()
c = Consumer({'bootstrap.servers': bootstrap, 'group.id': 'ctp-' + src, 'auto.offset.reset': 'earliest',
              'enable.auto.commit': False, 'isolation.level': 'read_committed'})
c.subscribe([src])
tp = Producer({'bootstrap.servers': bootstrap, 'transactional.id': 'ctp-' + src, 'transaction.timeout.ms': 20000})
tp.init_transactions(30)
txn = 0; committed = 0; aborted = 0; idle = 0
done = set()
while True:
    msgs = c.consume(25, 1.0)
    msgs = [m for m in msgs if not m.error()]
    if not msgs:
        idle += 1
        if idle > 5: break
        continue
    idle = 0
    txn += 1
    tp.begin_transaction()
    for m in msgs:
        tp.produce(dst, key=m.key(), value=m.value().upper(), partition=m.partition())
    tp.send_offsets_to_transaction(c.position(c.assignment()), c.consumer_group_metadata(), 30)
    if txn % abort_every == 0:
        tp.flush(30)  # the aborted records reach the log (abort_transaction purges unsent ones)
        tp.abort_transaction(30)
        aborted += 1
        # rewind to the committed offsets
        for tpc in c.committed(c.assignment(), 10):
            c.seek(TopicPartition(tpc.topic, tpc.partition, tpc.offset if tpc.offset >= 0 else 0))
    else:
        tp.commit_transaction(30)
        committed += 1
c.close()
# read back with read_committed
r = Consumer({'bootstrap.servers': bootstrap, 'group.id': 'reader-' + dst, 'auto.offset.reset': 'earliest', 'isolation.level': 'read_committed', 'enable.auto.commit': False})
r.assign([TopicPartition(dst, p, 0) for p in range(3)])
seen = []
idle = 0
while idle < (4 if seen else 15):
    ms = r.consume(500, 1.0)
    ms = [m for m in ms if not m.error()]
    if not ms: idle += 1; continue
    idle = 0
    seen += [m.key().decode() for m in ms]
r.close()
ru = Consumer({'bootstrap.servers': bootstrap, 'group.id': 'readu-' + dst, 'auto.offset.reset': 'earliest', 'isolation.level': 'read_uncommitted', 'enable.auto.commit': False})
ru.assign([TopicPartition(dst, p, 0) for p in range(3)])
unc = 0; idle = 0
while idle < (3 if unc > 0 else 15):
    ms = ru.consume(500, 1.0)
    ms = [m for m in ms if not m.error()]
    if not ms: idle += 1; continue
    idle = 0; unc += len(ms)
ru.close()
print(json.dumps({'txns': txn, 'committed': committed, 'aborted': aborted, 'seen': len(seen), 'unique': len(set(seen)), 'uncommitted_read': unc,
                  'missing': sorted(set(str(i) for i in range(n)) - set(seen), key=int)[:10]}))
