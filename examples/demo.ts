/**
 * `npm run demo`: a small agent with one tool on MeteredChatModel, priced call by call.
 * Offline by default, against the repository's loopback OpenAI-compatible server (examples/offline.ts); set OPENAI_API_KEY
 * to run it against the real API.
 */
import { createAgent, tool } from "langchain";
import { z } from "zod";
import { BudgetExceededError, type CostRecord, MeteredChatModel } from "langchain-metered";
import { startFakeOpenAI } from "./offline.js";

const live = Boolean(process.env.OPENAI_API_KEY);
const server = live ? undefined : await startFakeOpenAI({ defaultReply: scriptedAgent });
const connection = server ? { apiKey: "offline", configuration: { baseURL: server.url } } : {};

const getWeather = tool(async ({ city }) => `It is 18°C and sunny in ${city}.`, {
  name: "get_weather",
  description: "Current weather in a city.",
  schema: z.object({ city: z.string() }),
});

async function run(title: string, budget: { limitUsd: number }) {
  const records: CostRecord[] = [];
  const model = new MeteredChatModel({ model: "gpt-4o-mini", temperature: 0, budget, onCost: (r) => records.push(r), ...connection });
  const agent = createAgent({ model, tools: [getWeather] });
  console.log(`\n${title} (budget $${budget.limitUsd} per run${live ? ", live API" : ", offline"})`);
  try {
    const result = await agent.invoke({ messages: [{ role: "user", content: "What's the weather in Paris and in Lyon?" }] });
    console.log(`answer: ${String(result.messages.at(-1)?.content)}`);
  } catch (error) {
    if (!BudgetExceededError.isInstance(error)) throw error;
    console.log(`stopped: ${error.message}`);
  }
  printTable(records);
}

function printTable(records: CostRecord[]) {
  const rows = records.map((r, i) => ({
    call: i + 1,
    model: r.model,
    input: r.usage.inputTokens,
    cached: r.usage.cacheReadTokens,
    output: r.usage.outputTokens,
    reasoning: r.usage.reasoningTokens,
    "cost (USD)": r.cost.totalUsd.toFixed(8),
    estimated: r.estimated,
  }));
  console.table(rows);
  const totalNano = records.reduce((sum, r) => sum + r.cost.nanoUsd, 0);
  console.log(`run total: $${(totalNano / 1e9).toFixed(8)} over ${records.length} calls`);
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

try {
  await run("A run with the default budget", { limitUsd: 2 });
  await run("The same run with a tiny budget", { limitUsd: 0.0003 });
} finally {
  await server?.close();
}
