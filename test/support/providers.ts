/**
 * Shared set-up for the provider suites: one loopback fake per file (reset before each test) and factories
 * for the real provider models pointed at it. Nothing here prices anything.
 */
import { ChatAnthropic, type ChatAnthropicInput } from "@langchain/anthropic";
import { ChatGoogleGenerativeAI, type GoogleGenerativeAIChatInput } from "@langchain/google-genai";
import { afterAll, beforeAll, beforeEach } from "vitest";
import { type FakeAnthropic, startFakeAnthropic } from "./anthropic-server.js";
import { type FakeGemini, startFakeGemini } from "./gemini-server.js";

function useServer<T extends { reset(): void; close(): Promise<void> }>(start: () => Promise<T>): () => T {
  let server: T | undefined;
  beforeAll(async () => {
    server = await start();
  });
  afterAll(async () => server?.close());
  beforeEach(() => server?.reset());
  return () => {
    if (!server) throw new Error("fake server not started");
    return server;
  };
}

/** A fake Anthropic Messages API for the file. */
export const useFakeAnthropic = (): (() => FakeAnthropic) => useServer(startFakeAnthropic);
/** A fake Gemini API for the file. */
export const useFakeGemini = (): (() => FakeGemini) => useServer(startFakeGemini);

/** A real ChatAnthropic pointed at the fake. */
export function anthropicModel(server: FakeAnthropic, fields: Partial<ChatAnthropicInput> = {}): ChatAnthropic {
  return new ChatAnthropic({ model: "claude-sonnet-4-5", apiKey: "test", anthropicApiUrl: server.url, maxRetries: 0, ...fields });
}

/** A real ChatGoogleGenerativeAI pointed at the fake. */
export function geminiModel(server: FakeGemini, fields: Partial<GoogleGenerativeAIChatInput> = {}): ChatGoogleGenerativeAI {
  return new ChatGoogleGenerativeAI({ model: "gemini-2.5-pro", apiKey: "test", baseUrl: server.url, maxRetries: 0, ...fields });
}
