/**
 * Options that would be silently wrong are errors at construction, naming the path, what was expected and
 * the key most likely meant: a misplaced or misspelt budget option used to leave the model at the $2
 * default (or, for `onStoreError: "Deny"`, fail open).
 */
import { RunnableLambda } from "@langchain/core/runnables";
import { ChatOpenAI } from "@langchain/openai";
import { describe, expect, it } from "vitest";
import { storeGuard } from "../../src/budget/store-guard.js";
import { BudgetCallbackHandler, InMemoryBudgetStore, InvalidOptionsError, MeteredChatModel, meter, withBudget } from "../../src/index.js";
import { budgetMiddleware } from "../../src/scope/budget-middleware.js";
import { JsonlMeterSink } from "../../src/integrations/jsonl.js";
import { RedisBudgetStore } from "../../src/integrations/redis.js";

const model = (fields: Record<string, unknown>) => () => new MeteredChatModel({ model: "gpt-4o-mini", apiKey: "test", ...fields } as never);

describe("MeteredChatModel", () => {
  it.each([
    ["a budget option at the top level", { quotas: [] }, "quotas: a budget option at the model's top level: move it into `budget: { quotas }`"],
    ["hardCap at the top level", { hardCap: true }, "hardCap: a budget option at the model's top level"],
    ["a misspelt budget", { budjet: { limitUsd: 1 } }, "budjet: not an option of ours or ChatOpenAI's; did you mean `budget`?"],
    ["limitUSD", { budget: { limitUSD: 1 } }, 'budget: Unrecognized key: "limitUSD"; did you mean `limitUsd`?'],
    ["hardcap", { budget: { hardcap: true } }, 'budget: Unrecognized key: "hardcap"; did you mean `hardCap`?'],
    ["budget: true", { budget: true }, "budget: Expected an object of budget options (e.g. { limitUsd: 2 }) or false, got true (boolean)"],
    ["budget: 5", { budget: 5 }, "budget: Expected an object of budget options (e.g. { limitUsd: 2 }) or false, got 5 (number)"],
    ['hardCap: "false"', { budget: { hardCap: "false" } }, "budget.hardCap: Invalid input: expected boolean, received string"],
    ['onStoreError: "Deny"', { budget: { onStoreError: "Deny" } }, 'budget.onStoreError: Invalid option: expected one of "deny"|"allow"'],
    ["reservationTtlMs: 0", { budget: { reservationTtlMs: 0 } }, "budget.reservationTtlMs: Must be at least 1000 ms"],
    ["reservationTtlMs: -1", { budget: { reservationTtlMs: -1 } }, "budget.reservationTtlMs: Must be at least 1000 ms"],
    ["a file name as meter", { budget: { meter: "usage.jsonl" } }, 'budget.meter: Expected a MeterSink (an object with write(entry)), got "usage.jsonl" (string); for a JSON Lines file use new JsonlMeterSink("usage.jsonl")'],
    ["a store that isn't one", { budget: { store: {} } }, "budget.store: Expected a BudgetStore (check, reserve, settle, release, now), got an object"],
    ["costSource", { costSource: "theirs" }, 'costSource: Expected "ours" or "reported", got "theirs" (string)'],
  ])("%s", (_name, fields, problem) => {
    const construct = model(fields);
    expect(construct).toThrow(InvalidOptionsError);
    expect(construct).toThrow(problem);
  });

  it("a hold must outlive the model's request timeout", () => {
    const quotas = [{ key: "t:{id}", limitUsd: 1, window: "day" as const }];
    expect(model({ timeout: 120_000, budget: { hardCap: true, quotas, reservationTtlMs: 60_000 } })).toThrow(
      /budget\.reservationTtlMs: 60000 ms is not longer than the model.s timeout \(120000 ms\)/,
    );
    expect(model({ timeout: 30_000, budget: { hardCap: true, quotas, reservationTtlMs: 60_000 } })).not.toThrow();
  });

  it("ChatOpenAI's own fields pass", () => {
    expect(model({ temperature: 0, maxTokens: 100, streaming: true, useResponsesApi: true, timeout: 1000, budget: { limitUsd: 1 } })).not.toThrow();
  });
});

describe("BudgetCallbackHandler", () => {
  it.each([
    ["limitUSD", { limitUSD: 1 }, 'Unrecognized key: "limitUSD"; did you mean `limitUsd`?'],
    ["a negative limit", { limitUsd: -1 }, "limitUsd: Too small: expected number to be >=0"],
    ["NaN", { limitUsd: Number.NaN }, "limitUsd: Invalid input: expected number, received NaN"],
  ])("%s", (_name, options, problem) => {
    expect(() => new BudgetCallbackHandler(options as never)).toThrow(problem);
  });
});

describe("every other entry point: one strict schema each, errors naming the entry and the path", () => {
  const plain = new ChatOpenAI({ model: "gpt-4o-mini", apiKey: "test" });
  it.each([
    ["meter(): a budget option at the top level", () => meter(plain, { quotas: [] } as never), "Invalid options for meter()", "quotas: a budget option at the model's top level: move it into `budget: { quotas }`"],
    ["meter(): a misspelt budget", () => meter(plain, { budjet: {} } as never), "Invalid options for meter()", "did you mean `budget`?"],
    ['meter(): hardCap: "false"', () => meter(plain, { budget: { hardCap: "false" } } as never), "Invalid options for meter()", "budget.hardCap: Invalid input: expected boolean"],
    ["withBudget(): limitUSD", () => withBudget(RunnableLambda.from(() => 1), { limitUSD: 1 } as never), "Invalid options for withBudget()", "did you mean `limitUsd`?"],
    ['budgetMiddleware(): onStoreError: "Deny"', () => budgetMiddleware({ onStoreError: "Deny" } as never), "Invalid options for budgetMiddleware", 'onStoreError: Invalid option: expected one of "deny"|"allow"'],
    ["InMemoryBudgetStore: maxRememberedCalls: 0", () => new InMemoryBudgetStore({ maxRememberedCalls: 0 }), "Invalid options for InMemoryBudgetStore", "maxRememberedCalls: Expected a whole number ≥ 1, got 0 (number)"],
    ["InMemoryBudgetStore: a misspelt key", () => new InMemoryBudgetStore({ maxRememberedCall: 10 } as never), "Invalid options for InMemoryBudgetStore", "did you mean `maxRememberedCalls`?"],
    ["RedisBudgetStore: uri for url", () => new RedisBudgetStore({ uri: "redis://cache:6379" } as never), "Invalid options for RedisBudgetStore", 'Unrecognized key: "uri"; did you mean `url`?'],
    ["RedisBudgetStore: timeoutMs: -1", () => new RedisBudgetStore({ timeoutMs: -1 }), "Invalid options for RedisBudgetStore", "timeoutMs: Expected a whole number ≥ 1, got -1 (number)"],
    ["RedisBudgetStore: a client that isn't one", () => new RedisBudgetStore({ client: "redis://cache" as never }), "Invalid options for RedisBudgetStore", "client: Expected an ioredis client (new Redis(…) or new Cluster(…)); to connect by address, give `url` or `cluster` instead"],
    ["JsonlMeterSink: includeContents", () => new JsonlMeterSink("usage.jsonl", { includeContents: true } as never), "Invalid options for JsonlMeterSink", "did you mean `includeContent`?"],
    ['JsonlMeterSink: includeContent: "yes"', () => new JsonlMeterSink("usage.jsonl", { includeContent: "yes" } as never), "Invalid options for JsonlMeterSink", "includeContent: Invalid input: expected boolean, received string"],
    ["storeGuard(): probeIntervalMs: 0", () => storeGuard(new InMemoryBudgetStore(), { probeIntervalMs: 0 }), "Invalid options for storeGuard()", "probeIntervalMs: Too small"],
  ])("%s", (_name, construct, entry, problem) => {
    expect(construct).toThrow(InvalidOptionsError);
    expect(construct).toThrow(entry);
    expect(construct).toThrow(problem);
  });
});
