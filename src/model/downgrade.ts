import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { PriceCatalog } from "../pricing/catalog.js";
import { carryOver } from "./carry-over.js";
import { type CallOptions, CallTarget } from "./call-target.js";
import { identify } from "./model-identity.js";
import { describeValue } from "../validation.js";
import { isChatModel, unwrapChatModel } from "./unwrap.js";

/**
 * Where a run's later calls go once it has spent `atFraction` of its limit: `to` is a model name on the
 * same API (same provider, same settings) or any LangChain chat model (another provider: a hot swap).
 * Bound tools, tool choice and structured-output settings carry over.
 */
export interface DowngradeOption {
  /** The share of the run's limit (0–1) from which calls are downgraded, e.g. 0.8. */
  atFraction: number;
  /** A model name on the same API, or a chat model instance. */
  to: string | BaseChatModel;
}

/** @internal A target and the call options bound to it. */
export interface BoundTarget {
  target: CallTarget;
  defaults: CallOptions;
}

/** @internal Implemented by metered models: their model, sent to without their own metering. */
export const RAW_TARGET = Symbol.for("langchain-metered.rawTarget");
type HasRawTarget = { [RAW_TARGET](): BoundTarget };

/** @internal Where one call goes, with which options. */
export interface Route {
  target: CallTarget;
  options: CallOptions;
  /** The model the call was meant for, when it was downgraded. */
  downgradedFrom?: string;
}

const cache = new WeakMap<object, Downgrade>();

/**
 * @internal A budget downgrade: once the run's spend reaches `atFraction` of its limit, calls go to the
 * `to` model. A model name is the same API (same class and settings), so the call's options go as they
 * are; another model gets them rebuilt through its own `bindTools` / `withStructuredOutput` (see carryOver).
 */
export class Downgrade {
  private resolved: { bound: BoundTarget; sameApi: boolean } | undefined;

  private constructor(
    readonly atFraction: number,
    private readonly to: string | BaseChatModel,
    private readonly primaryApi: string,
    private readonly byName: (model: string) => BoundTarget,
  ) {}

  /**
   * The downgrade of a `budget` option, validated, built once per option object (a model is re-created on
   * every `bindTools`). `byName` builds the same-API model for a model name; `primaryApi` is the `_llmType()`
   * of the model being downgraded (a `to` of the same type takes the call's options as they are).
   */
  static for(option: DowngradeOption | undefined, primaryApi: string, byName: (model: string) => BoundTarget): Downgrade | undefined {
    if (option === undefined) return undefined;
    let downgrade = cache.get(option);
    if (!downgrade) {
      const { atFraction, to } = option as Partial<DowngradeOption>;
      if (typeof atFraction !== "number" || !(atFraction >= 0 && atFraction <= 1)) {
        throw new RangeError(
          `budget.downgrade.atFraction must be a number from 0 to 1 (a share of the limit), got ${String(atFraction)}.`,
        );
      }
      if (!(typeof to === "string" && to) && !isChatModel(to)) {
        throw new TypeError(`budget.downgrade.to must be a model name or a LangChain chat model, got ${describeValue(to)}.`);
      }
      downgrade = new Downgrade(atFraction, to, primaryApi, byName);
      cache.set(option, downgrade);
    }
    return downgrade;
  }

  /** Builds the target now and checks it has a price, so a bad `to` fails at construction, not mid-run. */
  check(catalog: PriceCatalog, entry: string): void {
    const { target } = this.resolve().bound;
    catalog.get(target.modelName, target.provider, undefined, { entry });
  }

  /** Where a call made at `fraction` of its budget goes. */
  route(primary: CallTarget, options: CallOptions, fraction: number): Route {
    if (fraction < this.atFraction) return { target: primary, options };
    const { bound, sameApi } = this.resolve();
    const carried = sameApi ? options : carryOver(options, bound.target.model);
    return { target: bound.target, options: { ...bound.defaults, ...carried }, downgradedFrom: primary.modelName };
  }

  private resolve(): { bound: BoundTarget; sameApi: boolean } {
    if (this.resolved) return this.resolved;
    const to = this.to;
    if (typeof to === "string") return (this.resolved = { bound: this.byName(to), sameApi: true });
    const bound = rawTargetOf(to);
    return (this.resolved = { bound, sameApi: bound.target.model._llmType() === this.primaryApi });
  }
}

/** A chat model as a target: a metered one without its own metering, a bound one with its bound options. */
function rawTargetOf(model: BaseChatModel): BoundTarget {
  if (typeof (model as Partial<HasRawTarget>)[RAW_TARGET] === "function") return (model as unknown as HasRawTarget)[RAW_TARGET]();
  const unwrapped = unwrapChatModel(model) ?? { model, options: {} };
  const { modelName, provider } = identify(unwrapped.model, unwrapped.options);
  return { target: new CallTarget(unwrapped.model, modelName, provider), defaults: unwrapped.options };
}
