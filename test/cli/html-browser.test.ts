/**
 * The HTML report in a real headless browser (Debian's `chromium`): `--dump-dom` after the page's inline script
 * ran, and a `--screenshot`. Checks the chart (one SVG series per group: the top 8 and "other"), the legend, the
 * top models and tenants, and the table's exact totals in the DOM.
 *
 * Skipped, saying how to install it, when chromium is missing, unless LANGCHAIN_METERED_REQUIRE_CHROMIUM=1 (CI
 * sets it): then a missing browser fails. `UPDATE_REPORT_SCREENSHOT=1` also writes the screenshot to docs/report.png.
 */
import { execFile, execFileSync } from "node:child_process";
import { copyFile, readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { usdExact } from "../../src/cli/format.js";
import { lastLineTotals, meterLog, quotaValue } from "./fixture.js";
import { run, tempDir, writeLog } from "./run.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const REQUIRE_ENV = "LANGCHAIN_METERED_REQUIRE_CHROMIUM";
const INSTALL_HINT = "Install it with `sudo apt-get install -y chromium` (Debian), or put a `chromium` on the PATH.";
const exec = promisify(execFile);

function findChromium(): string | undefined {
  for (const name of ["chromium", "chromium-browser"]) {
    try {
      const path = execFileSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim();
      if (path) return path;
    } catch {
      // not this one
    }
  }
  return undefined;
}

const chromium = findChromium();
if (!chromium) {
  if (process.env[REQUIRE_ENV] === "1") throw new Error(`${REQUIRE_ENV}=1, but \`chromium\` is not on the PATH. ${INSTALL_HINT}`);
  console.warn(`\n[langchain-metered] HTML report browser test skipped: \`chromium\` is not on the PATH. ${INSTALL_HINT}\n`);
}

describe.skipIf(!chromium)("the HTML report in headless chromium", () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  const entries = [...meterLog({ calls: 1500, seed: 5, spanHours: 24 * 14, tenants: 4, users: 3 })];
  const browse = (...args: string[]) =>
    exec(chromium!, ["--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--hide-scrollbars", `--user-data-dir=${tmp.path("profile")}`, ...args], {
      maxBuffer: 64 << 20,
      timeout: 60_000,
    });

  beforeAll(async () => {
    tmp = await tempDir();
    await writeLog(tmp.path("usage.jsonl"), entries);
  });
  afterAll(() => tmp?.cleanup());

  it("renders the chart (one series per group), the top lists and the table's exact totals", async () => {
    const page = tmp.path("by-tenant.html");
    expect((await run(["report", tmp.path("usage.jsonl"), "--by", "tenant", "--html", page])).code).toBe(0);
    const { stdout: dom } = await browse("--dump-dom", pathToFileURL(page).href);
    // The inline script ran in the browser (and threw nothing before its end).
    expect(dom).toMatch(/<html[^>]*data-ready="1"/);
    const ref = lastLineTotals(entries, (e) => quotaValue(e, "tenant"));
    expect(dom.match(/<g class="series"/g)).toHaveLength(ref.groups.size);
    expect(dom.match(/<li data-series="/g)).toHaveLength(ref.groups.size);
    expect(dom.match(/<g class="series"[^>]*>\s*<path d="M[\d.]+,[\d.]+( L[\d.]+,[\d.]+)+"/g)).toHaveLength(ref.groups.size);
    // The total, exact, in the cards and the table's footer.
    expect(dom).toContain(`<div class="v" id="total-usd">${usdExact(ref.total)}</div>`);
    const foot = /<tfoot><tr data-total-nano="(\d+)">(.*?)<\/tr><\/tfoot>/s.exec(dom);
    expect(foot?.[1]).toBe(ref.total.toString());
    expect(foot?.[2]).toContain(`>${usdExact(ref.total)}</td>`);
    // Each group's row carries its exact cost.
    for (const [tenant, group] of ref.groups) {
      expect(dom).toMatch(new RegExp(`<tr><td>${tenant}</td>.*<td class="n" data-v="${group.nano}">${usdExact(group.nano).replace(".", "\\.")}</td>`));
    }
    // Top models and tenants: each model of the log, and its spend.
    const models = lastLineTotals(entries, (e) => e.model);
    const top = /<ol id="top-models" class="bars">(.*?)<\/ol>/s.exec(dom)?.[1] ?? "";
    for (const [model, group] of models.groups) expect(top).toContain(`<span class="name">${model}</span><span class="bar"><span style="width:`);
    for (const [, group] of models.groups) expect(top).toContain(`data-nano="${group.nano}"`);
    expect(dom).toMatch(/<ol id="top-tenants" class="bars">(.*?<li>){4}/s);
  }, 60_000);

  it("draws the 8 costliest groups and one 'other' when there are more; the screenshot has the page", async () => {
    const page = tmp.path("by-tenant-user.html");
    expect((await run(["report", tmp.path("usage.jsonl"), "--by", "tenant,user", "--html", page])).code).toBe(0);
    const { stdout: dom } = await browse("--dump-dom", pathToFileURL(page).href);
    const groups = lastLineTotals(entries, (e) => `${quotaValue(e, "tenant")}|${quotaValue(e, "user")}`).groups.size;
    expect(groups).toBeGreaterThan(9);
    expect(dom.match(/<g class="series"/g)).toHaveLength(9);
    expect(dom).toContain(`other (${groups - 8} groups)`);
    expect(dom.match(/<tbody>[\s\S]*<\/tbody>/)?.[0].match(/<tr>/g)).toHaveLength(groups);

    const shot = tmp.path("report.png");
    const byTenant = tmp.path("by-tenant.html");
    expect((await run(["report", tmp.path("usage.jsonl"), "--by", "tenant", "--html", byTenant])).code).toBe(0);
    await browse(`--screenshot=${shot}`, "--window-size=1200,1080", pathToFileURL(byTenant).href);
    const png = await readFile(shot);
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([1200, 1080]);
    expect(png.length).toBeGreaterThan(30_000); // a blank page is a few KB
    if (process.env.UPDATE_REPORT_SCREENSHOT === "1") await copyFile(shot, join(ROOT, "docs", "report.png"));
  }, 60_000);
});
