/**
 * DeepSeek (https://api-docs.deepseek.com/api/create-chat-completion): OpenAI's chat shape, with cache hits
 * and misses reported as `usage.prompt_cache_hit_tokens` + `usage.prompt_cache_miss_tokens` (= prompt_tokens),
 * and deepseek-reasoner's chain of thought in `completion_tokens_details.reasoning_tokens` (inside
 * completion_tokens). Prices are time-of-day dependent until 2025-09-05 16:00 UTC: standard 00:30–16:30 UTC,
 * discount 16:30–00:30 UTC (https://api-docs.deepseek.com/quick_start/pricing, stored copy read 2026-12-01
 * via the search tool). The vectors sit in August 2025, where that schedule was the list price.
 */
import { sse } from "../replay-server.js";
import type { Vector } from "../vector.js";

const BASE = "https://api.deepseek.com";

const completion = (model: string, created: number, usage: unknown, message: Record<string, unknown> = {}) =>
  JSON.stringify({
    id: "930c60df-bf64-41c9-a88e-3ec75f81e00e",
    object: "chat.completion",
    created,
    model,
    choices: [{ index: 0, message: { role: "assistant", content: "Hello!", ...message }, logprobs: null, finish_reason: "stop" }],
    usage,
    system_fingerprint: "fp_8802369eaa_prod0623_fp8_kvcache",
  });

const PRICE_PAGE =
  "https://api-docs.deepseek.com/quick_start/pricing (stored copy, read 2026-12-01): until 2025-09-05 16:00 UTC, deepseek-chat standard (UTC 00:30–16:30) $0.07 hit / $0.27 miss / $1.10 out, discount (UTC 16:30–00:30) $0.035 / $0.135 / $0.55; deepseek-reasoner standard $0.14 / $0.55 / $2.19, discount $0.035 / $0.135 / $0.55 per 1M.";

export const vectors: Vector[] = [
  {
    name: "deepseek: deepseek-chat, JSON, cache hit/miss at the standard (daytime) price",
    client: "openai-chat",
    model: "deepseek-chat",
    baseURL: BASE,
    stream: false,
    at: "2025-08-20T10:00:00Z",
    reply: {
      // No prompt_tokens_details: the hit count is only in prompt_cache_hit_tokens.
      body: completion("deepseek-chat", 1755683998, { prompt_tokens: 10000, completion_tokens: 500, total_tokens: 10500, prompt_cache_hit_tokens: 6400, prompt_cache_miss_tokens: 3600 }),
    },
    expected: { nanoUsd: 1_970_000, details: { input: 972_000, input_cache_read: 448_000, output: 550_000 }, model: "deepseek-chat", provider: "deepseek" },
    worked: [
      "10:00 UTC is inside 00:30–16:30: standard price",
      "cache miss 3,600 × $0.27/M = 972,000 n$",
      "cache hit 6,400 × $0.07/M = 448,000 n$",
      "output 500 × $1.10/M = 550,000 n$",
      "total 972,000 + 448,000 + 550,000 = 1,970,000 n$",
    ].join("\n"),
    price: `${PRICE_PAGE} genai-prices 0.1.8 deepseek/deepseek-chat: default {0.135, cache 0.035, 1.1→0.55} with a time_of_date 00:30–16:30Z branch {0.27, 0.07, 1.1} — agrees for this date`,
  },
  {
    name: "deepseek: deepseek-chat, SSE, cache hit/miss at the night discount",
    client: "openai-chat",
    model: "deepseek-chat",
    baseURL: BASE,
    stream: true,
    at: "2025-08-20T20:00:00Z",
    reply: {
      body: sse(
        [
          { id: "d1c2e3f4-corpus", object: "chat.completion.chunk", created: 1755719997, model: "deepseek-chat", system_fingerprint: "fp_8802369eaa_prod0623_fp8_kvcache", choices: [{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }] },
          { id: "d1c2e3f4-corpus", object: "chat.completion.chunk", created: 1755719997, model: "deepseek-chat", system_fingerprint: "fp_8802369eaa_prod0623_fp8_kvcache", choices: [{ index: 0, delta: { content: "Hello!" }, logprobs: null, finish_reason: null }] },
          { id: "d1c2e3f4-corpus", object: "chat.completion.chunk", created: 1755719997, model: "deepseek-chat", system_fingerprint: "fp_8802369eaa_prod0623_fp8_kvcache", choices: [{ index: 0, delta: { content: "" }, logprobs: null, finish_reason: "stop" }] },
          {
            id: "d1c2e3f4-corpus",
            object: "chat.completion.chunk",
            created: 1755719997,
            model: "deepseek-chat",
            system_fingerprint: "fp_8802369eaa_prod0623_fp8_kvcache",
            choices: [],
            usage: { prompt_tokens: 10000, completion_tokens: 500, total_tokens: 10500, prompt_tokens_details: { cached_tokens: 6400 }, prompt_cache_hit_tokens: 6400, prompt_cache_miss_tokens: 3600 },
          },
        ],
        { done: true },
      ),
    },
    expected: { nanoUsd: 985_000, details: { input: 486_000, input_cache_read: 224_000, output: 275_000 } },
    worked: [
      "20:00 UTC is inside 16:30–00:30: discount price (50% off for deepseek-chat)",
      "cache miss 3,600 × $0.135/M = 486,000 n$",
      "cache hit 6,400 × $0.035/M = 224,000 n$",
      "output 500 × $0.55/M = 275,000 n$",
      "total 486,000 + 224,000 + 275,000 = 985,000 n$",
    ].join("\n"),
    price: `${PRICE_PAGE} genai-prices 0.1.8 agrees for this date`,
  },
  {
    name: "deepseek: deepseek-reasoner, JSON, reasoning tokens at the night discount (75% off)",
    client: "openai-chat",
    model: "deepseek-reasoner",
    baseURL: BASE,
    stream: false,
    at: "2025-08-20T23:00:00Z",
    reply: {
      body: completion(
        "deepseek-reasoner",
        1755730795,
        {
          prompt_tokens: 2000,
          completion_tokens: 3000,
          total_tokens: 5000,
          prompt_tokens_details: { cached_tokens: 1024 },
          completion_tokens_details: { reasoning_tokens: 2600 },
          prompt_cache_hit_tokens: 1024,
          prompt_cache_miss_tokens: 976,
        },
        { reasoning_content: "The user greets me; greet back." },
      ),
    },
    expected: { nanoUsd: 1_817_600, details: { input: 131_760, input_cache_read: 35_840, output: 220_000, output_reasoning: 1_430_000 }, model: "deepseek-reasoner", provider: "deepseek" },
    worked: [
      "23:00 UTC: discount price",
      "cache miss 976 × $0.135/M = 131,760 n$",
      "cache hit 1,024 × $0.035/M = 35,840 n$",
      "completion 3,000, reasoning 2,600 → answer 400",
      "answer 400 × $0.55/M = 220,000 n$",
      "reasoning 2,600 × $0.55/M = 1,430,000 n$",
      "total 131,760 + 35,840 + 220,000 + 1,430,000 = 1,817,600 n$",
    ].join("\n"),
    price: `${PRICE_PAGE} genai-prices 0.1.8 deepseek/deepseek-reasoner: default {0.135, 0.035, 0.55}, 00:30–16:30Z {0.55, 0.14, 2.19} — agrees for this date`,
  },
  {
    name: "deepseek: deepseek-reasoner, JSON, sent at 16:29:58, two seconds before the discount window: the standard price",
    client: "openai-chat",
    model: "deepseek-reasoner",
    baseURL: BASE,
    stream: false,
    at: "2025-08-20T16:29:58Z",
    reply: {
      body: completion(
        "deepseek-reasoner",
        1755707398, // 2025-08-20T16:29:58Z
        {
          prompt_tokens: 2000,
          completion_tokens: 3000,
          total_tokens: 5000,
          prompt_tokens_details: { cached_tokens: 1024 },
          completion_tokens_details: { reasoning_tokens: 2600 },
          prompt_cache_hit_tokens: 1024,
          prompt_cache_miss_tokens: 976,
        },
        { reasoning_content: "The user greets me; greet back." },
      ),
    },
    expected: { nanoUsd: 7_250_160, details: { input: 536_800, input_cache_read: 143_360, output: 876_000, output_reasoning: 5_694_000 }, model: "deepseek-reasoner", provider: "deepseek" },
    worked: [
      "sent at 2025-08-20T16:29:58Z, inside 00:30–16:30: standard price (at the discount: 1,817,600 n$). LangChain keeps no `created` for Chat Completions, so the time the call was sent decides, which a stream crossing 16:30 keeps",
      "cache miss 976 × $0.55/M = 536,800 n$",
      "cache hit 1,024 × $0.14/M = 143,360 n$",
      "answer 400 × $2.19/M = 876,000 n$",
      "reasoning 2,600 × $2.19/M = 5,694,000 n$",
      "total 536,800 + 143,360 + 876,000 + 5,694,000 = 7,250,160 n$",
    ].join("\n"),
    price: `${PRICE_PAGE} genai-prices 0.1.8 agrees for this date`,
  },
  {
    name: "deepseek: deepseek-chat, JSON, 2025-09-10 night: after the Sept 5 price change, no night discount (override)",
    client: "openai-chat",
    model: "deepseek-chat",
    baseURL: BASE,
    stream: false,
    at: "2025-09-10T20:00:00Z",
    metering: { prices: { "deepseek-chat": { input: 0.56, cacheRead: 0.07, output: 1.68 } } },
    reply: {
      body: completion("deepseek-chat", 1757534396, { prompt_tokens: 10000, completion_tokens: 500, total_tokens: 10500, prompt_tokens_details: { cached_tokens: 6400 }, prompt_cache_hit_tokens: 6400, prompt_cache_miss_tokens: 3600 }),
    },
    expected: { nanoUsd: 3_304_000, details: { input: 2_016_000, input_cache_read: 448_000, output: 840_000 }, model: "deepseek-chat", provider: "deepseek" },
    worked: [
      "from 2025-09-05 16:00 UTC one price all day (V3.1): $0.07 hit / $0.56 miss / $1.68 out",
      "cache miss 3,600 × $0.56/M = 2,016,000 n$",
      "cache hit 6,400 × $0.07/M = 448,000 n$",
      "output 500 × $1.68/M = 840,000 n$",
      "total 2,016,000 + 448,000 + 840,000 = 3,304,000 n$",
    ].join("\n"),
    price:
      "https://api-docs.deepseek.com/quick_start/pricing (stored copy, read 2026-12-01): 'Starting from 16:00 UTC Time on Sept 5th, 2025, we will apply the following price list and cancel the nighttime discount: $0.07 hit / $0.56 miss / $1.68 out' (deepseek-chat and deepseek-reasoner alike). genai-prices 0.1.8 DISAGREES: the vector carries the list price as an override",
    priceDataGap:
      "genai-prices 0.1.8 deepseek/deepseek-chat and deepseek/deepseek-reasoner carry only the pre-2025-09-05 schedule ({0.135/0.035/0.55} default + time_of_date 00:30–16:30Z {0.27/0.07/1.1}, reasoner {0.55/0.14/2.19}) with no start_date/end: every later call is priced by it, night discount included. For this call genai-prices gives 985,000 n$ against the list 3,304,000 n$ (3.4× under). Later list prices are missing too: V3.2-Exp from 2025-09-29 $0.028/$0.28/$0.42 (per the same page as quoted on benchlm.ai/blog/posts/deepseek-api-pricing), and from 2026-04 the names map to deepseek-v4-flash ($0.14 miss / $0.28 out, per the stored page snapshot at megalodon.jp 2026-04-26).",
  },
];
