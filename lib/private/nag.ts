import { CfnResource, Stack, Validations } from "aws-cdk-lib";
import type { IConstruct } from "constructs";

/**
 * Helpers for cdk-nag v3 acknowledgements (`Validations.of(x).acknowledge`). cdk-nag reports wildcard findings by
 * the CloudFormation logical id of the resource a token points at, e.g. `Resource::<ArchiveBucket1234.Arn>/*`;
 * `tokenFinding` builds that text from the construct so acknowledgements survive refactors of construct paths.
 */
export function tokenFinding(resource: IConstruct, attribute: string, suffix = ""): string {
  const cfn = (resource.node.defaultChild ?? resource) as CfnResource;
  return `<${Stack.of(cfn).getLogicalId(cfn)}.${attribute}>${suffix}`;
}

/** Acknowledges each rule id on `scope` with the same reason. */
export function acknowledgeAll(scope: IConstruct, ids: readonly string[], reason: string): void {
  for (const id of ids) Validations.of(scope).acknowledge({ id, reason });
}

/** The rule-id prefixes of the compliance packs the stack is checked against (besides AwsSolutions). */
export const COMPLIANCE_PACKS = ["HIPAA.Security", "PCI.DSS.321", "NIST.800.53.R5"] as const;
export type CompliancePack = (typeof COMPLIANCE_PACKS)[number];

/**
 * The compliance packs' variant of one rule name (`LambdaDLQ` → HIPAA, PCI, NIST ids); `packs` when only some of
 * them have the rule.
 */
export function compliancePackIds(
  rule: string,
  packs: readonly CompliancePack[] = COMPLIANCE_PACKS,
): string[] {
  return packs.map((pack) => `${pack}-${rule}`);
}

/** Node.js 22 is the team's pinned runtime; AwsSolutions-L1 asks for the newest family member. */
export function acknowledgeLambdaRuntime(fn: IConstruct): void {
  Validations.of(fn).acknowledge({
    id: "AwsSolutions-L1",
    reason:
      "Pinned to Node.js 22 (an LTS runtime supported by Lambda) so bundles, esbuild target and tests match one runtime; moving to Node.js 24 is a deliberate, tested upgrade of every function at once.",
  });
}

/**
 * Records a checkov skip with its reason in the resource's CloudFormation metadata (`Metadata.checkov.skip`), for
 * the findings checkov reports on this stack by design; `scope` is the CfnResource or its L2 parent.
 */
export function skipCheckov(scope: IConstruct, id: string, comment: string): void {
  const resource = (CfnResource.isCfnResource(scope) ? scope : scope.node.defaultChild) as
    | CfnResource
    | undefined;
  if (resource === undefined || !CfnResource.isCfnResource(resource)) {
    throw new Error(`skipCheckov: ${scope.node.path} is not a CloudFormation resource`);
  }
  const existing =
    (resource.getMetadata("checkov") as { skip?: { id: string; comment: string }[] } | undefined) ?? {};
  resource.addMetadata("checkov", { skip: [...(existing.skip ?? []), { id, comment }] });
}

/** The role's generated inline policy (`DefaultPolicy`), once a statement has been added to it. */
export function defaultPolicyOf(role: IConstruct): IConstruct {
  const policy = role.node.tryFindChild("DefaultPolicy");
  if (policy === undefined) throw new Error(`${role.node.path} has no DefaultPolicy yet`);
  return policy;
}
