/**
 * What the corpus test and its benchmark share: the vectors, and a vector's call through its metered model
 * against the replay server.
 */
import { readdirSync } from "node:fs";
import { ChatAnthropic } from "@langchain/anthropic";
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { AIMessageChunk, BaseMessage } from "@langchain/core/messages";
import { ChatGoogleGenerativeAI } from "@langchain/google-genai";
import { meter, MeteredChatModel } from "../../src/index.js";
import type { ReplayServer } from "./replay-server.js";
import type { Vector } from "./vector.js";

/** Every vector in `vectors/*.ts`, in file order. */
export async function loadCorpus(): Promise<Vector[]> {
  const dir = new URL("./vectors/", import.meta.url);
  const files = readdirSync(dir).filter((file) => file.endsWith(".ts")).sort();
  return (await Promise.all(files.map(async (file) => (await import(new URL(file, dir).href)).vectors as Vector[]))).flat();
}

/** The model a vector's reply goes through, metered, without a budget; its requests go to `replay`. */
export function modelFor(vector: Vector, replay: ReplayServer): BaseChatModel {
  // Whatever the SDK asks of a provider's URL goes to the replay server, path kept.
  const toReplay = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    return fetch(`${replay.url}${url.pathname}${url.search}`, init);
  };
  const metering = { budget: false as const, ...vector.metering };
  const fields = { model: vector.model, apiKey: "test", maxRetries: 0, ...vector.fields };
  switch (vector.client) {
    case "openai-chat":
    case "openai-responses":
      return new MeteredChatModel({
        ...fields,
        ...metering,
        ...(vector.client === "openai-responses" ? { useResponsesApi: true } : {}),
        configuration: { baseURL: vector.baseURL ?? replay.url, fetch: toReplay },
      });
    case "anthropic":
      return meter(new ChatAnthropic({ ...fields, anthropicApiUrl: replay.url }), metering);
    case "gemini":
      return meter(new ChatGoogleGenerativeAI({ ...fields, baseUrl: replay.url }), metering);
  }
}

/** Sends one vector's call (its reply queued on `replay`) and returns the answer, a stream concatenated. */
export async function answer(vector: Vector, replay: ReplayServer): Promise<BaseMessage> {
  replay.reset();
  replay.queue(vector.reply);
  const model = modelFor(vector, replay);
  if (!vector.stream) return model.invoke("Hello");
  let message: AIMessageChunk | undefined;
  for await (const chunk of await model.stream("Hello")) message = message ? message.concat(chunk) : chunk;
  if (!message) throw new Error(`${vector.name}: the stream had no chunk`);
  return message;
}
