/**
 * A throwaway `redis-server` on a free loopback port, for tests and benchmarks. Nothing here touches a Redis
 * the machine may already run: every server gets its own port and its own scratch directory, and is stopped
 * by the process that started it.
 *
 * `startRedisServer()` returns a handle that can `stop()` and `start()` the same server again on the same port
 * (the "Redis went away mid-run" tests); with `persistent: true` it keeps its data across that restart (an
 * append-only file fsynced on every write), otherwise it starts empty (`--save "" --appendonly no`).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Set to 1 (CI does) to make a missing `redis-server` fail the run instead of skipping the Redis suites. */
export const REQUIRE_REDIS_ENV = "LANGCHAIN_METERED_REQUIRE_REDIS";

export const INSTALL_HINT =
  "Install it to run them: `sudo apt-get install redis-server` (Debian/Ubuntu; `brew install redis` on macOS). " +
  `Set ${REQUIRE_REDIS_ENV}=1 to make a missing redis-server fail the run (CI does).`;

/** The `redis-server` binary's version line, or `undefined` when it isn't installed. */
export function redisServerVersion(binary = "redis-server"): string | undefined {
  try {
    return execFileSync(binary, ["--version"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return undefined;
  }
}

/** A port nothing listens on right now (the OS picks it), on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => (port ? resolve(port) : reject(new Error("no port"))));
    });
  });
}

/** Whether a Redis answers PING on `port` (a raw RESP round trip, no client library). */
export function pingRedis(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    let reply = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on("error", () => done(false));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (data) => {
      reply += data.toString("utf8");
      if (reply.includes("\r\n")) done(reply.startsWith("+PONG"));
    });
  });
}

export interface RedisServerHandle {
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** Whether the server process is running. */
  readonly running: boolean;
  /** The server's pid while it runs. */
  readonly pid: number | undefined;
  /** Stops the server (SIGTERM, then SIGKILL after 3 s) and waits until it has exited. */
  stop(): Promise<void>;
  /** Starts it again on the same port (after `stop()`), and waits until it answers PING. */
  start(): Promise<void>;
  /** Stops it for good and removes its scratch directory. */
  close(): Promise<void>;
}

export interface RedisServerOptions {
  /** Keep data across `stop()`/`start()` (append-only file, fsync always). Default false. */
  persistent?: boolean;
  /** Default `redis-server`. */
  binary?: string;
  /** How long to wait for the server to answer PING. Default 10 s. */
  readyTimeoutMs?: number;
  /** More `redis-server` arguments (a cluster node's, say). */
  extraArgs?: readonly string[];
}

/** Starts a `redis-server` on a free loopback port. Throws (with its log) when it doesn't come up. */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServerHandle> {
  const binary = options.binary ?? "redis-server";
  const readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
  const dir = mkdtempSync(join(tmpdir(), "lcm-redis-"));
  let port = 0;
  let child: ChildProcess | undefined;
  let log = "";

  const args = () => [
    "--port", String(port),
    "--bind", "127.0.0.1",
    "--save", "",
    ...(options.persistent ? ["--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"]),
    "--dir", dir,
    "--daemonize", "no",
    "--loglevel", "warning",
    ...(options.extraArgs ?? []),
  ];

  async function launch(): Promise<void> {
    log = "";
    const proc = spawn(binary, args(), { stdio: ["ignore", "pipe", "pipe"] });
    child = proc;
    proc.stdout?.on("data", (d: Buffer) => void (log += d.toString("utf8")));
    proc.stderr?.on("data", (d: Buffer) => void (log += d.toString("utf8")));
    let exited = false;
    let spawnError: Error | undefined;
    proc.on("error", (error) => void (spawnError = error));
    proc.on("exit", () => void (exited = true));
    const until = Date.now() + readyTimeoutMs;
    while (Date.now() < until) {
      if (spawnError) throw spawnError;
      if (exited) break;
      if (await pingRedis(port, 200)) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    proc.kill("SIGKILL");
    child = undefined;
    throw new Error(`redis-server did not start on 127.0.0.1:${port}${exited ? " (it exited)" : ""}:\n${log.trim()}`);
  }

  async function halt(): Promise<void> {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), 3000);
    await exited;
    clearTimeout(timer);
  }

  // The free port can be taken between the probe and the server's bind: try a few.
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    try {
      await launch();
      break;
    } catch (error) {
      if (attempt >= 3 || (error as NodeJS.ErrnoException).code === "ENOENT") {
        rmSync(dir, { recursive: true, force: true });
        throw error;
      }
    }
  }

  return {
    get port() {
      return port;
    },
    get url() {
      return `redis://127.0.0.1:${port}`;
    },
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    get pid() {
      return child?.pid;
    },
    stop: halt,
    async start() {
      if (child) return;
      await launch();
    },
    async close() {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
