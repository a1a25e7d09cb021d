/**
 * The local estimate used when a response carries no usage. Token counts below are o200k_base counts
 * (gpt-4o-mini's encoding): "hi" 1, "human" 1, "system" 1, "Alice" 1, "You are terse." 4,
 * "What is 2+2?" 7, "Hello from the fake server." 6; plus OpenAI's overhead of 3 per message,
 * 1 per name and 3 to prime the reply.
 */
import { AIMessage, HumanMessage, SystemMessage } from "@langchain/core/messages";
import { describe, expect, it } from "vitest";
import { contentText, countInputTokens, countOutputTokens, estimateUsage } from "../../src/usage/estimate.js";

describe("countInputTokens", () => {
  it.each([
    // 3 priming + (3 + "human" 1 + "hi" 1) = 8
    { name: "one short message", messages: [new HumanMessage("hi")], tokens: 8 },
    // 3 + (3 + "system" 1 + 4) + (3 + "human" 1 + 7) = 22
    { name: "system + human", messages: [new SystemMessage("You are terse."), new HumanMessage("What is 2+2?")], tokens: 22 },
    // 3 + (3 + 1 + 1) + (1 per name + "Alice" 1) = 10
    { name: "a named message", messages: [new HumanMessage({ content: "hi", name: "Alice" })], tokens: 10 },
  ])("$name → $tokens", async ({ messages, tokens }) => {
    expect(await countInputTokens(messages, "gpt-4o-mini")).toBe(tokens);
  });

  it("tool definitions count as input", async () => {
    const tools = [{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }];
    expect(await countInputTokens([new HumanMessage("hi")], "gpt-4o-mini", tools)).toBeGreaterThan(8);
    expect(await countInputTokens([new HumanMessage("hi")], "gpt-4o-mini", [])).toBe(8);
  });
});

describe("countOutputTokens", () => {
  it("counts the reply's text", async () => {
    expect(await countOutputTokens(new AIMessage("Hello from the fake server."), "gpt-4o-mini")).toBe(6);
    expect(await countOutputTokens(undefined, "gpt-4o-mini")).toBe(0);
  });

  it("counts tool calls", async () => {
    const call = new AIMessage({ content: "", tool_calls: [{ name: "get_weather", args: { city: "Paris" }, id: "1" }] });
    expect(await countOutputTokens(call, "gpt-4o-mini")).toBeGreaterThan(2);
  });
});

describe("estimateUsage", () => {
  it("is plain input and output, no cache or reasoning", async () => {
    expect(await estimateUsage([new HumanMessage("hi")], new AIMessage("Hello from the fake server."), "gpt-4o-mini")).toEqual({
      inputTokens: 8,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      cacheWrite1hTokens: 0,
      inputAudioTokens: 0,
      outputTokens: 6,
      reasoningTokens: 0,
      outputAudioTokens: 0,
    });
  });
});

describe("contentText", () => {
  it("joins the text of content blocks and skips the rest", () => {
    expect(contentText("plain")).toBe("plain");
    expect(
      contentText([
        { type: "text", text: "a" },
        { type: "image_url", image_url: { url: "data:," } },
        { type: "text", text: "b" },
      ]),
    ).toBe("ab");
  });
});
