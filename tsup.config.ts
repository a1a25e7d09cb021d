import { defineConfig } from "tsup";

export default defineConfig({
  entry: {
    index: "src/index.ts",
    // Optional integrations: each SDK is loaded only from its own entry.
    "langfuse-langchain": "src/integrations/langfuse-langchain.ts",
    langfuse: "src/integrations/langfuse.ts",
    redis: "src/integrations/redis.ts",
  },
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "node20",
  splitting: false,
  treeshake: true,
});
