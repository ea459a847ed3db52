import { describe, expect, it } from "vitest";
import { RuleError } from "../../../../lambdas/core/rules/index.js";
import { auditDoc, meshDoc, packOf, ruleYaml } from "./helpers.js";

function matcher(detection: string, placeholders?: string, logsource?: string) {
  const pack = packOf([ruleYaml(detection, "", "t_rule", logsource)], placeholders);
  const rule = pack.get("t_rule");
  if (rule?.kind !== "single") throw new Error("expected a single-event rule");
  return (doc: ReturnType<typeof meshDoc>) => rule.matches(doc);
}

describe("value matching", () => {
  it("compares strings case-insensitively unless cased", () => {
    // Prepare
    const plain = matcher("sel:\n  url.path: /API/V1/Payments\ncondition: sel");
    const cased = matcher("sel:\n  url.path|cased: /API/V1/Payments\ncondition: sel");
    // Act / Assess
    expect(plain(meshDoc())).toBe(true);
    expect(cased(meshDoc())).toBe(false);
    expect(cased(meshDoc({ url: { path: "/API/V1/Payments" } }))).toBe(true);
  });

  it("treats * and ? as wildcards and honours their escapes", () => {
    const wild = matcher("sel:\n  url.path: /api/v?/pay*\ncondition: sel");
    const escaped = matcher("sel:\n  url.path: '/api/\\*'\ncondition: sel");
    expect(wild(meshDoc())).toBe(true);
    expect(wild(meshDoc({ url: { path: "/api/v10/payments" } }))).toBe(false);
    expect(escaped(meshDoc({ url: { path: "/api/*" } }))).toBe(true);
    expect(escaped(meshDoc({ url: { path: "/api/x" } }))).toBe(false);
  });

  it("supports contains, startswith and endswith, with all", () => {
    const contains = matcher("sel:\n  url.path|contains: V1/PAY\ncondition: sel");
    const starts = matcher("sel:\n  url.path|startswith: /api\ncondition: sel");
    const ends = matcher("sel:\n  url.path|endswith: ments\ncondition: sel");
    const all = matcher("sel:\n  url.path|contains|all: [api, pay]\ncondition: sel");
    const allMissing = matcher("sel:\n  url.path|contains|all: [api, refund]\ncondition: sel");
    expect([contains, starts, ends, all].map((m) => m(meshDoc()))).toEqual([true, true, true, true]);
    expect(allMissing(meshDoc())).toBe(false);
    expect(starts(meshDoc({ url: { path: "/x/api" } }))).toBe(false);
  });

  it("matches long lists of literals (one set lookup) with the same case rules as one value", () => {
    const plain = matcher("sel:\n  http.request.method: [PUT, POST, PATCH, DELETE, '42']\ncondition: sel");
    const cased = matcher("sel:\n  http.request.method|cased: [PUT, POST, PATCH, DELETE]\ncondition: sel");
    const mixed = matcher("sel:\n  http.request.method: [PUT, POST, 'DEL*', PATCH]\ncondition: sel");
    const method = (m: unknown) => meshDoc({ http: { request: { method: m } } });
    expect([plain(method("POST")), plain(method("post")), plain(method(42)), plain(method("GET"))]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    expect([cased(method("PATCH")), cased(method("patch"))]).toEqual([true, false]);
    expect([mixed(method("delete")), mixed(method("put")), mixed(method("GET"))]).toEqual([
      true,
      true,
      false,
    ]);
  });

  it("matches a list of values as OR and a map as AND", () => {
    const or = matcher("sel:\n  http.response.status_code: [401, 403]\ncondition: sel");
    const and = matcher("sel:\n  http.response.status_code: 403\n  url.path: /admin\ncondition: sel");
    expect(or(meshDoc({ http: { response: { status_code: 403 } } }))).toBe(true);
    expect(or(meshDoc())).toBe(false);
    expect(and(meshDoc({ http: { response: { status_code: 403 } } }))).toBe(false);
    expect(and(meshDoc({ http: { response: { status_code: 403 } }, url: { path: "/admin" } }))).toBe(true);
  });

  it("matches numbers against numbers and numeric strings, booleans against booleans", () => {
    const number = matcher("sel:\n  http.response.status_code: 200\ncondition: sel");
    const text = matcher("sel:\n  http.response.status_code: '200'\ncondition: sel");
    const bool = matcher("sel:\n  mesh.mtls: false\ncondition: sel");
    expect(number(meshDoc())).toBe(true);
    expect(number(meshDoc({ http: { response: { status_code: "200" } } }))).toBe(true);
    expect(text(meshDoc())).toBe(true);
    expect(bool(meshDoc())).toBe(false);
    expect(bool(meshDoc({ mesh: { mtls: false } }))).toBe(true);
  });

  it("compares numerically with gt, gte, lt, lte", () => {
    const range = matcher(
      "sel:\n  http.response.status_code|gte: 400\n  http.response.status_code|lt: 500\ncondition: sel",
    );
    const gt = matcher("sel:\n  event.duration|gt: 5000\ncondition: sel");
    const lte = matcher("sel:\n  event.duration|lte: 5000\ncondition: sel");
    expect(range(meshDoc({ http: { response: { status_code: 404 } } }))).toBe(true);
    expect(range(meshDoc({ http: { response: { status_code: 500 } } }))).toBe(false);
    expect(range(meshDoc({ http: { response: { status_code: "oops" } } }))).toBe(false);
    expect(gt(meshDoc({ event: { duration: 5001 } }))).toBe(true);
    expect(lte(meshDoc({ event: { duration: 5000 } }))).toBe(true);
    expect(lte(meshDoc())).toBe(false);
  });

  it("matches null and exists on absent fields", () => {
    const isNull = matcher("sel:\n  user_agent.original: null\ncondition: sel");
    const exists = matcher("sel:\n  user_agent.original|exists: true\ncondition: sel");
    const absent = matcher("sel:\n  user_agent.original|exists: false\ncondition: sel");
    expect(isNull(meshDoc())).toBe(true);
    expect(isNull(meshDoc({ user_agent: { original: "curl" } }))).toBe(false);
    expect(exists(meshDoc({ user_agent: { original: "curl" } }))).toBe(true);
    expect(absent(meshDoc())).toBe(true);
  });

  it("matches IPv4, IPv6 and IPv4-mapped addresses with cidr", () => {
    const cidr = matcher("sel:\n  source.ip|cidr: [10.0.0.0/8, 'fc00::/7']\ncondition: sel");
    expect(cidr(meshDoc({ source: { ip: "10.1.2.3" } }))).toBe(true);
    expect(cidr(meshDoc({ source: { ip: "11.1.2.3" } }))).toBe(false);
    expect(cidr(meshDoc({ source: { ip: "fd12::1" } }))).toBe(true);
    expect(cidr(meshDoc({ source: { ip: "::ffff:10.9.9.9" } }))).toBe(true);
    expect(cidr(meshDoc({ source: { ip: "not-an-ip" } }))).toBe(false);
  });

  it("refuses an IPv4 octet with a leading zero in cidr, as the GeoIP lookup does (octal or decimal: ambiguous)", () => {
    const cidr = matcher("sel:\n  source.ip|cidr: [10.0.0.0/8, 8.0.0.0/8]\ncondition: sel");
    expect(cidr(meshDoc({ source: { ip: "010.0.0.1" } }))).toBe(false);
    expect(cidr(meshDoc({ source: { ip: "10.0.0.1" } }))).toBe(true);
  });

  it("matches regular expressions, with (?i) and the i flag", () => {
    const re = matcher("sel:\n  url.path|re: '^/api/v[0-9]+/pay'\ncondition: sel");
    const inline = matcher("sel:\n  user_agent.original|re: '(?i)^python-requests'\ncondition: sel");
    const flag = matcher("sel:\n  user_agent.original|re|i: '^PYTHON'\ncondition: sel");
    expect(re(meshDoc())).toBe(true);
    expect(inline(meshDoc({ user_agent: { original: "Python-Requests/2.31" } }))).toBe(true);
    expect(flag(meshDoc({ user_agent: { original: "python-requests/2.31" } }))).toBe(true);
  });

  it("expands placeholders, including keyed ones", () => {
    const placeholders =
      "paths: ['/admin*', /debug]\nallowed:\n  '*': [spiffe://cluster.local/ns/ops/sa/sre]\n  payments.shop.svc.cluster.local: [spiffe://cluster.local/ns/shop/sa/frontend]\n";
    const paths = matcher("sel:\n  url.path|expand: '%paths%'\ncondition: sel", placeholders);
    const allowed = matcher(
      "sel:\n  mesh.source.principal|expand: '%allowed[mesh.destination.service]%'\ncondition: sel",
      placeholders,
    );
    expect(paths(meshDoc({ url: { path: "/admin/users" } }))).toBe(true);
    expect(paths(meshDoc())).toBe(false);
    expect(allowed(meshDoc())).toBe(true);
    expect(allowed(meshDoc({ mesh: { destination: { service: "orders.shop.svc.cluster.local" } } }))).toBe(
      false,
    );
    expect(
      allowed(
        meshDoc({
          mesh: {
            destination: { service: "orders" },
            source: { principal: "spiffe://cluster.local/ns/ops/sa/sre" },
          },
        }),
      ),
    ).toBe(true);
  });

  it("expands windash and base64 values", () => {
    const windash = matcher("sel:\n  user_agent.original|windash|contains: ' -enc'\ncondition: sel");
    const base64 = matcher("sel:\n  url.query|base64|contains: admin\ncondition: sel");
    expect(windash(meshDoc({ user_agent: { original: "tool /enc x" } }))).toBe(true);
    expect(base64(meshDoc({ url: { query: `q=${Buffer.from("admin").toString("base64")}` } }))).toBe(true);
  });

  it("fans out over arrays and reads keys that contain dots", () => {
    const groups = matcher(
      "sel:\n  user.groups: system:masters\ncondition: sel",
      undefined,
      "product: kubernetes\n  service: audit",
    );
    const reason = matcher(
      "sel:\n  annotations.authorization.k8s.io/decision: allow\ncondition: sel",
      undefined,
      "product: kubernetes\n  service: audit",
    );
    const doc = auditDoc({
      kubernetes: {
        audit: {
          user: { groups: ["system:authenticated", "system:masters"] },
          annotations: { "authorization.k8s.io/decision": "allow" },
        },
      },
    });
    expect(groups(doc)).toBe(true);
    expect(reason(doc)).toBe(true);
  });

  it("matches keywords against event.original", () => {
    const keywords = matcher("keywords:\n  - zgrab\n  - masscan\ncondition: keywords");
    expect(keywords(meshDoc({ event: { original: 'GET / "Mozilla/5.0 zgrab/0.x"' } }))).toBe(true);
    expect(keywords(meshDoc())).toBe(false);
  });
});

describe("rejected detection items", () => {
  const cases: [string, string, RegExp][] = [
    [
      "an unknown modifier",
      "sel:\n  url.path|sounds_like: x\ncondition: sel",
      /test\/rule0\.yml, rule 't_rule', key 'detection\.sel\.url\.path\|sounds_like': unknown modifier 'sounds_like'/,
    ],
    ["two match modifiers", "sel:\n  url.path|contains|startswith: x\ncondition: sel", /cannot be combined/],
    [
      "an invalid CIDR",
      "sel:\n  source.ip|cidr: 10.0.0.0/33\ncondition: sel",
      /key 'detection\.sel\.source\.ip\|cidr': '10\.0\.0\.0\/33' is not a CIDR block/,
    ],
    [
      "an invalid regular expression",
      "sel:\n  url.path|re: '(['\ncondition: sel",
      /invalid regular expression/,
    ],
    ["gt with a word", "sel:\n  event.duration|gt: slow\ncondition: sel", /'gt' takes a number/],
    [
      "exists with a string",
      "sel:\n  url.path|exists: yes please\ncondition: sel",
      /'exists' takes true or false/,
    ],
    [
      "an undefined placeholder",
      "sel:\n  url.path|expand: '%nowhere%'\ncondition: sel",
      /placeholder '%nowhere%' has no value/,
    ],
    ["an empty value list", "sel:\n  url.path: []\ncondition: sel", /empty list/],
    [
      "an object value",
      "sel:\n  url.path: {a: 1}\ncondition: sel",
      /values must be strings, numbers, booleans or null/,
    ],
  ];
  for (const [label, detection, message] of cases) {
    it(`rejects ${label} naming file, rule and key`, () => {
      expect(() => packOf([ruleYaml(detection)])).toThrowError(RuleError);
      expect(() => packOf([ruleYaml(detection)])).toThrowError(message);
    });
  }
});
