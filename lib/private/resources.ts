import { type ArnComponents, RemovalPolicy, Stack } from "aws-cdk-lib";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as kms from "aws-cdk-lib/aws-kms";
import type { Construct } from "constructs";

/**
 * A small bookkeeping table (`pk`/`sk` strings, on demand) with the stack's secure defaults: the customer key,
 * point-in-time recovery, deletion protection and `RETAIN`.
 */
export function bookkeepingTable(scope: Construct, id: string, encryptionKey: kms.IKey): dynamodb.Table {
  return new dynamodb.Table(scope, id, {
    partitionKey: { name: "pk", type: dynamodb.AttributeType.STRING },
    sortKey: { name: "sk", type: dynamodb.AttributeType.STRING },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
    encryptionKey,
    deletionProtection: true,
    removalPolicy: RemovalPolicy.RETAIN,
  });
}

/**
 * An AWS service as a role's principal, only on behalf of this account's resources of one kind (the confused-deputy
 * guard: `aws:SourceAccount` and `aws:SourceArn`).
 */
export function accountServicePrincipal(
  scope: Construct,
  service: string,
  source: Pick<ArnComponents, "service" | "resource">,
): iam.ServicePrincipal {
  const stack = Stack.of(scope);
  return new iam.ServicePrincipal(service, {
    conditions: {
      StringEquals: { "aws:SourceAccount": stack.account },
      ArnLike: { "aws:SourceArn": stack.formatArn({ ...source, resourceName: "*" }) },
    },
  });
}
