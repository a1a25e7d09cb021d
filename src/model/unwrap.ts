import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { RunnableBinding, RunnableMap, RunnableSequence } from "@langchain/core/runnables";
import type { CallOptions } from "./call-target.js";

/** @internal A chat model and the call options bound to it. */
export interface BoundModel {
  model: BaseChatModel;
  options: CallOptions;
}

// Run-level settings, not call options: a call made inside an already-running call never takes them.
const RUN_KEYS = ["callbacks", "tags", "metadata", "runName", "configurable", "recursionLimit", "maxConcurrency", "runId"];

/** @internal Whether a value is a LangChain chat model (by duck type: copies of @langchain/core differ). */
export function isChatModel(value: unknown): value is BaseChatModel {
  const model = value as { _modelType?: () => string; _generate?: unknown } | null;
  return typeof model?._modelType === "function" && model._modelType() === "base_chat_model" && typeof model._generate === "function";
}

/**
 * @internal The chat model inside what `bindTools`, `withConfig` or `withStructuredOutput` returned (a
 * RunnableBinding, ChatOpenAI's copy with `defaultOptions`, a structured-output pipeline), with the call
 * options bound on the way; `undefined` when there is none.
 */
export function unwrapChatModel(runnable: unknown): BoundModel | undefined {
  let current = runnable;
  let options: Record<string, unknown> = {};
  for (let depth = 0; depth < 16 && current; depth++) {
    if (isChatModel(current)) {
      const defaults = (current as { defaultOptions?: Record<string, unknown> }).defaultOptions;
      return { model: current, options: callOptionsOnly({ ...defaults, ...options }) };
    }
    if (RunnableBinding.isRunnableBinding(current)) {
      options = { ...current.kwargs, ...current.config, ...options };
      current = current.bound;
    } else if (RunnableSequence.isRunnableSequence(current)) {
      current = current.steps[0];
    } else if (current instanceof RunnableMap) {
      current = (current as unknown as { steps: Record<string, unknown> }).steps.raw; // withStructuredOutput's includeRaw pipeline
    } else {
      return undefined;
    }
  }
  return undefined;
}

/** @internal Options without the run-level keys (callbacks, tags, metadata, …). */
export function callOptionsOnly(options: Record<string, unknown>): CallOptions {
  const out: Record<string, unknown> = { ...options };
  for (const key of RUN_KEYS) delete out[key];
  return out;
}
