/**
 * Cached, cache-write, reasoning and audio usage, as the real SDK and @langchain/openai deliver it from the
 * wire, priced per kind: the same figures on invoke and on stream. Figures by hand from genai-prices 0.1.8.
 */
import { describe, expect, it, vi } from "vitest";
import { type CostRecord, UnknownModelPriceError } from "../../src/index.js";
import { detailsInNano, detailsSumNano } from "../support/cost.js";
import { collect, costOf, useFakeOpenAI } from "../support/metered.js";
import type { ScriptedUsage } from "../support/openai-server.js";

const fake = useFakeOpenAI();

interface Case {
  name: string;
  model: string;
  usage: ScriptedUsage;
  nano: number;
  details: Record<string, number>;
}

const cases: Case[] = [
  {
    // gpt-4o-mini in 0.15, cache 0.075, out 0.6: 800×0.15e-6 + 200×0.075e-6 + 500×0.6e-6 = $0.000435
    name: "cached input",
    model: "gpt-4o-mini",
    usage: { promptTokens: 1000, cachedTokens: 200, completionTokens: 500 },
    nano: 435_000,
    details: { input: 120_000, input_cache_read: 15_000, output: 300_000 },
  },
  {
    // gpt-4o-mini has no cache-write price: writes at input 0.15: 700×0.15e-6 + 300×0.15e-6 + 10×0.6e-6 = $0.000156
    name: "cache writes",
    model: "gpt-4o-mini",
    usage: { promptTokens: 1000, cacheWriteTokens: 300, completionTokens: 10 },
    nano: 156_000,
    details: { input: 105_000, input_cache_write: 45_000, output: 6000 },
  },
  {
    // o3-mini in 1.1, out 4.4: 2000×1.1e-6 + 300×4.4e-6 + 700×4.4e-6 = 0.0022 + 0.00132 + 0.00308 = $0.0066
    name: "reasoning",
    model: "o3-mini",
    usage: { promptTokens: 2000, completionTokens: 1000, reasoningTokens: 700 },
    nano: 6_600_000,
    details: { input: 2_200_000, output: 1_320_000, output_reasoning: 3_080_000 },
  },
  {
    // gpt-4o-audio-preview text in 2.5, out 10; audio in 40, out 80 (OpenAI's list price, reviewed: genai-prices
    // 0.1.8 has no audio rates): 600×2.5 + 400×40 + 100×10 + 200×80 per 1M = 0.0015 + 0.016 + 0.001 + 0.016 = $0.0345
    name: "audio",
    model: "gpt-4o-audio-preview",
    usage: { promptTokens: 1000, inputAudioTokens: 400, completionTokens: 300, outputAudioTokens: 200 },
    nano: 34_500_000,
    details: { input: 1_500_000, input_audio: 16_000_000, output: 1_000_000, output_audio: 16_000_000 },
  },
  {
    // gpt-4o in 2.5, cache 1.25, out 10, everything at once:
    // 3000×2.5e-6 + 1000×1.25e-6 + 200×10e-6 + 300×10e-6 = 0.0075 + 0.00125 + 0.002 + 0.003 = $0.01375
    name: "cache + reasoning together",
    model: "gpt-4o",
    usage: { promptTokens: 4000, cachedTokens: 1000, completionTokens: 500, reasoningTokens: 300 },
    nano: 13_750_000,
    details: { input: 7_500_000, input_cache_read: 1_250_000, output: 2_000_000, output_reasoning: 3_000_000 },
  },
];

describe.each(["invoke", "stream"] as const)("%s", (mode) => {
  it.each(cases)("$name ($model)", async ({ model, usage, nano, details }) => {
    fake.server.script({ usage });
    const chat = fake.model({ model });
    const message = mode === "invoke" ? await chat.invoke("hi") : (await collect(await chat.stream("hi"))).message;
    const cost = costOf(message);
    expect(cost?.nanoUsd).toBe(nano);
    expect(cost?.totalUsd).toBe(nano / 1e9);
    expect(detailsInNano(cost!)).toEqual(details);
    expect(detailsSumNano(cost!)).toBe(nano);
    expect(cost).toMatchObject({ model, estimated: false });
  });
});

describe("audio the price has no rate for (missingRates)", () => {
  // gpt-4o has text rates only (in 2.5, out 10): 600×2.5 + 400×2.5 + 300×10 per 1M = $0.0055, audio at the text rate.
  const AUDIO = { promptTokens: 1000, inputAudioTokens: 400, completionTokens: 300, outputAudioTokens: 200 };

  it('"estimate" (default): charged at the text rate, marked estimated, one warning per model', async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      fake.server.setDefault({ usage: AUDIO });
      const chat = fake.model({ model: "gpt-4o" });
      const first = costOf(await chat.invoke("hi"));
      await chat.invoke("again");
      expect(first).toMatchObject({ nanoUsd: 5_500_000, estimated: true, estimate: "missing-rate", missingRates: ["inputAudio", "outputAudio"] });
      const warnings = warn.mock.calls.filter(([text]) => String(text).includes('"gpt-4o" has no audio input or audio output rate'));
      expect(warnings).toHaveLength(1);
      expect(String(warnings[0]?.[0])).toContain('missingRates: "error"');
    } finally {
      warn.mockRestore();
    }
  });

  it('"error": charged as the estimate, then UnknownModelPriceError says which rate to add', async () => {
    fake.server.script({ usage: AUDIO });
    const records: CostRecord[] = [];
    const chat = fake.model({ model: "gpt-4o", missingRates: "error", onCost: (record) => records.push(record) });
    const error = await chat.invoke("hi").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownModelPriceError);
    expect((error as Error).message).toMatch(/The price of model "gpt-4o" \(provider "openai"\) has no audio input and audio output rate/);
    expect((error as Error).message).toContain('prices: { "gpt-4o": { input: 2.5, output: 10, inputAudio: 40, outputAudio: 40 } }');
    expect(records[0]?.cost).toMatchObject({ estimated: true, estimate: "missing-rate" });
    expect(records[0]?.cost.nanoUsd).toBe(5_500_000);
  });

  it("a `prices` override with the audio rates prices it exactly", async () => {
    fake.server.script({ usage: AUDIO });
    const prices = { "gpt-4o": { input: 2.5, output: 10, inputAudio: 40, outputAudio: 80 } };
    expect(costOf(await fake.model({ model: "gpt-4o", prices }).invoke("hi"))).toMatchObject({ nanoUsd: 34_500_000, estimated: false });
  });

  it("is validated", () => {
    expect(() => fake.model({ model: "gpt-4o", missingRates: "refuse" as never })).toThrow('missingRates: Expected "estimate" or "error", got "refuse" (string)');
  });
});
