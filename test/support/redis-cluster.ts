/**
 * A throwaway Redis Cluster on loopback for tests and benchmarks: 3 primaries and 3 replicas, each a
 * `redis-server` with cluster mode on free ports (its cluster bus on a port of its own, `--cluster-port`),
 * joined with `redis-cli --cluster create`. Nothing touches a Redis the machine may already run.
 *
 * Besides starting and closing, it does what the fault tests need: which server serves a key, moving a slot
 * from one primary to another (the `MIGRATING`/`IMPORTING` dance that `redis-cli --cluster reshard` does, one
 * slot at a time, so it can happen in the middle of a run), and waiting for the cluster to agree again after
 * a primary was killed.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { freePort, type RedisServerHandle, startRedisServer } from "./redis-server.js";

const run = promisify(execFile);

export interface RedisClusterHandle {
  /** Every node's address, primaries first as created (for `new Cluster(nodes)`). */
  readonly nodes: Array<{ host: string; port: number }>;
  readonly servers: readonly RedisServerHandle[];
  /** The slot of `key` (`CLUSTER KEYSLOT`). */
  slotOf(key: string): Promise<number>;
  /** The running server that serves `slot` as primary now. */
  primaryOf(slot: number): Promise<RedisServerHandle>;
  /** Moves `slot` to the primary `to`, key by key (`MIGRATE`), with a pause between keys if asked. */
  migrateSlot(slot: number, to: RedisServerHandle, options?: { pauseMs?: number; onMigrating?: () => void }): Promise<number>;
  /** Error replies a node has sent, by kind (`INFO errorstats`: `MOVED`, `ASK`, `TRYAGAIN`, …). */
  errorStats(server: RedisServerHandle): Promise<Record<string, number>>;
  /**
   * Waits until every running node says `cluster_state:ok` and they agree on who serves every slot, and, with
   * `replicas`, until every primary has a replica in sync (so killing it fails over, and a write's `WAIT` returns).
   */
  untilHealthy(options?: { timeoutMs?: number; replicas?: boolean }): Promise<void>;
  /** Stops every node and removes their files. */
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Starts a 3-primary, 3-replica cluster. `nodeTimeoutMs` is how long a silent primary takes to be failed over. */
export async function startRedisCluster(options: { nodeTimeoutMs?: number } = {}): Promise<RedisClusterHandle> {
  const nodeTimeoutMs = options.nodeTimeoutMs ?? 1000;
  const servers: RedisServerHandle[] = [];
  try {
    for (let i = 0; i < 6; i++) {
      const bus = await freePort();
      servers.push(
        await startRedisServer({
          extraArgs: [
            "--cluster-enabled", "yes",
            "--cluster-port", String(bus),
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", String(nodeTimeoutMs),
            // A cluster with a slot whose primary is gone still answers for the other slots.
            "--cluster-require-full-coverage", "no",
            // A replica takes over however long it was apart from its primary (the default refuses one whose data
            // may be old: a primary just restarted as a replica, on a busy machine).
            "--cluster-replica-validity-factor", "0",
          ],
        }),
      );
    }
    const addresses = servers.map((s) => `127.0.0.1:${s.port}`);
    await run("redis-cli", ["--cluster", "create", ...addresses, "--cluster-replicas", "1", "--cluster-yes"], { timeout: 30_000 });
  } catch (error) {
    await Promise.all(servers.map((s) => s.close()));
    throw error;
  }

  const nodes = servers.map((s) => ({ host: "127.0.0.1", port: s.port }));
  const byPort = new Map(servers.map((s) => [s.port, s]));
  /** A short-lived connection to one node, for admin commands. */
  const withNode = async <T>(server: RedisServerHandle, work: (redis: Redis) => Promise<T>): Promise<T> => {
    const redis = new Redis(server.port, "127.0.0.1", { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false });
    redis.on("error", () => {});
    try {
      await redis.connect();
      return await work(redis);
    } finally {
      redis.disconnect();
    }
  };
  const anyRunning = () => {
    const server = servers.find((s) => s.running);
    if (!server) throw new Error("no node of the cluster is running");
    return server;
  };
  /** slot → primary's port, from one node's view (`CLUSTER SLOTS`). */
  const slotOwners = async (server: RedisServerHandle): Promise<Array<[number, number, number]>> =>
    withNode(server, async (redis) => {
      const slots = await redis.cluster("SLOTS");
      return slots.map(([from, to, primary]) => [from, to, Number(primary?.[1])] as [number, number, number]);
    });
  const nodeId = (server: RedisServerHandle) => withNode(server, (redis) => redis.cluster("MYID") as Promise<string>);

  const handle: RedisClusterHandle = {
    nodes,
    servers,
    slotOf: (key) => withNode(anyRunning(), (redis) => redis.cluster("KEYSLOT", key) as Promise<number>),
    async primaryOf(slot) {
      const owner = (await slotOwners(anyRunning())).find(([from, to]) => slot >= from && slot <= to);
      const server = owner && byPort.get(owner[2]);
      if (!server) throw new Error(`no primary serves slot ${slot}`);
      return server;
    },
    async migrateSlot(slot, to, { pauseMs = 0, onMigrating } = {}) {
      const from = await handle.primaryOf(slot);
      if (from === to) throw new Error(`slot ${slot} is already on 127.0.0.1:${to.port}`);
      const [fromId, toId] = await Promise.all([nodeId(from), nodeId(to)]);
      await withNode(to, (redis) => redis.cluster("SETSLOT", slot, "IMPORTING", fromId));
      await withNode(from, (redis) => redis.cluster("SETSLOT", slot, "MIGRATING", toId));
      onMigrating?.();
      let moved = 0;
      await withNode(from, async (redis) => {
        for (;;) {
          const keys = (await redis.cluster("GETKEYSINSLOT", slot, 1)) as string[];
          if (!keys.length) break;
          await redis.migrate("127.0.0.1", to.port, "", 0, 5000, "KEYS", ...keys);
          moved += keys.length;
          if (pauseMs) await sleep(pauseMs);
        }
      });
      // The new owner first, then the old one, then everyone else (as redis-cli does).
      for (const server of [to, from, ...servers.filter((s) => s !== to && s !== from && s.running)]) {
        await withNode(server, (redis) => redis.cluster("SETSLOT", slot, "NODE", toId)).catch(() => {});
      }
      return moved;
    },
    errorStats: (server) =>
      withNode(server, async (redis) => {
        const info = await redis.info("errorstats");
        return Object.fromEntries([...info.matchAll(/errorstat_(\w+):count=(\d+)/g)].map(([, kind, count]) => [kind!, Number(count)]));
      }),
    async untilHealthy({ timeoutMs = 20_000, replicas = false } = {}) {
      const until = Date.now() + timeoutMs;
      let last = "";
      while (Date.now() < until) {
        try {
          const running = servers.filter((s) => s.running);
          const infos = await Promise.all(running.map((s) => withNode(s, (redis) => redis.cluster("INFO") as Promise<string>)));
          const views = await Promise.all(running.map((s) => slotOwners(s)));
          const agreed = views.every((view) => JSON.stringify(view.sort()) === JSON.stringify(views[0]!.sort()));
          const covered = (views[0] ?? []).reduce((sum, [from, to]) => sum + (to - from + 1), 0) === 16_384;
          const owned = (views[0] ?? []).every(([, , port]) => byPort.get(port)?.running);
          const primaries = [...new Set((views[0] ?? []).map(([, , port]) => port))];
          const synced =
            !replicas ||
            (await Promise.all(primaries.map((port) => withNode(byPort.get(port)!, (redis) => redis.info("replication"))))).every((info) =>
              /slave0:.*state=online/.test(info),
            );
          if (infos.every((info) => info.includes("cluster_state:ok")) && agreed && covered && owned && synced) return;
          last = `state ok on ${infos.filter((i) => i.includes("cluster_state:ok")).length}/${running.length}, agreed ${agreed}, covered ${covered}, owners up ${owned}, replicas in sync ${synced}`;
        } catch (error) {
          last = String(error);
        }
        await sleep(100);
      }
      throw new Error(`the Redis Cluster did not become healthy within ${timeoutMs} ms (${last})`);
    },
    async close() {
      await Promise.all(servers.map((s) => s.close()));
    },
  };
  // Replicas sync after the cluster is made: until they are online, a write's WAIT for a replica times out.
  await handle.untilHealthy({ replicas: true });
  return handle;
}
