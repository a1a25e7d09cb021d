/**
 * One corpus vector: a provider response in the shape its API reference documents, the model and client
 * it goes through, and the cost worked out by hand from the list price, in integer nano-USD.
 */
import type { ReplayedReply } from "./replay-server.js";

/** The issue-13 classes of mispricing: a vector covering one fails without its fix. */
export type Covers =
  | "anthropic-stream-cumulative-input"
  | "anthropic-server-tool-requests"
  | "gemini-thinking-stream"
  | "gemini-tool-use-prompt"
  | "gemini-modalities"
  | "audio-without-rate"
  | "routed-model"
  | "response-time-price"
  | "xai-reasoning-outside-completion";

/** Which LangChain client the response goes through (and so which SDK parses it). */
export type Client =
  | "openai-chat" // MeteredChatModel, Chat Completions
  | "openai-responses" // MeteredChatModel with useResponsesApi: true
  | "anthropic" // meter(new ChatAnthropic(...))
  | "gemini"; // meter(new ChatGoogleGenerativeAI(...))

export interface Vector {
  /** Unique, says what it covers: "anthropic: stream, web search, 3 server iterations". */
  name: string;
  client: Client;
  /** The model requested. */
  model: string;
  /**
   * For OpenAI-compatible providers, the provider's real base URL (it names the price table: Groq, DeepSeek,
   * OpenRouter, xAI, Azure…); the request is still answered by the replay server.
   */
  baseURL?: string;
  /** `stream()` rather than `invoke()`; the reply must then be SSE. */
  stream: boolean;
  /** Extra model fields (e.g. `{ n: 2 }`, `{ costSource: "reported" }` goes in `metering`). */
  fields?: Record<string, unknown>;
  /** Metering options (`prices`, `costSource`, `provider`); `budget: false` is always added. */
  metering?: Record<string, unknown>;
  /** The call's time, for date- and time-dependent prices (DeepSeek off-peak); default 2025-11-15T12:00:00Z. */
  at?: string;
  reply: ReplayedReply;
  /** What the call must cost: total and each detail, in nano-USD; `estimated` defaults to false. */
  expected: { nanoUsd: number; details?: Record<string, number>; estimated?: boolean; model?: string; provider?: string };
  /** The hand computation, token count × USD per 1M tokens, line by line. */
  worked: string;
  /** Where the list price comes from (page, and the date it was read), and genai-prices' data it agrees with. */
  price: string;
  /** The issue-13 classes this vector covers (it fails without their fixes). */
  covers?: Covers | Covers[];
  /** Where genai-prices' data is wrong or missing, with the evidence; the vector then carries an override. */
  priceDataGap?: string;
}
