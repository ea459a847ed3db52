/**
 * The Fluent Bit examples (`examples/fluent-bit`) as data, and a small model of what their pipeline does to a line
 * a container or a node writes: the tail input that reads the file and the tag it gives, the docker/CRI parsers,
 * the grep, kubernetes and modify filters in their configured order, and the `kinesis_firehose` output's
 * serialization (FORMATS.md §6 of the shared corpus: the record as JSON, the time key spliced in, a newline, base64).
 * The model is driven by the parsed configuration, so a change to the examples changes what the tests ship; a
 * plugin or option the model does not know fails loudly instead of being ignored.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import type { FirehoseInputEvent } from "../../lambdas/core/firehose/transform.js";

export const EXAMPLES_DIR = fileURLToPath(new URL("../../examples/", import.meta.url));

/** A plugin's properties in file order, keys lower-cased (Fluent Bit's keys are case-insensitive). */
export type Properties = ReadonlyArray<readonly [key: string, value: string]>;

export interface PluginSection {
  readonly name: string;
  readonly properties: Properties;
  /** File and section, for messages. */
  readonly where: string;
}

export interface FluentBitPipeline {
  readonly service: Properties;
  readonly inputs: readonly PluginSection[];
  readonly filters: readonly PluginSection[];
  readonly outputs: readonly PluginSection[];
}

/** The single value of `key`, `undefined` when absent; a repeated key is an error. */
export function property(
  section: { properties: Properties; where?: string },
  key: string,
): string | undefined {
  const values = section.properties.filter(([k]) => k === key).map(([, v]) => v);
  if (values.length > 1)
    throw new Error(`${section.where ?? "service"}: "${key}" is set ${values.length} times`);
  return values[0];
}

function requiredProperty(section: PluginSection, key: string): string {
  const value = property(section, key);
  if (value === undefined) throw new Error(`${section.where}: "${key}" is not set`);
  return value;
}

/** A property value as Fluent Bit reads it: booleans in one spelling, numbers and strings as text. */
export function normalizeValue(value: unknown, where: string): string {
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") return String(value);
  if (typeof value !== "string") throw new Error(`${where}: expected a scalar, got ${JSON.stringify(value)}`);
  const text = value.trim();
  const lower = text.toLowerCase();
  if (lower === "on" || lower === "true" || lower === "yes") return "true";
  if (lower === "off" || lower === "false" || lower === "no") return "false";
  return text;
}

/** Fluent Bit's classic format: `[SECTION]` headers, then `key value` lines; `#` comments. */
export function parseClassicConfig(text: string, file: string): FluentBitPipeline {
  const sections: { header: string; properties: [string, string][]; where: string }[] = [];
  for (const [index, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    const where = `${file}:${index + 1}`;
    if (line === "" || line.startsWith("#")) continue;
    const header = /^\[([A-Za-z]+)\]$/.exec(line);
    if (header) {
      sections.push({ header: (header[1] as string).toUpperCase(), properties: [], where });
      continue;
    }
    const current = sections.at(-1);
    if (current === undefined) throw new Error(`${where}: property outside a section: ${line}`);
    const property = /^(\S+)\s+(.+)$/.exec(line);
    if (!property) throw new Error(`${where}: expected "key value", got ${JSON.stringify(line)}`);
    const key = (property[1] as string).toLowerCase();
    current.properties.push([key, normalizeValue(property[2], `${where} (${key})`)]);
  }
  const of = (header: string) => sections.filter((s) => s.header === header);
  const unknown = sections.find((s) => !["SERVICE", "INPUT", "FILTER", "OUTPUT"].includes(s.header));
  if (unknown) throw new Error(`${unknown.where}: unknown section [${unknown.header}]`);
  const service = of("SERVICE");
  if (service.length !== 1)
    throw new Error(`${file}: expected one [SERVICE] section, found ${service.length}`);
  const plugins = (header: string): PluginSection[] =>
    of(header).map((s) => {
      const name = s.properties.find(([k]) => k === "name")?.[1];
      if (name === undefined) throw new Error(`${s.where}: [${header}] without a name`);
      return { name, properties: s.properties, where: `${s.where} [${header}] ${name}` };
    });
  return {
    service: (service[0] as { properties: [string, string][] }).properties,
    inputs: plugins("INPUT"),
    filters: plugins("FILTER"),
    outputs: plugins("OUTPUT"),
  };
}

/** Fluent Bit's YAML format: `service:` and `pipeline: { inputs, filters, outputs }`, each plugin a map. */
export function pipelineFromYaml(document: unknown, file: string): FluentBitPipeline {
  const root = asMap(document, file);
  const pipeline = asMap(root.pipeline, `${file}: pipeline`);
  const entries = (map: Record<string, unknown>, where: string): [string, string][] =>
    Object.entries(map).map(([k, v]) => [k.toLowerCase(), normalizeValue(v, `${where} (${k})`)]);
  const plugins = (kind: "inputs" | "filters" | "outputs"): PluginSection[] => {
    const list = pipeline[kind];
    if (!Array.isArray(list)) throw new Error(`${file}: pipeline.${kind} is not a list`);
    return list.map((item, i) => {
      const where = `${file}: pipeline.${kind}[${i}]`;
      const properties = entries(asMap(item, where), where);
      const name = properties.find(([k]) => k === "name")?.[1];
      if (name === undefined) throw new Error(`${where}: no name`);
      return { name, properties, where: `${where} ${name}` };
    });
  };
  return {
    service: entries(asMap(root.service, `${file}: service`), `${file}: service`),
    inputs: plugins("inputs"),
    filters: plugins("filters"),
    outputs: plugins("outputs"),
  };
}

export function asMap(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error(`${where}: expected a map, got ${JSON.stringify(value)}`);
  }
  return value as Record<string, unknown>;
}

export function readExample(relativePath: string): string {
  return readFileSync(`${EXAMPLES_DIR}${relativePath}`, "utf8");
}

export interface FluentBitExamples {
  /** `fluent-bit.yaml`, the plain configuration. */
  readonly plain: FluentBitPipeline;
  /** The pipeline the Helm chart renders from `values.yaml` (`config.service` + inputs + filters + outputs). */
  readonly helm: FluentBitPipeline;
  readonly helmValues: Record<string, unknown>;
}

export function loadFluentBitExamples(): FluentBitExamples {
  const plain = pipelineFromYaml(
    parse(readExample("fluent-bit/fluent-bit.yaml")),
    "fluent-bit/fluent-bit.yaml",
  );
  const helmValues = asMap(parse(readExample("fluent-bit/values.yaml")), "fluent-bit/values.yaml");
  const config = asMap(helmValues.config, "fluent-bit/values.yaml: config");
  const rendered = (["service", "inputs", "filters", "outputs"] as const)
    .map((key) => {
      const text = config[key];
      if (typeof text !== "string") throw new Error(`fluent-bit/values.yaml: config.${key} is not a string`);
      return text;
    })
    .join("\n");
  return { plain, helm: parseClassicConfig(rendered, "fluent-bit/values.yaml config"), helmValues };
}

/** `${NAME}` references resolved from `env`; an unset variable is an error naming it. */
export function substituteEnv(value: string, env: Readonly<Record<string, string>>, where: string): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
    const resolved = env[name];
    if (resolved === undefined) throw new Error(`${where}: environment variable ${name} is not set`);
    return resolved;
  });
}

/** Every `${NAME}` the pipeline references. */
export function referencedEnv(pipeline: FluentBitPipeline): string[] {
  const names = new Set<string>();
  const all = [
    pipeline.service,
    ...[...pipeline.inputs, ...pipeline.filters, ...pipeline.outputs].map((s) => s.properties),
  ];
  for (const properties of all) {
    for (const [, value] of properties)
      for (const m of value.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)) names.add(m[1] as string);
  }
  return [...names].sort();
}

/** A pattern whose only special character is `*`, standing for `star`, as an anchored regular expression. */
function wildcard(pattern: string, star: string): RegExp {
  const body = pattern
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
    .join(star);
  return new RegExp(`^${body}$`);
}

/** A tail `path` glob (one of the comma-separated patterns) as a regular expression over a file path. */
export function globToRegExp(glob: string): RegExp {
  return wildcard(glob, "[^/]*");
}

/** The tag tail gives a file: `*` in the tag pattern becomes the path with `/` turned into `.`. */
export function tagFor(tagPattern: string, path: string): string {
  return tagPattern.includes("*")
    ? tagPattern.replace("*", path.replace(/^\//, "").replaceAll("/", "."))
    : tagPattern;
}

/** Whether a plugin's `match` (wildcards) or `match_regex` selects `tag`. */
export function matchesTag(section: PluginSection, tag: string): boolean {
  const regex = property(section, "match_regex");
  const match = property(section, "match");
  if (regex !== undefined && match !== undefined)
    throw new Error(`${section.where}: both match and match_regex`);
  if (regex !== undefined) return new RegExp(regex).test(tag);
  if (match === undefined) throw new Error(`${section.where}: neither match nor match_regex`);
  return wildcard(match, ".*").test(tag);
}

/** The tail input that reads `path`, or `undefined` when none does. */
export function inputFor(pipeline: FluentBitPipeline, path: string): PluginSection | undefined {
  return pipeline.inputs.find(
    (input) =>
      input.name === "tail" &&
      requiredProperty(input, "path")
        .split(",")
        .some((glob) => globToRegExp(glob.trim()).test(path)),
  );
}

/** Sizes as Fluent Bit writes them: `512k`, `2M`, `1G`, or bytes. */
export function parseSize(text: string, where: string): number {
  const m = /^(\d+)([kKmMgG]?)[bB]?$/.exec(text);
  if (!m) throw new Error(`${where}: not a size: ${JSON.stringify(text)}`);
  const unit = (m[2] as string).toLowerCase();
  return Number(m[1]) * (unit === "k" ? 1024 : unit === "m" ? 1024 ** 2 : unit === "g" ? 1024 ** 3 : 1);
}

/** What the kubernetes filter would learn from the API server about one pod. */
export interface PodMetadata {
  readonly pod_id: string;
  readonly host: string;
  readonly pod_ip: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly container_image: string;
  readonly container_hash: string;
}

export interface PipelineRun {
  /** The Fluent Bit process environment (`${NAME}` references). */
  readonly env: Readonly<Record<string, string>>;
  /** Pods by `namespace/name`, for the kubernetes filter. @default - none */
  readonly pods?: Readonly<Record<string, PodMetadata>>;
  /** When the node reads the lines (the record time when the parser gives none). */
  readonly readAt: Date;
}

export type LineOutcome =
  | { outcome: "shipped"; tag: string; record: Record<string, unknown>; data: string; bytes: number }
  | { outcome: "filtered"; tag: string; by: string }
  | { outcome: "skipped"; reason: string };

/** Fluent Bit's `kubernetes` filter default tag layout: `<pod>_<namespace>_<container>-<container id>.log`. */
const CONTAINER_FILE =
  /^(?<pod>[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*)_(?<namespace>[^_]+)_(?<container>.+)-(?<id>[a-z0-9]{64})\.log$/;
const CRI_LINE = /^(?<time>.+?) (?<stream>stdout|stderr) (?<p>F|P) (?<log>.*)$/;

/** The lines of one file (container log or node file) through the pipeline; one outcome per complete record. */
export function shipFile(
  pipeline: FluentBitPipeline,
  path: string,
  lines: readonly string[],
  run: PipelineRun,
): LineOutcome[] {
  const input = inputFor(pipeline, path);
  if (input === undefined) throw new Error(`no tail input of the pipeline reads ${path}`);
  const tag = tagFor(requiredProperty(input, "tag"), path);
  const maxLine = parseSize(property(input, "buffer_max_size") ?? "32k", `${input.where} buffer_max_size`);
  const records: (Record<string, unknown> | { skipped: string })[] = [];
  let partial: Record<string, unknown> | undefined;
  for (const line of lines) {
    if (Buffer.byteLength(line) + 1 > maxLine) {
      if (property(input, "skip_long_lines") !== "true")
        throw new Error(`${input.where}: a long line stops the file`);
      records.push({
        skipped: `line of ${Buffer.byteLength(line)} bytes is over buffer_max_size ${maxLine}`,
      });
      continue;
    }
    const record = parseLine(input, line);
    if (record._p === "P") {
      partial = partial === undefined ? record : { ...partial, log: `${partial.log}${record.log}` };
      continue;
    }
    records.push(
      partial === undefined ? record : { ...partial, ...record, log: `${partial.log}${record.log}` },
    );
    partial = undefined;
  }
  return records.map((record): LineOutcome => {
    if ("skipped" in record && typeof record.skipped === "string")
      return { outcome: "skipped", reason: record.skipped };
    return shipRecord(pipeline, tag, record, timeOf(record, run.readAt), run);
  });
}

/** One record already carrying `tag` (e.g. a kubernetes-filter fixture), through the filters and the output. */
export function shipRecord(
  pipeline: FluentBitPipeline,
  tag: string,
  record: Record<string, unknown>,
  time: Date,
  run: PipelineRun,
  options: { fromFilter?: number } = {},
): LineOutcome {
  let current = record;
  for (const filter of pipeline.filters.slice(options.fromFilter ?? 0)) {
    if (!matchesTag(filter, tag)) continue;
    const alias = property(filter, "alias") ?? filter.name;
    switch (filter.name) {
      case "grep":
        if (!grepKeeps(filter, current)) return { outcome: "filtered", tag, by: alias };
        break;
      case "kubernetes":
        current = withKubernetesMetadata(filter, tag, current, run);
        break;
      case "modify":
        current = modified(filter, current, run);
        break;
      default:
        throw new Error(`${filter.where}: the pipeline model does not know filter ${filter.name}`);
    }
  }
  const output = pipeline.outputs.find((o) => matchesTag(o, tag));
  if (output === undefined) throw new Error(`no output matches tag ${tag}`);
  const serialized = serializeForFirehose(current, time, output);
  if ("discarded" in serialized) return { outcome: "skipped", reason: serialized.discarded };
  return { outcome: "shipped", tag, record: current, ...serialized };
}

function parseLine(input: PluginSection, line: string): Record<string, unknown> {
  const parsers = (property(input, "multiline.parser") ?? "").split(",").map((p) => p.trim());
  if (parsers.length === 1 && parsers[0] === "") {
    if (property(input, "parser") !== undefined)
      throw new Error(`${input.where}: the model does not know parser`);
    return { log: line };
  }
  for (const parser of parsers) {
    if (parser === "docker" && line.startsWith("{")) {
      const parsed: unknown = JSON.parse(line);
      if (
        typeof parsed === "object" &&
        parsed !== null &&
        typeof (parsed as { log?: unknown }).log === "string"
      )
        return parsed as Record<string, unknown>;
    } else if (parser === "cri") {
      const m = CRI_LINE.exec(line);
      if (m?.groups)
        return { time: m.groups.time, stream: m.groups.stream, _p: m.groups.p, log: m.groups.log };
    } else if (parser !== "docker") {
      throw new Error(`${input.where}: the model does not know multiline parser ${parser}`);
    }
  }
  // Neither parser matched: Fluent Bit keeps the raw line under `log`.
  return { log: line };
}

function timeOf(record: Record<string, unknown>, readAt: Date): Date {
  const time = typeof record.time === "string" ? new Date(record.time) : undefined;
  return time !== undefined && !Number.isNaN(time.getTime()) ? time : readAt;
}

/** `regex KEY REGEX` keeps matching records, `exclude KEY REGEX` drops them; a missing key never matches. */
export function grepKeeps(filter: PluginSection, record: Record<string, unknown>): boolean {
  if (property(filter, "logical_op") !== undefined)
    throw new Error(`${filter.where}: logical_op is not modelled`);
  for (const [key, rule] of filter.properties) {
    if (key !== "regex" && key !== "exclude") continue;
    const space = rule.indexOf(" ");
    if (space <= 0)
      throw new Error(`${filter.where}: ${key} must be "KEY REGEX", got ${JSON.stringify(rule)}`);
    const value = record[rule.slice(0, space)];
    const matches = typeof value === "string" && new RegExp(rule.slice(space + 1).trim()).test(value);
    if (key === "regex" && !matches) return false;
    if (key === "exclude" && matches) return false;
  }
  return true;
}

function withKubernetesMetadata(
  filter: PluginSection,
  tag: string,
  record: Record<string, unknown>,
  run: PipelineRun,
): Record<string, unknown> {
  if (property(filter, "merge_log") === "true") throw new Error(`${filter.where}: merge_log is not modelled`);
  const prefix = property(filter, "kube_tag_prefix") ?? "kube.var.log.containers.";
  if (!tag.startsWith(prefix)) throw new Error(`${filter.where}: tag ${tag} does not start with ${prefix}`);
  const file = CONTAINER_FILE.exec(tag.slice(prefix.length))?.groups;
  if (file === undefined) throw new Error(`${filter.where}: tag ${tag} is not a container log file`);
  const pod = run.pods?.[`${file.namespace}/${file.pod}`];
  if (pod === undefined) throw new Error(`no metadata for pod ${file.namespace}/${file.pod}`);
  const kubernetes: Record<string, unknown> = {
    pod_name: file.pod,
    namespace_name: file.namespace,
    pod_id: pod.pod_id,
  };
  if (property(filter, "labels") !== "false" && Object.keys(pod.labels).length > 0)
    kubernetes.labels = pod.labels;
  if (property(filter, "annotations") !== "false" && pod.annotations !== undefined)
    kubernetes.annotations = pod.annotations;
  Object.assign(kubernetes, {
    host: pod.host,
    pod_ip: pod.pod_ip,
    container_name: file.container,
    docker_id: file.id,
    container_hash: pod.container_hash,
    container_image: pod.container_image,
  });
  return { ...record, kubernetes };
}

function modified(
  filter: PluginSection,
  record: Record<string, unknown>,
  run: PipelineRun,
): Record<string, unknown> {
  const out = { ...record };
  for (const [key, rule] of filter.properties) {
    if (["name", "alias", "match", "match_regex"].includes(key)) continue;
    if (key !== "add" && key !== "set") throw new Error(`${filter.where}: modify ${key} is not modelled`);
    const space = rule.indexOf(" ");
    if (space <= 0)
      throw new Error(`${filter.where}: ${key} must be "KEY VALUE", got ${JSON.stringify(rule)}`);
    const field = rule.slice(0, space);
    const value = substituteEnv(rule.slice(space + 1).trim(), run.env, `${filter.where} ${key}`);
    if (key === "set" || !(field in out)) out[field] = value;
  }
  return out;
}

/** `MAX_EVENT_SIZE` of the kinesis_firehose output: a record and its newline; larger ones are discarded. */
export const FIREHOSE_MAX_RECORD_BYTES = 1_024_000;

/**
 * One record as the `kinesis_firehose` output puts it on the wire (FORMATS.md §6): JSON (non-ASCII escaped, as
 * `json_escape_unicode` does), the time key spliced before the closing brace, a newline, base64.
 */
export function serializeForFirehose(
  record: Record<string, unknown>,
  time: Date,
  output: PluginSection,
): { data: string; bytes: number } | { discarded: string } {
  for (const option of ["log_key", "compression", "simple_aggregation"]) {
    if (property(output, option) !== undefined) throw new Error(`${output.where}: ${option} is not modelled`);
  }
  let json = JSON.stringify(record).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  if (json.length <= 2) return { discarded: "empty record" };
  const timeKey = property(output, "time_key");
  if (timeKey !== undefined) {
    const formatted = strftimeUtc(property(output, "time_key_format") ?? "%Y-%m-%dT%H:%M:%S", time);
    json = `${json.slice(0, -1)},"${timeKey}":"${formatted}"}`;
  }
  const line = `${json}\n`;
  const bytes = Buffer.byteLength(line);
  if (bytes > FIREHOSE_MAX_RECORD_BYTES) {
    return { discarded: `record of ${bytes} bytes is over Firehose's ${FIREHOSE_MAX_RECORD_BYTES}` };
  }
  return { data: Buffer.from(line, "utf8").toString("base64"), bytes };
}

/** The strftime subset time_key_format uses, in UTC, with Fluent Bit's `%3N`/`%9N`/`%L` fractions. */
export function strftimeUtc(format: string, time: Date): string {
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  const ms = pad(time.getUTCMilliseconds(), 3);
  const tokens: Record<string, string> = {
    Y: pad(time.getUTCFullYear(), 4),
    m: pad(time.getUTCMonth() + 1),
    d: pad(time.getUTCDate()),
    H: pad(time.getUTCHours()),
    M: pad(time.getUTCMinutes()),
    S: pad(time.getUTCSeconds()),
    "3N": ms,
    "9N": `${ms}000000`,
    L: `${ms}000000`,
    "%": "%",
  };
  return format.replace(/%(3N|9N|.)/g, (token, name: string) => {
    const value = tokens[name];
    if (value === undefined) throw new Error(`time_key_format token ${token} is not modelled`);
    return value;
  });
}

/** A Firehose transformation event holding the shipped records, in order, with ids `r0`, `r1`, … */
export function firehoseEvent(shipped: readonly { data: string }[], arrival: Date): FirehoseInputEvent {
  return {
    invocationId: "shipping-test",
    deliveryStreamArn: "arn:aws:firehose:eu-west-1:123456789012:deliverystream/audit-trail-test",
    records: shipped.map((s, i) => ({
      recordId: `r${i}`,
      approximateArrivalTimestamp: arrival.getTime(),
      data: s.data,
    })),
  };
}

/** The shipped outcomes only, failing with the reason when a line did not ship. */
export function shippedOnly(
  outcomes: readonly LineOutcome[],
): Extract<LineOutcome, { outcome: "shipped" }>[] {
  return outcomes.map((o, i) => {
    if (o.outcome !== "shipped") throw new Error(`line ${i + 1} was not shipped: ${JSON.stringify(o)}`);
    return o;
  });
}
