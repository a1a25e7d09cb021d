/**
 * ReplicaWaits without Redis: a fake connection whose `WAIT`s answer when the test says, to show how writes share
 * them (the cluster suite checks the real thing: a replica has each write once the store answers).
 */
import type { Redis } from "ioredis";
import { describe, expect, it, vi } from "vitest";
import { ReplicaWaits } from "../../src/integrations/redis-replicas.js";

/** A connection whose WAITs stay pending until `answer(acked)`. */
function fakeNode() {
  const pending: Array<(acked: number) => void> = [];
  const node = {
    options: { host: "127.0.0.1", port: 7000 },
    wait: vi.fn(() => new Promise<number>((resolve) => pending.push(resolve))),
  };
  return { node: node as unknown as Redis, waits: node.wait, answer: (acked: number) => pending.shift()?.(acked) };
}

const settled = () => new Promise((resolve) => setImmediate(resolve));

describe("ReplicaWaits", () => {
  it("writes answered while a WAIT is on its way share the next one: 10 writes, 2 WAITs", async () => {
    const { node, waits, answer } = fakeNode();
    const replicas = new ReplicaWaits(1);
    let done = 0;
    const first = replicas.confirm(node).then(() => done++);
    const rest = Array.from({ length: 9 }, () => replicas.confirm(node).then(() => done++));
    await settled();
    expect(waits).toHaveBeenCalledTimes(1);

    answer(1); // the first WAIT returns: the first write is confirmed, and one WAIT leaves for the other nine
    await first;
    await settled();
    expect(done).toBe(1);
    expect(waits).toHaveBeenCalledTimes(2);

    answer(1);
    await Promise.all(rest);
    expect(done).toBe(10);
    expect(waits).toHaveBeenCalledTimes(2);
    expect(waits).toHaveBeenCalledWith(1, 100);
  });

  it("a primary whose replicas fall short is warned about once and not waited on for 5 s", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      const { node, waits, answer } = fakeNode();
      const replicas = new ReplicaWaits(2);
      const short = replicas.confirm(node);
      await settled();
      answer(1);
      await short;
      await replicas.confirm(node); // within 5 s: not asked
      expect(waits).toHaveBeenCalledTimes(1);
      vi.advanceTimersByTime(5001);
      const again = replicas.confirm(node);
      await settled();
      answer(2);
      await again;
      expect(waits).toHaveBeenCalledTimes(2);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]?.[0])).toMatch(/asked 2 replica\(s\) of 127\.0\.0\.1:7000.*and 1 did/);
    } finally {
      vi.useRealTimers();
      warn.mockRestore();
    }
  });

  it("a WAIT that fails fails the writes waiting on it; the writes that joined the next one get their own", async () => {
    const node = { options: { host: "h", port: 1 }, wait: vi.fn() } as unknown as Redis & { wait: ReturnType<typeof vi.fn> };
    let reject!: (error: Error) => void;
    node.wait.mockImplementationOnce(() => new Promise((_, r) => (reject = r))).mockImplementationOnce(async () => 1);
    const replicas = new ReplicaWaits(1);
    const first = replicas.confirm(node);
    const second = replicas.confirm(node);
    await settled();
    reject(new Error("Connection is closed."));
    await expect(first).rejects.toThrow("Connection is closed.");
    await expect(second).resolves.toBeUndefined();
    expect(node.wait).toHaveBeenCalledTimes(2);
  });
});
