import type { AIMessageChunk, BaseMessage } from "@langchain/core/messages";
import { getEncodingNameForModel, Tiktoken, type TiktokenBPE, type TiktokenModel } from "js-tiktoken/lite";
import type { Usage } from "./usage.js";
import { ZERO_USAGE } from "./usage.js";

type EncodingName = "o200k_base" | "cl100k_base";

// Ranks ship inside js-tiktoken, so counting never downloads anything; each set (a few MB) loads on first use.
const loaders: Record<EncodingName, () => Promise<TiktokenBPE>> = {
  o200k_base: async () => (await import("js-tiktoken/ranks/o200k_base")).default,
  cl100k_base: async () => (await import("js-tiktoken/ranks/cl100k_base")).default,
};
const encoders = new Map<EncodingName, Promise<Tiktoken>>();

function encodingFor(model: string): EncodingName {
  try {
    const name = getEncodingNameForModel(model as TiktokenModel);
    return name === "cl100k_base" ? "cl100k_base" : "o200k_base";
  } catch {
    return "o200k_base"; // current OpenAI models, and a fair approximation for others
  }
}

/** @internal The local tokenizer for a model. */
export function encoderFor(model: string): Promise<Tiktoken> {
  const name = encodingFor(model);
  let encoder = encoders.get(name);
  if (!encoder) {
    encoder = loaders[name]().then((ranks) => new Tiktoken(ranks));
    encoders.set(name, encoder);
  }
  return encoder;
}

/** @internal Text of a message's content, including the text inside content blocks. */
export function contentText(content: BaseMessage["content"]): string {
  if (typeof content === "string") return content;
  return content
    .map((part) => {
      if (typeof part === "string") return part;
      if ("text" in part && typeof part.text === "string") return part.text;
      return "";
    })
    .join("");
}

/** @internal The tool-call names and arguments a stream chunk carries (they are output tokens too). */
export function toolCallText(message: BaseMessage | undefined): string {
  let text = "";
  for (const chunk of (message as AIMessageChunk | undefined)?.tool_call_chunks ?? []) text += (chunk.name ?? "") + (chunk.args ?? "");
  return text;
}

/**
 * An image's worst-case input tokens: OpenAI's high-detail formula tops out at 1,105 tokens for gpt-4o-class
 * models (85 + 170 per 512px tile, 6 tiles); the -mini models count images about 33 times higher.
 */
function imageTokens(model: string): number {
  return /mini/.test(model) ? 36_835 : 1_105;
}

function countImages(content: BaseMessage["content"]): number {
  if (typeof content === "string") return 0;
  return content.filter((part) => typeof part === "object" && /image/.test(String((part as { type?: unknown }).type))).length;
}

// OpenAI's documented chat overhead: 3 tokens per message, 1 per name, 3 to prime the reply.
const PER_MESSAGE = 3;
const PER_NAME = 1;
const REPLY_PRIMING = 3;

/** @internal Counts the input tokens of a chat request locally: messages, tool calls and tool definitions. */
export async function countInputTokens(messages: readonly BaseMessage[], model: string, tools?: unknown): Promise<number> {
  const encoder = await encoderFor(model);
  let total = REPLY_PRIMING;
  for (const message of messages) {
    total += PER_MESSAGE + encoder.encode(message.getType()).length + encoder.encode(contentText(message.content)).length;
    if (message.name) total += PER_NAME + encoder.encode(message.name).length;
    total += countImages(message.content) * imageTokens(model);
    const toolCalls = (message as { tool_calls?: unknown[] }).tool_calls;
    if (toolCalls?.length) total += encoder.encode(JSON.stringify(toolCalls)).length;
  }
  if (Array.isArray(tools) && tools.length) total += encoder.encode(JSON.stringify(tools)).length;
  return total;
}

/** @internal Counts the output tokens of a reply locally: its text and its tool calls. */
export async function countOutputTokens(message: BaseMessage | undefined, model: string): Promise<number> {
  if (!message) return 0;
  const encoder = await encoderFor(model);
  let total = encoder.encode(contentText(message.content)).length;
  const toolCalls = (message as { tool_calls?: Array<{ name: string; args: unknown }> }).tool_calls;
  for (const call of toolCalls ?? []) total += encoder.encode(call.name + JSON.stringify(call.args)).length;
  return total;
}

/**
 * @internal Estimates a call's usage when the response carried none (a proxy that drops it, an aborted
 * stream). Cache and reasoning tokens can't be seen locally, so they count as plain input and output.
 */
export async function estimateUsage(
  messages: readonly BaseMessage[],
  reply: BaseMessage | undefined,
  model: string,
  tools?: unknown,
): Promise<Usage> {
  const [inputTokens, outputTokens] = await Promise.all([
    countInputTokens(messages, model, tools),
    countOutputTokens(reply, model),
  ]);
  return { ...ZERO_USAGE, inputTokens, outputTokens };
}
