import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ALERTS_INDEX } from "../../../../lambdas/core/contracts.js";
import {
  buildIsmPolicy,
  DAILY_AUDIT_INDEX_PATTERN,
  IsmPolicyError,
  type IsmPolicyOptions,
} from "../../../../lambdas/core/opensearch/ism-policy.js";

interface State {
  name: string;
  actions: Record<string, unknown>[];
  transitions: { state_name: string; conditions: { min_index_age: string } }[];
}

const statesOf = (policy: Record<string, unknown>) => policy.states as State[];
const stateNamed = (policy: Record<string, unknown>, name: string) =>
  statesOf(policy).find((s) => s.name === name);

const production: IsmPolicyOptions = {
  flavor: "aws",
  hot: 7,
  warm: 30,
  cold: 60,
  deleteAfter: 97,
  ultraWarm: true,
  coldStorage: true,
};

/** A glob as ISM reads `index_patterns` (`*` is any run of characters). */
function matches(pattern: string, index: string): boolean {
  const expression = new RegExp(
    `^${pattern
      .split("*")
      .map((part) => part.replace(/[.+?^${}()|[\]\\-]/g, "\\$&"))
      .join(".*")}$`,
  );
  return expression.test(index);
}

describe("buildIsmPolicy", () => {
  it("uses AWS's documented UltraWarm, cold storage and cold delete actions on Amazon OpenSearch Service", () => {
    // Act
    const policy = buildIsmPolicy(production);

    // Assess: shapes from the AWS sample policy "hot to cold storage" (ism.html)
    expect(statesOf(policy).map((state) => state.name)).toEqual(["hot", "warm", "cold", "delete"]);
    expect(stateNamed(policy, "warm")?.actions).toEqual([
      { warm_migration: {}, timeout: "24h", retry: { count: 5, delay: "1h" } },
    ]);
    expect(stateNamed(policy, "cold")?.actions).toEqual([
      { cold_migration: { timestamp_field: "@timestamp" }, retry: { count: 5, delay: "1h" } },
    ]);
    expect(stateNamed(policy, "delete")?.actions).toEqual([{ cold_delete: {} }]);
    expect(policy.default_state).toBe("hot");
  });

  it("moves on at the cumulative ages from the properties", () => {
    // Act
    const policy = buildIsmPolicy(production);

    // Assess
    expect(statesOf(policy).map((state) => state.transitions)).toEqual([
      [{ state_name: "warm", conditions: { min_index_age: "7d" } }],
      [{ state_name: "cold", conditions: { min_index_age: "37d" } }],
      [{ state_name: "delete", conditions: { min_index_age: "97d" } }],
      [],
    ]);
  });

  it("deletes with delete, not cold_delete, when nothing went to cold storage", () => {
    // Act
    const policy = buildIsmPolicy({ ...production, cold: 0, coldStorage: false, deleteAfter: 37 });

    // Assess
    expect(statesOf(policy).map((state) => state.name)).toEqual(["hot", "warm", "delete"]);
    expect(stateNamed(policy, "warm")?.actions[0]).toHaveProperty("warm_migration");
    expect(stateNamed(policy, "delete")?.actions).toEqual([{ delete: {} }]);
  });

  it("makes warm indices read-only on hot nodes when UltraWarm is off", () => {
    // Act
    const policy = buildIsmPolicy({
      ...production,
      ultraWarm: false,
      coldStorage: false,
      cold: 0,
      deleteAfter: 40,
    });

    // Assess
    expect(stateNamed(policy, "warm")?.actions).toEqual([{ read_only: {} }]);
  });

  it("goes straight from hot to delete when there is no warm or cold tier", () => {
    // Act
    const policy = buildIsmPolicy({ ...production, warm: 0, cold: 0, coldStorage: false, deleteAfter: 14 });

    // Assess
    expect(statesOf(policy)).toEqual([
      {
        name: "hot",
        actions: [],
        transitions: [{ state_name: "delete", conditions: { min_index_age: "14d" } }],
      },
      { name: "delete", actions: [{ delete: {} }], transitions: [] },
    ]);
  });

  it("attaches itself to daily audit indices but never to the alerts index", () => {
    // Act
    const policy = buildIsmPolicy(production);

    // Assess
    expect(policy.ism_template).toEqual([{ index_patterns: [DAILY_AUDIT_INDEX_PATTERN], priority: 100 }]);
    expect(matches(DAILY_AUDIT_INDEX_PATTERN, "audit-2026-11-23")).toBe(true);
    expect(matches(DAILY_AUDIT_INDEX_PATTERN, ALERTS_INDEX)).toBe(false);
  });

  it("writes minute ages for tests", () => {
    // Act
    const policy = buildIsmPolicy({ ...production, flavor: "plain", ageUnit: "m" });

    // Assess
    expect(JSON.stringify(policy.states)).toContain('"min_index_age":"7m"');
    expect(JSON.stringify(policy.states)).not.toMatch(/"\d+d"/);
  });

  it("changes its fingerprint when and only when the content changes", () => {
    // Act
    const same = [buildIsmPolicy(production).description, buildIsmPolicy({ ...production }).description];
    const other = buildIsmPolicy({ ...production, deleteAfter: 98 }).description;

    // Assess
    expect(same[0]).toBe(same[1]);
    expect(other).not.toBe(same[0]);
  });

  it.each([
    [{ hot: 0 }, "ISM age hot must be at least 1"],
    [{ warm: -1 }, "ISM age warm must be a non-negative whole number"],
    [{ deleteAfter: 50 }, "below hot + warm + cold (97)"],
    [{ ultraWarm: false }, "cold storage needs UltraWarm"],
    [{ coldStorage: false }, "cold age is 60 but cold storage is off"],
    [{ warm: 0, deleteAfter: 67 }, "warm age must be at least 1"],
  ])("rejects %o", (override, message) => {
    // Act and assess
    expect(() => buildIsmPolicy({ ...production, ...override })).toThrow(IsmPolicyError);
    expect(() => buildIsmPolicy({ ...production, ...override })).toThrow(message);
  });

  it("never uses an AWS-only action in the plain variant, whatever the options", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 0, max: 100 }),
        fc.integer({ min: 0, max: 100 }),
        fc.integer({ min: 0, max: 100 }),
        fc.boolean(),
        fc.boolean(),
        (hot, warm, cold, extra, ultraWarm, coldStorage) => {
          const policy = buildIsmPolicy({
            flavor: "plain",
            hot,
            warm,
            cold,
            deleteAfter: hot + warm + cold + extra,
            ultraWarm,
            coldStorage,
          });
          const text = JSON.stringify(policy.states);
          const names = statesOf(policy).map((state) => state.name);
          return (
            !/warm_migration|cold_migration|cold_delete/.test(text) &&
            names[0] === "hot" &&
            names.at(-1) === "delete" &&
            statesOf(policy).every((state, index, all) =>
              index === all.length - 1 ? state.transitions.length === 0 : state.transitions.length === 1,
            )
          );
        },
      ),
    );
  });
});
