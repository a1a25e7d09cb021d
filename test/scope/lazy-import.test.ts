/**
 * Run budgets hold in any import order. Each scenario runs in a fresh Node process (lazy-import-app.ts), so
 * nothing of langchain-metered is loaded before the app decides to load it:
 * - a server that imports the library inside its first request handler, after it started listening: every
 *   request is an agent run with a budget of its own, stopped at its own limit (0.1.0 turned this into one
 *   budget for the life of the process: from the 4th request on, every call was refused);
 * - a library first imported inside a timer callback.
 *
 * Figures: every call costs $0.00045 (1,000 in × $0.15/1M + 500 out × $0.60/1M); with a $0.001 limit a
 * looping agent sends 3 calls ($0.00135) and the third throws `exceeded`.
 */
import { type ChildProcess, fork } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeOpenAI, startFakeOpenAI } from "../support/openai-server.js";

const APP = new URL("./lazy-import-app.ts", import.meta.url).pathname;
const LOOP = { usage: { promptTokens: 1000, completionTokens: 500 }, toolCalls: [{ name: "echo", arguments: { x: "again" } }] };
const LIMIT = "0.001";

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI({ defaultReply: LOOP });
});
afterAll(() => fake.close());

const firstUserMessage = (body: { messages?: Array<{ content?: unknown }> }) => body.messages?.[0]?.content;
const requestsOf = (label: string) => fake.requests.filter((r) => firstUserMessage(r.body) === label).length;

function start(mode: "server" | "timer"): { child: ChildProcess; next: () => Promise<Record<string, unknown>> } {
  const child = fork(APP, [mode, fake.url, LIMIT], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const messages: Array<Record<string, unknown>> = [];
  const waiting: Array<(message: Record<string, unknown>) => void> = [];
  child.on("message", (message) => {
    const wake = waiting.shift();
    if (wake) wake(message as Record<string, unknown>);
    else messages.push(message as Record<string, unknown>);
  });
  const next = () =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const queued = messages.shift();
      if (queued) return resolve(queued);
      waiting.push(resolve);
      child.once("exit", (code) => reject(new Error(`the app exited (${code}) before answering`)));
    });
  return { child, next };
}

describe("a server that imports the library in its first request handler", () => {
  it("gives every request's agent run a budget of its own: each stops at its own limit", { timeout: 60_000 }, async () => {
    const { child, next } = start("server");
    const { port } = (await next()) as { port: number };
    const ask = async (label: string) => (await fetch(`http://127.0.0.1:${port}/${encodeURIComponent(label)}`)).json() as Promise<Record<string, unknown>>;
    try {
      const sequential = [];
      for (const label of ["req 1", "req 2", "req 3", "req 4", "req 5"]) sequential.push(await ask(label));
      const parallel = await Promise.all(["par A", "par B", "par C"].map(ask));
      for (const result of [...sequential, ...parallel]) {
        expect(result).toMatchObject({ outcome: "BudgetExceededError:exceeded", spentUsd: 0.00135, envChanged: false });
        expect(requestsOf(result.label as string), String(result.label)).toBe(3);
      }
    } finally {
      child.send("stop");
    }
  });
});

describe("a library first imported inside a timer callback", () => {
  it("gives each agent run started there a budget of its own", { timeout: 60_000 }, async () => {
    const { next } = start("timer");
    const { results } = (await next()) as { results: Array<Record<string, unknown>> };
    expect(results).toHaveLength(2);
    for (const result of results) {
      expect(result).toMatchObject({ outcome: "BudgetExceededError:exceeded", spentUsd: 0.00135 });
      expect(requestsOf(result.label as string)).toBe(3);
    }
  });
});
