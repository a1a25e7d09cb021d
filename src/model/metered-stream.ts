import type { CallbackManagerForLLMRun } from "@langchain/core/callbacks/manager";
import type { ChatModelStreamEvent } from "@langchain/core/language_models/event";
import { AIMessageChunk, type BaseMessage, type UsageMetadata } from "@langchain/core/messages";
import { ChatGenerationChunk, type ChatResult } from "@langchain/core/outputs";
import type { PricedCall } from "../budget/budget-call.js";
import { ProviderResponseError } from "../langchain/call-errors.js";
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

/**
 * @internal The chunks of a started stream, each counted, the stream stopped as soon as what it received
 * would take the budget over its limit, and the cost put on its last usage-bearing chunk. Ends the call
 * exactly once: with its answer, an error, or what it received when the consumer stops reading.
 */
export async function* meteredChunks(started: StartedStream<ChatGenerationChunk>): AsyncGenerator<ChatGenerationChunk> {
  const { call, seen, items } = started;
  // A chunk with usage is held until the next one arrives: usage may come in several chunks (Anthropic,
  // Gemini), and the cost goes on the last of them, once the whole usage is known.
  let held: ChatGenerationChunk | undefined;
  let priced: PricedCall;
  try {
    for (let next = started.first; !next.done; next = await items.next()) {
      const chunk = next.value;
      if (await stopsAt(call, seen.add(chunk.message, chunk.generationInfo?.model_name), seen)) break;
      if (held) yield held;
      held = StreamTally.carriesUsage(chunk.message) ? chunk : undefined;
      if (!held) yield chunk;
    }
    if (!seen.received) throw noMessage(call);
    priced = call.ended ? call.settled() : await call.finish(seen.soFar(), () => seen.answer);
  } catch (error) {
    throw await call.fail(error, seen.soFar());
  } finally {
    await endStream(started);
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

/** @internal The events of a started event stream (`_streamChatModelEvents`), metered as `meteredChunks` meters chunks. */
export async function* meteredEvents(started: StartedStream<ChatModelStreamEvent>): AsyncGenerator<ChatModelStreamEvent> {
  const { call, seen, items } = started;
  try {
    for (let next = started.first; !next.done; next = await items.next()) {
      const event = next.value;
      if (await stopsAt(call, seen.addEvent(event), seen)) break;
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
    if (!call.ended && !seen.received) throw noMessage(call);
  } catch (error) {
    throw await call.fail(error, seen.soFar());
  } finally {
    await endStream(started);
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
    if (await stopsAt(call, text, seen)) break;
  }
  if (!final) return { generations: [] };
  const generationInfo = final.generationInfo ? { generationInfo: final.generationInfo } : {};
  return { generations: [{ text: final.text, message: final.message, ...generationInfo }] };
}

/**
 * Counts a stream's new text against its budget: true when the stream must end here (a graceful budget
 * reached its limit); throws the budget's stop otherwise. Cheap unless the stream is near its limit.
 */
async function stopsAt(call: MeteredCall, text: string, seen: StreamTally): Promise<boolean> {
  const partial = call.watch.observe(text);
  if (partial === undefined) return false;
  const priced = await partial;
  return priced ? call.stopAt(priced, () => seen.answer) : false;
}

/**
 * Ends a stream's call if it is still open (the consumer stopped reading), and lets go of it: the model's
 * own stream is returned, which aborts its request when it stopped early (at the limit, or its consumer's).
 */
async function endStream({ call, seen, items, unwatch }: StartedStream<unknown>): Promise<void> {
  unwatch();
  await items.return?.(undefined)?.catch(() => {});
  if (!call.ended) await call.cutShort(seen.soFar());
  call.close();
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

/** @internal A usage_metadata for an estimate, when the response carried none. */
export function toUsageMetadata({ usage }: PricedCall): UsageMetadata {
  return { input_tokens: usage.inputTokens, output_tokens: usage.outputTokens, total_tokens: usage.inputTokens + usage.outputTokens };
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

export type { BaseMessage, Run };
