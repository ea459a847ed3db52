import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CanonicalJsonError,
  type CanonicalValue,
  canonicalJson,
} from "../../../../lambdas/core/digest/canonical.js";

const value: fc.Arbitrary<CanonicalValue> = fc.letrec((tie) => ({
  leaf: fc.oneof(fc.string(), fc.maxSafeInteger(), fc.boolean(), fc.constant(null)),
  node: fc.oneof(
    { depthSize: "small" },
    tie("leaf"),
    fc.array(tie("node"), { maxLength: 4 }),
    fc.dictionary(fc.string(), tie("node"), { maxKeys: 4 }),
  ),
})).node as fc.Arbitrary<CanonicalValue>;

describe("canonicalJson", () => {
  it("sorts object keys and writes no whitespace", () => {
    expect(canonicalJson({ b: 1, a: [true, null, "x"], c: { z: "", y: -2 } })).toBe(
      '{"a":[true,null,"x"],"b":1,"c":{"y":-2,"z":""}}',
    );
  });

  it("rejects a non-integer number, naming its path", () => {
    expect(() => canonicalJson({ objects: [{ size: 1.5 }] })).toThrow(
      new CanonicalJsonError("$.objects[0].size: only safe integers are allowed in a digest, got 1.5"),
    );
  });

  it("is a fixed point of parse and re-serialize (property)", () => {
    fc.assert(
      fc.property(value, (v) => {
        const once = canonicalJson(v);
        expect(canonicalJson(JSON.parse(once) as CanonicalValue)).toBe(once);
      }),
    );
  });

  it("does not depend on the order keys were inserted in (property)", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), value, { maxKeys: 6 }), (record) => {
        const reversed = Object.fromEntries(Object.entries(record).reverse());
        expect(canonicalJson(reversed)).toBe(canonicalJson(record));
      }),
    );
  });
});
