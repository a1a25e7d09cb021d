import type { CallbackManagerForLLMRun } from "@langchain/core/callbacks/manager";
import type { ChatModelStreamEvent } from "@langchain/core/language_models/event";
import { AIMessage, AIMessageChunk, type BaseMessage, type UsageMetadata } from "@langchain/core/messages";
import { ChatGenerationChunk, type ChatResult } from "@langchain/core/outputs";
import type { Budget } from "../budget/budget.js";
import type { BudgetCall, PricedCall } from "../budget/budget-call.js";
import { BudgetExceededError } from "../budget/errors.js";
import { type CallPlan, DEFAULT_MAX_OUTPUT_TOKENS, planCall } from "../budget/plan.js";
import { carriedMetadata } from "../langchain/call-options.js";
import { contentText, countInputTokens, inputTokenBound } from "../langchain/messages.js";
import { reportsUsage } from "../usage/validate.js";
import { usageContract } from "../usage/providers.js";
import { budgetForCall } from "./budget-for-call.js";
import { ProviderResponseError } from "../langchain/call-errors.js";
import type { CallOptions, CallTarget } from "./call-target.js";
import type { Route } from "./downgrade.js";
import { MeteredCall, type MeteringSettings, type Received } from "./metered-call.js";
import { StreamTally } from "./stream-tally.js";

export type { MeteringSettings } from "./metered-call.js";

type Run = CallbackManagerForLLMRun | undefined;

/** What is still open when a stream is dropped: its call and what it received. */
interface OpenStream {
  call?: MeteredCall;
  seen?: StreamTally;
}

/**
 * A stream LangChain raced past (it races a generator against the call's abort signal and never calls
 * `return()` on it) or that its consumer simply dropped can't run its own `finally`: when its generator is
 * collected with its call still open, the call is ended with what it received.
 */
const droppedStreams = new FinalizationRegistry<OpenStream>((open) => {
  if (open.call && !open.call.ended) void open.call.cutShort(open.seen?.soFar() ?? {});
});

/**
 * @internal The metering core: wraps a model's three ways of sending a call (`_generate`,
 * `_streamResponseChunks`, `_streamChatModelEvents`) so each call finds its budget, may be downgraded, is
 * sent to its target, and ends exactly once (see `MeteredCall`), priced under its provider's usage contract.
 */
export class Metering {
  constructor(private readonly settings: MeteringSettings) {}

  async generate(primary: CallTarget, messages: BaseMessage[], options: CallOptions, runManager: Run): Promise<ChatResult> {
    const call = await this.open(primary, messages, options, runManager).catch(endingAnswer);
    if (!(call instanceof MeteredCall)) return { generations: [{ text: contentText(call.content), message: call }] };
    const seen = aggregatesBadly(call.target) ? new StreamTally(call.target.provider) : undefined;
    let result: ChatResult;
    try {
      result = seen
        ? await concatStream(call.target.stream(messages, call.sendOptions(), runManager, call.maxTokens), seen, call)
        : await call.target.generate(messages, call.sendOptions(), runManager, call.maxTokens);
      if (!result.generations[0]?.message) {
        throw new ProviderResponseError({ model: call.target.modelName, provider: call.target.provider, what: "its answer has no message" });
      }
    } catch (error) {
      throw await call.fail(error, seen?.soFar());
    } finally {
      call.close();
    }
    // With n > 1 every generation carries the same usage: price the call once, show it on each.
    const reply = result.generations[0]?.message as AIMessage | undefined;
    const received: Received = seen ? seen.soFar() : { reply, usage: reply?.usage_metadata };
    const priced = call.ended ? call.settled() : await call.finish(received, () => seen?.answer ?? (reply ? contentText(reply.content) : ""));
    for (const generation of result.generations) {
      const message = generation.message as AIMessage;
      if (priced.cost.estimated && !reportsUsage(message.usage_metadata)) message.usage_metadata = toUsageMetadata(priced);
      message.response_metadata = { ...message.response_metadata, cost: priced.cost };
    }
    return result;
  }

  stream(primary: CallTarget, messages: BaseMessage[], options: CallOptions, runManager: Run): AsyncGenerator<ChatGenerationChunk> {
    const open: OpenStream = {};
    const generator = this.streamChunks(open, primary, messages, options, runManager);
    droppedStreams.register(generator, open);
    return generator;
  }

  events(primary: CallTarget, messages: BaseMessage[], options: CallOptions, runManager: Run): AsyncGenerator<ChatModelStreamEvent> {
    const open: OpenStream = {};
    const generator = this.streamEvents(open, primary, messages, options, runManager);
    droppedStreams.register(generator, open);
    return generator;
  }

  private async *streamChunks(open: OpenStream, primary: CallTarget, messages: BaseMessage[], options: CallOptions, runManager: Run): AsyncGenerator<ChatGenerationChunk> {
    const opened = await this.open(primary, messages, options, runManager).catch(endingAnswer);
    if (!(opened instanceof MeteredCall)) {
      yield new ChatGenerationChunk({ text: contentText(opened.content), message: new AIMessageChunk({ ...opened }) });
      return;
    }
    const call = (open.call = opened);
    const seen = (open.seen = new StreamTally(call.target.provider));
    const unwatch = endOnAbort(call, seen);
    // A chunk with usage is held until the next one arrives: usage may come in several chunks (Anthropic,
    // Gemini), and the cost goes on the last of them, once the whole usage is known.
    let held: ChatGenerationChunk | undefined;
    let priced: PricedCall;
    try {
      for await (const chunk of call.target.stream(messages, call.sendOptions(), runManager, call.maxTokens)) {
        const partial = await call.watch.observe(seen.add(chunk.message, chunk.generationInfo?.model_name));
        if (partial && (await call.stopAt(partial, () => seen.answer))) break;
        if (held) yield held;
        held = StreamTally.carriesUsage(chunk.message) ? chunk : undefined;
        if (!held) yield chunk;
      }
      if (!seen.received) throw new ProviderResponseError({ model: call.target.modelName, provider: call.target.provider, what: "its stream carried no message" });
      priced = call.ended ? call.settled() : await call.finish(seen.soFar(), () => seen.answer);
    } catch (error) {
      throw await call.fail(error, seen.soFar());
    } finally {
      unwatch();
      if (!call.ended) await call.cutShort(seen.soFar()); // the consumer stopped reading
      call.close();
    }
    if (held && !priced.cost.estimated) {
      held.message.response_metadata = { ...held.message.response_metadata, cost: priced.cost };
      yield held;
      return;
    }
    if (held) yield held;
    // No usage (streamUsage off, or a proxy that drops it): the estimate rides on a last chunk.
    yield costChunk(priced);
  }

  private async *streamEvents(open: OpenStream, primary: CallTarget, messages: BaseMessage[], options: CallOptions, runManager: Run): AsyncGenerator<ChatModelStreamEvent> {
    const call = (open.call = await this.open(primary, messages, options, runManager).catch((error: unknown) => {
      throw error instanceof GracefulStop ? error.stop : error;
    }));
    const seen = (open.seen = new StreamTally(call.target.provider));
    const unwatch = endOnAbort(call, seen);
    try {
      const events = call.target.events(messages, call.sendOptions(), runManager, call.maxTokens, (data) => seen.addRawEvent(data));
      for await (const event of events) {
        const partial = await call.watch.observe(seen.addEvent(event));
        if (partial && (await call.stopAt(partial, () => seen.answer))) break;
        if (event.event !== "message-finish") {
          yield event;
          continue;
        }
        const priced = await call.finish(seen.soFar(), () => seen.answer);
        yield {
          ...event,
          ...(priced.cost.estimated ? { usage: toUsageMetadata(priced) } : {}),
          responseMetadata: { ...event.responseMetadata, cost: priced.cost },
        };
      }
      if (!call.ended && !seen.received) throw new ProviderResponseError({ model: call.target.modelName, provider: call.target.provider, what: "its stream carried no message" });
    } catch (error) {
      throw await call.fail(error, seen.soFar());
    } finally {
      unwatch();
      if (!call.ended) await call.cutShort(seen.soFar());
      call.close();
    }
  }

  /**
   * Finds the call's budget, routes it (a downgrade once the run has spent enough), admits it, and under a
   * hard cap holds its worst case with its max tokens lowered to what the budget can pay for.
   */
  private async open(primary: CallTarget, messages: BaseMessage[], options: CallOptions, runManager: Run): Promise<MeteredCall> {
    const { budget: settings, downgrade, captureHeaders } = this.settings;
    const budget = budgetForCall(runManager, options, settings);
    const route = downgrade?.route(primary, options, budget.spentFraction()) ?? { target: primary, options };
    const { target } = route;
    const capped = budget.hardCap && budget.enforcing;
    const ticket = await openOrEnd(budget, {
      model: target.modelName,
      provider: target.provider,
      runId: runManager?.runId,
      parentRunId: runManager?.parentRunId,
      // Quota keys are filled from the run's metadata: a call without a run manager finds it in the call options.
      metadata: carriedMetadata(options),
      holds: capped,
    });
    let plan: { plan: CallPlan; ceiling: number; choices: number } | undefined;
    try {
      if (capped) plan = await this.hold(ticket, route, messages);
    } catch (error) {
      await ticket.release();
      throw graceful(budget, error);
    }
    const headers = target.capturesHeaders ? captureHeaders?.() : undefined;
    return new MeteredCall(this.settings, ticket, route, messages, runManager, plan, headers);
  }

  /**
   * Plans a hard-capped call from a cheap bound on its input first (its bytes: a token is at least one
   * byte); tokens are counted only when that bound would not leave the call its full answer, or when
   * quotas in a store decide (their room isn't known until the hold).
   */
  private async hold(ticket: BudgetCall, route: Route, messages: BaseMessage[]): Promise<{ plan: CallPlan; ceiling: number; choices: number }> {
    const { target, options } = route;
    const limits = target.outputLimits();
    const quote = this.settings.catalog.get(target.modelName, target.provider);
    const ceiling = Math.floor(limits.requestedMaxTokens ?? limits.modelMaxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS);
    const planWith = (inputTokens: number) => (availableNano: number) => planCall({ price: quote.price, inputTokens, ...limits, availableNano });
    let planFor = planWith(inputTokenBound(messages, target.modelName, options.tools));
    if (ticket.limits.length || planFor(ticket.budget.ledger.availableNano).decision !== "allowed") {
      planFor = planWith(await countInputTokens(messages, target.modelName, options.tools));
    }
    const plan = await ticket.hold(planFor, quote.source, options.signal);
    return { plan, ceiling, choices: limits.choices };
  }
}

/** A refusal of a budget that ends its run gracefully (`budgetMiddleware({ exitBehavior: "end" })`). */
class GracefulStop extends Error {
  constructor(readonly stop: BudgetExceededError) {
    super(stop.message);
  }
}

function graceful(budget: Budget, error: unknown): unknown {
  return budget.current.endGracefully && BudgetExceededError.isInstance(error) ? new GracefulStop(error) : error;
}

async function openOrEnd(budget: Budget, info: Parameters<Budget["open"]>[0]): Promise<BudgetCall> {
  try {
    return await budget.open(info);
  } catch (error) {
    throw graceful(budget, error);
  }
}

/** A graceful stop answers the call with a message saying the budget is spent: an agent ends on it (it calls no tool). */
function endingAnswer(error: unknown): AIMessage {
  if (!(error instanceof GracefulStop)) throw error;
  const { stop, scope, limitUsd, spentUsd } = error.stop;
  return new AIMessage({ content: error.stop.message, response_metadata: { budgetStop: { stop, scope, limitUsd, spentUsd } } });
}

/**
 * Ends a stream's call as soon as the caller's (or its budget's) signal aborts: LangChain may race past the
 * generator and never resume it, so its `finally` can't be relied on. Returns the listener's remover.
 */
function endOnAbort(call: MeteredCall, seen: StreamTally): () => void {
  const signals = call.signals();
  if (!signals.length) return () => {};
  const onAbort = () => void call.cutShort(seen.soFar());
  for (const signal of signals) signal.addEventListener("abort", onAbort, { once: true });
  return () => {
    for (const signal of signals) signal.removeEventListener("abort", onAbort);
  };
}

/**
 * A `streaming: true` ChatAnthropic or ChatGoogleGenerativeAI answers `invoke` by concatenating its own
 * stream, which sums usage the wrong way (Anthropic's message_start output token counted twice, Gemini's
 * cache reads once per chunk): such calls are streamed and concatenated here, and priced by their tally.
 */
function aggregatesBadly(target: CallTarget): boolean {
  return (target.model as unknown as { streaming?: unknown }).streaming === true && usageContract(target.provider).family !== "openai";
}

async function concatStream(chunks: AsyncIterable<ChatGenerationChunk>, seen: StreamTally, call: MeteredCall): Promise<ChatResult> {
  let final: ChatGenerationChunk | undefined;
  for await (const chunk of chunks) {
    const partial = await call.watch.observe(seen.add(chunk.message, chunk.generationInfo?.model_name));
    final = final ? final.concat(chunk) : chunk;
    if (partial && (await call.stopAt(partial, () => seen.answer))) break;
  }
  if (!final) return { generations: [] };
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
