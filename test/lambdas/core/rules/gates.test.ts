import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { EcsDocument } from "../../../../lambdas/core/ecs.js";
import { auditDoc, packOf, ruleYaml } from "./helpers.js";

/**
 * The pack reads fields that rules require to equal some strings once per document and skips rules whose
 * required values it fails (`assemble.ts`, `FieldRequirement`). Skipping must never change a result: the pack
 * matches exactly the rules whose own predicate matches.
 */

const FIELDS = ["verb", "objectRef.resource", "objectRef.namespace", "user.username"] as const;
const WORDS = ["create", "CREATE", "get", "pods", "Pods", "secrets", "kube-system", "alice", "42"];

const valueArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...WORDS) },
  { weight: 1, arbitrary: fc.constantFrom(42, true, null) },
  { weight: 2, arbitrary: fc.array(fc.constantFrom(...WORDS), { minLength: 0, maxLength: 3 }) },
);

/** An audit document whose four fields are each absent, a word, a number, null or an array of words. */
const docArb = fc
  .record(
    Object.fromEntries(FIELDS.map((field) => [field, fc.option(valueArb, { nil: undefined })])) as Record<
      (typeof FIELDS)[number],
      fc.Arbitrary<unknown>
    >,
  )
  .map((fields) => {
    const audit: Record<string, unknown> = {};
    for (const [path, value] of Object.entries(fields)) {
      if (value === undefined) continue;
      const [head, tail] = path.split(".") as [string, string | undefined];
      if (tail === undefined) audit[head] = value;
      else audit[head] = { ...(audit[head] as object | undefined), [tail]: value };
    }
    const doc = auditDoc() as unknown as { kubernetes: { audit: Record<string, unknown> } };
    doc.kubernetes.audit = audit;
    return doc as unknown as EcsDocument;
  });

/** Mostly plain equality (what gates read), sometimes a modifier, a wildcard or null (what they must not). */
const itemArb = fc.record({
  field: fc.constantFrom(...FIELDS),
  modifier: fc.oneof(
    { weight: 6, arbitrary: fc.constant("") },
    { weight: 1, arbitrary: fc.constantFrom("|cased", "|contains", "|startswith", "|all", "|re") },
  ),
  values: fc.array(
    fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom(...WORDS) },
      { weight: 1, arbitrary: fc.constantFrom("cre*", null) },
    ),
    { minLength: 1, maxLength: 3 },
  ),
});

function itemYaml(item: { field: string; modifier: string; values: (string | null)[] }): string {
  const usable =
    item.modifier === "" || item.modifier === "|cased" ? item.values : item.values.filter((v) => v !== null);
  const values = usable.length === 0 ? ["get"] : usable;
  const modifier = item.modifier === "|all" && values.includes(null) ? "" : item.modifier;
  const list = values.map((value) => (value === null ? "null" : JSON.stringify(value))).join(", ");
  return `  ${item.field}${modifier}: [${list}]`;
}

const CONDITIONS = [
  "sel_a",
  "sel_a and sel_b",
  "sel_a or sel_b",
  "sel_a and not sel_b",
  "not sel_a",
  "1 of sel_*",
  "2 of sel_*",
  "all of sel_*",
  "(sel_a or sel_b) and sel_c",
  "(sel_a and sel_c) or (sel_b and sel_c)",
];

/** One to three items of a selection map, on distinct keys. */
const itemsArb = fc.uniqueArray(itemArb, {
  minLength: 1,
  maxLength: 2,
  selector: (item) => `${item.field}${item.modifier}`,
});

const ruleArb = fc.record({
  a: itemsArb,
  b: itemsArb,
  c: itemsArb,
  listOfMaps: fc.boolean(),
  condition: fc.constantFrom(...CONDITIONS),
});

type GeneratedRule = typeof ruleArb extends fc.Arbitrary<infer T> ? T : never;

function detection(rule: GeneratedRule): string {
  const map = (items: typeof rule.a) => items.map(itemYaml).join("\n");
  // Selection b is, half of the time, a list of two maps (b's items or a's): either one matching is enough.
  const b = rule.listOfMaps
    ? `sel_b:\n  -\n${map(rule.b).replace(/^ {2}/gm, "    ")}\n  -\n${map(rule.a).replace(/^ {2}/gm, "    ")}`
    : `sel_b:\n${map(rule.b)}`;
  return [`sel_a:\n${map(rule.a)}`, b, `sel_c:\n${map(rule.c)}`, `condition: ${rule.condition}`].join("\n");
}

describe("rule gates", () => {
  it("skip only rules that could not match: the pack matches exactly the rules whose predicate does", () => {
    fc.assert(
      fc.property(
        fc.array(ruleArb, { minLength: 1, maxLength: 6 }),
        fc.array(docArb, { maxLength: 8 }),
        (rules, docs) => {
          const pack = packOf(
            rules.map((rule, index) =>
              ruleYaml(detection(rule), "", `r${index}`, "product: kubernetes\n  service: audit"),
            ),
          );
          for (const doc of docs) {
            const expected = pack.singleEventRules
              .filter((rule) => rule.matches(doc))
              .map((rule) => rule.name);
            expect(pack.matchSingleEvent(doc).sort()).toEqual(expected.sort());
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("still lets a rule through when its field holds several values (arrays fan out)", () => {
    const pack = packOf([
      ruleYaml(
        "sel:\n  verb: create\ncondition: sel",
        "",
        "creates",
        "product: kubernetes\n  service: audit",
      ),
    ]);
    const several = auditDoc({ kubernetes: { audit: { verb: ["get", "CREATE"] } } });
    const other = auditDoc({ kubernetes: { audit: { verb: "get" } } });
    expect(pack.matchSingleEvent(several)).toEqual(["creates"]);
    expect(pack.matchSingleEvent(other)).toEqual([]);
  });
});
