/**
 * Proves the fake OpenAI server through the real clients: `ChatOpenAI` from
 * `@langchain/openai` (Chat Completions and Responses API) and the raw `openai`
 * SDK. If these pass, anything metered against the fake sees the same shapes as
 * production.
 */
import { describe, it, expect, beforeAll, afterAll, beforeEach } from "vitest";
import { ChatOpenAI } from "@langchain/openai";
import { HumanMessage } from "@langchain/core/messages";
import type { AIMessageChunk } from "@langchain/core/messages";
import OpenAI from "openai";
import { z } from "zod";
import { estimateTokens, startFakeOpenAI } from "./openai-server.js";
import type { FakeOpenAI, RecordedRequest } from "./openai-server.js";

let server: FakeOpenAI;

beforeAll(async () => {
  server = await startFakeOpenAI();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  server.reset();
});

function chat(fields: Partial<ConstructorParameters<typeof ChatOpenAI>[0] & object> = {}): ChatOpenAI {
  return new ChatOpenAI({ model: "gpt-4o-mini", apiKey: "test", maxRetries: 0, configuration: { baseURL: server.url }, ...fields });
}

async function collect(stream: AsyncIterable<AIMessageChunk>): Promise<{ agg: AIMessageChunk; count: number }> {
  let agg: AIMessageChunk | undefined;
  let count = 0;
  for await (const chunk of stream) {
    agg = agg ? agg.concat(chunk) : chunk;
    count++;
  }
  if (!agg) throw new Error("empty stream");
  return { agg, count };
}

function last(): RecordedRequest {
  const req = server.requests.at(-1);
  if (!req) throw new Error("no request recorded");
  return req;
}

const weatherTool = {
  type: "function" as const,
  function: {
    name: "get_weather",
    description: "Weather for a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};

describe("Chat Completions via ChatOpenAI", () => {
  it("invoke returns scripted text and detailed usage", async () => {
    server.script({
      content: "Scripted!",
      usage: { promptTokens: 500, completionTokens: 50, cachedTokens: 100, reasoningTokens: 20, inputAudioTokens: 3, outputAudioTokens: 4 },
    });
    const res = await chat().invoke("hi");
    expect(res.content).toBe("Scripted!");
    expect(res.usage_metadata).toEqual({
      input_tokens: 500,
      output_tokens: 50,
      total_tokens: 550,
      input_token_details: { audio: 3, cache_read: 100 },
      output_token_details: { audio: 4, reasoning: 20 },
    });
    const req = last();
    expect(req).toMatchObject({ path: "/v1/chat/completions", api: "chat", stream: false, aborted: false });
    expect(req.body.model).toBe("gpt-4o-mini");
    expect(req.headers.authorization).toBe("Bearer test");
  });

  it("derives default usage deterministically with estimateTokens", async () => {
    const res = await chat().invoke("What is the weather?");
    expect(res.content).toBe("Hello from the fake server.");
    const prompt = estimateTokens(JSON.stringify(last().body.messages));
    const completion = estimateTokens("Hello from the fake server.");
    expect(res.usage_metadata).toMatchObject({ input_tokens: prompt, output_tokens: completion, total_tokens: prompt + completion });
  });

  it("passes cache_write_tokens only when scripted, and serves the scripted model name", async () => {
    server.script({ model: "gpt-4o-mini-2024-07-18", usage: { promptTokens: 10, completionTokens: 1, cacheWriteTokens: 7 } });
    const res = await chat().invoke("hi");
    expect(res.usage_metadata?.input_token_details?.cache_creation).toBe(7);
    expect(res.response_metadata.model_name).toBe("gpt-4o-mini-2024-07-18");
  });

  it("usage: null omits usage; LangChain then reports no token counts", async () => {
    server.script({ usage: null });
    const res = await chat().invoke("hi");
    // @langchain/openai 1.6 still attaches an object of undefined details here, so
    // assert on the counts rather than on usage_metadata itself being undefined.
    expect(res.usage_metadata?.input_tokens).toBeUndefined();
    expect(res.usage_metadata?.output_tokens).toBeUndefined();
    expect(res.usage_metadata?.total_tokens).toBeUndefined();
  });

  it("stream with include_usage yields chunked text and usage on the aggregate", async () => {
    server.script({ content: "abcdefghij", chunkSize: 3, usage: { promptTokens: 11, completionTokens: 5, cachedTokens: 2 } });
    const { agg, count } = await collect(await chat().stream("hi"));
    expect(agg.content).toBe("abcdefghij");
    expect(count).toBeGreaterThanOrEqual(4); // role chunk + 4 deltas of ≤3 chars + finish + usage
    expect(agg.usage_metadata).toMatchObject({ input_tokens: 11, output_tokens: 5, total_tokens: 16, input_token_details: { cache_read: 2 } });
    expect(last().stream).toBe(true);
    expect(last().body.stream_options).toEqual({ include_usage: true });
  });

  it("stream with streamUsage: false has no usage", async () => {
    const { agg } = await collect(await chat({ streamUsage: false }).stream("hi"));
    expect(agg.content).toBe("Hello from the fake server.");
    expect(agg.usage_metadata).toBeUndefined();
    expect(last().body.stream_options).toBeUndefined();
  });

  it("stream with usage: null has no usage even with include_usage", async () => {
    server.script({ usage: null });
    const { agg } = await collect(await chat().stream("hi"));
    expect(agg.usage_metadata).toBeUndefined();
  });

  it("tool calls via bindTools: invoke (object args) and stream (string args)", async () => {
    server.script(
      { toolCalls: [{ name: "get_weather", arguments: { city: "Paris" }, id: "call_1" }] },
      { toolCalls: [{ name: "get_weather", arguments: '{"city":"Oslo"}', id: "call_2" }], chunkSize: 5 },
    );
    const model = chat().bindTools([weatherTool]);
    const res = await model.invoke("weather?");
    expect(res.tool_calls).toEqual([{ name: "get_weather", args: { city: "Paris" }, id: "call_1", type: "tool_call" }]);
    expect(res.response_metadata.finish_reason).toBe("tool_calls");
    expect(last().body.tools[0].function.name).toBe("get_weather");

    const { agg } = await collect(await model.stream("weather?"));
    expect(agg.tool_calls).toEqual([{ name: "get_weather", args: { city: "Oslo" }, id: "call_2", type: "tool_call" }]);
  });

  it("withStructuredOutput(zod) gets a minimal object satisfying the schema", async () => {
    const schema = z.object({
      name: z.string(),
      age: z.number().int(),
      tags: z.array(z.string()),
      kind: z.enum(["cat", "dog"]),
      nested: z.object({ ok: z.boolean() }),
      note: z.string().optional(),
    });
    const res = await chat().withStructuredOutput(schema).invoke("extract");
    expect(res).toEqual({ name: "x", age: 1, tags: [], kind: "cat", nested: { ok: true } });
    expect(last().body.response_format.type).toBe("json_schema");
  });

  it("withStructuredOutput functionCalling is just a scripted tool call", async () => {
    server.script({ toolCalls: [{ name: "extract", arguments: { city: "Rome" } }] });
    const res = await chat()
      .withStructuredOutput(z.object({ city: z.string() }), { method: "functionCalling" })
      .invoke("extract");
    expect(res).toEqual({ city: "Rome" });
  });

  it("n=2 yields two generations and one usage covering both", async () => {
    const result = await chat({ n: 2 }).generate([[new HumanMessage("hi")]]);
    const gens = result.generations[0] ?? [];
    expect(gens).toHaveLength(2);
    expect(gens.map((g) => g.text)).toEqual(["Hello from the fake server.", "Hello from the fake server."]);
    expect(result.llmOutput?.tokenUsage?.completionTokens).toBe(2 * estimateTokens("Hello from the fake server."));
  });

  it("429 and 500 reject with the status (maxRetries: 0)", async () => {
    server.script({ status: 429 }, { status: 500 });
    await expect(chat().invoke("hi")).rejects.toMatchObject({ status: 429 });
    await expect(chat().invoke("hi")).rejects.toMatchObject({ status: 500 });
    expect(server.requests).toHaveLength(2); // no retries happened
  });

  it("aborting mid-stream marks the request aborted", async () => {
    server.script({ content: "x".repeat(200), chunkSize: 1, chunkDelayMs: 20 });
    const controller = new AbortController();
    const consume = async (): Promise<number> => {
      let n = 0;
      for await (const _chunk of await chat().stream("hi", { signal: controller.signal })) {
        if (++n === 2) controller.abort();
      }
      return n;
    };
    await consume().catch(() => undefined); // LangChain may throw AbortError or just end
    for (let i = 0; i < 50 && !last().aborted; i++) await new Promise((r) => setTimeout(r, 20));
    expect(last().aborted).toBe(true);
  });
});

describe("Responses API via ChatOpenAI (useResponsesApi: true)", () => {
  const responses = (fields: Parameters<typeof chat>[0] = {}): ChatOpenAI => chat({ useResponsesApi: true, ...fields });

  it("invoke returns text and usage", async () => {
    server.script({ content: "From responses", usage: { promptTokens: 40, completionTokens: 9, cachedTokens: 30, reasoningTokens: 5 } });
    const res = await responses().invoke("hi");
    expect(res.text).toBe("From responses");
    expect(res.usage_metadata).toEqual({
      input_tokens: 40,
      output_tokens: 9,
      total_tokens: 49,
      input_token_details: { cache_read: 30 },
      output_token_details: { reasoning: 5 },
    });
    expect(last()).toMatchObject({ path: "/v1/responses", api: "responses", stream: false });
  });

  it("stream yields text deltas and usage from response.completed", async () => {
    server.script({ content: "streamed via responses", chunkSize: 2, usage: { promptTokens: 12, completionTokens: 6, cachedTokens: 4 } });
    const { agg, count } = await collect(await responses().stream("hi"));
    expect(agg.text).toBe("streamed via responses");
    expect(count).toBeGreaterThan(5);
    expect(agg.usage_metadata).toMatchObject({ input_tokens: 12, output_tokens: 6, total_tokens: 18, input_token_details: { cache_read: 4 } });
    expect(last().stream).toBe(true);
  });

  it("default usage uses the request input", async () => {
    const res = await responses().invoke("hello there");
    const prompt = estimateTokens(JSON.stringify(last().body.input));
    expect(res.usage_metadata).toMatchObject({ input_tokens: prompt, output_tokens: estimateTokens("Hello from the fake server.") });
  });

  it("function calls parse on invoke and stream", async () => {
    server.script(
      { toolCalls: [{ name: "get_weather", arguments: { city: "Lima" }, id: "call_a" }] },
      { toolCalls: [{ name: "get_weather", arguments: { city: "Kyiv" }, id: "call_b" }], chunkSize: 3 },
    );
    const model = responses().bindTools([weatherTool]);
    expect((await model.invoke("w")).tool_calls).toEqual([{ name: "get_weather", args: { city: "Lima" }, id: "call_a", type: "tool_call" }]);
    const { agg } = await collect(await model.stream("w"));
    expect(agg.tool_calls).toEqual([{ name: "get_weather", args: { city: "Kyiv" }, id: "call_b", type: "tool_call" }]);
  });

  it("structured output via text.format json_schema", async () => {
    const res = await responses().withStructuredOutput(z.object({ title: z.string(), score: z.number() })).invoke("x");
    expect(res).toEqual({ title: "x", score: 1 });
    expect(last().body.text.format.type).toBe("json_schema");
  });
});

describe("raw openai SDK and server mechanics", () => {
  const client = (): OpenAI => new OpenAI({ apiKey: "test", baseURL: server.url, maxRetries: 0 });

  it("chat SSE chunk format: role first, finish_reason, usage chunk with empty choices", async () => {
    server.script({ content: "hey", chunkSize: 1, extraUsage: { cost: 0.0012 } });
    const stream = await client().chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "hi" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.every((c) => c.object === "chat.completion.chunk")).toBe(true);
    expect(chunks[0]?.choices[0]?.delta.role).toBe("assistant");
    expect(chunks.slice(1, 4).map((c) => c.choices[0]?.delta.content)).toEqual(["h", "e", "y"]);
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe("stop");
    const usageChunk = chunks.at(-1);
    expect(usageChunk?.choices).toEqual([]);
    expect(usageChunk?.usage).toMatchObject({ total_tokens: expect.any(Number), cost: 0.0012 });
  });

  it("extra headers and extraUsage reach the client", async () => {
    server.script({ headers: { "x-litellm-response-cost": "0.5" }, extraUsage: { cost: 0.25 } });
    const { data, response } = await client()
      .chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] })
      .withResponse();
    expect(response.headers.get("x-litellm-response-cost")).toBe("0.5");
    expect((data.usage as unknown as Record<string, unknown>).cost).toBe(0.25);
  });

  it("responses SSE emits the real event sequence with sequence numbers", async () => {
    server.script({ content: "abcd", chunkSize: 2, toolCalls: [{ name: "f", arguments: "{}" }] });
    const stream = await client().responses.create({ model: "gpt-4o-mini", input: "hi", stream: true });
    const events = [];
    for await (const e of stream) events.push(e);
    expect(events.map((e) => e.type)).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.output_item.added",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.done",
      "response.output_item.done",
      "response.completed",
    ]);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
  });

  it("429 carries retry-after: 0 and an OpenAI-style error body", async () => {
    server.script({ status: 429 });
    const res = await fetch(`${server.url}/chat/completions`, { method: "POST", body: JSON.stringify({ model: "m", messages: [] }) });
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("0");
    expect(await res.json()).toMatchObject({ error: { message: "Fake error 429", type: expect.any(String), code: expect.any(String) } });
  });

  it("unknown paths get a 404 JSON error and are not recorded", async () => {
    const res = await fetch(`${server.url}/models`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { type: expect.any(String) } });
    expect(server.requests).toHaveLength(0);
  });

  it("queue is FIFO, then ReplyFn default; reset clears everything", async () => {
    server.setDefault((req) => ({ content: `default for ${req.body.messages.length} message(s)` }));
    server.script({ content: "one" }, async () => ({ content: "two" }));
    const model = chat();
    expect((await model.invoke("a")).content).toBe("one");
    expect((await model.invoke("b")).content).toBe("two");
    expect((await model.invoke("c")).content).toBe("default for 1 message(s)");
    expect(server.requests).toHaveLength(3);
    server.reset();
    expect(server.requests).toHaveLength(0);
    expect((await model.invoke("d")).content).toBe("Hello from the fake server.");
  });

  it("close() does not hang on open keep-alive connections", async () => {
    const other = await startFakeOpenAI({ defaultReply: { content: "bye" } });
    const res = await new ChatOpenAI({ model: "gpt-4o-mini", apiKey: "test", configuration: { baseURL: other.url } }).invoke("hi");
    expect(res.content).toBe("bye");
    await other.close();
  });
});
