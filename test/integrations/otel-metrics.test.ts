/**
 * OpenTelemetry metrics, read with the SDK's own metric reader: once the app registers a global meter
 * provider, every ended call records the GenAI conventions' token histogram and our cost counter, and budget
 * decisions count; their sums over a mixed run equal the run's records exactly. Without a provider, nothing.
 */
import { metrics } from "@opentelemetry/api";
import { MeterProvider, MetricReader, type ResourceMetrics } from "@opentelemetry/sdk-metrics";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BudgetCallbackHandler, BudgetExceededError, configureMetrics, type CostRecord, meter } from "../../src/index.js";
import { collect, useFakeOpenAI } from "../support/metered.js";
import { anthropicModel, useFakeAnthropic } from "../support/providers.js";

class TestReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

type Point = { attributes: Record<string, unknown>; value: number | { sum?: number; count: number } };

const fake = useFakeOpenAI();
const anthropic = useFakeAnthropic();
let reader: TestReader;

beforeEach(() => {
  reader = new TestReader();
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
});
afterEach(() => {
  metrics.disable();
  configureMetrics({});
});

async function points(name: string): Promise<Point[]> {
  const { resourceMetrics } = (await reader.collect()) as { resourceMetrics: ResourceMetrics };
  const found = resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics).find((metric) => metric.descriptor.name === name);
  return (found?.dataPoints ?? []) as Point[];
}
const sumOf = (list: Point[], filter: (attributes: Record<string, unknown>) => boolean = () => true) =>
  list.filter((p) => filter(p.attributes)).reduce((total, p) => total + (typeof p.value === "number" ? p.value : (p.value.sum ?? 0)), 0);

describe("with a meter provider registered", () => {
  it("a mixed run: token and cost sums equal the run's records, attributes as the GenAI conventions name them", async () => {
    const records: CostRecord[] = [];
    const onCost = (record: CostRecord) => records.push(record);
    fake.server.script(
      { usage: { promptTokens: 1000, completionTokens: 200, cachedTokens: 200 } },
      { usage: { promptTokens: 333, completionTokens: 77 } },
      { usage: { promptTokens: 4242, completionTokens: 900, reasoningTokens: 600 } },
    );
    await fake.model({ model: "gpt-4o-mini", onCost }).invoke("one");
    await collect(await fake.model({ model: "gpt-4o-mini", onCost }).stream("two"));
    await fake.model({ model: "o3-mini", onCost }).invoke("three");
    anthropic().script({ usage: { input: 1500, output: 300, cacheRead: 500 } });
    await meter(anthropicModel(anthropic()), { onCost }).invoke("four");
    expect(records).toHaveLength(4);

    const tokens = await points("gen_ai.client.token.usage");
    const input = (a: Record<string, unknown>) => a["gen_ai.token.type"] === "input";
    const output = (a: Record<string, unknown>) => a["gen_ai.token.type"] === "output";
    expect(sumOf(tokens, input)).toBe(records.reduce((t, r) => t + r.usage.inputTokens, 0));
    expect(sumOf(tokens, output)).toBe(records.reduce((t, r) => t + r.usage.outputTokens, 0));
    const costs = await points("langchain_metered.client.cost");
    expect(Math.round(sumOf(costs) * 1e9)).toBe(records.reduce((t, r) => t + r.cost.nanoUsd, 0));

    const anthropicPoint = costs.find((p) => p.attributes["gen_ai.provider.name"] === "anthropic");
    expect(anthropicPoint?.attributes).toEqual({
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "anthropic",
      "gen_ai.request.model": "claude-sonnet-4-5",
      "gen_ai.response.model": records[3]?.cost.model,
    });
    expect(Math.round(sumOf([anthropicPoint as Point]) * 1e9)).toBe(records[3]?.cost.nanoUsd);
  });

  it("counts budget decisions: a clamp under a hard cap, then a refusal", async () => {
    fake.server.setDefault({ usage: { promptTokens: 8, completionTokens: 89 } });
    const budget = new BudgetCallbackHandler({ limitUsd: 0.001, hardCap: true });
    const model = fake.model({ model: "gpt-4o" });
    await model.invoke("Hello", { callbacks: [budget] }); // clamped to what $0.001 pays for
    await expect(model.invoke("Hello", { callbacks: [budget] })).rejects.toThrow(BudgetExceededError);
    const decisions = await points("langchain_metered.budget.decisions");
    const count = (decision: string) => sumOf(decisions, (a) => a["langchain_metered.decision"] === decision);
    expect(count("clamped")).toBe(1);
    expect(count("refused")).toBe(1);
  });

  it("adds opted-in metadata keys as attributes, and no others", async () => {
    configureMetrics({ metadataAttributes: ["tenant"] });
    fake.server.script({ usage: { promptTokens: 10, completionTokens: 5 } });
    await fake.model({ model: "gpt-4o-mini" }).invoke("hi", { metadata: { tenant: "acme", user: "u-123" } });
    const [point] = await points("langchain_metered.client.cost");
    expect(point?.attributes["langchain_metered.metadata.tenant"]).toBe("acme");
    expect(Object.keys(point?.attributes ?? {}).some((key) => key.includes("user"))).toBe(false);
  });
});

describe("without a meter provider", () => {
  it("records nothing (not even into a provider unregistered since), and calls are unaffected", async () => {
    fake.server.script({ usage: { promptTokens: 10, completionTokens: 5 } }, { usage: { promptTokens: 10, completionTokens: 5 } });
    const first = await fake.model({ model: "gpt-4o-mini" }).invoke("hi"); // the provider's instruments are made
    metrics.disable();
    const second = await fake.model({ model: "gpt-4o-mini" }).invoke("hi");
    expect(second.response_metadata.cost).toBeDefined();
    // The counter is cumulative: it holds the first call only.
    expect(Math.round(sumOf(await points("langchain_metered.client.cost")) * 1e9)).toBe((first.response_metadata.cost as { nanoUsd: number }).nanoUsd);
  });
});
