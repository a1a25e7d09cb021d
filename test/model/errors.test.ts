/**
 * Failures: a served model with no price rejects (never a $0 cost); error statuses reject and are not
 * reported as paid calls.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { type MeteredChatModel, MeteredError, UnknownModelPriceError } from "../../src/index.js";
import { encoderFor } from "../../src/usage/tokenizer.js";
import { collect, recorder, useFakeOpenAI } from "../support/metered.js";

const fake = useFakeOpenAI();

// A stream's fire-and-forget report estimates tokens; load the tokenizer first so `settle` covers the report.
beforeAll(async () => {
  await encoderFor("gpt-4o-mini");
});

/** Lets a fire-and-forget report (a stream's `finally`) land before asserting on it. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 200));

/** `stream()` itself rejects when the request fails: wrap both steps in one promise. */
const streamAll = async (model: MeteredChatModel) => collect(await model.stream("hi"));

describe("an unknown served model", () => {
  it("invoke rejects with UnknownModelPriceError naming the served model", async () => {
    const { records, onCost } = recorder();
    fake.server.script({ model: "mystery-model" });
    const error = await fake.model({ onCost }).invoke("hi").catch((e: unknown) => e);
    expect(UnknownModelPriceError.isInstance(error)).toBe(true);
    expect(MeteredError.isInstance(error)).toBe(true);
    expect((error as UnknownModelPriceError).model).toBe("mystery-model");
    // It was paid for: charged conservatively at the configured model's dearest rates, never $0.
    expect(records).toHaveLength(1);
    expect(records[0]?.cost).toMatchObject({ model: "mystery-model", estimated: true, estimate: "unknown-price" });
    expect(records[0]?.cost.nanoUsd).toBeGreaterThan(0);
  });

  it("stream rejects with UnknownModelPriceError", async () => {
    fake.server.script({ model: "mystery-model" });
    const error = await streamAll(fake.model()).catch((e: unknown) => e);
    expect(UnknownModelPriceError.isInstance(error)).toBe(true);
  });

  it("the prices option covers a served name too", async () => {
    fake.server.script({ model: "mystery-model", usage: { promptTokens: 1000, completionTokens: 0 } });
    const message = await fake.model({ prices: { "mystery-model": { input: 1, output: 1 } } }).invoke("hi");
    // 1000×1e-6 = $0.001
    expect(message.response_metadata.cost).toMatchObject({ nanoUsd: 1_000_000, model: "mystery-model", priceSource: "override" });
  });
});

describe("error statuses", () => {
  it.each([429, 500])("invoke: %s rejects, and onCost is not called", async (status) => {
    const { records, onCost } = recorder();
    fake.server.script({ status });
    await expect(fake.model({ onCost }).invoke("hi")).rejects.toMatchObject({ status });
    await settle();
    expect(records).toHaveLength(0);
    expect(fake.server.requests).toHaveLength(1);
  });

  it.each([429, 500])("streaming: true + invoke: %s rejects, and onCost is not called", async (status) => {
    const { records, onCost } = recorder();
    fake.server.script({ status });
    await expect(fake.model({ streaming: true, onCost }).invoke("hi")).rejects.toMatchObject({ status });
    await settle();
    expect(records).toHaveLength(0);
  });

  it.each([429, 500])("streamEvents(): %s rejects, and onCost is not called", async (status) => {
    const { records, onCost } = recorder();
    fake.server.script({ status });
    await expect(Promise.resolve(fake.model({ onCost }).streamEvents("hi"))).rejects.toMatchObject({ status });
    await settle();
    expect(records).toHaveLength(0);
  });

  it.each([429, 500])("stream: %s rejects", async (status) => {
    fake.server.script({ status });
    await expect(streamAll(fake.model())).rejects.toMatchObject({ status });
  });

  // Regression guard (was a bug in src/model/metered-chat-model.ts, `_streamResponseChunks`'s `finally`): a stream that fails before its
  // first chunk (HTTP 429/500: nothing generated, nothing billed) is still "reported what it received": onCost
  // gets an estimated record for the prompt (8 input tokens = 1200 nano-USD for "hi").
  it.each([429, 500])("stream: %s does not call onCost", async (status) => {
    const { records, onCost } = recorder();
    fake.server.script({ status });
    await expect(streamAll(fake.model({ onCost }))).rejects.toMatchObject({ status });
    await settle();
    expect(records).toHaveLength(0);
  });
});
