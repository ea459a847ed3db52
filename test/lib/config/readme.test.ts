import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { environmentConfigSchema } from "../../../lib/config/index.js";
import { REPO_ROOT } from "../fixtures.js";

interface SchemaNode {
  readonly def?: {
    readonly type?: string;
    readonly innerType?: SchemaNode;
    readonly in?: SchemaNode;
    readonly options?: readonly SchemaNode[];
    readonly element?: SchemaNode;
  };
  readonly shape?: Readonly<Record<string, SchemaNode>>;
}

function unwrap(node: SchemaNode): SchemaNode {
  let current = node;
  for (;;) {
    const type = current.def?.type;
    if ((type === "optional" || type === "default" || type === "nullable") && current.def?.innerType) {
      current = current.def.innerType;
    } else if (type === "pipe" && current.def?.in) {
      current = current.def.in;
    } else {
      return current;
    }
  }
}

/** Dotted config keys down to `depth` levels (array elements and union members included). */
function keysOf(node: SchemaNode, prefix: string, depth: number): string[] {
  const current = unwrap(node);
  const type = current.def?.type;
  if (type === "object" && current.shape) {
    return Object.entries(current.shape).flatMap(([key, child]) => {
      const path = prefix === "" ? key : `${prefix}.${key}`;
      return [path, ...(depth > 1 ? keysOf(child, path, depth - 1) : [])];
    });
  }
  if (type === "union")
    return (current.def?.options ?? []).flatMap((option) => keysOf(option, prefix, depth));
  if (type === "array" && current.def?.element) return keysOf(current.def.element, prefix, depth);
  return [];
}

describe("config reference", () => {
  it("documents every config key (two levels deep) in lib/config/README.md", () => {
    // Prepare
    const rows = readFileSync(join(REPO_ROOT, "lib", "config", "README.md"), "utf8")
      .split("\n")
      .filter((line) => line.startsWith("| `"));
    const keys = [...new Set(keysOf(environmentConfigSchema as unknown as SchemaNode, "", 2))];

    // Act
    const undocumented = keys.filter((key) => {
      const [top, ...rest] = key.split(".");
      const last = rest.at(-1);
      return !rows.some((row) => {
        const cell = row.split("|")[1] ?? "";
        const mentionsTop = new RegExp(`\`${top}(\\b|\\[|\\.|\`)`).test(cell);
        return mentionsTop && (last === undefined || new RegExp(`\\b${last}\\b`).test(row));
      });
    });

    // Assess
    expect(keys.length).toBeGreaterThan(50);
    expect(undocumented).toEqual([]);
  });
});
