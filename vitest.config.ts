import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // One redis-server on a free loopback port for the Redis suites (skipped without redis-server, unless
    // LANGCHAIN_METERED_REQUIRE_REDIS=1).
    globalSetup: ["test/support/redis-global-setup.ts"],
  },
});
