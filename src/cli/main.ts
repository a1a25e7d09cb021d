#!/usr/bin/env node
// The `langchain-metered` bin (dist/cli.js). The hashbang above is kept by esbuild in this entry's output only,
// and tsup marks that file executable. The commands live in ./cli.ts (`main(argv, io)`, run in process by tests).
import { main } from "./cli.js";

// `langchain-metered report … | head` closes stdout early: that is not an error.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
