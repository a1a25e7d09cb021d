/**
 * `langchain-metered/langfuse`: Langfuse's LangChain handler for the OpenTelemetry SDK (`@langfuse/langchain`
 * v5), with our costs on every generation. Only this entry loads `@langfuse/langchain` (an optional peer).
 */
import { CallbackHandler as LangfuseCallbackHandler } from "@langfuse/langchain";
import type { Serialized } from "@langchain/core/load/serializable";
import type { BaseMessage } from "@langchain/core/messages";
import type { LLMResult } from "@langchain/core/outputs";
import { type GenerationReport, GenerationMeter, type MeteringOptions } from "./langfuse/generation-meter.js";

export type { MeteredGenerationMetadata, MeteringOptions } from "./langfuse/generation-meter.js";

/** The constructor options of `@langfuse/langchain`'s handler, plus {@link MeteringOptions}. */
export type CallbackHandlerParams = NonNullable<ConstructorParameters<typeof LangfuseCallbackHandler>[0]> & MeteringOptions;

/** The one thing of the stock handler we need that it keeps private: its open observation per LangChain run. */
type Observations = Map<string, { update(attributes: Record<string, unknown>): unknown }>;

/**
 * A drop-in for `@langfuse/langchain`'s `CallbackHandler` that also sends cost: every generation gets
 * `costDetails` in USD (the span attribute `langfuse.observation.cost_details`) under the same keys as its
 * usage, with `total`, set before the generation ends, and `metadata.metered` with the price's source and,
 * under a budget, the budget's view of the call. A `MeteredChatModel`'s cost is taken from the message; any
 * other chat model is priced from its usage.
 *
 * @example
 * ```ts
 * // before: import { CallbackHandler } from "@langfuse/langchain";
 * import { CallbackHandler } from "langchain-metered/langfuse";
 * const langfuse = new CallbackHandler({ sessionId: "s-1" });
 * await agent.invoke(input, { callbacks: [langfuse] });
 * ```
 */
export class CallbackHandler extends LangfuseCallbackHandler {
  private readonly meter: GenerationMeter;

  constructor(params?: CallbackHandlerParams) {
    const { prices, ...stock } = params ?? {};
    super(stock);
    this.meter = new GenerationMeter({ prices });
  }

  override async handleChatModelStart(
    llm: Serialized,
    messages: BaseMessage[][],
    runId: string,
    parentRunId?: string,
    extraParams?: Record<string, unknown>,
    tags?: string[],
    metadata?: Record<string, unknown>,
    name?: string,
  ): Promise<void> {
    this.meter.start(runId, messages, extraParams, metadata);
    return super.handleChatModelStart(llm, messages, runId, parentRunId, extraParams, tags, metadata, name);
  }

  override async handleLLMEnd(output: LLMResult, runId: string, parentRunId?: string): Promise<void> {
    // Before super: it ends the generation, and an ended span takes no more attributes.
    this.annotate(runId, await this.meter.ended(runId, output).catch(() => undefined));
    return super.handleLLMEnd(output, runId, parentRunId);
  }

  override async handleLLMError(err: unknown, runId: string, parentRunId?: string): Promise<void> {
    this.annotate(runId, this.meter.failed(runId, err));
    return super.handleLLMError(err, runId, parentRunId);
  }

  private annotate(runId: string, report: GenerationReport | undefined): void {
    if (!report) return;
    const observation = (this as unknown as { runMap: Observations }).runMap.get(runId);
    observation?.update({
      ...(report.costDetails ? { costDetails: report.costDetails } : {}),
      ...(report.usageDetails ? { usageDetails: report.usageDetails } : {}),
      // Observation metadata goes out one attribute per key: this adds `metered` beside the run's metadata.
      metadata: report.metadata,
    });
  }
}
