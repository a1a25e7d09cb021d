/**
 * vitest global setup: one `redis-server` for the whole run, on a free loopback port, with no persistence
 * (`--save "" --appendonly no`), and one Redis Cluster (3 primaries, 3 replicas, `redis-cluster.ts`). Their
 * addresses reach the tests through `inject("redisUrl")` and `inject("redisClusterNodes")`; both are stopped
 * when the run ends.
 *
 * Without `redis-server` on the PATH the Redis suites are skipped, with a message saying how to install it,
 * unless LANGCHAIN_METERED_REQUIRE_REDIS=1 (CI sets it): then a missing or broken server fails the run.
 * Tests that stop and restart Redis mid-run start their own short-lived server (`startRedisServer()`), so
 * they never disturb the shared one.
 */
import type { TestProject } from "vitest/node";
import { startRedisCluster } from "./redis-cluster.js";
import { INSTALL_HINT, redisServerVersion, REQUIRE_REDIS_ENV, startRedisServer } from "./redis-server.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** `redis://127.0.0.1:<port>` of the run's redis-server; "" when the Redis suites are skipped. */
    redisUrl: string;
    /** Why the Redis suites are skipped ("" when they run). */
    redisSkipReason: string;
    /** The run's Redis Cluster nodes (`[{ host, port }]`, as JSON); "" when the Redis suites are skipped. */
    redisClusterNodes: string;
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const required = process.env[REQUIRE_REDIS_ENV] === "1";
  const skip = (reason: string) => {
    if (required) throw new Error(`${REQUIRE_REDIS_ENV}=1, but ${reason}. ${INSTALL_HINT}`);
    const message = `Redis suites skipped: ${reason}. ${INSTALL_HINT}`;
    console.warn(`\n[langchain-metered] ${message}\n`);
    project.provide("redisUrl", "");
    project.provide("redisClusterNodes", "");
    project.provide("redisSkipReason", message);
    return undefined;
  };

  if (!redisServerVersion()) return skip("`redis-server` is not installed (not found on the PATH)");
  let server: Awaited<ReturnType<typeof startRedisServer>>;
  try {
    server = await startRedisServer();
  } catch (error) {
    return skip(`\`redis-server\` did not start (${error instanceof Error ? error.message : String(error)})`);
  }
  let cluster: Awaited<ReturnType<typeof startRedisCluster>>;
  try {
    cluster = await startRedisCluster();
  } catch (error) {
    await server.close();
    return skip(`a Redis Cluster of \`redis-server\`s did not start (${error instanceof Error ? error.message : String(error)})`);
  }
  project.provide("redisUrl", server.url);
  project.provide("redisClusterNodes", JSON.stringify(cluster.nodes));
  project.provide("redisSkipReason", "");
  return async () => {
    await Promise.all([server.close(), cluster.close()]);
  };
}
