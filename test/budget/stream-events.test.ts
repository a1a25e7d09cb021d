/**
 * `model.streamEvents()` in its default form (no `version`): LangChain runs it without callbacks or a run
 * manager, so each such call is its own scope with the model's limit. It must still be metered and
 * stopped.
 */
import { describe, expect, it } from "vitest";
import { BudgetCallbackHandler, BudgetExceededError } from "../../src/index.js";
import { CALL_NANO, costOf, meteredModel, rejectionOf, USAGE, useFakeOpenAI } from "./helpers.js";

const server = useFakeOpenAI();

describe("default streamEvents()", () => {
  it("resolves to the message, carrying its cost", async () => {
    server().setDefault({ usage: USAGE });
    const model = meteredModel(server(), { budget: { limitUsd: 0.001 } });

    const message = await model.streamEvents("hi");

    expect(message.text).toBe("Hello from the fake server.");
    expect(costOf(message)).toMatchObject({ nanoUsd: CALL_NANO, totalUsd: 0.00045, estimated: false });
    expect(server().requests).toHaveLength(1);
    expect(server().requests[0]?.stream).toBe(true);
  });

  it("yields events whose finish carries the cost", async () => {
    server().setDefault({ usage: USAGE });
    const events: string[] = [];
    let finishCost: unknown;
    for await (const event of meteredModel(server()).streamEvents("hi")) {
      events.push(event.event);
      if (event.event === "message-finish") finishCost = event.responseMetadata?.cost;
    }
    expect(events.at(-1)).toBe("message-finish");
    expect(finishCost).toMatchObject({ nanoUsd: CALL_NANO });
  });

  it("rejects a single call whose cost is over the limit", async () => {
    server().setDefault({ usage: USAGE });
    const model = meteredModel(server(), { budget: { limitUsd: 0.0001 } });

    const error = await rejectionOf(model.streamEvents("hi"));

    expect(BudgetExceededError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ stop: "exceeded", spentUsd: 0.00045, limitUsd: 0.0001 });
  });

  it("stops a long reply mid-stream, aborting the request", async () => {
    server().setDefault({ content: "word ".repeat(5000), chunkSize: 20, chunkDelayMs: 1 });
    const model = meteredModel(server(), { model: "gpt-4o", budget: { limitUsd: 0.001 } });

    const error = await rejectionOf(model.streamEvents("write a lot"));

    expect(error).toMatchObject({ name: "BudgetExceededError", stop: "exceeded" });
    expect((error as BudgetExceededError).spentUsd).toBeLessThan(0.01); // the whole reply costs $0.0625
    const aborted = async () => {
      for (let i = 0; i < 200 && !server().requests.at(-1)?.aborted; i++) await new Promise((r) => setTimeout(r, 10));
      return server().requests.at(-1)?.aborted;
    };
    expect(await aborted()).toBe(true);
  });

  it("gives each call its own budget of the model's limit", async () => {
    server().setDefault({ usage: USAGE });
    const model = meteredModel(server(), { budget: { limitUsd: 0.001 } });
    for (let i = 0; i < 3; i++) expect(costOf(await model.streamEvents(`${i}`))?.nanoUsd).toBe(CALL_NANO);
    expect(server().requests).toHaveLength(3); // $0.00135 in all: more than one shared budget would allow
  });

  // Regression guard (was a bug in src/model/metered-chat-model.ts `_streamChatModelEvents` + src/model/call-budget.ts `open`):
  // @langchain/core's default `streamEvents()` drops the RunnableConfig (`[, callOptions] =
  // _separateRunnableConfigFromCallOptionsCompat(options)`) and calls `_streamChatModelEvents` without a
  // run manager, so `open(undefined, …, { standalone: true })` makes a fresh "call" budget and the
  // handler in `callbacks` is neither charged nor obeyed — against MeteringFields.budget's "A
  // BudgetCallbackHandler passed in the run's callbacks is used instead". Fix: override `streamEvents` in
  // MeteredChatModel; when no `version` is given, look for `BudgetCallbackHandler.isBudgetHandler` among
  // `options.callbacks` (an array, or a CallbackManager's `handlers`) and hand it to
  // `_streamChatModelEvents` (e.g. through a private call option) for `open` to use.
  it("uses a BudgetCallbackHandler passed in its callbacks", async () => {
    server().setDefault({ usage: USAGE });
    const budget = new BudgetCallbackHandler({ limitUsd: 0.0001 });

    const outcome = await Promise.resolve(meteredModel(server()).streamEvents("hi", { callbacks: [budget] })).then(
      () => "resolved",
      (error: unknown) => error,
    );

    expect(budget.records).toHaveLength(1);
    expect(outcome).toMatchObject({ name: "BudgetExceededError", limitUsd: 0.0001 });
  });
});
