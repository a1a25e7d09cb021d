import { defineConfig } from "tsup";

export default defineConfig({
  entry: {
    index: "src/index.ts",
    // Optional integrations: each SDK (or Node built-in) is loaded only from its own entry.
    "langfuse-langchain": "src/integrations/langfuse-langchain.ts",
    langfuse: "src/integrations/langfuse.ts",
    redis: "src/integrations/redis.ts",
    jsonl: "src/integrations/jsonl.ts",
    cloudevents: "src/integrations/cloudevents.ts",
    agents: "src/scope/budget-middleware.ts",
    // The `langchain-metered` bin (package.json "bin"), not an export. Its `#!/usr/bin/env node` is the first line
    // of src/cli/main.ts: esbuild keeps an entry's hashbang in that entry's output only, and tsup makes it executable.
    cli: "src/cli/main.ts",
  },
  format: ["esm", "cjs"],
  // `@internal` members stay out of the published types (they are not API, and must not autocomplete).
  dts: { compilerOptions: { stripInternal: true } },
  // No source maps in the package (they were 1.5 MB of its 2.2 MB); `SOURCEMAP=1 npm run build` makes them
  // for profiling a build (bench/metering.ts --profile).
  sourcemap: process.env.SOURCEMAP === "1",
  clean: true,
  target: "node20",
  // Keep `node:` specifiers as written (tsup strips them by default): Deno and edge runtimes with Node
  // compatibility resolve only the `node:` form, and it makes a built-in import easy to spot in dist/.
  removeNodeProtocol: false,
  // One copy of the core (price catalog, budget, model) shared by every entry, in a chunk each entry imports,
  // for ESM and (tsup's experimental code splitting) CJS alike: `langchain-metered/redis` and the root entry
  // never hold two price catalogs, and `instanceof` holds across entries.
  splitting: true,
  treeshake: true,
});
