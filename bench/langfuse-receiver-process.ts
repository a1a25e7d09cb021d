/**
 * Runs the loopback Langfuse receiver (test/support/langfuse-receiver.ts) in a child process, so the
 * benchmark's `process.cpuUsage()` counts the Langfuse SDKs' work (queueing, serializing, sending) and not
 * the receiver's parsing. The parent can ask it what it received, to check a case before measuring it.
 *
 * As a child (`tsx bench/langfuse-receiver-process.ts --serve-langfuse`) it starts the receiver and talks
 * over IPC; it exits when the parent goes away. As a module it exports `startReceiverProcess`. With
 * BENCH_SERVER=inprocess the receiver runs in the benchmark process instead.
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { type Observation, startLangfuseReceiver } from "../test/support/langfuse-receiver.js";

export interface BenchReceiver {
  url: string;
  publicKey: string;
  secretKey: string;
  /** Forgets what it received, and keeps what comes next (to check a case). */
  record(): Promise<void>;
  /** What it received since `record`, folded into observations. */
  generations(): Promise<Observation[]>;
  /** Forgets what it received, and drops what comes next (a benchmark sends thousands of events). */
  discard(): Promise<void>;
  close(): Promise<void>;
}

type Request = { id: number; op: "record" | "generations" | "discard" };

export async function startReceiverProcess(): Promise<BenchReceiver> {
  if (process.env.BENCH_SERVER === "inprocess") {
    const receiver = await startLangfuseReceiver();
    let keeping = true;
    const timer = setInterval(() => void (keeping || receiver.reset()), 1000);
    return {
      ...receiver,
      record: async () => void (receiver.reset(), (keeping = true)),
      generations: async () => receiver.generations(),
      discard: async () => void (receiver.reset(), (keeping = false)),
      close: async () => (clearInterval(timer), receiver.close()),
    };
  }
  const child = fork(fileURLToPath(import.meta.url), ["--serve-langfuse"], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const ready = await new Promise<{ url: string; publicKey: string; secretKey: string }>((resolve, reject) => {
    child.once("message", (m) => resolve(m as { url: string; publicKey: string; secretKey: string }));
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`Langfuse receiver process exited early (code ${code})`)));
  });
  let next = 0;
  const ask = <T>(op: Request["op"]) =>
    new Promise<T>((resolve) => {
      const id = ++next;
      const onReply = (m: unknown) => {
        const reply = m as { id: number; result: T };
        if (reply.id !== id) return;
        child.off("message", onReply);
        resolve(reply.result);
      };
      child.on("message", onReply);
      child.send({ id, op } satisfies Request);
    });
  return {
    ...ready,
    record: () => ask<void>("record"),
    generations: () => ask<Observation[]>("generations"),
    discard: () => ask<void>("discard"),
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill();
      }),
  };
}

if (process.argv[2] === "--serve-langfuse" && process.send) {
  const receiver = await startLangfuseReceiver();
  let keeping = true;
  setInterval(() => {
    if (!keeping) receiver.reset();
  }, 1000).unref();
  process.on("message", (m) => {
    const { id, op } = m as Request;
    if (op !== "generations") {
      receiver.reset();
      keeping = op === "record";
    }
    process.send?.({ id, result: op === "generations" ? receiver.generations() : undefined });
  });
  process.on("disconnect", () => void receiver.close().then(() => process.exit(0)));
  process.send({ url: receiver.url, publicKey: receiver.publicKey, secretKey: receiver.secretKey });
}
