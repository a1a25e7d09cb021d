/**
 * `npm run bench` runs every section; `npm run bench -- metering` runs one; `--json` prints JSON.
 * Every `bench/*.ts` file is imported, so a new bench file only has to call `section(...)` (support
 * files must have no side effects at import). Results also go to bench/results/latest.json.
 */
import { execSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { runSections } from "./harness.js";

const here = new URL("./", import.meta.url);
for (const file of readdirSync(here).sort()) {
  if (!file.endsWith(".ts") || file.endsWith(".d.ts") || file === "index.ts" || file === "harness.ts") continue;
  await import(new URL(file, here).href);
}

const args = process.argv.slice(2);
const json = args.includes("--json");
const names = args.filter((a) => !a.startsWith("--"));
const git = (cmd: string) => {
  try {
    return execSync(`git ${cmd}`, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "";
  }
};
const meta = {
  date: new Date().toISOString(),
  commit: `${git("rev-parse --short HEAD")}${git("status --porcelain -- src") ? " + uncommitted src/ changes" : ""}`,
  node: process.version,
  cpu: cpus()[0]?.model,
  cores: cpus().length,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  loadAvg1m: Number(loadavg()[0]?.toFixed(2)),
  server: process.env.BENCH_SERVER === "inprocess" ? "in process" : "child process",
};
if (!json) console.log(`# langchain-metered benchmarks\n\n${meta.date} · Node ${meta.node} · ${meta.cores}× ${meta.cpu} · load ${meta.loadAvg1m} · fake server: ${meta.server} · code ${meta.commit}`);
await runSections(names, { json, meta });
