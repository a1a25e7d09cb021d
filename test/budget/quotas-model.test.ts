/**
 * Quotas given to a MeteredChatModel (`budget: { quotas, store }`): the per-run budget of every root run
 * adopts them, and the run's metadata (`model.invoke(x, { metadata })`, `agent.invoke(x, { metadata })`)
 * fills their keys, on every call path.
 *
 * Figures: $0.00045 (450,000 nano-USD) a call; the clock reads 2026-11-28T15:00:00Z.
 */
import { HumanMessage } from "@langchain/core/messages";
import { createAgent } from "langchain";
import { describe, expect, it } from "vitest";
import {
  BudgetCallbackHandler,
  BudgetExceededError,
  InMemoryBudgetStore,
  type Quota,
  QuotaKeyError,
  withBudget,
} from "../../src/index.js";
import { CALL_NANO, echoTool, meteredModel, rejectionOf, USAGE, useFakeOpenAI, userMessage } from "./helpers.js";

const server = useFakeOpenAI();

const NOW = Date.parse("2026-11-28T15:00:00Z");
const USER_KEY = "user:u1:day:2026-11-28";
const TENANT_KEY = "tenant:acme:month:2026-11";
const META = { user_id: "u1", tenant_id: "acme" };

function quotas(userUsd = 5, tenantUsd = 500): Quota[] {
  return [
    { key: "user:{user_id}", limitUsd: userUsd, window: "day" },
    { key: "tenant:{tenant_id}", limitUsd: tenantUsd, window: "month" },
  ];
}

async function spentOf(store: InMemoryBudgetStore, key: string): Promise<number> {
  const { states } = await store.check([{ key, limitNano: Number.MAX_SAFE_INTEGER }]);
  return states[0]?.spentNano ?? Number.NaN;
}

function setUp(userUsd = 5, tenantUsd = 500) {
  server().setDefault({ usage: USAGE });
  const store = new InMemoryBudgetStore({ clock: () => NOW });
  const model = meteredModel(server(), { budget: { quotas: quotas(userUsd, tenantUsd), store } });
  return { store, model };
}

describe("MeteredChatModel({ budget: { quotas, store } })", () => {
  it("model.invoke(x, { metadata }) charges the quotas of that metadata", async () => {
    const { store, model } = setUp();

    await model.invoke("one", { metadata: META });
    await model.invoke("two", { metadata: { ...META, user_id: "u2" } });

    expect(await spentOf(store, USER_KEY)).toBe(CALL_NANO);
    expect(await spentOf(store, "user:u2:day:2026-11-28")).toBe(CALL_NANO);
    expect(await spentOf(store, TENANT_KEY)).toBe(2 * CALL_NANO);
  });

  it("the quotas hold across runs: each run has its own $2, the user's day is shared", async () => {
    const { store, model } = setUp(0.001);

    await model.invoke("1", { metadata: META });
    await model.invoke("2", { metadata: META });
    const exceeded = await rejectionOf(model.invoke("3", { metadata: META }));
    const refused = await rejectionOf(model.invoke("4", { metadata: META }));

    expect(BudgetExceededError.isInstance(exceeded)).toBe(true);
    expect(exceeded).toMatchObject({ scope: "user:u1", stop: "exceeded", spentUsd: 0.00135, limitUsd: 0.001 });
    expect(refused).toMatchObject({ scope: "user:u1", stop: "refused", spentUsd: 0.00135, limitUsd: 0.001 });
    expect(server().requests).toHaveLength(3);
    expect(await spentOf(store, USER_KEY)).toBe(3 * CALL_NANO);
  });

  it("a call without the metadata its quotas need is a QuotaKeyError, and nothing is sent", async () => {
    const { model } = setUp();

    const none = await rejectionOf(model.invoke("x"));
    const partial = await rejectionOf(model.invoke("x", { metadata: { user_id: "u1" } }));

    expect(QuotaKeyError.isInstance(none)).toBe(true);
    expect(none).toMatchObject({ field: "user_id" });
    expect(partial).toMatchObject({ field: "tenant_id", template: "tenant:{tenant_id}" });
    expect(server().requests).toHaveLength(0);
  });

  it("stream(), streamEvents() (plain and v2) and batch() read the same metadata", async () => {
    const { store, model } = setUp();

    for await (const _ of await model.stream("s", { metadata: META })) void _;
    for await (const _ of model.streamEvents("e", { metadata: META } as never)) void _; // no version: no callbacks
    for await (const _ of model.streamEvents("v2", { version: "v2", metadata: META })) void _;
    await model.batch(["b1", "b2"], { metadata: META });

    expect(server().requests).toHaveLength(5);
    expect(await spentOf(store, USER_KEY)).toBe(5 * CALL_NANO);
    expect(await spentOf(store, TENANT_KEY)).toBe(5 * CALL_NANO);
  });

  it("a BudgetCallbackHandler passed in the callbacks keeps its own quotas; the model's are not adopted", async () => {
    const { store, model } = setUp(0.0001); // the model's user quota would refuse after one call
    const explicit = new BudgetCallbackHandler({ quotas: [{ key: "team:{team}", limitUsd: 1, window: "total" }], store });

    await model.invoke("1", { callbacks: [explicit], metadata: { team: "red" } });
    await model.invoke("2", { callbacks: [explicit], metadata: { team: "red" } });

    expect(server().requests).toHaveLength(2);
    expect(await spentOf(store, "team:red:total")).toBe(2 * CALL_NANO);
    expect(await spentOf(store, USER_KEY)).toBe(0);
  });
});

describe("createAgent runs", () => {
  it("every model call of the run is charged to the quotas filled from agent.invoke's metadata", async () => {
    const { store, model } = setUp();
    server().script(
      { usage: USAGE, toolCalls: [{ name: "echo", arguments: { x: "a" } }] },
      { usage: USAGE, content: "done" },
    );
    const agent = createAgent({ model, tools: [echoTool] });

    const result = await agent.invoke({ messages: [new HumanMessage("go")] }, { metadata: META });

    expect(result.messages.at(-1)?.text).toBe("done");
    expect(server().requests).toHaveLength(2);
    expect(await spentOf(store, USER_KEY)).toBe(2 * CALL_NANO);
    expect(await spentOf(store, TENANT_KEY)).toBe(2 * CALL_NANO);
  });

  it("a looping agent is stopped by the tenant's month, and the next run is refused before any request", async () => {
    const { store, model } = setUp(5, 0.001);
    server().setDefault({ usage: USAGE, toolCalls: [{ name: "echo", arguments: { x: "again" } }] });
    const agent = createAgent({ model, tools: [echoTool] });

    const exceeded = await rejectionOf(agent.invoke(userMessage("loop"), { metadata: META, recursionLimit: 50 }));
    expect(exceeded).toMatchObject({ scope: "tenant:acme", stop: "exceeded", spentUsd: 0.00135 });
    expect(server().requests).toHaveLength(3);

    const refused = await rejectionOf(agent.invoke(userMessage("again"), { metadata: { ...META, user_id: "u2" } }));
    expect(refused).toMatchObject({ scope: "tenant:acme", stop: "refused" });
    expect(server().requests).toHaveLength(3);
    expect(await spentOf(store, TENANT_KEY)).toBe(3 * CALL_NANO);
  });

  it("an agent run without the metadata is refused with QuotaKeyError before its first request", async () => {
    const { model } = setUp();
    const agent = createAgent({ model, tools: [echoTool] });

    const error = await rejectionOf(agent.invoke(userMessage("hi"), { metadata: { tenant_id: "acme" } }));

    expect(QuotaKeyError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ field: "user_id" });
    expect(server().requests).toHaveLength(0);
  });

  it("withBudget(agent.graph, { quotas, store }) gives every invocation a budget with those quotas", async () => {
    server().setDefault({ usage: USAGE, content: "ok" });
    const store = new InMemoryBudgetStore({ clock: () => NOW });
    // createAgent's ReactAgent is not typed as a Runnable; its compiled graph is.
    const agent = withBudget(createAgent({ model: meteredModel(server()), tools: [echoTool] }).graph, { quotas: quotas(0.0005), store });

    await agent.invoke(userMessage("1"), { metadata: META }); // $0.00045 of the user's $0.0005
    const exceeded = await rejectionOf(agent.invoke(userMessage("2"), { metadata: META }));

    expect(exceeded).toMatchObject({ scope: "user:u1", stop: "exceeded", spentUsd: 0.0009, limitUsd: 0.0005 });
    expect(await spentOf(store, USER_KEY)).toBe(2 * CALL_NANO);
  });
});
