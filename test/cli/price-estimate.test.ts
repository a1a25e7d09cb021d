/**
 * `langchain-metered price` and `estimate`, in process, checked against the library's own `priceUsage` and
 * `estimateCost` (what a metered call would be charged, what a hard cap would hold).
 */
import { writeFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { estimateCost, priceUsage, UnknownModelPriceError, type Usage } from "../../src/index.js";
import type { PriceReport } from "../../src/cli/price.js";
import { run, tempDir } from "./run.js";
import { ZERO_USAGE } from "../../src/usage/usage.js";

const usage = (fields: Partial<Usage>): Usage => ({ ...ZERO_USAGE, ...fields });

async function price(...argv: string[]): Promise<PriceReport> {
  const { code, stdout, stderr } = await run(["price", ...argv, "--format", "json"]);
  expect(stderr).toBe("");
  expect(code).toBe(0);
  return JSON.parse(stdout) as PriceReport;
}
const rate = (report: PriceReport, kind: string) => report.rates.find((r) => r.kind === kind)!;

describe("price", () => {
  it("prints the rates priceUsage charges, per 1M tokens of each kind", async () => {
    const report = await price("gpt-4o-mini");
    expect(report).toMatchObject({ model: "gpt-4o-mini", provider: "openai", pricedAs: "gpt-4o-mini", source: "genai-prices@0.1.8" });
    const M = 1_000_000;
    expect(Number(rate(report, "input").usdPerMtok)).toBe(priceUsage(usage({ inputTokens: M }), "gpt-4o-mini").totalUsd);
    expect(Number(rate(report, "output").usdPerMtok)).toBe(priceUsage(usage({ outputTokens: M }), "gpt-4o-mini").totalUsd);
    expect(Number(rate(report, "cacheRead").usdPerMtok)).toBe(priceUsage(usage({ inputTokens: M, cacheReadTokens: M }), "gpt-4o-mini").totalUsd);
    expect(rate(report, "outputReasoning")).toMatchObject({ sameAs: "output" });
    expect(rate(report, "inputAudio").sameAs).toContain("estimated");
  });

  it("prints long-context tiers, which apply to the whole call past their start", async () => {
    const report = await price("claude-sonnet-4-5", "--provider", "anthropic");
    const input = rate(report, "input");
    expect(input.tiers).toHaveLength(1);
    const { aboveInputTokens, usdPerMtok } = input.tiers[0]!;
    const above = aboveInputTokens + 100_000;
    expect(priceUsage(usage({ inputTokens: above }), "claude-sonnet-4-5", { provider: "anthropic" }).nanoUsd).toBe(Math.round((above * Number(usdPerMtok) * 1e9) / 1e6));
    expect(priceUsage(usage({ inputTokens: 1_000_000 / 10 }), "claude-sonnet-4-5", { provider: "anthropic" }).totalUsd).toBe(Number(input.usdPerMtok) / 10);
    const text = await run(["price", "claude-sonnet-4-5", "--provider", "anthropic"]);
    expect(text.stdout).toMatch(/^ {2}input +3 {2}tiers: 6 above 200,000 input tokens$/m);
    expect(text.stdout).toContain("source genai-prices@0.1.8");
  });

  it("--at picks a date-dependent price (o3's price cut)", async () => {
    const before = await price("o3", "--at", "2025-05-01");
    const after = await price("o3", "--at", "2025-07-01");
    expect(Number(rate(before, "input").usdPerMtok)).toBe(priceUsage(usage({ inputTokens: 1e6 }), "o3", { at: new Date("2025-05-01") }).totalUsd);
    expect(Number(rate(after, "input").usdPerMtok)).toBe(priceUsage(usage({ inputTokens: 1e6 }), "o3", { at: new Date("2025-07-01") }).totalUsd);
    expect(rate(before, "input").usdPerMtok).not.toBe(rate(after, "input").usdPerMtok);
  });

  it("an unknown model: UnknownModelPriceError's message, exit 1", async () => {
    const { code, stderr, stdout } = await run(["price", "my-finetune-v9"]);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toContain(new UnknownModelPriceError("my-finetune-v9", undefined, { entry: "priceUsage()" }).message);
    expect(stderr).toContain("pass --provider");
  });

  it("usage mistakes", async () => {
    expect(await run(["price"])).toMatchObject({ code: 2, stderr: expect.stringContaining("price: which model?") });
    expect(await run(["price", "a", "b"])).toMatchObject({ code: 2, stderr: expect.stringContaining("one model at a time") });
    expect(await run(["price", "gpt-4o", "--at", "soon"])).toMatchObject({ code: 2, stderr: expect.stringContaining("Run `langchain-metered price --help`") });
  });
});

describe("estimate", () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  const prompt = "Summarize the attached quarterly report in three bullet points, for a board audience.\n".repeat(20);
  const messages: Array<[string, string]> = [
    ["system", "You are terse."],
    ["human", "What is the capital of France?"],
  ];

  beforeAll(async () => {
    tmp = await tempDir();
    await writeFile(tmp.path("prompt.txt"), prompt);
    await writeFile(tmp.path("messages.json"), JSON.stringify(messages));
    await writeFile(tmp.path("bad.json"), "{not json");
  });
  afterAll(() => tmp?.cleanup());

  it("prints estimateCost's range for a text prompt", async () => {
    const expected = await estimateCost("gpt-4o-mini", prompt, { maxTokens: 500 });
    const { code, stdout } = await run(["estimate", "gpt-4o-mini", "--input", tmp.path("prompt.txt"), "--max-tokens", "500", "--format", "json"]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ model: "gpt-4o-mini", choices: 1, ...expected });
    const text = await run(["estimate", "gpt-4o-mini", "--input", tmp.path("prompt.txt"), "--max-tokens", "500"]);
    expect(text.stdout).toContain(`min  ${expected.minUsd.toFixed(9)} USD`);
    expect(text.stdout).toContain(`max  ${expected.maxUsd.toFixed(9)} USD`);
    expect(text.stdout).toContain(`${expected.inputTokens.toLocaleString("en-US")} input tokens`);
  });

  it("reads a .json file as messages; --provider and --choices reach estimateCost", async () => {
    const expected = await estimateCost("claude-sonnet-4-5", messages, { maxTokens: 1000, provider: "anthropic", choices: 2 });
    const { code, stdout } = await run([
      "estimate", "claude-sonnet-4-5", "--input", tmp.path("messages.json"), "--max-tokens", "1000", "--provider", "anthropic", "--choices", "2", "--format", "json",
    ]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ ...expected, choices: 2, provider: "anthropic" });
  });

  it.each([
    [["estimate", "gpt-4o-mini", "--max-tokens", "5"], 2, "--input <file> is required"],
    [["estimate", "gpt-4o-mini", "--input", "PROMPT"], 2, "--max-tokens <n> is required"],
    [["estimate", "gpt-4o-mini", "--input", "PROMPT", "--max-tokens", "lots"], 2, '--max-tokens must be a whole number ≥ 0; got "lots"'],
    [["estimate", "gpt-4o-mini", "--input", "/nonexistent/prompt.txt", "--max-tokens", "5"], 1, "/nonexistent/prompt.txt: no such file"],
    [["estimate", "gpt-4o-mini", "--input", "BAD", "--max-tokens", "5"], 1, "not valid JSON"],
    [["estimate", "no-such-model-xyz", "--input", "PROMPT", "--max-tokens", "5"], 1, 'No price is known for model "no-such-model-xyz"'],
  ] as const)("%j → exit %i", async (argv, exit, message) => {
    const { code, stderr } = await run(argv.map((a) => (a === "PROMPT" ? tmp.path("prompt.txt") : a === "BAD" ? tmp.path("bad.json") : a)));
    expect(code).toBe(exit);
    expect(stderr).toContain(message);
  });
});
