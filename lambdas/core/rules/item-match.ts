/**
 * Single-event matching: how one Sigma detection item (`field|modifier|…: value(s)`, or a keyword) matches a
 * document, decided once per item and kept as a predicate. `compile.ts` builds whole rules from these predicates
 * (and `condition.ts` combines them); the gates that skip rules unevaluated (`FieldRequirement`) live here too.
 *
 * Matching follows the Sigma specification: string comparison is case-insensitive unless `|cased`; `*` and `?` are
 * wildcards (`\*`, `\?`, `\\` escape them); a list of values is OR (AND with `|all`); `null` matches an absent
 * field; a number matches the number or its decimal string; a field holding an array matches when any element
 * does.
 */
import type { EcsDocument } from "../ecs.js";
import { errorMessage } from "../errors.js";
import { RuleError } from "./errors.js";
import type { FieldAccessor, FieldMapping, LeafPredicate } from "./fields.js";
import { type CidrBlock, ipInBlocks, parseCidr } from "./ip.js";
import { allOf, anyOfPredicates, specialize } from "./specialize.js";

export type DocPredicate = (doc: EcsDocument) => boolean;

/** Placeholder values: a list, or (keyed placeholders) a record from key to list, `*` for every key. */
export type PlaceholderValue = readonly string[] | Readonly<Record<string, readonly string[]>>;
export type Placeholders = Readonly<Record<string, PlaceholderValue>>;

export interface ItemContext {
  readonly file: string;
  readonly rule: string;
  readonly mapping: FieldMapping;
  readonly placeholders: Placeholders;
}

const MATCH_MODIFIERS = new Set([
  "contains",
  "startswith",
  "endswith",
  "re",
  "cidr",
  "exists",
  "gt",
  "gte",
  "lt",
  "lte",
]);
const TRANSFORM_MODIFIERS = new Set(["expand", "windash", "base64"]);
const FLAG_MODIFIERS = new Set(["all", "cased", "i", "m", "s"]);

type Scalar = string | number | boolean | null;

/** Compiles `key: value` of a selection map. `key` is `field|mod|mod…`. */
export function compileItem(key: string, raw: unknown, context: ItemContext): DocPredicate {
  const location = { file: context.file, rule: context.rule, key };
  const [field, ...modifiers] = key.split("|");
  if (field === undefined || field === "")
    throw new RuleError("a detection key needs a field name", location);
  let match: string | undefined;
  const transforms: string[] = [];
  const flags = new Set<string>();
  for (const modifier of modifiers) {
    if (MATCH_MODIFIERS.has(modifier)) {
      if (match !== undefined) {
        throw new RuleError(`modifiers '${match}' and '${modifier}' cannot be combined`, location);
      }
      match = modifier;
    } else if (TRANSFORM_MODIFIERS.has(modifier)) {
      transforms.push(modifier);
    } else if (FLAG_MODIFIERS.has(modifier)) {
      flags.add(modifier);
    } else {
      throw new RuleError(
        `unknown modifier '${modifier}' (supported: ${[...MATCH_MODIFIERS, ...TRANSFORM_MODIFIERS, ...FLAG_MODIFIERS].join(", ")})`,
        location,
      );
    }
  }
  const { accessor, path } = context.mapping.resolve(field);
  const values = toScalars(raw, location);

  if (match === "exists") {
    if (values.length !== 1 || typeof values[0] !== "boolean") {
      throw new RuleError("'exists' takes true or false", location);
    }
    const wanted = values[0];
    return specialize<DocPredicate>("(doc) => accessor(doc, isPresent) === wanted", {
      accessor,
      isPresent,
      wanted,
    });
  }

  // Keyed placeholder: `%name[field.path]%`, the whole value.
  if (transforms.includes("expand") && values.length === 1 && typeof values[0] === "string") {
    const keyed = /^%([A-Za-z0-9_.-]+)\[([^\]]+)\]%$/.exec(values[0]);
    if (keyed !== null) {
      return compileKeyedPlaceholder(
        keyed[1] as string,
        keyed[2] as string,
        accessor,
        match,
        flags,
        context,
        location,
      );
    }
  }

  let expanded: Scalar[] = values;
  for (const transform of transforms) expanded = applyTransform(transform, expanded, context, location);

  const predicates: LeafPredicate[] = [];
  let hasNull = false;
  for (const value of expanded) {
    if (value === null) {
      hasNull = true;
      continue;
    }
    predicates.push(compileValue(value, match, flags, location));
  }
  if (flags.has("all")) {
    if (hasNull) throw new RuleError("'all' cannot be combined with a null value", location);
    if (predicates.length === 0) return () => false;
    return allOf(predicates.map((predicate) => onField(accessor, predicate)));
  }
  const any = anyOf(predicates);
  if (hasNull) {
    if (any === undefined) {
      return specialize<DocPredicate>("(doc) => !accessor(doc, isPresent)", { accessor, isPresent });
    }
    return specialize<DocPredicate>("(doc) => !accessor(doc, isPresent) || accessor(doc, any)", {
      accessor,
      isPresent,
      any,
    });
  }
  if (any === undefined) return () => false;
  const literals = predicates.map((predicate) => literalPredicates.get(predicate));
  if (literals.some((entry) => entry === undefined)) return onField(accessor, any);
  // Plain equality with strings: a match implies a leaf equal, ignoring case, to one of them.
  const required = new Set(literals.map((entry) => (entry?.lower ?? entry?.literal ?? "").toLowerCase()));
  return withRequirements(onField(accessor, any), [{ key: path, accessor, values: required }]);
}

/** Compiles a keyword (a bare value in a selection list): case-insensitive substring of `event.original`. */
export function compileKeyword(raw: unknown, context: ItemContext, key: string): DocPredicate {
  const location = { file: context.file, rule: context.rule, key };
  const predicates = toScalars(raw, location).map((value) => {
    if (value === null) throw new RuleError("a keyword cannot be null", location);
    return compileValue(value, "contains", new Set(), location);
  });
  const any = anyOf(predicates);
  if (any === undefined) return () => false;
  return (doc) => {
    const original = doc.event?.original;
    return typeof original === "string" && any(original);
  };
}

/**
 * A condition every match of a predicate implies: some leaf of the field (read with `accessor`), in lower case, is
 * one of `values`. The pack reads such a field once per document and skips the rules whose requirement it fails
 * (see `assemble.ts`); a rule's own predicate still decides.
 */
export interface FieldRequirement {
  /** The field's resolved path (equal keys read the same leaves). */
  readonly key: string;
  readonly accessor: FieldAccessor;
  readonly values: ReadonlySet<string>;
}

const requirements = new WeakMap<DocPredicate, readonly FieldRequirement[]>();

/** The requirements known to hold whenever `predicate` does (none when nothing is known). */
export function requirementsOf(predicate: DocPredicate): readonly FieldRequirement[] {
  return requirements.get(predicate) ?? [];
}

/** Records that every match of `predicate` satisfies each of `known`; returns `predicate`. */
export function withRequirements(predicate: DocPredicate, known: readonly FieldRequirement[]): DocPredicate {
  if (known.length > 0) requirements.set(predicate, known);
  return predicate;
}

/** Requirements of `a or b or …`: the fields every alternative requires, with the union of their values. */
export function commonRequirements(
  alternatives: readonly (readonly FieldRequirement[])[],
): FieldRequirement[] {
  const [first, ...rest] = alternatives;
  if (first === undefined) return [];
  const common: FieldRequirement[] = [];
  for (const requirement of first) {
    const values = new Set(requirement.values);
    let everywhere = true;
    for (const other of rest) {
      const same = other.find((candidate) => candidate.key === requirement.key);
      if (same === undefined) {
        everywhere = false;
        break;
      }
      for (const value of same.values) values.add(value);
    }
    if (everywhere) common.push({ ...requirement, values });
  }
  return common;
}

/** `accessor(doc, predicate)` as a predicate of its own, specialized (see `specialize.ts`). */
function onField(accessor: FieldAccessor, predicate: LeafPredicate): DocPredicate {
  return specialize<DocPredicate>("(doc) => accessor(doc, predicate)", { accessor, predicate });
}

function isPresent(): boolean {
  return true;
}

/** Predicates that are one regular expression over the leaf's text, so `anyOf` can merge them into one. */
const regexPredicates = new WeakMap<LeafPredicate, RegExp>();

function regexPredicate(regex: RegExp): LeafPredicate {
  const predicate: LeafPredicate = (leaf) => {
    const text = leafText(leaf);
    return text !== undefined && regex.test(text);
  };
  regexPredicates.set(predicate, regex);
  return predicate;
}

/** Predicates that are CIDR blocks, so `anyOf` can check an address against all of them with one parse. */
const cidrPredicates = new WeakMap<LeafPredicate, readonly CidrBlock[]>();

function cidrPredicate(blocks: readonly CidrBlock[]): LeafPredicate {
  const predicate: LeafPredicate = (leaf) => typeof leaf === "string" && ipInBlocks(leaf, blocks);
  cidrPredicates.set(predicate, blocks);
  return predicate;
}

/**
 * Predicates that are equality with one literal (no wildcard, no modifier): the literal, and its lower case when
 * the comparison ignores case (undefined when it is exact).
 */
const literalPredicates = new WeakMap<
  LeafPredicate,
  { readonly literal: string; readonly lower: string | undefined }
>();

function literalPredicate(
  predicate: LeafPredicate,
  literal: string,
  lower: string | undefined,
): LeafPredicate {
  literalPredicates.set(predicate, { literal, lower });
  return predicate;
}

/** Three or more literals of a list become one set lookup instead of one comparison each. */
const LITERAL_SET_MIN = 3;

function literalSet(predicates: readonly LeafPredicate[]): LeafPredicate {
  const exact = new Set<string>();
  const caseless = new Set<string>();
  for (const predicate of predicates) {
    const entry = literalPredicates.get(predicate);
    if (entry === undefined) continue;
    exact.add(entry.literal);
    if (entry.lower !== undefined) caseless.add(entry.lower);
  }
  if (caseless.size === 0) {
    return (leaf) => {
      const text = leafText(leaf);
      return text !== undefined && exact.has(text);
    };
  }
  return (leaf) => {
    const text = leafText(leaf);
    return text !== undefined && (exact.has(text) || caseless.has(text.toLowerCase()));
  };
}

/**
 * One predicate for a list of alternatives; regular expressions with the same flags become one alternation, CIDR
 * blocks one check (the address is parsed once, not once per block), and literals one set lookup.
 */
function anyOf(given: readonly LeafPredicate[]): LeafPredicate | undefined {
  const blocks = given.flatMap((predicate) => cidrPredicates.get(predicate) ?? []);
  const withCidr =
    given.filter((predicate) => cidrPredicates.has(predicate)).length > 1
      ? [...given.filter((predicate) => !cidrPredicates.has(predicate)), cidrPredicate(blocks)]
      : given;
  const literals = withCidr.filter((predicate) => literalPredicates.has(predicate));
  const input =
    literals.length >= LITERAL_SET_MIN
      ? [...withCidr.filter((predicate) => !literalPredicates.has(predicate)), literalSet(literals)]
      : withCidr;
  let predicates = input;
  const byFlags = new Map<string, RegExp[]>();
  for (const predicate of input) {
    const regex = regexPredicates.get(predicate);
    if (regex !== undefined) byFlags.set(regex.flags, [...(byFlags.get(regex.flags) ?? []), regex]);
  }
  if ([...byFlags.values()].some((list) => list.length > 1)) {
    const merged = [...byFlags.entries()].map(([flags, list]) =>
      list.length === 1
        ? regexPredicate(list[0] as RegExp)
        : regexPredicate(new RegExp(list.map((regex) => `(?:${regex.source})`).join("|"), flags)),
    );
    predicates = [...input.filter((predicate) => !regexPredicates.has(predicate)), ...merged];
  }
  if (predicates.length === 0) return undefined;
  if (predicates.length === 1) return predicates[0];
  return anyOfPredicates(predicates);
}

function toScalars(raw: unknown, location: { file: string; rule: string; key: string }): Scalar[] {
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0)
    throw new RuleError("an empty list of values matches nothing: remove the key", location);
  return list.map((value) => {
    if (value === null || typeof value === "string" || typeof value === "boolean") return value;
    if (typeof value === "number" && Number.isFinite(value)) return value;
    throw new RuleError(
      `values must be strings, numbers, booleans or null, not ${JSON.stringify(value)}`,
      location,
    );
  });
}

function applyTransform(
  transform: string,
  values: Scalar[],
  context: ItemContext,
  location: { file: string; rule: string; key: string },
): Scalar[] {
  const result: Scalar[] = [];
  for (const value of values) {
    if (typeof value !== "string") {
      result.push(value);
      continue;
    }
    if (transform === "expand") result.push(...expandPlaceholders(value, context, location));
    else if (transform === "windash") result.push(...windash(value));
    else result.push(Buffer.from(value, "utf8").toString("base64"));
  }
  return result;
}

/** Replaces every `%name%` with each of the placeholder's values (the cartesian product for several). */
function expandPlaceholders(
  value: string,
  context: ItemContext,
  location: { file: string; rule: string; key: string },
): string[] {
  const match = /%([A-Za-z0-9_.-]+)%/.exec(value);
  if (match === null) return [value];
  const name = match[1] as string;
  const replacement = context.placeholders[name];
  if (replacement === undefined) {
    throw new RuleError(
      `placeholder '%${name}%' has no value: define it in the pack's placeholders.yml or in the overrides' "placeholders"`,
      location,
    );
  }
  if (!Array.isArray(replacement)) {
    throw new RuleError(
      `placeholder '%${name}%' is keyed (a record): use it as '%${name}[field.path]%'`,
      location,
    );
  }
  const head = value.slice(0, match.index);
  const tail = value.slice(match.index + match[0].length);
  const rest = expandPlaceholders(tail, context, location);
  const out: string[] = [];
  for (const item of replacement as readonly string[]) {
    for (const suffix of rest) out.push(`${head}${item}${suffix}`);
  }
  return out;
}

/** `windash`: every `-` or `/` that starts an option also as the other dash-like characters Windows accepts. */
function windash(value: string): string[] {
  const dashes = ["-", "/", "\u2013", "\u2014", "\u2015"];
  const positions: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const char = value[i] as string;
    if ((char === "-" || char === "/") && (i === 0 || value[i - 1] === " ")) positions.push(i);
  }
  if (positions.length === 0) return [value];
  const out = new Set<string>();
  for (const dash of dashes) {
    let variant = value;
    for (const position of positions)
      variant = `${variant.slice(0, position)}${dash}${variant.slice(position + 1)}`;
    out.add(variant);
  }
  return [...out];
}

function compileKeyedPlaceholder(
  name: string,
  keyField: string,
  accessor: FieldAccessor,
  match: string | undefined,
  flags: ReadonlySet<string>,
  context: ItemContext,
  location: { file: string; rule: string; key: string },
): DocPredicate {
  const value = context.placeholders[name];
  if (value === undefined) {
    throw new RuleError(
      `placeholder '%${name}%' has no value: define it in the pack's placeholders.yml or in the overrides' "placeholders"`,
      location,
    );
  }
  const record: Readonly<Record<string, readonly string[]>> = Array.isArray(value)
    ? { "*": value as readonly string[] }
    : (value as Readonly<Record<string, readonly string[]>>);
  const everywhere = (record["*"] ?? []).map((item) => compileValue(item, match, flags, location));
  const byKey = new Map<string, LeafPredicate | undefined>();
  for (const [key, items] of Object.entries(record)) {
    if (key === "*") continue;
    byKey.set(
      key,
      anyOf([...items.map((item) => compileValue(item, match, flags, location)), ...everywhere]),
    );
  }
  const fallback = anyOf(everywhere);
  const keyAccessor = context.mapping.resolve(keyField).accessor;
  return (doc) => {
    let predicate = fallback;
    keyAccessor(doc, (key) => {
      if (typeof key === "string" && byKey.has(key)) {
        predicate = byKey.get(key);
        return true;
      }
      return false;
    });
    return predicate !== undefined && accessor(doc, predicate);
  };
}

/** A pattern: literal text and wildcards. */
type Token = string | typeof ANY | typeof ONE;
const ANY = Symbol("*");
const ONE = Symbol("?");

/** Splits a Sigma string into literals and wildcards, honouring `\*`, `\?` and `\\`. */
export function tokenize(value: string): Token[] {
  const tokens: Token[] = [];
  let literal = "";
  for (let i = 0; i < value.length; i++) {
    const char = value[i] as string;
    if (char === "\\") {
      const next = value[i + 1];
      if (next === "*" || next === "?" || next === "\\") {
        literal += next;
        i++;
      } else {
        literal += char;
      }
    } else if (char === "*" || char === "?") {
      if (literal !== "") tokens.push(literal);
      literal = "";
      tokens.push(char === "*" ? ANY : ONE);
    } else {
      literal += char;
    }
  }
  if (literal !== "") tokens.push(literal);
  return tokens;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

function leafText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return undefined;
}

function toNumber(value: unknown): number {
  if (typeof value === "number") return value;
  if (typeof value === "string" && value.trim() !== "") return Number(value);
  return Number.NaN;
}

function compileValue(
  value: string | number | boolean,
  match: string | undefined,
  flags: ReadonlySet<string>,
  location: { file: string; rule: string; key: string },
): LeafPredicate {
  switch (match) {
    case "gt":
    case "gte":
    case "lt":
    case "lte": {
      const bound = toNumber(value);
      if (typeof value === "boolean" || Number.isNaN(bound)) {
        throw new RuleError(`'${match}' takes a number, not ${JSON.stringify(value)}`, location);
      }
      if (match === "gt") return (leaf) => toNumber(leaf) > bound;
      if (match === "gte") return (leaf) => toNumber(leaf) >= bound;
      if (match === "lt") return (leaf) => toNumber(leaf) < bound;
      return (leaf) => toNumber(leaf) <= bound;
    }
    case "cidr": {
      const block: CidrBlock | undefined = typeof value === "string" ? parseCidr(value) : undefined;
      if (block === undefined) throw new RuleError(`'${String(value)}' is not a CIDR block`, location);
      return cidrPredicate([block]);
    }
    case "re": {
      if (typeof value !== "string") throw new RuleError("'re' takes a regular expression string", location);
      let source = value;
      let regexFlags = "";
      const inline = /^\(\?([imsx]+)\)/.exec(source);
      if (inline !== null) {
        source = source.slice(inline[0].length);
        for (const flag of inline[1] as string)
          if (flag !== "x" && !regexFlags.includes(flag)) regexFlags += flag;
      }
      for (const flag of ["i", "m", "s"])
        if (flags.has(flag) && !regexFlags.includes(flag)) regexFlags += flag;
      let regex: RegExp;
      try {
        regex = new RegExp(source, regexFlags);
      } catch (error) {
        throw new RuleError(`invalid regular expression: ${errorMessage(error)}`, location);
      }
      return regexPredicate(regex);
    }
    default:
      break;
  }
  if (typeof value === "number") {
    if (match !== undefined) return compileString(String(value), match, flags.has("cased"));
    const text = String(value);
    return (leaf) => (typeof leaf === "number" ? leaf === value : typeof leaf === "string" && leaf === text);
  }
  if (typeof value === "boolean") {
    const text = String(value);
    return (leaf) => leaf === value || (typeof leaf === "string" && leaf.toLowerCase() === text);
  }
  return compileString(value, match, flags.has("cased"));
}

/** Compiles a string value for equality, contains, startswith or endswith, with wildcards. */
function compileString(value: string, match: string | undefined, cased: boolean): LeafPredicate {
  const tokens = tokenize(value);
  const wildcards = tokens.some((token) => typeof token !== "string");
  const anchoredStart = match === undefined || match === "startswith";
  const anchoredEnd = match === undefined || match === "endswith";
  if (!wildcards) {
    const literal = tokens.join("");
    const lower = literal.toLowerCase();
    const caseless = cased || lower === literal.toUpperCase();
    if (match === undefined) {
      if (caseless) return literalPredicate((leaf) => leafText(leaf) === literal, literal, undefined);
      return literalPredicate(
        (leaf) => {
          const text = leafText(leaf);
          return (
            text !== undefined &&
            text.length === literal.length &&
            (text === literal || text.toLowerCase() === lower)
          );
        },
        literal,
        lower,
      );
    }
    if (caseless) {
      if (match === "contains") return (leaf) => leafText(leaf)?.includes(literal) === true;
      if (match === "startswith") return (leaf) => leafText(leaf)?.startsWith(literal) === true;
      return (leaf) => leafText(leaf)?.endsWith(literal) === true;
    }
  }
  if (tokens.length === 1 && tokens[0] === ANY) return (leaf) => leafText(leaf) !== undefined;
  // A leading or trailing `*` is the same as no anchor on that side (and cheaper for the regex engine).
  let start = anchoredStart;
  let end = anchoredEnd;
  let body = tokens;
  if (start && body[0] === ANY) {
    start = false;
    body = body.slice(1);
  }
  if (end && body[body.length - 1] === ANY) {
    end = false;
    body = body.slice(0, -1);
  }
  let source = start ? "^" : "";
  for (const token of body) {
    if (token === ANY) source += ".*";
    else if (token === ONE) source += ".";
    else source += escapeRegExp(token);
  }
  if (end) source += "$";
  return regexPredicate(new RegExp(source, cased ? "s" : "is"));
}
