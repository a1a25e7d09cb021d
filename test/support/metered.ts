/**
 * Shared set-up for MeteredChatModel tests: one fake OpenAI server per file (reset before each test) and a
 * factory for models pointed at it. Nothing here prices anything.
 */
import type { AIMessageChunk, BaseMessage } from "@langchain/core/messages";
import { afterAll, beforeAll, beforeEach } from "vitest";
import { type Cost, type CostRecord, MeteredChatModel, type MeteredChatModelFields } from "../../src/index.js";
import { type FakeOpenAI, startFakeOpenAI } from "./openai-server.js";

export interface FakeContext {
  readonly server: FakeOpenAI;
  /** `new MeteredChatModel({ model: "gpt-4o-mini", apiKey: "test", maxRetries: 0, configuration: { baseURL } , ...fields })` */
  model(fields?: Partial<MeteredChatModelFields>): MeteredChatModel;
  /** Connection fields for the fake (for the two-argument constructor form). */
  connection(): Pick<MeteredChatModelFields, "apiKey" | "maxRetries" | "configuration">;
}

export function useFakeOpenAI(): FakeContext {
  let server: FakeOpenAI | undefined;
  beforeAll(async () => {
    server = await startFakeOpenAI();
  });
  afterAll(async () => {
    await server?.close();
  });
  beforeEach(() => server?.reset());
  const ctx: FakeContext = {
    get server() {
      if (!server) throw new Error("fake server not started");
      return server;
    },
    connection: () => ({ apiKey: "test", maxRetries: 0, configuration: { baseURL: ctx.server.url } }),
    model: (fields = {}) => new MeteredChatModel({ model: "gpt-4o-mini", ...ctx.connection(), ...fields }),
  };
  return ctx;
}

/** The cost on a message (undefined when there is none). */
export function costOf(message: BaseMessage | undefined): Cost | undefined {
  return (message?.response_metadata as Record<string, unknown> | undefined)?.cost as Cost | undefined;
}

/** Collects `onCost` records. */
export function recorder(): { records: CostRecord[]; onCost: (record: CostRecord) => void } {
  const records: CostRecord[] = [];
  return { records, onCost: (record) => void records.push(record) };
}

/** Concatenates a stream's chunks; counts the chunks that carried a cost. */
export async function collect(
  stream: AsyncIterable<AIMessageChunk>,
): Promise<{ message: AIMessageChunk; chunks: number; costChunks: number; lastHasCost: boolean }> {
  let message: AIMessageChunk | undefined;
  let chunks = 0;
  let costChunks = 0;
  let lastHasCost = false;
  for await (const chunk of stream) {
    message = message ? message.concat(chunk) : chunk;
    chunks++;
    lastHasCost = costOf(chunk) !== undefined;
    if (lastHasCost) costChunks++;
  }
  if (!message) throw new Error("empty stream");
  return { message, chunks, costChunks, lastHasCost };
}
