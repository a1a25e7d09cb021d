/**
 * Realistic billing for the loopback fake OpenAI, for the hard-cap tests and bench/overshoot.ts.
 *
 * The fake's default usage (chars/4 of the JSON body) is not what OpenAI bills, and the hard cap's
 * guarantee rests on the local token count (plus its margin) not being below the server's prompt_tokens.
 * So these replies bill the way OpenAI does:
 *
 * - prompt_tokens: o200k_base tokens, counted as OpenAI documents for chat: 3 per message + the role + the
 *   content (+ 1 + the name when a message has one), + 3 to prime the reply. Tool calls in the history
 *   count their function name and arguments; tool definitions count as OpenAI renders them for the
 *   model (a TypeScript-like `namespace functions { … }`, much shorter than their JSON). Tool call ids
 *   are not counted. The Responses API's `input` items and `instructions` are counted the same way.
 * - completion_tokens: what the "model" writes, `min(requested max tokens, what it wants to write)` per
 *   choice (× n): the request's `max_tokens ?? max_completion_tokens ?? max_output_tokens`. The reply's
 *   content honours that limit too (it is made of " word", one token each), so streams stop at it.
 *
 * `ignoreMaxTokens` plays a server (or proxy) that does not honour the limit. `onBill` sees every bill,
 * so a test can add up what the server charged (aborted requests included).
 */
import { Tiktoken } from "js-tiktoken/lite";
import o200k from "js-tiktoken/ranks/o200k_base";
import type { RecordedRequest, ReplyFn, ScriptedReply, ToolCallScript } from "../support/openai-server.js";

const encoder = new Tiktoken(o200k);

/** o200k_base tokens in a text. */
export const tokensOf = (text: string): number => encoder.encode(text).length;

/** A reply text of exactly `n` o200k tokens (" word" is one token, and so is every repeat of it). */
export const words = (n: number): string => " word".repeat(Math.max(0, n));

/** Prices in nano-USD per token (USD per 1M tokens × 1000), as genai-prices has them. */
export const NANO_PER_TOKEN = {
  "gpt-4o": { input: 2_500, output: 10_000 },
  "gpt-4o-mini": { input: 150, output: 600 },
  "o3-mini": { input: 1_100, output: 4_400 },
  "gpt-5-mini": { input: 250, output: 2_000 },
} as const;
export type PricedModel = keyof typeof NANO_PER_TOKEN;

type Json = Record<string, unknown>;

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content.map((part) => (typeof part === "string" ? part : typeof (part as Json)?.text === "string" ? ((part as Json).text as string) : "")).join("");
}

/** A JSON-schema type as OpenAI's tool rendering writes it. */
function typeOf(schema: Json | undefined): string {
  if (!schema) return "any";
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  if (schema.type === "array") return `${typeOf(schema.items as Json | undefined)}[]`;
  if (schema.type === "integer") return "number";
  if (schema.type === "object") return "object";
  return typeof schema.type === "string" ? schema.type : "any";
}

/** Tool definitions as OpenAI renders them into the prompt (approximately: a TypeScript namespace). */
function renderTools(tools: unknown): string {
  if (!Array.isArray(tools) || tools.length === 0) return "";
  const lines = ["namespace functions {", ""];
  for (const raw of tools as Json[]) {
    const fn = (raw.function as Json | undefined) ?? raw; // Chat Completions nests it; Responses doesn't
    const parameters = (fn.parameters as Json | undefined) ?? {};
    const properties = (parameters.properties as Record<string, Json> | undefined) ?? {};
    const required = new Set((parameters.required as string[] | undefined) ?? []);
    if (typeof fn.description === "string") lines.push(`// ${fn.description}`);
    lines.push(`type ${String(fn.name)} = (_: {`);
    for (const [key, schema] of Object.entries(properties)) {
      if (typeof schema.description === "string") lines.push(`// ${schema.description}`);
      lines.push(`${key}${required.has(key) ? "" : "?"}: ${typeOf(schema)},`);
    }
    lines.push("}) => any;", "");
  }
  lines.push("} // namespace functions");
  return lines.join("\n");
}

const PER_MESSAGE = 3;
const REPLY_PRIMING = 3;

/** The prompt_tokens OpenAI bills for a request body (Chat Completions or Responses). */
export function promptTokens(req: Pick<RecordedRequest, "api" | "body">): number {
  const body = req.body as Json;
  let total = REPLY_PRIMING;
  const message = (role: string, text: string, name?: unknown) =>
    PER_MESSAGE + tokensOf(role) + tokensOf(text) + (typeof name === "string" ? 1 + tokensOf(name) : 0);
  if (req.api === "chat") {
    for (const m of (body.messages as Json[] | undefined) ?? []) {
      total += message(String(m.role), textOf(m.content), m.name);
      for (const call of (m.tool_calls as Json[] | undefined) ?? []) {
        const fn = call.function as Json;
        total += tokensOf(String(fn.name)) + tokensOf(String(fn.arguments));
      }
    }
  } else {
    if (typeof body.instructions === "string") total += message("system", body.instructions);
    const input = typeof body.input === "string" ? [{ role: "user", content: body.input }] : ((body.input as Json[] | undefined) ?? []);
    for (const item of input) {
      if (item.type === "function_call") total += PER_MESSAGE + tokensOf(String(item.name)) + tokensOf(String(item.arguments));
      else if (item.type === "function_call_output") total += PER_MESSAGE + tokensOf("tool") + tokensOf(textOf(item.output));
      else total += message(String(item.role ?? item.type), textOf(item.content));
    }
  }
  const tools = renderTools(body.tools);
  return total + (tools ? tokensOf(tools) : 0);
}

/** The request's max output tokens, whichever parameter carries it (undefined: none sent). */
export function requestedMaxTokens(body: Json): number | undefined {
  const value = body.max_tokens ?? body.max_completion_tokens ?? body.max_output_tokens;
  return typeof value === "number" ? value : undefined;
}

/** What one request was billed, in tokens and (for a known model) nano-USD. */
export interface Bill {
  req: RecordedRequest;
  promptTokens: number;
  /** All choices together. */
  completionTokens: number;
  /** undefined when the model is not in NANO_PER_TOKEN. */
  nanoUsd: number | undefined;
}

export interface BillingOptions {
  /** Tokens the "model" would write per choice if nothing stopped it. Default 500. */
  outputTokens?: number | ((req: RecordedRequest) => number);
  /** Reply with these tool calls instead of text, while the limit leaves room for them (else: text up to the limit). */
  toolCalls?: ToolCallScript[];
  /** A server (or proxy) that does not honour the max-tokens limit. */
  ignoreMaxTokens?: boolean;
  chunkDelayMs?: number;
  /** Characters per SSE delta; default 5 (one " word", one token, per chunk). */
  chunkSize?: number;
  /** Sees every bill. */
  onBill?: (bill: Bill) => void;
}

/** A reply function that bills as OpenAI does (see the header). */
export function billing(options: BillingOptions = {}): ReplyFn {
  return (req) => {
    const body = req.body as Json;
    const limit = options.ignoreMaxTokens ? undefined : requestedMaxTokens(body);
    const cap = (n: number) => (limit === undefined ? n : Math.min(limit, n));
    const wanted = typeof options.outputTokens === "function" ? options.outputTokens(req) : (options.outputTokens ?? 500);
    const choices = req.api === "chat" && typeof body.n === "number" && body.n > 1 ? body.n : 1;
    const toolTokens = (options.toolCalls ?? []).reduce(
      (sum, call) => sum + tokensOf(call.name) + tokensOf(typeof call.arguments === "string" ? call.arguments : JSON.stringify(call.arguments)),
      0,
    );
    const useTools = options.toolCalls !== undefined && (limit === undefined || toolTokens <= limit);
    const perChoice = useTools ? toolTokens : cap(wanted);
    const prompt = promptTokens(req);
    const completion = perChoice * choices;
    const price = NANO_PER_TOKEN[String(body.model) as PricedModel] as { input: number; output: number } | undefined;
    options.onBill?.({
      req,
      promptTokens: prompt,
      completionTokens: completion,
      nanoUsd: price ? prompt * price.input + completion * price.output : undefined,
    });
    const reply: ScriptedReply = {
      usage: { promptTokens: prompt, completionTokens: completion },
      chunkSize: options.chunkSize ?? 5,
      ...(options.chunkDelayMs !== undefined ? { chunkDelayMs: options.chunkDelayMs } : {}),
      ...(useTools ? { toolCalls: options.toolCalls } : { content: words(perChoice) }),
    };
    return reply;
  };
}

/** Seeded PRNG (mulberry32): the same seed gives the same trials on every machine. */
export function prng(seed: number): { next(): number; int(min: number, max: number): number; pick<T>(items: readonly T[]): T } {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (items) => items[Math.floor(next() * items.length)] as (typeof items)[number],
  };
}

const VOCABULARY = ["budget", "agent", "token", "price", "stream", "model", "limit", "call", "reply", "cost", "the", "a", "of", "why", "and"];

/** A prompt of about `n` words of mixed English and numbers (its token count varies with the words). */
export function randomPrompt(random: ReturnType<typeof prng>, n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(random.next() < 0.1 ? String(random.int(0, 99_999)) : random.pick(VOCABULARY));
  return out.join(" ");
}
