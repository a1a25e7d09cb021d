/**
 * What every loopback fake of a provider's API needs, in one place: listen on 127.0.0.1, close without
 * hanging on keep-alive sockets, read a body, answer JSON, and a queue of scripted replies.
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/**
 * Listens on a free loopback port (or on `port`, to restart a server where clients expect it); `close()`
 * destroys open sockets, so it never waits on keep-alive.
 */
export async function listenOnLoopback(server: Server, port = 0): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

/** A request's body as text (UTF-8, multi-byte characters split across chunks included). */
export async function readBody(req: IncomingMessage): Promise<string> {
  return (await readBodyBytes(req)).toString("utf8");
}

/** A request's body as raw bytes (for compressed or binary bodies). */
export function readBodyBytes(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** Answers with a JSON body, unless the response is already under way or gone. */
export function sendJson(res: ServerResponse, status: number, payload: unknown): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(payload));
}

/** Scripted replies, consumed in order (one per request), then a default. */
export function replyScript<Reply extends object>() {
  const queue: Reply[] = [];
  let fallback = {} as Reply;
  return {
    next: (): Reply => queue.shift() ?? fallback,
    script: (...replies: Reply[]) => void queue.push(...replies),
    setDefault: (reply: Reply) => void (fallback = reply),
    reset: () => {
      queue.length = 0;
      fallback = {} as Reply;
    },
  };
}
