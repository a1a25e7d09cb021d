/**
 * `langchain-metered/langfuse-langchain`: the v3 Langfuse LangChain handler (`langfuse-langchain`), with our
 * costs on every generation. Only this entry loads `langfuse-langchain` (an optional peer).
 */
import type { AgentAction, AgentFinish } from "@langchain/core/agents";
import type { DocumentInterface } from "@langchain/core/documents";
import type { Serialized } from "@langchain/core/load/serializable";
import type { BaseMessage } from "@langchain/core/messages";
import type { LLMResult } from "@langchain/core/outputs";
import type { ChainValues } from "@langchain/core/utils/types";
import { CallbackHandler as LangfuseCallbackHandler } from "langfuse-langchain";
import { type GenerationReport, GenerationMeter, type MeteringOptions } from "./langfuse/generation-meter.js";
import { RunTraces } from "./langfuse/run-traces.js";

export type { MeteredGenerationMetadata, MeteringOptions } from "./langfuse/generation-meter.js";

/** The constructor options of `langfuse-langchain`'s handler, plus {@link MeteringOptions}. */
export type CallbackHandlerParams = NonNullable<ConstructorParameters<typeof LangfuseCallbackHandler>[0]> & MeteringOptions;

/**
 * A drop-in for `langfuse-langchain`'s `CallbackHandler` (same options, same events) that also sends cost:
 * after the stock handler's usage, every generation gets a `generation-update` with `costDetails` in USD under
 * the same keys as its usage, `total`, and `metadata.metered` (the price's source and, under a budget, the
 * budget's view of the call). A `MeteredChatModel`'s cost is taken from the message; any other chat model is
 * priced from its usage.
 *
 * Unlike the stock handler, runs in flight together through one instance each keep their own trace.
 *
 * @example
 * ```ts
 * // before: import { CallbackHandler } from "langfuse-langchain";
 * import { CallbackHandler } from "langchain-metered/langfuse-langchain";
 * const langfuse = new CallbackHandler({ publicKey, secretKey, baseUrl });
 * await agent.invoke(input, { callbacks: [langfuse] });
 * await langfuse.flushAsync();
 * ```
 */
export class CallbackHandler extends LangfuseCallbackHandler {
  private readonly meter: GenerationMeter;
  private readonly traces = new RunTraces();
  private readonly pending = new Set<Promise<void>>();

  constructor(params?: CallbackHandlerParams) {
    super(withoutMetering(params));
    this.meter = new GenerationMeter({ prices: params?.prices });
  }

  /** Sends everything queued so far, our costs included (they may still be being priced). */
  override async flushAsync(): Promise<any> {
    await Promise.all(this.pending);
    return super.flushAsync();
  }

  /** Sends everything queued, our costs included, and stops the client. */
  override async shutdownAsync(): Promise<any> {
    await Promise.all(this.pending);
    return super.shutdownAsync();
  }

  override async handleChainStart(
    chain: Serialized,
    inputs: ChainValues,
    runId: string,
    parentRunId?: string,
    tags?: string[],
    metadata?: Record<string, unknown>,
    runType?: string,
    name?: string,
  ): Promise<void> {
    this.enter(runId, parentRunId, true);
    return super.handleChainStart(chain, inputs, runId, parentRunId, tags, metadata, runType, name);
  }

  override async handleChainEnd(outputs: ChainValues, runId: string, parentRunId?: string): Promise<void> {
    this.resume(runId);
    return this.ending(runId, super.handleChainEnd(outputs, runId, parentRunId));
  }

  override async handleChainError(err: any, runId: string, parentRunId?: string): Promise<void> {
    this.resume(runId);
    return this.ending(runId, super.handleChainError(err, runId, parentRunId));
  }

  override async handleAgentAction(action: AgentAction, runId: string, parentRunId?: string): Promise<void> {
    this.resume(runId);
    return super.handleAgentAction(action, runId, parentRunId);
  }

  override async handleAgentEnd(action: AgentFinish, runId: string, parentRunId?: string): Promise<void> {
    this.resume(runId);
    return super.handleAgentEnd?.(action, runId, parentRunId);
  }

  override async handleToolStart(
    tool: Serialized,
    input: string,
    runId: string,
    parentRunId?: string,
    tags?: string[],
    metadata?: Record<string, unknown>,
    name?: string,
  ): Promise<void> {
    this.enter(runId, parentRunId, false);
    return super.handleToolStart(tool, input, runId, parentRunId, tags, metadata, name);
  }

  override async handleToolEnd(output: string, runId: string, parentRunId?: string): Promise<void> {
    this.resume(runId);
    return this.ending(runId, super.handleToolEnd(output, runId, parentRunId));
  }

  override async handleToolError(err: any, runId: string, parentRunId?: string): Promise<void> {
    this.resume(runId);
    return this.ending(runId, super.handleToolError(err, runId, parentRunId));
  }

  override async handleRetrieverStart(
    retriever: Serialized,
    query: string,
    runId: string,
    parentRunId?: string,
    tags?: string[],
    metadata?: Record<string, unknown>,
    name?: string,
  ): Promise<void> {
    this.enter(runId, parentRunId, false);
    return super.handleRetrieverStart(retriever, query, runId, parentRunId, tags, metadata, name);
  }

  override async handleRetrieverEnd(documents: DocumentInterface[], runId: string, parentRunId?: string): Promise<void> {
    this.resume(runId);
    return this.ending(runId, super.handleRetrieverEnd(documents, runId, parentRunId));
  }

  override async handleRetrieverError(err: any, runId: string, parentRunId?: string): Promise<void> {
    this.resume(runId);
    return this.ending(runId, super.handleRetrieverError(err, runId, parentRunId));
  }

  override async handleLLMStart(
    llm: Serialized,
    prompts: string[],
    runId: string,
    parentRunId?: string,
    extraParams?: Record<string, unknown>,
    tags?: string[],
    metadata?: Record<string, unknown>,
    name?: string,
  ): Promise<void> {
    this.enter(runId, parentRunId, true);
    return super.handleLLMStart(llm, prompts, runId, parentRunId, extraParams, tags, metadata, name);
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
    this.enter(runId, parentRunId, true);
    return super.handleChatModelStart(llm, messages, runId, parentRunId, extraParams, tags, metadata, name);
  }

  override async handleLLMEnd(output: LLMResult, runId: string, parentRunId?: string): Promise<void> {
    const traceId = this.traceOf(runId);
    this.resume(runId);
    const stock = super.handleLLMEnd(output, runId, parentRunId);
    const sent = this.meter.ended(runId, output).then((report) => this.send(runId, traceId, report));
    return this.ending(runId, Promise.all([stock, this.track(sent)]));
  }

  override async handleLLMError(err: any, runId: string, parentRunId?: string): Promise<void> {
    const traceId = this.traceOf(runId);
    this.resume(runId);
    const stock = super.handleLLMError(err, runId, parentRunId);
    this.send(runId, traceId, this.meter.failed(runId, err));
    return this.ending(runId, stock);
  }

  /**
   * Points the stock handler's one `traceId` at this run's trace. The stock methods read it synchronously,
   * so every override calls this right before calling them, with no await in between.
   */
  private enter(runId: string, parentRunId: string | undefined, opensTrace: boolean): void {
    if (this.rootProvided) return; // a handler given a root trace or span sends everything there anyway
    const trace = this.traces.start(runId, parentRunId, opensTrace);
    // For a run that opens a trace, the stock handler opens trace `runId` itself when it has none.
    if (trace) this.traceId = trace.opened ? undefined : trace.traceId;
  }

  /** `enter` for a run already started (its end, its error, an agent step). */
  private resume(runId: string): void {
    const trace = this.rootProvided ? undefined : this.traces.of(runId);
    if (trace !== undefined) this.traceId = trace;
  }

  private traceOf(runId: string): string | undefined {
    return this.rootProvided ? this.traceId : (this.traces.of(runId) ?? this.traceId);
  }

  private async ending(runId: string, work: Promise<unknown>): Promise<void> {
    this.traces.end(runId);
    await work;
  }

  /** A cost lands on its own generation, in the trace that generation was created in. */
  private send(runId: string, traceId: string | undefined, report: GenerationReport | undefined): void {
    if (!report || traceId === undefined) return;
    try {
      this.langfuse._updateGeneration({
        id: runId,
        traceId,
        ...(report.costDetails ? { costDetails: report.costDetails } : {}),
        ...(report.usageDetails ? { usageDetails: report.usageDetails } : {}),
        metadata: report.metadata,
      });
    } catch (error) {
      this._log(error); // like the stock handler: tracing never breaks the run
    }
  }

  private track(work: Promise<void>): Promise<void> {
    const settled = work.catch((error: unknown) => this._log(error));
    this.pending.add(settled);
    void settled.finally(() => this.pending.delete(settled));
    return settled;
  }
}

function withoutMetering(params: CallbackHandlerParams | undefined) {
  if (!params) return params;
  const { prices: _prices, ...stock } = params;
  return stock as ConstructorParameters<typeof LangfuseCallbackHandler>[0];
}
