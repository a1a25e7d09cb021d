/**
 * Where metering's CPU goes, client side only: the same calls as `metering`, but `fetch` returns canned
 * responses (recorded once from the fake server), so no sockets, no server and no kernel time blur the few
 * tens of µs we are looking for. All variants of a path run interleaved (bench/metering.ts `interleave`).
 *
 * Variants: plain ChatOpenAI; plain with one no-op callback handler (what LangChain's callback machinery costs
 * by itself: it serializes the model, makes run ids, dispatches start/token/end events); metered with the
 * default per-run budget, with a hard cap, with `budget: false` (metering only); and metered in an app that
 * already has a callback handler (e.g. tracing).
 */
import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import type { AIMessage } from "@langchain/core/messages";
import { ChatOpenAI } from "@langchain/openai";
import { startFakeOpenAI } from "../test/support/openai-server.js";
import { assert, section } from "./harness.js";
import {
  AS_OPENAI,
  checkCost,
  checkUsage,
  costOf,
  drain,
  interleave,
  loadLibrary,
  MODEL,
  PROMPT,
  REPLY_TEXT,
  report,
  SCRIPTED_USAGE,
  STREAM_CHUNKS,
  type Variant,
} from "./metering.js";

/** A handler that does nothing: what LangChain's callback machinery costs on its own. */
export class NoopHandler extends BaseCallbackHandler {
  name = "bench_noop";
  override async handleChatModelStart(): Promise<void> {}
  override async handleLLMEnd(): Promise<void> {}
}

/** Records one JSON and one SSE response from the fake server, then serves copies of them. */
export async function cannedFetch(): Promise<typeof fetch> {
  const server = await startFakeOpenAI({ defaultReply: { content: REPLY_TEXT, usage: SCRIPTED_USAGE } });
  const canned = new Map<boolean, { body: string; headers: Headers }>();
  const record: typeof fetch = async (url, init) => {
    const res = await fetch(url, init);
    const body = await res.text();
    canned.set(JSON.parse(String(init?.body)).stream === true, { body, headers: res.headers });
    return new Response(body, { status: res.status, headers: res.headers });
  };
  const fields = { model: MODEL, apiKey: "test", maxRetries: 0, configuration: { baseURL: server.url, fetch: record } };
  await new ChatOpenAI(fields).invoke(PROMPT);
  await drain(new ChatOpenAI(fields));
  await server.close();
  return async (_url, init) => {
    const reply = canned.get(JSON.parse(String(init?.body)).stream === true);
    assert(reply, "a canned response was recorded");
    return new Response(reply.body, { status: 200, headers: reply.headers });
  };
}

section("metering-breakdown", async () => {
  const lib = await loadLibrary();
  const fetch = await cannedFetch();
  const fields = { model: MODEL, apiKey: "test", maxRetries: 0, configuration: { baseURL: "http://canned.invalid/v1", fetch } };
  const plain = new ChatOpenAI(fields);
  const metered = new lib.MeteredChatModel({ ...fields, ...AS_OPENAI });
  const capped = new lib.MeteredChatModel({ ...fields, ...AS_OPENAI, budget: { hardCap: true } });
  const unbudgeted = new lib.MeteredChatModel({ ...fields, ...AS_OPENAI, budget: false });
  const noop = () => [new NoopHandler()];

  type Spec = { label: string; model: ChatOpenAI; callbacks?: () => BaseCallbackHandler[] };
  const specs: Spec[] = [
    { label: "A ChatOpenAI", model: plain },
    { label: "B ChatOpenAI + one no-op handler", model: plain, callbacks: noop },
    { label: "C MeteredChatModel (default budget)", model: metered },
    { label: "D MeteredChatModel, hardCap: true", model: capped },
    { label: "E MeteredChatModel, budget: false", model: unbudgeted },
    { label: "F MeteredChatModel + one no-op handler", model: metered, callbacks: noop },
  ];
  const isMetered = (s: Spec) => s.model instanceof lib.MeteredChatModel;

  const invoke = (s: Spec): Variant<AIMessage> => ({
    label: s.label,
    op: () => s.model.invoke(PROMPT, { callbacks: s.callbacks?.() }),
    check: (m) => {
      checkUsage(m);
      if (isMetered(s)) checkCost(costOf(m), lib);
    },
  });
  const stream = (s: Spec): Variant<Awaited<ReturnType<typeof drain>>> => ({
    label: s.label,
    op: () => drain(s.model, { callbacks: s.callbacks?.() }),
    check: ({ usageChunk, costChunk, count }) => {
      assert(count === STREAM_CHUNKS, `${STREAM_CHUNKS} chunks (got ${count})`);
      checkUsage(usageChunk);
      if (isMetered(s)) checkCost(costOf(costChunk), lib);
    },
  });
  await interleave("invoke, canned fetch", specs.map(invoke), { blocks: 60, blockSize: 40 });
  await interleave(`stream (${STREAM_CHUNKS} chunks), canned fetch`, specs.map(stream), { blocks: 60, blockSize: 20 });
  report("metering-breakdown", {}, ["B ChatOpenAI + one no-op handler"]);
});
