import type { BaseMessage } from "@langchain/core/messages";
import { LangChainTracer } from "@langchain/core/tracers/tracer_langchain";
import { type CostRecord, recordOfError } from "../budget/cost-record.js";
import { recordOfRun } from "../budget/run-records.js";
import type { Cost } from "../pricing/price-usage.js";
import { UnsupportedVersionError } from "./internals.js";
import { endedRunCost } from "./price-call.js";

/**
 * LangSmith reads a chat-model run's costs from `usage_metadata` in the run's metadata, which LangChain's own
 * tracer fills from the message at the run's end (`LangChainTracer.onLLMEnd`): with the cost fields of
 * LangSmith's `UsageMetadata` (`input_cost`, `output_cost`, `total_cost`, `input_cost_details`,
 * `output_cost_details`) there, LangSmith shows that figure instead of pricing the tokens itself. So the
 * tracer's hook is wrapped, once, when the first metered model is made: after it ran, a run whose message
 * carries our cost gets the cost fields beside the token counts, and the budget's view under `metered`; a plain
 * model's run under a `BudgetCallbackHandler` gets that handler's record of the call (waiting for it to end).
 * The message itself, and its `usage_metadata`, stay exactly as the provider package made them.
 */
let installed = false;

type TracedRun = {
  id?: string;
  outputs?: { generations?: Array<Array<{ message?: BaseMessage }>> };
  extra?: { metadata?: Record<string, unknown> };
};

/** @internal Makes LangSmith runs of metered calls carry their cost (see above). Idempotent. */
export function installLangSmithCosts(): void {
  if (installed) return;
  installed = true;
  const proto = LangChainTracer.prototype as unknown as {
    onLLMEnd?: (run: TracedRun) => unknown;
    handleLLMError?: (error: unknown, runId: string, ...rest: unknown[]) => unknown;
    getRunById?: (runId: string) => TracedRun | undefined;
  };
  const onEnd = proto.onLLMEnd;
  const onError = proto.handleLLMError;
  if (typeof onEnd !== "function") throw new UnsupportedVersionError("LangChainTracer.onLLMEnd", "@langchain/core");
  if (typeof onError !== "function" || typeof proto.getRunById !== "function") {
    throw new UnsupportedVersionError("LangChainTracer.handleLLMError", "@langchain/core");
  }
  // LangChain's BaseTracer awaits onLLMEnd before it sends the run's end.
  proto.onLLMEnd = async function onLLMEnd(this: unknown, run: TracedRun) {
    await onEnd.call(this, run);
    const { cost, record } = await endedRunCost(run.outputs?.generations?.at(-1)?.at(-1)?.message, run.id);
    annotate(run, cost, record);
  };
  // A paid call can end in an error: the one that took its budget over the limit, a corrupt usage. Its
  // record is on the error (or, for a plain model, with its budget handler): the run shows what it cost.
  proto.handleLLMError = async function handleLLMError(this: typeof proto, error: unknown, runId: string, ...rest: unknown[]) {
    const record = recordOfError(error) ?? (await recordOfRun(runId));
    const run = this.getRunById?.(runId);
    if (run && record) annotate(run, record.cost, record);
    return onError.call(this, error, runId, ...rest);
  };
}

function annotate(run: TracedRun, cost: Cost | undefined, record: CostRecord | undefined): void {
  if (!cost) return;
  run.extra ??= {};
  const metadata = (run.extra.metadata ??= {});
  const usage = metadata.usage_metadata as { total_tokens?: unknown } | undefined;
  // No usage from the provider: the run shows the tokens the estimate priced, not 0 beside a cost.
  const estimated = cost.estimatedUsage && !(typeof usage?.total_tokens === "number" && usage.total_tokens > 0) ? cost.estimatedUsage : {};
  metadata.usage_metadata = { ...usage, ...estimated, ...langSmithCost(cost) };
  const budget = record?.budget;
  metadata.metered = {
    price_source: cost.priceSource,
    estimated: cost.estimated,
    ...(cost.estimate ? { estimate: cost.estimate } : {}),
    ...(budget ? { budget: { ...budget, limitUsd: finiteOrNull(budget.limitUsd), remainingUsd: finiteOrNull(budget.remainingUsd) } } : {}),
  };
}

/** JSON has no Infinity: a budget without a limit says `null`. */
const finiteOrNull = (usd: number): number | null => (Number.isFinite(usd) ? usd : null);

/** Our keys, as LangSmith's token-detail keys (those of LangChain's `input_token_details` / `output_token_details`). */
const INPUT_KEYS = { input_cache_read: "cache_read", input_cache_write: "cache_creation", input_audio: "audio", web_search: "web_search" } as const;
const OUTPUT_KEYS = { output_reasoning: "reasoning", output_audio: "audio" } as const;

/**
 * @internal A cost as LangSmith's `UsageMetadata` cost fields, in USD, to the nano-dollar: input and output
 * each with their details (web searches count on the input side: their results are the model's input), so
 * `input_cost + output_cost === total_cost`. A cost that counts the endpoint's reported figure has no split
 * of it: only `total_cost` is sent.
 */
export function langSmithCost(cost: Cost): Record<string, unknown> {
  if (cost.counted === "reported") return { total_cost: cost.totalUsd };
  const nano = (usd: number | undefined) => Math.round((usd ?? 0) * 1e9);
  const side = (plain: "input" | "output", keys: Record<string, string>) => {
    const details: Record<string, number> = {};
    let total = nano(cost.details[plain]);
    for (const [ours, theirs] of Object.entries(keys)) {
      const part = nano(cost.details[ours as keyof Cost["details"]]);
      if (part > 0) details[theirs] = part / 1e9;
      total += part;
    }
    return { total, details };
  };
  const input = side("input", INPUT_KEYS);
  const output = side("output", OUTPUT_KEYS);
  return {
    input_cost: input.total / 1e9,
    output_cost: output.total / 1e9,
    total_cost: cost.totalUsd,
    ...(Object.keys(input.details).length ? { input_cost_details: input.details } : {}),
    ...(Object.keys(output.details).length ? { output_cost_details: output.details } : {}),
  };
}
