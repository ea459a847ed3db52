import * as z from "zod";
import { FRAMEWORK_IDS } from "../../lambdas/core/compliance/catalogue.js";
import { INDEX_CODECS, SOURCE_EXCLUDABLE_FIELDS } from "../../lambdas/core/opensearch/audit-template.js";
import { parseCidr } from "../../lambdas/core/rules/ip.js";
import { DEFAULTS } from "./defaults.js";

/**
 * The typed, zod-validated configuration of one environment (`-c env=NAME`). Input is what an entry in
 * `environments.ts` spells out; output (`EnvironmentConfig`) has every default applied and is what the stack
 * receives as props. Unknown keys are rejected, so a typo in a key name fails synth instead of being ignored.
 */

/** Retention values CloudWatch Logs accepts (days). */
export const CLOUDWATCH_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

const days = (min: number) => z.number().int().min(min);
const cidr = z
  .string()
  .regex(/^(\d{1,3})(\.\d{1,3}){3}\/(\d|[12]\d|3[0-2])$/, "must be an IPv4 CIDR such as 203.0.113.0/24");
const email = z.string().regex(/^[^@\s]+@[^@\s]+\.[^@\s]+$/, "must be an e-mail address");
const httpsUrl = z.string().regex(/^https:\/\/[^\s]+$/, "must be an https:// URL");

const subscriptions = z
  .strictObject({
    /** E-mail addresses subscribed to the topic (each must confirm the subscription). */
    emails: z.array(email).default([]),
    /** HTTPS endpoints (a pager's webhook) subscribed to the topic. */
    httpsEndpoints: z.array(httpsUrl).default([]),
  })
  .default({ emails: [], httpsEndpoints: [] });

const producerIdentity = z.discriminatedUnion("type", [
  z.strictObject({
    /** IAM Roles for Service Accounts: the cluster's OIDC issuer (without `https://`). */
    type: z.literal("irsa"),
    oidcIssuer: z
      .string()
      .regex(
        /^oidc\.eks\.[a-z0-9-]+\.amazonaws\.com(\.cn)?\/id\/[A-Za-z0-9]+$/,
        "must be the cluster's OIDC issuer host and path, e.g. oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE",
      ),
  }),
  z.strictObject({
    /** EKS Pod Identity: the stack creates the pod identity association. */
    type: z.literal("pod-identity"),
  }),
]);

const eksCluster = z.strictObject({
  /** EKS cluster name. */
  name: z.string().regex(/^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$/, "must be an EKS cluster name"),
  /**
   * CloudWatch Logs group holding the control-plane logs (audit log type must be enabled on the cluster).
   * @default `/aws/eks/<name>/cluster`
   */
  auditLogGroupName: z.string().min(1).optional(),
  /** How Fluent Bit on this cluster assumes the producer role. */
  producerIdentity,
});

/**
 * A cluster that only ships logs with Fluent Bit (no CloudWatch subscription): a self-managed cluster whose
 * API-server audit log Fluent Bit tails, or one whose audit log stays elsewhere. Its Fluent Bit assumes the
 * producer role through an OIDC identity provider registered in IAM (kOps, Cluster API, EKS Anywhere and others
 * publish one), so the issuer is any host and path.
 */
const producerCluster = z.strictObject({
  /** The cluster's name, as Fluent Bit sets `cluster_name`. */
  name: z
    .string()
    .regex(/^[0-9A-Za-z][A-Za-z0-9\-_.]{0,99}$/, "must be a cluster name (letters, digits, - _ .)"),
  producerIdentity: z.strictObject({
    type: z.literal("irsa"),
    /** The issuer of the cluster's service account tokens, without `https://` (an IAM OIDC provider must exist). */
    oidcIssuer: z
      .string()
      .regex(
        /^[a-z0-9.-]+\.[a-z]{2,}(\/[\w.~-]+)*$/,
        "must be the OIDC issuer host and path without https://, e.g. my-bucket.s3.eu-west-1.amazonaws.com/cluster-a",
      ),
  }),
});

const vpcNetwork = z.strictObject({
  type: z.literal("vpc"),
  /** CIDR of the VPC the stack creates (ignored when `existingVpc` is set). */
  cidr: cidr.default(DEFAULTS.network.cidr),
  /** Availability zones the created VPC spans (env-agnostic stacks get at most 2). */
  maxAzs: z.number().int().min(2).max(3).default(DEFAULTS.network.maxAzs),
  /**
   * Availability zones of the created VPC (overrides maxAzs). Required when account and region are set, so synth
   * needs no AWS lookup; needs region.
   */
  availabilityZones: z
    .array(
      z
        .string()
        .regex(/^[a-z]{2}(-[a-z]+)+-\d[a-z]$/, "must be an availability zone name such as eu-west-1a"),
    )
    .min(2)
    .max(3)
    .optional(),
  /** NAT gateways of the created VPC (1 per AZ for AZ-independent egress). */
  natGateways: z.number().int().min(1).max(3).default(DEFAULTS.network.natGateways),
  /** Use an existing VPC instead (imported by attributes: no lookup, synth stays offline). */
  existingVpc: z
    .strictObject({
      vpcId: z.string().regex(/^vpc-[0-9a-f]+$/, "must be a VPC id (vpc-…)"),
      availabilityZones: z.array(z.string().min(1)).min(2),
      privateSubnetIds: z.array(z.string().regex(/^subnet-[0-9a-f]+$/, "must be a subnet id")).min(2),
    })
    .optional(),
});

const publicNetwork = z.strictObject({
  type: z.literal("public"),
  /** Source CIDRs allowed to reach the public endpoint (analysts); stack roles sign with SigV4. */
  allowedCidrs: z.array(cidr).min(1),
});

const pseudonymizationKey = z.discriminatedUnion("source", [
  z.strictObject({
    source: z.literal("secret"),
    /** Secrets Manager secret name holding the HMAC key. */
    secretName: z.string().min(1),
  }),
  z.strictObject({
    source: z.literal("ssm-parameter"),
    /** SSM SecureString parameter name (starting with `/`) holding the HMAC key. */
    parameterName: z.string().regex(/^\/[A-Za-z0-9_.\-/]+$/, "must be an SSM parameter name starting with /"),
    /** ARN of the customer-managed KMS key encrypting the parameter, when it is not `aws/ssm`. */
    kmsKeyArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-f-]+$/, "must be a KMS key ARN")
      .optional(),
  }),
]);

export const environmentConfigSchema = z.strictObject({
  /** Target account; omit for an environment-agnostic template. */
  account: z
    .string()
    .regex(/^\d{12}$/, "must be a 12-digit AWS account id")
    .optional(),
  /** Target region; omit for an environment-agnostic template. */
  region: z
    .string()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, "must be an AWS region such as eu-west-1")
    .optional(),
  /** CloudFormation termination protection on the stack. */
  terminationProtection: z.boolean().default(false),
  /** Extra tags on every resource. */
  tags: z.record(z.string(), z.string()).default({}),

  compliance: z
    .strictObject({
      /** Frameworks whose retention and privacy rules the config must meet. */
      frameworks: z.array(z.enum(FRAMEWORK_IDS)).default([]),
      /** ISO 27001 has no fixed period: the organisation's log retention policy sets it. */
      iso27001: z
        .strictObject({
          archiveRetentionDays: days(1),
          searchableDays: days(0).default(0),
        })
        .optional(),
      /** GDPR retention is per processing purpose; the archive must cover the longest. */
      gdpr: z
        .strictObject({
          purposes: z.array(z.strictObject({ name: z.string().min(1), retentionDays: days(1) })).min(1),
        })
        .optional(),
    })
    .default({ frameworks: [] }),

  retention: z.strictObject({
    /** Days an index stays on hot nodes. */
    hotDays: days(1),
    /** Days in the warm state (UltraWarm when enabled, read-only on hot nodes otherwise). */
    warmDays: days(0).default(0),
    /** Days in cold storage (needs `search.coldStorage`). Indices are deleted at hot+warm+cold days. */
    coldDays: days(0).default(0),
    /** Object Lock retention of the archive; @default the longest the enabled frameworks require. */
    archiveDays: days(1).optional(),
    /** Lifecycle transitions of archived objects (days after creation; skipped when ≥ archive retention). */
    archiveTransitions: z
      .strictObject({
        infrequentAccessAfterDays: days(30).default(30),
        glacierAfterDays: days(60).default(90),
        deepArchiveAfterDays: days(90).default(180),
      })
      .default({ infrequentAccessAfterDays: 30, glacierAfterDays: 90, deepArchiveAfterDays: 180 }),
    /** Days the Firehose backup stays in staging (room to recover from an archiver outage). */
    stagingExpirationDays: days(3).default(DEFAULTS.stagingExpirationDays),
    /** CloudWatch Logs retention of the stack's own log groups. */
    logRetentionDays: z
      .number()
      .refine((value) => (CLOUDWATCH_RETENTION_DAYS as readonly number[]).includes(value), {
        message: `must be one of CloudWatch's retention values: ${CLOUDWATCH_RETENTION_DAYS.join(", ")}`,
      })
      .default(365),
  }),

  search: z.strictObject({
    /** OpenSearch domain name (3–28 lower-case characters). @default `audit-trail-<env>` */
    domainName: z
      .string()
      .regex(/^[a-z][a-z0-9-]{2,27}$/, "must be 3–28 characters: a-z, 0-9, '-', starting with a letter")
      .optional(),
    /**
     * OpenSearch engine version (`MAJOR.MINOR`). @default `2.19`, the version the project's real-node integration
     * tests run against (the index templates and ISM policy are proven on it).
     */
    engineVersion: z
      .string()
      .regex(/^\d+\.\d+$/, 'must be an OpenSearch version "MAJOR.MINOR", e.g. "2.19"')
      .default(DEFAULTS.engineVersion),
    instanceType: z.string().regex(/^[a-z0-9]+\.[a-z0-9]+\.search$/, "must be an OpenSearch instance type"),
    instanceCount: z.number().int().min(1),
    dedicatedMaster: z
      .strictObject({
        instanceType: z
          .string()
          .regex(/^[a-z0-9]+\.[a-z0-9]+\.search$/, "must be an OpenSearch instance type"),
        count: z.union([z.literal(3), z.literal(5)]),
      })
      .optional(),
    ultraWarm: z
      .strictObject({
        instanceType: z.enum(["ultrawarm1.medium.search", "ultrawarm1.large.search"]),
        count: z.number().int().min(2),
      })
      .optional(),
    coldStorage: z.boolean().default(DEFAULTS.coldStorage),
    ebsVolumeSizeGiB: z.number().int().min(10),
    ebsIops: z.number().int().min(3000).optional(),
    ebsThroughputMiBps: z.number().int().min(125).optional(),
    /** Spread data nodes over 2 or 3 AZs; omit for a single-AZ domain. */
    zoneAwareness: z
      .strictObject({ availabilityZoneCount: z.union([z.literal(2), z.literal(3)]) })
      .optional(),
    shardCount: z.number().int().min(1).default(1),
    /**
     * Stored-fields codec of the daily audit indices (`index.codec`; applies from the next day's index).
     * `zstd` and `zstd_no_dict` need engine 2.9 or later. @default "best_compression": measured at 0.65× the
     * default codec's store on the benchmark mix (docs/sizing.md)
     */
    indexCodec: z
      .enum(INDEX_CODECS, { error: `must be one of ${INDEX_CODECS.join(", ")}` })
      .default(DEFAULTS.indexCodec),
    /**
     * Fields left out of the audit indices' `_source` (still searchable as mapped; never returned by a search, so
     * alerts and Dashboards lose them too: the archive keeps every document whole). @default [] - none
     */
    sourceExcludes: z
      .array(
        z.enum(SOURCE_EXCLUDABLE_FIELDS, {
          error: `must be one of ${SOURCE_EXCLUDABLE_FIELDS.join(", ")}`,
        }),
      )
      .default([]),
    /** Replicas per shard. @default 1 with zone awareness, 0 without */
    replicaCount: z.number().int().min(0).optional(),
  }),

  network: z.discriminatedUnion("type", [vpcNetwork, publicNetwork]),

  firehose: z
    .strictObject({
      bufferingIntervalSeconds: z
        .number()
        .int()
        .min(0)
        .max(900)
        .default(DEFAULTS.firehose.bufferingIntervalSeconds),
      bufferingSizeMiB: z.number().int().min(1).max(100).default(DEFAULTS.firehose.bufferingSizeMiB),
      retryDurationSeconds: z.number().int().min(0).max(7200).default(DEFAULTS.firehose.retryDurationSeconds),
    })
    .default(DEFAULTS.firehose),

  alerts: z
    .strictObject({
      critical: subscriptions,
      high: subscriptions,
      medium: subscriptions,
      low: subscriptions,
      /** Pipeline alarms (the stack watching itself). */
      ops: subscriptions,
      /** Base URL of the runbooks linked from alerts. */
      runbookBaseUrl: httpsUrl.optional(),
    })
    .default({
      critical: { emails: [], httpsEndpoints: [] },
      high: { emails: [], httpsEndpoints: [] },
      medium: { emails: [], httpsEndpoints: [] },
      low: { emails: [], httpsEndpoints: [] },
      ops: { emails: [], httpsEndpoints: [] },
    }),

  /** Clusters whose control-plane audit logs are subscribed into the stream and whose Fluent Bit ships to it. */
  eksClusters: z.array(eksCluster).default([]),

  /** Clusters that only ship logs with Fluent Bit (see `producerCluster`), besides the EKS clusters. */
  producerClusters: z.array(producerCluster).default([]),

  /** The Kubernetes service account Fluent Bit runs as on every cluster. */
  producer: z
    .strictObject({
      namespace: z.string().min(1).default(DEFAULTS.producer.namespace),
      serviceAccountName: z.string().min(1).default(DEFAULTS.producer.serviceAccountName),
    })
    .default(DEFAULTS.producer),

  /** Existing IAM role mapped to a read-only OpenSearch role for analysts. */
  analystRoleArn: z
    .string()
    .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/, "must be an IAM role ARN")
    .optional(),

  /** Guardrails of the stack's KMS keys (data, logs, digest signing). */
  keys: z
    .strictObject({
      /**
       * The break-glass role: the only principal (besides CloudFormation's execution role, which may update key
       * policies on deploy) allowed to disable a key, schedule its deletion or replace its policy. A role name in
       * the stack's account, without a path; the role need not exist until it is needed.
       * @default `audit-trail-break-glass-<environment name>`
       */
      breakGlassRoleName: z
        .string()
        .regex(
          /^[\w+=,.@-]{1,64}$/,
          "must be an IAM role name (not an ARN, no path): 1–64 letters, digits and + = , . @ _ -",
        )
        .optional(),
    })
    .default({}),

  detection: z
    .strictObject({
      /**
       * Per-rule detection overrides (thresholds, allow lists, sensitive path patterns, trust domains), keyed by
       * rule id. Opaque here; the handlers read it from `AUDIT_TRAIL_RULE_OVERRIDES`.
       */
      ruleOverrides: z.record(z.string(), z.json()).default({}),
      /**
       * Seed policy "changes only from approved networks": per Kubernetes cluster (`orchestrator.cluster.name`), the
       * source CIDRs (IPv4 or IPv6) from which create/update/patch/delete requests are expected: operators' VPN and
       * bastion ranges, CI runners, and the cluster's own node and pod ranges (in-cluster callers). `"*"` lists
       * ranges approved for every cluster. Each listed cluster raises `k8s_change_from_unapproved_network` for a
       * change from anywhere else; the lists also quiet `k8s_system_principal_public_source` for nodes reaching a
       * public control-plane endpoint. Compiled into the rule pack's placeholders `k8s_approved_networks` and
       * `k8s_network_controlled_clusters` (which `ruleOverrides.placeholders` must then not set).
       */
      k8sApprovedNetworks: z
        .record(
          z.string().regex(/^(\*|[A-Za-z0-9][A-Za-z0-9._-]*)$/, "must be a cluster name or *"),
          z
            .array(
              z.string().refine((value) => parseCidr(value) !== undefined, {
                message: "must be a CIDR block such as 10.20.0.0/16 or 2001:db8::/32",
              }),
            )
            .min(1),
        )
        .default({}),
      /**
       * How long a workload certificate may be in use before it counts as overdue for rotation, in hours: a mesh
       * request presenting a client certificate issued longer ago raises `mesh_cert_rotation_overdue` (the custom
       * Istio format of examples/mesh/istio/ logs the certificate's validity). Compiled into the rule pack's
       * placeholder `cert_rotation_period_seconds` (which `ruleOverrides.placeholders` must then not set).
       * @default 24 (the rule pack's placeholder: Istio's default workload certificate lifetime)
       */
      certificateRotationHours: z.number().positive().max(8760).optional(),
    })
    .default({ ruleOverrides: {}, k8sApprovedNetworks: {} }),

  /** GDPR pseudonymization of personal fields in the transform (HMAC with a key from Secrets Manager or SSM). */
  pseudonymization: z
    .strictObject({
      fields: z
        .array(z.string().regex(/^[A-Za-z@_][A-Za-z0-9_@.]*$/, "must be a dotted ECS field path"))
        .min(1),
      key: pseudonymizationKey,
    })
    .optional(),

  transform: z
    .strictObject({
      /** Keep the raw line in `event.original`. */
      keepEventOriginal: z.boolean().default(DEFAULTS.keepEventOriginal),
      /** Index `event.original` (searchable) rather than only storing it. */
      indexEventOriginal: z.boolean().default(false),
    })
    .default({ keepEventOriginal: DEFAULTS.keepEventOriginal, indexEventOriginal: false }),

  tamperEvidence: z
    .strictObject({
      /** Minutes per signed digest; must divide a day so periods align to midnight UTC. */
      digestPeriodMinutes: z
        .number()
        .int()
        .min(5)
        .max(1440)
        .refine((value) => 1440 % value === 0, {
          message: "must divide 1440 (a day) evenly, e.g. 15, 60, 240",
        })
        .default(DEFAULTS.digestPeriodMinutes),
    })
    .default({ digestPeriodMinutes: DEFAULTS.digestPeriodMinutes }),

  /**
   * Reserved concurrency of the functions that scale with volume (the others reserve 1 each). Reserved units come
   * out of the account's Lambda concurrency; `audit-trail size` says what a volume needs.
   */
  concurrency: z
    .strictObject({
      /** The Firehose transform: about 22 MB/s of raw logs per concurrent invocation on ARM64 at 1 GiB. */
      transform: z.number().int().min(1).max(1000).default(DEFAULTS.concurrency.transform),
      /** The archiver copying staging objects into the Object Lock bucket. */
      archiver: z.number().int().min(1).max(100).default(DEFAULTS.concurrency.archiver),
    })
    .default(DEFAULTS.concurrency),
});

export type EnvironmentConfigInput = z.input<typeof environmentConfigSchema>;
export type ParsedEnvironmentConfig = z.output<typeof environmentConfigSchema>;

type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/**
 * A validated environment: parsed config plus its name and the values derived from the compliance presets. The
 * keys a config may leave out for a derived value hold the value, under the config's own name.
 */
export type EnvironmentConfig = DeepReadonly<
  Omit<ParsedEnvironmentConfig, "retention" | "search"> & {
    retention: Omit<ParsedEnvironmentConfig["retention"], "archiveDays"> & {
      /** Object Lock default retention (days): the config's, or the longest the compliance presets require. */
      archiveDays: number;
    };
    search: Omit<ParsedEnvironmentConfig["search"], "replicaCount"> & {
      /** Replicas per shard: the config's, or 1 with zone awareness and 0 without. */
      replicaCount: number;
    };
    /** The `-c env=NAME` value. */
    name: string;
    /** Age (days) at which ISM deletes an index: hot + warm + cold. */
    deleteAfterDays: number;
    /** Soft findings (e.g. GDPR storage limitation) the stack reports as synth warnings. */
    warnings: string[];
  }
>;
