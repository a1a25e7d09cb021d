/**
 * A small app in a process of its own, for lazy-import.test.ts: it imports nothing of langchain-metered at
 * start-up. Mode "server": an HTTP server whose request handler imports the library (and `langchain`) on the
 * first request, after the server started, as apps that load heavy modules lazily do; every request runs a
 * looping agent under `budget: { limitUsd }`. Mode "timer": the library is first imported inside a timer
 * callback, and two agent runs start from there. Results go back over IPC.
 *
 * Usage: node --import tsx lazy-import-app.ts <mode> <openaiUrl> <limitUsd>
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

const [mode, openaiUrl, limit] = process.argv.slice(2);
const limitUsd = Number(limit);

/** One agent run, made with modules imported now: the calls it sent and how it ended. */
async function agentRun(label: string): Promise<{ label: string; outcome: string; spentUsd?: number }> {
  const { MeteredChatModel } = await import("../../src/index.js");
  const { createAgent, tool } = await import("langchain");
  const { z } = await import("zod");
  const echo = tool(async ({ x }: { x: string }) => `echo: ${x}`, { name: "echo", description: "Echoes.", schema: z.object({ x: z.string() }) });
  const model = new MeteredChatModel({ model: "gpt-4o-mini", apiKey: "test", maxRetries: 0, configuration: { baseURL: openaiUrl }, budget: { limitUsd } });
  const agent = createAgent({ model, tools: [echo] });
  try {
    await agent.invoke({ messages: [{ role: "user", content: label }] }, { recursionLimit: 50 });
    return { label, outcome: "finished" };
  } catch (error) {
    const e = error as { name?: string; stop?: string; spentUsd?: number };
    return { label, outcome: `${e.name}:${e.stop ?? ""}`, spentUsd: e.spentUsd };
  }
}

const envBefore = JSON.stringify(process.env);

if (mode === "server") {
  const server = createServer((req, res) => {
    const label = decodeURIComponent((req.url ?? "/").slice(1));
    void agentRun(label).then((result) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ ...result, envChanged: JSON.stringify(process.env) !== envBefore }));
    });
  });
  server.listen(0, "127.0.0.1", () => process.send?.({ type: "listening", port: (server.address() as AddressInfo).port }));
  process.on("message", (message) => {
    if (message === "stop") server.close(() => process.exit(0));
  });
} else {
  setTimeout(() => {
    void Promise.all([agentRun("timer A"), agentRun("timer B")]).then((results) => {
      process.send?.({ type: "results", results });
      process.exit(0);
    });
  }, 5);
}
