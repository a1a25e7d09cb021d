/**
 * Anthropic Messages API (https://docs.anthropic.com/en/api/messages, streaming:
 * https://docs.anthropic.com/en/docs/build-with-claude/streaming), through ChatAnthropic and @anthropic-ai/sdk.
 *
 * `usage.input_tokens` EXCLUDES cache reads (`cache_read_input_tokens`) and cache writes
 * (`cache_creation_input_tokens`, split by TTL under `cache_creation.ephemeral_5m_input_tokens` /
 * `.ephemeral_1h_input_tokens`); `output_tokens` INCLUDES extended-thinking tokens (no separate count).
 * Server tools (web search, web fetch) run server-side inside one Message: the non-streamed `usage` is the
 * whole Message's (every sampling iteration), with `server_tool_use.web_search_requests` /
 * `.web_fetch_requests`. Streamed, `message_start.message.usage` is the FIRST sampling iteration's input
 * only; `message_delta.usage` carries the cumulative counts of the whole Message (input, cache, output,
 * server_tool_use).
 *
 * Prices: https://docs.anthropic.com/en/docs/about-claude/pricing (read 2025-11-15, the table as mirrored
 * with "Updated: 11/15/2025" at aiwiki.dev/claude/docs/about-claude/pricing), USD per 1M tokens:
 *   model              input  5m write  1h write  cache read  output
 *   claude-sonnet-4-5  3      3.75      6         0.30        15     (> 200K input: 6 / 7.50 / 12 / 0.60 / 22.50)
 *   claude-haiku-4-5   1      1.25      2         0.10        5
 *   claude-opus-4-1    15     18.75     30        1.50        75
 * Web search: $10 per 1,000 searches plus tokens (pricing page, "Web search tool"); web fetch: no charge
 * beyond tokens. genai-prices 0.1.8 has exactly these token rates (and `web_searches_kcount: 10`).
 *
 * Arithmetic: tokens × (USD per 1M) = nano-USD × 1,000 / 1,000, i.e. `tokens × rate × 1,000` nano-USD.
 */
import { sse } from "../replay-server.js";
import type { Vector } from "../vector.js";

const SONNET = "claude-sonnet-4-5-20250929";
const HAIKU = "claude-haiku-4-5-20251001";
const OPUS = "claude-opus-4-1-20250805";

const PRICE_SONNET =
  "https://docs.anthropic.com/en/docs/about-claude/pricing (read 2025-11-15): claude-sonnet-4-5 input $3, 5m cache write $3.75, 1h cache write $6, cache read $0.30, output $15 per 1M; genai-prices 0.1.8 agrees";
const PRICE_HAIKU =
  "https://docs.anthropic.com/en/docs/about-claude/pricing (read 2025-11-15): claude-haiku-4-5 input $1, 5m cache write $1.25, 1h cache write $2, cache read $0.10, output $5 per 1M; genai-prices 0.1.8 agrees";
const PRICE_OPUS =
  "https://docs.anthropic.com/en/docs/about-claude/pricing (read 2025-11-15): claude-opus-4-1 input $15, 5m cache write $18.75, 1h cache write $30, cache read $1.50, output $75 per 1M; genai-prices 0.1.8 agrees";
const SEARCH_PRICE =
  "web search $10 per 1,000 searches (= $0.01 = 10,000,000 n$ per search) on top of tokens: https://docs.anthropic.com/en/docs/about-claude/pricing#web-search-tool and " +
  "https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/web-search-tool#usage-and-pricing (read 2025-11-15)";
const SEARCH_GAP =
  "genai-prices 0.1.8 HAS the per-request rate (anthropic models carry `web_searches_kcount: 10`, i.e. $10 per 1,000), but src/pricing/genai-prices.ts " +
  "`fromGenai` only maps the `*_mtok` keys, and no usage path reads `usage.server_tool_use.web_search_requests`: the search charge is dropped.";

interface Counts {
  /** Input neither read from nor written to the cache (the API's `input_tokens`). */
  input: number;
  output: number;
  read?: number;
  write5m?: number;
  write1h?: number;
  /** `server_tool_use`, when server tools ran. */
  server?: { web_search_requests?: number; web_fetch_requests?: number };
}

/** `usage` as the Messages API reports it. */
const usage = (c: Counts) => ({
  input_tokens: c.input,
  cache_creation_input_tokens: (c.write5m ?? 0) + (c.write1h ?? 0),
  cache_read_input_tokens: c.read ?? 0,
  cache_creation: { ephemeral_5m_input_tokens: c.write5m ?? 0, ephemeral_1h_input_tokens: c.write1h ?? 0 },
  output_tokens: c.output,
  ...(c.server ? { server_tool_use: { web_search_requests: 0, ...c.server } } : {}),
  service_tier: "standard",
});

type Block = Record<string, unknown>;
const text = (t: string): Block => ({ type: "text", text: t });
const thinking = (t: string): Block => ({ type: "thinking", thinking: t, signature: "EqQBCkYIBxgCKkBcorpusSignature" });
const searchCall = (id: string, query: string): Block => ({ type: "server_tool_use", id, name: "web_search", input: { query } });
const searchResult = (id: string, n: number): Block => ({
  type: "web_search_tool_result",
  tool_use_id: id,
  content: [
    { type: "web_search_result", title: `Result ${n}`, url: `https://example.com/${n}`, encrypted_content: `EqgfCioIARgBIiQ3corpus${n}`, page_age: "November 10, 2025" },
  ],
});
const fetchCall = (id: string, url: string): Block => ({ type: "server_tool_use", id, name: "web_fetch", input: { url } });
const fetchResult = (id: string, url: string): Block => ({
  type: "web_fetch_tool_result",
  tool_use_id: id,
  content: {
    type: "web_fetch_result",
    url,
    content: { type: "document", source: { type: "text", media_type: "text/plain", data: "Fetched page text." }, title: "Fetched page" },
    retrieved_at: "2025-11-15T11:59:00Z",
  },
});

/** A non-streamed Message. */
const message = (model: string, content: Block[], c: Counts) =>
  JSON.stringify({ id: "msg_01CorpusAnthropic", type: "message", role: "assistant", model, content, stop_reason: "end_turn", stop_sequence: null, usage: usage(c) });

/** The events of one content block, as the streaming reference shows them. */
function blockEvents(block: Block, index: number): Array<readonly [string, unknown]> {
  const events: Array<readonly [string, unknown]> = [];
  const start = (content_block: Block) => events.push(["content_block_start", { type: "content_block_start", index, content_block }]);
  const delta = (d: Block) => events.push(["content_block_delta", { type: "content_block_delta", index, delta: d }]);
  switch (block.type) {
    case "text": {
      start({ type: "text", text: "" });
      const t = block.text as string;
      for (let i = 0; i < t.length; i += 12) delta({ type: "text_delta", text: t.slice(i, i + 12) });
      break;
    }
    case "thinking":
      start({ type: "thinking", thinking: "" });
      delta({ type: "thinking_delta", thinking: block.thinking as string });
      delta({ type: "signature_delta", signature: block.signature as string });
      break;
    case "server_tool_use":
      start({ type: "server_tool_use", id: block.id, name: block.name, input: {} });
      delta({ type: "input_json_delta", partial_json: JSON.stringify(block.input) });
      break;
    default:
      // Tool results arrive whole on content_block_start.
      start(block);
  }
  events.push(["content_block_stop", { type: "content_block_stop", index }]);
  return events;
}

/**
 * A streamed Message: `message_start` with `start` usage (output_tokens 1, as the API sends), the blocks,
 * `message_delta` with `end` usage, `message_stop`.
 */
function stream(model: string, content: Block[], start: Counts, end: Record<string, unknown>): string {
  return sse([
    [
      "message_start",
      {
        type: "message_start",
        message: { id: "msg_01CorpusAnthropic", type: "message", role: "assistant", model, content: [], stop_reason: null, stop_sequence: null, usage: usage(start) },
      },
    ],
    ["ping", { type: "ping" }],
    ...content.flatMap(blockEvents),
    ["message_delta", { type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: end }],
    ["message_stop", { type: "message_stop" }],
  ]);
}

/** `message_delta.usage` of a Message with server tools: cumulative over every sampling iteration. */
const cumulative = (c: Counts) => ({
  input_tokens: c.input,
  cache_creation_input_tokens: (c.write5m ?? 0) + (c.write1h ?? 0),
  cache_read_input_tokens: c.read ?? 0,
  output_tokens: c.output,
  ...(c.server ? { server_tool_use: { web_search_requests: 0, ...c.server } } : {}),
});

const ANSWER = "The answer, in one sentence.";

// Ten searches for the ten-iteration vectors.
const tenSearches: Block[] = Array.from({ length: 10 }, (_, i) => [searchCall(`srvtoolu_01Corpus${i}`, `query ${i}`), searchResult(`srvtoolu_01Corpus${i}`, i)]).flat();

export const vectors: Vector[] = [
  {
    name: "anthropic: claude-sonnet-4-5, JSON, no cache",
    client: "anthropic",
    model: "claude-sonnet-4-5",
    stream: false,
    reply: { body: message(SONNET, [text(ANSWER)], { input: 1_200, output: 350 }) },
    expected: { nanoUsd: 8_850_000, details: { input: 3_600_000, output: 5_250_000 }, model: "claude-sonnet-4-5-20250929", provider: "anthropic" },
    worked: "input 1,200 × $3 = 3,600,000 n$; output 350 × $15 = 5,250,000 n$; total 8,850,000 n$",
    price: PRICE_SONNET,
  },
  {
    name: "anthropic: claude-sonnet-4-5, SSE, no cache (input on message_start, output on message_delta)",
    client: "anthropic",
    model: "claude-sonnet-4-5",
    stream: true,
    reply: { body: stream(SONNET, [text(ANSWER)], { input: 1_200, output: 1 }, { output_tokens: 350 }) },
    expected: { nanoUsd: 8_850_000, details: { input: 3_600_000, output: 5_250_000 } },
    worked:
      "message_start input 1,200 (its output_tokens 1 is a running count, superseded by message_delta's cumulative 350): " +
      "input 1,200 × $3 = 3,600,000 n$; output 350 × $15 = 5,250,000 n$; total 8,850,000 n$",
    price: PRICE_SONNET,
  },
  {
    name: "anthropic: claude-haiku-4-5, JSON, 12,000 tokens read from the cache",
    client: "anthropic",
    model: "claude-haiku-4-5",
    stream: false,
    reply: { body: message(HAIKU, [text(ANSWER)], { input: 150, read: 12_000, output: 400 }) },
    expected: { nanoUsd: 3_350_000, details: { input: 150_000, input_cache_read: 1_200_000, output: 2_000_000 }, model: "claude-haiku-4-5-20251001" },
    worked: "uncached input 150 × $1 = 150,000 n$; cache read 12,000 × $0.10 = 1,200,000 n$; output 400 × $5 = 2,000,000 n$; total 3,350,000 n$",
    price: PRICE_HAIKU,
  },
  {
    name: "anthropic: claude-haiku-4-5, SSE, cache read and a 5-minute cache write on message_start",
    client: "anthropic",
    model: "claude-haiku-4-5",
    stream: true,
    reply: { body: stream(HAIKU, [text(ANSWER)], { input: 80, read: 9_000, write5m: 2_000, output: 1 }, { output_tokens: 640 }) },
    expected: { nanoUsd: 6_680_000, details: { input: 80_000, input_cache_read: 900_000, input_cache_write: 2_500_000, output: 3_200_000 } },
    worked:
      "uncached input 80 × $1 = 80,000 n$; cache read 9,000 × $0.10 = 900,000 n$; 5m cache write 2,000 × $1.25 = 2,500,000 n$; " +
      "output 640 × $5 = 3,200,000 n$; total 6,680,000 n$",
    price: PRICE_HAIKU,
  },
  {
    name: "anthropic: claude-sonnet-4-5, JSON, 8,000 tokens written to the 5-minute cache",
    client: "anthropic",
    model: "claude-sonnet-4-5",
    stream: false,
    reply: { body: message(SONNET, [text(ANSWER)], { input: 50, write5m: 8_000, output: 200 }) },
    expected: { nanoUsd: 33_150_000, details: { input: 150_000, input_cache_write: 30_000_000, output: 3_000_000 } },
    worked: "uncached input 50 × $3 = 150,000 n$; 5m cache write 8,000 × $3.75 = 30,000,000 n$; output 200 × $15 = 3,000,000 n$; total 33,150,000 n$",
    price: PRICE_SONNET,
  },
  {
    name: "anthropic: claude-opus-4-1, JSON, cache read plus 5-minute and 1-hour cache writes",
    client: "anthropic",
    model: "claude-opus-4-1",
    stream: false,
    reply: { body: message(OPUS, [text(ANSWER)], { input: 20, read: 5_000, write5m: 1_000, write1h: 2_000, output: 100 }) },
    expected: {
      nanoUsd: 94_050_000,
      details: { input: 300_000, input_cache_read: 7_500_000, input_cache_write: 78_750_000, output: 7_500_000 },
      model: "claude-opus-4-1-20250805",
    },
    worked:
      "uncached input 20 × $15 = 300,000 n$; cache read 5,000 × $1.50 = 7,500,000 n$; 5m write 1,000 × $18.75 = 18,750,000 n$; " +
      "1h write 2,000 × $30 = 60,000,000 n$ (cache writes 78,750,000 n$); output 100 × $75 = 7,500,000 n$; total 94,050,000 n$",
    price: PRICE_OPUS,
  },
  {
    name: "anthropic: claude-opus-4-1, SSE, 1-hour cache write only",
    client: "anthropic",
    model: "claude-opus-4-1",
    stream: true,
    reply: { body: stream(OPUS, [text(ANSWER)], { input: 40, write1h: 6_000, output: 1 }, { output_tokens: 250 }) },
    expected: { nanoUsd: 199_350_000, details: { input: 600_000, input_cache_write: 180_000_000, output: 18_750_000 } },
    worked: "uncached input 40 × $15 = 600,000 n$; 1h cache write 6,000 × $30 = 180,000,000 n$; output 250 × $75 = 18,750,000 n$; total 199,350,000 n$",
    price: PRICE_OPUS,
  },
  {
    name: "anthropic: claude-sonnet-4-5, JSON, extended thinking (output includes thinking)",
    client: "anthropic",
    model: "claude-sonnet-4-5",
    stream: false,
    reply: { body: message(SONNET, [thinking("Let me work through this step by step."), text(ANSWER)], { input: 500, output: 2_400 }) },
    expected: { nanoUsd: 37_500_000, details: { input: 1_500_000, output: 36_000_000 } },
    worked:
      "input 500 × $3 = 1,500,000 n$; output 2,400 (thinking included; Anthropic reports no separate thinking count, both bill at the output rate) " +
      "× $15 = 36,000,000 n$; total 37,500,000 n$",
    price: PRICE_SONNET,
  },
  {
    name: "anthropic: claude-sonnet-4-5, SSE, extended thinking (thinking_delta, signature_delta, then text)",
    client: "anthropic",
    model: "claude-sonnet-4-5",
    stream: true,
    reply: { body: stream(SONNET, [thinking("Let me work through this step by step."), text(ANSWER)], { input: 500, read: 3_000, output: 1 }, { output_tokens: 2_400 }) },
    expected: { nanoUsd: 38_400_000, details: { input: 1_500_000, input_cache_read: 900_000, output: 36_000_000 } },
    worked: "uncached input 500 × $3 = 1,500,000 n$; cache read 3,000 × $0.30 = 900,000 n$; output 2,400 (thinking included) × $15 = 36,000,000 n$; total 38,400,000 n$",
    price: PRICE_SONNET,
  },
  {
    name: "anthropic: claude-sonnet-4-5, JSON, > 200K input tokens (long-context rates for the whole call)",
    client: "anthropic",
    model: "claude-sonnet-4-5",
    stream: false,
    fields: { clientOptions: { defaultHeaders: { "anthropic-beta": "context-1m-2025-08-07" } } },
    reply: { body: message(SONNET, [text(ANSWER)], { input: 250_000, output: 1_000 }) },
    expected: { nanoUsd: 1_522_500_000, details: { input: 1_500_000_000, output: 22_500_000 } },
    worked: "250,000 input tokens > 200,000, so the long-context rates apply to all: input 250,000 × $6 = 1,500,000,000 n$; output 1,000 × $22.50 = 22,500,000 n$; total 1,522,500,000 n$",
    price:
      "https://docs.anthropic.com/en/docs/about-claude/pricing#long-context-pricing (read 2025-11-15): Sonnet 4 / 4.5 with the 1M context window, " +
      "> 200K input tokens: input $6, output $22.50 per 1M; genai-prices 0.1.8 agrees (tier start 200000)",
  },
  // --- Server tools: web search billed per request -------------------------------------------------------
  {
    name: "anthropic: claude-sonnet-4-5, JSON, web search, 1 search (2 sampling iterations)",
    client: "anthropic",
    model: "claude-sonnet-4-5",
    stream: false,
    reply: {
      body: message(SONNET, [searchCall("srvtoolu_01CorpusA", "latest release"), searchResult("srvtoolu_01CorpusA", 1), text(ANSWER)], {
        input: 9_860,
        output: 420,
        server: { web_search_requests: 1 },
      }),
    },
    expected: { nanoUsd: 45_880_000 },
    worked:
      "usage is the whole Message's: input 9,860 × $3 = 29,580,000 n$; output 420 × $15 = 6,300,000 n$; " +
      "web search 1 × $0.01 = 10,000,000 n$; total 45,880,000 n$ (tokens alone: 35,880,000 n$, 22% under)",
    price: `${PRICE_SONNET}; ${SEARCH_PRICE}`,
    covers: "anthropic-server-tool-requests",
    priceDataGap: SEARCH_GAP,
  },
  {
    name: "anthropic: claude-haiku-4-5, JSON, web search, 10 searches (11 sampling iterations)",
    client: "anthropic",
    model: "claude-haiku-4-5",
    stream: false,
    reply: { body: message(HAIKU, [...tenSearches, text(ANSWER)], { input: 61_500, read: 0, output: 1_300, server: { web_search_requests: 10 } }) },
    expected: { nanoUsd: 168_000_000 },
    worked:
      "input 61,500 × $1 = 61,500,000 n$; output 1,300 × $5 = 6,500,000 n$; web search 10 × $0.01 = 100,000,000 n$; " +
      "total 168,000,000 n$ (tokens alone: 68,000,000 n$, 60% under)",
    price: `${PRICE_HAIKU}; ${SEARCH_PRICE}`,
    covers: "anthropic-server-tool-requests",
    priceDataGap: SEARCH_GAP,
  },
  // --- Server tools streamed: message_delta's input is the cumulative input of every iteration -------------
  {
    name: "anthropic: claude-sonnet-4-5, SSE, web fetch, 3 fetches: message_delta input is cumulative (no per-request charge)",
    client: "anthropic",
    model: "claude-sonnet-4-5",
    stream: true,
    fields: { clientOptions: { defaultHeaders: { "anthropic-beta": "web-fetch-2025-09-10" } } },
    reply: {
      body: stream(
        SONNET,
        [
          fetchCall("srvtoolu_01CorpusF0", "https://example.com/a"),
          fetchResult("srvtoolu_01CorpusF0", "https://example.com/a"),
          fetchCall("srvtoolu_01CorpusF1", "https://example.com/b"),
          fetchResult("srvtoolu_01CorpusF1", "https://example.com/b"),
          fetchCall("srvtoolu_01CorpusF2", "https://example.com/c"),
          fetchResult("srvtoolu_01CorpusF2", "https://example.com/c"),
          text(ANSWER),
        ],
        { input: 1_500, output: 1 },
        cumulative({ input: 24_600, output: 600, server: { web_search_requests: 0, web_fetch_requests: 3 } }),
      ),
    },
    expected: { nanoUsd: 82_800_000, details: { input: 73_800_000, output: 9_000_000 } },
    worked:
      "4 sampling iterations; message_start input 1,500 is the first iteration's only; message_delta input 24,600 is the whole Message's " +
      "(1,500 + ~6,000 + ~7,700 + ~9,400 as fetched pages accumulate): input 24,600 × $3 = 73,800,000 n$; output 600 × $15 = 9,000,000 n$; " +
      "web fetch has no per-request price; total 82,800,000 n$ (message_start's input would give 13,500,000 n$, 84% under)",
    price:
      `${PRICE_SONNET}; web fetch has no charge beyond tokens: https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/web-fetch-tool#usage (read 2025-11-15)`,
    covers: "anthropic-stream-cumulative-input",
  },
  {
    name: "anthropic: claude-sonnet-4-5, SSE, web search, 2 searches: message_delta input is cumulative, searches billed",
    client: "anthropic",
    model: "claude-sonnet-4-5",
    stream: true,
    reply: {
      body: stream(
        SONNET,
        [
          searchCall("srvtoolu_01CorpusS0", "first query"),
          searchResult("srvtoolu_01CorpusS0", 1),
          searchCall("srvtoolu_01CorpusS1", "second query"),
          searchResult("srvtoolu_01CorpusS1", 2),
          text(ANSWER),
        ],
        { input: 2_679, output: 3 },
        cumulative({ input: 17_862, output: 510, server: { web_search_requests: 2 } }),
      ),
    },
    expected: { nanoUsd: 81_236_000 },
    worked:
      "3 sampling iterations; message_start input 2,679 is the first iteration's only, message_delta input 17,862 the whole Message's: " +
      "input 17,862 × $3 = 53,586,000 n$; output 510 × $15 = 7,650,000 n$; web search 2 × $0.01 = 20,000,000 n$; total 81,236,000 n$ " +
      "(today, message_start's input and no search charge: 8,037,000 + 7,650,000 = 15,687,000 n$, 81% under). " +
      "NOTE: needs both the cumulative-input fix and the per-request search charge (anthropic-server-tool-requests)",
    price: `${PRICE_SONNET}; ${SEARCH_PRICE}`,
    covers: ["anthropic-stream-cumulative-input", "anthropic-server-tool-requests"],
    priceDataGap: SEARCH_GAP,
  },
  {
    name: "anthropic: claude-haiku-4-5, SSE, web search, 10 searches (11 iterations), cumulative input with cache reads",
    client: "anthropic",
    model: "claude-haiku-4-5",
    stream: true,
    reply: {
      body: stream(
        HAIKU,
        [...tenSearches, text(ANSWER)],
        { input: 2_100, read: 4_000, output: 2 },
        cumulative({ input: 58_300, read: 44_000, output: 1_450, server: { web_search_requests: 10 } }),
      ),
    },
    expected: { nanoUsd: 169_950_000 },
    worked:
      "11 sampling iterations, each re-reading the 4,000-token cached system prompt: message_delta (cumulative) uncached input 58,300, cache read 44,000 (11 × 4,000), output 1,450: " +
      "input 58,300 × $1 = 58,300,000 n$; cache read 44,000 × $0.10 = 4,400,000 n$; output 1,450 × $5 = 7,250,000 n$; " +
      "web search 10 × $0.01 = 100,000,000 n$; total 169,950,000 n$ " +
      "(today, message_start's 2,100 + 4,000 read and no search charge: 2,100,000 + 400,000 + 7,250,000 = 9,750,000 n$, 94% under). " +
      "NOTE: needs both the cumulative-input fix and the per-request search charge (anthropic-server-tool-requests)",
    price: `${PRICE_HAIKU}; ${SEARCH_PRICE}`,
    covers: ["anthropic-stream-cumulative-input", "anthropic-server-tool-requests"],
    priceDataGap: SEARCH_GAP,
  },
];
