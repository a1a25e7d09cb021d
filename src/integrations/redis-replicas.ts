import type { Redis } from "ioredis";

/** How long a write waits for its replicas (`waitForReplicas`) before the store goes on without them. */
export const REPLICA_WAIT_MS = 100;

/** How long a primary whose replicas fell short is not waited for (its writes then go unconfirmed). */
const SHORT_FOR_MS = 5000;

/**
 * Confirms that replicas have a primary's writes before `RedisBudgetStore` answers (`waitForReplicas`): Redis
 * replicates asynchronously, so a primary that fails over can take the last writes it acknowledged with it.
 *
 * `WAIT` counts the writes made on the connection it is sent on, and blocks that connection until it returns, so
 * one `WAIT` per write would queue every other call behind it. Instead, writes on one connection share one: a
 * write answered while no `WAIT` is on its way sends one; a write answered while one is already on its way (sent,
 * perhaps, before this write was made) joins the next, sent as soon as that one returns.
 */
export class ReplicaWaits {
  private readonly waits = new WeakMap<Redis, { sent?: Promise<number>; next?: Promise<number> }>();
  /** Primaries (host:port) whose replicas fell short, until when they aren't waited for. */
  private readonly short = new Map<string, number>();
  private warned = false;

  constructor(private readonly replicas: number) {}

  /** Resolves once `replicas` replicas have every write `node`'s connection was answered for before this call. */
  async confirm(node: Redis): Promise<void> {
    const address = `${node.options.host}:${node.options.port}`;
    // A replica just promoted after a failover has no replica until the old primary rejoins: without this,
    // each of its writes would wait the full REPLICA_WAIT_MS.
    if ((this.short.get(address) ?? 0) > Date.now()) return;
    const acked = await this.shared(node);
    if (acked >= this.replicas) return void this.short.delete(address);
    this.short.set(address, Date.now() + SHORT_FOR_MS);
    if (this.warned) return;
    this.warned = true;
    console.warn(
      `langchain-metered: RedisBudgetStore asked ${this.replicas} replica(s) of ${address} to confirm a write, ` +
        `and ${acked} did within ${REPLICA_WAIT_MS} ms; the store goes on, but a failover now could lose that write. ` +
        "If this Redis has no replicas, set waitForReplicas: 0.",
    );
  }

  private shared(node: Redis): Promise<number> {
    let state = this.waits.get(node);
    if (!state) this.waits.set(node, (state = {}));
    if (!state.sent) {
      const sent = node.wait(this.replicas, REPLICA_WAIT_MS).then(Number);
      state.sent = sent;
      const done = () => {
        if (state.sent === sent) state.sent = undefined;
      };
      sent.then(done, done);
      return sent;
    }
    const again = () => {
      state.next = undefined;
      return this.shared(node);
    };
    return (state.next ??= state.sent.then(again, again));
  }
}
