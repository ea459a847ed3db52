/**
 * Field mapping helpers shared by the index templates. Only field types of the OpenSearch core server are used
 * (keyword, text, ip, date, long, double, boolean, object, flat_object): the templates must work on any OpenSearch
 * 2.x, including a distribution without the analysis-common, mapper-extras or painless modules. So no
 * `match_only_text`, `wildcard`, `scaled_float` or custom analyzer.
 */

export type FieldMapping = Readonly<Record<string, unknown>>;
export type Properties = Readonly<Record<string, FieldMapping>>;

/** ECS keywords use `ignore_above: 1024`: a longer value stays in `_source` but is not indexed. */
export const keyword: FieldMapping = { type: "keyword", ignore_above: 1024 };
/** A keyword that also gets a full-text sub-field (ECS does this for `url.original`, `user_agent.original`). */
export const keywordWithText: FieldMapping = { ...keyword, fields: { text: { type: "text" } } };
/** Free text with a keyword sub-field for aggregations (ECS `message`-like fields). */
export const textWithKeyword: FieldMapping = { type: "text", fields: { keyword } };
export const long: FieldMapping = { type: "long" };
export const double: FieldMapping = { type: "double" };
export const bool: FieldMapping = { type: "boolean" };
export const ip: FieldMapping = { type: "ip" };
/** ISO 8601 with any fraction (Kubernetes writes microseconds), or epoch milliseconds. */
export const date: FieldMapping = { type: "date", format: "strict_date_optional_time||epoch_millis" };
/** Kept in `_source`, never parsed or indexed: arbitrary JSON that must not grow the mapping. */
export const storedOnly: FieldMapping = { type: "object", enabled: false };
/**
 * A string-to-string map with user-chosen keys (Kubernetes labels, annotations): one field in the mapping however
 * many keys arrive, each key still searchable as `field.key` (keyword semantics). `flat_object` is in the core
 * server since OpenSearch 2.7.
 */
export const openMap: FieldMapping = { type: "flat_object" };

export function object(properties: Properties): FieldMapping {
  return { properties };
}
