/**
 * `npm run example:langfuse`: a metered agent run traced to Langfuse with costs, through both Langfuse
 * LangChain SDKs (v3 `langfuse-langchain`, v5 `@langfuse/langchain` on OpenTelemetry), then a run stopped by
 * its budget.
 *
 * Offline by default: the model is the loopback OpenAI-compatible server in test/support, and Langfuse is the
 * loopback receiver in test/support, which prints what it received. Set LANGFUSE_PUBLIC_KEY and
 * LANGFUSE_SECRET_KEY (and LANGFUSE_BASE_URL for a self-hosted server) to send to Langfuse instead, and
 * OPENAI_API_KEY to call OpenAI.
 */
import { LangfuseSpanProcessor } from "@langfuse/otel";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { createAgent, tool } from "langchain";
import { z } from "zod";
import { BudgetExceededError, MeteredChatModel } from "langchain-metered";
import { CallbackHandler as LangfuseV5Handler } from "langchain-metered/langfuse";
import { CallbackHandler as LangfuseV3Handler } from "langchain-metered/langfuse-langchain";
import { type LangfuseReceiver, startFakeOpenAI, startLangfuseReceiver } from "./offline.js";

const liveLangfuse = Boolean(process.env.LANGFUSE_PUBLIC_KEY && process.env.LANGFUSE_SECRET_KEY);
const liveOpenAI = Boolean(process.env.OPENAI_API_KEY);
const receiver = liveLangfuse ? undefined : await startLangfuseReceiver();
const openai = liveOpenAI ? undefined : await startFakeOpenAI({ defaultReply: scriptedAgent });

const langfuse = receiver
  ? { publicKey: receiver.publicKey, secretKey: receiver.secretKey, baseUrl: receiver.url }
  : { baseUrl: process.env.LANGFUSE_BASE_URL ?? process.env.LANGFUSE_BASEURL ?? "https://cloud.langfuse.com" };
const connection = openai ? { apiKey: "offline", configuration: { baseURL: openai.url } } : {};

const getWeather = tool(async ({ city }) => `It is 18°C and sunny in ${city}.`, {
  name: "get_weather",
  description: "Current weather in a city.",
  schema: z.object({ city: z.string() }),
});
const question = { messages: [{ role: "user", content: "What's the weather in Paris and in Lyon?" }] };
const agentWith = (limitUsd: number) =>
  createAgent({ model: new MeteredChatModel({ model: "gpt-4o-mini", temperature: 0, budget: { limitUsd }, ...connection }), tools: [getWeather] });

// v3: the handler has its own Langfuse client; flush it before exiting.
{
  const handler = new LangfuseV3Handler(langfuse);
  await agentWith(2).invoke(question, { callbacks: [handler] });
  await handler.flushAsync();
  report("langfuse-langchain (v3)");
}

// v5: spans go through OpenTelemetry; the LangfuseSpanProcessor exports them.
const processor = new LangfuseSpanProcessor(langfuse);
const provider = new NodeTracerProvider({ spanProcessors: [processor] });
provider.register();
try {
  await agentWith(2).invoke(question, { callbacks: [new LangfuseV5Handler()] });
  await processor.forceFlush();
  report("@langfuse/langchain (v5)");

  // The same run with a budget too small to finish: the trace says why it stopped.
  try {
    await agentWith(0.0003).invoke(question, { callbacks: [new LangfuseV5Handler()] });
  } catch (error) {
    if (!BudgetExceededError.isInstance(error)) throw error;
    console.log(`\nstopped: ${error.message}`);
  }
  await processor.forceFlush();
  report("@langfuse/langchain (v5), budget $0.0003");
} finally {
  await provider.shutdown();
  await receiver?.close();
  await openai?.close();
}

function report(title: string) {
  if (!receiver) {
    console.log(`\n${title}: sent to ${langfuse.baseUrl}`);
    return;
  }
  const generations = receiver.generations();
  console.log(`\n${title}: received ${receiver.events.length} ingestion events, ${receiver.spans.length} spans`);
  console.table(generations.map(row));
  const first = generations[0];
  console.log(`usage keys: ${Object.keys(first?.usageDetails ?? {}).join(", ")}`);
  console.log(`cost keys:  ${Object.keys(first?.costDetails ?? {}).join(", ")}`);
  receiver.reset();
}

function row(generation: ReturnType<LangfuseReceiver["generations"]>[number]) {
  const metered = generation.metadata?.metered as
    | { price?: { source: string; version?: string }; budget?: { decision: string; spentUsd: number; remainingUsd: number } }
    | undefined;
  const budget = metered?.budget;
  return {
    trace: generation.traceId?.slice(0, 8),
    model: generation.model,
    tokens: `${generation.usageDetails?.total ?? "?"}`,
    "cost (USD)": generation.costDetails?.total?.toFixed(8),
    price: metered?.price && `${metered.price.source}@${metered.price.version ?? ""}`,
    budget: budget && `${budget.decision}, $${budget.spentUsd} spent, $${budget.remainingUsd} left`,
    level: generation.level ?? "",
  };
}

/** The offline server plays the model: it asks for the weather of each city, then answers. */
function scriptedAgent(request: { body: { messages?: Array<{ role: string }> } }) {
  const messages = request.body.messages ?? [];
  const toolResults = messages.filter((m) => m.role === "tool").length;
  const usage = { promptTokens: 900 + 150 * messages.length, completionTokens: 60, cachedTokens: messages.length > 2 ? 512 : 0 };
  if (toolResults < 2) {
    return { toolCalls: [{ name: "get_weather", arguments: { city: toolResults === 0 ? "Paris" : "Lyon" } }], usage };
  }
  return { content: "Both cities are at 18°C and sunny.", usage };
}
