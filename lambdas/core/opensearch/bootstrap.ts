/**
 * `bootstrapDomain`: applies the ingest pipeline that stamps when a document was indexed, the index templates, the
 * alerts index, the ISM policy, the fine-grained-access roles,
 * the security audit configuration (reads of the trail are recorded) and the OpenSearch Dashboards saved objects
 * to an OpenSearch domain through any client with the `@opensearch-project/opensearch` transport shape.
 * Every step is idempotent: templates, roles and mappings are PUTs; the ISM policy is rewritten only when its
 * content changed, with `if_seq_no`/`if_primary_term`; the audit configuration only when it lacks what is needed;
 * the saved objects are imported with `overwrite`. Existing indices and their documents are never touched
 * except to add missing mappings to the alerts index and to attach the policy to unmanaged daily indices. The only
 * DELETE is of the analyst role mapping when no analyst role is configured any more (access, not data).
 */
import { ALERTS_INDEX, INDEXED_AT_PIPELINE, ISM_POLICY_ID } from "../contracts.js";
import { ALERTS_TEMPLATE_NAME, alertsProperties, buildAlertsIndexTemplate } from "./alerts-template.js";
import { AUDIT_TEMPLATE_NAME, buildAuditIndexTemplate, buildIndexedAtPipeline } from "./audit-template.js";
import { buildDashboardsSavedObjects } from "./dashboards/audit-dashboard.js";
import { importFileField, multipartForm, renderSavedObjectsNdjson } from "./dashboards/import-file.js";
import {
  describeImportError,
  type ImportResponse,
  overwriteRetries,
  parseImportResponse,
} from "./dashboards/import-response.js";
import { type AgeUnit, buildIsmPolicy, DAILY_AUDIT_INDEX_PATTERN, type IsmFlavor } from "./ism-policy.js";
import { ANALYST_SECURITY_ROLE, buildSecurityRoles, roleMappingBody } from "./security.js";
import { AuditConfigError, sameAuditConfig, withAuditReadHistory } from "./security-audit.js";
import type { BootstrapSettings } from "./settings.js";

export interface TransportRequest {
  method: "GET" | "PUT" | "POST" | "DELETE" | "HEAD";
  path: string;
  /** An object is sent as JSON; a Buffer as it is, with the `content-type` of `headers`. */
  body?: Record<string, unknown> | Buffer;
  querystring?: Record<string, string | number>;
  /** Extra HTTP headers, passed to the client as request options (SigV4 signs them with the rest). */
  headers?: Readonly<Record<string, string>>;
}

/** The part of `@opensearch-project/opensearch`'s `Client` used here (tests pass a fake). */
export interface OpenSearchTransportClient {
  transport: {
    request(
      params: Omit<TransportRequest, "headers">,
      options?: { headers?: Record<string, string> },
    ): Promise<{ statusCode: number | null; body: unknown }>;
  };
}

/**
 * Where the bootstrap reaches OpenSearch Dashboards: through the same client (same host, same signing), under
 * `basePath`.
 */
export interface DashboardsTarget {
  /** Path of Dashboards on the domain's endpoint. `/_dashboards` on Amazon OpenSearch Service. */
  readonly basePath: string;
  /**
   * Security tenant the saved objects are written to (`securitytenant` header). `global` is shared by every user;
   * without it, multi-tenancy would put them in the bootstrap role's private tenant.
   */
  readonly tenant: string;
}

/** OpenSearch Dashboards of an Amazon OpenSearch Service domain, saved objects in the Global tenant. */
export const AMAZON_OPENSEARCH_DASHBOARDS: DashboardsTarget = { basePath: "/_dashboards", tenant: "global" };

/** Plugins a domain may lack; `bootstrapDomain` tolerates their absence only when told so. */
export type OptionalPlugin = "security" | "ism";

export interface BootstrapOptions {
  /** `aws` on Amazon OpenSearch Service (UltraWarm/cold actions), `plain` elsewhere. @default "aws" */
  readonly ismFlavor?: IsmFlavor;
  /** Unit of the ISM ages. @default "d" */
  readonly ageUnit?: AgeUnit;
  /**
   * Plugins whose absence is skipped instead of failing (a local test node has no security plugin).
   * @default [] - a missing plugin fails the bootstrap
   */
  readonly allowMissingPlugins?: readonly OptionalPlugin[];
  /**
   * Where to import the Dashboards saved objects (index patterns, visualizations, the dashboard).
   * @default - the cluster has no OpenSearch Dashboards: the import is skipped, and reported as a skipped step
   */
  readonly dashboards?: DashboardsTarget;
}

export type StepOutcome = "created" | "updated" | "unchanged" | "applied" | "skipped";

export interface BootstrapStep {
  readonly step: string;
  readonly outcome: StepOutcome;
  readonly detail?: string;
}

export class OpenSearchBootstrapError extends Error {
  constructor(
    readonly step: string,
    readonly statusCode: number | undefined,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(
      `bootstrap step "${step}" failed${statusCode === undefined ? "" : ` (HTTP ${statusCode})`}: ${detail}`,
      options,
    );
    this.name = "OpenSearchBootstrapError";
  }
}

interface Reply {
  readonly status: number;
  readonly body: unknown;
}

export async function bootstrapDomain(
  client: OpenSearchTransportClient,
  settings: BootstrapSettings,
  options: BootstrapOptions = {},
): Promise<BootstrapStep[]> {
  const allowMissing = new Set(options.allowMissingPlugins ?? []);
  const steps: BootstrapStep[] = [];
  // Built first: an impossible lifecycle fails before anything is written.
  const policy = buildIsmPolicy({
    flavor: options.ismFlavor ?? "aws",
    ageUnit: options.ageUnit ?? "d",
    hot: settings.HotDays,
    warm: settings.WarmDays,
    cold: settings.ColdDays,
    deleteAfter: settings.DeleteAfterDays,
    ultraWarm: settings.UltraWarmEnabled,
    coldStorage: settings.ColdStorageEnabled,
  });

  // Before the template that names it: an index created from the template refuses writes until it exists.
  steps.push(
    await putExpectingOk(
      client,
      `ingest pipeline ${INDEXED_AT_PIPELINE}`,
      `/_ingest/pipeline/${INDEXED_AT_PIPELINE}`,
      buildIndexedAtPipeline(),
    ),
  );
  steps.push(
    await putExpectingOk(
      client,
      `index template ${AUDIT_TEMPLATE_NAME}`,
      `/_index_template/${AUDIT_TEMPLATE_NAME}`,
      buildAuditIndexTemplate({
        shardCount: settings.ShardCount,
        replicaCount: settings.ReplicaCount,
        indexEventOriginal: settings.IndexEventOriginal,
        codec: settings.IndexCodec ?? "default",
        sourceExcludes: settings.SourceExcludes ?? [],
      }),
    ),
  );
  steps.push(
    await putExpectingOk(
      client,
      `index template ${ALERTS_TEMPLATE_NAME}`,
      `/_index_template/${ALERTS_TEMPLATE_NAME}`,
      buildAlertsIndexTemplate({ replicaCount: settings.ReplicaCount }),
    ),
  );
  steps.push(await ensureAlertsIndex(client));

  steps.push(...(await applyIsmPolicy(client, policy, allowMissing.has("ism"))));
  steps.push(
    ...(await applySecurity(
      client,
      {
        firehoseRoleArn: settings.FirehoseRoleArn,
        detectorRoleArn: settings.DetectorRoleArn,
        analystRoleArn: settings.AnalystRoleArn,
        ...(settings.ReviewerRoleArn === undefined ? {} : { reviewerRoleArn: settings.ReviewerRoleArn }),
      },
      allowMissing.has("security"),
    )),
  );
  steps.push(
    settings.AuditReadHistory === false
      ? { step: "security audit configuration", outcome: "skipped", detail: "AuditReadHistory is false" }
      : await applyAuditReadHistory(client, allowMissing.has("security")),
  );
  steps.push(...(await importDashboards(client, options.dashboards)));
  return steps;
}

async function send(
  client: OpenSearchTransportClient,
  step: string,
  request: TransportRequest,
): Promise<Reply> {
  const { headers, ...params } = request;
  try {
    const response = await client.transport.request(
      params,
      headers === undefined ? undefined : { headers: { ...headers } },
    );
    return { status: response.statusCode ?? 0, body: response.body };
  } catch (error) {
    // The client throws a ResponseError for 4xx/5xx; its `meta` carries the status and body we decide on.
    const meta = responseMeta(error);
    if (meta !== undefined) return meta;
    throw new OpenSearchBootstrapError(
      step,
      undefined,
      `${request.method} ${request.path}: ${describe(error)}`,
      {
        cause: error,
      },
    );
  }
}

function responseMeta(error: unknown): Reply | undefined {
  if (typeof error !== "object" || error === null || !("meta" in error)) return undefined;
  const meta = (error as { meta: unknown }).meta;
  if (typeof meta !== "object" || meta === null) return undefined;
  const status = (meta as { statusCode?: unknown }).statusCode;
  if (typeof status !== "number") return undefined;
  return { status, body: (meta as { body?: unknown }).body };
}

function describe(value: unknown): string {
  if (value instanceof Error) return value.message;
  if (typeof value === "string") return value;
  return JSON.stringify(value) ?? String(value);
}

function fail(step: string, request: TransportRequest, reply: Reply): never {
  throw new OpenSearchBootstrapError(
    step,
    reply.status,
    `${request.method} ${request.path}: ${describe(reply.body)}`,
  );
}

const ok = (status: number) => status >= 200 && status < 300;

/** OpenSearch answers a route that no installed plugin serves with "no handler found for uri". */
function isMissingHandler(reply: Reply): boolean {
  return (
    (reply.status === 400 || reply.status === 404 || reply.status === 405) &&
    /no handler found/i.test(describe(reply.body))
  );
}

async function putExpectingOk(
  client: OpenSearchTransportClient,
  step: string,
  path: string,
  body: Record<string, unknown>,
): Promise<BootstrapStep> {
  const request: TransportRequest = { method: "PUT", path, body };
  const reply = await send(client, step, request);
  if (!ok(reply.status)) fail(step, request, reply);
  return { step, outcome: "applied" };
}

/**
 * The detector writes alerts without `create_index`: the index is created here (from its template) when missing;
 * when it exists, fields added to the template since are added to its mapping (documents stay).
 */
async function ensureAlertsIndex(client: OpenSearchTransportClient): Promise<BootstrapStep> {
  const step = `index ${ALERTS_INDEX}`;
  const head: TransportRequest = { method: "HEAD", path: `/${ALERTS_INDEX}` };
  const exists = await send(client, step, head);
  if (exists.status === 404) {
    const create: TransportRequest = { method: "PUT", path: `/${ALERTS_INDEX}` };
    const created = await send(client, step, create);
    if (ok(created.status)) return { step, outcome: "created" };
    if (describe(created.body).includes("resource_already_exists_exception"))
      return { step, outcome: "unchanged" };
    fail(step, create, created);
  }
  if (!ok(exists.status)) fail(step, head, exists);
  const mapping: TransportRequest = {
    method: "PUT",
    path: `/${ALERTS_INDEX}/_mapping`,
    body: { properties: alertsProperties() },
  };
  const updated = await send(client, step, mapping);
  if (!ok(updated.status)) fail(step, mapping, updated);
  return { step, outcome: "updated", detail: "existing index kept; missing fields added to its mapping" };
}

async function applyIsmPolicy(
  client: OpenSearchTransportClient,
  policy: Record<string, unknown>,
  allowMissing: boolean,
): Promise<BootstrapStep[]> {
  const step = `ISM policy ${ISM_POLICY_ID}`;
  const path = `/_plugins/_ism/policies/${ISM_POLICY_ID}`;
  const get: TransportRequest = { method: "GET", path };
  const current = await send(client, step, get);
  if (isMissingHandler(current)) {
    if (allowMissing) return [{ step, outcome: "skipped", detail: "index management plugin not installed" }];
    fail(step, get, current);
  }
  let outcome: StepOutcome;
  if (current.status === 404) {
    const create: TransportRequest = { method: "PUT", path, body: { policy } };
    const created = await send(client, step, create);
    if (!ok(created.status)) fail(step, create, created);
    outcome = "created";
  } else if (ok(current.status)) {
    const existing = asRecord(current.body);
    const existingPolicy = asRecord(existing.policy);
    if (existingPolicy.description === policy.description) return [{ step, outcome: "unchanged" }];
    const seqNo = existing._seq_no;
    const primaryTerm = existing._primary_term;
    if (typeof seqNo !== "number" || typeof primaryTerm !== "number") {
      fail(step, get, { status: current.status, body: "response lacks _seq_no/_primary_term" });
    }
    const update: TransportRequest = {
      method: "PUT",
      path,
      querystring: { if_seq_no: seqNo, if_primary_term: primaryTerm },
      body: { policy },
    };
    const updated = await send(client, step, update);
    if (!ok(updated.status)) fail(step, update, updated);
    outcome = "updated";
  } else {
    fail(step, get, current);
  }
  return [{ step, outcome }, ...(await attachPolicy(client, outcome))];
}

/**
 * `ism_template` only catches indices created after the policy. Daily indices that already exist get the policy
 * (`add` skips managed ones); on an update, managed ones switch to the new version (`change_policy`, applied by
 * ISM at the next safe point; no data moves).
 */
async function attachPolicy(
  client: OpenSearchTransportClient,
  outcome: StepOutcome,
): Promise<BootstrapStep[]> {
  const steps: BootstrapStep[] = [];
  const add: TransportRequest = {
    method: "POST",
    path: `/_plugins/_ism/add/${DAILY_AUDIT_INDEX_PATTERN}`,
    body: { policy_id: ISM_POLICY_ID },
  };
  const added = await send(client, "ISM add policy", add);
  if (added.status === 404) {
    // No daily index yet: `ism_template` catches the first one when Firehose creates it.
    steps.push({ step: "ISM add policy", outcome: "unchanged", detail: "no daily index yet" });
    return steps;
  }
  if (!ok(added.status)) fail("ISM add policy", add, added);
  const addedCount = Number(asRecord(added.body).updated_indices ?? 0);
  steps.push({
    step: "ISM add policy",
    outcome: "applied",
    detail: `${addedCount} unmanaged daily indices attached`,
  });
  if (outcome === "updated") {
    const change: TransportRequest = {
      method: "POST",
      path: `/_plugins/_ism/change_policy/${DAILY_AUDIT_INDEX_PATTERN}`,
      body: { policy_id: ISM_POLICY_ID },
    };
    const changed = await send(client, "ISM change policy", change);
    if (!ok(changed.status)) fail("ISM change policy", change, changed);
    const count = Number(asRecord(changed.body).updated_indices ?? 0);
    steps.push({
      step: "ISM change policy",
      outcome: "applied",
      detail: `${count} managed indices switched`,
    });
  }
  return steps;
}

async function applySecurity(
  client: OpenSearchTransportClient,
  options: Parameters<typeof buildSecurityRoles>[0],
  allowMissing: boolean,
): Promise<BootstrapStep[]> {
  const steps: BootstrapStep[] = [];
  for (const role of buildSecurityRoles(options)) {
    const roleStep = `security role ${role.name}`;
    const putRole: TransportRequest = {
      method: "PUT",
      path: `/_plugins/_security/api/roles/${role.name}`,
      body: { ...role.body },
    };
    const roleReply = await send(client, roleStep, putRole);
    if (isMissingHandler(roleReply)) {
      if (allowMissing)
        return [{ step: "security", outcome: "skipped", detail: "security plugin not installed" }];
      fail(roleStep, putRole, roleReply);
    }
    if (!ok(roleReply.status)) fail(roleStep, putRole, roleReply);
    steps.push({ step: roleStep, outcome: "applied" });

    const mappingStep = `role mapping ${role.name}`;
    const putMapping: TransportRequest = {
      method: "PUT",
      path: `/_plugins/_security/api/rolesmapping/${role.name}`,
      body: roleMappingBody(role),
    };
    const mappingReply = await send(client, mappingStep, putMapping);
    if (!ok(mappingReply.status)) fail(mappingStep, putMapping, mappingReply);
    steps.push({ step: mappingStep, outcome: "applied", detail: role.backendRoles.join(", ") });
  }
  if (options.analystRoleArn === undefined || options.analystRoleArn === "") {
    steps.push(await removeAnalystMapping(client));
  }
  return steps;
}

/** An analyst role that was configured and then removed must lose its access: its mapping goes (404 is fine). */
async function removeAnalystMapping(client: OpenSearchTransportClient): Promise<BootstrapStep> {
  const step = `role mapping ${ANALYST_SECURITY_ROLE}`;
  const request: TransportRequest = {
    method: "DELETE",
    path: `/_plugins/_security/api/rolesmapping/${ANALYST_SECURITY_ROLE}`,
  };
  const reply = await send(client, step, request);
  if (reply.status === 404) return { step, outcome: "unchanged", detail: "no analyst role configured" };
  if (!ok(reply.status)) fail(step, request, reply);
  return { step, outcome: "updated", detail: "analyst role no longer configured: mapping removed" };
}

/**
 * Reads of the audit indices are recorded by the security plugin's compliance audit (`security-audit.ts`). The
 * configuration is read first and rewritten only when it lacks something, keeping what an operator set.
 */
async function applyAuditReadHistory(
  client: OpenSearchTransportClient,
  allowMissing: boolean,
): Promise<BootstrapStep> {
  const step = "security audit configuration";
  const get: TransportRequest = { method: "GET", path: "/_plugins/_security/api/audit" };
  const current = await send(client, step, get);
  if (isMissingHandler(current)) {
    if (allowMissing) return { step, outcome: "skipped", detail: "security plugin not installed" };
    fail(step, get, current);
  }
  if (!ok(current.status)) fail(step, get, current);
  const config = asRecord(current.body).config;
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    fail(step, get, {
      status: current.status,
      body: `answer has no "config" object: ${describe(current.body)}`,
    });
  }
  let wanted: Record<string, unknown>;
  try {
    wanted = withAuditReadHistory(config as Record<string, unknown>);
  } catch (error) {
    if (error instanceof AuditConfigError) fail(step, get, { status: current.status, body: error.message });
    throw error;
  }
  if (sameAuditConfig(config as Record<string, unknown>, wanted)) {
    return {
      step,
      outcome: "unchanged",
      detail: "reads and writes of the audit indices are already recorded",
    };
  }
  const put: TransportRequest = { method: "PUT", path: "/_plugins/_security/api/audit/config", body: wanted };
  const updated = await send(client, step, put);
  if (!ok(updated.status)) fail(step, put, updated);
  return {
    step,
    outcome: "updated",
    detail: "compliance read and write history on for the audit indices (metadata only)",
  };
}

/**
 * Imports the saved objects with `overwrite`, so a redeployment replaces them with this version. Should the
 * answer still report conflicts (an import that ignored `overwrite`), they are retried through
 * `_resolve_import_errors` with `overwrite: true`. Any other error fails the step, naming each object.
 */
async function importDashboards(
  client: OpenSearchTransportClient,
  target: DashboardsTarget | undefined,
): Promise<BootstrapStep[]> {
  const step = "dashboards saved objects";
  if (target === undefined) {
    return [{ step, outcome: "skipped", detail: "no OpenSearch Dashboards endpoint given" }];
  }
  const objects = buildDashboardsSavedObjects();
  const file = importFileField(renderSavedObjectsNdjson(objects));
  const basePath = target.basePath.replace(/\/+$/, "");
  const headers = (contentType: string) => ({
    "content-type": contentType,
    "osd-xsrf": "true",
    securitytenant: target.tenant,
  });

  const form = multipartForm([file]);
  const importRequest: TransportRequest = {
    method: "POST",
    path: `${basePath}/api/saved_objects/_import`,
    querystring: { overwrite: "true" },
    body: form.body,
    headers: headers(form.contentType),
  };
  let result = await importCall(client, step, importRequest);
  const retries = overwriteRetries(result.errors ?? []);
  if (retries.length > 0) {
    const retryForm = multipartForm([file, { name: "retries", value: JSON.stringify(retries) }]);
    const resolveRequest: TransportRequest = {
      method: "POST",
      path: `${basePath}/api/saved_objects/_resolve_import_errors`,
      body: retryForm.body,
      headers: headers(retryForm.contentType),
    };
    const resolved = await importCall(client, step, resolveRequest);
    const otherErrors = (result.errors ?? []).filter((failure) => failure.error.type !== "conflict");
    result = {
      success: resolved.success && otherErrors.length === 0,
      successCount: result.successCount + resolved.successCount,
      errors: [...otherErrors, ...(resolved.errors ?? [])],
    };
  }
  const errors = result.errors ?? [];
  if (!result.success || errors.length > 0) {
    const described = errors.map(describeImportError);
    throw new OpenSearchBootstrapError(
      step,
      undefined,
      `OpenSearch Dashboards did not import ${errors.length === 0 ? "the saved objects" : `${errors.length} of ${objects.length} saved objects`}: ${described.join("; ") || "success is false and no error is listed"}`,
    );
  }
  return [
    {
      step,
      outcome: "applied",
      detail: `${result.successCount} of ${objects.length} saved objects imported into tenant ${target.tenant}`,
    },
  ];
}

async function importCall(
  client: OpenSearchTransportClient,
  step: string,
  request: TransportRequest,
): Promise<ImportResponse> {
  const reply = await send(client, step, request);
  if (!ok(reply.status)) fail(step, request, reply);
  const parsed = parseImportResponse(reply.body);
  if (parsed === undefined) {
    fail(step, request, { status: reply.status, body: `not an import answer: ${describe(reply.body)}` });
  }
  return parsed;
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {};
}
