/**
 * Links in alerts: the runbook, and OpenSearch Dashboards Discover opened on the documents behind the alert
 * (the rule's tag, the group values, the window).
 */
import { AUDIT_INDEX_PATTERN } from "../contracts.js";

/** Index pattern saved-object id Discover opens unless the context says otherwise. */
export const DEFAULT_INDEX_PATTERN_ID = AUDIT_INDEX_PATTERN;

/** Appends a repository-relative path to a base URL, with exactly one slash between them. */
export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, "")}/${path.replace(/^\/+/, "")}`;
}

export interface DiscoverQuery {
  readonly dashboardsUrl: string;
  readonly indexPatternId: string;
  /** Single-event rule, or the correlation's referenced rules (documents tagged with any of them). */
  readonly ruleNames: readonly string[];
  /** Field path → value, all required. */
  readonly filters: Readonly<Record<string, string>>;
  readonly from: string;
  readonly to: string;
}

/** KQL for the alert's documents: `rule.name:("a" or "b") and source.ip:"1.2.3.4"`. */
export function discoverKql(ruleNames: readonly string[], filters: Readonly<Record<string, string>>): string {
  const clauses: string[] = [];
  if (ruleNames.length === 1) clauses.push(`rule.name:${kqlString(ruleNames[0] as string)}`);
  else if (ruleNames.length > 1) clauses.push(`rule.name:(${ruleNames.map(kqlString).join(" or ")})`);
  for (const field of Object.keys(filters).sort()) {
    clauses.push(`${field}:${kqlString(filters[field] as string)}`);
  }
  return clauses.join(" and ");
}

/**
 * A Discover (Data Explorer, OpenSearch Dashboards 2.10+) URL with the time range and the KQL query in its
 * rison-encoded `_g`/`_q`/`_a` state.
 */
export function discoverUrl(query: DiscoverQuery): string {
  const kql = discoverKql(query.ruleNames, query.filters);
  const g = `(filters:!(),refreshInterval:(pause:!t,value:0),time:(from:${rison(query.from)},to:${rison(query.to)}))`;
  const q = `(filters:!(),query:(language:kuery,query:${rison(kql)}))`;
  const a = `(discover:(columns:!(_source),isDirty:!f,sort:!()),metadata:(indexPattern:${rison(query.indexPatternId)},view:discover))`;
  return `${joinUrl(query.dashboardsUrl, "app/data-explorer/discover")}#?_a=${encode(a)}&_g=${encode(g)}&_q=${encode(q)}`;
}

function kqlString(value: string): string {
  return `"${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

/** A rison string literal: single-quoted, `!` and `'` escaped with `!`. */
function rison(value: string): string {
  return `'${value.replaceAll("!", "!!").replaceAll("'", "!'")}'`;
}

/** URL-encodes a rison value but keeps its structural characters readable. */
function encode(value: string): string {
  return encodeURIComponent(value).replaceAll("%3A", ":").replaceAll("%2C", ",");
}
