import { describe, expect, it } from "vitest";
import { allOf, anyOfPredicates, specialize } from "../../../../lambdas/core/rules/specialize.js";

describe("specialize", () => {
  it("compiles a new function object per use, over the values it is given", () => {
    const first = specialize<(x: number) => number>("(x) => x + step", { step: 1 });
    const second = specialize<(x: number) => number>("(x) => x + step", { step: 10 });
    expect(first).not.toBe(second);
    expect(first(1)).toBe(2);
    expect(second(1)).toBe(11);
  });

  it("passes values as bindings, never as source text", () => {
    const hostile = '"); throw new Error("injected"); ("';
    const echo = specialize<() => string>("() => value", { value: hostile });
    expect(echo()).toBe(hostile);
  });

  it("allOf and anyOfPredicates keep the short-circuit order of the predicates", () => {
    const calls: string[] = [];
    const yes = (name: string) => (_: unknown) => {
      calls.push(name);
      return true;
    };
    const no = (name: string) => (_: unknown) => {
      calls.push(name);
      return false;
    };
    expect(allOf([yes("a"), no("b"), yes("c")])(undefined)).toBe(false);
    expect(anyOfPredicates([no("d"), yes("e"), yes("f")])(undefined)).toBe(true);
    expect(calls).toEqual(["a", "b", "d", "e"]);
  });

  it("returns a single predicate unchanged", () => {
    const only = (x: number) => x > 1;
    expect(allOf([only])).toBe(only);
    expect(anyOfPredicates([only])).toBe(only);
  });
});
