/**
 * The corpus: provider responses in the shapes their API references document (vectors/*.ts), replayed byte
 * for byte from loopback through the real SDKs and LangChain's provider packages, each priced by the
 * library and checked against a figure worked out by hand from the list price, to the nano-dollar.
 */
import { readdirSync } from "node:fs";
import { ChatAnthropic } from "@langchain/anthropic";
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { AIMessageChunk, BaseMessage } from "@langchain/core/messages";
import { ChatGoogleGenerativeAI } from "@langchain/google-genai";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { costOf, meter, MeteredChatModel } from "../../src/index.js";
import { detailsInNano } from "../support/cost.js";
import { type ReplayServer, startReplayServer } from "./replay-server.js";
import type { Covers, Vector } from "./vector.js";

const dir = new URL("./vectors/", import.meta.url);
const files = readdirSync(dir).filter((file) => file.endsWith(".ts")).sort();
const corpus: Vector[] = (await Promise.all(files.map(async (file) => (await import(new URL(file, dir).href)).vectors as Vector[]))).flat();

/**
 * Issue-13 classes whose fix hasn't landed yet: their vectors run as `it.fails` (they must fail, or the
 * class is fixed and belongs out of this list).
 */
const PENDING = new Set<Covers>([]);
const isPending = (vector: Vector) => [vector.covers ?? []].flat().some((covers) => PENDING.has(covers));

let replay: ReplayServer;
beforeAll(async () => {
  replay = await startReplayServer();
});
afterAll(() => replay.close());

/** Sends whatever the SDK asks of a provider's URL to the replay server, path kept. */
function toReplay(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const url = new URL(input instanceof Request ? input.url : String(input));
  return fetch(`${replay.url}${url.pathname}${url.search}`, init);
}

/** The model a vector's reply goes through, metered, without a budget. */
export function modelFor(vector: Vector, url: string): BaseChatModel {
  const metering = { budget: false as const, ...vector.metering };
  const fields = { model: vector.model, apiKey: "test", maxRetries: 0, ...vector.fields };
  switch (vector.client) {
    case "openai-chat":
    case "openai-responses":
      return new MeteredChatModel({
        ...fields,
        ...metering,
        ...(vector.client === "openai-responses" ? { useResponsesApi: true } : {}),
        configuration: { baseURL: vector.baseURL ?? url, fetch: toReplay },
      });
    case "anthropic":
      return meter(new ChatAnthropic({ ...fields, anthropicApiUrl: url }), metering);
    case "gemini":
      return meter(new ChatGoogleGenerativeAI({ ...fields, baseUrl: url }), metering);
  }
}

async function answer(vector: Vector): Promise<BaseMessage> {
  const model = modelFor(vector, replay.url);
  if (!vector.stream) return model.invoke("Hello");
  let message: AIMessageChunk | undefined;
  for await (const chunk of await model.stream("Hello")) message = message ? message.concat(chunk) : chunk;
  if (!message) throw new Error(`${vector.name}: the stream had no chunk`);
  return message;
}

describe("the corpus, to the nano-dollar", () => {
  it("has vectors for every client", () => {
    expect(new Set(corpus.map((v) => v.client))).toEqual(new Set(["openai-chat", "openai-responses", "anthropic", "gemini"]));
    expect(new Set(corpus.map((v) => v.name)).size).toBe(corpus.length);
  });

  const exact = corpus.filter((v) => !isPending(v));
  const pending = corpus.filter(isPending);
  const check = async (_name: string, vector: Vector) => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date(vector.at ?? "2025-11-15T12:00:00Z"));
    try {
      replay.reset();
      replay.queue(vector.reply);
      const cost = costOf(await answer(vector));
      expect(replay.requests, "one request, answered by the vector's reply").toHaveLength(1);
      expect(cost, vector.worked).toBeDefined();
      expect(cost?.nanoUsd, vector.worked).toBe(vector.expected.nanoUsd);
      expect(cost?.estimated, "estimated").toBe(vector.expected.estimated ?? false);
      if (vector.expected.details) expect(detailsInNano(cost!), vector.worked).toEqual(vector.expected.details);
      if (vector.expected.model) expect(cost?.model).toBe(vector.expected.model);
      if (vector.expected.provider) expect(cost?.provider).toBe(vector.expected.provider);
    } finally {
      vi.useRealTimers();
    }
  };
  it.each(exact.map((vector) => [vector.name, vector] as const))("%s", check);
  if (pending.length) it.fails.each(pending.map((vector) => [`${vector.name} (pending: ${[vector.covers].flat().join(", ")})`, vector] as const))("%s", check);
});
