import { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { RunnableMap, RunnableSequence } from "@langchain/core/runnables";
import { AsyncCaller } from "@langchain/core/utils/async_caller";
import { AsyncGeneratorWithSetup } from "@langchain/core/utils/stream";
import { _CONTEXT_VARIABLES_KEY, AsyncLocalStorageProviderSingleton } from "@langchain/core/singletons";
import { MeteredError } from "../errors.js";

/**
 * Every place this library reaches into LangChain's (or a provider SDK's) internals, each behind a feature
 * check, verified against @langchain/core 1.4, @langchain/openai 1.6 and @langchain/anthropic 1.5 (see
 * test/langchain/internals.test.ts, one contract test per internal). A check that fails names the
 * package whose version no longer fits, rather than metering wrong in silence.
 */

type Loose = Record<PropertyKey, unknown>;

/** An internal of a package this library reads or patches is not what it was verified against. */
export class UnsupportedVersionError extends MeteredError {
  constructor(what: string, pkg: string) {
    super(
      `langchain-metered can't find ${what} in ${pkg}: this version of ${pkg} isn't supported yet. ` +
        `Pin ${pkg} to a version this release was tested with (see the README), or upgrade langchain-metered.`,
    );
  }
}

// ---------------------------------------------------------------------------------------------------------
// AsyncLocalStorage: where LangChain keeps the running config, and where run scopes live.
// ---------------------------------------------------------------------------------------------------------

/** The key under which LangChain's async-context store keeps its context variables (carried to every child). */
const CONTEXT_VARIABLES: symbol = _CONTEXT_VARIABLES_KEY;

/** @internal The subset of AsyncLocalStorage LangChain's store offers. */
export interface ContextStorage {
  getStore(): Loose | undefined;
  run<T>(store: unknown, fn: () => T): T;
}

const GLOBAL_STORAGE = Symbol.for("ls:tracing_async_local_storage");

/**
 * @internal LangChain's AsyncLocalStorage, set up if nothing did it yet (importing `@langchain/langgraph`
 * or `langchain` does, `@langchain/core` alone doesn't): from the runtime's own AsyncLocalStorage (Node, Deno,
 * Bun, Cloudflare Workers with nodejs_compat), reached without a static import of `node:async_hooks`, so
 * the package still bundles for browsers. `undefined` where the runtime has none.
 */
export function contextStorage(): ContextStorage | undefined {
  if (!(globalThis as Loose)[GLOBAL_STORAGE]) {
    const Storage = runtimeAsyncLocalStorage();
    if (Storage) AsyncLocalStorageProviderSingleton.initializeGlobalInstance(new Storage() as never);
  }
  const storage = (globalThis as Loose)[GLOBAL_STORAGE] as ContextStorage | undefined;
  return typeof storage?.run === "function" ? storage : undefined;
}

/** @internal A context variable of this library in LangChain's store, as the caller's async context sees it. */
export function contextVariable<T>(storage: ContextStorage, key: symbol): T | undefined {
  return (storage.getStore()?.[CONTEXT_VARIABLES] as Record<symbol, T | undefined> | undefined)?.[key];
}

/**
 * @internal Runs `fn` with context variable `key` set to `value` in LangChain's store. What the store holds is
 * kept (LangChain's config, a LangSmith run tree: a class instance is kept as the prototype, so its methods
 * still work); context variables are copied, never shared with another context.
 */
export function runWithContextVariable<T>(storage: ContextStorage, key: symbol, value: unknown, fn: () => T): T {
  const store = storage.getStore();
  const next: Record<PropertyKey, unknown> =
    store && Object.getPrototypeOf(store) !== Object.prototype ? Object.create(store) : { ...store };
  next[CONTEXT_VARIABLES] = { ...(store?.[CONTEXT_VARIABLES] as object | undefined), [key]: value };
  return storage.run(next, fn);
}

function runtimeAsyncLocalStorage(): (new () => unknown) | undefined {
  const global = globalThis as Loose;
  if (typeof global.AsyncLocalStorage === "function") return global.AsyncLocalStorage as new () => unknown;
  const proc = global.process as { getBuiltinModule?: (id: string) => Loose | undefined } | undefined;
  const hooks = proc?.getBuiltinModule?.("node:async_hooks");
  return typeof hooks?.AsyncLocalStorage === "function" ? (hooks.AsyncLocalStorage as new () => unknown) : undefined;
}

type Method = (this: unknown, ...args: unknown[]) => unknown;
const PATCHED = Symbol.for("langchain-metered.runRoot");

/**
 * Set for the synchronous part of a call whose `runWithConfig` must not start a run: a chat model's own
 * `stream()` (its call is its own run, with a budget of its own and no scope), and every later `next()` of a
 * stream (LangChain runs each chunk through `runWithConfig`; the run's scope was entered at its setup).
 * Consumed by the first `runWithConfig` that sees it. Entering a scope per chunk would cost every stream in the
 * process a store per chunk, and on Node 20 turn on async hooks for every promise.
 */
let skipNextRoot = false;

/**
 * @internal Makes `enter(fn)` wrap the start of every LangChain run that isn't inside one already (`inRun()`):
 * `runWithConfig`, through which LangGraph nodes, lambdas, tools, fallbacks and the setup of every `.stream()`
 * run; and `invoke` of `RunnableSequence` and `RunnableMap`, which run their steps without it. A chat model's
 * own `stream()` and a stream's later chunks start none. Patched once per copy of @langchain/core; returns
 * false (and patches nothing) where the internals don't fit.
 */
export function wrapRunRoots(inRun: () => boolean, enter: <T>(fn: () => T) => T): boolean {
  const roots: Array<[Loose, string]> = [
    [AsyncLocalStorageProviderSingleton as unknown as Loose, "runWithConfig"],
    [RunnableSequence.prototype as unknown as Loose, "invoke"],
    [RunnableMap.prototype as unknown as Loose, "invoke"],
  ];
  const notRoots: Array<[Loose, string]> = [
    [BaseChatModel.prototype as unknown as Loose, "stream"],
    [AsyncGeneratorWithSetup.prototype as unknown as Loose, "next"],
  ];
  if (![...roots, ...notRoots].every(([owner, name]) => typeof owner[name] === "function")) return false;
  for (const [owner, name] of roots) {
    patch(owner, name, (original) =>
      function (this: unknown, ...args: unknown[]) {
        if (inRun()) return original.apply(this, args);
        if (skipNextRoot) {
          skipNextRoot = false;
          return original.apply(this, args);
        }
        return enter(() => original.apply(this, args));
      },
    );
  }
  for (const [owner, name] of notRoots) {
    patch(owner, name, (original) =>
      function (this: unknown, ...args: unknown[]) {
        skipNextRoot = !inRun();
        try {
          return original.apply(this, args);
        } finally {
          skipNextRoot = false;
        }
      },
    );
  }
  return true;
}

/** Replaces `owner[name]` with `wrap(original)`, once: a second copy of this package finds it patched. */
function patch(owner: Loose, name: string, wrap: (original: Method) => Method): void {
  const original = owner[name] as Method & { [PATCHED]?: true };
  if (original[PATCHED]) return;
  const wrapped = wrap(original) as Method & { [PATCHED]?: true };
  wrapped[PATCHED] = true;
  owner[name] = wrapped;
}

// ---------------------------------------------------------------------------------------------------------
// ChatOpenAI: its two delegates, its lazily made client, its token counter.
// ---------------------------------------------------------------------------------------------------------

/** @internal ChatOpenAI sends through two delegates built from its fields (Chat Completions, Responses). */
export function openAIDelegates(model: BaseChatModel): BaseChatModel[] {
  const { completions, responses } = model as unknown as Loose;
  if (!isObject(completions) || !isObject(responses)) throw new UnsupportedVersionError("ChatOpenAI's completions/responses delegates", "@langchain/openai");
  return [completions as unknown as BaseChatModel, responses as unknown as BaseChatModel];
}

/**
 * @internal Makes the OpenAI SDK client of ChatOpenAI (and of its delegates) now, on the real objects: it is
 * made lazily on `this`, so a per-call view made before it exists would build a client per call.
 */
export function ensureOpenAIClients(model: BaseChatModel): void {
  for (const target of [model, ...openAIDelegates(model)]) {
    const make = (target as unknown as Loose)._getClientOptions;
    if (typeof make !== "function") throw new UnsupportedVersionError("ChatOpenAI's _getClientOptions", "@langchain/openai");
    if (!(target as unknown as Loose).client) make.call(target, undefined);
  }
}

/**
 * @internal LangChain's token counter downloads tiktoken ranks on first use (offline, a `streaming: true`
 * invoke stalls for minutes): count with our local tokenizer instead, on the model and both delegates.
 */
export function replaceTokenCounter(model: BaseChatModel, count: (content: unknown) => Promise<number>): void {
  if (typeof (model as unknown as Loose).getNumTokens !== "function") throw new UnsupportedVersionError("getNumTokens", "@langchain/core");
  // A delegate given by the user (`completions: myMock`) may count, or not, as it likes.
  for (const target of [model, ...openAIDelegates(model)]) {
    if (typeof (target as unknown as Loose).getNumTokens === "function") (target as unknown as Loose).getNumTokens = count;
  }
}

/** @internal The model's own retrier (its `caller`, LangChain's AsyncCaller), when it retries at all. */
export function retrierOf(model: BaseChatModel): AsyncCaller | undefined {
  const caller = (model as unknown as { caller?: AsyncCaller }).caller;
  const retries = (caller as unknown as { maxRetries?: unknown } | undefined)?.maxRetries;
  return caller && typeof caller.callWithOptions === "function" && typeof retries === "number" && retries > 0 ? caller : undefined;
}

let oneAttempt: AsyncCaller | undefined;

/**
 * @internal A view of a chat model (and of ChatOpenAI's delegates) that sends each call as one attempt: its
 * `caller` never retries. A metered call retries through the model's own caller instead, one budgeted
 * attempt at a time, so an attempt the provider billed before it failed (a connection reset after the
 * answer was generated, an answer that isn't one) is charged, not hidden behind the retry that succeeded.
 */
export function singleAttemptView(model: BaseChatModel): BaseChatModel {
  // One for every view: it holds no state of a model's (the model's own caller still limits concurrency,
  // since every attempt runs inside it), and an agent makes a model per call through `bindTools`.
  const once = (oneAttempt ??= new AsyncCaller({ maxRetries: 0 }));
  const view = Object.create(model) as Loose;
  view.caller = once;
  const fields = model as unknown as Loose;
  if (isObject(fields.completions) && isObject(fields.responses)) {
    view.completions = Object.assign(Object.create(fields.completions) as Loose, { caller: once });
    view.responses = Object.assign(Object.create(fields.responses) as Loose, { caller: once });
  }
  return view as unknown as BaseChatModel;
}

/**
 * @internal A per-call view of a chat model with its max output lowered to `maxTokens` (ChatOpenAI and
 * ChatAnthropic call it `maxTokens`, ChatGoogleGenerativeAI `maxOutputTokens`): concurrent calls never
 * share the setting. ChatOpenAI's delegates read their own fields, so each gets a view too. Undefined
 * `maxTokens` gives a plain view (a place to put per-call overrides such as a raw-stream tap).
 */
export function viewWithMaxTokens(model: BaseChatModel, maxTokens: number | undefined): BaseChatModel {
  const view = Object.create(model) as Loose;
  if (maxTokens === undefined) return view as unknown as BaseChatModel;
  const fields = model as unknown as Loose;
  if (isObject(fields.completions) && isObject(fields.responses)) {
    view.completions = Object.assign(Object.create(fields.completions as object) as Loose, capField(fields.completions as Loose, maxTokens));
    view.responses = Object.assign(Object.create(fields.responses as object) as Loose, capField(fields.responses as Loose, maxTokens));
  } else {
    Object.assign(view, capField(fields, maxTokens));
  }
  return view as unknown as BaseChatModel;
}

function capField(target: Loose, maxTokens: number): Loose {
  if ("maxOutputTokens" in target && !("maxTokens" in target)) return { maxOutputTokens: maxTokens };
  return { maxTokens };
}

// ---------------------------------------------------------------------------------------------------------
// Raw provider usage, where LangChain's provider packages drop or mis-sum it. ChatAnthropic: the raw SDK
// stream, whose events carry the 1-hour cache split, a stated cost and a server-tool message's cumulative
// input. ChatGoogleGenerativeAI: the SDK's responses, whose usageMetadata has the thinking, tool-use prompt
// and per-modality counts LangChain's usage_metadata leaves out (and its stream drops content-less chunks).
// ---------------------------------------------------------------------------------------------------------

type RawStream = AsyncIterable<unknown> & { controller?: AbortController };
type StreamFactory = (this: unknown, ...args: unknown[]) => Promise<RawStream>;
type GeminiClient = {
  generateContent(...args: unknown[]): Promise<{ response: unknown }>;
  generateContentStream(...args: unknown[]): Promise<{ stream: AsyncIterable<unknown>; response: Promise<unknown> }>;
};

/**
 * @internal Makes `view` (a per-call view) report the provider's raw responses or stream events to `onRaw`,
 * where the model has a place for it; `source` is the model as calls are sent to it (it keeps the cached
 * SDK client). Returns whether it could.
 */
export function tapRawUsage(view: BaseChatModel, source: BaseChatModel, onRaw: (data: unknown) => void): boolean {
  const fields = source as unknown as Loose;
  const create = fields.createStreamWithRetry as StreamFactory | undefined;
  if (typeof create === "function") {
    (view as unknown as Loose).createStreamWithRetry = async (...args: unknown[]): Promise<RawStream> => {
      const stream = await create.apply(source, args);
      return { controller: stream.controller, [Symbol.asyncIterator]: () => reporting(stream, onRaw) };
    };
    return true;
  }
  const client = fields.client as Partial<GeminiClient> | undefined;
  if (typeof client?.generateContent === "function" && typeof client.generateContentStream === "function") {
    const gemini = client as GeminiClient;
    const tapped: GeminiClient = Object.create(gemini);
    tapped.generateContent = async (...args) => {
      const result = await gemini.generateContent(...args);
      onRaw(result.response);
      return result;
    };
    tapped.generateContentStream = async (...args) => {
      const result = await gemini.generateContentStream(...args);
      return { ...result, stream: reporting(result.stream, onRaw) };
    };
    (view as unknown as Loose).client = tapped;
    return true;
  }
  return false;
}

async function* reporting<T>(source: AsyncIterable<T>, onRaw: (data: unknown) => void): AsyncGenerator<T> {
  for await (const data of source) {
    onRaw(data);
    yield data;
  }
}

const isObject = (value: unknown): value is object => typeof value === "object" && value !== null;
