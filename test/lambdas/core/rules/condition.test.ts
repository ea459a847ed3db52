import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { EcsDocument } from "../../../../lambdas/core/ecs.js";
import {
  ConditionSyntaxError,
  compileCondition,
  parseCondition,
  selectionsMatching,
} from "../../../../lambdas/core/rules/condition.js";
import { loadRulePack, RuleError } from "../../../../lambdas/core/rules/index.js";
import { packOf, ruleYaml } from "./helpers.js";

const truth = (value: boolean) => () => value;

function evaluate(condition: string, values: Record<string, boolean>): boolean {
  const selections = new Map(Object.entries(values).map(([name, value]) => [name, truth(value)]));
  return compileCondition(parseCondition(condition), selections)({} as EcsDocument);
}

describe("condition parsing", () => {
  it("binds not tighter than and, and tighter than or", () => {
    // Prepare
    const values = { a: true, b: false, c: true };
    // Act / Assess
    expect(evaluate("a or b and c", values)).toBe(true);
    expect(evaluate("not a or c", values)).toBe(true);
    expect(evaluate("not (a or b) and c", values)).toBe(false);
    expect(evaluate("a and not b and c", values)).toBe(true);
    expect(evaluate("(a or b) and not c", values)).toBe(false);
  });

  it("parses keywords case-insensitively", () => {
    expect(evaluate("A AND NOT b", { A: true, b: false })).toBe(true);
  });

  it("evaluates 1 of, N of, all of with patterns and them, leaving _names out of them", () => {
    const values = { sel_a: true, sel_b: false, sel_c: true, other: false, _helper: false };
    expect(evaluate("1 of sel_*", values)).toBe(true);
    expect(evaluate("all of sel_*", values)).toBe(false);
    expect(evaluate("2 of sel_*", values)).toBe(true);
    expect(evaluate("3 of sel_*", values)).toBe(false);
    expect(evaluate("any of them", values)).toBe(true);
    expect(evaluate("all of them", { a: true, _helper: false })).toBe(true);
    expect(selectionsMatching("them", ["a", "_b", "c"])).toEqual(["a", "c"]);
  });

  const invalid: [string, RegExp][] = [
    ["a and", /unexpected end of condition/],
    ["(a or b", /missing '\)'/],
    ["a b", /unexpected 'b'/],
    ["sel | count() > 5", /aggregations/],
    ["x of sel*", /needs a number, 'any' or 'all'/],
    ["1 of", /'of' needs a selection pattern/],
    ["and a", /unexpected 'and'/],
  ];
  for (const [condition, message] of invalid) {
    it(`rejects '${condition}'`, () => {
      expect(() => parseCondition(condition)).toThrowError(message);
    });
  }

  it("rejects unknown selections and empty patterns when compiling, naming file, rule and key", () => {
    expect(() => packOf([ruleYaml("sel:\n  url.path: /x\ncondition: sel and missing")])).toThrowError(
      /test\/rule0\.yml, rule 't_rule', key 'detection\.condition': unknown selection 'missing'/,
    );
    expect(() => packOf([ruleYaml("sel:\n  url.path: /x\ncondition: 1 of filter_*")])).toThrowError(
      RuleError,
    );
  });

  it("never throws on arbitrary text other than with a ConditionSyntaxError", () => {
    const alphabet = fc.constantFrom(
      "a",
      "b",
      "sel_1",
      "not",
      "and",
      "or",
      "(",
      ")",
      "1",
      "all",
      "of",
      "them",
      "sel_*",
      " ",
      "|",
    );
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 20 }), (parts) => {
        try {
          const tree = parseCondition(parts.join(" "));
          expect(tree).toBeDefined();
        } catch (error) {
          expect(error).toBeInstanceOf(ConditionSyntaxError);
        }
      }),
    );
  });

  it("agrees with a boolean reference evaluation on generated expressions", () => {
    type Expr = { text: string; value: (env: Record<string, boolean>) => boolean };
    const names = ["a", "b", "c"];
    const leaf = fc
      .constantFrom(...names)
      .map<Expr>((name) => ({ text: name, value: (env) => env[name] ?? false }));
    const expr = fc.letrec<{ e: Expr }>((tie) => ({
      e: fc.oneof(
        { depthSize: "small", withCrossShrink: true },
        leaf,
        tie("e").map((x) => ({
          text: `not (${x.text})`,
          value: (env: Record<string, boolean>) => !x.value(env),
        })),
        fc.tuple(tie("e"), tie("e")).map(([x, y]) => ({
          text: `(${x.text}) and (${y.text})`,
          value: (env: Record<string, boolean>) => x.value(env) && y.value(env),
        })),
        fc.tuple(tie("e"), tie("e")).map(([x, y]) => ({
          text: `(${x.text}) or (${y.text})`,
          value: (env: Record<string, boolean>) => x.value(env) || y.value(env),
        })),
      ),
    })).e;
    fc.assert(
      fc.property(expr, fc.record({ a: fc.boolean(), b: fc.boolean(), c: fc.boolean() }), (e, env) => {
        expect(evaluate(e.text, env)).toBe(e.value(env));
      }),
    );
  });
});

/** Arbitrary JSON-ish documents, sometimes shaped like ours, to throw at every compiled rule. */
const jsonValue = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.string(),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(
      fc.constantFrom(
        "mesh",
        "source",
        "ip",
        "principal",
        "kubernetes",
        "audit",
        "verb",
        "objectRef",
        "http",
        "event",
        "dataset",
        "requestObject",
        "spec",
        "containers",
        "a.b",
      ),
      tie("value"),
      { maxKeys: 5 },
    ),
  ),
})).value;

describe("matchers on arbitrary documents", () => {
  it("never throw for any rule of the default pack", async () => {
    // Prepare
    const pack = await loadRulePack(["rules"]);
    // Act / Assess
    fc.assert(
      fc.property(
        jsonValue,
        fc.constantFrom("kubernetes.audit", "istio.access", 7, undefined),
        (value, dataset) => {
          const doc = {
            ...(typeof value === "object" && value !== null ? value : { x: value }),
            "@timestamp": "x",
            event: { dataset },
          } as unknown as EcsDocument;
          for (const rule of pack.singleEventRules) expect(typeof rule.matches(doc)).toBe("boolean");
          expect(Array.isArray(pack.matchSingleEvent(doc))).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });
});
