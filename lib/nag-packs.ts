import type { IPolicyValidationPlugin } from "aws-cdk-lib";
import {
  AwsSolutionsChecks,
  HIPAASecurityChecks,
  type NagPack,
  type NagPackProps,
  NIST80053R5Checks,
  PCIDSS321Checks,
} from "cdk-nag";
import type { IConstruct } from "constructs";

/**
 * The cdk-nag v3 packs every environment must pass: AWS Solutions, HIPAA Security, PCI DSS 3.2.1, NIST 800-53 r5.
 * `bin/app.ts` registers them with `Validations.of(app).addPlugins(...)` and writes each acknowledgement (rule and
 * reason) into the template's `cdk_nag` metadata, so auditors see them in the deployed template too.
 */
export function nagPacks(scope: IConstruct, props: NagPackProps = {}): (NagPack & IPolicyValidationPlugin)[] {
  return [
    new AwsSolutionsChecks(scope, props),
    new HIPAASecurityChecks(scope, props),
    new PCIDSS321Checks(scope, props),
    new NIST80053R5Checks(scope, props),
  ];
}
