/**
 * The Sigma `condition` language: selection names, `and`, `or`, `not`, parentheses, `1 of name*`, `N of name*`,
 * `all of name*`, `1 of them`, `all of them` (names starting with `_` are left out of `them`). Precedence:
 * `not` binds tightest, then `and`, then `or`. Keywords are case-insensitive.
 */
import { commonRequirements, type DocPredicate, requirementsOf, withRequirements } from "./item-match.js";
import { allOf, anyOfPredicates, specialize } from "./specialize.js";

export type ConditionNode =
  | { readonly type: "ref"; readonly name: string; readonly position: number }
  | { readonly type: "not"; readonly operand: ConditionNode }
  | { readonly type: "and" | "or"; readonly operands: readonly ConditionNode[] }
  | {
      readonly type: "of";
      readonly quantity: number | "all";
      readonly pattern: string;
      /** Where the pattern starts in the condition (0-based), for errors. */
      readonly position: number;
    };

/**
 * Thrown with the offending position (0-based; the message counts columns from 1, as editors do); the compiler wraps
 * it in a `RuleError` naming file, rule and the condition.
 */
export class ConditionSyntaxError extends Error {
  constructor(
    readonly reason: string,
    readonly position: number,
  ) {
    super(`${reason} at column ${position + 1}`);
  }
}

interface Token {
  readonly text: string;
  readonly position: number;
}

function tokenize(condition: string): Token[] {
  const tokens: Token[] = [];
  const pattern = /\s*([()]|[^\s()]+)/y;
  pattern.lastIndex = 0;
  while (pattern.lastIndex < condition.length) {
    const start = pattern.lastIndex;
    const match = pattern.exec(condition);
    if (match === null) {
      if (condition.slice(start).trim() === "") break;
      throw new ConditionSyntaxError("unexpected character", start);
    }
    const text = match[1] as string;
    tokens.push({ text, position: match.index + match[0].length - text.length });
  }
  return tokens;
}

/** Parses a condition into a tree. Throws `ConditionSyntaxError` on bad syntax. */
export function parseCondition(condition: string): ConditionNode {
  const tokens = tokenize(condition);
  let index = 0;
  const peek = (): string | undefined => tokens[index]?.text.toLowerCase();
  const position = (): number => tokens[index]?.position ?? condition.length;

  function parseOr(): ConditionNode {
    const operands = [parseAnd()];
    while (peek() === "or") {
      index++;
      operands.push(parseAnd());
    }
    return operands.length === 1 ? (operands[0] as ConditionNode) : { type: "or", operands };
  }
  function parseAnd(): ConditionNode {
    const operands = [parseNot()];
    while (peek() === "and") {
      index++;
      operands.push(parseNot());
    }
    return operands.length === 1 ? (operands[0] as ConditionNode) : { type: "and", operands };
  }
  function parseNot(): ConditionNode {
    if (peek() === "not") {
      index++;
      return { type: "not", operand: parseNot() };
    }
    return parsePrimary();
  }
  function parsePrimary(): ConditionNode {
    const token = tokens[index];
    if (token === undefined) throw new ConditionSyntaxError("unexpected end of condition", condition.length);
    const lower = token.text.toLowerCase();
    if (lower === "(") {
      index++;
      const inner = parseOr();
      if (peek() !== ")") throw new ConditionSyntaxError("missing ')'", position());
      index++;
      return inner;
    }
    if (tokens[index + 1]?.text.toLowerCase() === "of") {
      let quantity: number | "all";
      if (lower === "all") quantity = "all";
      else if (lower === "any") quantity = 1;
      else if (/^[1-9]\d*$/.test(lower)) quantity = Number(lower);
      else
        throw new ConditionSyntaxError(`'${token.text} of' needs a number, 'any' or 'all'`, token.position);
      index += 2;
      const target = tokens[index];
      if (target === undefined || target.text === "(" || target.text === ")") {
        throw new ConditionSyntaxError("'of' needs a selection pattern or 'them'", position());
      }
      index++;
      return { type: "of", quantity, pattern: target.text, position: target.position };
    }
    if (["and", "or", "of", ")", "|"].includes(lower) || lower.startsWith("|")) {
      throw new ConditionSyntaxError(
        lower.startsWith("|")
          ? "aggregations ('| count()') are not supported: write a correlation rule"
          : `unexpected '${token.text}'`,
        token.position,
      );
    }
    index++;
    return { type: "ref", name: token.text, position: token.position };
  }

  const tree = parseOr();
  if (index < tokens.length) {
    const token = tokens[index] as Token;
    throw new ConditionSyntaxError(
      token.text.startsWith("|")
        ? "aggregations ('| count()') are not supported: write a correlation rule"
        : `unexpected '${token.text}'`,
      token.position,
    );
  }
  return tree;
}

/** Names of selections a pattern (`sel*`, `them`) covers, in declaration order. */
export function selectionsMatching(pattern: string, names: readonly string[]): string[] {
  if (pattern.toLowerCase() === "them") return names.filter((name) => !name.startsWith("_"));
  if (!pattern.includes("*")) return names.filter((name) => name === pattern);
  const regex = new RegExp(
    `^${pattern
      .split("*")
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*")}$`,
  );
  return names.filter((name) => regex.test(name));
}

/**
 * Compiles a condition tree into one predicate over the compiled selections. Throws `ConditionSyntaxError` for
 * a reference to a selection that does not exist or a pattern that covers none.
 */
export function compileCondition(
  tree: ConditionNode,
  selections: ReadonlyMap<string, DocPredicate>,
): DocPredicate {
  const names = [...selections.keys()];
  const build = (node: ConditionNode): DocPredicate => {
    switch (node.type) {
      case "ref": {
        const predicate = selections.get(node.name);
        if (predicate === undefined) {
          throw new ConditionSyntaxError(
            `unknown selection '${node.name}' (defined: ${names.join(", ")})`,
            node.position,
          );
        }
        return predicate;
      }
      case "not": {
        const operand = build(node.operand);
        return specialize<DocPredicate>("(doc) => !operand(doc)", { operand });
      }
      case "and":
        return all(node.operands.map(build));
      case "or":
        return any(node.operands.map(build));
      case "of": {
        const covered = selectionsMatching(node.pattern, names).map(
          (name) => selections.get(name) as DocPredicate,
        );
        if (covered.length === 0) {
          throw new ConditionSyntaxError(
            `'${node.pattern}' matches no selection (defined: ${names.join(", ")})`,
            node.position,
          );
        }
        if (node.quantity === "all") return all(covered);
        if (node.quantity === 1) return any(covered);
        const needed = node.quantity;
        const counted = specialize<DocPredicate>(
          `(doc) => {
            let count = 0;
            for (const predicate of covered) {
              if (predicate(doc) && ++count >= needed) return true;
            }
            return false;
          }`,
          { covered, needed },
        );
        return withRequirements(counted, commonRequirements(covered.map(requirementsOf)));
      }
    }
  };
  return build(tree);
}

/** Every operand holds: every operand's requirements hold. */
function all(predicates: readonly DocPredicate[]): DocPredicate {
  return withRequirements(allOf(predicates), predicates.flatMap(requirementsOf));
}

/** One operand (or N) holds: what all operands require holds. */
function any(predicates: readonly DocPredicate[]): DocPredicate {
  return withRequirements(anyOfPredicates(predicates), commonRequirements(predicates.map(requirementsOf)));
}
