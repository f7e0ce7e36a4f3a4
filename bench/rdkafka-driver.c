/*
 * Load driver for `npm run bench`: a real Kafka client (librdkafka), not ours.
 * Built at bench time: cc -O2 bench/rdkafka-driver.c -lrdkafka -lpthread -o <tmp>/rdkafka-driver
 *
 * Modes (each prints one JSON object on stdout; librdkafka logs go to stderr):
 *   mock-server --topics a:6,b:6
 *       starts librdkafka's in-memory mock cluster (1 broker) with those topics, prints
 *       "mock ready: bootstrap <host:port>" and serves until SIGTERM/SIGINT or stdin closes.
 *   create    --bootstrap B --topics a:6,b:100[,...] [--timeout-ms 60000]
 *             [--replication-factor 1] [--topic-config k=v[,k=v]]
 *       CreateTopics through the admin API; {"seconds", "created", "errors":[...]}. The
 *       replication factor and topic configs (min.insync.replicas=2, ...) apply to every topic.
 *   produce   --bootstrap B --topic T --partitions P [--size 1024] [--seconds 15]
 *             [--max-bytes N] [--acks 1] [--linger-ms 5] [--batch-size 1048576] [--rate N]
 *       records of S bytes, record i to partition i % P, until the time or byte budget ends;
 *       the clock stops when every record is acknowledged (flush). --rate N: at most N records
 *       per second (paced, not bursty), for a steady background load. --queue-kbytes N: the
 *       client queue (queue.buffering.max.kbytes, default 1048576 = 1 GiB).
 *       --idempotent true: enable.idempotence=true (which makes acks=all; --acks is ignored).
 *       --transactional-id ID [--txn-records 100]: a transactional producer (implies idempotence):
 *       init_transactions once (not timed), then begin_transaction, --txn-records records,
 *       commit_transaction (which flushes), again and again until the time or byte budget ends.
 *       records/bytes count committed transactions only; also "transactions", "aborted" (a commit
 *       failing with an abortable error is aborted and the loop goes on), "init_seconds".
 *   consume   --bootstrap B --topic T --records N [--seconds 60]
 *       reads every partition from the beginning (legacy consumer, no group) until N records.
 *   latency   --bootstrap B --topic T --partitions P [--rate-mb 20] [--seconds 10]
 *             [--warmup 2] [--linger-ms 1] [--acks 1]
 *       produces 1 KiB records at a fixed rate while a consumer (same process, its own client,
 *       from the end of each partition) reads them; latency = receive time - send time
 *       (CLOCK_MONOTONIC, carried in the payload). Samples of the warm-up are dropped.
 *
 *   group-consume --bootstrap B --topic T --group G [--members 1] [--seconds 300]
 *             [--session-timeout-ms 6000] [--commit-interval-ms 1000] [--parent PID]
 *       M high-level consumers (each its own rd_kafka_t and poll thread) subscribe to T in group
 *       G (auto commit every commit-interval-ms, auto.offset.reset=earliest). Prints one JSON
 *       event per line, t = CLOCK_MONOTONIC seconds (the same clock as Node's process.hrtime):
 *         {"ev":"subscribed","m":i,"t"}          just before rd_kafka_subscribe
 *         {"ev":"assigned","m":i,"t","p":[..]}   after the rebalance callback's assign
 *         {"ev":"revoked","m":i,"t","n":k}       after the rebalance callback's unassign
 *         {"ev":"first","m":i,"p":p,"o":off,"t"} first record of p since p was (re)assigned
 *         {"ev":"error","m":i,"t","error":".."}  consumer errors (the first 20 per member)
 *         {"ev":"describe","t","state":"Stable","members":n} / {"ev":"describe","error":..}
 *       Commands on stdin, one a line: "add K" starts K more members, "describe" asks the
 *       group's state (DescribeGroups through member 0), "quit" (or end of stdin, or --seconds,
 *       or the parent going away) exits at once without leaving the group.
 *
 *   acks-timeline --bootstrap B --topic T --partitions P [--rate 1000] [--size 1024]
 *             [--idempotent true | --acks all] [--linger-ms 5] [--seconds 300] [--parent PID]
 *       a producer at a steady rate (record i to partition i % P) that reports when its writes
 *       are acknowledged, per partition, one JSON event per line (t = CLOCK_MONOTONIC seconds):
 *         {"ev":"started","t",...}
 *         {"ev":"ack","p","b","t","t_last","n","o","o_last","gap_ms"}  delivery reports of
 *             partition p from broker b (rd_kafka_message_broker_id), grouped: a group ends when
 *             the broker changes, after 50 ms without a report, or after 100 ms; t is the time of
 *             its first report, gap_ms the silence before it (-1 for the partition's first)
 *         {"ev":"fail","p","t","error"}   a failed delivery (the first 50)
 *         {"ev":"error","t","error","reason","fatal"}   the client's error callback
 *         {"ev":"metadata","t","brokers":[..],"partitions":[{"p","leader","replicas","isr"}]}
 *       Commands on stdin: "metadata" (a fresh Metadata request for T), "quit" (or end of stdin,
 *       or --seconds, or the parent going away): flush for up to 5 s, then
 *         {"ev":"end","t","sent","delivered","failed","unflushed","queue_full"}
 *
 * MB means 10^6 bytes everywhere.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *LAT_MAGIC = "FJORDLAT";

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "rdkafka-driver: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  printf("{\"error\":\"");
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\"}\n");
  fflush(stdout);
  exit(1);
}

/* ---- arguments: --key value ---- */
static int g_argc;
static char **g_argv;

static const char *arg(const char *key, const char *def) {
  for (int i = 2; i + 1 < g_argc; i++)
    if (g_argv[i][0] == '-' && g_argv[i][1] == '-' && strcmp(g_argv[i] + 2, key) == 0) return g_argv[i + 1];
  return def;
}
static const char *arg_req(const char *key) {
  const char *v = arg(key, NULL);
  if (!v) die("missing --%s", key);
  return v;
}
static double arg_num(const char *key, double def) {
  const char *v = arg(key, NULL);
  return v ? atof(v) : def;
}

static void set(rd_kafka_conf_t *conf, const char *k, const char *v) {
  char err[512];
  if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) die("config %s=%s: %s", k, v, err);
}

static rd_kafka_conf_t *base_conf(void) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", arg_req("bootstrap"));
  set(conf, "client.id", "fjord-bench");
  /* --conf k=v,k=v: extra librdkafka settings, applied to every client of the mode; a piece
   * without '=' continues the previous value (debug=cgrp,fetch) */
  const char *extra = arg("conf", NULL);
  if (extra) {
    char *copy = strdup(extra), *save = NULL;
    char key[256] = "", value[4096] = "";
    for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
      char *eq = strchr(kv, '=');
      if (!eq) {
        if (!key[0]) die("--conf %s: expected key=value", kv);
        snprintf(value + strlen(value), sizeof value - strlen(value), ",%s", kv);
        continue;
      }
      if (key[0]) set(conf, key, value);
      *eq = 0;
      snprintf(key, sizeof key, "%s", kv);
      snprintf(value, sizeof value, "%s", eq + 1);
    }
    if (key[0]) set(conf, key, value);
    free(copy);
  }
  return conf;
}

static rd_kafka_t *new_client(rd_kafka_type_t type, rd_kafka_conf_t *conf) {
  char err[512];
  rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof err);
  if (!rk) die("rd_kafka_new: %s", err);
  return rk;
}

/* ---- topic specs "a:6,b:100" ---- */
typedef struct {
  char name[256];
  int partitions;
} topic_spec;

static int parse_topics(const char *s, topic_spec **out) {
  int cap = 16, n = 0;
  topic_spec *v = malloc(sizeof *v * cap);
  char *copy = strdup(s), *save = NULL;
  for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (n == cap) v = realloc(v, sizeof *v * (cap *= 2));
    char *colon = strrchr(tok, ':');
    v[n].partitions = colon ? atoi(colon + 1) : 1;
    if (colon) *colon = 0;
    snprintf(v[n].name, sizeof v[n].name, "%s", tok);
    n++;
  }
  free(copy);
  *out = v;
  return n;
}

/* ---- mock-server ---- */
static volatile sig_atomic_t g_stop = 0;
static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

static int mode_mock_server(void) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  set(conf, "client.id", "fjord-bench-mock");
  rd_kafka_t *rk = new_client(RD_KAFKA_PRODUCER, conf);
  rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, 1);
  if (!mc) die("rd_kafka_mock_cluster_new failed");
  topic_spec *topics;
  int n = parse_topics(arg("topics", ""), &topics);
  for (int i = 0; i < n; i++) {
    rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mc, topics[i].name, topics[i].partitions, 1);
    if (e) die("mock topic %s: %s", topics[i].name, rd_kafka_err2str(e));
  }
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  pid_t parent = (pid_t)arg_num("parent", 0);
  printf("mock ready: bootstrap %s\n", rd_kafka_mock_cluster_bootstraps(mc));
  fflush(stdout);
  while (!g_stop) {
    struct timespec ts = {0, 200 * 1000000};
    nanosleep(&ts, NULL);
    if (parent > 1 && getppid() != parent) break; /* --parent <pid>: exit when it goes away */
  }
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  return 0;
}

/* ---- create ---- */
static int mode_create(void) {
  topic_spec *topics;
  int n = parse_topics(arg_req("topics"), &topics);
  int timeout_ms = (int)arg_num("timeout-ms", 60000);
  rd_kafka_conf_t *conf = base_conf();
  rd_kafka_t *rk = new_client(RD_KAFKA_PRODUCER, conf);
  rd_kafka_NewTopic_t **nt = malloc(sizeof *nt * n);
  char err[512];
  int rf = (int)arg_num("replication-factor", 1);
  const char *topic_config = arg("topic-config", NULL);
  for (int i = 0; i < n; i++) {
    nt[i] = rd_kafka_NewTopic_new(topics[i].name, topics[i].partitions, rf, err, sizeof err);
    if (!nt[i]) die("NewTopic %s: %s", topics[i].name, err);
    if (topic_config) { /* --topic-config k=v,k=v: set on every topic of this call */
      char *copy = strdup(topic_config), *save = NULL;
      for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq) die("--topic-config %s: expected key=value", kv);
        *eq = 0;
        rd_kafka_resp_err_t e = rd_kafka_NewTopic_set_config(nt[i], kv, eq + 1);
        if (e) die("topic config %s: %s", kv, rd_kafka_err2str(e));
      }
      free(copy);
    }
  }
  rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_operation_timeout(opts, timeout_ms, err, sizeof err);
  rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms + 5000, err, sizeof err);
  rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
  double t0 = now_s();
  rd_kafka_CreateTopics(rk, nt, n, opts, q);
  rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_ms + 10000);
  double secs = now_s() - t0;
  if (!ev) die("CreateTopics: no result within %d ms", timeout_ms + 10000);
  if (rd_kafka_event_error(ev)) die("CreateTopics: %s", rd_kafka_event_error_string(ev));
  const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
  size_t cnt;
  const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &cnt);
  int created = 0, exists = 0;
  printf("{\"seconds\":%.6f,\"errors\":[", secs);
  int first = 1;
  for (size_t i = 0; i < cnt; i++) {
    rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
    if (!e) created++;
    else if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) exists++;
    else {
      const char *msg = rd_kafka_topic_result_error_string(tr[i]);
      printf("%s{\"topic\":\"%s\",\"error\":\"%s\"}", first ? "" : ",", rd_kafka_topic_result_name(tr[i]),
             msg ? msg : rd_kafka_err2name(e));
      first = 0;
    }
  }
  printf("],\"created\":%d,\"already_existed\":%d,\"requested\":%d}\n", created, exists, n);
  rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(q);
  rd_kafka_AdminOptions_destroy(opts);
  rd_kafka_NewTopic_destroy_array(nt, n);
  rd_kafka_destroy(rk);
  return 0;
}

static int partition_count(rd_kafka_t *rk, rd_kafka_topic_t *rkt) {
  for (int attempt = 0; attempt < 50; attempt++) {
    const struct rd_kafka_metadata *md;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    if (e) die("metadata: %s", rd_kafka_err2str(e));
    int n = md->topic_cnt == 1 && !md->topics[0].err ? md->topics[0].partition_cnt : 0;
    rd_kafka_metadata_destroy(md);
    if (n > 0) return n;
    usleep(100000);
  }
  die("topic %s has no partitions in metadata", rd_kafka_topic_name(rkt));
  return 0;
}

/* ---- produce ---- */
typedef struct {
  volatile long delivered, failed;
  volatile long delivered_bytes;
  char first_error[256];
} dr_stats;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  (void)rk;
  dr_stats *st = opaque;
  if (m->err) {
    if (st->failed++ == 0) snprintf(st->first_error, sizeof st->first_error, "%s", rd_kafka_err2str(m->err));
  } else {
    st->delivered++;
    st->delivered_bytes += (long)m->len;
  }
}

/* --key true|1|yes (or a bare --key as the last argument) */
static int arg_flag(const char *key) {
  for (int i = 2; i < g_argc; i++)
    if (g_argv[i][0] == '-' && g_argv[i][1] == '-' && strcmp(g_argv[i] + 2, key) == 0) {
      const char *v = i + 1 < g_argc ? g_argv[i + 1] : "true";
      return strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcmp(v, "yes") == 0 || strncmp(v, "--", 2) == 0;
    }
  return 0;
}

/* One transaction call: a retriable error is retried (up to 10 times), an abortable one returns 1
 * (the caller aborts), a fatal one or anything else ends the run. */
static int txn_call(const char *what, rd_kafka_error_t *(*fn)(rd_kafka_t *, int), rd_kafka_t *rk, int timeout_ms,
                    char *first_error, size_t first_error_size) {
  for (int attempt = 0;; attempt++) {
    rd_kafka_error_t *e = fn(rk, timeout_ms);
    if (!e) return 0;
    if (!first_error[0]) snprintf(first_error, first_error_size, "%s: %s", what, rd_kafka_error_string(e));
    if (rd_kafka_error_is_retriable(e) && attempt < 10) {
      rd_kafka_error_destroy(e);
      continue;
    }
    if (rd_kafka_error_txn_requires_abort(e)) {
      rd_kafka_error_destroy(e);
      return 1;
    }
    die("%s: %s%s", what, rd_kafka_error_string(e), rd_kafka_error_is_fatal(e) ? " (fatal)" : "");
  }
}

static rd_kafka_error_t *txn_init(rd_kafka_t *rk, int timeout_ms) { return rd_kafka_init_transactions(rk, timeout_ms); }
static rd_kafka_error_t *txn_commit(rd_kafka_t *rk, int timeout_ms) { return rd_kafka_commit_transaction(rk, timeout_ms); }
static rd_kafka_error_t *txn_abort(rd_kafka_t *rk, int timeout_ms) { return rd_kafka_abort_transaction(rk, timeout_ms); }

/* the transactional variant of `produce` (see the top of the file) */
static int produce_transactional(rd_kafka_t *rk, rd_kafka_topic_t *rkt, dr_stats *st, int partitions, int size,
                                 const char *payload, double seconds, double max_bytes) {
  long per_txn = (long)arg_num("txn-records", 100);
  if (per_txn < 1) per_txn = 1;
  char first_error[512] = "";
  double ti = now_s();
  if (txn_call("init_transactions", txn_init, rk, 30000, first_error, sizeof first_error))
    die("init_transactions: %s", first_error);
  double init_seconds = now_s() - ti;
  long sent = 0, committed = 0, aborted = 0, queue_full = 0;
  double committed_bytes = 0, commit_time = 0, max_commit = 0;
  double t0 = now_s(), tend = t0 + seconds;
  while (now_s() < tend && committed_bytes < max_bytes) {
    rd_kafka_error_t *e = rd_kafka_begin_transaction(rk);
    if (e) die("begin_transaction: %s", rd_kafka_error_string(e));
    for (long i = 0; i < per_txn;) {
      if (rd_kafka_produce(rkt, (int32_t)(sent % partitions), 0, (void *)payload, size, NULL, 0, NULL) == -1) {
        rd_kafka_resp_err_t pe = rd_kafka_last_error();
        if (pe != RD_KAFKA_RESP_ERR__QUEUE_FULL) die("produce in a transaction: %s", rd_kafka_err2str(pe));
        queue_full++;
        rd_kafka_poll(rk, 1);
        continue;
      }
      sent++;
      i++;
    }
    rd_kafka_poll(rk, 0);
    double tc = now_s();
    int abort = txn_call("commit_transaction", txn_commit, rk, 60000, first_error, sizeof first_error);
    double dc = now_s() - tc;
    commit_time += dc;
    if (dc > max_commit) max_commit = dc;
    if (abort) {
      if (txn_call("abort_transaction", txn_abort, rk, 60000, first_error, sizeof first_error))
        die("abort_transaction: %s", first_error);
      aborted++;
      if (aborted > 100) break;
      continue;
    }
    committed++;
    committed_bytes += (double)per_txn * size;
  }
  double secs = now_s() - t0;
  rd_kafka_poll(rk, 0);
  long records = committed * per_txn;
  for (char *c = first_error; *c; c++)
    if (*c == '"' || *c == '\\' || (unsigned char)*c < 32) *c = '\'';
  printf("{\"records\":%ld,\"bytes\":%.0f,\"seconds\":%.6f,\"mb_per_s\":%.3f,\"records_per_s\":%.1f,"
         "\"transactions\":%ld,\"transactions_per_s\":%.1f,\"records_per_transaction\":%ld,\"aborted\":%ld,"
         "\"commit_ms_mean\":%.3f,\"commit_ms_max\":%.3f,\"init_seconds\":%.6f,\"partitions\":%d,\"sent\":%ld,"
         "\"delivered\":%ld,\"failed\":%ld,\"queue_full\":%ld,\"transactional\":true,\"idempotent\":true,"
         "\"first_error\":\"%s%s\"}\n",
         records, committed_bytes, secs, committed_bytes / 1e6 / secs, records / secs, committed, committed / secs, per_txn,
         aborted, committed + aborted ? commit_time * 1000 / (committed + aborted) : 0, max_commit * 1000, init_seconds,
         partitions, sent, st->delivered, st->failed, queue_full, first_error, st->first_error);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(rk);
  return 0;
}

static int mode_produce(void) {
  const char *topic = arg_req("topic");
  int partitions = (int)arg_num("partitions", 6);
  int size = (int)arg_num("size", 1024);
  double seconds = arg_num("seconds", 15);
  double max_bytes = arg_num("max-bytes", 1e18);
  dr_stats st = {0};
  const char *txn_id = arg("transactional-id", NULL);
  int idempotent = txn_id || arg_flag("idempotent");
  rd_kafka_conf_t *conf = base_conf();
  if (idempotent) {
    set(conf, "enable.idempotence", "true"); /* acks=all, max.in.flight <= 5, retries: set by librdkafka */
    if (txn_id) set(conf, "transactional.id", txn_id);
  } else
    set(conf, "acks", arg("acks", "1"));
  set(conf, "linger.ms", arg("linger-ms", "5"));
  set(conf, "batch.size", arg("batch-size", "1048576"));
  set(conf, "compression.type", "none");
  set(conf, "queue.buffering.max.kbytes", arg("queue-kbytes", "1048576"));
  set(conf, "queue.buffering.max.messages", "1000000");
  rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
  rd_kafka_conf_set_opaque(conf, &st);
  rd_kafka_t *rk = new_client(RD_KAFKA_PRODUCER, conf);
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
  char *payload = malloc(size);
  for (int i = 0; i < size; i++) payload[i] = (char)('a' + i % 26);

  /* warm the connection and metadata before the clock starts; a topic with fewer partitions
   * than asked for (auto-created by a broker without CreateTopics) gets what it has */
  int np = partition_count(rk, rkt);
  if (np < partitions) partitions = np;
  if (txn_id) return produce_transactional(rk, rkt, &st, partitions, size, payload, seconds, max_bytes);

  double t0 = now_s(), tend = t0 + seconds;
  long sent = 0, queue_full = 0;
  double bytes = 0;
  double rate = arg_num("rate", 0); /* records per second; 0 = as fast as possible */
  while (rate > 0 && bytes < max_bytes) {
    double now = now_s();
    if (now >= tend || st.failed > 1000) break;
    long due = (long)((now - t0) * rate) + 1;
    while (sent < due) {
      if (rd_kafka_produce(rkt, (int32_t)(sent % partitions), 0, payload, size, NULL, 0, NULL) == -1) {
        rd_kafka_resp_err_t e = rd_kafka_last_error();
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) die("produce: %s", rd_kafka_err2str(e));
        queue_full++;
        rd_kafka_poll(rk, 1);
        continue;
      }
      sent++;
      bytes += size;
    }
    rd_kafka_poll(rk, 1); /* serves delivery reports, sleeps up to 1 ms */
  }
  while (rate <= 0 && bytes < max_bytes) {
    /* no copy: the payload is shared and outlives every message */
    if (rd_kafka_produce(rkt, (int32_t)(sent % partitions), 0, payload, size, NULL, 0, NULL) == -1) {
      rd_kafka_resp_err_t e = rd_kafka_last_error();
      if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        queue_full++;
        rd_kafka_poll(rk, 1);
        continue;
      }
      die("produce: %s", rd_kafka_err2str(e));
    }
    sent++;
    bytes += size;
    if ((sent & 1023) == 0) {
      rd_kafka_poll(rk, 0);
      if (now_s() >= tend) break;
    }
    if (st.failed > 1000) break;
  }
  double t_sent = now_s() - t0;
  rd_kafka_flush(rk, 120000);
  double secs = now_s() - t0;
  rd_kafka_poll(rk, 0);
  long outq = rd_kafka_outq_len(rk);
  printf("{\"records\":%ld,\"bytes\":%ld,\"seconds\":%.6f,\"enqueue_seconds\":%.6f,\"mb_per_s\":%.3f,"
         "\"records_per_s\":%.1f,\"partitions\":%d,\"sent\":%ld,\"failed\":%ld,\"unflushed\":%ld,\"queue_full\":%ld,"
         "\"idempotent\":%s,\"first_error\":\"%s\"}\n",
         st.delivered, st.delivered_bytes, secs, t_sent, st.delivered_bytes / 1e6 / secs, st.delivered / secs, partitions, sent,
         st.failed, outq, queue_full, idempotent ? "true" : "false", st.first_error);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(rk);
  return 0;
}

/* Waits up to timeout_ms for one message, then takes whatever else is already queued
 * (rd_kafka_consume_batch_queue alone waits for a full batch or the whole timeout). */
static ssize_t consume_some(rd_kafka_queue_t *q, int timeout_ms, rd_kafka_message_t **msgs, size_t max) {
  rd_kafka_message_t *first = rd_kafka_consume_queue(q, timeout_ms);
  if (!first) return 0;
  msgs[0] = first;
  ssize_t n = rd_kafka_consume_batch_queue(q, 0, msgs + 1, max - 1);
  return n < 0 ? 1 : n + 1;
}

/* ---- consume ---- */
static int mode_consume(void) {
  const char *topic = arg_req("topic");
  long want = (long)arg_num("records", 1000000);
  double seconds = arg_num("seconds", 60);
  rd_kafka_conf_t *conf = base_conf();
  /* stop at the end of the log too: brokers that keep less than was produced (the mock) */
  set(conf, "enable.partition.eof", "true");
  rd_kafka_t *rk = new_client(RD_KAFKA_CONSUMER, conf);
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
  int np = partition_count(rk, rkt);
  char *at_eof = calloc(np, 1);
  rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
  double t0 = now_s(), tfirst = 0;
  for (int p = 0; p < np; p++)
    if (rd_kafka_consume_start_queue(rkt, p, RD_KAFKA_OFFSET_BEGINNING, q) == -1)
      die("consume_start %d: %s", p, rd_kafka_err2str(rd_kafka_last_error()));
  enum { BATCH = 10000 };
  rd_kafka_message_t **msgs = malloc(sizeof *msgs * BATCH);
  long got = 0, bytes = 0, errors = 0;
  char first_error[256] = "";
  int timed_out = 0, eof_count = 0;
  while (got < want && eof_count < np) {
    ssize_t n = consume_some(q, 100, msgs, BATCH);
    for (ssize_t i = 0; i < n; i++) {
      rd_kafka_message_t *m = msgs[i];
      int p = m->partition;
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        if (p >= 0 && p < np && !at_eof[p]) at_eof[p] = 1, eof_count++;
      } else if (m->err) {
        if (errors++ == 0) snprintf(first_error, sizeof first_error, "%s", rd_kafka_err2str(m->err));
      } else {
        if (got == 0) tfirst = now_s();
        if (p >= 0 && p < np && at_eof[p]) at_eof[p] = 0, eof_count--;
        got++;
        bytes += (long)m->len;
      }
      rd_kafka_message_destroy(m);
    }
    if (now_s() - t0 > seconds) {
      timed_out = 1;
      break;
    }
  }
  double t1 = now_s();
  double secs = t1 - t0;
  printf("{\"records\":%ld,\"bytes\":%ld,\"seconds\":%.6f,\"seconds_from_first\":%.6f,\"mb_per_s\":%.3f,"
         "\"records_per_s\":%.1f,\"partitions\":%d,\"reached_end\":%s,\"errors\":%ld,\"timed_out\":%s,"
         "\"first_error\":\"%s\"}\n",
         got, bytes, secs, tfirst ? t1 - tfirst : 0, bytes / 1e6 / secs, got / secs, np,
         eof_count == np ? "true" : "false", errors, timed_out ? "true" : "false", first_error);
  fflush(stdout);
  for (int p = 0; p < np; p++) rd_kafka_consume_stop(rkt, p);
  rd_kafka_queue_destroy(q);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(rk);
  return 0;
}

/* ---- latency ---- */
typedef struct {
  rd_kafka_t *rk;
  rd_kafka_topic_t *rkt;
  rd_kafka_queue_t *q;
  volatile int stop;
  volatile int ready;
  int64_t measure_from_ns; /* samples sent before this are warm-up */
  double *samples;
  long n, cap;
  long received, foreign, errors;
  char first_error[256];
} lat_consumer;

static void *lat_consume(void *arg_) {
  lat_consumer *c = arg_;
  enum { BATCH = 1000 };
  rd_kafka_message_t *msgs[BATCH];
  while (!c->stop) {
    ssize_t n = consume_some(c->q, 50, msgs, BATCH);
    int64_t now = now_ns();
    for (ssize_t i = 0; i < n; i++) {
      rd_kafka_message_t *m = msgs[i];
      if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF && c->errors++ == 0)
          snprintf(c->first_error, sizeof c->first_error, "%s", rd_kafka_err2str(m->err));
      } else if (m->len >= 16 && memcmp((char *)m->payload + 8, LAT_MAGIC, 8) == 0) {
        int64_t sent;
        memcpy(&sent, m->payload, 8);
        c->received++;
        if (sent >= c->measure_from_ns) {
          if (c->n == c->cap) c->samples = realloc(c->samples, sizeof(double) * (c->cap = c->cap ? c->cap * 2 : 65536));
          c->samples[c->n++] = (double)(now - sent) / 1e6;
        }
      } else {
        c->foreign++;
      }
      rd_kafka_message_destroy(m);
    }
  }
  return NULL;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}
static double pct(const double *v, long n, double p) {
  if (n == 0) return 0;
  long i = (long)(p * (double)(n - 1) + 0.5);
  return v[i];
}

static int mode_latency(void) {
  const char *topic = arg_req("topic");
  int partitions = (int)arg_num("partitions", 6);
  double rate_mb = arg_num("rate-mb", 20);
  double seconds = arg_num("seconds", 10);
  double warmup = arg_num("warmup", 2);
  const int size = 1024;

  /* producer first: its metadata request auto-creates the topic on brokers that do that */
  dr_stats st = {0};
  rd_kafka_conf_t *conf = base_conf();
  set(conf, "acks", arg("acks", "1"));
  set(conf, "linger.ms", arg("linger-ms", "1"));
  set(conf, "batch.size", "1048576");
  set(conf, "compression.type", "none");
  rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
  rd_kafka_conf_set_opaque(conf, &st);
  rd_kafka_t *rk = new_client(RD_KAFKA_PRODUCER, conf);
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
  int np = partition_count(rk, rkt);
  if (np < partitions) partitions = np;

  /* consumer: from the end of every partition, its own client */
  lat_consumer c = {0};
  rd_kafka_conf_t *cconf = base_conf();
  set(cconf, "enable.partition.eof", "false");
  set(cconf, "client.id", "fjord-bench-lat-consumer");
  c.rk = new_client(RD_KAFKA_CONSUMER, cconf);
  c.rkt = rd_kafka_topic_new(c.rk, topic, NULL);
  np = partition_count(c.rk, c.rkt);
  c.q = rd_kafka_queue_new(c.rk);
  for (int p = 0; p < np; p++)
    if (rd_kafka_consume_start_queue(c.rkt, p, RD_KAFKA_OFFSET_END, c.q) == -1)
      die("consume_start %d: %s", p, rd_kafka_err2str(rd_kafka_last_error()));
  c.measure_from_ns = INT64_MAX;
  pthread_t th;
  pthread_create(&th, NULL, lat_consume, &c);

  char payload[1024];
  for (int i = 0; i < size; i++) payload[i] = (char)('a' + i % 26);
  memcpy(payload + 8, LAT_MAGIC, 8);
  double rate = rate_mb * 1e6 / size; /* records per second */
  int64_t t0 = now_ns();
  c.measure_from_ns = t0 + (int64_t)(warmup * 1e9);
  int64_t tend = c.measure_from_ns + (int64_t)(seconds * 1e9);
  long sent = 0, measured_sent = 0;
  for (;;) {
    int64_t now = now_ns();
    if (now >= tend) break;
    long due = (long)((double)(now - t0) / 1e9 * rate);
    while (sent < due) {
      int64_t ts = now_ns();
      memcpy(payload, &ts, 8);
      if (rd_kafka_produce(rkt, (int32_t)(sent % partitions), RD_KAFKA_MSG_F_COPY, payload, size, NULL, 0, NULL) == -1) {
        rd_kafka_poll(rk, 1);
        continue;
      }
      if (ts >= c.measure_from_ns) measured_sent++;
      sent++;
    }
    rd_kafka_poll(rk, 0);
    struct timespec ts = {0, 200000};
    nanosleep(&ts, NULL);
  }
  rd_kafka_flush(rk, 30000);
  /* let the consumer catch up: at most 5 s */
  int64_t deadline = now_ns() + 5000000000LL;
  while (c.received < sent && now_ns() < deadline) usleep(10000);
  c.stop = 1;
  pthread_join(th, NULL);

  qsort(c.samples, c.n, sizeof(double), cmp_double);
  double sum = 0;
  for (long i = 0; i < c.n; i++) sum += c.samples[i];
  printf("{\"partitions\":%d,\"rate_mb_per_s\":%.3f,\"seconds\":%.3f,\"warmup_seconds\":%.3f,\"sent\":%ld,\"measured_sent\":%ld,"
         "\"received\":%ld,\"samples\":%ld,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f,"
         "\"mean_ms\":%.3f,\"produce_failed\":%ld,\"consume_errors\":%ld,\"foreign_records\":%ld,"
         "\"first_error\":\"%s%s\"}\n",
         partitions, rate_mb, seconds, warmup, sent, measured_sent, c.received, c.n, pct(c.samples, c.n, 0.5),
         pct(c.samples, c.n, 0.99), pct(c.samples, c.n, 0.999), c.n ? c.samples[c.n - 1] : 0, c.n ? sum / c.n : 0,
         st.failed, c.errors, c.foreign, st.first_error, c.first_error);
  fflush(stdout);
  for (int p = 0; p < np; p++) rd_kafka_consume_stop(c.rkt, p);
  rd_kafka_queue_destroy(c.q);
  rd_kafka_topic_destroy(c.rkt);
  rd_kafka_destroy(c.rk);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(rk);
  return 0;
}

/* ---- group-consume ---- */
enum { GC_MAX_PARTITIONS = 65536, GC_MAX_MEMBERS = 1024 };

typedef struct {
  int idx;
  rd_kafka_t *rk;
  pthread_t th;
  char *seen; /* per partition: a record was seen since the partition was (re)assigned */
  int errors;
} gc_member;

static pthread_mutex_t gc_out_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile int gc_stop = 0;

/* one whole line at a time: members print from their own threads */
static void gc_emit(const char *fmt, ...) {
  char line[65536];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line - 2, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (n > (int)sizeof line - 2) n = (int)sizeof line - 2;
  line[n++] = '\n';
  pthread_mutex_lock(&gc_out_lock);
  fwrite(line, 1, (size_t)n, stdout);
  fflush(stdout);
  pthread_mutex_unlock(&gc_out_lock);
}

static void gc_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts, void *opaque) {
  gc_member *m = opaque;
  int cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    if (cooperative) {
      rd_kafka_error_t *e = rd_kafka_incremental_assign(rk, parts);
      if (e) rd_kafka_error_destroy(e);
    } else
      rd_kafka_assign(rk, parts);
    char list[60000];
    int at = 0;
    list[0] = 0;
    for (int i = 0; i < parts->cnt && at < (int)sizeof list - 16; i++) {
      int p = parts->elems[i].partition;
      if (p >= 0 && p < GC_MAX_PARTITIONS) m->seen[p] = 0;
      at += snprintf(list + at, sizeof list - at, "%s%d", i ? "," : "", p);
    }
    gc_emit("{\"ev\":\"assigned\",\"m\":%d,\"t\":%.6f,\"incremental\":%s,\"p\":[%s]}", m->idx, now_s(),
            cooperative ? "true" : "false", list);
  } else {
    if (cooperative) {
      rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, parts);
      if (e) rd_kafka_error_destroy(e);
    } else
      rd_kafka_assign(rk, NULL);
    gc_emit("{\"ev\":\"revoked\",\"m\":%d,\"t\":%.6f,\"incremental\":%s,\"n\":%d%s%s%s}", m->idx, now_s(),
            cooperative ? "true" : "false", parts ? parts->cnt : 0, err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS ? "" : ",\"error\":\"",
            err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS ? "" : rd_kafka_err2name(err),
            err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS ? "" : "\"");
  }
}

static void *gc_poll(void *arg_) {
  gc_member *m = arg_;
  while (!gc_stop) {
    rd_kafka_message_t *msg = rd_kafka_consumer_poll(m->rk, 100);
    if (!msg) continue;
    if (msg->err) {
      if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF && m->errors++ < 20)
        gc_emit("{\"ev\":\"error\",\"m\":%d,\"t\":%.6f,\"error\":\"%s\"}", m->idx, now_s(), rd_kafka_err2name(msg->err));
    } else {
      int p = msg->partition;
      if (p >= 0 && p < GC_MAX_PARTITIONS && !m->seen[p]) {
        m->seen[p] = 1;
        gc_emit("{\"ev\":\"first\",\"m\":%d,\"p\":%d,\"o\":%" PRId64 ",\"t\":%.6f}", m->idx, p, msg->offset, now_s());
      }
    }
    rd_kafka_message_destroy(msg);
  }
  return NULL;
}

static gc_member gc_members[GC_MAX_MEMBERS];
static int gc_count = 0;

static void gc_add(const char *topic, const char *group) {
  if (gc_count >= GC_MAX_MEMBERS) die("more than %d members", GC_MAX_MEMBERS);
  gc_member *m = &gc_members[gc_count];
  m->idx = gc_count;
  m->seen = calloc(GC_MAX_PARTITIONS, 1);
  rd_kafka_conf_t *conf = base_conf();
  char id[64];
  snprintf(id, sizeof id, "fjord-bench-member-%d", m->idx);
  set(conf, "client.id", id);
  set(conf, "group.id", group);
  set(conf, "session.timeout.ms", arg("session-timeout-ms", "6000"));
  set(conf, "enable.auto.commit", "true");
  set(conf, "auto.commit.interval.ms", arg("commit-interval-ms", "1000"));
  set(conf, "auto.offset.reset", "earliest");
  set(conf, "enable.partition.eof", "false");
  rd_kafka_conf_set_rebalance_cb(conf, gc_rebalance_cb);
  rd_kafka_conf_set_opaque(conf, m);
  m->rk = new_client(RD_KAFKA_CONSUMER, conf);
  rd_kafka_poll_set_consumer(m->rk);
  rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
  gc_emit("{\"ev\":\"subscribed\",\"m\":%d,\"t\":%.6f}", m->idx, now_s());
  rd_kafka_resp_err_t e = rd_kafka_subscribe(m->rk, sub);
  rd_kafka_topic_partition_list_destroy(sub);
  if (e) die("subscribe: %s", rd_kafka_err2str(e));
  gc_count++;
  pthread_create(&m->th, NULL, gc_poll, m);
}

static void gc_describe(const char *group) {
  if (gc_count == 0) return;
  const struct rd_kafka_group_list *gl = NULL;
  double t = now_s();
  rd_kafka_resp_err_t e = rd_kafka_list_groups(gc_members[0].rk, group, &gl, 5000);
  if (e || !gl || gl->group_cnt < 1) {
    gc_emit("{\"ev\":\"describe\",\"t\":%.6f,\"error\":\"%s\"}", t, e ? rd_kafka_err2name(e) : "group not listed");
  } else {
    const struct rd_kafka_group_info *g = &gl->groups[0];
    if (g->err)
      gc_emit("{\"ev\":\"describe\",\"t\":%.6f,\"error\":\"%s\"}", t, rd_kafka_err2name(g->err));
    else
      gc_emit("{\"ev\":\"describe\",\"t\":%.6f,\"state\":\"%s\",\"members\":%d,\"protocol\":\"%s\"}", t,
              g->state ? g->state : "", g->member_cnt, g->protocol ? g->protocol : "");
  }
  if (gl) rd_kafka_group_list_destroy(gl);
}

static int mode_group_consume(void) {
  const char *topic = arg_req("topic");
  const char *group = arg_req("group");
  int members = (int)arg_num("members", 1);
  double deadline = now_s() + arg_num("seconds", 300);
  pid_t parent = (pid_t)arg_num("parent", 0);
  for (int i = 0; i < members; i++) gc_add(topic, group);
  char buf[4096];
  size_t have = 0;
  while (now_s() < deadline) {
    if (parent > 1 && getppid() != parent) break;
    struct pollfd pfd = {0, POLLIN, 0};
    int r = poll(&pfd, 1, 200);
    if (r < 0 && errno != EINTR) break;
    if (r <= 0) continue;
    ssize_t n = read(0, buf + have, sizeof buf - 1 - have);
    if (n <= 0) break; /* stdin closed */
    have += (size_t)n;
    buf[have] = 0;
    char *nl;
    int quit = 0;
    while ((nl = strchr(buf, '\n'))) {
      *nl = 0;
      if (strncmp(buf, "add ", 4) == 0) {
        int k = atoi(buf + 4);
        for (int i = 0; i < k; i++) gc_add(topic, group);
      } else if (strcmp(buf, "describe") == 0)
        gc_describe(group);
      else if (strcmp(buf, "quit") == 0)
        quit = 1;
      size_t used = (size_t)(nl + 1 - buf);
      memmove(buf, nl + 1, have - used + 1);
      have -= used;
    }
    if (quit) break;
    if (have >= sizeof buf - 1) have = 0;
  }
  /* no LeaveGroup, no close: the bench throws the process (and usually the broker) away */
  gc_stop = 1;
  fflush(stdout);
  _exit(0);
}

/* ---- acks-timeline ---- */
enum { AT_MAX_PARTITIONS = 1024 };

typedef struct {
  int open;
  double first_t, last_t; /* the window being built */
  long n;
  int64_t o_first, o_last;
  int32_t broker;
  double gap_ms; /* time since the partition's previous acknowledgement, before this window; -1: none */
  double prev_t; /* the partition's last acknowledgement so far */
} at_window;

static at_window at_win[AT_MAX_PARTITIONS];
static long at_delivered = 0, at_failed = 0, at_fail_lines = 0, at_error_lines = 0;

/* JSON-safe copy of a message */
static void at_clean(char *dst, size_t size, const char *src) {
  snprintf(dst, size, "%s", src ? src : "");
  for (char *c = dst; *c; c++)
    if (*c == '"' || *c == '\\' || (unsigned char)*c < 32) *c = '\'';
}

static void at_flush(int p) {
  at_window *w = &at_win[p];
  if (!w->open) return;
  gc_emit("{\"ev\":\"ack\",\"p\":%d,\"b\":%d,\"t\":%.6f,\"t_last\":%.6f,\"n\":%ld,\"o\":%" PRId64 ",\"o_last\":%" PRId64
          ",\"gap_ms\":%.3f}",
          p, (int)w->broker, w->first_t, w->last_t, w->n, w->o_first, w->o_last, w->gap_ms);
  w->open = 0;
}

static void at_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  (void)rk;
  (void)opaque;
  double t = now_s();
  int p = m->partition;
  if (m->err) {
    at_failed++;
    if (at_fail_lines++ < 50)
      gc_emit("{\"ev\":\"fail\",\"p\":%d,\"t\":%.6f,\"error\":\"%s\"}", p, t, rd_kafka_err2name(m->err));
    return;
  }
  at_delivered++;
  if (p < 0 || p >= AT_MAX_PARTITIONS) return;
  at_window *w = &at_win[p];
  int32_t b = rd_kafka_message_broker_id(m);
  double gap = w->prev_t > 0 ? t - w->prev_t : -1;
  /* a window ends when the acknowledging broker changes, after a 50 ms silence, or after 100 ms */
  if (w->open && (b != w->broker || gap > 0.05 || t - w->first_t > 0.1)) at_flush(p);
  if (!w->open) {
    w->open = 1;
    w->first_t = t;
    w->n = 0;
    w->o_first = m->offset;
    w->broker = b;
    w->gap_ms = gap < 0 ? -1 : gap * 1000;
  }
  w->n++;
  w->last_t = t;
  w->o_last = m->offset;
  w->prev_t = t;
}

static void at_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
  (void)opaque;
  char r[400];
  at_clean(r, sizeof r, reason);
  int fatal = err == RD_KAFKA_RESP_ERR__FATAL;
  char fr[400] = "";
  if (fatal) {
    char buf[300];
    rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, buf, sizeof buf);
    at_clean(fr, sizeof fr, buf);
    err = orig;
  }
  if (at_error_lines++ < 100 || fatal)
    gc_emit("{\"ev\":\"error\",\"t\":%.6f,\"error\":\"%s\",\"reason\":\"%s%s\",\"fatal\":%s}", now_s(),
            rd_kafka_err2name((rd_kafka_resp_err_t)err), r, fr, fatal ? "true" : "false");
}

static void at_metadata(rd_kafka_t *rk, rd_kafka_topic_t *rkt) {
  const struct rd_kafka_metadata *md;
  double t = now_s();
  rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 5000);
  if (e) {
    gc_emit("{\"ev\":\"metadata\",\"t\":%.6f,\"error\":\"%s\"}", t, rd_kafka_err2name(e));
    return;
  }
  static char line[60000];
  int at = snprintf(line, sizeof line, "{\"ev\":\"metadata\",\"t\":%.6f,\"brokers\":[", t);
  for (int i = 0; i < md->broker_cnt && at < (int)sizeof line - 200; i++)
    at += snprintf(line + at, sizeof line - at, "%s%d", i ? "," : "", (int)md->brokers[i].id);
  at += snprintf(line + at, sizeof line - at, "],\"partitions\":[");
  if (md->topic_cnt == 1) {
    const rd_kafka_metadata_topic_t *tp = &md->topics[0];
    for (int i = 0; i < tp->partition_cnt && at < (int)sizeof line - 400; i++) {
      const rd_kafka_metadata_partition_t *pp = &tp->partitions[i];
      at += snprintf(line + at, sizeof line - at, "%s{\"p\":%d,\"leader\":%d,\"error\":\"%s\",\"replicas\":[", i ? "," : "",
                     (int)pp->id, (int)pp->leader, pp->err ? rd_kafka_err2name(pp->err) : "");
      for (int r = 0; r < pp->replica_cnt; r++) at += snprintf(line + at, sizeof line - at, "%s%d", r ? "," : "", (int)pp->replicas[r]);
      at += snprintf(line + at, sizeof line - at, "],\"isr\":[");
      for (int r = 0; r < pp->isr_cnt; r++) at += snprintf(line + at, sizeof line - at, "%s%d", r ? "," : "", (int)pp->isrs[r]);
      at += snprintf(line + at, sizeof line - at, "]}");
    }
  }
  snprintf(line + at, sizeof line - at, "]}");
  rd_kafka_metadata_destroy(md);
  gc_emit("%s", line);
}

static int mode_acks_timeline(void) {
  const char *topic = arg_req("topic");
  int partitions = (int)arg_num("partitions", 6);
  int size = (int)arg_num("size", 1024);
  double rate = arg_num("rate", 1000);
  double deadline = now_s() + arg_num("seconds", 300);
  pid_t parent = (pid_t)arg_num("parent", 0);
  rd_kafka_conf_t *conf = base_conf();
  int idempotent = arg_flag("idempotent");
  if (idempotent)
    set(conf, "enable.idempotence", "true");
  else
    set(conf, "acks", arg("acks", "all"));
  set(conf, "linger.ms", arg("linger-ms", "5"));
  set(conf, "compression.type", "none");
  rd_kafka_conf_set_dr_msg_cb(conf, at_dr_cb);
  rd_kafka_conf_set_error_cb(conf, at_error_cb);
  rd_kafka_t *rk = new_client(RD_KAFKA_PRODUCER, conf);
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
  int np = partition_count(rk, rkt);
  if (np < partitions) partitions = np;
  if (partitions > AT_MAX_PARTITIONS) partitions = AT_MAX_PARTITIONS;
  char *payload = malloc(size);
  for (int i = 0; i < size; i++) payload[i] = (char)('a' + i % 26);
  double t0 = now_s();
  gc_emit("{\"ev\":\"started\",\"t\":%.6f,\"partitions\":%d,\"rate\":%.1f,\"idempotent\":%s}", t0, partitions, rate,
          idempotent ? "true" : "false");
  long sent = 0, queue_full = 0;
  char buf[4096];
  size_t have = 0;
  int quit = 0;
  while (!quit && now_s() < deadline) {
    if (parent > 1 && getppid() != parent) break;
    long due = (long)((now_s() - t0) * rate) + 1;
    while (sent < due) {
      if (rd_kafka_produce(rkt, (int32_t)(sent % partitions), 0, payload, size, NULL, 0, NULL) == -1) {
        rd_kafka_resp_err_t e = rd_kafka_last_error();
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) die("produce: %s", rd_kafka_err2str(e));
        queue_full++;
        break; /* try again on the next round */
      }
      sent++;
    }
    rd_kafka_poll(rk, 1); /* delivery reports; sleeps up to 1 ms */
    double now = now_s();
    for (int p = 0; p < partitions; p++)
      if (at_win[p].open && now - at_win[p].last_t > 0.05) at_flush(p);
    struct pollfd pfd = {0, POLLIN, 0};
    if (poll(&pfd, 1, 0) > 0) {
      ssize_t n = read(0, buf + have, sizeof buf - 1 - have);
      if (n <= 0) break; /* stdin closed */
      have += (size_t)n;
      buf[have] = 0;
      char *nl;
      while ((nl = strchr(buf, '\n'))) {
        *nl = 0;
        if (strcmp(buf, "metadata") == 0)
          at_metadata(rk, rkt);
        else if (strcmp(buf, "quit") == 0)
          quit = 1;
        size_t used = (size_t)(nl + 1 - buf);
        memmove(buf, nl + 1, have - used + 1);
        have -= used;
      }
      if (have >= sizeof buf - 1) have = 0;
    }
  }
  rd_kafka_flush(rk, 5000);
  for (int p = 0; p < partitions; p++) at_flush(p);
  gc_emit("{\"ev\":\"end\",\"t\":%.6f,\"sent\":%ld,\"delivered\":%ld,\"failed\":%ld,\"unflushed\":%d,\"queue_full\":%ld}", now_s(),
          sent, at_delivered, at_failed, rd_kafka_outq_len(rk), queue_full);
  fflush(stdout);
  _exit(0);
}

int main(int argc, char **argv) {
  g_argc = argc;
  g_argv = argv;
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 2) die("usage: rdkafka-driver mock-server|create|produce|consume|latency|group-consume|acks-timeline --key value ...");
  const char *mode = argv[1];
  if (strcmp(mode, "version") == 0) {
    printf("{\"librdkafka\":\"%s\"}\n", rd_kafka_version_str());
    return 0;
  }
  if (strcmp(mode, "mock-server") == 0) return mode_mock_server();
  if (strcmp(mode, "create") == 0) return mode_create();
  if (strcmp(mode, "produce") == 0) return mode_produce();
  if (strcmp(mode, "consume") == 0) return mode_consume();
  if (strcmp(mode, "latency") == 0) return mode_latency();
  if (strcmp(mode, "group-consume") == 0) return mode_group_consume();
  if (strcmp(mode, "acks-timeline") == 0) return mode_acks_timeline();
  die("unknown mode %s", mode);
  return 1;
}
