/**
 * Reading messages for pricing: text, local token counts (used when a response carries no usage, and by a
 * hard cap's plan), and the byte bound a hard cap plans with before it counts. Token counts below are o200k_base counts
 * (gpt-4o-mini's encoding): "hi" 1, "human" 1, "system" 1, "Alice" 1, "You are terse." 4,
 * "What is 2+2?" 7, "Hello from the fake server." 6; plus OpenAI's overhead of 3 per message,
 * 1 per name and 3 to prime the reply.
 */
import { AIMessage, HumanMessage, SystemMessage } from "@langchain/core/messages";
import { describe, expect, it } from "vitest";
import { contentText, countInputTokens, countOutputTokens, imageTokens, inputTokenBound, utf8Length } from "../../src/langchain/messages.js";

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

describe("inputTokenBound: bytes, never fewer than the tokens", () => {
  const cases = [
    { name: "one short message", messages: [new HumanMessage("hi")] },
    { name: "system + human", messages: [new SystemMessage("You are terse."), new HumanMessage("What is 2+2?")] },
    { name: "unicode", messages: [new HumanMessage("日本語のテキスト 🙂 ünïcödé")] },
    { name: "a named message", messages: [new HumanMessage({ content: "hi", name: "Alice" })] },
  ];
  it.each(cases)("$name", async ({ messages }) => {
    const bound = inputTokenBound(messages, "gpt-4o-mini");
    expect(bound).toBeGreaterThanOrEqual(await countInputTokens(messages, "gpt-4o-mini"));
  });

  it("is the same overhead as the count, with bytes for tokens: 3 + (3 + 5 'human' + 2 'hi') = 13", () => {
    expect(inputTokenBound([new HumanMessage("hi")], "gpt-4o-mini")).toBe(13);
  });
});

describe("utf8Length", () => {
  it.each([
    ["", 0],
    ["abc", 3],
    ["é", 2],
    ["日本", 6],
    ["🙂", 4],
    ["a🙂b", 6],
  ] as const)("%j is %i bytes", (text, bytes) => {
    expect(utf8Length(text)).toBe(bytes);
    expect(utf8Length(text)).toBe(new TextEncoder().encode(text).length);
  });
});

describe("imageTokens", () => {
  it("counts gpt-4o-mini's images high, and nobody else's: every Gemini name has 'mini' in it", () => {
    expect(imageTokens("gpt-4o-mini")).toBe(36_835);
    expect(imageTokens("openai/gpt-4o-mini-2024-07-18")).toBe(36_835);
    expect(imageTokens("gemini-2.5-pro")).toBe(1_105);
    expect(imageTokens("gemini-2.0-flash")).toBe(1_105);
    expect(imageTokens("gpt-4o")).toBe(1_105);
  });
});

describe("counting never throws on special-token text", () => {
  it("a user message containing <|endoftext|> is counted as the text it is", async () => {
    const tokens = await countInputTokens([new HumanMessage("say <|endoftext|> please")], "gpt-4o-mini");
    expect(tokens).toBeGreaterThan(8);
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
