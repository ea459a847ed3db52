import { describe, expect, it } from "vitest";
import {
  anyOf,
  between,
  equals,
  exists,
  LuceneQueryError,
  lucene,
  not,
} from "../../../../../lambdas/core/opensearch/index.js";

describe("Lucene query strings", () => {
  it("joins clauses with AND, quoting strings and leaving numbers and booleans bare", () => {
    // Act
    const query = lucene(
      exists("mesh.name"),
      not(equals("mesh.direction", "outbound")),
      anyOf("http.response.status_code", [401, 403]),
      between("http.response.status_code", 400, 599),
      equals("mesh.mtls", false),
    );

    // Assess
    expect(query).toBe(
      '_exists_:mesh.name AND NOT mesh.direction:"outbound" AND http.response.status_code:(401 OR 403) AND http.response.status_code:[400 TO 599] AND mesh.mtls:false',
    );
  });

  it("escapes quotes and backslashes inside a value, so a SPIFFE id or a hostile value stays one term", () => {
    // Act
    const query = lucene(equals("mesh.source.principal", 'spiffe://td/ns/a"b\\c OR *'));

    // Assess
    expect(query).toBe('mesh.source.principal:"spiffe://td/ns/a\\"b\\\\c OR *"');
  });

  it("matches everything when there is no clause", () => {
    expect(lucene()).toBe("*");
  });

  it("refuses a field that is not a dotted path, an empty list, a reversed range and a non-finite number", () => {
    expect(() => lucene(equals("mesh.name OR x", "istio"))).toThrow(LuceneQueryError);
    expect(() => lucene(equals("mesh..name", "istio"))).toThrow('"mesh..name" is not a dotted field path');
    expect(() => anyOf("rule.name", [])).toThrow('anyOf("rule.name") needs at least one value');
    expect(() => between("event.duration", 10, 1)).toThrow("from must be <= to");
    expect(() => lucene(equals("event.duration", Number.NaN))).toThrow("NaN is not a finite number");
  });
});
