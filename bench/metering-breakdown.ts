/**
 * Where metering's CPU goes, client side only: the same calls as `metering`, but `fetch` returns canned
 * responses (recorded once from the fake server), so no sockets, no server and no kernel time blur the
 * few tens of µs we are looking for. Each row is one ablation, interleaved against its own baseline.
 *
 * Rows: what ONE LangChain callback handler costs by itself (LangChain serializes the model, makes a run
 * id, and dispatches start/token/end events once any handler is attached); what importing the library
 * costs a plain ChatOpenAI (its per-run budget handler); metering with the budget off; metering as
 * shipped; and metering as shipped in an app that already has a callback handler (e.g. tracing).
 */
import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import type { AIMessage } from "@langchain/core/messages";
import { ChatOpenAI } from "@langchain/openai";
import { MeteredChatModel } from "../src/index.js";
import { startFakeOpenAI } from "../test/support/openai-server.js";
import { assert, compare, section, type Case } from "./harness.js";
import { checkCost, checkUsage, costOf, drain, MODEL, PROMPT, SCRIPTED_USAGE, withLibrary, withoutLibrary } from "./metering.js";

/** A handler that does nothing: what LangChain's callback machinery costs on its own. */
class NoopHandler extends BaseCallbackHandler {
  name = "bench_noop";
  override async handleChatModelStart(): Promise<void> {}
  override async handleLLMEnd(): Promise<void> {}
}

/** Records one JSON and one SSE response from the fake server, then serves copies of them. */
async function cannedFetch(): Promise<typeof fetch> {
  const server = await startFakeOpenAI({ defaultReply: { usage: SCRIPTED_USAGE } });
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
  const fetch = await cannedFetch();
  const fields = { model: MODEL, apiKey: "test", maxRetries: 0, configuration: { baseURL: "http://canned.invalid/v1", fetch } };
  const plain = new ChatOpenAI(fields);
  const metered = new MeteredChatModel(fields);
  const unbudgeted = new MeteredChatModel({ ...fields, budget: false });
  const noop = () => [new NoopHandler()];

  type Variant = { label: string; model: ChatOpenAI; setup: () => void; callbacks?: () => BaseCallbackHandler[] };
  const A: Variant = { label: "ChatOpenAI", model: plain, setup: withoutLibrary };
  const rows: Array<[string, Variant, Variant]> = [
    ["one no-op callback handler", A, { ...A, label: "ChatOpenAI + no-op handler", callbacks: noop }],
    ["library imported (per-run budget handler)", A, { ...A, label: "ChatOpenAI, library imported", setup: withLibrary }],
    ["metering only (budget: false, no run budget)", A, { label: "MeteredChatModel budget:false", model: unbudgeted, setup: withoutLibrary }],
    ["metering as shipped", A, { label: "MeteredChatModel", model: metered, setup: withLibrary }],
    [
      "metering as shipped, app already has a handler",
      { ...A, label: "ChatOpenAI + no-op handler", callbacks: noop },
      { label: "MeteredChatModel + no-op handler", model: metered, setup: withLibrary, callbacks: noop },
    ],
  ];
  const isMetered = (v: Variant) => v.model instanceof MeteredChatModel;

  const invoke = (v: Variant): Case<AIMessage> => ({
    label: v.label,
    setup: v.setup,
    op: () => v.model.invoke(PROMPT, { callbacks: v.callbacks?.() }),
    check: (m) => {
      checkUsage(m);
      if (isMetered(v)) checkCost(costOf(m));
    },
  });
  const stream = (v: Variant): Case<Awaited<ReturnType<typeof drain>>> => ({
    label: v.label,
    setup: v.setup,
    op: () => drain(v.model, { callbacks: v.callbacks?.() }),
    check: ({ usageChunk }) => {
      checkUsage(usageChunk);
      if (isMetered(v)) checkCost(costOf(usageChunk));
    },
  });
  try {
    for (const [name, base, cand] of rows) await compare(`invoke: ${name}`, invoke(base), invoke(cand));
    for (const [name, base, cand] of rows) await compare(`stream: ${name}`, stream(base), stream(cand));
  } finally {
    withLibrary();
  }
});
