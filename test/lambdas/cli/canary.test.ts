import {
  CloudFormationClient,
  CloudFormationServiceException,
  DescribeStacksCommand,
} from "@aws-sdk/client-cloudformation";
import {
  FirehoseClient,
  PutRecordBatchCommand,
  type PutRecordBatchCommandInput,
} from "@aws-sdk/client-firehose";
import { mockClient } from "aws-sdk-client-mock";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type CanaryCommandDependencies, runCanaryCommand } from "../../../lambdas/cli/commands/canary.js";
import type { CanaryReport, CanarySearch } from "../../../lambdas/core/canary/index.js";
import { buildCanaryRecords, canaryRunId } from "../../../lambdas/core/canary/index.js";
import { normalizeRecord } from "../../../lambdas/core/normalize/index.js";
import { defaultRulesDir, loadRulePack } from "../../../lambdas/core/rules/load.js";
import type { RulePack } from "../../../lambdas/core/rules/types.js";
import { FakeClock, FakePipeline, type PipelineScenario } from "../core/canary/fake-pipeline.js";
import { captureProcessOutput } from "./helpers.js";

const T0 = Date.parse("2026-03-02T14:00:00.000Z");
const OUTPUTS = {
  DeliveryStreamName: "AuditTrail-dev-IngestionStream1A2B3C",
  Region: "eu-west-1",
  DomainEndpoint: "search-audit-trail-dev-abc123.eu-west-1.es.amazonaws.com",
  DashboardsUrl: "https://search-audit-trail-dev-abc123.eu-west-1.es.amazonaws.com/_dashboards/",
  OpsTopicArn: "arn:aws:sns:eu-west-1:111122223333:AuditTrail-dev-OpsTopic",
  DetectorFunctionName: "AuditTrail-dev-DetectorFunction",
};

const cloudFormation = mockClient(CloudFormationClient);
const firehose = mockClient(FirehoseClient);
let pack: RulePack;
const { out, err } = captureProcessOutput();
let clock: FakeClock;
let pipeline: FakePipeline;
let firehoseRegions: string[];
let searchTargets: string[];

beforeAll(async () => {
  pack = await loadRulePack([defaultRulesDir()]);
});

beforeEach(() => {
  cloudFormation.reset();
  firehose.reset();
  clock = new FakeClock(T0);
  firehoseRegions = [];
  searchTargets = [];
  stackWithOutputs(OUTPUTS);
});

function stackWithOutputs(outputs: Record<string, string>): void {
  cloudFormation.on(DescribeStacksCommand, { StackName: "AuditTrail-dev" }).resolves({
    Stacks: [
      {
        StackName: "AuditTrail-dev",
        StackStatus: "UPDATE_COMPLETE",
        CreationTime: new Date(T0 - 86_400_000),
        Outputs: Object.entries(outputs).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
      },
    ],
  });
}

/** Firehose accepts every record and hands it to the fake pipeline. */
function firehoseAcceptsAll(): void {
  firehose.on(PutRecordBatchCommand).callsFake((input: PutRecordBatchCommandInput) => accept(input));
}

function accept(input: PutRecordBatchCommandInput, refuse: (index: number) => boolean = () => false) {
  const records = input.Records ?? [];
  const accepted = records.filter((_, index) => !refuse(index));
  pipeline.accept(
    accepted.map((record) => new TextDecoder().decode(record.Data)),
    clock.now(),
  );
  return {
    FailedPutCount: records.length - accepted.length,
    Encrypted: true,
    RequestResponses: records.map((_, index) =>
      refuse(index)
        ? { ErrorCode: "ServiceUnavailableException", ErrorMessage: "Slow down." }
        : { RecordId: `record-${index}` },
    ),
  };
}

function deps(scenario: PipelineScenario = {}, search?: CanarySearch): CanaryCommandDependencies {
  pipeline = new FakePipeline(pack, clock, scenario);
  return {
    cloudFormation: (region) => new CloudFormationClient({ region: region ?? "eu-west-1" }),
    firehose: (region) => {
      firehoseRegions.push(region);
      return new FirehoseClient({ region });
    },
    search: (endpoint, region) => {
      searchTargets.push(`${endpoint} ${region}`);
      return search ?? pipeline;
    },
    clock,
    randomHex: () => "3f9a1c",
  };
}

function sentRecords(call: number): string[] {
  const input = firehose.commandCalls(PutRecordBatchCommand)[call]?.args[0].input;
  return (input?.Records ?? []).map((record) => new TextDecoder().decode(record.Data));
}

function datasetOf(data: string): string | undefined {
  const normalized = normalizeRecord(data);
  return normalized.ok ? normalized.documents[0]?.event.dataset : undefined;
}

function jsonReport(): CanaryReport {
  return JSON.parse(out.join("")) as CanaryReport;
}

describe("audit-trail canary", () => {
  it("exits 0 and reports each source's latency and the published alert when everything arrives", async () => {
    // Prepare
    const dependencies = deps();
    firehoseAcceptsAll();

    // Act
    const status = await runCanaryCommand(["-c", "env=dev"], dependencies);

    // Assess
    expect(status).toBe(0);
    const text = out.join("");
    for (const source of ["istio", "linkerd", "hubble", "consul", "k8s-audit"]) {
      // Searchable 65 s after sending; found by the poll at 70 s (polls every 10 s).
      expect(text).toMatch(
        new RegExp(`^${source} +\\S+ +2026-03-02T14:00:00.000Z +2026-03-02T14:01:10.000Z +70.0 s$`, "m"),
      );
    }
    expect(text).toMatch(/^canary alerts: 2 published; end to end 125.0 s$/m);
    expect(text).toMatch(
      /^ {2}[0-9a-f]{16}… +published +2026-03-02T14:02:05.000Z +ops +sns-[0-9a-f]{12} +istio.access, linkerd.access, consul.access, kubernetes.audit$/m,
    );
    expect(text).toMatch(
      /^ {2}[0-9a-f]{16}… +published +2026-03-02T14:02:05.000Z +ops +sns-[0-9a-f]{12} +cilium.flow$/m,
    );
    expect(text).toContain("OK: 5 records searchable and 2 canary alert(s) published within 360 s");
    expect(text).toContain("Delivery to the ops topic's subscribers");
    expect(sentRecords(0).map(datasetOf)).toEqual([
      "istio.access",
      "linkerd.access",
      "cilium.flow",
      "consul.access",
      "kubernetes.audit",
    ]);
    expect(firehose.commandCalls(PutRecordBatchCommand)[0]?.args[0].input.DeliveryStreamName).toBe(
      OUTPUTS.DeliveryStreamName,
    );
    expect(firehoseRegions).toEqual(["eu-west-1"]);
    expect(searchTargets).toEqual([`${OUTPUTS.DomainEndpoint} eu-west-1`]);
    expect(err.join("")).toContain("canary: hubble searchable after 70.0 s");
  });

  it("prints the same report as one JSON object with --json", async () => {
    // Prepare
    const dependencies = deps();
    firehoseAcceptsAll();

    // Act
    const status = await runCanaryCommand(["--env", "dev", "--json"], dependencies);

    // Assess
    expect(status).toBe(0);
    const report = jsonReport();
    expect(report).toMatchObject({
      ok: true,
      runId: "20260302-140000-3f9a1c",
      timeoutSeconds: 360,
      problems: [],
      context: { environment: "dev", stack: "AuditTrail-dev", region: "eu-west-1" },
      alert: { status: "published", publishedAt: "2026-03-02T14:02:05.000Z", endToEndSeconds: 125 },
    });
    expect(report.sources.map((source) => [source.source, source.status, source.latencySeconds])).toEqual([
      ["istio", "searchable", 70],
      ["linkerd", "searchable", 70],
      ["hubble", "searchable", 70],
      ["consul", "searchable", 70],
      ["k8s-audit", "searchable", 70],
    ]);
    expect(report.sources[0]).toMatchObject({
      receivedAt: "2026-03-02T14:00:00.000Z",
      index: "audit-2026-03-02",
      taggedByCanaryRule: true,
    });
    expect(report.alert.alerts.map((alert) => [alert.topic, alert.datasets.length])).toEqual([
      ["ops", 4],
      ["ops", 1],
    ]);
  });

  it("exits 1 naming the source that never becomes searchable, ignoring another run's record", async () => {
    // Prepare: a Hubble record of an earlier canary run is in the index; this run's never arrives.
    const earlierRun = buildCanaryRecords({ runId: canaryRunId(T0 - 600_000, "aaaaaa"), nowMs: T0 });
    const earlierHubble = normalizeRecord(earlierRun[2]?.data ?? "");
    if (!earlierHubble.ok) throw new Error(earlierHubble.reason);
    const dependencies = deps({
      searchableAfterMs: { "cilium.flow": null },
      otherDocuments: earlierHubble.documents,
    });
    firehoseAcceptsAll();

    // Act
    const status = await runCanaryCommand(["-c", "env=dev", "--timeout", "6m"], dependencies);

    // Assess
    expect(status).toBe(1);
    const text = out.join("");
    expect(text).toMatch(/^hubble +cilium\.flow +2026-03-02T14:00:00\.000Z +not searchable$/m);
    expect(text).toContain(
      "hubble: sent at 2026-03-02T14:00:00.000Z but not searchable within 360 s: stopped between Firehose and OpenSearch",
    );
    expect(text).toContain("errors/processing-failed/");
    expect(text).not.toMatch(/^ +- (istio|linkerd|consul|k8s-audit):/m);
    // The alert of the four that arrived was published; the run still waited out the timeout for Hubble.
    expect(text).toMatch(/^canary alerts: 1 published; end to end 125.0 s$/m);
    expect(clock.now() - T0).toBe(360_000);
  });

  it("retries the records Firehose refused, with backoff, and succeeds", async () => {
    // Prepare: the first batch loses Linkerd and Consul to throttling.
    const dependencies = deps();
    firehose
      .on(PutRecordBatchCommand)
      .callsFakeOnce((input: PutRecordBatchCommandInput) =>
        accept(input, (index) => index === 1 || index === 3),
      )
      .callsFake((input: PutRecordBatchCommandInput) => accept(input));

    // Act
    const status = await runCanaryCommand(["-c", "env=dev", "--json"], dependencies);

    // Assess
    expect(status).toBe(0);
    expect(firehose.commandCalls(PutRecordBatchCommand)).toHaveLength(2);
    expect(sentRecords(1).map(datasetOf)).toEqual(["linkerd.access", "consul.access"]);
    expect(clock.sleeps[0]).toBe(500);
    const report = jsonReport();
    expect(report.sources.map((source) => [source.source, source.sendAttempts, source.sentAt])).toEqual([
      ["istio", 1, "2026-03-02T14:00:00.000Z"],
      ["linkerd", 2, "2026-03-02T14:00:00.500Z"],
      ["hubble", 1, "2026-03-02T14:00:00.000Z"],
      ["consul", 2, "2026-03-02T14:00:00.500Z"],
      ["k8s-audit", 1, "2026-03-02T14:00:00.000Z"],
    ]);
  });

  it("exits 1 naming the record Firehose kept refusing, after every attempt", async () => {
    // Prepare: Consul's record is refused on each of the 4 attempts.
    const dependencies = deps();
    let call = 0;
    firehose.on(PutRecordBatchCommand).callsFake((input: PutRecordBatchCommandInput) => {
      call++;
      return accept(input, (index) => (call === 1 ? index === 3 : true));
    });

    // Act
    const status = await runCanaryCommand(["-c", "env=dev"], dependencies);

    // Assess
    expect(status).toBe(1);
    expect(firehose.commandCalls(PutRecordBatchCommand)).toHaveLength(4);
    expect(clock.sleeps.slice(0, 3)).toEqual([500, 1000, 2000]);
    const text = out.join("");
    expect(text).toContain(
      `consul: not sent to ${OUTPUTS.DeliveryStreamName} (ServiceUnavailableException: Slow down., 4 attempt(s))`,
    );
    expect(text).toMatch(/^consul +consul\.access +not sent$/m);
  });

  it("reports the alert stuck pending when it is indexed but never published", async () => {
    // Prepare
    const dependencies = deps({ publish: "pending" });
    firehoseAcceptsAll();

    // Act
    const status = await runCanaryCommand(["-c", "env=dev"], dependencies);

    // Assess
    expect(status).toBe(1);
    const text = out.join("");
    expect(text).toMatch(/^canary alerts: 2 of 2 not published$/m);
    expect(text).toMatch(
      /canary alert [0-9a-f]+: indexed but not published after 360 s \(status pending, 3 publish attempt\(s\), last error: AuthorizationError: User is not authorized/,
    );
    expect(text).toContain(`${OUTPUTS.DetectorFunctionName} may sns:Publish to ${OUTPUTS.OpsTopicArn}`);
    expect(text).not.toMatch(/not searchable/);
  });

  it("reports what to check when OpenSearch refuses the search", async () => {
    // Prepare
    const refusing: CanarySearch = {
      search: async () => {
        throw Object.assign(new Error("Response Error"), {
          name: "ResponseError",
          meta: { statusCode: 403 },
        });
      },
    };
    const dependencies = deps({}, refusing);
    firehoseAcceptsAll();

    // Act
    const status = await runCanaryCommand(["-c", "env=dev"], dependencies);

    // Assess
    expect(status).toBe(1);
    expect(out.join("")).toContain(
      "stopped watching after a failed search: CanarySearchError: OpenSearch at search-audit-trail-dev-abc123.eu-west-1.es.amazonaws.com refused the search",
    );
    expect(out.join("")).toContain("analystRoleArn");
  });

  it("exits 2 with the stack and the fix when the stack does not exist, sending nothing", async () => {
    // Prepare
    const dependencies = deps();
    cloudFormation.on(DescribeStacksCommand).rejects(
      new CloudFormationServiceException({
        name: "ValidationError",
        $fault: "client",
        $metadata: { httpStatusCode: 400 },
        message: "Stack with id AuditTrail-dev does not exist",
      }),
    );

    // Act
    const status = await runCanaryCommand(["-c", "env=dev", "--region", "eu-west-1"], dependencies);

    // Assess
    expect(status).toBe(2);
    expect(err.join("")).toContain(
      "audit-trail canary: stack AuditTrail-dev not found in eu-west-1: deploy it (npx cdk deploy -c env=dev), or pass --region where it is deployed",
    );
    expect(firehose.commandCalls(PutRecordBatchCommand)).toHaveLength(0);
  });

  it("exits 2 asking for --region when neither the environment nor the AWS configuration names one", async () => {
    // Prepare
    const dependencies = deps();
    cloudFormation.on(DescribeStacksCommand).rejects(new Error("Region is missing"));

    // Act
    const status = await runCanaryCommand(["-c", "env=dev"], dependencies);

    // Assess
    expect(status).toBe(2);
    expect(err.join("")).toContain(
      'cannot read stack AuditTrail-dev in the region of your AWS configuration: Region is missing; environment "dev" names no region, pass --region REGION',
    );
  });

  it("exits 2 naming the missing output, sending nothing", async () => {
    // Prepare
    const dependencies = deps();
    const { DomainEndpoint: _removed, ...withoutEndpoint } = OUTPUTS;
    cloudFormation.reset();
    stackWithOutputs(withoutEndpoint);

    // Act
    const status = await runCanaryCommand(["-c", "env=dev"], dependencies);

    // Assess
    expect(status).toBe(2);
    expect(err.join("")).toContain("stack AuditTrail-dev (UPDATE_COMPLETE) has no output DomainEndpoint");
    expect(firehose.commandCalls(PutRecordBatchCommand)).toHaveLength(0);
  });

  it("checks and prints the records without any AWS call with --dry-run", async () => {
    // Prepare
    const dependencies = deps();

    // Act
    const status = await runCanaryCommand(["-c", "env=prod", "--dry-run"], dependencies);

    // Assess
    expect(status).toBe(0);
    const lines = out.join("").trimEnd().split("\n");
    expect(lines.map(datasetOf)).toEqual([
      "istio.access",
      "linkerd.access",
      "cilium.flow",
      "consul.access",
      "kubernetes.audit",
    ]);
    // prod's trust domain, so the Linkerd identity is not a foreign caller there.
    expect(lines[1]).toContain(
      "canary.mesh-audit-trail-canary.serviceaccount.identity.linkerd.prod.example.com",
    );
    expect(cloudFormation.calls()).toHaveLength(0);
    expect(firehose.calls()).toHaveLength(0);
  });

  it("prints the dry run as one JSON document with --json", async () => {
    // Act
    const status = await runCanaryCommand(["-c", "env=prod", "--dry-run", "--json"], deps());

    // Assess
    expect(status).toBe(0);
    const report = JSON.parse(out.join("")) as {
      dryRun: boolean;
      environment: string;
      runId: string;
      records: { source: string; dataset: string; data: string }[];
    };
    expect(report.dryRun).toBe(true);
    expect(report.environment).toBe("prod");
    expect(report.runId).toMatch(/^\d{8}-\d{6}-[0-9a-f]{6}$/);
    expect(report.records.map((record) => record.dataset)).toEqual([
      "istio.access",
      "linkerd.access",
      "cilium.flow",
      "consul.access",
      "kubernetes.audit",
    ]);
    expect(report.records.map((record) => datasetOf(record.data))).toEqual(
      report.records.map((record) => record.dataset),
    );
  });

  it.each([
    [[], "no environment selected; pass -c env=NAME (one of dev, prod, staging)"],
    [
      ["-c", "env=qa"],
      'env (CDK context) is "qa"; unknown environment; valid environments: dev, prod, staging',
    ],
    [["-c", "region=eu-west-1"], "-c region=eu-west-1: only -c env=NAME is understood"],
    [["-c", "env=dev", "--timeout", "soon"], "--timeout soon: not a duration"],
    [["-c", "env=dev", "--interval", "20m"], "--interval 20m is longer than the timeout (360 s)"],
  ])("exits 2 on a usage error: %j", async (argv, message) => {
    // Act
    const status = await runCanaryCommand(argv, deps());

    // Assess
    expect(status).toBe(2);
    expect(err.join("")).toContain(message);
    expect(cloudFormation.calls()).toHaveLength(0);
  });
});
