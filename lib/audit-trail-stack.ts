import { Annotations, Aws, CfnOutput, Duration, Stack, type StackProps, Tags } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as logs from "aws-cdk-lib/aws-logs";
import type { Construct } from "constructs";
import { ARCHIVE_PREFIXES, STACK_OUTPUTS } from "../lambdas/core/contracts.js";
import { Alerting } from "./alerting.js";
import { AuditArchive } from "./archive.js";
import { AuditTrailConfigError } from "./config/errors.js";
import { frameworkRequest } from "./config/framework-request.js";
import type { EnvironmentConfig } from "./config/schema.js";
import { AuditDetection } from "./detection.js";
import { AuditIngestion } from "./ingestion.js";
import { AuditKeys } from "./keys.js";
import { PipelineMonitoring } from "./monitoring.js";
import { AuditNetwork } from "./network.js";
import { acknowledgeAll, compliancePackIds } from "./private/nag.js";
import { ProducerAccess } from "./producer-access.js";
import { AuditReview } from "./review.js";
import { SearchBootstrap } from "./search-bootstrap.js";
import { SearchDomain } from "./search-domain.js";
import { TamperEvidence } from "./tamper-evidence.js";

export interface AuditTrailStackProps extends StackProps {
  /** The validated environment (`loadEnvironmentConfig`). */
  readonly config: EnvironmentConfig;
}

/**
 * The whole audit trail for one environment, composed from one construct per concern. No logic here beyond
 * wiring config values into construct props.
 */
export class AuditTrailStack extends Stack {
  public readonly archive: AuditArchive;
  public readonly search: SearchDomain;
  public readonly ingestion: AuditIngestion;
  public readonly alerting: Alerting;
  public readonly detection: AuditDetection;
  public readonly monitoring: PipelineMonitoring;
  public readonly tamperEvidence: TamperEvidence;
  /** The break-glass role the key policies name (`keys.breakGlassRoleName`, or its default). */
  public readonly breakGlassRoleName: string;
  public readonly producer: ProducerAccess;
  /** Role the detector function runs as (named in the domain's access policy and mapped in OpenSearch by the bootstrap). */
  public readonly detectorRole: iam.Role;
  /** The scheduled weekly review (reports under the archive's reports/ prefix, summary to the ops topic). */
  public readonly review: AuditReview;

  private readonly configuredAvailabilityZones: readonly string[] | undefined;

  constructor(scope: Construct, id: string, props: AuditTrailStackProps) {
    super(scope, id, props);
    const config = props.config;
    this.configuredAvailabilityZones =
      config.network.type === "vpc" && config.network.existingVpc === undefined
        ? config.network.availabilityZones
        : undefined;
    Tags.of(this).add("application", "mesh-audit-trail");
    Tags.of(this).add("environment", config.name);
    for (const [key, value] of Object.entries(config.tags)) Tags.of(this).add(key, value);
    for (const warning of config.warnings) Annotations.of(this).addWarningV2("audit-trail:config", warning);

    const logRetention = config.retention.logRetentionDays as logs.RetentionDays;
    this.breakGlassRoleName = config.keys.breakGlassRoleName ?? `audit-trail-break-glass-${config.name}`;
    const keys = new AuditKeys(this, "Keys", { breakGlassRoleName: this.breakGlassRoleName });

    const network =
      config.network.type === "vpc"
        ? new AuditNetwork(this, "Network", {
            cidr: config.network.cidr,
            maxAzs: config.network.maxAzs,
            availabilityZones: config.network.availabilityZones,
            natGateways: config.network.natGateways,
            existingVpc: config.network.existingVpc,
            logsKey: keys.logsKey,
            logRetention,
          })
        : undefined;
    const placement =
      network === undefined
        ? {}
        : {
            vpc: network.vpc,
            vpcSubnets: network.privateSubnets,
            securityGroups: [network.clientSecurityGroup],
          };

    this.archive = new AuditArchive(this, "Archive", {
      encryptionKey: keys.dataKey,
      retention: Duration.days(config.retention.archiveDays),
      transitions: config.retention.archiveTransitions,
      stagingExpiration: Duration.days(config.retention.stagingExpirationDays),
      stagingBucketName: stagingBucketName(config.name),
    });

    const lambdaPrincipal = new iam.ServicePrincipal("lambda.amazonaws.com");
    const bootstrapRole = new iam.Role(this, "SearchMasterRole", {
      assumedBy: lambdaPrincipal,
      description:
        "mesh-audit-trail: OpenSearch fine-grained-access master (the bootstrap function runs as it)",
    });
    this.detectorRole = new iam.Role(this, "DetectorRole", {
      assumedBy: lambdaPrincipal,
      description: "mesh-audit-trail: detector function (reads tagged documents, writes alerts)",
    });
    const reviewerRole = new iam.Role(this, "ReviewerRole", {
      assumedBy: lambdaPrincipal,
      description:
        "mesh-audit-trail: weekly review function (reads audit documents and alerts, stores reports)",
    });

    const domainName = config.search.domainName ?? `audit-trail-${config.name}`.slice(0, 28);
    this.search = new SearchDomain(this, "Search", {
      domainName,
      engineVersion: config.search.engineVersion,
      dataNodeInstanceType: config.search.instanceType,
      dataNodes: config.search.instanceCount,
      dedicatedMaster: config.search.dedicatedMaster,
      ultraWarm: config.search.ultraWarm,
      coldStorage: config.search.coldStorage,
      ebsVolumeSizeGiB: config.search.ebsVolumeSizeGiB,
      ebsIops: config.search.ebsIops,
      ebsThroughputMiBps: config.search.ebsThroughputMiBps,
      availabilityZoneCount: config.search.zoneAwareness?.availabilityZoneCount,
      encryptionKey: keys.dataKey,
      logsKey: keys.logsKey,
      logRetention,
      masterRole: bootstrapRole,
      vpc: network?.vpc,
      vpcSubnets: network?.privateSubnets,
      securityGroups: network === undefined ? undefined : [network.domainSecurityGroup],
      allowedCidrs: config.network.type === "public" ? config.network.allowedCidrs : undefined,
    });
    const domain = this.search.domain;

    this.ingestion = new AuditIngestion(this, "Ingestion", {
      domain,
      stagingBucket: this.archive.stagingBucket,
      encryptionKey: keys.dataKey,
      logsKey: keys.logsKey,
      logRetention,
      bufferingInterval: Duration.seconds(config.firehose.bufferingIntervalSeconds),
      bufferingSizeMiB: config.firehose.bufferingSizeMiB,
      retryDuration: Duration.seconds(config.firehose.retryDurationSeconds),
      ruleOverrides: config.detection.ruleOverrides,
      keepEventOriginal: config.transform.keepEventOriginal,
      transformConcurrency: config.concurrency.transform,
      pseudonymizeFields: config.pseudonymization?.fields,
      pseudonymizationKey: config.pseudonymization?.key,
      eksAuditLogs: config.eksClusters.map((cluster) => ({
        clusterName: cluster.name,
        logGroupName: cluster.auditLogGroupName ?? `/aws/eks/${cluster.name}/cluster`,
      })),
      ...placement,
    });

    for (const role of [bootstrapRole, this.ingestion.firehoseRole, this.detectorRole, reviewerRole])
      this.search.allowAccess(role);
    if (config.analystRoleArn !== undefined) this.search.allowAccessFromAllowList(config.analystRoleArn);

    const bootstrap = new SearchBootstrap(this, "SearchBootstrap", {
      domain,
      masterRole: bootstrapRole,
      hotDays: config.retention.hotDays,
      warmDays: config.retention.warmDays,
      coldDays: config.retention.coldDays,
      ultraWarmEnabled: config.search.ultraWarm !== undefined,
      coldStorageEnabled: config.search.coldStorage,
      indexEventOriginal: config.transform.indexEventOriginal,
      indexCodec: config.search.indexCodec,
      sourceExcludes: config.search.sourceExcludes,
      shardCount: config.search.shardCount,
      replicaCount: config.search.replicaCount,
      firehoseRole: this.ingestion.firehoseRole,
      detectorRole: this.detectorRole,
      reviewerRole,
      analystRoleArn: config.analystRoleArn,
      logsKey: keys.logsKey,
      encryptionKey: keys.dataKey,
      logRetention,
      ...placement,
    });
    // Index template and ISM policy must exist before the first document creates an index.
    this.ingestion.deliveryStream.node.addDependency(bootstrap.resource);

    this.tamperEvidence = new TamperEvidence(this, "TamperEvidence", {
      archive: this.archive,
      encryptionKey: keys.dataKey,
      logsKey: keys.logsKey,
      logRetention,
      digestPeriod: Duration.minutes(config.tamperEvidence.digestPeriodMinutes),
      archiverConcurrency: config.concurrency.archiver,
      ...placement,
    });

    this.alerting = new Alerting(this, "Alerting", {
      encryptionKey: keys.dataKey,
      severities: {
        critical: config.alerts.critical,
        high: config.alerts.high,
        medium: config.alerts.medium,
        low: config.alerts.low,
      },
      ops: config.alerts.ops,
    });
    keys.guard(this.tamperEvidence.signingKey);
    keys.notifyKeyAdministration(this.alerting.opsTopic);
    this.tamperEvidence.alarmOnChainIntegrity(this.alerting.opsTopic);

    this.detection = new AuditDetection(this, "Detection", {
      environmentName: config.name,
      domain,
      topics: { ...this.alerting.topics, ops: this.alerting.opsTopic },
      encryptionKey: keys.dataKey,
      logsKey: keys.logsKey,
      logRetention,
      role: this.detectorRole,
      ruleOverrides: config.detection.ruleOverrides,
      runbookBaseUrl: config.alerts.runbookBaseUrl,
      // A record is searchable at most this long after Firehose received it: buffering, every retry, a minute more.
      ingestLag: Duration.seconds(
        config.firehose.bufferingIntervalSeconds + config.firehose.retryDurationSeconds + 60,
      ),
      ...placement,
    });
    // The detector's first run needs its OpenSearch role mapping and the alerts index template.
    this.detection.schedule.node.addDependency(bootstrap.resource);

    this.review = new AuditReview(this, "Review", {
      environmentName: config.name,
      domain,
      archiveBucket: this.archive.archiveBucket,
      archiveKey: keys.dataKey,
      digestSigningKey: this.tamperEvidence.signingKey,
      digestPeriod: Duration.minutes(config.tamperEvidence.digestPeriodMinutes),
      opsTopic: this.alerting.opsTopic,
      opsTopicKey: keys.dataKey,
      encryptionKey: keys.dataKey,
      logsKey: keys.logsKey,
      logRetention,
      role: reviewerRole,
      certificateRotationHours: config.detection.certificateRotationHours,
      complianceRequests: config.compliance.frameworks.map((framework) =>
        frameworkRequest(framework, config),
      ),
      ...placement,
    });
    // The review reads through its OpenSearch role mapping, which the bootstrap creates.
    this.review.schedule.node.addDependency(bootstrap.resource);

    this.producer = new ProducerAccess(this, "Producer", {
      clusters: [...config.eksClusters, ...config.producerClusters].map((cluster) =>
        cluster.producerIdentity.type === "irsa"
          ? { name: cluster.name, identity: "irsa" as const, oidcIssuer: cluster.producerIdentity.oidcIssuer }
          : { name: cluster.name, identity: "pod-identity" as const },
      ),
      namespace: config.producer.namespace,
      serviceAccountName: config.producer.serviceAccountName,
      grant: (grantee) => this.ingestion.grantPutRecords(grantee),
    });

    this.monitoring = new PipelineMonitoring(this, "Monitoring", {
      opsTopic: this.alerting.opsTopic,
      ingestion: this.ingestion,
      domain,
      dedicatedMasters: config.search.dedicatedMaster !== undefined,
      ebsVolumeSizeGiB: config.search.ebsVolumeSizeGiB,
      functions: [
        {
          label: "Transform",
          function: this.ingestion.transformFunction,
          timeout: this.ingestion.transformTimeout,
        },
        {
          label: "Archiver",
          function: this.tamperEvidence.archiverFunction,
          timeout: this.tamperEvidence.archiverTimeout,
        },
        {
          label: "DigestWriter",
          function: this.tamperEvidence.digestWriterFunction,
          timeout: this.tamperEvidence.digestWriterTimeout,
        },
        { label: "Review", function: this.review.reviewFunction, timeout: Duration.minutes(10) },
      ],
      detection: this.detection,
      queues: [{ label: "Archive", queue: this.tamperEvidence.archiveQueue, maxAge: Duration.hours(1) }],
      deadLetterQueues: [
        { label: "Archive", queue: this.tamperEvidence.archiveDeadLetterQueue },
        { label: "Digest", queue: this.tamperEvidence.digestDeadLetterQueue },
      ],
    });

    // Inline policies are what aws-cdk-lib grants produce: one per role, scoped to the resources that role uses.
    for (const node of this.node.findAll()) {
      if (node instanceof iam.CfnPolicy) {
        acknowledgeAll(
          node,
          compliancePackIds("IAMNoInlinePolicy"),
          "This policy belongs to one role of one function or service of this stack; aws-cdk-lib grant methods generate it from the resources that role touches, and it changes only through this stack's reviewed deployments. A reusable managed policy would widen, not narrow, access.",
        );
      }
    }

    new CfnOutput(this, STACK_OUTPUTS.deliveryStreamName, {
      value: this.ingestion.deliveryStreamName,
      description: "Firehose stream Fluent Bit ships to (kinesis_firehose output: delivery_stream)",
    });
    new CfnOutput(this, STACK_OUTPUTS.region, {
      value: this.region,
      description: "Region of the stream (kinesis_firehose: region)",
    });
    new CfnOutput(this, "ProducerRoleArn", {
      value: this.producer.role.roleArn,
      description: "Role Fluent Bit assumes (IRSA annotation or Pod Identity association)",
    });
    new CfnOutput(this, STACK_OUTPUTS.domainEndpoint, {
      value: domain.domainEndpoint,
      description: "OpenSearch endpoint (HTTPS)",
    });
    new CfnOutput(this, "DashboardsUrl", {
      value: `https://${domain.domainEndpoint}/_dashboards/`,
      description: "OpenSearch Dashboards",
    });
    for (const [severity, topic] of Object.entries(this.alerting.topics)) {
      new CfnOutput(this, `${severity[0]?.toUpperCase()}${severity.slice(1)}AlertsTopicArn`, {
        value: topic.topicArn,
        description: `SNS topic for ${severity} alerts`,
      });
    }
    new CfnOutput(this, STACK_OUTPUTS.opsTopicArn, {
      value: this.alerting.opsTopic.topicArn,
      description: "SNS topic for pipeline alarms",
    });
    new CfnOutput(this, STACK_OUTPUTS.detectorFunctionName, {
      value: this.detection.detectorFunction.functionName,
      description: "Detector function (its logs and metrics show each detection run)",
    });
    new CfnOutput(this, "DetectorStateTableName", {
      value: this.detection.stateTable.tableName,
      description: "DynamoDB table holding the detector's watermark",
    });
    new CfnOutput(this, STACK_OUTPUTS.archiveBucketName, {
      value: this.archive.archiveBucket.bucketName,
      description: "Object Lock archive (COMPLIANCE mode)",
    });
    new CfnOutput(this, "StagingBucketName", {
      value: this.archive.stagingBucket.bucketName,
      description: `Firehose's backup bucket: documents before archiving, and under errors/ what was not indexed (${ARCHIVE_PREFIXES.processingFailed}: records the transform could not parse)`,
    });
    new CfnOutput(this, STACK_OUTPUTS.digestSigningKeyArn, {
      value: this.tamperEvidence.signingKey.keyArn,
      description: "Asymmetric key whose public key verifies the archive digests",
    });
  }

  /**
   * The configured AZs when the environment lists them: with account and region set, aws-cdk-lib would otherwise
   * look the region's AZs up in the account, and synth must work offline.
   */
  public override get availabilityZones(): string[] {
    return this.configuredAvailabilityZones === undefined
      ? super.availabilityZones
      : [...this.configuredAvailabilityZones];
  }
}

/**
 * The staging bucket's fixed name, unique per environment, account and region: `mat-<environment>-staging-<account>-
 * <region>` (at most 63 characters with the longest region names).
 */
function stagingBucketName(environmentName: string): string {
  const name = environmentName.toLowerCase().replace(/[^a-z0-9-]+/g, "-");
  if (name.length > 20 || !/^[a-z0-9]/.test(name)) {
    throw new AuditTrailConfigError({
      environment: environmentName,
      configKey: "name",
      value: environmentName,
      problem:
        "names the staging bucket (mat-<name>-staging-<account>-<region>), which allows at most 20 characters starting with a letter or digit",
      fix: "choose a shorter environment name",
    });
  }
  return `mat-${name}-staging-${Aws.ACCOUNT_ID}-${Aws.REGION}`;
}
