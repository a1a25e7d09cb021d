/** `costOf(message)`: the cost a metered model put on a message, typed, or undefined. */
import { AIMessage, HumanMessage } from "@langchain/core/messages";
import { ChatOpenAI } from "@langchain/openai";
import { describe, expect, it } from "vitest";
import { costOf } from "../../src/index.js";
import { collect, useFakeOpenAI } from "../support/metered.js";

const fake = useFakeOpenAI();

describe("costOf", () => {
  it("reads a metered answer's cost, from invoke and from a stream", async () => {
    // 1000 × $0.15/M + 200 × $0.60/M = $0.00027
    fake.server.script({ usage: { promptTokens: 1000, completionTokens: 200 } }, { usage: { promptTokens: 1000, completionTokens: 200 } });
    expect(costOf(await fake.model().invoke("hi"))).toMatchObject({ totalUsd: 0.00027, nanoUsd: 270_000, estimated: false });
    expect(costOf((await collect(await fake.model().stream("hi"))).message)?.nanoUsd).toBe(270_000);
  });

  it("is undefined for a plain model's answer, a human message, nothing, or a field that isn't a cost", async () => {
    expect(costOf(await new ChatOpenAI({ model: "gpt-4o-mini", ...fake.connection() }).invoke("hi"))).toBeUndefined();
    expect(costOf(new HumanMessage("hi"))).toBeUndefined();
    expect(costOf(undefined)).toBeUndefined();
    expect(costOf(new AIMessage({ content: "x", response_metadata: { cost: 0.5 } }))).toBeUndefined();
    expect(costOf(new AIMessage({ content: "x", response_metadata: { cost: { totalUsd: "0.5" } } }))).toBeUndefined();
  });
});
