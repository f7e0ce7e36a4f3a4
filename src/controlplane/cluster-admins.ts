// The API's connections to clusters' Kafka (the topics API): one ClusterAdmin a cluster, over the
// bootstrap brokers of the LocalCluster the provisioner holds for it, made on first use, made
// again when the provisioner's LocalCluster changes (adopted after a restart, recreated), dropped
// when it has none (deleted, failed). The reconciler keeps its own; these are closed by
// ControlPlane.close.

import { ClusterAdmin } from './cluster-admin.js'
import type { Provisioner } from './provisioner.js'

export class ClusterAdmins {
  readonly #admins = new Map<string, { admin: ClusterAdmin; owner: object }>()
  #closed = false

  constructor(private readonly provisioner: Pick<Provisioner, 'get'>) {}

  /** The admin of cluster `arn`, or undefined when no processes are provisioned for it (or this is closed). */
  get(arn: string): ClusterAdmin | undefined {
    const lc = this.#closed ? undefined : this.provisioner.get(arn)
    const held = this.#admins.get(arn)
    if (held !== undefined && held.owner === lc) return held.admin
    if (held !== undefined) {
      this.#admins.delete(arn)
      void held.admin.close()
    }
    if (lc === undefined) return undefined
    const admin = new ClusterAdmin(() => lc.bootstrap, { requestTimeoutMs: 10_000, aborted: () => this.#closed })
    this.#admins.set(arn, { admin, owner: lc })
    return admin
  }

  async close(): Promise<void> {
    this.#closed = true
    const all = [...this.#admins.values()]
    this.#admins.clear()
    await Promise.all(all.map((a) => a.admin.close()))
  }
}
