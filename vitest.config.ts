import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Type tests of the public surface (test/types/*.test-d.ts), checked by tsc as part of the run.
    typecheck: { enabled: true, include: ["test/types/**/*.test-d.ts"], tsconfig: "./tsconfig.json" },
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // One redis-server on a free loopback port for the Redis suites (skipped without redis-server, unless
    // LANGCHAIN_METERED_REQUIRE_REDIS=1).
    globalSetup: ["test/support/redis-global-setup.ts"],
  },
});
