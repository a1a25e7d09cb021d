/**
 * For the Redis suites: the run's redis-server (started by `redis-global-setup.ts`), and `describeRedis`,
 * which skips a suite, saying why and how to install Redis, when there is none.
 */
import { randomUUID } from "node:crypto";
import { describe, inject } from "vitest";
import type { RedisBudgetStore } from "../../src/integrations/redis.js";
import type { StoreUnderTest } from "../budget/store-contract.js";

/** `redis://127.0.0.1:<port>` of the run's redis-server, or "" when the Redis suites are skipped. */
export const redisUrl: string = inject("redisUrl");

/** The run's Redis Cluster (3 primaries, 3 replicas), for `new Cluster(...)`; empty when the Redis suites are skipped. */
export const redisClusterNodes: Array<{ host: string; port: number }> = redisUrl ? JSON.parse(inject("redisClusterNodes")) : [];

/**
 * `describe` for a suite that needs Redis: skipped when there is none, with how to get it in its name (the
 * global setup prints the full reason once).
 */
export function describeRedis(name: string, body: () => void): void {
  if (redisUrl) describe(name, body);
  else describe.skip(`${name} [skipped: no redis-server; install it with \`apt-get install redis-server\`]`, body);
}

/** A key part no other test (or test run) shares, so suites running side by side never meet in Redis. */
export function uniqueId(label: string): string {
  return `${label}-${randomUUID().slice(0, 8)}`;
}

/**
 * Two stores on the same Redis data (two workers' connections) as the store contract runs them. Redis' clock
 * is the machine's: moving it means waiting (5 waits of 2 × 75 ms in the whole suite).
 */
export function liveRedisUnderTest(store: RedisBudgetStore, peer: RedisBudgetStore): StoreUnderTest {
  return {
    store,
    peer,
    advance: (ms) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
    shortTtlMs: 75,
    cleanup: async () => {
      await store.close();
      await peer.close();
    },
  };
}
