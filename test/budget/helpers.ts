/**
 * Shared fixtures for the budget tests: one loopback fake OpenAI per test file, models pointed at it,
 * and the exact figures every test reasons with.
 */
import { ChatOpenAI } from "@langchain/openai";
import { tool } from "langchain";
import { afterAll, afterEach, beforeAll } from "vitest";
import { z } from "zod";
import { type Cost, MeteredChatModel, type MeteredChatModelFields } from "../../src/index.js";
import { type FakeOpenAI, type ScriptedReply, startFakeOpenAI } from "../support/openai-server.js";

/** gpt-4o-mini: 1000 × $0.15/1M + 500 × $0.60/1M = $0.00015 + $0.0003 = $0.00045 a call. */
export const USAGE = { promptTokens: 1000, completionTokens: 500 } as const;
export const CALL_USD = 0.00045;
export const CALL_NANO = 450_000;

/**
 * Starts a fake OpenAI for the file; the returned getter gives the live server. The tokenizer is warmed
 * up first (a reply without usage makes the model count tokens locally), so cut-short calls, which are
 * priced by counting, settle promptly. The warm-up uses a throwaway server: loading the ranks takes
 * seconds, long enough for its keep-alive socket to time out under a test's first request.
 */
export function useFakeOpenAI(): () => FakeOpenAI {
  let server: FakeOpenAI | undefined;
  beforeAll(async () => {
    const warmUp = await startFakeOpenAI({ defaultReply: { usage: null } });
    await meteredModel(warmUp, { budget: false }).invoke("warm up the tokenizer");
    await warmUp.close();
    server = await startFakeOpenAI();
  });
  afterEach(() => server?.reset());
  afterAll(async () => server?.close());
  return () => {
    if (!server) throw new Error("fake OpenAI not started");
    return server;
  };
}

export function meteredModel(server: FakeOpenAI, fields: Partial<MeteredChatModelFields> = {}): MeteredChatModel {
  return new MeteredChatModel({
    model: "gpt-4o-mini",
    apiKey: "test",
    maxRetries: 0,
    configuration: { baseURL: server.url },
    ...fields,
  });
}

export function plainModel(server: FakeOpenAI, model = "gpt-4o-mini"): ChatOpenAI {
  return new ChatOpenAI({ model, apiKey: "test", maxRetries: 0, configuration: { baseURL: server.url } });
}

export const echoTool = tool(async ({ x }: { x: string }) => `echo: ${x}`, {
  name: "echo",
  description: "Echoes its input.",
  schema: z.object({ x: z.string() }),
});

/** A reply that asks for the echo tool again: an agent given it as default loops until something stops it. */
export const LOOP_REPLY: ScriptedReply = { usage: USAGE, toolCalls: [{ name: "echo", arguments: { x: "again" } }] };

/** The cost a MeteredChatModel put on a message (`response_metadata` is untyped). */
export function costOf(message: { response_metadata: unknown }): Cost | undefined {
  return (message.response_metadata as { cost?: Cost } | undefined)?.cost;
}

export const userMessage = (content: string) => ({ messages: [{ role: "user", content }] });

/** Resolves with what `promise` rejected with; fails the test if it resolved. */
export async function rejectionOf(promise: PromiseLike<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the promise to reject, but it resolved");
}

/** Polls `check` every 10 ms until it is true or `ms` pass; returns its last value. */
export async function eventually(check: () => boolean, ms = 2000): Promise<boolean> {
  const until = Date.now() + ms;
  while (!check() && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
  return check();
}
