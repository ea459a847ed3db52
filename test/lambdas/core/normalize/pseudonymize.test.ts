import { isIP } from "node:net";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { EcsDocument } from "../../../../lambdas/core/ecs.js";
import {
  createPseudonymizer,
  PseudonymizationConfigError,
} from "../../../../lambdas/core/normalize/pseudonymize.js";

const KEY = "k".repeat(32);

function doc(): EcsDocument {
  return {
    "@timestamp": "2024-01-01T00:00:00.000Z",
    ecs: { version: "8.17.0" },
    event: {
      kind: "event",
      category: ["web"],
      type: ["access"],
      dataset: "istio.access",
      original: "raw 203.0.113.7 dave",
    },
    source: { ip: "203.0.113.7", port: 1 },
    user: { name: "dave", group: { name: ["ops", "dev"] } },
    related: { ip: ["203.0.113.7", "10.0.0.1"], user: ["dave"] },
  };
}

describe("createPseudonymizer", () => {
  it("replaces listed fields with keyed, stable tokens, and their copies in related.*", () => {
    const p = createPseudonymizer(KEY, ["source.ip", "user.name", "user.group.name", "absent.field"]);
    const d = doc();
    const replaced = p.apply(d);
    expect(replaced).toEqual(["source.ip", "user.name", "user.group.name"]);
    expect(isIP(d.source?.ip ?? "")).toBe(6);
    expect(d.user?.name).toMatch(/^hmac:[0-9a-f]{32}$/);
    expect(d.user?.group?.name).toEqual([p.token("ops"), p.token("dev")]);
    expect(d.related).toEqual({ ip: [d.source?.ip, "10.0.0.1"], user: [d.user?.name] });
    expect(d.labels).toEqual({ pseudonymized: "source.ip,user.name,user.group.name" });
    expect(d.event).not.toHaveProperty("original");
    expect(d.source?.port).toBe(1);
  });

  it("replaces a value inside a longer string only where it stands as a whole word, never in the pipeline's own fields", () => {
    const p = createPseudonymizer(KEY, ["source.ip", "user.name"]);
    const d = doc();
    d.url = { original: "/debug?peer=203.0.113.7&other=203.0.113.70&who=dave&d=daves" };
    p.apply(d);
    expect(d.url.original).toBe(
      `/debug?peer=${d.source?.ip}&other=203.0.113.70&who=${p.token("dave")}&d=daves`,
    );
    expect(d.event.dataset).toBe("istio.access");
  });

  it("gives the same token for the same value and key, and a different one for another key", () => {
    const a = createPseudonymizer(KEY, ["user.name"]);
    const b = createPseudonymizer("z".repeat(32), ["user.name"]);
    expect(a.token("dave")).toBe(createPseudonymizer(KEY, ["user.name"]).token("dave"));
    expect(a.token("dave")).not.toBe(b.token("dave"));
  });

  it("leaves a document without the listed fields untouched", () => {
    const d = doc();
    expect(createPseudonymizer(KEY, ["destination.ip"]).apply(d)).toEqual([]);
    expect(d).toEqual(doc());
  });

  it("rejects a short key and a malformed field path", () => {
    expect(() => createPseudonymizer("short", ["user.name"])).toThrow(PseudonymizationConfigError);
    expect(() => createPseudonymizer(KEY, ["user..name"])).toThrow(/not a dotted field path/);
  });

  it("maps every IP to a valid IPv6 and every other string to an hmac token", () => {
    const p = createPseudonymizer(KEY, []);
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6(), fc.string()), (value) => {
        const t = p.token(value);
        if (isIP(value) !== 0) expect(isIP(t)).toBe(6);
        else expect(t).toMatch(/^hmac:[0-9a-f]{32}$/);
      }),
    );
  });
});
