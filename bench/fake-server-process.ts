/**
 * Runs the loopback fake OpenAI server (test/support/openai-server.ts) in a child process, so the
 * benchmark process's `process.cpuUsage()` counts the client's CPU only, not the server's.
 *
 * As a child (`tsx bench/fake-server-process.ts --serve '<reply json>'`) it starts the server and sends
 * `{ url }` over IPC; it exits when the parent goes away. As a module it exports `startFakeServer`.
 * Set BENCH_SERVER=inprocess to run the server in the benchmark process instead.
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { startFakeOpenAI, type ScriptedReply } from "../test/support/openai-server.js";

export interface BenchServer {
  url: string;
  where: "child process" | "in process";
  close(): Promise<void>;
}

export async function startFakeServer(reply: ScriptedReply): Promise<BenchServer> {
  if (process.env.BENCH_SERVER === "inprocess") {
    const server = await startFakeOpenAI({ defaultReply: reply });
    const timer = setInterval(() => void (server.requests.length = 0), 1000);
    return { url: server.url, where: "in process", close: async () => (clearInterval(timer), server.close()) };
  }
  const child = fork(fileURLToPath(import.meta.url), ["--serve", JSON.stringify(reply)], {
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
  const server = await startFakeOpenAI({ defaultReply: reply });
  // The fake records every request; a benchmark sends thousands, so drop them as we go.
  setInterval(() => void (server.requests.length = 0), 1000).unref();
  process.on("disconnect", () => void server.close().then(() => process.exit(0)));
  process.send({ url: server.url });
}
