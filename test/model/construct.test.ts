/**
 * Constructing a MeteredChatModel: both constructor forms, and an unknown price failing at construction
 * (before any paid call), fixed by the `prices` option.
 */
import { ChatOpenAI } from "@langchain/openai";
import { describe, expect, it } from "vitest";
import { MeteredChatModel, MeteredError, PriceOverrideError, UnknownModelPriceError } from "../../src/index.js";
import { costOf, useFakeOpenAI } from "../support/metered.js";

const fake = useFakeOpenAI();

describe("constructor forms", () => {
  it("new MeteredChatModel({ model, ... })", async () => {
    const model = fake.model();
    expect(model).toBeInstanceOf(ChatOpenAI);
    expect(model.model).toBe("gpt-4o-mini");
    fake.server.script({ usage: { promptTokens: 1000, completionTokens: 500 } });
    // gpt-4o-mini: 1000×0.15e-6 + 500×0.6e-6 = $0.00045
    expect(costOf(await model.invoke("hi"))?.nanoUsd).toBe(450_000);
  });

  it('new MeteredChatModel("gpt-4o", { ... })', async () => {
    const model = new MeteredChatModel("gpt-4o", fake.connection());
    expect(model.model).toBe("gpt-4o");
    fake.server.script({ usage: { promptTokens: 1000, completionTokens: 500 } });
    const message = await model.invoke("hi");
    expect(fake.server.requests[0]?.body.model).toBe("gpt-4o");
    // gpt-4o: 1000×2.5e-6 + 500×10e-6 = 0.0025 + 0.005 = $0.0075
    expect(costOf(message)).toMatchObject({ nanoUsd: 7_500_000, totalUsd: 0.0075, model: "gpt-4o" });
  });

  it("the string form keeps metering fields (prices, onCost)", async () => {
    const seen: number[] = [];
    const model = new MeteredChatModel("my-model", {
      ...fake.connection(),
      prices: { "my-model": { input: 1, output: 2 } },
      onCost: (record) => void seen.push(record.cost.nanoUsd),
    });
    fake.server.script({ usage: { promptTokens: 100, completionTokens: 10 } });
    await model.invoke("hi");
    // my-model: 100×1e-6 + 10×2e-6 = 0.0001 + 0.00002 = $0.00012
    expect(seen).toEqual([120_000]);
  });
});

describe("an unknown price fails at construction", () => {
  it("throws UnknownModelPriceError before sending anything", () => {
    let error: unknown;
    try {
      fake.model({ model: "mystery-model" });
    } catch (e) {
      error = e;
    }
    expect(UnknownModelPriceError.isInstance(error)).toBe(true);
    expect(MeteredError.isInstance(error)).toBe(true);
    expect((error as UnknownModelPriceError).model).toBe("mystery-model");
    expect((error as Error).message).toContain("prices");
    expect(fake.server.requests).toHaveLength(0);
    expect(() => new MeteredChatModel("mystery-model", fake.connection())).toThrow(UnknownModelPriceError);
  });

  it("the prices option fixes it, and prices the call", async () => {
    const model = fake.model({ model: "mystery-model", prices: { "mystery-model": { input: 0.3, output: 1.2 } } });
    fake.server.script({ usage: { promptTokens: 1000, completionTokens: 500 } });
    const cost = costOf(await model.invoke("hi"));
    // 1000×0.3e-6 + 500×1.2e-6 = 0.0003 + 0.0006 = $0.0009
    expect(cost).toMatchObject({ nanoUsd: 900_000, model: "mystery-model", priceSource: "override" });
  });

  it("an override key prices the dated snapshot the server names", async () => {
    const model = fake.model({ model: "my-model", prices: { "my-model": { input: 1, output: 2 } } });
    fake.server.script({ model: "my-model-2025-01-01", usage: { promptTokens: 1000, completionTokens: 500 } });
    // 1000×1e-6 + 500×2e-6 = $0.002
    expect(costOf(await model.invoke("hi"))).toMatchObject({ nanoUsd: 2_000_000, model: "my-model-2025-01-01" });
  });

  it("a malformed prices option is a PriceOverrideError at construction", () => {
    expect(() => fake.model({ prices: { "gpt-4o-mini": { input: 0.15, ouptut: 0.6 } as never } })).toThrow(PriceOverrideError);
  });
});
