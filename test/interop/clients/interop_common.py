"""Shared helpers for the Python interop clients (run with Debian's /usr/bin/python3).

Records travel between the Node tests and these scripts as JSON lines:
  {"p": partition, "o": offset, "k": base64|null, "v": base64|null, "h": [[name, base64]], "t": ms}
"""
import base64
import json
import sys
import time


def b64(b):
    return None if b is None else base64.b64encode(bytes(b)).decode('ascii')


def unb64(s):
    return None if s is None else base64.b64decode(s)


def read_records(path):
    out = []
    with open(path, 'r', encoding='utf-8') as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            j = json.loads(line)
            out.append({
                'p': j['p'],
                'k': unb64(j.get('k')),
                'v': unb64(j.get('v')),
                'h': [(n, unb64(v)) for n, v in j.get('h', [])],
                't': j.get('t'),
            })
    return out


def record_json(partition, offset, key, value, headers, timestamp=None):
    j = {
        'p': partition,
        'o': offset,
        'k': b64(key),
        'v': b64(value),
        'h': [[n if isinstance(n, str) else n.decode('utf-8'), b64(v) if v is not None else None] for n, v in (headers or [])],
    }
    if timestamp is not None:
        j['t'] = timestamp
    return json.dumps(j, separators=(',', ':'))


def emit(obj):
    sys.stdout.write(json.dumps(obj, default=str) + '\n')
    sys.stdout.flush()


def log(msg):
    sys.stderr.write('[%s] %s\n' % (time.strftime('%H:%M:%S'), msg))
    sys.stderr.flush()


class Steps(object):
    """Collects admin scenario steps; every step is printed as a JSON line {"step","ok","detail"}."""

    def __init__(self):
        self.failed = 0

    def ok(self, name, detail=''):
        emit({'step': name, 'ok': True, 'detail': detail})

    def fail(self, name, detail):
        self.failed += 1
        emit({'step': name, 'ok': False, 'detail': detail})

    def info(self, name, detail):
        emit({'step': name, 'ok': True, 'info': True, 'detail': detail})

    def check(self, name, cond, detail=''):
        if cond:
            self.ok(name, detail)
        else:
            self.fail(name, detail)
        return cond

    def run(self, name, fn):
        """Runs fn(); a raised exception fails the step. Returns fn's result or None."""
        try:
            return fn()
        except Exception as e:  # noqa: BLE001 - every client error is a step failure
            self.fail(name, 'raised %s: %s' % (type(e).__name__, e))
            return None
