/**
 * Predicates compiled afresh per use.
 *
 * A combinator written once (`(doc) => a(doc) && b(doc)`) is one piece of code shared by every rule: its call sites
 * see every rule's `a` and `b`, so V8 marks them megamorphic and never inlines them, and a pack of 60 rules spends
 * most of its time in calls. `specialize` compiles the same source once per use, so each instance has its own call
 * sites, each seeing one callee: monomorphic, inlinable. Only constant source written in this package is compiled;
 * values (rules' predicates, sets, literals) are passed in as bindings, never spliced into the text.
 */

let instances = 0;

/**
 * Compiles `expression` (a function expression over the names of `bindings`) into a new function object with its
 * own code and feedback. The counter comment keeps V8's compilation cache from handing back shared code.
 */
export function specialize<T>(expression: string, bindings: Readonly<Record<string, unknown>>): T {
  const names = Object.keys(bindings);
  instances++;
  const factory = new Function(...names, `"use strict";\n/* ${instances} */\nreturn (${expression});`) as (
    ...values: unknown[]
  ) => T;
  return factory(...names.map((name) => bindings[name]));
}

/** `a && b && …` over predicates of one argument, as one specialized function. */
export function allOf<F extends (value: never) => boolean>(predicates: readonly F[]): F {
  if (predicates.length === 1) return predicates[0] as F;
  return specialize<F>(`(x) => ${predicates.map((_, i) => `p${i}(x)`).join(" && ")}`, bindingsOf(predicates));
}

/** `a || b || …` over predicates of one argument, as one specialized function. */
export function anyOfPredicates<F extends (value: never) => boolean>(predicates: readonly F[]): F {
  if (predicates.length === 1) return predicates[0] as F;
  return specialize<F>(`(x) => ${predicates.map((_, i) => `p${i}(x)`).join(" || ")}`, bindingsOf(predicates));
}

function bindingsOf(predicates: readonly unknown[]): Record<string, unknown> {
  return Object.fromEntries(predicates.map((predicate, i) => [`p${i}`, predicate]));
}
