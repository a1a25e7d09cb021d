/**
 * Runs the loopback fake OpenAI server (test/support/openai-server.ts) in a child process, so the
 * benchmark process's `process.cpuUsage()` counts the client's CPU only, not the server's.
 *
 * As a child (`tsx bench/fake-server-process.ts --serve '<reply json>' ['<options json>']`) it starts the server
 * and sends `{ url }` over IPC; it exits when the parent goes away. As a module it exports `startFakeServer`.
 * Set BENCH_SERVER=inprocess to run the server in the benchmark process instead.
 *
 * `toolRound` makes the server play one tool round of an agent: a request that offers tools and doesn't end
 * with a tool result is answered with a call of that tool; any other request gets the scripted reply. (A
 * reply function can't cross the process boundary, so the behaviour is named here instead.)
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { type ReplyFn, startFakeOpenAI, type ScriptedReply } from "../test/support/openai-server.js";

export interface BenchServer {
  url: string;
  where: "child process" | "in process";
  close(): Promise<void>;
}

export interface ServerOptions {
  /** Play one tool round: answer a request offering tools (and not ending with a tool result) with a call of this tool. */
  toolRound?: { name: string; arguments: Record<string, unknown> };
}

/** The server's default reply: the scripted one, or, for `toolRound`, a tool call first. */
function replyFor(reply: ScriptedReply, options: ServerOptions): ScriptedReply | ReplyFn {
  const { toolRound } = options;
  if (!toolRound) return reply;
  const { content: _text, ...rest } = reply;
  const call: ScriptedReply = { ...rest, toolCalls: [toolRound] };
  return (request) => {
    const messages = (request.body?.messages ?? []) as Array<{ role?: string }>;
    const offersTools = Array.isArray(request.body?.tools) && request.body.tools.length > 0;
    return offersTools && messages.at(-1)?.role !== "tool" ? call : reply;
  };
}

export async function startFakeServer(reply: ScriptedReply, options: ServerOptions = {}): Promise<BenchServer> {
  if (process.env.BENCH_SERVER === "inprocess") {
    const server = await startFakeOpenAI({ defaultReply: replyFor(reply, options) });
    const timer = setInterval(() => void (server.requests.length = 0), 1000);
    return { url: server.url, where: "in process", close: async () => (clearInterval(timer), server.close()) };
  }
  const child = fork(fileURLToPath(import.meta.url), ["--serve", JSON.stringify(reply), JSON.stringify(options)], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.once("message", (m) => resolve((m as { url: string }).url));
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`fake server process exited early (code ${code})`)));
  });
  return {
    url,
    where: "child process",
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill();
      }),
  };
}

if (process.argv[2] === "--serve" && process.send) {
  const reply = JSON.parse(process.argv[3] ?? "{}") as ScriptedReply;
  const options = JSON.parse(process.argv[4] ?? "{}") as ServerOptions;
  const server = await startFakeOpenAI({ defaultReply: replyFor(reply, options) });
  // The fake records every request; a benchmark sends thousands, so drop them as we go.
  setInterval(() => void (server.requests.length = 0), 1000).unref();
  process.on("disconnect", () => void server.close().then(() => process.exit(0)));
  process.send({ url: server.url });
}
