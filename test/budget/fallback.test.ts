/**
 * The fallback scope: where no per-run budget reaches a call (simulated here with
 * LANGCHAIN_METERED_RUN_BUDGET=false), a model never runs unbudgeted: its limit covers all its calls
 * together, shared with its bindTools copies, and it warns once.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { BudgetCallbackHandler, BudgetExceededError, RUN_BUDGET_ENV } from "../../src/index.js";
import { costOf, echoTool, meteredModel, rejectionOf, USAGE, useFakeOpenAI } from "./helpers.js";

const server = useFakeOpenAI();

let saved: string | undefined;
beforeEach(() => {
  saved = process.env[RUN_BUDGET_ENV];
  process.env[RUN_BUDGET_ENV] = "false";
});
afterEach(() => {
  if (saved === undefined) delete process.env[RUN_BUDGET_ENV];
  else process.env[RUN_BUDGET_ENV] = saved;
  vi.restoreAllMocks();
});

describe("without a per-run budget", () => {
  it("names the environment variable that turns the per-run budget off", () => {
    expect(RUN_BUDGET_ENV).toBe("LANGCHAIN_METERED_RUN_BUDGET");
  });

  it("enforces the model's limit across its separate calls, shared with its bindTools copy, warning once", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    server().setDefault({ usage: USAGE });
    const model = meteredModel(server(), { budget: { limitUsd: 0.001 } });
    const withTools = model.bindTools([echoTool]);

    await model.invoke("1"); // $0.00045
    await withTools.invoke("2"); // $0.0009: the copy spends from the same budget
    const crossing = await rejectionOf(model.invoke("3")); // $0.00135
    const sent = server().requests.length;
    const refused = await rejectionOf(withTools.invoke("4"));

    expect(BudgetExceededError.isInstance(crossing)).toBe(true);
    expect(crossing).toMatchObject({ stop: "exceeded", scope: "model", spentUsd: 0.00135, limitUsd: 0.001 });
    expect(refused).toMatchObject({ name: "BudgetExceededError", stop: "refused", scope: "model" });
    expect(server().requests.length).toBe(sent);
    expect(sent).toBe(3);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]?.[0])).toContain("$0.001");
  });

  it("keeps each model's fallback budget separate", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    server().setDefault({ usage: USAGE });
    const first = meteredModel(server(), { budget: { limitUsd: 0.0005 } });
    const second = meteredModel(server(), { budget: { limitUsd: 0.0005 } });

    await first.invoke("1");
    await second.invoke("1"); // not refused, though `first` has spent $0.00045 of its own $0.0005
    expect(server().requests).toHaveLength(2);
    await expect(first.invoke("2")).rejects.toMatchObject({ stop: "exceeded", spentUsd: 0.0009 });
  });

  it("still uses an explicit handler in the call's callbacks, without warning", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    server().setDefault({ usage: USAGE });
    const model = meteredModel(server(), { budget: { limitUsd: 1 } });
    const budget = new BudgetCallbackHandler({ limitUsd: 0.0005 });

    await model.invoke("1", { callbacks: [budget] });
    await expect(model.invoke("2", { callbacks: [budget] })).rejects.toMatchObject({ scope: "run", stop: "exceeded" });
    expect(budget.records).toHaveLength(2);
    expect(warn).not.toHaveBeenCalled();
  });

  it("meters without a limit, and without warning, when the model has `budget: false`", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    server().setDefault({ usage: { promptTokens: 1_000_000, completionTokens: 1_000_000 } }); // $0.75 a call
    const model = meteredModel(server(), { budget: false });
    for (let i = 0; i < 4; i++) expect(costOf(await model.invoke(`${i}`))?.totalUsd).toBe(0.75);
    expect(warn).not.toHaveBeenCalled();
  });
});
