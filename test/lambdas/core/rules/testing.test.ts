import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { expandEvents, runRuleTests } from "../../../../lambdas/core/rules/testing.js";
import { ruleYaml } from "./helpers.js";

const RULE = ruleYaml("sel:\n  http.response.status_code: 403\ncondition: sel", "", "denied");
const BURST = `title: Burst
id: burst-id
name: burst
level: medium
correlation:
  type: event_count
  rules: [denied]
  group-by: [mesh.source.principal]
  timespan: 1m
  condition: { gte: 3 }
`;
const DEFAULTS = `defaults:
  ecs: { version: 8.17.0 }
  event: { kind: event, category: [web], type: [access], dataset: istio.access }
  mesh: { name: istio, source: { principal: spiffe://cluster.local/ns/a/sa/b } }
  http: { response: { status_code: 403 } }
`;

describe("rule tests", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "rule-tests-"));
    await writeFile(join(dir, "denied.yml"), RULE);
    await writeFile(join(dir, "burst.yml"), BURST);
    await writeFile(
      join(dir, "lonely.yml"),
      ruleYaml("sel:\n  url.path: /lonely\ncondition: sel", "", "lonely"),
    );
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("pass when positives fire and negatives do not", async () => {
    // Prepare
    await writeFile(
      join(dir, "burst.tests.yml"),
      `${DEFAULTS}fires:\n  - description: three\n    events:\n      - { repeat: 3, every: 5s, event: { "@timestamp": "2026-03-02T10:00:01Z" } }\nnot_fires:\n  - description: two\n    events:\n      - { repeat: 2, every: 5s, event: { "@timestamp": "2026-03-02T10:00:01Z" } }\n`,
    );
    // Act
    const report = await runRuleTests([dir]);
    // Assess
    expect(report.results.map((r) => [r.rule, r.expectation, r.passed])).toEqual([
      ["burst", "fires", true],
      ["burst", "not_fires", true],
    ]);
    expect(report.untested).toEqual(["lonely"]);
  });

  it("fail, saying why, when a positive does not fire or a negative does", async () => {
    await writeFile(
      join(dir, "burst.tests.yml"),
      `${DEFAULTS}fires:\n  - description: only two\n    events:\n      - { repeat: 2, every: 5s, event: { "@timestamp": "2026-03-02T10:00:01Z" } }\nnot_fires:\n  - description: four\n    events:\n      - { repeat: 4, every: 5s, event: { "@timestamp": "2026-03-02T10:00:01Z" } }\n`,
    );
    await writeFile(
      join(dir, "denied.tests.yml"),
      `${DEFAULTS}fires:\n  - description: a 200\n    events:\n      - { "@timestamp": "2026-03-02T10:00:01Z", http: { response: { status_code: 200 } } }\nnot_fires:\n  - description: a 403\n    events:\n      - { "@timestamp": "2026-03-02T10:00:01Z" }\n`,
    );
    const report = await runRuleTests([dir]);
    expect(report.results.map((r) => [r.rule, r.expectation, r.passed, r.message.split(",")[0]])).toEqual([
      ["burst", "fires", false, "did not fire"],
      ["burst", "not_fires", false, "fired 1 time(s)"],
      ["denied", "fires", false, "event 1 does not match"],
      ["denied", "not_fires", false, "event 1 matches"],
    ]);
  });

  it("report a malformed test file as a failure naming the file and key", async () => {
    await writeFile(
      join(dir, "burst.tests.yml"),
      "fires:\n  - description: x\n    events: []\nnot_fires: []\n",
    );
    const report = await runRuleTests([dir]);
    expect(report.results).toHaveLength(1);
    expect(report.results[0]?.passed).toBe(false);
    expect(report.results[0]?.message).toMatch(/burst\.tests\.yml.*key 'fires\.0\.events'/);
  });

  it("fail a test file whose rule does not exist", async () => {
    await writeFile(
      join(dir, "nothing.tests.yml"),
      `${DEFAULTS}fires:\n  - description: x\n    events: [{}]\nnot_fires:\n  - description: y\n    events: [{}]\n`,
    );
    const report = await runRuleTests([dir]);
    expect(
      report.results.every((r) => !r.passed && r.message === "no rule named 'nothing' in the pack"),
    ).toBe(true);
  });
});

describe("event expansion", () => {
  it("merges defaults under events and generates repeated, varied events", () => {
    const events = expandEvents(
      [
        {
          repeat: 3,
          every: "10s",
          event: { "@timestamp": "2026-03-02T10:00:00Z" },
          vary: { "url.path": "/item/{i}" },
        },
        { url: { path: "/x" } },
      ],
      { "@timestamp": "2026-03-02T09:00:00Z", mesh: { name: "istio" } },
      { file: "f", rule: "r", key: "fires.0.events" },
    );
    expect(events.map((e) => [e["@timestamp"], e.url?.path, e.mesh?.name])).toEqual([
      ["2026-03-02T10:00:00.000Z", "/item/0", "istio"],
      ["2026-03-02T10:00:10.000Z", "/item/1", "istio"],
      ["2026-03-02T10:00:20.000Z", "/item/2", "istio"],
      ["2026-03-02T09:00:00Z", "/x", "istio"],
    ]);
  });
});
