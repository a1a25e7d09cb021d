/**
 * `langchain-metered report`, in process: totals equal the sum of the last line per callId to the nano-dollar,
 * overall and per group, on generated logs (held → outcome pairs interleaved with other calls, a hold written
 * twice, released and refused lines at $0, dead workers' lone holds), in plain and gzipped files; csv, json and
 * table; --since/--until on the line that counts; malformed lines; errors that say what to do.
 */
import { readFile, writeFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MeterEntry } from "../../src/budget/meter-sink.js";
import { usdExact } from "../../src/cli/format.js";
import { lastLineTotals, meterLog, quotaValue } from "./fixture.js";
import { parseReport, run, tempDir, writeLog } from "./run.js";

let tmp: Awaited<ReturnType<typeof tempDir>>;
let entries: MeterEntry[];
let log: string;

beforeAll(async () => {
  tmp = await tempDir();
  entries = [...meterLog({ calls: 3000, seed: 7 })];
  log = tmp.path("usage.jsonl");
  await writeLog(log, entries);
});
afterAll(() => tmp?.cleanup());

describe("the generated log", () => {
  it("has every kind of line the dedup must handle", () => {
    const kinds = new Map<string, number>();
    for (const e of entries) kinds.set(e.decision, (kinds.get(e.decision) ?? 0) + 1);
    for (const kind of ["allowed", "clamped", "exceeded", "refused", "released", "held"]) expect(kinds.get(kind), kind).toBeGreaterThan(10);
    const perCall = new Map<string, string[]>();
    for (const e of entries) perCall.set(e.callId, [...(perCall.get(e.callId) ?? []), e.decision]);
    const shapes = new Set([...perCall.values()].map((d) => d.join(">")));
    expect(shapes).toContain("held>allowed");
    expect(shapes).toContain("held>held>clamped");
    expect(shapes).toContain("held"); // a dead worker
    expect(shapes).toContain("held>released");
    // Outcomes come after other calls' lines, not right after their hold.
    const first = entries.findIndex((e) => e.decision === "held");
    const end = entries.findIndex((e, i) => i > first && e.callId === entries[first]!.callId);
    expect(end - first).toBeGreaterThan(1);
    expect(entries.length).toBeGreaterThan(4000);
  });
});

describe("report", () => {
  it("sums the last line per callId to the nano-dollar, per tenant and model and overall (json)", async () => {
    const { code, stdout, stderr } = await run(["report", log, "--by", "tenant,model", "--format", "json"]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const report = parseReport(stdout);
    const ref = lastLineTotals(entries, (e) => `${quotaValue(e, "tenant")}|${e.model}`);
    expect(report.lines).toBe(entries.length);
    expect(report.total.costNanoUsd).toBe(ref.total);
    expect(report.total.costUsd).toBe(usdExact(ref.total));
    expect(report.total.calls).toBe(ref.calls);
    expect(report.groups).toHaveLength(ref.groups.size);
    for (const group of report.groups) {
      const expected = ref.groups.get(`${group.group.tenant}|${group.group.model}`);
      expect(group.costNanoUsd, JSON.stringify(group.group)).toBe(expected?.nano);
      expect(group.calls).toBe(expected?.calls);
      expect(group.inputTokens).toBe(expected?.inputTokens);
      expect(group.outputTokens).toBe(expected?.outputTokens);
    }
    // A naive sum of every line would count holds twice: the dedup matters.
    const naive = entries.reduce((sum, e) => sum + BigInt(e.costNanoUsd), 0n);
    expect(naive).toBeGreaterThan(ref.total);
    // Dead workers' holds count at their held amount.
    const held = [...new Map(entries.map((e) => [e.callId, e])).values()].filter((e) => e.decision === "held").length;
    expect(report.total.heldCalls).toBe(held);
    expect(held).toBeGreaterThan(0);
  });

  it("gives the same totals over the log split into a plain and a gzipped file (a hold in one, its outcome in the next)", async () => {
    // Split inside a held → outcome pair.
    const cut = entries.findIndex((e, i) => i > entries.length / 2 && e.decision === "held") + 1;
    await writeLog(tmp.path("part1.jsonl"), entries.slice(0, cut));
    await writeLog(tmp.path("part2.jsonl.gz"), entries.slice(cut));
    const whole = parseReport((await run(["report", log, "--by", "user", "--format", "json"])).stdout);
    const split = await run(["report", tmp.path("part1.jsonl"), tmp.path("part2.jsonl.gz"), "--by", "user", "--format", "json"]);
    expect(split.code).toBe(0);
    const parts = parseReport(split.stdout);
    expect(parts.total).toEqual(whole.total);
    expect(parts.groups).toEqual(whole.groups);
    const ref = lastLineTotals(entries, (e) => quotaValue(e, "user"));
    for (const group of parts.groups) expect(group.costNanoUsd).toBe(ref.groups.get(group.group.user!)?.nano);
  });

  it("writes csv: a header, one row per group, exact USD and nano-USD; its rows sum to the total", async () => {
    const { code, stdout } = await run(["report", log, "--by", "model,day", "--format", "csv"]);
    expect(code).toBe(0);
    const [header, ...rows] = stdout.trimEnd().split("\r\n");
    expect(header).toBe("model,day,calls,held_calls,input_tokens,output_tokens,cost_usd,cost_nano_usd");
    const ref = lastLineTotals(entries, (e) => `${e.model},${e.time.slice(0, 10)}`);
    expect(rows).toHaveLength(ref.groups.size);
    let sum = 0n;
    for (const row of rows) {
      const cells = row!.split(",");
      const expected = ref.groups.get(`${cells[0]},${cells[1]}`)!;
      expect(BigInt(cells[7]!)).toBe(expected.nano);
      expect(cells[6]).toBe(usdExact(expected.nano));
      expect(Number(cells[2])).toBe(expected.calls);
      sum += BigInt(cells[7]!);
    }
    expect(sum).toBe(ref.total);
    // Rows by date when the first dimension is a date... here model comes first: by cost, highest first.
    const costs = rows.map((row) => BigInt(row!.split(",")[7]!));
    expect([...costs].sort((a, b) => (b > a ? 1 : b < a ? -1 : 0))).toEqual(costs);
  });

  it("prints a table with the exact total on its last line (by model by default)", async () => {
    const { code, stdout } = await run(["report", log]);
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^model\s+calls\s+held_calls\s+input_tokens\s+output_tokens\s+cost_usd\s+cost_nano_usd$/);
    const ref = lastLineTotals(entries, (e) => e.model);
    expect(lines.at(-1)).toMatch(new RegExp(`^total\\s.*\\s${usdExact(ref.total).replace(".", "\\.")}\\s+${ref.total}$`));
    expect(lines).toHaveLength(2 + ref.groups.size + 2);
    for (const [model, group] of ref.groups) expect(stdout).toMatch(new RegExp(`${model}\\s.*\\s${usdExact(group.nano).replace(".", "\\.")}\\s+${group.nano}\\n`));
  });

  it("--since/--until count the calls whose last line falls in [since, until)", async () => {
    const since = "2026-11-28";
    const until = "2026-11-29T06:00:00Z";
    const { code, stdout } = await run(["report", log, "--by", "day,tenant", "--since", since, "--until", until, "--format", "json"]);
    expect(code).toBe(0);
    const report = parseReport(stdout);
    const ref = lastLineTotals(entries, (e) => `${e.time.slice(0, 10)}|${quotaValue(e, "tenant")}`, { since: "2026-11-28T00:00:00Z", until });
    expect(report.total.costNanoUsd).toBe(ref.total);
    expect(report.total.calls).toBe(ref.calls);
    for (const group of report.groups) expect(group.costNanoUsd).toBe(ref.groups.get(`${group.group.day}|${group.group.tenant}`)?.nano);
    expect(new Set(report.groups.map((g) => g.group.day))).toEqual(new Set(["2026-11-28", "2026-11-29"]));
    // Rows by day when day comes first.
    const days = report.groups.map((g) => g.group.day!);
    expect([...days].sort()).toEqual(days);
  });

  it("filters on the line that counts: a hold inside the range whose outcome falls outside it is not counted", async () => {
    const at = (iso: string) => ({ time: iso });
    const base = entries.find((e) => e.decision === "allowed")!;
    const lines: MeterEntry[] = [
      { ...base, callId: "a", ...at("2026-12-01T23:59:59.000Z"), decision: "held", costNanoUsd: 500 },
      { ...base, callId: "b", ...at("2026-12-01T10:00:00.000Z"), decision: "held", costNanoUsd: 700 },
      { ...base, callId: "a", ...at("2026-12-02T00:00:01.000Z"), decision: "allowed", costNanoUsd: 300 },
      { ...base, callId: "c", ...at("2026-12-01T12:00:00.000Z"), decision: "refused", costNanoUsd: 0 },
    ];
    await writeLog(tmp.path("edge.jsonl"), lines);
    const inDec1 = parseReport((await run(["report", tmp.path("edge.jsonl"), "--since", "2026-12-01", "--until", "2026-12-02", "--format", "json"])).stdout);
    expect(inDec1.total).toMatchObject({ calls: 2, heldCalls: 1, costNanoUsd: 700n }); // b's lone hold, c refused at $0
    const inDec2 = parseReport((await run(["report", tmp.path("edge.jsonl"), "--since", "2026-12-02", "--format", "json"])).stdout);
    expect(inDec2.total).toMatchObject({ calls: 1, heldCalls: 0, costNanoUsd: 300n });
  });

  it("sums past 2^53 nano-USD exactly", async () => {
    const base = entries.find((e) => e.decision === "allowed")!;
    const big = 2 ** 52; // $4.5M a call
    const lines = Array.from({ length: 5 }, (_, i) => ({ ...base, callId: `big-${i}`, costNanoUsd: big + i }));
    await writeLog(tmp.path("big.jsonl"), lines);
    const report = parseReport((await run(["report", tmp.path("big.jsonl"), "--format", "json"])).stdout);
    expect(report.total.costNanoUsd).toBe(5n * BigInt(big) + 10n);
    expect(report.total.costUsd).toBe(usdExact(5n * BigInt(big) + 10n));
  });

  it("skips malformed lines (a line cut short by a crash), saying where, and counts the rest", async () => {
    const good = entries.slice(0, 200);
    const text = `${good.map((e) => JSON.stringify(e)).join("\n")}\n\n{"callId":"x","time":"2026-11-27T00:00:00.000Z","costNanoUsd":-5,"decision":"allowed","model":"m"}\n{"callId":"cut","ti`;
    await writeFile(tmp.path("bad.jsonl"), text);
    const { code, stdout, stderr } = await run(["report", tmp.path("bad.jsonl"), "--format", "json"]);
    expect(code).toBe(0);
    expect(stderr).toContain("skipped 2 malformed line(s) of 202");
    expect(stderr).toContain(`${tmp.path("bad.jsonl")}:202: costNanoUsd is not an integer ≥ 0`);
    expect(stderr).toContain(`${tmp.path("bad.jsonl")}:203: not JSON`);
    expect(parseReport(stdout).total.costNanoUsd).toBe(lastLineTotals(good, () => "").total);
  });

  it("says so when --by names a quota key no call has", async () => {
    const { code, stderr, stdout } = await run(["report", log, "--by", "tenat", "--format", "csv"]);
    expect(code).toBe(0);
    expect(stderr).toContain('no call has a quota key named "tenat"');
    expect(stderr).toContain("Quota key names in the log: tenant, user.");
    expect(stdout.split("\r\n")[1]).toMatch(/^\(none\),/);
  });

  it("writes a self-contained HTML report: nothing loaded from the network, exact totals, one series per group", async () => {
    const page = tmp.path("report.html");
    const { code, stderr } = await run(["report", log, "--by", "tenant", "--html", page]);
    expect(code).toBe(0);
    expect(stderr).toContain(`wrote ${page}`);
    const text = await readFile(page, "utf8");
    expect(text).not.toMatch(/https?:\/\//);
    expect(text).not.toMatch(/<(script|img|link|iframe)[^>]+(src|href)=/i);
    const ref = lastLineTotals(entries, (e) => quotaValue(e, "tenant"));
    expect(text).toContain(`data-total-nano="${ref.total}"`);
    expect(text.match(/<g class="series"/g)).toHaveLength(ref.groups.size);
    expect(text).toContain('id="top-models"');
    expect(text).toContain('id="top-tenants"');
  });

  it("escapes what the log says (model names, quota values) in the HTML", async () => {
    const base = entries.find((e) => e.decision === "allowed")!;
    await writeLog(tmp.path("xss.jsonl"), [{ ...base, model: "<script>alert(1)</script>", quotaKeys: ['tenant:"><img src=x onerror=alert(1)>:total'] }]);
    await run(["report", tmp.path("xss.jsonl"), "--by", "tenant,model", "--html", tmp.path("xss.html")]);
    const text = await readFile(tmp.path("xss.html"), "utf8");
    expect(text).not.toContain("<script>alert");
    expect(text).not.toContain("<img");
    expect(text).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
  });

  it("shows progress on a TTY only for large logs", async () => {
    const tty = await run(["report", log], { tty: true });
    expect(tty.stderr).toBe(""); // a small log: no progress line
  });
});

describe("report errors", () => {
  it.each([
    [["report"], 2, "no log file given"],
    [["report", "/nonexistent/usage.jsonl"], 1, "/nonexistent/usage.jsonl: no such file. Pass the path of a JSONL metering log"],
    [["report", "LOG", "--since", "yesterday"], 2, '--since: "yesterday" is not an ISO date or time. Use a date (2026-11-01'],
    [["report", "LOG", "--until", "2026-02-30"], 2, '--until: "2026-02-30" is not a calendar date'],
    [["report", "LOG", "--since", "2026-11-28T10:00:00"], 2, "a time with its zone"],
    [["report", "LOG", "--since", "2026-12-01", "--until", "2026-11-01"], 2, "--since (2026-12-01T00:00:00.000Z) must be before --until"],
    [["report", "LOG", "--format", "xml"], 2, 'report: --format must be table, csv, json; got "xml"'],
    [["report", "LOG", "--by", "tenant:acme"], 2, "name a quota key by its first part"],
    [["report", "LOG", "--bogus"], 2, "Unknown option '--bogus'"],
    [["repot"], 2, 'Unknown command "repot" (did you mean "report"?). Commands: report, price, estimate.'],
  ] as const)("%j → exit %i", async (argv, exit, message) => {
    const { code, stderr, stdout } = await run(argv.map((a) => (a === "LOG" ? log : a)));
    expect(stdout).toBe("");
    expect(code).toBe(exit);
    expect(stderr).toContain(message);
    expect(stderr).toMatch(/^langchain-metered: /);
    if (exit === 2) expect(stderr).toContain("--help` for usage.");
  });

  it("a gz name on a file that isn't gzip", async () => {
    await writeFile(tmp.path("plain.jsonl.gz"), "{}\n");
    const { code, stderr } = await run(["report", tmp.path("plain.jsonl.gz")]);
    expect(code).toBe(1);
    expect(stderr).toContain("not a valid gzip file");
  });

  it("--help, per command and overall", async () => {
    const top = await run(["--help"]);
    expect(top.code).toBe(0);
    expect(top.stdout).toContain("langchain-metered report <usage.jsonl[.gz]>...");
    const report = await run(["report", "--help"]);
    expect(report.stdout).toContain("Per callId only the last line");
    expect((await run([])).code).toBe(2);
  });
});
