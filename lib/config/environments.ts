import type { EnvironmentConfigInput } from "./schema.js";

/**
 * The shipped environments, one entry each. Adding an environment is adding an entry here; `npx cdk deploy
 * -c env=<key>` then builds it. Every key is documented in the README and in `schema.ts`.
 *
 * The cluster names, e-mail addresses and the pseudonymization key parameter below are examples: replace them with
 * your own before deploying.
 */
export const ENVIRONMENTS = {
  dev: {
    compliance: { frameworks: [] },
    retention: { hotDays: 7, warmDays: 7, archiveDays: 30, stagingExpirationDays: 3, logRetentionDays: 90 },
    search: {
      instanceType: "t3.medium.search",
      instanceCount: 1,
      ebsVolumeSizeGiB: 20,
    },
    network: { type: "public", allowedCidrs: ["203.0.113.0/24"] },
    firehose: { bufferingIntervalSeconds: 60, bufferingSizeMiB: 1, retryDurationSeconds: 60 },
    alerts: {
      critical: { emails: ["dev-oncall@example.com"] },
      ops: { emails: ["dev-oncall@example.com"] },
    },
    detection: {
      ruleOverrides: {
        placeholders: { trust_domains: ["cluster.local"] },
        rules: { mesh_auth_failure_burst: { suppression: "5m" } },
      },
    },
    transform: { keepEventOriginal: true, indexEventOriginal: true },
    keys: { breakGlassRoleName: "audit-trail-break-glass-dev" },
  },

  staging: {
    compliance: {
      frameworks: ["soc2", "iso27001"],
      iso27001: { archiveRetentionDays: 400, searchableDays: 30 },
    },
    retention: { hotDays: 14, warmDays: 16 },
    search: {
      instanceType: "m7g.large.search",
      instanceCount: 2,
      dedicatedMaster: { instanceType: "m7g.large.search", count: 3 },
      ebsVolumeSizeGiB: 100,
      zoneAwareness: { availabilityZoneCount: 2 },
    },
    network: { type: "vpc", cidr: "10.41.0.0/16", maxAzs: 2, natGateways: 1 },
    alerts: {
      critical: { emails: ["secops-staging@example.com"] },
      high: { emails: ["secops-staging@example.com"] },
      ops: { emails: ["platform-staging@example.com"] },
    },
    detection: {
      ruleOverrides: { placeholders: { trust_domains: ["staging.example.com", "cluster.local"] } },
    },
    eksClusters: [
      {
        name: "staging-mesh",
        producerIdentity: {
          type: "irsa",
          oidcIssuer: "oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE",
        },
      },
    ],
    keys: { breakGlassRoleName: "audit-trail-break-glass-staging" },
  },

  prod: {
    terminationProtection: true,
    compliance: {
      frameworks: ["pci-dss", "hipaa", "soc2", "iso27001", "gdpr"],
      iso27001: { archiveRetentionDays: 1096, searchableDays: 90 },
      gdpr: {
        purposes: [
          { name: "security-monitoring", retentionDays: 400 },
          { name: "legal-obligation-hipaa-audit-controls", retentionDays: 2192 },
        ],
      },
    },
    retention: { hotDays: 30, warmDays: 60, coldDays: 275, logRetentionDays: 400 },
    search: {
      instanceType: "r7g.large.search",
      instanceCount: 4,
      dedicatedMaster: { instanceType: "m7g.large.search", count: 3 },
      ultraWarm: { instanceType: "ultrawarm1.medium.search", count: 2 },
      coldStorage: true,
      ebsVolumeSizeGiB: 512,
      ebsIops: 3000,
      ebsThroughputMiBps: 250,
      zoneAwareness: { availabilityZoneCount: 2 },
      shardCount: 2,
      replicaCount: 1,
    },
    network: { type: "vpc", cidr: "10.42.0.0/16", maxAzs: 2, natGateways: 2 },
    firehose: { bufferingIntervalSeconds: 60, bufferingSizeMiB: 5, retryDurationSeconds: 900 },
    alerts: {
      critical: {
        emails: ["secops@example.com"],
        httpsEndpoints: ["https://events.pagerduty.com/integration/example/enqueue"],
      },
      high: { emails: ["secops@example.com"] },
      medium: { emails: ["secops-triage@example.com"] },
      low: { emails: ["secops-triage@example.com"] },
      ops: { emails: ["platform-oncall@example.com"] },
      runbookBaseUrl: "https://runbooks.example.com/audit-trail",
    },
    eksClusters: [{ name: "prod-mesh", producerIdentity: { type: "pod-identity" } }],
    detection: {
      ruleOverrides: {
        placeholders: {
          trust_domains: ["prod.example.com"],
          admin_allowed_identities: { "*": ["spiffe://prod.example.com/ns/ops/sa/sre"] },
        },
        rules: { mesh_error_rate_high: { minCount: 100 } },
      },
    },
    pseudonymization: {
      fields: ["user.name", "kubernetes.audit.user.username", "kubernetes.audit.impersonatedUser.username"],
      key: { source: "ssm-parameter", parameterName: "/audit-trail/prod/pseudonymization-key" },
    },
    transform: { keepEventOriginal: false, indexEventOriginal: false },
    tamperEvidence: { digestPeriodMinutes: 60 },
    keys: { breakGlassRoleName: "audit-trail-break-glass-prod" },
  },
} satisfies Record<string, EnvironmentConfigInput>;

export type EnvironmentName = keyof typeof ENVIRONMENTS;
