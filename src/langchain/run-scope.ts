import type { Budget } from "../budget/budget.js";
import { type ContextStorage, contextStorage, contextVariable, runWithContextVariable, wrapRunRoots } from "./internals.js";

/**
 * How budgets find their run.
 *
 * A LangChain run without callbacks has no run id, and nothing in its config is shared by reference from
 * its root down to its nested calls: a metered call deep inside an agent can't tell which run it belongs to
 * unless something was placed at the root. So, once the first metered model is constructed, every LangChain
 * run that starts outside any other run enters a `RunScope` in LangChain's own async-context store (the
 * `runWithConfig` store LangChain already carries into every nested step, node, tool and sub-agent). A
 * metered call finds its run's scope there and, in it, the run's budget, made by the first metered call.
 *
 * What it costs a run no metered model joins: one small object at its root, no callbacks. Why not
 * LangChain's `registerConfigureHook`: its hook list lives in the async context where it was registered, so
 * a library first imported inside a request handler or a timer reached only that context, and every handler
 * it adds turns LangChain's whole callback path on for every run. Parallel runs enter their own scopes.
 */
export class RunScope {
  /** Budgets the run keeps, one per owner (the run's own, a middleware's), made on first use; the map too. */
  private budgets: Map<object, Budget> | undefined;
  /** A budget set over the whole run (the agent middleware), used instead of the models' own. */
  explicit: Budget | undefined;

  /** The budget `owner` keeps for this run; `make` builds it the first time. */
  budget(owner: object, make: () => Budget): Budget {
    const budgets = (this.budgets ??= new Map());
    let budget = budgets.get(owner);
    if (!budget) budgets.set(owner, (budget = make()));
    return budget;
  }
}

const RUN_SCOPE = Symbol.for("langchain-metered.runScope");
let installed: "yes" | "no-storage" | "unsupported" | undefined;

/**
 * @internal Starts giving runs their scopes: called when a metered model is constructed (never at import),
 * it reaches every later run, in every async context. Idempotent; cheap after the first call.
 */
export function installRunScopes(): void {
  if (installed) return;
  const storage = contextStorage();
  if (!storage) {
    installed = "no-storage";
    return;
  }
  installed = wrapRunRoots(() => scopeIn(storage) !== undefined, (fn) => enterScope(storage, new RunScope(), fn)) ? "yes" : "unsupported";
}

/** @internal Why runs can't get scopes here, if they can't: no AsyncLocalStorage, or LangChain internals that moved. */
export function runScopesUnavailable(): "no-storage" | "unsupported" | undefined {
  return installed === "yes" ? undefined : installed;
}

/** @internal The scope of the run the caller is in, if any. */
export function currentRunScope(): RunScope | undefined {
  const storage = contextStorage();
  return storage ? scopeIn(storage) : undefined;
}

function scopeIn(storage: ContextStorage): RunScope | undefined {
  return contextVariable<RunScope>(storage, RUN_SCOPE);
}

function enterScope<T>(storage: ContextStorage, scope: RunScope, fn: () => T): T {
  return runWithContextVariable(storage, RUN_SCOPE, scope, fn);
}
