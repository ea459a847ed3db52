/**
 * Rule tests: every rule ships `<name>.tests.yml` next to it with events that must fire it and events that must
 * not (format in docs/rules.md). Used by `audit-trail rules test` and by `npm test` (test/rules).
 *
 * ```yaml
 * rule: mesh_auth_failure_burst        # default: the file name without .tests.yml
 * overrides: { placeholders: {…} }     # optional, RuleOverrides applied to the pack for this file
 * defaults: { ecs: { version: 8.17.0 } }  # optional, deep-merged under every event
 * fires:
 *   - description: three 403s for one identity within a minute
 *     expect: { count: 3, groupBy: { mesh.source.principal: spiffe://… } }   # optional
 *     events:
 *       - { "@timestamp": …, … }                                # an ECS document
 *       - { repeat: 20, every: 1s, event: {…}, vary: { url.path: "/item/{i}" } }   # 20 generated documents
 * not_fires:
 *   - description: …
 *     events: [ … ]
 * ```
 * Single-event rules: every event of a `fires` case must match and no event of a `not_fires` case may. Correlations:
 * the case's events, as one stream, must (or must not) produce a detection.
 */
import { readFile } from "node:fs/promises";
import { basename, relative } from "node:path";
import { parse } from "yaml";
import * as z from "zod";
import type { EcsDocument } from "../ecs.js";
import { errorMessage } from "../errors.js";
import { sharedPackagedGeoIp } from "../geo/packaged.js";
import { parseDuration } from "./duration.js";
import { RuleError } from "./errors.js";
import { StreamEvaluator } from "./evaluator.js";
import { listFiles, readRuleSources, TESTS_SUFFIX } from "./load.js";
import { buildRulePack } from "./pack.js";
import { zodToRuleError } from "./schema.js";
import { mergeDetections } from "./suppression.js";
import type { Detection, RulePack } from "./types.js";

const repeatSchema = z
  .object({
    repeat: z.number().int().positive().max(10_000),
    every: z.string().default("1s"),
    event: z.record(z.string(), z.unknown()),
    vary: z.record(z.string(), z.string()).default({}),
  })
  .strict();

const caseSchema = z
  .object({
    description: z.string().min(1),
    events: z.array(z.record(z.string(), z.unknown())).min(1),
    expect: z
      .object({
        count: z.number().int().optional(),
        value: z.number().optional(),
        groupBy: z.record(z.string(), z.string()).optional(),
        detections: z.number().int().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export const ruleTestFileSchema = z
  .object({
    rule: z.string().optional(),
    overrides: z.unknown().optional(),
    defaults: z.record(z.string(), z.unknown()).default({}),
    fires: z.array(caseSchema).default([]),
    not_fires: z.array(caseSchema).default([]),
  })
  .strict()
  .refine((file) => file.fires.length > 0 && file.not_fires.length > 0, {
    message: "a rule test needs at least one 'fires' case and one 'not_fires' case",
  });

export type RuleTestFile = z.infer<typeof ruleTestFileSchema>;

export interface RuleTestResult {
  readonly file: string;
  readonly rule: string;
  readonly expectation: "fires" | "not_fires";
  readonly description: string;
  readonly passed: boolean;
  /** Why it failed (empty when passed). */
  readonly message: string;
}

export interface RuleTestReport {
  readonly results: readonly RuleTestResult[];
  /** Rules of the pack that generate alerts and have no test file. */
  readonly untested: readonly string[];
}

/** Deep merge: `over` wins; objects merge; arrays and scalars replace. */
export function deepMerge(
  base: Record<string, unknown>,
  over: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const existing = out[key];
    out[key] = isPlainObject(existing) && isPlainObject(value) ? deepMerge(existing, value) : value;
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const segments = path.split(".");
  let node = target;
  for (const segment of segments.slice(0, -1)) {
    const next = node[segment];
    if (!isPlainObject(next)) node[segment] = {};
    node = node[segment] as Record<string, unknown>;
  }
  node[segments[segments.length - 1] as string] = value;
}

/** Expands a case's events: defaults merged under each, `repeat` items generated. */
export function expandEvents(
  events: readonly Record<string, unknown>[],
  defaults: Record<string, unknown>,
  location: { file: string; rule: string; key: string },
): EcsDocument[] {
  const out: EcsDocument[] = [];
  events.forEach((item, index) => {
    if ("repeat" in item) {
      const parsed = repeatSchema.safeParse(item);
      if (!parsed.success)
        throw zodToRuleError(parsed.error, {
          file: location.file,
          rule: location.rule,
          prefix: `${location.key}.${index}`,
        });
      const { repeat, every, event, vary } = parsed.data;
      const step = parseDuration(every, { ...location, key: `${location.key}.${index}.every` });
      const base = deepMerge(defaults, event);
      const start = Date.parse(String(base["@timestamp"]));
      if (Number.isNaN(start))
        throw new RuleError("a repeated event needs an ISO @timestamp", {
          ...location,
          key: `${location.key}.${index}.event`,
        });
      for (let i = 0; i < repeat; i++) {
        const doc = structuredClone(base);
        doc["@timestamp"] = new Date(start + i * step).toISOString();
        for (const [path, template] of Object.entries(vary))
          setPath(doc, path, template.replaceAll("{i}", String(i)));
        out.push(doc as unknown as EcsDocument);
      }
      return;
    }
    out.push(deepMerge(defaults, item) as unknown as EcsDocument);
  });
  return out;
}

/** Runs the cases of one test file against a pack. */
export function runRuleTestFile(file: string, test: RuleTestFile, pack: RulePack): RuleTestResult[] {
  const name = test.rule ?? basename(file).slice(0, -TESTS_SUFFIX.length);
  const rule = pack.get(name);
  const results: RuleTestResult[] = [];
  const cases = [
    ...test.fires.map((item, index) => ({ item, expectation: "fires" as const, index })),
    ...test.not_fires.map((item, index) => ({ item, expectation: "not_fires" as const, index })),
  ];
  for (const { item, expectation, index } of cases) {
    const result = (passed: boolean, message = ""): RuleTestResult => ({
      file,
      rule: name,
      expectation,
      description: item.description,
      passed,
      message,
    });
    if (rule === undefined) {
      results.push(result(false, `no rule named '${name}' in the pack`));
      continue;
    }
    let events: EcsDocument[];
    try {
      events = expandEvents(item.events, test.defaults, {
        file,
        rule: name,
        key: `${expectation}.${index}.events`,
      });
    } catch (error) {
      results.push(result(false, errorMessage(error)));
      continue;
    }
    if (rule.kind === "single") {
      const matching = events.map((event) => rule.matches(event));
      if (expectation === "fires") {
        const missed = matching.indexOf(false);
        results.push(missed < 0 ? result(true) : result(false, `event ${missed + 1} does not match`));
      } else {
        const hit = matching.indexOf(true);
        results.push(hit < 0 ? result(true) : result(false, `event ${hit + 1} matches`));
      }
      if (expectation === "not_fires" || item.expect === undefined) continue;
    }
    const detections = evaluate(pack, events).filter((detection) => detection.rule.name === name);
    if (rule.kind === "single") {
      const problem = checkExpect(detections, item.expect);
      if (problem !== undefined) results[results.length - 1] = result(false, problem);
      continue;
    }
    if (expectation === "not_fires") {
      results.push(
        detections.length === 0
          ? result(true)
          : result(
              false,
              `fired ${detections.length} time(s), first ${describe(detections[0] as Detection)}`,
            ),
      );
      continue;
    }
    if (detections.length === 0) {
      results.push(result(false, "did not fire"));
      continue;
    }
    const problem = checkExpect(detections, item.expect);
    results.push(problem === undefined ? result(true) : result(false, problem));
  }
  return results;
}

/** Evaluates a pack over a small list of events (any order): all windows close at the end. */
export function evaluate(pack: RulePack, events: readonly EcsDocument[]): Detection[] {
  const evaluator = new StreamEvaluator(pack, {
    allowedLatenessMs: Number.POSITIVE_INFINITY,
    geo: sharedPackagedGeoIp(),
  });
  const detections: Detection[] = [];
  for (const event of events) detections.push(...evaluator.push(event));
  detections.push(...evaluator.finish());
  return mergeDetections(detections);
}

function describe(detection: Detection): string {
  return `window ${detection.windowStart}..${detection.windowEnd} group ${JSON.stringify(detection.groupBy)} count ${detection.count}${
    detection.value === undefined ? "" : ` value ${detection.value}`
  }`;
}

function checkExpect(
  detections: readonly Detection[],
  expect: z.infer<typeof caseSchema>["expect"],
): string | undefined {
  if (expect === undefined) return undefined;
  if (expect.detections !== undefined && detections.length !== expect.detections) {
    return `expected ${expect.detections} detection(s), got ${detections.length}`;
  }
  const first = detections[0];
  if (first === undefined) return "did not fire";
  if (expect.count !== undefined && first.count !== expect.count)
    return `expected count ${expect.count}, got ${describe(first)}`;
  if (
    expect.value !== undefined &&
    (first.value === undefined || Math.abs(first.value - expect.value) > 1e-9)
  ) {
    return `expected value ${expect.value}, got ${describe(first)}`;
  }
  if (expect.groupBy !== undefined) {
    for (const [key, value] of Object.entries(expect.groupBy)) {
      if (first.groupBy[key] !== value) return `expected group ${key}=${value}, got ${describe(first)}`;
    }
  }
  return undefined;
}

/** Parses and validates a test file's text. */
export function parseRuleTestFile(file: string, text: string): RuleTestFile {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (error) {
    throw new RuleError(
      `invalid YAML: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`,
      { file },
    );
  }
  const parsed = ruleTestFileSchema.safeParse(raw);
  if (!parsed.success) throw zodToRuleError(parsed.error, { file });
  return parsed.data;
}

/**
 * Runs every `*.tests.yml` under `dirs` against the pack built from the same directories (with each file's own
 * `overrides` when it has some). A test file that cannot be read or parsed is a failed result, not a crash.
 */
export async function runRuleTests(dirs: readonly string[]): Promise<RuleTestReport> {
  const sources = readRuleSources(dirs);
  const basePack = buildRulePack(sources.rules, sources.placeholders);
  const results: RuleTestResult[] = [];
  const tested = new Set<string>();
  for (const dir of dirs) {
    for (const path of listFiles(dir).filter((file) => file.endsWith(TESTS_SUFFIX))) {
      const file = relative(process.cwd(), path) || path;
      const fallback = basename(path).slice(0, -TESTS_SUFFIX.length);
      let test: RuleTestFile;
      let pack = basePack;
      try {
        test = parseRuleTestFile(file, await readFile(path, "utf8"));
        if (test.overrides !== undefined)
          pack = buildRulePack(sources.rules, sources.placeholders, test.overrides);
      } catch (error) {
        results.push({
          file,
          rule: fallback,
          expectation: "fires",
          description: "test file",
          passed: false,
          message: errorMessage(error),
        });
        continue;
      }
      tested.add(test.rule ?? fallback);
      results.push(...runRuleTestFile(file, test, pack));
    }
  }
  const untested = basePack.rules
    .filter((rule) => rule.generatesAlerts && !tested.has(rule.name))
    .map((rule) => rule.name);
  return { results, untested };
}
