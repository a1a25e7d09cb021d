/**
 * Options that would be silently wrong are errors at construction, naming the path, what was expected and
 * the key most likely meant: a misplaced or misspelt budget option used to leave the model at the $2
 * default (or, for `onStoreError: "Deny"`, fail open).
 */
import { describe, expect, it } from "vitest";
import { BudgetCallbackHandler, InvalidOptionsError, MeteredChatModel } from "../../src/index.js";

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
