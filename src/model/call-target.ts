import type { CallbackManagerForLLMRun } from "@langchain/core/callbacks/manager";
import { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { ChatModelStreamEvent } from "@langchain/core/language_models/event";
import { AIMessageChunk, type BaseMessage } from "@langchain/core/messages";
import { ChatGenerationChunk, type ChatResult } from "@langchain/core/outputs";
import type { AsyncCaller } from "@langchain/core/utils/async_caller";
import { ensureOpenAIClients, retrierOf, singleAttemptView, tapRawUsage, viewWithMaxTokens } from "../langchain/internals.js";
import { usageContract } from "../usage/providers.js";

/** @internal Parsed call options, as LangChain hands them to a model's `_generate`. */
export type CallOptions = Record<string, unknown> & { signal?: AbortSignal; tools?: unknown };

type Run = CallbackManagerForLLMRun | undefined;

/** @internal Sees the provider's raw responses or stream events (see `tapRawUsage`). */
export type OnRaw = (data: unknown) => void;

/** @internal The three ways a chat model sends a call: its own, unmetered implementation. */
export interface ModelCalls {
  _generate(messages: BaseMessage[], options: never, runManager?: Run): Promise<ChatResult>;
  _streamResponseChunks(messages: BaseMessage[], options: never, runManager?: Run): AsyncGenerator<ChatGenerationChunk>;
  _streamChatModelEvents(messages: BaseMessage[], options: never, runManager?: Run): AsyncGenerator<ChatModelStreamEvent>;
}

/** @internal What bounds a call's output, for a hard cap. */
export interface OutputLimits {
  requestedMaxTokens: number | undefined;
  modelMaxOutputTokens: number | undefined;
  choices: number;
}

type Loose = Record<string, unknown>;

/**
 * @internal A chat model a metered call is sent to, through its own implementation (`calls`, which runs
 * with the model as `this`), so nothing meters it twice. Under a hard cap, a call is sent through a
 * per-call view of the model whose max output is lowered: concurrent calls on one model never share it.
 */
export class CallTarget {
  constructor(
    /** The model instance (a per-call view of it is what `calls` run on). */
    readonly model: BaseChatModel,
    /** Its model name, as priced when the response names none. */
    readonly modelName: string,
    /** The genai-prices provider whose prices apply. */
    readonly provider: string | undefined,
    private readonly calls: ModelCalls = model as unknown as ModelCalls,
    /** Its client fetches through `capturingFetch`, so a call can read its response headers. */
    readonly capturesHeaders = false,
  ) {
    // OpenAI-compatible responses keep their whole usage on the message: no per-call tap on that hot path.
    this.readsRaw = usageContract(provider).family !== "openai";
  }

  /** Whether a call's raw provider usage is read (Anthropic, Gemini), through a per-call view. */
  private readonly readsRaw: boolean;

  /** The model as metered calls send to it: one attempt per call (see `retrier`). Made on first use. */
  private base: BaseChatModel | undefined;

  /**
   * The model's own retrier, when it retries: metered calls retry through it, each attempt a budgeted call
   * of its own, and send each attempt through a view of the model that doesn't retry.
   */
  retrier(): AsyncCaller | undefined {
    return retrierOf(this.model);
  }

  /** The call's own max tokens (-1 or unset: none), the model's maximum output, and `n`. */
  outputLimits(): OutputLimits {
    const fields = this.model as unknown as Loose;
    const requested = [fields.maxTokens, fields.maxOutputTokens].find((v): v is number => typeof v === "number" && v > 0 && Number.isFinite(v));
    const profile = (fields.profile ?? {}) as { maxOutputTokens?: number };
    const n = typeof fields.n === "number" && fields.n > 0 ? fields.n : 1;
    return { requestedMaxTokens: requested, modelMaxOutputTokens: profile.maxOutputTokens, choices: n };
  }

  /** `onRaw`, here and below, sees the provider's raw usage where LangChain's message drops it. */
  generate(messages: BaseMessage[], options: CallOptions, runManager: Run, maxTokens?: number, onRaw?: OnRaw): Promise<ChatResult> {
    return this.calls._generate.call(this.view(maxTokens, onRaw), messages, options as never, runManager);
  }

  stream(messages: BaseMessage[], options: CallOptions, runManager: Run, maxTokens?: number, onRaw?: OnRaw): AsyncGenerator<ChatGenerationChunk> {
    // A model that can't stream answers at once: one chunk.
    if (this.calls._streamResponseChunks === BaseChatModel.prototype._streamResponseChunks) return this.oneChunk(messages, options, runManager, maxTokens, onRaw);
    return this.calls._streamResponseChunks.call(this.view(maxTokens, onRaw), messages, options as never, runManager);
  }

  private async *oneChunk(messages: BaseMessage[], options: CallOptions, runManager: Run, maxTokens?: number, onRaw?: OnRaw): AsyncGenerator<ChatGenerationChunk> {
    const result = await this.generate(messages, options, runManager, maxTokens, onRaw);
    for (const generation of result.generations.slice(0, 1)) yield toChunk(generation.message);
  }

  /** A model's native event stream (ChatAnthropic's events carry neither the 1-hour cache split nor a stated cost). */
  async *events(messages: BaseMessage[], options: CallOptions, runManager: Run, maxTokens?: number, onRaw?: OnRaw): AsyncGenerator<ChatModelStreamEvent> {
    const native = this.calls._streamChatModelEvents !== BaseChatModel.prototype._streamChatModelEvents;
    if (native) {
      yield* this.calls._streamChatModelEvents.call(this.view(maxTokens, onRaw), messages, options as never, runManager);
      return;
    }
    // LangChain's own bridge (BaseChatModel's), over this target's (possibly one-chunk) stream.
    const view = Object.create(this.view(maxTokens, undefined, true)) as Loose;
    view._streamResponseChunks = (m: BaseMessage[], o: CallOptions, r: Run) => this.stream(m, o, r, maxTokens, onRaw);
    yield* BaseChatModel.prototype._streamChatModelEvents.call(view as unknown as BaseChatModel, messages, options as never, runManager);
  }

  /**
   * The model as a call is sent to it: its one-attempt view, or a per-call view of that with its max output
   * lowered to `maxTokens` and the raw usage reported to `onRaw` (or a place for other per-call overrides).
   */
  private view(maxTokens: number | undefined, onRaw?: OnRaw, always = false): BaseChatModel {
    const base = this.ready();
    const tap = this.readsRaw ? onRaw : undefined;
    if (maxTokens === undefined && !tap && !always) return base;
    const view = viewWithMaxTokens(base, maxTokens);
    if (tap) tapRawUsage(view, base, tap);
    return view;
  }

  /**
   * The model as calls are sent to it, with its SDK client made: ChatOpenAI makes it lazily on `this` (a
   * per-call view would build its own), and outside its retrier, so a client that can't be made (no API key)
   * fails at once, as on ChatOpenAI, rather than after every retry of the call.
   */
  ready(): BaseChatModel {
    this.base ??= this.retrier() ? singleAttemptView(this.model) : this.model;
    if (!this.clientsMade && isChatOpenAI(this.base)) ensureOpenAIClients(this.base);
    this.clientsMade = true;
    return this.base;
  }

  private clientsMade = false;
}

const isChatOpenAI = (model: BaseChatModel): boolean => {
  const fields = model as unknown as Loose;
  return typeof fields.completions === "object" && typeof fields.responses === "object";
};

function toChunk(message: BaseMessage): ChatGenerationChunk {
  const { content, additional_kwargs, response_metadata, id } = message;
  const ai = message as Partial<AIMessageChunk>;
  const chunk = new AIMessageChunk({
    content,
    additional_kwargs,
    response_metadata,
    ...(id ? { id } : {}),
    ...(ai.usage_metadata ? { usage_metadata: ai.usage_metadata } : {}),
    tool_call_chunks: (ai.tool_calls ?? []).map((call, index) => ({
      type: "tool_call_chunk" as const,
      name: call.name,
      args: JSON.stringify(call.args),
      id: call.id,
      index,
    })),
  });
  return new ChatGenerationChunk({ message: chunk, text: typeof content === "string" ? content : "" });
}
