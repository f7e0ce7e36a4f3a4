// The control plane's durable state: one SQLite file (better-sqlite3, WAL) with a table per record
// kind. Each record is kept whole as a JSON column next to the few columns queries need, so
// model.ts stays the only description of a record. Every write is one transaction; `transaction`
// lets a caller group several (nested calls join the outer one as savepoints).

import Database from 'better-sqlite3'
import type {
  ClusterPolicyRecord,
  ClusterRecord,
  ConfigurationRecord,
  ControlPlaneStore,
  OperationRecord,
} from './model.js'

// 2: cluster_policies (created by SCHEMA's IF NOT EXISTS on a version-1 file, which is then marked 2).
const SCHEMA_VERSION = 2

const SCHEMA = `
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS clusters (
  arn TEXT PRIMARY KEY,
  creation_time TEXT NOT NULL,
  seq INTEGER NOT NULL,
  body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS operations (
  arn TEXT PRIMARY KEY,
  cluster_arn TEXT NOT NULL,
  state TEXT NOT NULL,
  creation_time TEXT NOT NULL,
  seq INTEGER NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS operations_by_cluster ON operations (cluster_arn, seq);
CREATE INDEX IF NOT EXISTS operations_by_state ON operations (state, seq);
CREATE TABLE IF NOT EXISTS configurations (
  arn TEXT PRIMARY KEY,
  creation_time TEXT NOT NULL,
  seq INTEGER NOT NULL,
  body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tags (
  resource_arn TEXT PRIMARY KEY,
  body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS scram_secrets (
  cluster_arn TEXT NOT NULL,
  secret_arn TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (cluster_arn, secret_arn)
);
CREATE TABLE IF NOT EXISTS cluster_policies (
  cluster_arn TEXT PRIMARY KEY,
  body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sequence (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
`

interface BodyRow {
  body: string
}

/** Opens (creating when absent) the store at `file`; ':memory:' gives a store that lives with the process. */
export function openStore(file: string): ControlPlaneStore {
  const db = new Database(file)
  if (file !== ':memory:') db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.pragma('busy_timeout = 5000')
  db.exec(SCHEMA)
  migrate(db)

  const nextSeq = (() => {
    const bump = db.prepare(
      `INSERT INTO sequence (name, value) VALUES ('rows', 1)
       ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value`,
    )
    return (): number => (bump.get() as { value: number }).value
  })()

  const q = {
    insertCluster: db.prepare('INSERT INTO clusters (arn, creation_time, seq, body) VALUES (?, ?, ?, ?)'),
    getCluster: db.prepare('SELECT body FROM clusters WHERE arn = ?'),
    listClusters: db.prepare('SELECT body FROM clusters ORDER BY creation_time, seq'),
    putCluster: db.prepare('UPDATE clusters SET body = ? WHERE arn = ?'),
    deleteCluster: db.prepare('DELETE FROM clusters WHERE arn = ?'),

    insertOperation: db.prepare(
      'INSERT INTO operations (arn, cluster_arn, state, creation_time, seq, body) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    getOperation: db.prepare('SELECT body FROM operations WHERE arn = ?'),
    listOperations: db.prepare('SELECT body FROM operations WHERE cluster_arn = ? ORDER BY creation_time DESC, seq DESC'),
    unfinished: db.prepare(
      "SELECT body FROM operations WHERE state IN ('PENDING', 'UPDATE_IN_PROGRESS') ORDER BY creation_time, seq",
    ),
    putOperation: db.prepare('UPDATE operations SET state = ?, body = ? WHERE arn = ?'),

    insertConfiguration: db.prepare('INSERT INTO configurations (arn, creation_time, seq, body) VALUES (?, ?, ?, ?)'),
    getConfiguration: db.prepare('SELECT body FROM configurations WHERE arn = ?'),
    listConfigurations: db.prepare('SELECT body FROM configurations ORDER BY creation_time, seq'),
    putConfiguration: db.prepare('UPDATE configurations SET body = ? WHERE arn = ?'),
    deleteConfiguration: db.prepare('DELETE FROM configurations WHERE arn = ?'),

    getTags: db.prepare('SELECT body FROM tags WHERE resource_arn = ?'),
    putTags: db.prepare(
      'INSERT INTO tags (resource_arn, body) VALUES (?, ?) ON CONFLICT (resource_arn) DO UPDATE SET body = excluded.body',
    ),
    deleteTags: db.prepare('DELETE FROM tags WHERE resource_arn = ?'),

    listScram: db.prepare('SELECT secret_arn FROM scram_secrets WHERE cluster_arn = ? ORDER BY seq'),
    addScram: db.prepare('INSERT OR IGNORE INTO scram_secrets (cluster_arn, secret_arn, seq) VALUES (?, ?, ?)'),
    removeScram: db.prepare('DELETE FROM scram_secrets WHERE cluster_arn = ? AND secret_arn = ?'),
    clearScram: db.prepare('DELETE FROM scram_secrets WHERE cluster_arn = ?'),

    getPolicy: db.prepare('SELECT body FROM cluster_policies WHERE cluster_arn = ?'),
    putPolicy: db.prepare(
      'INSERT INTO cluster_policies (cluster_arn, body) VALUES (?, ?) ON CONFLICT (cluster_arn) DO UPDATE SET body = excluded.body',
    ),
    deletePolicy: db.prepare('DELETE FROM cluster_policies WHERE cluster_arn = ?'),
  }

  function parse<T>(row: unknown): T | undefined {
    return row === undefined ? undefined : (JSON.parse((row as BodyRow).body) as T)
  }
  function parseAll<T>(rows: unknown[]): T[] {
    return rows.map((row) => JSON.parse((row as BodyRow).body) as T)
  }

  /** Runs `fn` in a transaction; inside another one it becomes a savepoint of it. */
  function transaction<T>(fn: () => T): T {
    return db.transaction(fn).immediate()
  }

  /** Reads the record at `arn`, lets `mutate` change it and writes it back, in one transaction. */
  function readModifyWrite<T extends { arn: string }>(
    kind: string,
    get: Database.Statement,
    put: (value: T) => void,
    arn: string,
    mutate: (value: T) => void,
  ): T {
    return transaction(() => {
      const value = parse<T>(get.get(arn))
      if (value === undefined) throw new Error(`${kind} ${arn} not found`)
      mutate(value)
      if (value.arn !== arn) throw new Error(`a ${kind}'s arn cannot change (${arn} → ${value.arn})`)
      put(value)
      return value
    })
  }

  let closed = false

  return {
    transaction,

    insertCluster(cluster: ClusterRecord): void {
      transaction(() => q.insertCluster.run(cluster.arn, cluster.creationTime, nextSeq(), JSON.stringify(cluster)))
    },
    getCluster: (arn) => parse<ClusterRecord>(q.getCluster.get(arn)),
    listClusters: () => parseAll<ClusterRecord>(q.listClusters.all()),
    updateCluster(arn, mutate) {
      const put = (c: ClusterRecord) => q.putCluster.run(JSON.stringify(c), arn)
      return readModifyWrite('cluster', q.getCluster, put, arn, mutate)
    },
    deleteCluster(arn) {
      transaction(() => {
        q.deleteCluster.run(arn)
        q.deleteTags.run(arn)
        q.clearScram.run(arn)
        q.deletePolicy.run(arn)
      })
    },

    insertOperation(op: OperationRecord): void {
      transaction(() =>
        q.insertOperation.run(op.arn, op.clusterArn, op.state, op.creationTime, nextSeq(), JSON.stringify(op)),
      )
    },
    getOperation: (arn) => parse<OperationRecord>(q.getOperation.get(arn)),
    listOperations: (clusterArn) => parseAll<OperationRecord>(q.listOperations.all(clusterArn)),
    unfinishedOperations: () => parseAll<OperationRecord>(q.unfinished.all()),
    updateOperation(arn, mutate) {
      const put = (op: OperationRecord) => q.putOperation.run(op.state, JSON.stringify(op), arn)
      return readModifyWrite('operation', q.getOperation, put, arn, mutate)
    },

    insertConfiguration(config: ConfigurationRecord): void {
      transaction(() =>
        q.insertConfiguration.run(config.arn, config.creationTime, nextSeq(), JSON.stringify(config)),
      )
    },
    getConfiguration: (arn) => parse<ConfigurationRecord>(q.getConfiguration.get(arn)),
    listConfigurations: () => parseAll<ConfigurationRecord>(q.listConfigurations.all()),
    updateConfiguration(arn, mutate) {
      const put = (c: ConfigurationRecord) => q.putConfiguration.run(JSON.stringify(c), arn)
      return readModifyWrite('configuration', q.getConfiguration, put, arn, mutate)
    },
    deleteConfiguration(arn) {
      transaction(() => {
        q.deleteConfiguration.run(arn)
        q.deleteTags.run(arn)
      })
    },

    getTags: (resourceArn) => parse<Record<string, string>>(q.getTags.get(resourceArn)) ?? {},
    setTags(resourceArn, tags) {
      transaction(() => {
        if (Object.keys(tags).length === 0) q.deleteTags.run(resourceArn)
        else q.putTags.run(resourceArn, JSON.stringify(tags))
      })
    },

    listScramSecrets: (clusterArn) =>
      (q.listScram.all(clusterArn) as Array<{ secret_arn: string }>).map((r) => r.secret_arn),
    addScramSecrets(clusterArn, secretArns) {
      transaction(() => {
        for (const secret of secretArns) q.addScram.run(clusterArn, secret, nextSeq())
      })
    },
    removeScramSecrets(clusterArn, secretArns) {
      transaction(() => {
        for (const secret of secretArns) q.removeScram.run(clusterArn, secret)
      })
    },

    getClusterPolicy: (clusterArn) => parse<ClusterPolicyRecord>(q.getPolicy.get(clusterArn)),
    putClusterPolicy(policy) {
      transaction(() => q.putPolicy.run(policy.clusterArn, JSON.stringify(policy)))
    },
    deleteClusterPolicy: (clusterArn) => transaction(() => q.deletePolicy.run(clusterArn).changes > 0),

    close() {
      if (closed) return
      closed = true
      db.close()
    },
  }
}

/**
 * Records the schema version of a new file, marks an older one current (its new tables were just
 * created empty: nothing else changed); refuses a file written by a newer Fjord.
 */
function migrate(db: Database.Database): void {
  const row = db.prepare('SELECT version FROM schema_version').get() as { version: number } | undefined
  if (row === undefined) {
    db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(SCHEMA_VERSION)
    return
  }
  if (row.version > SCHEMA_VERSION) {
    db.close()
    throw new Error(`control-plane store schema version ${row.version} is newer than this Fjord's (${SCHEMA_VERSION})`)
  }
  if (row.version < SCHEMA_VERSION) db.prepare('UPDATE schema_version SET version = ?').run(SCHEMA_VERSION)
}
