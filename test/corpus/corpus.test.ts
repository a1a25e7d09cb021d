/**
 * The corpus: provider responses in the shapes their API references document (vectors/*.ts), replayed byte
 * for byte from loopback through the real SDKs and LangChain's provider packages, each priced by the
 * library and checked against a figure worked out by hand from the list price, to the nano-dollar.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { costOf } from "../../src/index.js";
import { detailsInNano } from "../support/cost.js";
import { answer, loadCorpus } from "./harness.js";
import { type ReplayServer, startReplayServer } from "./replay-server.js";
import type { Covers, Vector } from "./vector.js";

const corpus = await loadCorpus();

/**
 * Issue-13 classes whose fix hasn't landed yet: their vectors run as `it.fails` (they must fail, or the
 * class is fixed and belongs out of this list).
 */
const PENDING = new Set<Covers>([]);
const isPending = (vector: Vector) => [vector.covers ?? []].flat().some((covers) => PENDING.has(covers));

let replay: ReplayServer;
beforeAll(async () => {
  replay = await startReplayServer();
});
afterAll(() => replay.close());

describe("the corpus, to the nano-dollar", () => {
  it("has vectors for every client", () => {
    expect(new Set(corpus.map((v) => v.client))).toEqual(new Set(["openai-chat", "openai-responses", "anthropic", "gemini"]));
    expect(new Set(corpus.map((v) => v.name)).size).toBe(corpus.length);
  });

  const exact = corpus.filter((v) => !isPending(v));
  const pending = corpus.filter(isPending);
  const check = async (_name: string, vector: Vector) => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date(vector.at ?? "2025-11-15T12:00:00Z"));
    try {
      const cost = costOf(await answer(vector, replay));
      expect(replay.requests, "one request, answered by the vector's reply").toHaveLength(1);
      expect(cost, vector.worked).toBeDefined();
      expect(cost?.nanoUsd, vector.worked).toBe(vector.expected.nanoUsd);
      expect(cost?.estimated, "estimated").toBe(vector.expected.estimated ?? false);
      if (vector.expected.details) expect(detailsInNano(cost!), vector.worked).toEqual(vector.expected.details);
      if (vector.expected.model) expect(cost?.model).toBe(vector.expected.model);
      if (vector.expected.provider) expect(cost?.provider).toBe(vector.expected.provider);
    } finally {
      vi.useRealTimers();
    }
  };
  it.each(exact.map((vector) => [vector.name, vector] as const))("%s", check);
  if (pending.length) it.fails.each(pending.map((vector) => [`${vector.name} (pending: ${[vector.covers].flat().join(", ")})`, vector] as const))("%s", check);
});
