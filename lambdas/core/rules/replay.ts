/**
 * Replay: documents from one or more streams (one per file), merged on event time, through the single-event rules
 * and the correlation windows, then through suppression. Pure (no file or network I/O): the CLI hands in the
 * streams and a normalizer and prints what comes out.
 */
import type { EcsDocument } from "../ecs.js";
import type { CountryLookup } from "../geo/index.js";
import { StreamEvaluator } from "./evaluator.js";
import { SuppressionMerger } from "./suppression.js";
import type { Detection, RulePack } from "./types.js";

/** One input record (a line, usually), as the CLI's input reader yields it. */
export interface ReplayRecord {
  readonly file: string;
  readonly line: number;
  readonly text: string;
  /** Why the reader could not read the record (e.g. longer than its maximum): rejected without normalizing. */
  readonly error?: string;
}

export type Normalizer = (
  text: string,
) => { ok: true; documents: EcsDocument[] } | { ok: false; reason: string };

export interface ReplayOptions {
  /** How far behind the latest event time a document may come and still be correlated. @default 120000 */
  readonly allowedLatenessMs?: number;
  /** Country of an address, for `geo` rules. @default none (a pack with a geo rule then fails) */
  readonly geo?: CountryLookup;
  /** Called for each record that cannot be parsed. */
  readonly onRejected?: (record: ReplayRecord, reason: string) => void;
}

export interface ReplaySummary {
  records: number;
  bytes: number;
  documents: number;
  rejected: number;
  /** Documents that came after their correlation windows had closed (left out of correlations). */
  late: number;
  untimed: number;
  alerts: number;
  alertsByRule: Record<string, number>;
  maxOpenWindows: number;
  firstEvent?: string;
  lastEvent?: string;
}

interface Head {
  readonly iterator: AsyncIterator<ReplayRecord>;
  /** Documents of the current record not yet handed out. */
  queue: EcsDocument[];
  time: number;
  done: boolean;
}

/**
 * Runs the pack over the streams and calls `onAlert` for each alert (suppression applied) as soon as it is final.
 * Streams are merged on `@timestamp` (each stream is expected to be roughly in time order, as log files are), so
 * memory holds one pending record per stream plus the open windows.
 */
export async function replay(
  streams: readonly AsyncIterable<ReplayRecord>[],
  pack: RulePack,
  normalize: Normalizer,
  onAlert: (alert: Detection) => void,
  options: ReplayOptions = {},
): Promise<ReplaySummary> {
  const evaluator = new StreamEvaluator(pack, {
    allowedLatenessMs: options.allowedLatenessMs ?? 120_000,
    ...(options.geo === undefined ? {} : { geo: options.geo }),
  });
  const merger = new SuppressionMerger();
  const summary: ReplaySummary = {
    records: 0,
    bytes: 0,
    documents: 0,
    rejected: 0,
    late: 0,
    untimed: 0,
    alerts: 0,
    alertsByRule: {},
    maxOpenWindows: 0,
  };
  let firstTime = Number.POSITIVE_INFINITY;
  let lastTime = Number.NEGATIVE_INFINITY;
  let sinceRelease = 0;

  const emit = (alerts: readonly Detection[]): void => {
    for (const alert of alerts) {
      summary.alerts++;
      summary.alertsByRule[alert.rule.name] = (summary.alertsByRule[alert.rule.name] ?? 0) + 1;
      onAlert(alert);
    }
  };
  const feed = (doc: EcsDocument): void => {
    summary.documents++;
    const time = Date.parse(doc["@timestamp"]);
    if (time < firstTime) firstTime = time;
    if (time > lastTime) lastTime = time;
    for (const detection of evaluator.push(doc)) emit(merger.push(detection));
    if (++sinceRelease >= 4096) {
      sinceRelease = 0;
      emit(merger.release(evaluator.safeTime));
    }
  };
  const heads: Head[] = (streams.length === 1 ? [] : streams).map((stream) => ({
    iterator: stream[Symbol.asyncIterator](),
    queue: [],
    time: Number.NEGATIVE_INFINITY,
    done: false,
  }));

  /** The documents of one record, counted; `undefined` (and reported) when it cannot be parsed. */
  const accept = (record: ReplayRecord): EcsDocument[] | undefined => {
    summary.records++;
    summary.bytes += Buffer.byteLength(record.text, "utf8") + 1;
    const result =
      record.error === undefined ? normalize(record.text) : { ok: false as const, reason: record.error };
    if (result.ok) return result.documents;
    summary.rejected++;
    options.onRejected?.(record, result.reason);
    return undefined;
  };
  const refill = async (head: Head): Promise<void> => {
    while (head.queue.length === 0) {
      const next = await head.iterator.next();
      if (next.done === true) {
        head.done = true;
        return;
      }
      const documents = accept(next.value);
      if (documents !== undefined) head.queue = documents;
    }
    const time = Date.parse((head.queue[0] as EcsDocument)["@timestamp"]);
    head.time = Number.isNaN(time) ? Number.NEGATIVE_INFINITY : time;
  };

  if (streams.length === 1) {
    // One stream: no merge, so no head bookkeeping (and one await per record, not three).
    for await (const record of streams[0] as AsyncIterable<ReplayRecord>) {
      const documents = accept(record);
      if (documents !== undefined) for (const doc of documents) feed(doc);
    }
  } else {
    for (const head of heads) await refill(head);
    for (;;) {
      let earliest: Head | undefined;
      for (const head of heads) {
        if (!head.done && (earliest === undefined || head.time < earliest.time)) earliest = head;
      }
      if (earliest === undefined) break;
      feed(earliest.queue.shift() as EcsDocument);
      if (earliest.queue.length === 0) await refill(earliest);
      else {
        const time = Date.parse((earliest.queue[0] as EcsDocument)["@timestamp"]);
        earliest.time = Number.isNaN(time) ? Number.NEGATIVE_INFINITY : time;
      }
    }
  }
  for (const detection of evaluator.finish()) emit(merger.push(detection));
  emit(merger.flush());
  summary.late = evaluator.stats.late;
  summary.untimed = evaluator.stats.untimed;
  summary.maxOpenWindows = evaluator.stats.maxOpenWindows;
  if (Number.isFinite(firstTime)) summary.firstEvent = new Date(firstTime).toISOString();
  if (Number.isFinite(lastTime)) summary.lastEvent = new Date(lastTime).toISOString();
  return summary;
}
