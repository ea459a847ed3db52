/**
 * Reading a synthesized CloudFormation template (the parsed JSON object): resources by type, references between
 * them, and the parts of this stack that compliance evidence is drawn from. Parts are found by the references the
 * stack itself wires (the Firehose processor's Lambda, the digest writer's bucket variable, an alarm's action), not
 * by logical-id spelling, so a renamed construct is still found and a removed setting reads as missing.
 */
import { DETECTOR_ENV, DIGEST_WRITER_ENV, REVIEWER_ENV, TRANSFORM_ENV } from "../contracts.js";

export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly DeletionPolicy?: string;
  readonly UpdateReplacePolicy?: string;
}

/** The parts of a CloudFormation template this module reads. */
export interface CfnTemplate {
  readonly Resources?: Record<string, CfnResource>;
  readonly Description?: string;
}

/** A resource with its logical id. */
export interface Located {
  readonly logicalId: string;
  readonly type: string;
  readonly properties: Record<string, unknown>;
  readonly resource: CfnResource;
}

export class TemplateShapeError extends Error {
  override readonly name = "TemplateShapeError";
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Checks that a parsed JSON value looks like a CloudFormation template (`Resources` an object of typed entries). */
export function asTemplate(value: unknown, source: string): CfnTemplate {
  if (!isRecord(value) || !isRecord(value.Resources)) {
    throw new TemplateShapeError(
      `${source}: not a CloudFormation template (no "Resources" object); pass the JSON template cdk synth writes (cdk.out/AuditTrail-<env>.template.json)`,
    );
  }
  for (const [id, resource] of Object.entries(value.Resources)) {
    if (!isRecord(resource) || typeof resource.Type !== "string") {
      throw new TemplateShapeError(`${source}: resource ${id} has no "Type"; the template is damaged`);
    }
  }
  return value as CfnTemplate;
}

function locate(logicalId: string, resource: CfnResource): Located {
  return { logicalId, type: resource.Type, properties: resource.Properties ?? {}, resource };
}

/** Every resource of `type`, in template order. */
export function resourcesOfType(template: CfnTemplate, type: string): Located[] {
  return Object.entries(template.Resources ?? {})
    .filter(([, resource]) => resource.Type === type)
    .map(([id, resource]) => locate(id, resource));
}

export function resourceById(template: CfnTemplate, logicalId: string | undefined): Located | undefined {
  if (logicalId === undefined) return undefined;
  const resource = template.Resources?.[logicalId];
  return resource === undefined ? undefined : locate(logicalId, resource);
}

/** The value at a dotted path (`ObjectLockConfiguration.Rule.DefaultRetention.Days`) of an object. */
export function valueAt(source: unknown, path: string): unknown {
  let current: unknown = source;
  for (const part of path.split(".")) {
    if (!isRecord(current)) return undefined;
    current = current[part];
  }
  return current;
}

/** The logical id a `{ Ref }` or `{ "Fn::GetAtt": [id, attr] }` points at; undefined for anything else. */
export function referencedId(value: unknown): string | undefined {
  if (!isRecord(value)) return undefined;
  if (typeof value.Ref === "string") return value.Ref;
  const getAtt = value["Fn::GetAtt"];
  if (Array.isArray(getAtt) && typeof getAtt[0] === "string") return getAtt[0];
  if (typeof getAtt === "string") return getAtt.split(".")[0];
  return undefined;
}

/** Every logical id referenced anywhere inside a value (through Ref, GetAtt, Join, Sub arrays…). */
export function referencedIds(value: unknown): Set<string> {
  const found = new Set<string>();
  const walk = (node: unknown): void => {
    const direct = referencedId(node);
    if (direct !== undefined) found.add(direct);
    if (Array.isArray(node)) for (const item of node) walk(item);
    else if (isRecord(node)) for (const item of Object.values(node)) walk(item);
  };
  walk(value);
  return found;
}

/** A CloudFormation value as a reader sees it: intrinsics shortened (`Ref X`, `X.Arn`), the rest as JSON. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "(not set)";
  if (isRecord(value)) {
    if (typeof value.Ref === "string") return `Ref ${value.Ref}`;
    const getAtt = value["Fn::GetAtt"];
    if (Array.isArray(getAtt)) return `${getAtt.join(".")}`;
  }
  return typeof value === "string" ? value : JSON.stringify(value);
}

function functionsWithVariable(template: CfnTemplate, variable: string): Located[] {
  return resourcesOfType(template, "AWS::Lambda::Function").filter(
    (fn) => valueAt(fn.properties, `Environment.Variables.${variable}`) !== undefined,
  );
}

/** The EventBridge rules that target a resource. */
export function rulesTargeting(template: CfnTemplate, logicalId: string): Located[] {
  return resourcesOfType(template, "AWS::Events::Rule").filter((rule) => {
    const targets = rule.properties.Targets;
    return (
      Array.isArray(targets) && targets.some((target) => referencedId(valueAt(target, "Arn")) === logicalId)
    );
  });
}

/** The bucket policy attached to a bucket. */
export function bucketPolicyOf(template: CfnTemplate, bucketId: string): Located | undefined {
  return resourcesOfType(template, "AWS::S3::BucketPolicy").find(
    (policy) => referencedId(policy.properties.Bucket) === bucketId,
  );
}

/** Subscriptions of an SNS topic. */
export function subscriptionsOf(template: CfnTemplate, topicId: string): Located[] {
  return resourcesOfType(template, "AWS::SNS::Subscription").filter(
    (subscription) => referencedId(subscription.properties.TopicArn) === topicId,
  );
}

/** The parts of the audit-trail stack that compliance evidence is read from; any may be missing. */
export interface StackParts {
  readonly deliveryStream?: Located;
  /** The Firehose processor Lambda. */
  readonly transform?: Located;
  /** The bucket Firehose backs up into. */
  readonly stagingBucket?: Located;
  readonly domain?: Located;
  readonly digestWriter?: Located;
  /** The Object Lock archive: the bucket the digest writer seals. */
  readonly archiveBucket?: Located;
  readonly signingKey?: Located;
  readonly digestSchedule?: Located;
  readonly detector?: Located;
  readonly detectorSchedule?: Located;
  /** The scheduled weekly review function and its schedule. */
  readonly reviewer?: Located;
  readonly reviewSchedule?: Located;
  /** Alert topics the detector publishes to. */
  readonly alertTopics: readonly Located[];
  /** Topics the alarms notify (the ops topic). */
  readonly alarmTopics: readonly Located[];
  readonly alarms: readonly Located[];
  readonly searchBootstrap?: Located;
  readonly logGroups: readonly Located[];
}

/** Finds the stack's parts through the references between them. */
export function stackParts(template: CfnTemplate): StackParts {
  const deliveryStream = resourcesOfType(template, "AWS::KinesisFirehose::DeliveryStream")[0];
  const destination = valueAt(deliveryStream?.properties, "AmazonopensearchserviceDestinationConfiguration");
  const processors = valueAt(destination, "ProcessingConfiguration.Processors");
  const processorArn = Array.isArray(processors)
    ? processors
        .flatMap((processor) => {
          const parameters = valueAt(processor, "Parameters");
          return Array.isArray(parameters) ? parameters : [];
        })
        .find((parameter) => valueAt(parameter, "ParameterName") === "LambdaArn")
    : undefined;
  const transform =
    resourceById(template, referencedId(valueAt(processorArn, "ParameterValue"))) ??
    functionsWithVariable(template, TRANSFORM_ENV.pseudonymizeFields)[0] ??
    functionsWithVariable(template, TRANSFORM_ENV.keepEventOriginal)[0];
  const stagingBucket = resourceById(
    template,
    referencedId(valueAt(destination, "S3Configuration.BucketARN")),
  );
  const domain =
    resourceById(template, referencedId(valueAt(destination, "DomainARN"))) ??
    resourcesOfType(template, "AWS::OpenSearchService::Domain")[0];

  const digestWriter = functionsWithVariable(template, DIGEST_WRITER_ENV.signingKeyId)[0];
  const writerVariables = valueAt(digestWriter?.properties, "Environment.Variables");
  const archiveBucket = resourceById(
    template,
    referencedId(valueAt(writerVariables, DIGEST_WRITER_ENV.archiveBucketName)),
  );
  const signingKey = resourceById(
    template,
    referencedId(valueAt(writerVariables, DIGEST_WRITER_ENV.signingKeyId)),
  );
  const digestSchedule =
    digestWriter === undefined ? undefined : rulesTargeting(template, digestWriter.logicalId)[0];

  const detector = functionsWithVariable(template, DETECTOR_ENV.topicArns)[0];
  const detectorSchedule =
    detector === undefined ? undefined : rulesTargeting(template, detector.logicalId)[0];
  const reviewer = functionsWithVariable(template, REVIEWER_ENV.opsTopicArn)[0];
  const reviewSchedule = reviewer === undefined ? undefined : rulesTargeting(template, reviewer.logicalId)[0];
  const alertTopicIds = referencedIds(
    valueAt(detector?.properties, `Environment.Variables.${DETECTOR_ENV.topicArns}`),
  );
  const alertTopics = [...alertTopicIds]
    .map((id) => resourceById(template, id))
    .filter((topic): topic is Located => topic?.type === "AWS::SNS::Topic");

  const alarms = resourcesOfType(template, "AWS::CloudWatch::Alarm");
  const alarmTopicIds = new Set(alarms.flatMap((alarm) => [...referencedIds(alarm.properties.AlarmActions)]));
  const alarmTopics = [...alarmTopicIds]
    .map((id) => resourceById(template, id))
    .filter((topic): topic is Located => topic?.type === "AWS::SNS::Topic");

  return {
    deliveryStream,
    transform,
    stagingBucket,
    domain,
    digestWriter,
    archiveBucket,
    signingKey,
    digestSchedule,
    detector,
    detectorSchedule,
    reviewer,
    reviewSchedule,
    alertTopics,
    alarmTopics,
    alarms,
    searchBootstrap: resourcesOfType(template, "Custom::AuditTrailSearchBootstrap")[0],
    logGroups: resourcesOfType(template, "AWS::Logs::LogGroup"),
  };
}
