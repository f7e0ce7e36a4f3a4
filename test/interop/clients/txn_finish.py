"""After the crash: a new producer with the open transaction's id (crash-open) fences the old
one and commits 5 records n-0..n-4. argv: bootstrap topic."""
import sys
from confluent_kafka import Producer

bootstrap, topic = sys.argv[1], sys.argv[2]
p = Producer({'bootstrap.servers': bootstrap, 'transactional.id': 'crash-open'})
p.init_transactions(60)
p.begin_transaction()
for i in range(5):
    p.produce(topic, key=('n-%d' % i).encode(), value=b'after', partition=i % 2)
p.commit_transaction(30)
print('DONE', flush=True)
