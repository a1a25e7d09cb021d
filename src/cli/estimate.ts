import { readFile } from "node:fs/promises";
import type { CostEstimate } from "../langchain/estimate-cost.js";
import { CliError } from "./errors.js";

/**
 * The prompt of `estimate --input`: a `.json` file holding an array of messages (`[["system", "…"], ["human",
 * "…"]]` or `[{ "role": "user", "content": "…" }]`, as LangChain takes them), or any other file as one user message.
 */
export async function readPrompt(path: string): Promise<string | unknown[]> {
  const text = await readFile(path, "utf8").catch((error: NodeJS.ErrnoException) => {
    throw new CliError(
      error.code === "ENOENT" ? `${path}: no such file. Pass the prompt with --input <file> (text, or a .json array of messages).` : `${path}: can't read it (${error.code ?? error.message}).`,
    );
  });
  if (!path.toLowerCase().endsWith(".json")) return text;
  let messages: unknown;
  try {
    messages = JSON.parse(text);
  } catch (error) {
    throw new CliError(`${path}: not valid JSON (${(error as Error).message}). A .json input is an array of messages; use a .txt file for plain text.`);
  }
  if (!Array.isArray(messages)) throw new CliError(`${path}: expected an array of messages, e.g. [["system", "You are terse."], ["human", "Hi"]].`);
  return messages;
}

/** The library's `estimateCost`, loaded on demand (it brings LangChain's message classes and the tokenizer). */
export async function estimate(model: string, input: string | unknown[], options: { maxTokens: number; provider?: string | undefined; choices?: number | undefined }): Promise<CostEstimate> {
  const { estimateCost } = await import("../langchain/estimate-cost.js");
  return estimateCost(model, input as Parameters<typeof estimateCost>[1], {
    maxTokens: options.maxTokens,
    ...(options.provider ? { provider: options.provider } : {}),
    ...(options.choices ? { choices: options.choices } : {}),
  });
}

export function estimateText(model: string, inputPath: string, result: CostEstimate, choices: number): string {
  const usd = (n: number) => n.toFixed(9);
  return [
    `${model}: ${result.inputTokens.toLocaleString("en-US")} input tokens (counted locally in ${inputPath}), up to ${result.maxTokens.toLocaleString("en-US")} output tokens${choices > 1 ? ` × ${choices} choices` : ""}`,
    `  min  ${usd(result.minUsd)} USD  the prompt alone at the input rate, no answer`,
    `  max  ${usd(result.maxUsd)} USD  what a hard cap holds: input + 10 % + 32 tokens, every output token, dearest rates`,
  ].join("\n") + "\n";
}
