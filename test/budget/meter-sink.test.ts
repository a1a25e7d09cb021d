/**
 * The metering log: `JsonlMeterSink` writes one JSON line per priced call (never a refused one), with the
 * call's quota keys, usage and cost, and no prompt or answer unless asked; never the API key. A sink that
 * fails never fails the call: it warns once and the budget counts what it dropped.
 *
 * Figures: $0.00045 = 450,000 nano-USD a call; the store's clock reads 2026-11-28T15:00:00Z.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RunnableLambda } from "@langchain/core/runnables";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import {
  BudgetCallbackHandler,
  GENAI_PRICES_VERSION,
  InMemoryBudgetStore,
  type MeterEntry,
  type MeterSink,
  type Quota,
} from "../../src/index.js";
import { JsonlMeterSink } from "../../src/integrations/jsonl.js";
import { CALL_NANO, meteredModel, plainModel, rejectionOf, USAGE, useFakeOpenAI } from "./helpers.js";

const server = useFakeOpenAI();
const dir = mkdtempSync(join(tmpdir(), "lcm-meter-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

const API_KEY = "sk-test-DO-NOT-LOG-0123456789abcdef";
const PROMPT = "What is the secret recipe of the house sauce?";
const ANSWER = "Tomatoes, patience and a pinch of salt.";
const NOW = Date.parse("2026-11-28T15:00:00Z");
const QUOTAS: Quota[] = [
  { key: "user:{user_id}", limitUsd: 5, window: "day" },
  { key: "tenant:{tenant_id}", limitUsd: 500, window: "month" },
];
const META = { user_id: "u1", tenant_id: "acme" };

let files = 0;
const logPath = () => join(dir, `usage-${++files}.jsonl`);
const linesOf = (path: string): MeterEntry[] =>
  readFileSync(path, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as MeterEntry);

describe("JsonlMeterSink", () => {
  it("one line per priced call, with exactly the documented fields (parentRunId only for a nested call)", async () => {
    server().setDefault({ usage: USAGE, content: ANSWER });
    const path = logPath();
    const meter = new JsonlMeterSink(path);
    const budget = new BudgetCallbackHandler({ quotas: QUOTAS, store: new InMemoryBudgetStore({ clock: () => NOW }), meter });
    const model = meteredModel(server(), { apiKey: API_KEY });

    const before = Date.now();
    await model.invoke(PROMPT, { callbacks: [budget], metadata: META });
    await model.invoke(PROMPT, { callbacks: [budget], metadata: META });
    await meter.flush();

    const lines = linesOf(path);
    expect(lines).toHaveLength(2);
    const [first] = lines;
    expect(Object.keys(first ?? {}).sort()).toEqual(
      ["callId", "costNanoUsd", "costUsd", "decision", "estimated", "model", "priceSource", "provider", "quotaKeys", "runId", "time", "usage"].sort(),
    );
    expect(first).toMatchObject({
      quotaKeys: ["user:u1:day:2026-11-28", "tenant:acme:month:2026-11"],
      provider: "openai",
      model: "gpt-4o-mini",
      usage: { inputTokens: 1000, outputTokens: 500 },
      costUsd: 0.00045,
      costNanoUsd: CALL_NANO,
      priceSource: `genai-prices@${GENAI_PRICES_VERSION}`,
      estimated: false,
      decision: "allowed",
    });
    expect(first?.runId).toBe(budget.records[0]?.runId);
    expect(lines[1]?.runId).toBe(budget.records[1]?.runId);
    expect(Date.parse(first?.time ?? "")).toBeGreaterThanOrEqual(before - 1);
    expect(first?.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    const raw = readFileSync(path, "utf8");
    expect(raw).not.toContain(API_KEY);
    expect(raw).not.toContain("DO-NOT-LOG");
    expect(raw).not.toContain("secret recipe");
    expect(raw).not.toContain("Tomatoes");
  });

  it("includeContent: true adds the prompt and the answer, still never the API key", async () => {
    server().setDefault({ usage: USAGE, content: ANSWER });
    const path = logPath();
    const meter = new JsonlMeterSink(path, { includeContent: true });
    const budget = new BudgetCallbackHandler({ meter });

    await meteredModel(server(), { apiKey: API_KEY }).invoke(PROMPT, { callbacks: [budget] });
    await plainModel(server()).invoke(PROMPT, { callbacks: [budget] });
    for await (const _ of await meteredModel(server(), { apiKey: API_KEY }).stream(PROMPT, { callbacks: [budget] })) void _;
    await meter.flush();

    const lines = linesOf(path);
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(line.content).toEqual({ input: PROMPT, output: ANSWER });
    expect(lines.map((l) => l.quotaKeys)).toEqual([[], [], []]);
    expect(readFileSync(path, "utf8")).not.toContain(API_KEY);
  });

  it("a call inside a chain carries its parentRunId", async () => {
    server().setDefault({ usage: USAGE });
    const path = logPath();
    const meter = new JsonlMeterSink(path);
    const budget = new BudgetCallbackHandler({ meter });
    const chain = RunnableLambda.from((input: string) => input).pipe(meteredModel(server()));

    await chain.invoke("hi", { callbacks: [budget] });
    await meter.flush();

    const [line] = linesOf(path);
    expect(typeof line?.parentRunId).toBe("string");
    expect(line?.parentRunId).toBe(budget.records[0]?.parentRunId);
    expect(line?.runId).not.toBe(line?.parentRunId);
  });

  it("a streamed call is one line too, priced from its usage chunk", async () => {
    server().setDefault({ usage: USAGE, content: ANSWER });
    const path = logPath();
    const meter = new JsonlMeterSink(path);
    const model = meteredModel(server(), { budget: { meter } });

    for await (const _ of await model.stream(PROMPT)) void _;
    await meter.flush();

    expect(linesOf(path)).toMatchObject([{ costNanoUsd: CALL_NANO, decision: "allowed", estimated: false, quotaKeys: [] }]);
  });

  it("logs the call that crosses (decision exceeded), never a refused one", async () => {
    server().setDefault({ usage: USAGE });
    const path = logPath();
    const meter = new JsonlMeterSink(path);
    const budget = new BudgetCallbackHandler({ limitUsd: 0.0004, meter });
    const model = meteredModel(server());

    await rejectionOf(model.invoke("crosses", { callbacks: [budget] }));
    await rejectionOf(model.invoke("refused", { callbacks: [budget] }));
    await meter.flush();

    expect(linesOf(path).map((l) => [l.decision, l.costNanoUsd])).toEqual([["exceeded", CALL_NANO]]);
    expect(server().requests).toHaveLength(1);
  });

  it("under a hard cap, records a clamped call as clamped", async () => {
    server().setDefault((request) => ({ usage: { promptTokens: 10, completionTokens: Math.min(500, request.body.max_tokens ?? 500) } }));
    const path = logPath();
    const meter = new JsonlMeterSink(path);
    const model = meteredModel(server(), { maxTokens: 500, budget: { limitUsd: 0.0001, hardCap: true, meter } });

    await model.invoke("hi");
    await meter.flush();

    const [line] = linesOf(path);
    expect(line?.decision).toBe("clamped");
    expect(line?.costNanoUsd).toBeLessThanOrEqual(100_000);
  });
});

describe("a failing sink", () => {
  it("that throws never fails the call: it warns once, and meterDropped counts every lost entry", async () => {
    server().setDefault({ usage: USAGE, content: ANSWER });
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const sink: MeterSink = {
      write() {
        throw new Error("disk full");
      },
    };
    const budget = new BudgetCallbackHandler({ meter: sink });
    const model = meteredModel(server());

    const replies = [];
    for (const n of [1, 2, 3]) replies.push(await model.invoke(`${n}`, { callbacks: [budget] }));
    await vi.waitFor(() => expect(budget.meterDropped).toBe(3));

    expect(replies.map((r) => r.text)).toEqual([ANSWER, ANSWER, ANSWER]);
    expect(budget.spentUsd).toBe(0.00135);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]?.[0])).toContain("the metering sink failed");
  });

  it("that rejects (an unwritable JSONL path) is counted the same way", async () => {
    server().setDefault({ usage: USAGE });
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const meter = new JsonlMeterSink(join(dir, "no-such-dir", "usage.jsonl"));
    const budget = new BudgetCallbackHandler({ meter });

    await meteredModel(server()).invoke("1", { callbacks: [budget] });
    await meteredModel(server()).invoke("2", { callbacks: [budget] });
    await meter.flush();
    await vi.waitFor(() => expect(budget.meterDropped).toBe(2));

    expect(warn).toHaveBeenCalledTimes(1);
    expect(budget.records).toHaveLength(2);
  });

  it("given to a model's per-run budget, warns once across runs", async () => {
    server().setDefault({ usage: USAGE });
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const sink: MeterSink = { write: () => Promise.reject(new Error("network sink down")) };
    const model = meteredModel(server(), { budget: { meter: sink } });

    for (const n of [1, 2, 3]) await model.invoke(`${n}`);
    await new Promise((resolve) => setTimeout(resolve, 20));

    expect(server().requests).toHaveLength(3);
    expect(warn).toHaveBeenCalledTimes(1);
  });
});
