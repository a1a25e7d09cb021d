import type { CallbackManagerForLLMRun } from "@langchain/core/callbacks/manager";
import type { ChatModelStreamEvent } from "@langchain/core/language_models/event";
import { type AIMessage, AIMessageChunk, type BaseMessage } from "@langchain/core/messages";
import { ChatGenerationChunk, type ChatResult } from "@langchain/core/outputs";
import type { PricedCall } from "../budget/budget-call.js";
import { ProviderResponseError } from "../langchain/call-errors.js";
import { contentText } from "../langchain/messages.js";
import type { MeteredCall } from "./metered-call.js";
import { StreamTally } from "./stream-tally.js";

type Run = CallbackManagerForLLMRun | undefined;

/**
 * A stream of an opened call, started: its first item has arrived (a stream whose start fails is retried
 * as a whole, see `Metering`). What the stream received so far is tallied in `seen`.
 */
export interface StartedStream<T> {
  call: MeteredCall;
  seen: StreamTally;
  items: AsyncIterator<T>;
  first: IteratorResult<T>;
  /** Removes the abort listeners that end the call if nobody resumes the stream. */
  unwatch: () => void;
}

/**
 * @internal Sends an opened call as a stream and waits for its first item. A start that fails ends its call
 * (released if the provider billed nothing, else charged) and throws what to throw.
 */
export async function startStream<T>(
  call: MeteredCall,
  send: (seen: StreamTally) => AsyncIterable<T>,
): Promise<StartedStream<T>> {
  const seen = new StreamTally(call.target.provider);
  const unwatch = endOnAbort(call, seen);
  try {
    const items = send(seen)[Symbol.asyncIterator]();
    return { call, seen, items, first: await items.next(), unwatch };
  } catch (error) {
    unwatch();
    const thrown = await call.fail(error, seen.soFar());
    call.close();
    throw thrown;
  }
}

/** What is still open when a stream is dropped: its call and what it received. */
interface OpenStream {
  started?: StartedStream<unknown>;
}

/**
 * A stream LangChain raced past (it races a generator against the call's abort signal and never calls
 * `return()` on it) or that its consumer simply dropped can't run its own `finally`: when its generator is
 * collected with its call still open, the call is ended with what it received.
 */
const droppedStreams = new FinalizationRegistry<OpenStream>(({ started }) => {
  if (started && !started.call.ended) void started.call.cutShort(started.seen.soFar());
});

/** Watches `generator` for being dropped with its call open (see `droppedStreams`). */
function watched<T>(open: OpenStream, generator: AsyncGenerator<T>): AsyncGenerator<T> {
  droppedStreams.register(generator, open, open);
  return generator;
}

/**
 * @internal A metered stream of chunks, from `start` (a started stream, or the one answer of a call a
 * graceful budget refused): each chunk counted, the stream stopped as soon as what it received would take
 * the budget over its limit, and the cost put on its last usage-bearing chunk. Ends the call exactly once:
 * with its answer, an error, or what it received when the consumer stops reading or drops the stream. One
 * generator between the consumer and the model's own stream: every layer costs each chunk a few promises.
 */
export function meteredChunks(start: () => Promise<StartedStream<ChatGenerationChunk> | AIMessage>): AsyncGenerator<ChatGenerationChunk> {
  const open: OpenStream = {};
  return watched(open, chunksOf(open, start));
}

async function* chunksOf(open: OpenStream, start: () => Promise<StartedStream<ChatGenerationChunk> | AIMessage>): AsyncGenerator<ChatGenerationChunk> {
  const started = await start();
  if (!("call" in started)) {
    yield new ChatGenerationChunk({ text: contentText(started.content), message: new AIMessageChunk({ ...started }) });
    return;
  }
  open.started = started as StartedStream<unknown>;
  const { call, seen, items } = started;
  // A chunk that adds no text (the role chunk, the finishing chunk, a usage chunk), or that carries usage, is
  // held until the next one arrives: the last of them gets the cost, once the whole usage is known (it may
  // come in several chunks: Anthropic, Gemini), so the stream has ChatOpenAI's chunks, no more.
  let held: ChatGenerationChunk | undefined;
  let priced: PricedCall;
  try {
    for (let next = started.first; !next.done; next = await items.next()) {
      const chunk = next.value;
      const text = seen.add(chunk.message, chunk.generationInfo?.model_name);
      const stops = stopsAt(call, text, seen);
      if (stops !== false && (await stops)) break;
      if (held) yield held;
      held = !text || StreamTally.carriesUsage(chunk.message) ? chunk : undefined;
      if (!held) yield chunk;
    }
    if (!seen.received) throw noMessage(call);
    priced = call.ended ? call.settled() : await call.finish(seen.soFar(), () => seen.answer);
  } catch (error) {
    throw await call.fail(error, seen.soFar());
  } finally {
    await endStream(open, started);
  }
  if (held) {
    held.message.response_metadata = { ...held.message.response_metadata, cost: priced.cost };
    yield held;
    return;
  }
  // The stream ended on a chunk with text (or was stopped at its budget): the cost rides on a last chunk.
  yield costChunk(priced);
}

/** @internal A metered stream of events (`_streamChatModelEvents`) from `start`, metered as `meteredChunks` meters chunks. */
export function meteredEvents(start: () => Promise<StartedStream<ChatModelStreamEvent>>): AsyncGenerator<ChatModelStreamEvent> {
  const open: OpenStream = {};
  return watched(open, eventsOf(open, start));
}

async function* eventsOf(open: OpenStream, start: () => Promise<StartedStream<ChatModelStreamEvent>>): AsyncGenerator<ChatModelStreamEvent> {
  const started = await start();
  open.started = started as StartedStream<unknown>;
  const { call, seen, items } = started;
  try {
    for (let next = started.first; !next.done; next = await items.next()) {
      const event = next.value;
      const stops = stopsAt(call, seen.addEvent(event), seen);
      if (stops !== false && (await stops)) break;
      if (event.event !== "message-finish") {
        yield event;
        continue;
      }
      const priced = await call.finish(seen.soFar(), () => seen.answer);
      yield { ...event, responseMetadata: { ...event.responseMetadata, cost: priced.cost } };
    }
    if (!call.ended && !seen.received) throw noMessage(call);
  } catch (error) {
    throw await call.fail(error, seen.soFar());
  } finally {
    await endStream(open, started);
  }
}

/**
 * @internal A `streaming: true` model's `invoke` through its own stream, concatenated: ChatAnthropic and
 * ChatGoogleGenerativeAI sum a stream's usage the wrong way themselves (Anthropic's message_start output
 * token counted twice, Gemini's cache reads once per chunk), so the call is priced by its tally.
 */
export async function concatStream(chunks: AsyncIterable<ChatGenerationChunk>, seen: StreamTally, call: MeteredCall): Promise<ChatResult> {
  let final: ChatGenerationChunk | undefined;
  for await (const chunk of chunks) {
    const text = seen.add(chunk.message, chunk.generationInfo?.model_name);
    final = final ? final.concat(chunk) : chunk;
    const stops = stopsAt(call, text, seen);
    if (stops !== false && (await stops)) break;
  }
  if (!final) return { generations: [] };
  const generationInfo = final.generationInfo ? { generationInfo: final.generationInfo } : {};
  return { generations: [{ text: final.text, message: final.message, ...generationInfo }] };
}

/**
 * Counts a stream's new text against its budget: true when the stream must end here (a graceful budget
 * reached its limit); throws the budget's stop otherwise. Synchronous `false` while the stream is far from
 * its limit, so a chunk costs no extra microtask.
 */
function stopsAt(call: MeteredCall, text: string, seen: StreamTally): false | Promise<boolean> {
  const partial = call.watch.observe(text);
  return partial === undefined ? false : partial.then((priced) => (priced ? call.stopAt(priced, () => seen.answer) : false));
}

/**
 * Ends a stream's call if it is still open (the consumer stopped reading), and lets go of it: the model's
 * own stream is returned, which aborts its request when it stopped early (at the limit, or its consumer's).
 */
async function endStream(open: OpenStream, { call, seen, items, unwatch }: StartedStream<unknown>): Promise<void> {
  unwatch();
  await items.return?.(undefined)?.catch(() => {});
  if (!call.ended) await call.cutShort(seen.soFar());
  call.close();
  droppedStreams.unregister(open);
}

/**
 * Ends a stream's call as soon as the caller's (or its budget's) signal aborts: LangChain may race past the
 * generator and never resume it, so its `finally` can't be relied on. Returns the listeners' remover.
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

const noMessage = (call: MeteredCall) =>
  new ProviderResponseError({ model: call.target.modelName, provider: call.target.provider, what: "its stream carried no message" });

function costChunk(priced: PricedCall): ChatGenerationChunk {
  return new ChatGenerationChunk({ text: "", message: new AIMessageChunk({ content: "", response_metadata: { cost: priced.cost } }) });
}

export type { BaseMessage, Run };
