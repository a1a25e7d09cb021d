/**
 * Alerts: `onThreshold` fires once per scope and window as spend reaches each share of a limit (the run's
 * budget once per run; a quota once per window and key, once across a fleet on one Redis), and `onEvent`
 * announces refusals, clamps, downgrades and crossings with their figures. A failing callback fails no call.
 *
 * gpt-4o-mini, 1000 in / 500 out: $0.00015 + $0.0003 = $0.00045 per call.
 */
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it, vi } from "vitest";
import { type BudgetEvent, BudgetCallbackHandler, InMemoryBudgetStore, type ThresholdAlert } from "../../src/index.js";
import { useFakeOpenAI } from "../support/metered.js";
import { describeRedis, redisUrl, uniqueId } from "../support/redis.js";

const fake = useFakeOpenAI();
const USAGE = { promptTokens: 1000, completionTokens: 500 };
const plain = () => fake.model({ model: "gpt-4o-mini", budget: false });

describe("onThreshold", () => {
  it("the run's budget: 80 % then 100 %, each once, with the figures", async () => {
    const alerts: ThresholdAlert[] = [];
    const budget = new BudgetCallbackHandler({ limitUsd: 0.001, onThreshold: (alert) => void alerts.push(alert) });
    fake.server.setDefault({ usage: USAGE });
    await plain().invoke("1", { callbacks: [budget] }); // $0.00045: 45 %
    expect(alerts).toEqual([]);
    await plain().invoke("2", { callbacks: [budget] }); // $0.0009: 90 %
    await plain().invoke("3", { callbacks: [budget] }).catch(() => {}); // $0.00135: over
    expect(alerts).toEqual([
      { scope: "run", threshold: 0.8, spentUsd: 0.0009, limitUsd: 0.001 },
      { scope: "run", threshold: 1, spentUsd: 0.00135, limitUsd: 0.001 },
    ]);
  });

  it("a quota: once per window and key, across runs; again in the next window; custom thresholds", async () => {
    let now = Date.parse("2026-12-01T10:00:00Z");
    const store = new InMemoryBudgetStore({ clock: () => now });
    const alerts: ThresholdAlert[] = [];
    const options = {
      quotas: [{ key: "tenant:{tenant}", limitUsd: 0.002, window: "day" as const }],
      store,
      limitUsd: 100,
      thresholds: [0.5],
      onThreshold: (alert: ThresholdAlert) => void alerts.push(alert),
    };
    fake.server.setDefault({ usage: USAGE });
    const metadata = { tenant: "acme" };
    // Four runs (a handler each), one call each: the quota reaches 50 % ($0.001) on the third call.
    for (let run = 0; run < 4; run++) await plain().invoke("hi", { callbacks: [new BudgetCallbackHandler(options)], metadata });
    expect(alerts).toEqual([{ scope: "tenant:acme", window: "day:2026-12-01", threshold: 0.5, spentUsd: 0.00135, limitUsd: 0.002 }]);
    now = Date.parse("2026-12-02T10:00:00Z");
    for (let run = 0; run < 3; run++) await plain().invoke("hi", { callbacks: [new BudgetCallbackHandler(options)], metadata });
    expect(alerts.map((a) => a.window)).toEqual(["day:2026-12-01", "day:2026-12-02"]);
  });

  it("a callback that throws or rejects fails no call (one warning)", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      fake.server.setDefault({ usage: USAGE });
      const throwing = new BudgetCallbackHandler({ limitUsd: 0.0005, thresholds: [0.5], onThreshold: () => { throw new Error("pager down"); } });
      await expect(plain().invoke("1", { callbacks: [throwing] })).resolves.toBeDefined();
      const rejecting = new BudgetCallbackHandler({ limitUsd: 0.0005, thresholds: [0.5], onEvent: async () => { throw new Error("queue down"); } });
      await plain().invoke("1", { callbacks: [rejecting] }).catch(() => {}); // $0.00045 of $0.0005
      await plain().invoke("2", { callbacks: [rejecting] }).catch(() => {}); // crosses: "exceeded"
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(warn.mock.calls.filter(([text]) => String(text).includes("an alert callback")).length).toBe(1);
    } finally {
      warn.mockRestore();
    }
  });

  it("options are validated", () => {
    expect(() => new BudgetCallbackHandler({ thresholds: [0] })).toThrow(/thresholds\[0\]/);
    expect(() => new BudgetCallbackHandler({ onThreshold: "page me" as never })).toThrow(/onThreshold: Expected a function/);
  });
});

describe("onEvent", () => {
  it("refusals, clamps, crossings and downgrades, with their figures", async () => {
    const events: BudgetEvent[] = [];
    const onEvent = (event: BudgetEvent) => void events.push(event);
    fake.server.setDefault({ usage: { promptTokens: 8, completionTokens: 89 } });
    // gpt-4o under a $0.001 hard cap: clamped to 89 tokens ($0.00091), then refused.
    const capped = new BudgetCallbackHandler({ limitUsd: 0.001, hardCap: true, onEvent });
    const gpt4o = fake.model({ model: "gpt-4o", budget: false });
    await gpt4o.invoke("Hello", { callbacks: [capped] });
    await gpt4o.invoke("Hello", { callbacks: [capped] }).catch(() => {});
    expect(events).toEqual([
      { type: "clamped", scope: "run", model: "gpt-4o", costUsd: 0.00091, spentUsd: 0.00091, limitUsd: 0.001, maxTokens: 89 },
      { type: "refused", scope: "run", model: "gpt-4o", costUsd: 0, spentUsd: 0.00091, limitUsd: 0.001 },
    ]);

    events.length = 0;
    fake.server.setDefault({ usage: USAGE });
    const budget = new BudgetCallbackHandler({ limitUsd: 0.0006, onEvent });
    await plain().invoke("1", { callbacks: [budget] });
    await plain().invoke("2", { callbacks: [budget] }).catch(() => {});
    expect(events).toEqual([{ type: "exceeded", scope: "run", model: "gpt-4o-mini", costUsd: 0.00045, spentUsd: 0.0009, limitUsd: 0.0006 }]);

    events.length = 0;
    const model = fake.model({ model: "gpt-4o", budget: { limitUsd: 0.01, onEvent, downgrade: { atFraction: 0.1, to: "gpt-4o-mini" } } });
    fake.server.setDefault({ usage: USAGE });
    const run = new BudgetCallbackHandler({ limitUsd: 0.01, onEvent });
    await model.invoke("1", { callbacks: [run] }); // gpt-4o: $0.0075 of $0.01 past 10 %
    await model.invoke("2", { callbacks: [run] });
    expect(events).toContainEqual(expect.objectContaining({ type: "downgraded", model: "gpt-4o-mini", downgradedFrom: "gpt-4o" }));
  });
});

describeRedis("onThreshold across a fleet on one Redis", () => {
  const WORKER = fileURLToPath(new URL("../integrations/alert-worker.ts", import.meta.url));
  const children = new Set<ChildProcess>();
  afterAll(() => {
    for (const child of children) child.kill();
  });

  it("two worker processes spending one tenant's quota fire each threshold exactly once between them", async () => {
    const config = { redisUrl, openaiUrl: fake.server.url, prefix: `${uniqueId("alerts")}:`, tenant: uniqueId("acme"), calls: 4, limitUsd: 0.002 };
    fake.server.setDefault({ usage: USAGE });
    const workers = [0, 1].map(() => {
      const child = fork(WORKER, [JSON.stringify(config)], { execArgv: ["--import", "tsx"], stdio: ["ignore", "ignore", "inherit", "ipc"] });
      children.add(child);
      const ready = new Promise<void>((resolve) => child.on("message", (m: { type?: string }) => m?.type === "ready" && resolve()));
      const done = new Promise<ThresholdAlert[]>((resolve) => child.on("message", (m: { type?: string; alerts?: ThresholdAlert[] }) => m?.type === "done" && resolve(m.alerts ?? [])));
      return { child, ready, done };
    });
    await Promise.all(workers.map((w) => w.ready));
    for (const w of workers) w.child.send("go");
    const alerts = (await Promise.all(workers.map((w) => w.done))).flat();
    // Eight calls of $0.00045 against $0.002: 80 % ($0.0016) and 100 % are reached; each fires once, in one worker.
    expect(alerts.map((a) => a.threshold).sort()).toEqual([0.8, 1]);
    expect(new Set(alerts.map((a) => a.scope))).toEqual(new Set([`tenant:${config.tenant}`]));
  }, 30_000);
});
