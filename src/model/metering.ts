import type { CallbackManagerForLLMRun } from "@langchain/core/callbacks/manager";
import type { ChatModelStreamEvent } from "@langchain/core/language_models/event";
import { type AIMessage, AIMessageChunk, type BaseMessage, type UsageMetadata } from "@langchain/core/messages";
import { ChatGenerationChunk, type ChatResult } from "@langchain/core/outputs";
import { type CostRecord, costRecord } from "../budget/cost-record.js";
import type { PriceCatalog } from "../pricing/catalog.js";
import { type CallOutcome, hasUsage, type PricedCall, priceCall, servedModelOf } from "../pricing/price-call.js";
import type { CostSource } from "../pricing/price-usage.js";
import { reportedCostOf } from "../pricing/reported-cost.js";
import { contentText } from "../usage/estimate.js";
import { usageContract } from "../usage/providers.js";
import { BudgetScope, type CallBudget } from "./call-budget.js";
import type { CallOptions, CallTarget } from "./call-target.js";
import type { Downgrade, Route } from "./downgrade.js";
import type { HeaderCapture } from "./response-headers.js";
import { carriedBudget, carriedMetadata } from "./run-options.js";
import { StreamTally } from "./stream-tally.js";

/** @internal How a metered model meters: shared by `MeteredChatModel` and `meter()`. */
export interface MeteringSettings {
  catalog: PriceCatalog;
  budget: CallBudget;
  onCost: ((record: CostRecord) => void) | undefined;
  costSource: CostSource;
  downgrade: Downgrade | undefined;
  /** Tags each call so its response headers are captured (MeteredChatModel's own client only). */
  captureHeaders?: (() => HeaderCapture) | undefined;
}

type Run = CallbackManagerForLLMRun | undefined;

/**
 * @internal The metering core: wraps a model's three ways of sending a call (`_generate`,
 * `_streamResponseChunks`, `_streamChatModelEvents`) so each call finds its budget, may be downgraded,
 * is sent to its target, priced under its provider's usage contract, reported, and settled.
 */
export class Metering {
  private onCostFailed = false;

  constructor(private readonly settings: MeteringSettings) {}

  async generate(primary: CallTarget, messages: BaseMessage[], options: CallOptions, runManager: Run): Promise<ChatResult> {
    const call = await this.start(primary, messages, options, runManager);
    try {
      const { target } = call.route;
      const seen = aggregatesBadly(target) ? new StreamTally(target.provider) : undefined;
      const result = await call.scope.guard(async () => {
        const maxTokens = await call.scope.reserve(target.outputLimits());
        if (!seen) return target.generate(messages, call.sendOptions(), runManager, maxTokens);
        return concatStream(target.stream(messages, call.sendOptions(), runManager, maxTokens), seen, call.scope);
      });
      // With n > 1 every generation carries the same usage: price the call once, show it on each.
      const reply = result.generations[0]?.message as AIMessage | undefined;
      const outcome = seen ? seen.outcome(messages, call.route.options.tools) : { messages, reply, usage: reply?.usage_metadata };
      const priced = await this.price(call, outcome);
      for (const generation of result.generations) {
        const message = generation.message as AIMessage;
        if (priced.cost.estimated && !hasUsage(message.usage_metadata)) message.usage_metadata = toUsageMetadata(priced);
        message.response_metadata = { ...message.response_metadata, cost: priced.cost };
      }
      this.report(priced, runManager);
      await call.scope.settle(priced, seen?.answer ?? (reply ? contentText(reply.content) : ""));
      return result;
    } finally {
      call.close();
    }
  }

  async *stream(primary: CallTarget, messages: BaseMessage[], options: CallOptions, runManager: Run): AsyncGenerator<ChatGenerationChunk> {
    const call = await this.start(primary, messages, options, runManager);
    const seen = new StreamTally(call.route.target.provider);
    let priced: PricedCall | undefined;
    // A chunk with usage is held until the next one arrives: usage may come in several chunks (Anthropic,
    // Gemini), and the cost goes on the last of them, once the whole usage is known.
    let held: ChatGenerationChunk | undefined;
    try {
      const chunks = this.chunks(call, messages, runManager);
      for await (const chunk of call.scope.guardEach(chunks)) {
        await call.scope.observe(seen.add(chunk.message, chunk.generationInfo?.model_name));
        if (held) yield held;
        held = StreamTally.carriesUsage(chunk.message) ? chunk : undefined;
        if (!held) yield chunk;
      }
      priced = await this.price(call, seen.outcome(messages, call.route.options.tools));
      this.report(priced, runManager);
      await call.scope.settle(priced, seen.answer);
      if (held && !priced.cost.estimated) {
        held.message.response_metadata = { ...held.message.response_metadata, cost: priced.cost };
        yield held;
      } else {
        if (held) yield held;
        // No usage (streamUsage off, or a proxy that drops it): the estimate rides on a last chunk.
        yield costChunk(priced);
      }
    } finally {
      if (!priced) await this.cutShort(call, seen, messages, runManager);
      call.close();
    }
  }

  async *events(primary: CallTarget, messages: BaseMessage[], options: CallOptions, runManager: Run): AsyncGenerator<ChatModelStreamEvent> {
    // Without a run manager (plain `streamEvents()`), the call is its own run: it gets its own budget.
    const call = await this.start(primary, messages, options, runManager, !runManager);
    const seen = new StreamTally(call.route.target.provider);
    let priced: PricedCall | undefined;
    try {
      for await (const event of call.scope.guardEach(this.modelEvents(call, messages, runManager, seen))) {
        await call.scope.observe(seen.addEvent(event));
        if (event.event !== "message-finish") {
          yield event;
          continue;
        }
        priced = await this.price(call, seen.outcome(messages, call.route.options.tools));
        this.report(priced, runManager);
        await call.scope.settle(priced, seen.answer);
        yield {
          ...event,
          ...(priced.cost.estimated ? { usage: toUsageMetadata(priced) } : {}),
          responseMetadata: { ...event.responseMetadata, cost: priced.cost },
        };
      }
    } finally {
      if (!priced) await this.cutShort(call, seen, messages, runManager);
      call.close();
    }
  }

  /** Finds the call's budget, routes it (a downgrade once the run has spent enough), and begins it. */
  private async start(
    primary: CallTarget,
    messages: BaseMessage[],
    options: CallOptions,
    runManager: Run,
    standalone = false,
  ): Promise<Call> {
    const { budget, downgrade, captureHeaders, catalog } = this.settings;
    const handler = budget.locate(runManager, carriedBudget(options), { standalone });
    const route = downgrade?.route(primary, options, BudgetScope.spentFraction(handler)) ?? { target: primary, options };
    const request = {
      messages,
      model: route.target.modelName,
      provider: route.target.provider,
      tools: route.options.tools,
      metadata: carriedMetadata(options),
      catalog,
    };
    const scope = await budget.begin(handler, runManager, request);
    const headers = route.target.capturesHeaders ? captureHeaders?.() : undefined;
    return new Call(scope, route, headers);
  }

  private async *chunks(call: Call, messages: BaseMessage[], runManager: Run): AsyncGenerator<ChatGenerationChunk> {
    const maxTokens = await call.scope.reserve(call.route.target.outputLimits());
    yield* call.route.target.stream(messages, call.sendOptions(), runManager, maxTokens);
  }

  private async *modelEvents(call: Call, messages: BaseMessage[], runManager: Run, seen: StreamTally): AsyncGenerator<ChatModelStreamEvent> {
    const maxTokens = await call.scope.reserve(call.route.target.outputLimits());
    yield* call.route.target.events(messages, call.sendOptions(), runManager, maxTokens, (data) => seen.addRawEvent(data));
  }

  /**
   * A stream that ended without a priced response (the consumer stopped reading, an abort, an error): the
   * budget counts what it received (or releases it if nothing came), and `onCost` hears of a paid part.
   */
  private async cutShort(call: Call, seen: StreamTally, messages: BaseMessage[], runManager: Run): Promise<void> {
    await call.scope.cutShort(seen.received);
    if (!seen.received) return;
    try {
      this.report(await this.price(call, seen.outcome(messages, call.route.options.tools, false)), runManager);
    } catch {
      // Pricing a partial answer must not hide why the stream ended.
    }
  }

  private price(call: Call, outcome: Omit<CallOutcome, "model" | "provider"> & { model?: string | undefined }): Promise<PricedCall> {
    const { target, downgradedFrom, options } = call.route;
    return priceCall(this.settings.catalog, {
      ...outcome,
      tools: options.tools,
      model: outcome.model ?? servedModelOf(outcome.reply) ?? target.modelName,
      provider: target.provider,
      reportedUsd: reportedCostOf(undefined, call.headers?.headers),
      costSource: this.settings.costSource,
      downgradedFrom,
    });
  }

  private report(priced: PricedCall, runManager: Run): void {
    const { onCost } = this.settings;
    if (!onCost) return;
    const record = costRecord(priced, { runId: runManager?.runId, parentRunId: runManager?.parentRunId });
    try {
      onCost(record);
    } catch (error) {
      // The call was paid for and succeeded: a failing observer must not lose its answer.
      if (!this.onCostFailed) console.warn("langchain-metered: onCost threw; the call's answer is kept.", error);
      this.onCostFailed = true;
    }
  }
}

/** One call in flight: its budget scope, its route, and (MeteredChatModel) its response-header capture. */
class Call {
  constructor(
    readonly scope: BudgetScope,
    readonly route: Route,
    readonly headers: HeaderCapture | undefined,
  ) {}

  /** The options the target gets: the budget's signal merged in, and the header tag when capturing. */
  sendOptions(): CallOptions {
    const options = this.scope.withSignal(this.route.options);
    return this.headers ? this.headers.tag(options) : options;
  }

  close(): void {
    this.headers?.close();
  }
}

/**
 * A `streaming: true` ChatAnthropic or ChatGoogleGenerativeAI answers `invoke` by concatenating its own
 * stream, which sums usage the wrong way (Anthropic's message_start output token counted twice, Gemini's
 * cache reads once per chunk): such calls are streamed and concatenated here, and priced by their tally.
 */
function aggregatesBadly(target: CallTarget): boolean {
  return (target.model as unknown as { streaming?: unknown }).streaming === true && usageContract(target.provider).family !== "openai";
}

async function concatStream(chunks: AsyncIterable<ChatGenerationChunk>, seen: StreamTally, scope: BudgetScope): Promise<ChatResult> {
  let final: ChatGenerationChunk | undefined;
  for await (const chunk of chunks) {
    await scope.observe(seen.add(chunk.message, chunk.generationInfo?.model_name));
    final = final ? final.concat(chunk) : chunk;
  }
  if (!final) throw new Error("The model's stream returned no chunks.");
  const generationInfo = final.generationInfo ? { generationInfo: final.generationInfo } : {};
  return { generations: [{ text: final.text, message: final.message, ...generationInfo }] };
}

function toUsageMetadata({ usage }: PricedCall): UsageMetadata {
  return {
    input_tokens: usage.inputTokens,
    output_tokens: usage.outputTokens,
    total_tokens: usage.inputTokens + usage.outputTokens,
  };
}

function costChunk(priced: PricedCall): ChatGenerationChunk {
  return new ChatGenerationChunk({
    text: "",
    message: new AIMessageChunk({
      content: "",
      ...(priced.cost.estimated ? { usage_metadata: toUsageMetadata(priced) } : {}),
      response_metadata: { cost: priced.cost },
    }),
  });
}
