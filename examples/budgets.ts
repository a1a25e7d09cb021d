/**
 * `npm run example:budgets`: the ways to budget a run, side by side, offline against the loopback
 * OpenAI-compatible server in test/support (set OPENAI_API_KEY to use the real API):
 * 1. the model's own budget, per run, with nothing but the one-line swap;
 * 2. budgetMiddleware() for createAgent: the run ends with a message at its limit;
 * 3. withBudget() around any runnable, with a hard cap that can't be crossed;
 * 4. what a call costs when it can't be priced from its usage (a proxy that sends token counts as strings).
 */
import { createAgent, tool } from "langchain";
import { z } from "zod";
import { BudgetExceededError, InvalidOptionsError, InvalidUsageError, MeteredChatModel, ProviderResponseError, withBudget } from "langchain-metered";
import { budgetMiddleware } from "langchain-metered/agents";
import { billing, startFakeOpenAI } from "./offline.js";

const live = Boolean(process.env.OPENAI_API_KEY);
// Offline, the "model" keeps asking for the weather (billed as OpenAI bills it): only a budget ends the run.
const server = live ? undefined : await startFakeOpenAI({ defaultReply: billing({ toolCalls: [{ name: "get_weather", arguments: { city: "Paris" } }] }) });
const connection = server ? { apiKey: "offline", configuration: { baseURL: server.url } } : {};
const getWeather = tool(async ({ city }) => `It is 18°C and sunny in ${city}.`, {
  name: "get_weather",
  description: "Current weather in a city.",
  schema: z.object({ city: z.string() }),
});
const ask = { messages: [{ role: "user", content: "What's the weather in Paris?" }] };

try {
  // 1. The model's own budget: each agent.invoke is a run with $0.0002 of its own.
  const model = new MeteredChatModel({ model: "gpt-4o-mini", budget: { limitUsd: 0.0002 }, ...connection });
  const error = await createAgent({ model, tools: [getWeather] }).invoke(ask, { recursionLimit: 500 }).catch((e: unknown) => e);
  if (BudgetExceededError.isInstance(error)) console.log(`1. model budget: stopped (${error.stop}) at $${error.spentUsd} of $${error.limitUsd}`);

  // 2. budgetMiddleware: the run ends gracefully, its last message says why.
  const agent = createAgent({ model: new MeteredChatModel({ model: "gpt-4o-mini", ...connection }), tools: [getWeather], middleware: [budgetMiddleware({ limitUsd: 0.0002 })] });
  const { messages } = await agent.invoke(ask, { recursionLimit: 500 });
  console.log(`2. middleware: the run ended with "${String(messages.at(-1)?.content).split(" Raise")[0]}"`);

  // 3. withBudget and a hard cap: a fresh $0.0002 per invocation that the provider's bill can't cross.
  const capped = withBudget(createAgent({ model: new MeteredChatModel({ model: "gpt-4o-mini", maxTokens: 200, ...connection }), tools: [getWeather] }), { limitUsd: 0.0002, hardCap: true });
  const refused = await capped.invoke(ask, { recursionLimit: 500 }).catch((e: unknown) => e);
  if (BudgetExceededError.isInstance(refused)) console.log(`3. hard cap: ${refused.stop} at $${refused.spentUsd} spent, $${refused.heldUsd} held, of $${refused.limitUsd}`);

  // 4. Never $0: usage that can't be trusted is charged conservatively, and says so.
  if (server) {
    server.script({ content: "hi", rawUsage: { prompt_tokens: "12", completion_tokens: "5", total_tokens: "17" } });
    const costs: number[] = [];
    const strict = new MeteredChatModel({ model: "gpt-4o-mini", onCost: (record) => costs.push(record.cost.totalUsd), ...connection });
    const bad = await strict.invoke("hello").catch((e: unknown) => e);
    if (InvalidUsageError.isInstance(bad)) console.log(`4. corrupt usage: charged $${bad.chargedUsd} (onCost saw $${costs[0]}); ${bad.problems[0]}`);
    server.script({ fault: "html-200" });
    const html = await strict.invoke("hello").catch((e: unknown) => e);
    if (ProviderResponseError.isInstance(html)) console.log(`   an HTML page for an answer: ${html.message.split(". A proxy")[0]}.`);
  }

  // Options are checked when they are given, with the key most likely meant.
  try {
    new MeteredChatModel({ model: "gpt-4o-mini", budget: { limitUSD: 1 } as never, ...connection });
  } catch (e) {
    if (InvalidOptionsError.isInstance(e)) console.log(`options: ${e.problems[0]}`);
  }
} finally {
  await server?.close();
}
