/**
 * A response without usage (a proxy that drops it, `streamUsage: false`): the call is estimated locally,
 * marked `estimated: true`, and `usage_metadata` is filled with the estimate.
 *
 * The estimate for invoke("hi") → "Hello from the fake server." with o200k_base (gpt-4o-mini's encoding):
 *   input  = 3 (reply priming) + 3 (per message) + 1 ("human") + 1 ("hi") = 8 tokens
 *   output = 6 tokens ("Hello from the fake server.")
 *   cost   = 8×0.15e-6 + 6×0.6e-6 = 0.0000012 + 0.0000036 = $0.0000048 = 4800 nano-USD
 */
import { describe, expect, it } from "vitest";
import type { MeteredChatModelFields } from "../../src/index.js";
import { detailsInNano } from "../support/cost.js";
import { collect, costOf, recorder, useFakeOpenAI } from "../support/metered.js";

const fake = useFakeOpenAI();
const ESTIMATE = { input_tokens: 8, output_tokens: 6, total_tokens: 14 };

const paths: Array<[string, Partial<MeteredChatModelFields>, "invoke" | "stream" | "streamEvents"]> = [
  ["invoke", {}, "invoke"],
  ["stream", {}, "stream"],
  ["streaming: true + invoke", { streaming: true }, "invoke"],
  ["Responses API invoke", { useResponsesApi: true }, "invoke"],
  ["Responses API stream", { useResponsesApi: true }, "stream"],
  ["streamEvents()", {}, "streamEvents"],
];

describe("usage: null → estimated", () => {
  it.each(paths)("%s", async (_name, fields, mode) => {
    const { records, onCost } = recorder();
    fake.server.script({ usage: null });
    const model = fake.model({ ...fields, onCost });
    const message =
      mode === "invoke" ? await model.invoke("hi") : mode === "stream" ? (await collect(await model.stream("hi"))).message : await model.streamEvents("hi");
    const cost = costOf(message);
    expect(cost).toMatchObject({ estimated: true, nanoUsd: 4800, totalUsd: 0.0000048, model: "gpt-4o-mini" });
    expect(detailsInNano(cost!)).toEqual({ input: 1200, output: 3600 });
    expect(message.usage_metadata).toMatchObject(ESTIMATE);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ estimated: true, usage: { inputTokens: 8, outputTokens: 6 } });
  });
});

describe("streamUsage: false", () => {
  it("the stream gets one extra chunk carrying the estimate", async () => {
    const { message, costChunks } = await collect(await fake.model({ streamUsage: false }).stream("hi"));
    expect(fake.server.requests[0]?.body.stream_options).toBeUndefined();
    expect(costChunks).toBe(1);
    expect(costOf(message)).toMatchObject({ estimated: true, nanoUsd: 4800 });
    expect(message.usage_metadata).toMatchObject(ESTIMATE);
  });
});

describe("the estimate follows the conversation", () => {
  it("a longer prompt costs more than a shorter one", async () => {
    fake.server.script({ usage: null }, { usage: null });
    const short = costOf(await fake.model().invoke("hi"));
    const long = costOf(await fake.model().invoke("hi ".repeat(200)));
    expect(long!.nanoUsd).toBeGreaterThan(short!.nanoUsd);
    expect(long!.estimated).toBe(true);
  });
});
