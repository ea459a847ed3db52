import { beforeAll, describe, expect, it } from "vitest";
import { frameworkRequest } from "../../../../lambdas/cli/commands/compliance.js";
import { scheduleMinutes } from "../../../../lambdas/core/compliance/evidence.js";
import {
  type Assessment,
  assess,
  asTemplate,
  type CfnTemplate,
  type ControlResult,
  type Evidence,
  FRAMEWORKS,
  type FrameworkId,
  renderReport,
  TemplateShapeError,
} from "../../../../lambdas/core/compliance/index.js";
import {
  ENVIRONMENTS,
  type EnvironmentConfig,
  parseEnvironmentConfig,
} from "../../../../lib/config/index.js";
import { synthesizeShipped } from "../../../lib/fixtures.js";

type Env = "dev" | "staging" | "prod";
type Resources = Record<
  string,
  { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string }
>;

const templates = {} as Record<Env, CfnTemplate>;
const configs = {} as Record<Env, EnvironmentConfig>;

beforeAll(() => {
  for (const env of ["dev", "staging", "prod"] as const) {
    templates[env] = synthesizeShipped(env).template.toJSON() as CfnTemplate;
    configs[env] = parseEnvironmentConfig(env, ENVIRONMENTS[env]);
  }
});

/** A deep copy of a shipped template, to break. */
function copyOf(env: Env): CfnTemplate & { Resources: Resources } {
  return structuredClone(templates[env]) as CfnTemplate & { Resources: Resources };
}

/** The logical ids of the resources of `type` whose properties pass `test`, found without the module under test. */
function idsWhere(
  template: CfnTemplate,
  type: string,
  test: (properties: Record<string, unknown>) => boolean,
) {
  return Object.entries((template as { Resources: Resources }).Resources)
    .filter(([, resource]) => resource.Type === type && test(resource.Properties ?? {}))
    .map(([id]) => id);
}

function onlyId(template: CfnTemplate, type: string, test: (properties: Record<string, unknown>) => boolean) {
  const ids = idsWhere(template, type, test);
  expect(ids).toHaveLength(1);
  return ids[0] as string;
}

const archiveId = (template: CfnTemplate) =>
  onlyId(
    template,
    "AWS::S3::Bucket",
    (p) => p.ObjectLockEnabled === true || p.ObjectLockConfiguration !== undefined,
  );

function assessEnv(env: Env, template: CfnTemplate, frameworks?: readonly FrameworkId[]): Assessment {
  const config = configs[env];
  const chosen = frameworks ?? config.compliance.frameworks;
  return assess(
    template,
    chosen.map((framework) => frameworkRequest(framework, config)),
  );
}

function control(assessment: Assessment, framework: FrameworkId, id: string): ControlResult {
  const found = assessment.frameworks
    .find((candidate) => candidate.framework === framework)
    ?.controls.find((candidate) => candidate.control.id === id);
  if (found === undefined) throw new Error(`no control ${framework} ${id} in the assessment`);
  return found;
}

function evidenceFor(result: ControlResult, setting: string): Evidence {
  const found = result.evidence.find((item) => item.setting === setting);
  if (found === undefined) {
    throw new Error(
      `${result.control.id} has no evidence on ${setting}: ${result.evidence.map((e) => e.setting)}`,
    );
  }
  return found;
}

const LOCK_DAYS = "ObjectLockConfiguration.Rule.DefaultRetention.Days";

describe("the control catalogue", () => {
  it.each([
    ["pci-dss", ["10.2", "10.3", "10.5.1", "10.7.2"]],
    ["hipaa", ["164.312(b)", "164.316(b)(2)"]],
    ["soc2", ["CC7.2", "CC7.3"]],
    ["iso27001", ["A.8.15", "A.8.16"]],
    ["gdpr", ["Art. 30", "Art. 32"]],
  ] as const)(
    "%s lists the controls the issue asks for, each with a requirement, and what it leaves to others",
    (framework, ids) => {
      const catalogue = FRAMEWORKS[framework];
      for (const id of ids) {
        const entry = catalogue.controls.find((candidate) => candidate.id === id);
        expect(entry?.requirement.length ?? 0, `${framework} ${id}`).toBeGreaterThan(20);
      }
      expect(catalogue.notAddressed.length).toBeGreaterThanOrEqual(3);
      for (const item of catalogue.notAddressed) expect(item.owner).toMatch(/^The [\w' -]+(\(|:)/);
    },
  );
});

describe("assess, shipped prod (every framework)", () => {
  it("meets every control of the five frameworks, every piece of evidence found", () => {
    // Act
    const assessment = assessEnv("prod", templates.prod);

    // Assess
    expect(assessment.frameworks.map((framework) => framework.framework)).toEqual([
      "pci-dss",
      "hipaa",
      "soc2",
      "iso27001",
      "gdpr",
    ]);
    expect(
      assessment.failures.map((failure) => `${failure.control.framework} ${failure.control.id}`),
    ).toEqual([]);
    for (const framework of assessment.frameworks) {
      for (const result of framework.controls) {
        expect(result.evidence.length).toBeGreaterThan(0);
        for (const item of result.evidence) expect(item.resource, item.setting).toBeDefined();
      }
    }
  });

  it("cites the Object Lock bucket and the retention days the config asked for, per framework minimum", () => {
    const assessment = assessEnv("prod", templates.prod);
    const bucket = archiveId(templates.prod);
    const expectations: [FrameworkId, string, number][] = [
      ["pci-dss", "10.5.1", 366],
      ["hipaa", "164.316(b)(2)", 2192],
      ["soc2", "CC7.2", 366],
      ["iso27001", "A.8.15", 1096],
    ];
    for (const [framework, id, minimum] of expectations) {
      const lock = evidenceFor(control(assessment, framework, id), LOCK_DAYS);
      expect(lock.resource).toEqual({ logicalId: bucket, type: "AWS::S3::Bucket" });
      expect(lock.value).toBe(String(configs.prod.retention.archiveDays));
      expect(lock.expected).toBe(`≥ ${minimum} days`);
    }
    const mode = evidenceFor(
      control(assessment, "pci-dss", "10.3"),
      "ObjectLockConfiguration.Rule.DefaultRetention.Mode",
    );
    expect(mode.value).toBe("COMPLIANCE");
  });

  it("cites the digest signing key by its key spec and the digest schedule by its rate", () => {
    const assessment = assessEnv("prod", templates.prod, ["pci-dss"]);
    const key = onlyId(templates.prod, "AWS::KMS::Key", (p) => p.KeyUsage === "SIGN_VERIFY");
    const spec = evidenceFor(control(assessment, "pci-dss", "10.3"), "KeySpec");
    expect(spec.resource?.logicalId).toBe(key);
    expect(spec.value).toBe("ECC_NIST_P256");
    const schedule = control(assessment, "pci-dss", "10.3").evidence.find(
      (item) => item.setting === "ScheduleExpression",
    );
    // The digest writer runs every period and at least every 5 minutes (lib/tamper-evidence.ts).
    expect(schedule?.value).toBe(
      `rate(${Math.min(configs.prod.tamperEvidence.digestPeriodMinutes, 5)} minutes)`,
    );
  });

  it("cites the ISM ages of the bootstrap custom resource and the OpenSearch settings of the domain", () => {
    const assessment = assessEnv("prod", templates.prod, ["pci-dss", "hipaa"]);
    const bootstrap = onlyId(templates.prod, "Custom::AuditTrailSearchBootstrap", () => true);
    const searchable = evidenceFor(control(assessment, "pci-dss", "10.5.1"), "HotDays + WarmDays");
    expect(searchable.resource?.logicalId).toBe(bootstrap);
    expect(searchable.value).toBe(String(configs.prod.retention.hotDays + configs.prod.retention.warmDays));
    const domain = onlyId(templates.prod, "AWS::OpenSearchService::Domain", () => true);
    for (const setting of ["NodeToNodeEncryptionOptions.Enabled", "DomainEndpointOptions.EnforceHTTPS"]) {
      const item = evidenceFor(control(assessment, "hipaa", "164.312(e)(1)"), setting);
      expect(item.resource?.logicalId).toBe(domain);
      expect(item.value).toBe("true");
    }
    const audit = evidenceFor(control(assessment, "pci-dss", "10.5.1"), "RetentionInDays");
    expect(audit.value).toBe(String(configs.prod.retention.logRetentionDays));
  });

  it("cites the transform's pseudonymization variables with the configured fields for GDPR Art. 32", () => {
    const assessment = assessEnv("prod", templates.prod, ["gdpr"]);
    const transform = onlyId(
      templates.prod,
      "AWS::Lambda::Function",
      (p) =>
        (p.Environment as { Variables?: Record<string, unknown> })?.Variables
          ?.AUDIT_TRAIL_PSEUDONYMIZE_FIELDS !== undefined,
    );
    const fields = evidenceFor(
      control(assessment, "gdpr", "Art. 32"),
      "Environment.Variables.AUDIT_TRAIL_PSEUDONYMIZE_FIELDS",
    );
    expect(fields.resource?.logicalId).toBe(transform);
    expect(fields.value).toBe(configs.prod.pseudonymization?.fields.join(","));
    expect(fields.status).toBe("found");
  });

  it("cites the detector's schedule and the alarms that notify a subscribed topic", () => {
    const assessment = assessEnv("prod", templates.prod, ["soc2"]);
    const cc72 = control(assessment, "soc2", "CC7.2");
    const schedule = evidenceFor(cc72, "ScheduleExpression");
    expect(schedule.resource?.type).toBe("AWS::Events::Rule");
    expect(schedule.value).toMatch(/^rate\(\d+ minutes?\)$/);
    const alarms = cc72.evidence.filter((item) => item.resource?.type === "AWS::CloudWatch::Alarm");
    expect(alarms.length).toBeGreaterThanOrEqual(7);
    for (const alarm of alarms) expect(alarm.value).toMatch(/\(1 subscriptions\)$/);
  });

  it("renders each control with its resource, setting and value as markdown", () => {
    const assessment = assessEnv("prod", templates.prod, ["hipaa"]);
    const report = renderReport({ subject: "environment prod", templateSource: "test" }, assessment);
    expect(report).toContain("### 164.316(b)(2) Documentation: time limit: met");
    expect(report).toContain(
      `| \`${archiveId(templates.prod)}\` \`AWS::S3::Bucket\` | \`${LOCK_DAYS}\` | \`2192\` | ≥ 2192 days | met |`,
    );
    expect(report).toContain("### Not addressed by this stack");
    expect(report).toContain("all 6 controls below are met");
  });

  it("lists the stored weekly reviews as the evidence for audit logs reviewed weekly", () => {
    const assessment = assessEnv("prod", templates.prod, ["pci-dss", "hipaa"]);
    const review = control(assessment, "hipaa", "164.308(a)(1)(ii)(D)");
    expect(review.met).toBe(true);
    expect(review.evidence.map((e) => [e.setting, e.value, e.status])).toEqual(
      expect.arrayContaining([
        ["ScheduleExpression", "cron(0 6 ? * MON *)", "found"],
        [
          "Environment.Variables.AUDIT_TRAIL_ARCHIVE_BUCKET",
          expect.stringContaining(archiveId(templates.prod)),
          "found",
        ],
      ]),
    );
    expect(review.evidence.some((e) => e.claim.includes("reports/weekly/"))).toBe(true);
    expect(
      control(assessment, "pci-dss", "10.4.1.1").evidence.some((e) => e.claim.includes("reviewed weekly")),
    ).toBe(true);
  });

  it("does not call a monthly review weekly", () => {
    const template = structuredClone(templates.prod) as {
      Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
    };
    for (const resource of Object.values(template.Resources))
      if (resource.Properties?.ScheduleExpression === "cron(0 6 ? * MON *)")
        resource.Properties.ScheduleExpression = "cron(0 6 1 * ? *)";
    const review = control(assessEnv("prod", template as never, ["hipaa"]), "hipaa", "164.308(a)(1)(ii)(D)");
    expect(review.met).toBe(false);
  });
});

describe("where the original of each event lives", () => {
  it("states for staging that the archive holds it in event.original and the index stores it unindexed", () => {
    // Act
    const assessment = assessEnv("staging", templates.staging);
    const report = renderReport({ subject: "environment staging", templateSource: "test" }, assessment);

    // Assess
    expect(report).toContain("## Where the original of each event lives");
    const [evidence, failed, search] = assessment.originals;
    expect(evidence?.where).toContain(
      `in the archive bucket \`${archiveId(templates.staging)}\` (Object Lock)`,
    );
    expect(evidence?.where).toContain("in its document's `event.original`");
    expect(evidence?.basis).toContain("CompressionFormat = GZIP");
    expect(failed?.where).toContain("kept raw");
    expect(search?.where).toContain("stored but not indexed");
  });

  it("states for prod (GDPR) that no original line is kept anywhere but in unparsed records", () => {
    const [evidence, , search] = assessEnv("prod", templates.prod).originals;

    expect(evidence?.where).toContain("without the original line");
    expect(search?.where).toBe(
      "Search: the index holds no original line (documents have no `event.original`).",
    );
  });

  it("follows the template, not the config: an index that indexes it says so", () => {
    // Prepare
    const template = copyOf("staging");
    const bootstrap = onlyId(template, "Custom::AuditTrailSearchBootstrap", () => true);
    (template.Resources[bootstrap] as { Properties: Record<string, unknown> }).Properties.IndexEventOriginal =
      true;

    // Act
    const [, , search] = assessEnv("staging", template).originals;

    // Assess
    expect(search?.where).toContain("indexes it as full text");
  });
});

describe("assess, shipped staging (soc2 + iso27001)", () => {
  it("meets SOC 2 and ISO 27001, holding the archive to the ISO policy's days", () => {
    const assessment = assessEnv("staging", templates.staging);
    expect(assessment.failures).toEqual([]);
    const lock = evidenceFor(control(assessment, "iso27001", "A.8.15"), LOCK_DAYS);
    expect(lock.resource?.logicalId).toBe(archiveId(templates.staging));
    expect(lock.value).toBe(String(configs.staging.retention.archiveDays));
    expect(lock.expected).toBe(`≥ ${ENVIRONMENTS.staging.compliance.iso27001.archiveRetentionDays} days`);
  });

  it("fails PCI DSS 10.5.1 when asked: 30 searchable days are fewer than 90", () => {
    const result = control(assessEnv("staging", templates.staging, ["pci-dss"]), "pci-dss", "10.5.1");
    expect(result.met).toBe(false);
    const searchable = evidenceFor(result, "HotDays + WarmDays");
    expect(searchable).toMatchObject({ status: "weak", value: "30", expected: "≥ 90 days" });
  });
});

describe("assess, shipped dev", () => {
  it("fails PCI DSS retention when asked: the 30-day archive is named with its value", () => {
    const assessment = assessEnv("dev", templates.dev, ["pci-dss"]);
    const lock = evidenceFor(control(assessment, "pci-dss", "10.5.1"), LOCK_DAYS);
    expect(lock).toMatchObject({ status: "weak", value: "30", expected: "≥ 366 days" });
  });
});

describe("assess, a broken prod template", () => {
  const failing = (assessment: Assessment) =>
    assessment.failures.map((failure) => `${failure.control.framework} ${failure.control.id}`);

  it("reports the Object Lock as missing when the bucket has none, and fails every control relying on it", () => {
    // Prepare
    const template = copyOf("prod");
    const bucket = template.Resources[archiveId(templates.prod)];
    if (bucket === undefined) throw new Error("no archive bucket");
    delete bucket.Properties.ObjectLockConfiguration;
    delete bucket.Properties.ObjectLockEnabled;

    // Act
    const assessment = assessEnv("prod", template);

    // Assess
    expect(failing(assessment)).toEqual(
      expect.arrayContaining([
        "pci-dss 10.3",
        "pci-dss 10.5.1",
        "hipaa 164.316(b)(2)",
        "soc2 CC7.2",
        "iso27001 A.8.15",
        "gdpr Art. 32",
      ]),
    );
    const lock = evidenceFor(control(assessment, "pci-dss", "10.5.1"), LOCK_DAYS);
    expect(lock).toMatchObject({ status: "missing", value: "(not set)" });
  });

  it("reports retention lowered below a framework's minimum as weaker than required", () => {
    const template = copyOf("prod");
    const bucket = template.Resources[archiveId(templates.prod)];
    if (bucket === undefined) throw new Error("no archive bucket");
    (
      bucket.Properties.ObjectLockConfiguration as { Rule: { DefaultRetention: { Days: number } } }
    ).Rule.DefaultRetention.Days = 400;

    const assessment = assessEnv("prod", template);

    // 400 days satisfy PCI DSS and SOC 2 (366) but not HIPAA (2192) nor the ISO policy (1096).
    expect(control(assessment, "pci-dss", "10.5.1").met).toBe(true);
    expect(control(assessment, "soc2", "CC7.2").met).toBe(true);
    expect(control(assessment, "hipaa", "164.316(b)(2)").met).toBe(false);
    expect(evidenceFor(control(assessment, "iso27001", "A.8.15"), LOCK_DAYS)).toMatchObject({
      status: "weak",
      value: "400",
      expected: "≥ 1096 days",
    });
  });

  it("fails on GOVERNANCE mode, a missing TLS-only statement, a non-rotating key and a public bucket", () => {
    const template = copyOf("prod");
    const bucketId = archiveId(templates.prod);
    const bucket = template.Resources[bucketId];
    if (bucket === undefined) throw new Error("no archive bucket");
    (
      bucket.Properties.ObjectLockConfiguration as { Rule: { DefaultRetention: { Mode: string } } }
    ).Rule.DefaultRetention.Mode = "GOVERNANCE";
    (bucket.Properties.PublicAccessBlockConfiguration as Record<string, boolean>).RestrictPublicBuckets =
      false;
    const policyId = onlyId(
      template,
      "AWS::S3::BucketPolicy",
      (p) => (p.Bucket as { Ref?: string }).Ref === bucketId,
    );
    const policy = template.Resources[policyId]?.Properties.PolicyDocument as { Statement: unknown[] };
    policy.Statement = policy.Statement.filter(
      (statement) => !JSON.stringify(statement).includes("SecureTransport"),
    );
    for (const id of idsWhere(template, "AWS::KMS::Key", (p) => p.EnableKeyRotation === true)) {
      (template.Resources[id] as { Properties: Record<string, unknown> }).Properties.EnableKeyRotation =
        false;
    }

    const result = control(assessEnv("prod", template, ["pci-dss"]), "pci-dss", "10.3");

    expect(result.met).toBe(false);
    const statusOf = (setting: string) => evidenceFor(result, setting).status;
    expect(statusOf("ObjectLockConfiguration.Rule.DefaultRetention.Mode")).toBe("weak");
    expect(evidenceFor(result, "PublicAccessBlockConfiguration").value).toBe(
      "not set: RestrictPublicBuckets",
    );
    expect(statusOf("PolicyDocument.Statement[Deny aws:SecureTransport=false]")).toBe("missing");
    expect(statusOf("EnableKeyRotation")).toBe("weak");
  });

  it("fails when the digest key is not an ECC signing key or the detector no longer runs", () => {
    const template = copyOf("prod");
    const keyId = onlyId(template, "AWS::KMS::Key", (p) => p.KeyUsage === "SIGN_VERIFY");
    (template.Resources[keyId] as { Properties: Record<string, unknown> }).Properties.KeySpec = "RSA_2048";
    for (const id of idsWhere(template, "AWS::Events::Rule", (p) =>
      String(p.ScheduleExpression).includes("minute"),
    )) {
      delete template.Resources[id];
    }

    const assessment = assessEnv("prod", template, ["pci-dss", "iso27001"]);

    expect(evidenceFor(control(assessment, "pci-dss", "10.3"), "KeySpec")).toMatchObject({
      status: "weak",
      value: "RSA_2048",
    });
    const review = evidenceFor(control(assessment, "pci-dss", "10.4.1.1"), "ScheduleExpression");
    expect(review.status).toBe("missing");
    expect(review.value).toBe("(not in the template: the detector's schedule)");
    expect(control(assessment, "iso27001", "A.8.16").met).toBe(false);
  });

  it("cites the bootstrap's read history for PCI DSS 10.2.1.3, and fails it when the stack turns it off", () => {
    const prod = assessEnv("prod", templates.prod, ["pci-dss"]);
    const bootstrap = onlyId(templates.prod, "Custom::AuditTrailSearchBootstrap", () => true);
    expect(evidenceFor(control(prod, "pci-dss", "10.2"), "AuditReadHistory")).toMatchObject({
      status: "found",
      value: "true",
      resource: { logicalId: bootstrap },
    });
    const template = copyOf("prod");
    (template.Resources[bootstrap] as { Properties: Record<string, unknown> }).Properties.AuditReadHistory =
      false;
    const assessment = assessEnv("prod", template, ["pci-dss"]);
    expect(evidenceFor(control(assessment, "pci-dss", "10.2"), "AuditReadHistory").status).toBe("weak");
    expect(control(assessment, "pci-dss", "10.2").met).toBe(false);
  });

  it("fails PCI DSS 10.7.2 when the alarms' topic has no subscriber", () => {
    const template = copyOf("prod");
    const opsTopic = onlyId(template, "AWS::SNS::Topic", (p) => String(p.DisplayName).includes("pipeline"));
    for (const id of idsWhere(
      template,
      "AWS::SNS::Subscription",
      (p) => (p.TopicArn as { Ref?: string }).Ref === opsTopic,
    )) {
      delete template.Resources[id];
    }

    const result = control(assessEnv("prod", template, ["pci-dss"]), "pci-dss", "10.7.2");

    expect(result.met).toBe(false);
    expect(result.evidence.every((item) => item.status === "weak")).toBe(true);
    expect(result.evidence[0]?.value).toBe(`${opsTopic} (0 subscriptions)`);
  });

  it("fails GDPR Art. 32 when the transform stops pseudonymizing or keeps the raw line", () => {
    const template = copyOf("prod");
    const transformId = onlyId(
      template,
      "AWS::Lambda::Function",
      (p) =>
        (p.Environment as { Variables?: Record<string, unknown> })?.Variables
          ?.AUDIT_TRAIL_PSEUDONYMIZE_FIELDS !== undefined,
    );
    const transform = template.Resources[transformId];
    if (transform === undefined) throw new Error("no transform");
    const variables = (transform.Properties.Environment as { Variables: Record<string, string> }).Variables;
    variables.AUDIT_TRAIL_PSEUDONYMIZE_FIELDS = "user.name";
    variables.AUDIT_TRAIL_KEEP_EVENT_ORIGINAL = "true";

    const result = control(assessEnv("prod", template, ["gdpr"]), "gdpr", "Art. 32");

    expect(result.met).toBe(false);
    expect(evidenceFor(result, "Environment.Variables.AUDIT_TRAIL_PSEUDONYMIZE_FIELDS").status).toBe("weak");
    expect(evidenceFor(result, "Environment.Variables.AUDIT_TRAIL_KEEP_EVENT_ORIGINAL").status).toBe("weak");
  });

  it("fails everything, without throwing, on a template with no resources", () => {
    const assessment = assess(asTemplate({ Resources: {} }, "empty"), [
      frameworkRequest("pci-dss", configs.prod),
    ]);
    expect(assessment.failures).toHaveLength(FRAMEWORKS["pci-dss"].controls.length);
    for (const item of assessment.failures.flatMap((failure) => failure.evidence)) {
      expect(item.status).toBe("missing");
      expect(item.resource).toBeUndefined();
    }
  });
});

describe("asTemplate", () => {
  it("refuses what is not a CloudFormation template, naming the source and the fix", () => {
    expect(() => asTemplate({ foo: 1 }, "x.json")).toThrow(TemplateShapeError);
    expect(() => asTemplate({ foo: 1 }, "x.json")).toThrow(
      /x\.json: not a CloudFormation template.*cdk synth/,
    );
    expect(() => asTemplate({ Resources: { A: {} } }, "y.json")).toThrow(/y\.json: resource A has no "Type"/);
  });
});

describe("scheduleMinutes", () => {
  it.each([
    ["rate(1 minute)", 1],
    ["rate(5 minutes)", 5],
    ["rate(1 hour)", 60],
    ["rate(2 days)", 2880],
    ["cron(0 3 * * ? *)", 1440],
    ["every day", Number.POSITIVE_INFINITY],
    [undefined, Number.POSITIVE_INFINITY],
  ])("%s is %d minutes apart", (expression, minutes) => {
    expect(scheduleMinutes(expression)).toBe(minutes);
  });
});
