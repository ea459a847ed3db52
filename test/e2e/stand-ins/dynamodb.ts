/**
 * A DynamoDB stand-in for the tables it is given: `GetItem` and `UpdateItem` (JSON 1.0 protocol, SigV4
 * required) with the part of the expression language the detector's watermark uses: `SET a = :v, …` updates and
 * conditions made of `attribute_exists(a)`, `attribute_not_exists(a)` and comparisons (`=`, `<>`, `<`, `<=`, `>`,
 * `>=`) joined by `AND` / `OR`. An expression beyond that is refused with `ValidationException` naming it, so a
 * handler change that needs more fails loudly here instead of being answered wrongly. A failed condition is
 * `ConditionalCheckFailedException`, as DynamoDB answers.
 */
import {
  AwsError,
  jsonBody,
  type SignedRequest,
  type StandInServer,
  serveAws,
  validation,
} from "./aws-http.js";
import type { TlsMaterial } from "./tls.js";

type AttributeValue = Record<string, unknown>;
type Item = Record<string, AttributeValue>;

export interface DynamoDbStandIn extends StandInServer {
  /** The items of a table (a copy). */
  items(table: string): Item[];
}

function keyOf(key: unknown): string {
  if (typeof key !== "object" || key === null)
    throw validation("Value at 'key' failed to satisfy constraint: Member must not be null");
  return JSON.stringify(Object.entries(key as Item).sort(([a], [b]) => a.localeCompare(b)));
}

function scalar(value: AttributeValue | undefined): string | number | undefined {
  if (value === undefined) return undefined;
  if (typeof value.N === "string") return Number(value.N);
  if (typeof value.S === "string") return value.S;
  return JSON.stringify(value);
}

function operand(token: string, item: Item | undefined, values: Item, names: Record<string, string>) {
  if (token.startsWith(":")) {
    const value = values[token];
    if (value === undefined)
      throw validation(
        `An expression attribute value used in expression is not defined; attribute value: ${token}`,
      );
    return scalar(value);
  }
  return scalar(item?.[names[token] ?? token]);
}

const COMPARISON = /^([#:]?[A-Za-z0-9_]+)\s*(=|<>|<=|>=|<|>)\s*([#:]?[A-Za-z0-9_]+)$/;
const FUNCTION = /^(attribute_exists|attribute_not_exists)\(\s*([#]?[A-Za-z0-9_]+)\s*\)$/;

function clause(text: string, item: Item | undefined, values: Item, names: Record<string, string>): boolean {
  const fn = FUNCTION.exec(text);
  if (fn !== null) {
    const present = item?.[names[fn[2] as string] ?? (fn[2] as string)] !== undefined;
    return fn[1] === "attribute_exists" ? present : !present;
  }
  const cmp = COMPARISON.exec(text);
  if (cmp === null) throw validation(`the stand-in does not evaluate the condition ${JSON.stringify(text)}`);
  const left = operand(cmp[1] as string, item, values, names);
  const right = operand(cmp[3] as string, item, values, names);
  if (left === undefined || right === undefined) return false;
  switch (cmp[2]) {
    case "=":
      return left === right;
    case "<>":
      return left !== right;
    case "<":
      return left < right;
    case "<=":
      return left <= right;
    case ">":
      return left > right;
    default:
      return left >= right;
  }
}

/** `a OR b AND c`, with AND binding tighter; no parentheses (refused). */
export function evaluateCondition(
  expression: string,
  item: Item | undefined,
  values: Item = {},
  names: Record<string, string> = {},
): boolean {
  if (/[()]/.test(expression.replace(/attribute_(not_)?exists\(\s*#?[A-Za-z0-9_]+\s*\)/g, ""))) {
    throw validation(`the stand-in does not evaluate parentheses in ${JSON.stringify(expression)}`);
  }
  return expression
    .split(/\s+OR\s+/i)
    .some((any) => any.split(/\s+AND\s+/i).every((all) => clause(all.trim(), item, values, names)));
}

function applyUpdate(expression: string, item: Item, values: Item, names: Record<string, string>): void {
  const match = /^\s*SET\s+(.+)$/i.exec(expression);
  if (match === null)
    throw validation(`the stand-in supports SET updates only, not ${JSON.stringify(expression)}`);
  for (const assignment of (match[1] as string).split(",")) {
    const parts = /^\s*([#]?[A-Za-z0-9_]+)\s*=\s*(:[A-Za-z0-9_]+)\s*$/.exec(assignment);
    if (parts === null)
      throw validation(`the stand-in does not evaluate the update ${JSON.stringify(assignment.trim())}`);
    const value = values[parts[2] as string];
    if (value === undefined)
      throw validation(
        `An expression attribute value used in expression is not defined; attribute value: ${parts[2]}`,
      );
    item[names[parts[1] as string] ?? (parts[1] as string)] = value;
  }
}

export async function startDynamoDbStandIn(options: {
  tls: TlsMaterial;
  tables: readonly string[];
}): Promise<DynamoDbStandIn> {
  const tables = new Map(options.tables.map((name) => [name, new Map<string, Item>()]));
  const tableOf = (body: Record<string, unknown>) => {
    const table = tables.get(String(body.TableName));
    if (table === undefined)
      throw new AwsError(400, "ResourceNotFoundException", "Requested resource not found");
    return table;
  };
  const handle = async (request: SignedRequest) => {
    const body = jsonBody(request);
    const values = (body.ExpressionAttributeValues ?? {}) as Item;
    const names = (body.ExpressionAttributeNames ?? {}) as Record<string, string>;
    switch (request.target) {
      case "DynamoDB_20120810.GetItem": {
        const item = tableOf(body).get(keyOf(body.Key));
        return { body: JSON.stringify(item === undefined ? {} : { Item: item }) };
      }
      case "DynamoDB_20120810.UpdateItem": {
        const table = tableOf(body);
        const key = keyOf(body.Key);
        const current = table.get(key);
        const condition = body.ConditionExpression;
        if (typeof condition === "string" && !evaluateCondition(condition, current, values, names)) {
          throw new AwsError(400, "ConditionalCheckFailedException", "The conditional request failed");
        }
        const next: Item = { ...(current ?? (body.Key as Item)) };
        if (typeof body.UpdateExpression !== "string") throw validation("UpdateExpression is required");
        applyUpdate(body.UpdateExpression, next, values, names);
        table.set(key, next);
        return { body: "{}" };
      }
      default:
        throw new AwsError(400, "UnknownOperationException", `the stand-in does not serve ${request.target}`);
    }
  };
  const server = await serveAws({
    tls: options.tls,
    signingName: "dynamodb",
    maxBodyBytes: 1024 * 1024,
    protocol: "json",
    handle,
  });
  return {
    ...server,
    items: (table) => [...(tables.get(table)?.values() ?? [])].map((item) => structuredClone(item)),
  };
}
