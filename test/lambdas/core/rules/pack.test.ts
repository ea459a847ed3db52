import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadRulePack, parseRuleOverrides, RuleError } from "../../../../lambdas/core/rules/index.js";
import { auditDoc, meshDoc, packOf, ruleYaml } from "./helpers.js";

const BASE = ruleYaml("sel:\n  http.response.status_code: 403\ncondition: sel", "", "base_denied");
const BURST = `title: Burst
id: burst-id
name: burst
level: medium
correlation:
  type: event_count
  rules: [base_denied]
  group-by: [mesh.source.principal]
  timespan: 1m
  condition: { gte: 3 }
`;

describe("building a pack", () => {
  it("compiles single-event and correlation rules and tags documents with matched names", () => {
    // Prepare
    const pack = packOf([BASE, BURST, ruleYaml("sel:\n  mesh.mtls: false\ncondition: sel", "", "plain")]);
    // Act
    const matched = pack.matchSingleEvent(
      meshDoc({ http: { response: { status_code: 403 } }, mesh: { mtls: false } }),
    );
    // Assess
    expect(matched.sort()).toEqual(["base_denied", "plain"]);
    expect(
      pack.correlationRules.map((rule) => [rule.name, rule.type, rule.timespanMs, rule.groupBy]),
    ).toEqual([["burst", "event_count", 60_000, ["mesh.source.principal"]]]);
    expect(pack.get("burst-id")?.name).toBe("burst");
  });

  it("lets referenced rules alert only when a correlation says generate: true", () => {
    const silent = packOf([BASE, BURST]);
    const loud = packOf([
      BASE,
      BURST.replace("condition: { gte: 3 }", "condition: { gte: 3 }\n  generate: true"),
    ]);
    expect(silent.get("base_denied")?.generatesAlerts).toBe(false);
    expect(loud.get("base_denied")?.generatesAlerts).toBe(true);
  });

  it("applies logsource guards: a Kubernetes audit rule never matches a mesh document", () => {
    const pack = packOf([
      ruleYaml("sel:\n  verb: create\ncondition: sel", "", "k8s", "product: kubernetes\n  service: audit"),
    ]);
    expect(pack.matchSingleEvent(auditDoc())).toEqual(["k8s"]);
    expect(pack.matchSingleEvent(meshDoc({ kubernetes: { audit: { verb: "create" } } }))).toEqual([]);
  });

  it("reads several rules from one multi-document file", () => {
    const pack = packOf([`${BASE}\n---\n${BURST}`]);
    expect(pack.rules.map((rule) => rule.name).sort()).toEqual(["base_denied", "burst"]);
  });
});

describe("rejected packs", () => {
  const cases: [string, string[], RegExp][] = [
    [
      "a rule without a title",
      [BASE.replace("title: Test rule\n", "")],
      /test\/rule0\.yml, rule 'base_denied', key 'title'/,
    ],
    ["an unknown level", [BASE.replace("level: high", "level: urgent")], /key 'level'/],
    [
      "a detection without condition",
      [ruleYaml("sel:\n  url.path: /x")],
      /key 'detection': detection needs a 'condition'/,
    ],
    [
      "a duplicate name",
      [BASE, BASE.replace("id: base_denied-id", "id: other")],
      /rule 'base_denied', key 'name': name already used by test\/rule0\.yml/,
    ],
    [
      "a duplicate id",
      [BASE, BASE.replace("name: base_denied", "name: other")],
      /key 'id': id 'base_denied-id' already used/,
    ],
    [
      "a correlation on an unknown rule",
      [BURST],
      /test\/rule0\.yml, rule 'burst', key 'correlation\.rules\.0': no single-event rule named 'base_denied'/,
    ],
    [
      "a correlation on a correlation",
      [
        BASE,
        BURST,
        BURST.replace("id: burst-id\nname: burst", "id: b2\nname: burst2").replace(
          "[base_denied]",
          "[burst]",
        ),
      ],
      /chaining correlations is not supported/,
    ],
    [
      "a bad timespan",
      [BASE, BURST.replace("timespan: 1m", "timespan: 1 minute")],
      /key 'correlation\.timespan': '1 minute' is not a duration/,
    ],
    [
      "an unknown correlation type",
      [BASE, BURST.replace("event_count", "median")],
      /key 'correlation\.type'/,
    ],
    [
      "a value_count without field",
      [BASE, BURST.replace("event_count", "value_count")],
      /value_count needs condition\.field/,
    ],
    [
      "a failure_ratio without failures",
      [BASE, BURST.replace("event_count", "failure_ratio")],
      /failure_ratio needs 'failures'/,
    ],
    [
      "a percentile without percentile",
      [
        BASE,
        BURST.replace("event_count", "percentile").replace(
          "timespan: 1m",
          "timespan: 1m\n  field: event.duration",
        ),
      ],
      /percentile needs 'percentile'/,
    ],
    [
      "an unknown correlation key",
      [BASE, BURST.replace("timespan: 1m", "timespan: 1m\n  window: 5")],
      /key 'correlation'/,
    ],
    ["invalid YAML", ["title: [unclosed"], /test\/rule0\.yml: invalid YAML at line 1/],
    [
      "a multi-document file without names",
      [`${BASE.replace("name: base_denied\n", "")}\n---\n${BURST}`],
      /every rule of a multi-document file needs a 'name'/,
    ],
  ];
  for (const [label, texts, message] of cases) {
    it(`rejects ${label} with file, rule and key`, () => {
      expect(() => packOf(texts)).toThrowError(RuleError);
      expect(() => packOf(texts)).toThrowError(message);
    });
  }
});

describe("per-environment overrides", () => {
  it("change thresholds, timespans, suppression and level of a correlation", () => {
    const pack = packOf([BASE, BURST], undefined, {
      rules: {
        burst: { condition: { gte: 10 }, timespan: "5m", suppression: "30m", level: "critical", minCount: 4 },
      },
    });
    const rule = pack.get("burst");
    expect(
      rule?.kind === "correlation" && [
        rule.condition,
        rule.timespanMs,
        rule.suppression.ms,
        rule.level,
        rule.minCount,
      ],
    ).toEqual([{ gte: 10 }, 300_000, 1_800_000, "critical", 4]);
  });

  it("accept JSON text and replace placeholder values", () => {
    const rule = ruleYaml(
      "sel:\n  mesh.source.trust_domain|expand: '%domains%'\ncondition: not sel",
      "",
      "foreign",
    );
    const pack = packOf(
      [rule],
      "domains: [cluster.local]",
      JSON.stringify({ placeholders: { domains: ["prod.example.com"] } }),
    );
    expect(pack.matchSingleEvent(meshDoc())).toEqual(["foreign"]);
    expect(
      pack.matchSingleEvent(meshDoc({ mesh: { source: { trust_domain: "prod.example.com" } } })),
    ).toEqual([]);
  });

  it("disable rules, and refuse to disable a rule a correlation still needs", () => {
    expect(
      packOf([BASE, BURST], undefined, { rules: { burst: { enabled: false } } }).rules.map((r) => r.name),
    ).toEqual(["base_denied"]);
    expect(() =>
      packOf([BASE, BURST], undefined, { rules: { base_denied: { enabled: false } } }),
    ).toThrowError(/'base_denied' is disabled by AUDIT_TRAIL_RULE_OVERRIDES: disable this correlation too/);
  });

  const invalid: [string, unknown, RegExp][] = [
    ["unparsable JSON", "{not json", /AUDIT_TRAIL_RULE_OVERRIDES.*not valid JSON/],
    ["an unknown top-level key", { thresholds: {} }, /key 'AUDIT_TRAIL_RULE_OVERRIDES'/],
    [
      "an unknown rule key",
      { rules: { burst: { threshold: 3 } } },
      /key 'AUDIT_TRAIL_RULE_OVERRIDES\.rules\.burst'/,
    ],
    [
      "a condition without bounds",
      { rules: { burst: { condition: {} } } },
      /AUDIT_TRAIL_RULE_OVERRIDES\.rules\.burst\.condition/,
    ],
    [
      "a placeholder that is not a list",
      { placeholders: { domains: "cluster.local" } },
      /AUDIT_TRAIL_RULE_OVERRIDES\.placeholders\.domains/,
    ],
  ];
  for (const [label, overrides, message] of invalid) {
    it(`rejects ${label}, naming the key`, () => {
      expect(() => parseRuleOverrides(overrides)).toThrowError(message);
    });
  }

  it("set the suppression of a single-event rule, naming the key of a bad duration", () => {
    const pack = packOf([BASE], undefined, { rules: { base_denied: { suppression: "30m", level: "low" } } });
    expect([pack.get("base_denied")?.suppression.ms, pack.get("base_denied")?.level]).toEqual([
      1_800_000,
      "low",
    ]);
    expect(() => packOf([BASE], undefined, { rules: { base_denied: { suppression: "soon" } } })).toThrowError(
      /key 'AUDIT_TRAIL_RULE_OVERRIDES\.rules\.base_denied\.suppression': 'soon' is not a duration/,
    );
  });

  it("rejects an override for a rule that does not exist or does not take it", () => {
    expect(() => packOf([BASE, BURST], undefined, { rules: { brust: { enabled: false } } })).toThrowError(
      /key 'AUDIT_TRAIL_RULE_OVERRIDES\.rules\.brust': no rule named 'brust'/,
    );
    expect(() =>
      packOf([BASE, BURST], undefined, { rules: { base_denied: { timespan: "5m" } } }),
    ).toThrowError(/'timespan' applies to correlation rules only/);
  });
});

const SILENT = `title: Silent source
id: silent-id
name: silent
level: high
topic: ops
silence:
  group-by: [orchestrator.cluster.name, event.dataset]
  timespan: 15m
  exclude-rules: [base_denied]
`;

describe("silence rules in a pack", () => {
  it("compiles a silence rule with its defaults and the environment's expected sources and timespan", () => {
    const pack = packOf([BASE, SILENT], undefined, {
      rules: { silent: { timespan: "20m", expected: [{ "orchestrator.cluster.name": "prod" }] } },
    });
    expect(pack.get("silent")).toMatchObject({
      kind: "silence",
      topic: "ops",
      groupBy: ["orchestrator.cluster.name", "event.dataset"],
      timespanMs: 1_200_000,
      lookbackMs: 86_400_000,
      suppression: { ms: 1_200_000 },
      expected: [{ "orchestrator.cluster.name": "prod" }],
      excludeRules: ["base_denied"],
    });
  });

  it("rejects what a silence rule cannot mean, naming the rule and key", () => {
    expect(() => packOf([SILENT])).toThrowError(
      /silent.*silence\.exclude-rules\.0.*no single-event rule named 'base_denied'/,
    );
    expect(() =>
      packOf([BASE, SILENT.replace("timespan: 15m", "timespan: 15m\n  lookback: 10m")]),
    ).toThrowError(/silence\.lookback.*must be longer than the timespan/);
    expect(() =>
      packOf([BASE, SILENT], undefined, { rules: { silent: { expected: [{ "user.name": "x" }] } } }),
    ).toThrowError(/silence\.expected\.0.*names user\.name: give values for the group-by fields/);
    expect(() =>
      packOf([BASE, SILENT], undefined, { rules: { base_denied: { expected: [{ "event.dataset": "x" }] } } }),
    ).toThrowError(/'expected' applies to silence rules only/);
    expect(() =>
      packOf([BASE, SILENT], undefined, { rules: { silent: { condition: { gte: 1 } } } }),
    ).toThrowError(/'condition' applies to correlation rules only/);
  });
});

describe("loading from directories", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "rules-"));
    await mkdir(join(dir, "extra"));
    await writeFile(
      join(dir, "extra", "plain.yml"),
      ruleYaml("sel:\n  mesh.mtls: false\ncondition: sel", "", "extra_plain"),
    );
    await writeFile(join(dir, "extra", "plain.tests.yml"), "fires: []\n");
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("loads the default pack plus extra directories and skips test files", async () => {
    const pack = await loadRulePack(["rules", join(dir, "extra")]);
    expect(pack.get("extra_plain")?.kind).toBe("single");
    expect(pack.get("k8s_pod_exec")?.kind).toBe("single");
  });

  it("fails on a directory that does not exist", async () => {
    await expect(loadRulePack([join(dir, "missing")])).rejects.toThrowError(/rule directory not found/);
  });
});
