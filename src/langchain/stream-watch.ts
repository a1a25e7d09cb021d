import type { BaseMessage } from "@langchain/core/messages";
import type { Budget } from "../budget/budget.js";
import type { PricedCall } from "../budget/budget-call.js";
import { boundRates, type Rates } from "../budget/plan.js";
import type { PriceCatalog } from "../pricing/catalog.js";
import { FEMTO_PER_NANO } from "../pricing/money.js";
import { costFromQuote } from "../pricing/price-usage.js";
import { encoderFor } from "../usage/tokenizer.js";
import { ZERO_USAGE } from "../usage/usage.js";
import { countInputTokens, inputTokenBound, utf8Length } from "./messages.js";

/**
 * @internal Watches a stream's text against its budget, so it can be stopped as soon as what it received
 * would take the run over its limit. Cheap first: a bound from byte counts (a token is at least one byte)
 * at the dearest rates; tokens are counted only once that bound comes within reach of the limit, and then
 * only the text that arrived since the last count, so a long stream stays linear.
 */
export class StreamWatch {
  private text = "";
  private bytes = 0;
  /** The byte bound's fixed part (the input at its dearest rate) and its rate per output byte, in nano-USD. */
  private bound: { inputNano: number; perOutputByte: number } | null | undefined;
  private inputTokens: number | undefined;
  private outputTokens = 0;
  private countedChars = 0;

  constructor(
    private readonly budget: Budget,
    private readonly catalog: PriceCatalog,
    private readonly call: { model: string; provider: string | undefined; messages: readonly BaseMessage[]; tools: unknown },
    /** What the call already holds in the budget (a hard cap's worst case): only spend beyond it can cross. */
    private readonly heldNano: () => number,
  ) {}

  /**
   * Takes in the text a chunk added. Synchronous, and `undefined`, while the byte bound says the stream is
   * far from its limit (every chunk asks: no promise, no count); near it, resolves to what the stream has
   * cost so far, priced (estimated), when that would take the budget over its limit: the caller settles it
   * and stops the stream.
   */
  observe(text: string): Promise<PricedCall | undefined> | undefined {
    if (!text || this.budget.ledger.limitNano === undefined) return undefined;
    this.text += text;
    this.bytes += utf8Length(text);
    if (!this.budget.wouldCross(this.boundNano() - this.heldNano())) return undefined;
    return this.priceSoFar().then((partial) => (partial && this.budget.wouldCross(partial.cost.nanoUsd - this.heldNano()) ? partial : undefined));
  }

  /**
   * An upper bound on what the call has cost so far, from byte counts. In floating point, on every chunk: its
   * rounding (under a thousandth of a nano-dollar for any real call) is covered by the nano-dollar added.
   */
  private boundNano(): number {
    this.bound ??= this.boundOf();
    if (!this.bound) return Number.MAX_SAFE_INTEGER; // no price known: always count precisely
    return Math.ceil(this.bound.inputNano + this.bytes * this.bound.perOutputByte) + 1;
  }

  private boundOf(): { inputNano: number; perOutputByte: number } | null {
    const quote = this.catalog.find(this.call.model, this.call.provider);
    if (!quote) return null;
    const rates: Rates = boundRates(quote.price);
    const inputBytes = inputTokenBound(this.call.messages, this.call.model, this.call.tools);
    return { inputNano: (inputBytes * Number(rates.input)) / FEMTO_PER_NANO, perOutputByte: Number(rates.output) / FEMTO_PER_NANO };
  }

  /** What was received so far, priced: the input and the output counted locally (estimated). */
  private async priceSoFar(): Promise<PricedCall | undefined> {
    const quote = this.catalog.find(this.call.model, this.call.provider);
    if (!quote) return undefined;
    this.inputTokens ??= await countInputTokens(this.call.messages, this.call.model, this.call.tools);
    const encoder = await encoderFor(this.call.model);
    this.outputTokens += encoder.count(this.text.slice(this.countedChars));
    this.countedChars = this.text.length;
    const usage = { ...ZERO_USAGE, inputTokens: this.inputTokens, outputTokens: this.outputTokens };
    return { usage, cost: costFromQuote(usage, quote, this.call.model, "cut-short") };
  }
}
