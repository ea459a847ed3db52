/**
 * The alerts index as an outbox. Each alert document carries its delivery state:
 *
 * - `publishing`: claimed by run `claimedBy` until `leaseUntil` (set at creation, or by a claim with
 *   `if_seq_no`/`if_primary_term`, so exactly one run holds it);
 * - `pending`: the publish failed; any later run may claim it;
 * - `published`: SNS accepted it (`messageId`); never sent again;
 * - `not_paged`: informational, indexed only.
 *
 * A `publishing` document whose lease has expired belongs to a run that died between claim and mark; it is
 * retried like `pending`.
 */
import type { Alert } from "../alerts/model.js";
import type { BulkResult, SearchClient, StoredDocument, WriteResult } from "./ports.js";
import { parseSearchResponse, SearchResponseError } from "./responses.js";

export const OUTBOX_STATUSES = ["pending", "publishing", "published", "not_paged"] as const;
export type OutboxStatus = (typeof OUTBOX_STATUSES)[number];

/**
 * The mapping the alerts index needs under `outbox` (the index template maps it; with `dynamic: false`, an
 * unmapped `outbox.status` would make pending alerts invisible to the retry query).
 */
export const OUTBOX_MAPPING = {
  properties: {
    status: { type: "keyword" },
    attempts: { type: "long" },
    createdAt: { type: "date" },
    updatedAt: { type: "date" },
    claimedBy: { type: "keyword" },
    leaseUntil: { type: "date" },
    publishedAt: { type: "date" },
    messageId: { type: "keyword" },
    lastError: { type: "text", index: false },
  },
} as const;

export interface OutboxState {
  readonly status: OutboxStatus;
  /** Publish attempts so far. */
  readonly attempts: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly claimedBy?: string;
  readonly leaseUntil?: string;
  readonly publishedAt?: string;
  readonly messageId?: string;
  readonly lastError?: string;
}

export interface AlertDocument extends Alert {
  readonly outbox: OutboxState;
}

export interface StoredAlert {
  readonly id: string;
  /** The alert; from `findRecent`, a summary (`RECENT_ALERT_FIELDS`: read the whole alert with `get`). */
  readonly document: AlertDocument;
  readonly seqNo: number;
  readonly primaryTerm: number;
}

/** What `findRecent` reads of each alert: enough to plan suppression and tell whether a firing adds anything. */
export const RECENT_ALERT_FIELDS = [
  "id",
  "rule.name",
  "window",
  "group",
  "count",
  "value",
  "outbox",
  "events.@timestamp",
  "events.event.id",
];

/** A rule and group-by values an alert may be filed under. */
export interface AlertGroup {
  readonly rule: string;
  readonly group: Readonly<Record<string, string>>;
}

export class AlertStore {
  constructor(
    private readonly client: SearchClient,
    readonly index: string,
  ) {}

  /** Creates the alert unless its id exists (`op_type=create`). */
  create(document: AlertDocument): Promise<WriteResult> {
    return this.client.write({
      index: this.index,
      id: document.id,
      document: toRecord(document),
      create: true,
    });
  }

  /** Replaces the alert if nobody changed it since `seqNo`/`primaryTerm`. */
  replace(stored: Pick<StoredAlert, "seqNo" | "primaryTerm">, document: AlertDocument): Promise<WriteResult> {
    return this.client.write({
      index: this.index,
      id: document.id,
      document: toRecord(document),
      ifSeqNo: stored.seqNo,
      ifPrimaryTerm: stored.primaryTerm,
    });
  }

  /** `create` for each alert in one `_bulk` request: a result per alert, in order. */
  createMany(documents: readonly AlertDocument[]): Promise<BulkResult[]> {
    return this.client.bulk({
      index: this.index,
      writes: documents.map((document) => ({ id: document.id, document: toRecord(document), create: true })),
    });
  }

  /** `replace` for each alert in one `_bulk` request: a result per alert, in order. */
  replaceMany(
    entries: readonly { stored: Pick<StoredAlert, "seqNo" | "primaryTerm">; document: AlertDocument }[],
  ): Promise<BulkResult[]> {
    return this.client.bulk({
      index: this.index,
      writes: entries.map(({ stored, document }) => ({
        id: document.id,
        document: toRecord(document),
        ifSeqNo: stored.seqNo,
        ifPrimaryTerm: stored.primaryTerm,
      })),
    });
  }

  async get(id: string): Promise<StoredAlert | undefined> {
    const found = await this.client.get({ index: this.index, id });
    return found === undefined ? undefined : fromStored(found, this.index);
  }

  /**
   * The alerts with these ids, whole, by id (one search: what the last refresh made searchable, which is every
   * alert an earlier run wrote; writes stay guarded by their sequence numbers).
   */
  async getMany(ids: readonly string[]): Promise<Map<string, StoredAlert>> {
    if (ids.length === 0) return new Map();
    const body = { size: ids.length, seq_no_primary_term: true, query: { ids: { values: [...ids] } } };
    return new Map((await this.search(body, "alerts by id")).map((alert) => [alert.id, alert]));
  }

  /** `pending` alerts, and `publishing` ones whose lease expired, oldest first. */
  async findRetryable(nowMs: number, limit: number): Promise<StoredAlert[]> {
    const body = {
      size: limit,
      seq_no_primary_term: true,
      sort: [{ "outbox.createdAt": { order: "asc", unmapped_type: "date" } }],
      query: {
        bool: {
          should: [
            { term: { "outbox.status": "pending" } },
            {
              bool: {
                filter: [
                  { term: { "outbox.status": "publishing" } },
                  { range: { "outbox.leaseUntil": { lt: new Date(nowMs).toISOString() } } },
                ],
              },
            },
          ],
          minimum_should_match: 1,
        },
      },
    };
    return this.search(body, "retryable alerts");
  }

  /**
   * Alerts of these rules whose span ends at or after `sinceMs` (suppression and repeats), newest first, every one
   * of them: paged `pageSize` at a time (`search_after` on `window.end`, then `id`). Summaries: what suppression
   * decides on (`RECENT_ALERT_FIELDS`), the events reduced to their id and time; `get` reads the whole alert when
   * it is to be extended.
   */
  async findRecent(
    ruleNames: readonly string[],
    sinceMs: number,
    pageSize: number,
    groups?: readonly AlertGroup[],
  ): Promise<StoredAlert[]> {
    if (ruleNames.length === 0) return [];
    // Only the alerts of these (rule, group) pairs: the ones a firing can fold into.
    const ofGroups =
      groups === undefined
        ? []
        : [
            {
              bool: {
                should: groups.map(({ rule, group }) => ({
                  bool: {
                    filter: [
                      { term: { "rule.name": rule } },
                      ...Object.keys(group)
                        .sort()
                        .map((path) => ({ term: { [`group.${path}`]: group[path] } })),
                    ],
                  },
                })),
                minimum_should_match: 1,
              },
            },
          ];
    const found: StoredAlert[] = [];
    let after: unknown[] | undefined;
    for (;;) {
      const body = {
        size: pageSize,
        seq_no_primary_term: true,
        _source: { includes: RECENT_ALERT_FIELDS },
        sort: [
          { "window.end": { order: "desc", unmapped_type: "date" } },
          { id: { order: "asc", unmapped_type: "keyword" } },
        ],
        query: {
          bool: {
            filter: [
              { terms: { "rule.name": [...ruleNames] } },
              { range: { "window.end": { gte: new Date(sinceMs).toISOString() } } },
              ...ofGroups,
            ],
          },
        },
        ...(after === undefined ? {} : { search_after: after }),
      };
      const { alerts, last } = await this.searchPage(body, "recent alerts");
      found.push(...alerts);
      if (alerts.length < pageSize || last === undefined) return found;
      after = last;
    }
  }

  private async search(body: Record<string, unknown>, purpose: string): Promise<StoredAlert[]> {
    return (await this.searchPage(body, purpose)).alerts;
  }

  private async searchPage(
    body: Record<string, unknown>,
    purpose: string,
  ): Promise<{ alerts: StoredAlert[]; last: unknown[] | undefined }> {
    const response = parseSearchResponse(await this.client.search({ index: this.index, body }), purpose);
    const alerts = response.hits.hits.map((hit) => {
      if (hit._seq_no === undefined || hit._primary_term === undefined) {
        throw new SearchResponseError(`${purpose}: hit ${hit._id} lacks _seq_no/_primary_term`);
      }
      return fromStored(
        { id: hit._id, source: hit._source, seqNo: hit._seq_no, primaryTerm: hit._primary_term },
        this.index,
      );
    });
    return { alerts, last: response.hits.hits.at(-1)?.sort };
  }
}

function toRecord(document: AlertDocument): Record<string, unknown> {
  return document as unknown as Record<string, unknown>;
}

function fromStored(stored: StoredDocument, index: string): StoredAlert {
  const source = stored.source as Partial<AlertDocument>;
  const outbox = source.outbox;
  if (
    source.id !== stored.id ||
    outbox === undefined ||
    !OUTBOX_STATUSES.includes(outbox.status) ||
    typeof source.rule?.name !== "string" ||
    typeof source.window?.start !== "string" ||
    typeof source.window?.end !== "string"
  ) {
    throw new SearchResponseError(
      `${index}/${stored.id}: not an alert document (needs id, rule.name, window.start/end, outbox.status)`,
    );
  }
  return {
    id: stored.id,
    document: source as AlertDocument,
    seqNo: stored.seqNo,
    primaryTerm: stored.primaryTerm,
  };
}
