/**
 * Fault injection and the provider's own bill in the fake OpenAI server, driven
 * through the real clients (`openai` SDK and `ChatOpenAI`). Each test pins down
 * exactly what the client sees when the provider (or a proxy in front of it)
 * misbehaves, and what the provider would still have charged: the two facts the
 * library has to reconcile so that no paid call is ever metered at $0.
 *
 * Not covered on purpose: plain `ChatOpenAI({ streaming: true }).invoke()`. It
 * estimates token counts with tiktoken ranks fetched from tiktoken.pages.dev,
 * which hangs offline whatever the server does.
 */
import { describe, it, expect, beforeAll, afterAll, beforeEach } from "vitest";
import { ChatOpenAI } from "@langchain/openai";
import type { AIMessageChunk } from "@langchain/core/messages";
import OpenAI, { APIConnectionTimeoutError, APIUserAbortError } from "openai";
import { estimateTokens, startFakeOpenAI } from "./openai-server.js";
import type { BillEntry, FakeOpenAI, Fault } from "./openai-server.js";

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

// logLevel "off": the SDK logs "Could not parse message into JSON" before throwing on malformed SSE.
const sdk = (fields: ConstructorParameters<typeof OpenAI>[0] = {}): OpenAI =>
  new OpenAI({ apiKey: "test", baseURL: server.url, maxRetries: 0, logLevel: "off", ...fields });

type ChatFields = Partial<ConstructorParameters<typeof ChatOpenAI>[0] & object>;
const chat = (fields: ChatFields = {}): ChatOpenAI =>
  new ChatOpenAI({ model: "gpt-4o-mini", apiKey: "test", maxRetries: 0, configuration: { baseURL: server.url, logLevel: "off" }, ...fields });
const responses = (fields: ChatFields = {}): ChatOpenAI => chat({ useResponsesApi: true, ...fields });
const model = (api: "chat" | "responses", fields: ChatFields = {}): ChatOpenAI => (api === "chat" ? chat(fields) : responses(fields));

/** Consumes a stream to its end or first error; never throws. */
async function drain<T>(stream: AsyncIterable<T> | Promise<AsyncIterable<T>>): Promise<{ items: T[]; error: unknown }> {
  const items: T[] = [];
  try {
    for await (const item of await stream) items.push(item);
    return { items, error: undefined };
  } catch (error) {
    return { items, error };
  }
}

const textOf = (chunks: AIMessageChunk[]): string => chunks.map((c) => c.text).join("");

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

/** Polls (no fixed sleeps) until `cond` holds; for "the request has reached the server". */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setTimeout(r, 1));
  if (!cond()) throw new Error("condition never held");
}

async function onlyEntry(): Promise<BillEntry> {
  await server.settled();
  expect(server.bill).toHaveLength(1);
  return server.bill[0] as BillEntry;
}

const CONTENT = "0123456789".repeat(4); // 40 chars: 10 deltas of 4
const USAGE = { promptTokens: 100, completionTokens: 40 };
const MESSAGES = [{ role: "user" as const, content: "hi" }];

describe("the bill for well-behaved exchanges", () => {
  it("a complete JSON answer bills its usage; billTotals sums billed requests", async () => {
    server.script({ usage: { promptTokens: 500, completionTokens: 50, cachedTokens: 100, reasoningTokens: 20 } }, {});
    await chat().invoke("hi");
    await chat().invoke("What is the weather?");
    expect(server.bill[0]).toEqual({
      requestIndex: 0,
      model: "gpt-4o-mini",
      inputTokens: 500,
      outputTokens: 50,
      cachedTokens: 100,
      reasoningTokens: 20,
      status: 200,
      complete: true,
      fault: null,
      writtenEvents: 0,
      writtenChars: 0,
    });
    const prompt = estimateTokens(JSON.stringify(server.requests[1]?.body.messages));
    expect(server.bill[1]).toMatchObject({ requestIndex: 1, inputTokens: prompt, outputTokens: estimateTokens("Hello from the fake server."), complete: true });
    expect(server.billTotals()).toEqual({
      inputTokens: 500 + prompt,
      outputTokens: 50 + estimateTokens("Hello from the fake server."),
      cachedTokens: 100,
      reasoningTokens: 20,
      requests: 2,
    });
  });

  it("the bill is what was used, not what was reported: usage null, no include_usage, rawUsage, both APIs", async () => {
    server.script(
      { usage: null },
      {},
      { usage: USAGE, rawUsage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } },
      { usage: USAGE, rawUsage: { input_tokens: 0, output_tokens: 0, total_tokens: 0 } },
    );
    expect((await chat().invoke("hi")).usage_metadata?.input_tokens).toBeUndefined();
    const { items } = await drain(chat({ streamUsage: false }).stream("hi"));
    expect(items.at(-1)?.usage_metadata).toBeUndefined();
    expect((await chat().invoke("hi")).usage_metadata?.input_tokens).toBe(1);
    expect((await responses().invoke("hi")).usage_metadata?.input_tokens).toBe(0);

    const prompt = estimateTokens(JSON.stringify(server.requests[0]?.body.messages));
    expect(server.bill.map((e) => [e.inputTokens, e.outputTokens, e.complete])).toEqual([
      [prompt, estimateTokens("Hello from the fake server."), true], // usage: null still derived
      [estimateTokens(JSON.stringify(server.requests[1]?.body.messages)), estimateTokens("Hello from the fake server."), true],
      [100, 40, true],
      [100, 40, true],
    ]);
    expect(server.bill[1]).toMatchObject({ writtenEvents: 9, writtenChars: 27 }); // role + 7 deltas + finish; "Hello from…" is 27 chars
  });

  it("error statuses get a zero-token entry with their status, left out of billedRequests / billTotals", async () => {
    server.script({ status: 429 }, { status: 500 }, { status: 400 }, { usage: USAGE });
    await expect(chat().invoke("hi")).rejects.toMatchObject({ status: 429 });
    await expect(chat().invoke("hi")).rejects.toMatchObject({ status: 500 });
    await expect(responses().invoke("hi")).rejects.toMatchObject({ status: 400 });
    await chat().invoke("hi");
    expect(server.bill.map((e) => [e.requestIndex, e.status, e.inputTokens + e.outputTokens, e.complete])).toEqual([
      [0, 429, 0, true],
      [1, 500, 0, true],
      [2, 400, 0, true],
      [3, 200, 140, true],
    ]);
    expect(server.billedRequests().map((e) => e.requestIndex)).toEqual([3]);
    expect(server.billTotals()).toEqual({ inputTokens: 100, outputTokens: 40, cachedTokens: 0, reasoningTokens: 0, requests: 1 });
  });

  it("a throwing ReplyFn is a zero-token 500 entry", async () => {
    server.script(() => {
      throw new Error("boom");
    });
    await expect(chat().invoke("hi")).rejects.toMatchObject({ status: 500 });
    expect(await onlyEntry()).toMatchObject({ status: 500, inputTokens: 0, outputTokens: 0 });
  });

  it("reset() clears the bill, and a request still in flight then never lands in the new one", async () => {
    server.script({ fault: "hang" });
    const controller = new AbortController();
    const pending = chat().invoke("hi", { signal: controller.signal }).catch(() => undefined);
    await until(() => server.requests.length === 1);
    server.reset();
    controller.abort();
    await pending;
    await server.settled();
    expect(server.bill).toEqual([]);
    await chat().invoke("hi");
    expect(server.bill.map((e) => e.requestIndex)).toEqual([0]);
  });
});

describe("fault: reset-mid-stream", () => {
  it("raw SDK: K chat chunks, then TypeError 'terminated' (undici SocketError 'other side closed')", async () => {
    server.script({ fault: "reset-mid-stream", content: CONTENT, usage: USAGE });
    const { items, error } = await drain(sdk().chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES, stream: true }));
    expect(items.map((c) => c.choices[0]?.delta.content)).toEqual(["", "0123"]); // default K = 2: role chunk + one delta
    expect(error).toBeInstanceOf(TypeError);
    expect(error).toMatchObject({ message: "terminated", cause: { name: "SocketError", code: "UND_ERR_SOCKET", message: "other side closed" } });
    expect(await onlyEntry()).toEqual({
      requestIndex: 0,
      model: "gpt-4o-mini",
      inputTokens: 100,
      outputTokens: 4, // ceil(40 × 4/40)
      cachedTokens: 0,
      reasoningTokens: 0,
      status: 200,
      complete: false,
      fault: "reset-mid-stream",
      writtenEvents: 2,
      writtenChars: 4,
    });
    expect(server.requests[0]?.aborted).toBe(false); // the server cut it, the client did not abort
  });

  it("ChatOpenAI stream (Chat Completions): the chunks written, then the same TypeError", async () => {
    server.script({ fault: "reset-mid-stream", faultAfterChunks: 4, content: CONTENT, usage: USAGE });
    const { items, error } = await drain(chat().stream("hi"));
    expect(textOf(items)).toBe("012345678901");
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toBe("terminated");
    expect(await onlyEntry()).toMatchObject({ inputTokens: 100, outputTokens: 12, complete: false, writtenEvents: 4, writtenChars: 12 });
  });

  it("ChatOpenAI stream (Responses API): K counts response.created / in_progress / item / part events too", async () => {
    server.script({ fault: "reset-mid-stream", faultAfterChunks: 6, content: CONTENT, usage: USAGE });
    const { items, error } = await drain(responses().stream("hi"));
    expect(textOf(items)).toBe("01234567");
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toBe("terminated");
    expect(await onlyEntry()).toMatchObject({ inputTokens: 100, outputTokens: 8, complete: false, writtenEvents: 6, writtenChars: 8 });
  });

  it.each(["chat", "responses"] as const)("ChatOpenAI invoke (%s): half a JSON body, TypeError 'terminated', the full usage billed", async (api) => {
    server.script({ fault: "reset-mid-stream", content: CONTENT, usage: USAGE });
    const error = await failure(model(api).invoke("hi"));
    expect(error).toBeInstanceOf(TypeError);
    expect(error).toMatchObject({ message: "terminated", cause: { code: "UND_ERR_SOCKET" } });
    expect(await onlyEntry()).toMatchObject({ inputTokens: 100, outputTokens: 40, status: 200, complete: false, fault: "reset-mid-stream" });
  });

  it("reasoning is billed in full once the stream started; tool-call argument characters count as output", async () => {
    const args = JSON.stringify({ city: "Paris", unit: "celsius" }); // 33 chars
    server.script({
      fault: "reset-mid-stream",
      faultAfterChunks: 4, // role, tool-call head (no chars), 2 argument deltas of 5
      toolCalls: [{ name: "get_weather", arguments: args }],
      chunkSize: 5,
      usage: { promptTokens: 100, completionTokens: 53, reasoningTokens: 20, cachedTokens: 60 },
    });
    const { items, error } = await drain(chat().stream("weather?"));
    expect(items.length).toBeGreaterThan(0);
    expect((error as Error).message).toBe("terminated");
    // visible = 53 - 20 = 33 tokens over 33 argument chars; 10 written → 10; plus 20 reasoning
    expect(await onlyEntry()).toMatchObject({ inputTokens: 100, cachedTokens: 60, outputTokens: 30, reasoningTokens: 20, writtenChars: 10 });
  });

  it("n = 2: the proportion is over both choices' characters", async () => {
    server.script({ fault: "reset-mid-stream", faultAfterChunks: 12, content: CONTENT, usage: { promptTokens: 10, completionTokens: 80 } });
    const { error } = await drain(sdk().chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES, n: 2, stream: true }));
    expect((error as Error).message).toBe("terminated");
    // choice 0: role + 10 deltas + finish = 12 events → 40 of 80 chars
    expect(await onlyEntry()).toMatchObject({ outputTokens: 40, writtenEvents: 12, writtenChars: 40 });
  });
});

describe("fault: malformed-sse", () => {
  const MALFORMED = "Error reading response: malformed server-sent event JSON.";

  it("raw SDK: K chunks, then SyntaxError; the bill has the K chunks' output", async () => {
    server.script({ fault: "malformed-sse", faultAfterChunks: 3, content: CONTENT, usage: USAGE });
    const { items, error } = await drain(sdk().chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES, stream: true }));
    expect(items).toHaveLength(3);
    expect(error).toBeInstanceOf(SyntaxError);
    expect((error as Error).message).toBe(MALFORMED);
    expect(await onlyEntry()).toMatchObject({ inputTokens: 100, outputTokens: 8, complete: false, fault: "malformed-sse", writtenEvents: 3 });
  });

  it.each([
    ["chat", 3, "01234567", 8],
    ["responses", 6, "01234567", 8],
  ] as const)("ChatOpenAI stream (%s): the text so far, then SyntaxError", async (api, k, text, output) => {
    server.script({ fault: "malformed-sse", faultAfterChunks: k, content: CONTENT, usage: USAGE });
    const { items, error } = await drain(model(api).stream("hi"));
    expect(textOf(items)).toBe(text);
    expect(error).toBeInstanceOf(SyntaxError);
    expect((error as Error).message).toBe(MALFORMED);
    expect(await onlyEntry()).toMatchObject({ outputTokens: output, complete: false });
    expect(server.requests[0]?.aborted).toBe(false);
  });

  it.each(["chat", "responses"] as const)("ChatOpenAI invoke (%s): a truncated JSON body → JSON.parse's SyntaxError; full usage billed", async (api) => {
    server.script({ fault: "malformed-sse", usage: USAGE });
    const error = await failure(model(api).invoke("hi"));
    expect(error).toBeInstanceOf(SyntaxError);
    expect((error as Error).message).toMatch(/^Unterminated string in JSON at position \d+/);
    expect(await onlyEntry()).toMatchObject({ inputTokens: 100, outputTokens: 40, complete: false });
  });
});

describe("faults: html-200, empty-200, empty-object-200 (a proxy swallowed a paid answer)", () => {
  const bodyFaults: Fault[] = ["html-200", "empty-200", "empty-object-200"];

  it("raw SDK, non-streaming chat: resolves with the HTML string / undefined / {} (no error)", async () => {
    server.script(...bodyFaults.map((fault) => ({ fault })));
    const create = () => sdk().chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES }) as Promise<unknown>;
    expect(await create()).toMatch(/^<html>[\s\S]*502 Bad Gateway[\s\S]*<\/html>\s*$/);
    expect(await create()).toBeUndefined();
    expect(await create()).toEqual({});
  });

  it.each(bodyFaults)("%s: raw SDK streams (both APIs) end with zero events and no error", async (fault) => {
    server.script({ fault }, { fault });
    expect(await drain(sdk().chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES, stream: true }))).toEqual({ items: [], error: undefined });
    expect(await drain(sdk().responses.create({ model: "gpt-4o-mini", input: "hi", stream: true }))).toEqual({ items: [], error: undefined });
  });

  it.each(bodyFaults)("%s: ChatOpenAI stream (both APIs) yields no chunk and does not throw", async (fault) => {
    server.script({ fault, usage: USAGE }, { fault, usage: USAGE });
    expect(await drain(chat().stream("hi"))).toEqual({ items: [], error: undefined });
    expect(await drain(responses().stream("hi"))).toEqual({ items: [], error: undefined });
    await server.settled();
    expect(server.bill.map((e) => [e.inputTokens, e.outputTokens, e.status, e.complete, e.fault])).toEqual([
      [100, 40, 200, false, fault],
      [100, 40, 200, false, fault],
    ]);
  });

  it.each([
    ["html-200", "Cannot read properties of undefined (reading 'message')"],
    ["empty-200", "Cannot read properties of undefined (reading 'message')"],
    ["empty-object-200", "Cannot read properties of undefined (reading 'message')"],
  ] as const)("%s: ChatOpenAI invoke (Chat Completions) throws TypeError %j", async (fault, message) => {
    server.script({ fault, usage: USAGE });
    const error = await failure(chat().invoke("hi"));
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toBe(message);
    expect(await onlyEntry()).toMatchObject({ inputTokens: 100, outputTokens: 40, status: 200, complete: false, fault });
  });

  it.each([
    ["html-200", /^Cannot use 'in' operator to search for 'object' in <html>/],
    ["empty-200", /^Cannot use 'in' operator to search for 'object' in undefined$/],
    ["empty-object-200", /^Cannot read properties of undefined \(reading 'map'\)$/],
  ] as const)("%s: ChatOpenAI invoke (Responses API) throws TypeError %s", async (fault, message) => {
    server.script({ fault, usage: USAGE });
    const error = await failure(responses().invoke("hi"));
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toMatch(message);
    expect(await onlyEntry()).toMatchObject({ inputTokens: 100, outputTokens: 40, complete: false, fault });
  });

  it("html-200 really is text/html with status 200; empty-object-200 streams only [DONE]", async () => {
    server.script({ fault: "html-200" }, { fault: "empty-200" }, { fault: "empty-object-200" });
    const post = (stream: boolean) =>
      fetch(`${server.url}/chat/completions`, { method: "POST", body: JSON.stringify({ model: "m", messages: [], stream }) });
    const html = await post(false);
    expect([html.status, html.headers.get("content-type")]).toEqual([200, "text/html; charset=utf-8"]);
    expect(await html.text()).toContain("<h1>502 Bad Gateway</h1>");
    const empty = await post(true);
    expect([empty.status, empty.headers.get("content-type"), await empty.text()]).toEqual([200, "application/json", ""]);
    const done = await post(true);
    expect([done.headers.get("content-type"), await done.text()]).toEqual(["text/event-stream", "data: [DONE]\n\n"]);
  });
});

describe("fault: hang", () => {
  it.each(["chat", "responses"] as const)("ChatOpenAI invoke and stream (%s) with timeout: Error name TimeoutError 'Request timed out.'; input billed", async (api) => {
    server.script({ fault: "hang", usage: USAGE }, { fault: "hang", usage: USAGE });
    const invoked = await failure(model(api, { timeout: 50 }).invoke("hi"));
    const streamed = await drain(model(api, { timeout: 50 }).stream("hi"));
    for (const error of [invoked, streamed.error]) {
      expect(error).toBeInstanceOf(Error);
      expect(error).toMatchObject({ name: "TimeoutError", message: "Request timed out." });
    }
    await server.settled();
    expect(server.bill.map((e) => [e.inputTokens, e.outputTokens, e.status, e.complete])).toEqual([
      [100, 0, 0, false],
      [100, 0, 0, false],
    ]);
    expect(server.requests.map((r) => r.aborted)).toEqual([true, true]);
  });

  it("ChatOpenAI with an AbortController: invoke → Error name AbortError 'Request was aborted.'; stream → DOMException AbortError", async () => {
    server.script({ fault: "hang", usage: USAGE }, { fault: "hang", usage: USAGE });
    const a = new AbortController();
    const invoked = failure(chat().invoke("hi", { signal: a.signal }));
    await until(() => server.requests.length === 1);
    a.abort();
    expect(await invoked).toMatchObject({ name: "AbortError", message: "Request was aborted." });

    const b = new AbortController();
    const streamed = drain(chat().stream("hi", { signal: b.signal }));
    await until(() => server.requests.length === 2);
    b.abort();
    const { error } = await streamed;
    expect(error).toBeInstanceOf(DOMException);
    expect(error).toMatchObject({ name: "AbortError", message: "This operation was aborted" });
    await server.settled();
    expect(server.billTotals()).toEqual({ inputTokens: 200, outputTokens: 0, cachedTokens: 0, reasoningTokens: 0, requests: 2 });
  });

  it("raw SDK: APIConnectionTimeoutError on timeout, APIUserAbortError on abort", async () => {
    server.script({ fault: "hang" }, { fault: "hang" });
    await expect(sdk({ timeout: 50 }).responses.create({ model: "gpt-4o-mini", input: "hi" })).rejects.toBeInstanceOf(APIConnectionTimeoutError);
    const controller = new AbortController();
    const pending = failure(sdk().chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES }, { signal: controller.signal }));
    await until(() => server.requests.length === 2);
    controller.abort();
    expect(await pending).toBeInstanceOf(APIUserAbortError);
    await server.settled();
    expect(server.bill.every((e) => e.status === 0 && e.outputTokens === 0 && e.inputTokens > 0)).toBe(true);
  });

  it("a stream that stalls after K events is NOT covered by the client's timeout: it hangs until aborted", async () => {
    server.script({ fault: "hang", faultAfterChunks: 4, content: CONTENT, usage: USAGE });
    const controller = new AbortController();
    const stream = await chat({ timeout: 50 }).stream("hi", { signal: controller.signal });
    const iterator = stream[Symbol.asyncIterator]();
    const received: AIMessageChunk[] = [];
    // Events 1-4 (role, 3 deltas) all arrive; the 5th never does, even well past `timeout`.
    for (let i = 0; i < 4; i++) {
      const next = await iterator.next();
      if (!next.done) received.push(next.value);
    }
    expect(textOf(received)).toBe("012345678901");
    const stalled = Symbol("stalled");
    const fifth = iterator.next();
    expect(await Promise.race([fifth, new Promise((r) => setTimeout(() => r(stalled), 200))])).toBe(stalled);
    controller.abort();
    await expect(fifth).rejects.toMatchObject({ name: "AbortError" });
    expect(await onlyEntry()).toMatchObject({ inputTokens: 100, outputTokens: 12, status: 200, complete: false, fault: "hang", writtenEvents: 4, writtenChars: 12 });
  });

  it("server.close() ends a hanging request: the client gets a connection error, the bill the input", async () => {
    const other = await startFakeOpenAI({ defaultReply: { fault: "hang", usage: USAGE } });
    const client = new OpenAI({ apiKey: "test", baseURL: other.url, maxRetries: 0, logLevel: "off" });
    const pending = failure(client.chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES }));
    await until(() => other.requests.length === 1);
    await other.close();
    expect(await pending).toMatchObject({ name: "Error", message: "Connection error." });
    await other.settled();
    expect(other.billTotals()).toEqual({ inputTokens: 100, outputTokens: 0, cachedTokens: 0, reasoningTokens: 0, requests: 1 });
  });
});

describe("client aborts", () => {
  const LONG = { content: "x".repeat(100), chunkSize: 2, chunkDelayMs: 20, usage: { promptTokens: 10, completionTokens: 25 } };
  // chunks are 2 chars, 25 tokens over 100 chars
  const expectedOutput = (chars: number): number => Math.ceil((25 * chars) / 100);

  it("ChatOpenAI stream aborted after 3 chunks (chunkDelayMs 20): AbortError; writing stops; bill = input + what was written", async () => {
    server.script(LONG);
    const controller = new AbortController();
    let seen = "";
    let count = 0;
    const { error } = await drain(
      (async function* () {
        for await (const chunk of await chat().stream("hi", { signal: controller.signal })) {
          seen += chunk.text;
          if (++count === 3) controller.abort();
          yield chunk;
        }
      })(),
    );
    expect(error).toMatchObject({ name: "AbortError", message: "This operation was aborted" });
    const entry = await onlyEntry();
    expect(server.requests[0]?.aborted).toBe(true);
    expect(entry).toMatchObject({ inputTokens: 10, complete: false, fault: null, status: 200 });
    // The server wrote at least what the client saw and stopped long before the 52 events of the whole answer.
    expect(entry.writtenChars).toBeGreaterThanOrEqual(seen.length);
    expect(entry.writtenEvents).toBeGreaterThanOrEqual(3);
    expect(entry.writtenEvents).toBeLessThan(10);
    expect(entry.outputTokens).toBe(expectedOutput(entry.writtenChars));
    expect(entry.outputTokens).toBeGreaterThan(0);
  });

  it("raw SDK stream aborted after 3 chunks: iteration just ends (no error); same bill rule", async () => {
    server.script(LONG);
    const controller = new AbortController();
    const stream = await sdk().chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES, stream: true }, { signal: controller.signal });
    let count = 0;
    for await (const _chunk of stream) if (++count === 3) controller.abort();
    expect(count).toBe(3); // no error thrown, and nothing after the abort
    const entry = await onlyEntry();
    expect(entry.complete).toBe(false);
    expect(entry.outputTokens).toBe(expectedOutput(entry.writtenChars));
  });

  it("deterministic: abort a stalled stream after exactly its K events (Responses API)", async () => {
    server.script({ fault: "hang", faultAfterChunks: 7, content: CONTENT, usage: { ...USAGE, reasoningTokens: 10 } });
    const controller = new AbortController();
    let text = "";
    const { error } = await drain(
      (async function* () {
        for await (const chunk of await responses().stream("hi", { signal: controller.signal })) {
          text += chunk.text;
          if (text.length === 12) controller.abort(); // created, in_progress, item, part, then 3 deltas of 4
          yield chunk;
        }
      })(),
    );
    expect(error).toMatchObject({ name: "AbortError" });
    // visible 30 tokens over 40 chars, 12 written → 9; + 10 reasoning
    expect(await onlyEntry()).toMatchObject({ inputTokens: 100, outputTokens: 19, reasoningTokens: 10, writtenEvents: 7, writtenChars: 12, complete: false });
  });

  it("a non-streaming request aborted during chunkDelayMs stops at once and bills the input only (status 0)", async () => {
    server.script({ chunkDelayMs: 60_000, usage: USAGE });
    const controller = new AbortController();
    const pending = failure(chat().invoke("hi", { signal: controller.signal }));
    await until(() => server.requests.length === 1);
    controller.abort();
    expect(await pending).toMatchObject({ name: "AbortError", message: "Request was aborted." });
    expect(await onlyEntry()).toMatchObject({ inputTokens: 100, outputTokens: 0, status: 0, complete: false });
  });
});

/**
 * rawUsage: what LangChain 1.6 makes of a provider's bad usage numbers. These are
 * the shapes the library has to defend against. Observed:
 *
 * - Strings: Chat Completions invoke does `(undefined ?? 0) + "12"`, so counts become
 *   the STRINGS "012" / "05" / "017" while cache/reasoning details stay "3" / "2";
 *   streaming (both APIs) concatenates every count with a leading "0" ("012", "03", …);
 *   Responses invoke passes them through as "12" / "5" / "17" / "3" / "2". Never numbers, never NaN.
 * - Negative / fractional / absurd (1e15) / contradictory (cached > prompt) numbers pass through untouched.
 * - `usage: null`: Chat Completions invoke has no counts (details `{}`), stream has no
 *   usage_metadata at all; the Responses API reports 0 / 0 / 0, i.e. a paid call that looks free.
 * - `usage: {}`: Chat invoke has no counts; Chat stream and both Responses paths report 0 / 0 / 0.
 *
 * The bill is always the derived usage (here 40 in / 8 out).
 */
describe("rawUsage", () => {
  const STRINGS = {
    chat: { prompt_tokens: "12", completion_tokens: "5", total_tokens: "17", prompt_tokens_details: { cached_tokens: "3" }, completion_tokens_details: { reasoning_tokens: "2" } },
    responses: { input_tokens: "12", output_tokens: "5", total_tokens: "17", input_tokens_details: { cached_tokens: "3" }, output_tokens_details: { reasoning_tokens: "2" } },
  };
  const scripted = { usage: { promptTokens: 40, completionTokens: 8 } };
  const invokeUsage = async (api: "chat" | "responses") => (await model(api).invoke("hi")).usage_metadata;
  const streamUsage = async (api: "chat" | "responses") => {
    const { items, error } = await drain(model(api).stream("hi"));
    expect(error).toBeUndefined();
    return items.reduce((a, b) => a.concat(b)).usage_metadata;
  };

  it("is sent verbatim on the wire (JSON body, last chat chunk, response.completed) with no extraUsage merged", async () => {
    server.script(
      { rawUsage: STRINGS.chat, extraUsage: { cost: 1 } },
      { rawUsage: STRINGS.chat },
      { rawUsage: STRINGS.responses },
    );
    const json = await sdk().chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES });
    expect(json.usage).toEqual(STRINGS.chat);
    const { items } = await drain(sdk().chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES, stream: true, stream_options: { include_usage: true } }));
    expect(items.at(-1)?.usage).toEqual(STRINGS.chat);
    const events = await drain(sdk().responses.create({ model: "gpt-4o-mini", input: "hi", stream: true }));
    const completed = events.items.at(-1);
    expect(completed?.type === "response.completed" && completed.response.usage).toEqual(STRINGS.responses);
  });

  it("token counts as strings: LangChain keeps strings (and prefixes '0' when it adds them up)", async () => {
    server.script(...Array.from({ length: 4 }, (_, i) => ({ ...scripted, rawUsage: i < 2 ? STRINGS.chat : STRINGS.responses })));
    expect(await invokeUsage("chat")).toEqual({
      input_tokens: "012",
      output_tokens: "05",
      total_tokens: "017",
      input_token_details: { cache_read: "3" },
      output_token_details: { reasoning: "2" },
    });
    expect(await streamUsage("chat")).toEqual({
      input_tokens: "012",
      output_tokens: "05",
      total_tokens: "017",
      input_token_details: { cache_read: "03" },
      output_token_details: { reasoning: "02" },
    });
    expect(await invokeUsage("responses")).toEqual({
      input_tokens: "12",
      output_tokens: "5",
      total_tokens: "17",
      input_token_details: { cache_read: "3" },
      output_token_details: { reasoning: "2" },
    });
    expect(await streamUsage("responses")).toMatchObject({ input_tokens: "012", output_tokens: "05", total_tokens: "017" });
    expect(server.bill.map((e) => [e.inputTokens, e.outputTokens, e.complete])).toEqual(Array.from({ length: 4 }, () => [40, 8, true]));
  });

  // [label, Chat Completions usage, Responses API usage, usage_metadata LangChain reports for both]
  const numbers = (input: number, output: number, total: number) => ({
    chat: { prompt_tokens: input, completion_tokens: output, total_tokens: total },
    responses: { input_tokens: input, output_tokens: output, total_tokens: total },
    lc: { input_tokens: input, output_tokens: output, total_tokens: total },
  });
  const odd = numbers(-5, 2.5, -2.5);
  const huge = numbers(1e15, 1e15, 2e15);
  const base = numbers(10, 5, 15);
  it.each([
    ["negative / fractional", odd.chat, odd.responses, odd.lc],
    ["absurd", huge.chat, huge.responses, huge.lc],
    [
      "cached > prompt, reasoning > completion",
      { ...base.chat, prompt_tokens_details: { cached_tokens: 50 }, completion_tokens_details: { reasoning_tokens: 9 } },
      { ...base.responses, input_tokens_details: { cached_tokens: 50 }, output_tokens_details: { reasoning_tokens: 9 } },
      { ...base.lc, input_token_details: { cache_read: 50 }, output_token_details: { reasoning: 9 } },
    ],
  ])("%s numbers pass through LangChain untouched (both APIs, invoke and stream)", async (_label, chatRaw, responsesRaw, expected) => {
    server.script({ ...scripted, rawUsage: chatRaw }, { ...scripted, rawUsage: chatRaw }, { ...scripted, rawUsage: responsesRaw }, { ...scripted, rawUsage: responsesRaw });
    for (const usage of [await invokeUsage("chat"), await streamUsage("chat"), await invokeUsage("responses"), await streamUsage("responses")]) {
      expect(usage).toMatchObject(expected);
    }
    expect(server.billTotals()).toMatchObject({ inputTokens: 160, outputTokens: 32, requests: 4 });
  });

  it.each([
    ["null", null],
    ["{}", {}],
  ])("usage %s: no counts, or zeros that look like a free call", async (label, raw) => {
    server.script(...Array.from({ length: 4 }, () => ({ ...scripted, rawUsage: raw })));
    const counts = (u: AIMessageChunk["usage_metadata"]) => (u ? [u.input_tokens, u.output_tokens, u.total_tokens] : undefined);
    const none = [undefined, undefined, undefined];
    const zeros = [0, 0, 0];
    expect(counts(await invokeUsage("chat"))).toEqual(none);
    expect(counts(await streamUsage("chat"))).toEqual(label === "null" ? undefined : zeros);
    expect(counts(await invokeUsage("responses"))).toEqual(zeros);
    expect(counts(await streamUsage("responses"))).toEqual(zeros);
    expect(server.billTotals()).toMatchObject({ inputTokens: 160, outputTokens: 32, requests: 4 });
  });
});
