/**
 * Cached, cache-write, reasoning and audio usage, as the real SDK and @langchain/openai deliver it from the
 * wire, priced per kind: the same figures on invoke and on stream. Figures by hand from genai-prices 0.1.8.
 */
import { describe, expect, it } from "vitest";
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
    // gpt-4o-audio-preview in 2.5, out 10, audio at the text rate:
    // 600×2.5e-6 + 400×2.5e-6 + 100×10e-6 + 200×10e-6 = 0.0015 + 0.001 + 0.001 + 0.002 = $0.0055
    name: "audio",
    model: "gpt-4o-audio-preview",
    usage: { promptTokens: 1000, inputAudioTokens: 400, completionTokens: 300, outputAudioTokens: 200 },
    nano: 5_500_000,
    details: { input: 1_500_000, input_audio: 1_000_000, output: 1_000_000, output_audio: 2_000_000 },
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
