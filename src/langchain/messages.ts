import type { AIMessageChunk, BaseMessage } from "@langchain/core/messages";
import { encoderFor } from "../usage/tokenizer.js";

/**
 * Reading LangChain messages for pricing: their text, and their size in tokens, counted locally (for a
 * response without usage, a call cut short, a hard cap's plan) or bounded from their bytes without a
 * tokenizer (every token of a byte-level BPE covers at least one byte).
 */

/** @internal Text of a message's content, including the text inside content blocks. */
export function contentText(content: BaseMessage["content"]): string {
  if (typeof content === "string") return content;
  let text = "";
  for (const part of content) {
    if (typeof part === "string") text += part;
    else if ("text" in part && typeof part.text === "string") text += part.text;
  }
  return text;
}

/** @internal The tool-call names and arguments a stream chunk carries (they are output tokens too). */
export function toolCallText(message: BaseMessage | undefined): string {
  let text = "";
  for (const chunk of (message as AIMessageChunk | undefined)?.tool_call_chunks ?? []) text += (chunk.name ?? "") + (chunk.args ?? "");
  return text;
}

/** @internal The UTF-8 size of a string, without a Buffer (the package also runs in browsers). */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) bytes += 1;
    else if (code >= 0xd800 && code <= 0xdbff) {
      bytes += 2; // a surrogate pair: 4 bytes for 2 code units
      i++;
    } else bytes += 2;
  }
  return bytes;
}

/**
 * An image's worst-case input tokens. OpenAI's high-detail formula tops out at 1,105 tokens for gpt-4o-class
 * models (85 + 170 per 512 px tile, 6 tiles); gpt-4o-mini counts images about 33 times higher (same price
 * per image, a lower price per token). Other providers count far fewer (Gemini 258 per image): 1,105 is a
 * bound for them too.
 */
export function imageTokens(model: string): number {
  return /(^|\/)gpt-4o-mini/.test(model) ? 36_835 : 1_105;
}

function countImages(content: BaseMessage["content"]): number {
  if (typeof content === "string") return 0;
  return content.filter((part) => typeof part === "object" && /image/.test(String((part as { type?: unknown }).type))).length;
}

// OpenAI's documented chat overhead: 3 tokens per message, 1 per name, 3 to prime the reply.
const PER_MESSAGE = 3;
const PER_NAME = 1;
const REPLY_PRIMING = 3;

/** What a request's input is made of, as text, counted once by either measure below. */
function inputParts(messages: readonly BaseMessage[], tools: unknown): { texts: string[]; overhead: number; images: number } {
  const texts: string[] = [];
  let overhead = REPLY_PRIMING;
  let images = 0;
  for (const message of messages) {
    overhead += PER_MESSAGE;
    texts.push(message.getType(), contentText(message.content));
    if (message.name) {
      overhead += PER_NAME;
      texts.push(message.name);
    }
    images += countImages(message.content);
    const toolCalls = (message as { tool_calls?: unknown[] }).tool_calls;
    if (toolCalls?.length) texts.push(JSON.stringify(toolCalls));
  }
  if (Array.isArray(tools) && tools.length) texts.push(JSON.stringify(tools));
  return { texts, overhead, images };
}

/** @internal Counts the input tokens of a chat request locally: messages, tool calls and tool definitions. */
export async function countInputTokens(messages: readonly BaseMessage[], model: string, tools?: unknown): Promise<number> {
  const encoder = await encoderFor(model);
  const { texts, overhead, images } = inputParts(messages, tools);
  let total = overhead + images * imageTokens(model);
  for (const text of texts) total += encoder.count(text);
  return total;
}

/**
 * @internal An upper bound on the input tokens of a chat request, from byte counts alone (no tokenizer):
 * what a hard cap plans with first, counting tokens only when the bound comes near the limit.
 */
export function inputTokenBound(messages: readonly BaseMessage[], model: string, tools?: unknown): number {
  const { texts, overhead, images } = inputParts(messages, tools);
  let total = overhead + images * imageTokens(model);
  for (const text of texts) total += utf8Length(text);
  return total;
}

/** @internal Counts the output tokens of a reply (or of the text a stream delivered) locally. */
export async function countOutputTokens(reply: BaseMessage | string | undefined, model: string): Promise<number> {
  if (reply === undefined) return 0;
  const encoder = await encoderFor(model);
  if (typeof reply === "string") return encoder.count(reply);
  let total = encoder.count(contentText(reply.content));
  const toolCalls = (reply as { tool_calls?: Array<{ name: string; args: unknown }> }).tool_calls;
  for (const call of toolCalls ?? []) total += encoder.count(call.name + JSON.stringify(call.args));
  return total;
}
