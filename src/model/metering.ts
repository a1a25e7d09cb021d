import type { CallbackManagerForLLMRun } from "@langchain/core/callbacks/manager";
import type { ChatModelStreamEvent } from "@langchain/core/language_models/event";
import type { AIMessage, BaseMessage } from "@langchain/core/messages";
import type { ChatGenerationChunk, ChatResult } from "@langchain/core/outputs";
import type { BudgetCall } from "../budget/budget-call.js";
import { type CallPlan, DEFAULT_MAX_OUTPUT_TOKENS, planCall } from "../budget/plan.js";
import { ProviderResponseError } from "../langchain/call-errors.js";
import { carriedMetadata } from "../langchain/call-options.js";
import { contentText, countInputTokens, inputTokenBound } from "../langchain/messages.js";
import { UnknownModelPriceError } from "../pricing/errors.js";
import { usageContract } from "../usage/providers.js";
import { budgetForCall } from "./budget-for-call.js";
import type { CallOptions, CallTarget } from "./call-target.js";
import type { Route } from "./downgrade.js";
import { endingAnswer, graceful, ungraceful } from "./graceful-stop.js";
import { MeteredCall, type MeteringSettings, type Received } from "./metered-call.js";
import { concatStream, meteredChunks, meteredEvents, startStream } from "./metered-stream.js";
import { StreamTally } from "./stream-tally.js";

export type { MeteringSettings } from "./metered-call.js";

type Run = CallbackManagerForLLMRun | undefined;

/**
 * @internal The metering core: wraps a model's three ways of sending a call (`_generate`,
 * `_streamResponseChunks`, `_streamChatModelEvents`) so each call finds its budget, may be downgraded, is
 * sent to its target, and ends exactly once (see `MeteredCall`), priced under its provider's usage contract.
 *
 * Retries are ours: the model's own retrier (its `caller`) runs each attempt as a budgeted call of its own,
 * sent through a view of the model that doesn't retry, so an attempt the provider billed before it failed
 * is charged rather than hidden behind the retry that succeeded (a stream's start only, as LangChain does).
 */
export class Metering {
  constructor(private readonly settings: MeteringSettings) {}

  generate(primary: CallTarget, messages: BaseMessage[], options: CallOptions, runManager: Run): Promise<ChatResult> {
    return this.retrying(primary, options, () => this.generateOnce(primary, messages, options, runManager));
  }

  stream(primary: CallTarget, messages: BaseMessage[], options: CallOptions, runManager: Run): AsyncGenerator<ChatGenerationChunk> {
    return meteredChunks(() =>
      this.retrying(primary, options, async () => {
        const call = await this.open(primary, messages, options, runManager);
        return startStream(call, (seen) => call.target.stream(messages, call.sendOptions(), runManager, call.maxTokens, (data) => seen.addRawEvent(data)));
      }).catch(endingAnswer),
    );
  }

  events(primary: CallTarget, messages: BaseMessage[], options: CallOptions, runManager: Run): AsyncGenerator<ChatModelStreamEvent> {
    return meteredEvents(() =>
      this.retrying(primary, options, async () => {
        const call = await this.open(primary, messages, options, runManager).catch((error: unknown) => {
          throw ungraceful(error);
        });
        return startStream(call, (seen) =>
          call.target.events(messages, call.sendOptions(), runManager, call.maxTokens, (data) => seen.addRawEvent(data)),
        );
      }),
    );
  }

  private async generateOnce(primary: CallTarget, messages: BaseMessage[], options: CallOptions, runManager: Run): Promise<ChatResult> {
    const opened = await this.open(primary, messages, options, runManager).catch(endingAnswer);
    if (!(opened instanceof MeteredCall)) return { generations: [{ text: contentText(opened.content), message: opened }] };
    const call = opened;
    const seen = aggregatesBadly(call.target) ? new StreamTally(call.target.provider) : undefined;
    const contract = usageContract(call.target.provider);
    let rawUsage: Record<string, unknown> | undefined;
    const onRaw = (data: unknown) => {
      if (seen) return seen.addRawEvent(data);
      const raw = contract.rawFrom(data);
      if (raw) rawUsage = { ...rawUsage, ...raw };
    };
    let result: ChatResult;
    try {
      result = seen
        ? await concatStream(call.target.stream(messages, call.sendOptions(), runManager, call.maxTokens, onRaw), seen, call)
        : await call.target.generate(messages, call.sendOptions(), runManager, call.maxTokens, onRaw);
      if (!result.generations[0]?.message) {
        throw new ProviderResponseError({ model: call.target.modelName, provider: call.target.provider, what: "its answer has no message" });
      }
    } catch (error) {
      throw await call.fail(error, seen?.soFar());
    } finally {
      call.close();
    }
    // With n > 1 every generation carries the same usage: price the call once, show it on each. An estimate
    // stays on the cost (`estimatedUsage`): usage_metadata is what the provider reported, as on ChatOpenAI.
    const reply = result.generations[0]?.message as AIMessage | undefined;
    const received: Received = seen ? seen.soFar() : { reply, usage: reply?.usage_metadata, rawUsage };
    const priced = call.ended ? call.settled() : await call.finish(received, () => seen?.answer ?? (reply ? contentText(reply.content) : ""));
    for (const generation of result.generations) {
      const message = generation.message as AIMessage;
      message.response_metadata = { ...message.response_metadata, cost: priced.cost };
    }
    return result;
  }

  /** Runs `attempt` through the target's own retrier, when it retries; each attempt is a call of its own. */
  private retrying<T>(primary: CallTarget, options: CallOptions, attempt: () => Promise<T>): Promise<T> {
    const retrier = primary.retrier();
    if (!retrier) return attempt();
    primary.ready();
    return retrier.callWithOptions({ signal: options.signal }, attempt);
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
    let ticket: BudgetCall;
    try {
      ticket = await budget.open({
        model: target.modelName,
        provider: target.provider,
        runId: runManager?.runId,
        parentRunId: runManager?.parentRunId,
        // Quota keys are filled from the run's metadata, which the call options carry (see markMeteredCall).
        metadata: carriedMetadata(options),
        holds: capped,
      });
    } catch (error) {
      throw graceful(budget, error);
    }
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
    const quote = this.settings.catalog.find(target.modelName, target.provider);
    // A model priced only by its endpoint's report, in a run another model or a middleware hard-caps.
    if (!quote) throw new UnknownModelPriceError(target.modelName, target.provider, { entry: this.settings.entry, hardCap: true });
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

/**
 * A `streaming: true` ChatAnthropic or ChatGoogleGenerativeAI answers `invoke` by concatenating its own
 * stream, which sums usage the wrong way: such calls are streamed and concatenated here (see `concatStream`).
 */
function aggregatesBadly(target: CallTarget): boolean {
  return (target.model as unknown as { streaming?: unknown }).streaming === true && usageContract(target.provider).family !== "openai";
}
