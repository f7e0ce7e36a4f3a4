"""Leaves transactions open for a broker crash (confluent-kafka-python).

argv: bootstrap topic. Commits one transaction of 30 records with keys c-0..c-29
(transactional.id crash-commit), then begins one of 30 records o-0..o-29 (crash-open,
transaction.timeout.ms 8000), flushes it so the records are in the log, prints OPEN and
sleeps until it is killed.
"""
import sys, time
from confluent_kafka import Producer

bootstrap, topic = sys.argv[1], sys.argv[2]
c = Producer({'bootstrap.servers': bootstrap, 'transactional.id': 'crash-commit'})
c.init_transactions(30)
c.begin_transaction()
for i in range(30):
    c.produce(topic, key=('c-%d' % i).encode(), value=b'committed', partition=i % 2)
c.commit_transaction(30)
o = Producer({'bootstrap.servers': bootstrap, 'transactional.id': 'crash-open', 'transaction.timeout.ms': 8000})
o.init_transactions(30)
o.begin_transaction()
for i in range(30):
    o.produce(topic, key=('o-%d' % i).encode(), value=b'open', partition=i % 2)
o.flush(30)
print('OPEN', flush=True)
time.sleep(300)
