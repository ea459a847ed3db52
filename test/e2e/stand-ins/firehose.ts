/**
 * A Firehose API stand-in: `Firehose_20150804.PutRecordBatch` and `PutRecord` over HTTPS on 127.0.0.1, JSON bodies
 * (`application/x-amz-json-1.1`) and answers shaped as the service's, SigV4 required. AWS's documented limits are
 * enforced (https://docs.aws.amazon.com/firehose/latest/APIReference/API_PutRecordBatch.html and the service
 * quotas): at most 500 records per batch, at most 1,000 KiB per record before base64, at most 4 MiB per request.
 * On demand it fails chosen records of a batch (`ServiceUnavailableException`, as throttling does) or answers every
 * request with a 500 (an outage). Accepted records go to the named delivery stream's sink with their record id and
 * arrival time, as Firehose hands them on.
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

export const FIREHOSE_LIMITS = {
  recordsPerBatch: 500,
  /** 1,000 KiB, before base64 encoding. */
  recordBytes: 1000 * 1024,
  /** 4 MiB of record data per PutRecordBatch. */
  batchBytes: 4 * 1024 * 1024,
} as const;

/** One record as Firehose holds it once accepted. */
export interface AcceptedRecord {
  readonly recordId: string;
  readonly data: Buffer;
  /** `approximateArrivalTimestamp`, epoch ms. */
  readonly arrivalMs: number;
}

/** Where a delivery stream's accepted records go (a `DeliveryStream`, or a test's list). */
export interface RecordSink {
  put(records: readonly AcceptedRecord[]): void;
}

export interface FirehoseStandInOptions {
  readonly tls: TlsMaterial;
  /** The delivery streams by name. */
  readonly streams: Readonly<Record<string, RecordSink>>;
  readonly accountId?: string;
}

export interface FirehoseCounters {
  /** Requests per target (`PutRecordBatch`, `PutRecord`), answered or not. */
  readonly requests: Record<string, number>;
  /** Records accepted (handed to a sink). */
  accepted: number;
  /** Records answered with a per-record error (partial failures). */
  failedRecords: number;
  /** Requests refused whole (limits, outage, unknown stream, bad body). */
  refusedRequests: number;
  /** Requests answered 500 during an outage. */
  outageRequests: number;
}

export interface FirehoseStandIn extends StandInServer {
  readonly counters: FirehoseCounters;
  /** Fails the records `predicate` picks with `ServiceUnavailableException` (partial failure); `undefined` stops. */
  failRecords(predicate: ((data: Buffer) => boolean) | undefined): void;
  /** While on, every request is answered `500 InternalFailure` and nothing is accepted. */
  setOutage(on: boolean): void;
}

let sequence = 0;
/** A record id shaped like Firehose's (a long decimal string), unique in this process. */
function recordId(): string {
  sequence++;
  return `4961${Date.now().toString().padStart(16, "0")}${sequence.toString().padStart(12, "0")}${Math.floor(
    Math.random() * 1e9,
  )
    .toString()
    .padStart(9, "0")}`;
}

function decodeData(value: unknown, where: string): Buffer {
  if (typeof value !== "string" || value === "") {
    throw validation(`Value at '${where}.data' failed to satisfy constraint: Member must not be null`);
  }
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) {
    throw new AwsError(400, "SerializationException", `${where}.Data is not valid base64`);
  }
  const data = Buffer.from(value, "base64");
  if (data.length > FIREHOSE_LIMITS.recordBytes) {
    throw validation(
      `Value at '${where}.member.data' failed to satisfy constraint: Member must have length less than or equal to ${FIREHOSE_LIMITS.recordBytes}`,
    );
  }
  return data;
}

export async function startFirehoseStandIn(options: FirehoseStandInOptions): Promise<FirehoseStandIn> {
  const account = options.accountId ?? "123456789012";
  const counters: FirehoseCounters = {
    requests: {},
    accepted: 0,
    failedRecords: 0,
    refusedRequests: 0,
    outageRequests: 0,
  };
  let failing: ((data: Buffer) => boolean) | undefined;
  let outage = false;

  const sinkOf = (body: Record<string, unknown>): RecordSink => {
    const name = body.DeliveryStreamName;
    if (typeof name !== "string" || name === "") {
      throw validation("Value at 'deliveryStreamName' failed to satisfy constraint: Member must not be null");
    }
    const sink = options.streams[name];
    if (sink === undefined) {
      throw new AwsError(
        400,
        "ResourceNotFoundException",
        `Firehose ${name} under account ${account} not found.`,
      );
    }
    return sink;
  };

  const handle = async (request: SignedRequest) => {
    const target = request.target ?? "";
    const operation = target.startsWith("Firehose_20150804.")
      ? target.slice("Firehose_20150804.".length)
      : target;
    counters.requests[operation] = (counters.requests[operation] ?? 0) + 1;
    try {
      if (outage) {
        counters.outageRequests++;
        throw new AwsError(
          500,
          "InternalFailure",
          "The request processing has failed because of an unknown error.",
        );
      }
      const body = jsonBody(request);
      if (operation === "PutRecord") {
        const sink = sinkOf(body);
        const record = body.Record as { Data?: unknown } | undefined;
        const data = decodeData(record?.Data, "record");
        if (failing?.(data)) {
          counters.failedRecords++;
          throw new AwsError(503, "ServiceUnavailableException", "Slow down.");
        }
        const accepted = { recordId: recordId(), data, arrivalMs: Date.now() };
        sink.put([accepted]);
        counters.accepted++;
        return { body: JSON.stringify({ RecordId: accepted.recordId, Encrypted: false }) };
      }
      if (operation === "PutRecordBatch") {
        const sink = sinkOf(body);
        const records = body.Records;
        if (!Array.isArray(records) || records.length === 0) {
          throw validation(
            "Value at 'records' failed to satisfy constraint: Member must have length greater than or equal to 1",
          );
        }
        if (records.length > FIREHOSE_LIMITS.recordsPerBatch) {
          throw validation(
            `Value at 'records' failed to satisfy constraint: Member must have length less than or equal to ${FIREHOSE_LIMITS.recordsPerBatch}`,
          );
        }
        const data = records.map((r: { Data?: unknown }, i) => decodeData(r?.Data, `records.${i + 1}`));
        const total = data.reduce((sum, d) => sum + d.length, 0);
        if (total > FIREHOSE_LIMITS.batchBytes) {
          throw new AwsError(
            400,
            "InvalidArgumentException",
            `Records size ${total} bytes exceeds the 4 MiB (${FIREHOSE_LIMITS.batchBytes} bytes) PutRecordBatch limit`,
          );
        }
        const arrivalMs = Date.now();
        const responses: Record<string, string>[] = [];
        const accepted: AcceptedRecord[] = [];
        for (const d of data) {
          if (failing?.(d)) {
            responses.push({ ErrorCode: "ServiceUnavailableException", ErrorMessage: "Slow down." });
            continue;
          }
          const id = recordId();
          accepted.push({ recordId: id, data: d, arrivalMs });
          responses.push({ RecordId: id });
        }
        if (accepted.length > 0) sink.put(accepted);
        counters.accepted += accepted.length;
        counters.failedRecords += data.length - accepted.length;
        return {
          body: JSON.stringify({
            FailedPutCount: data.length - accepted.length,
            Encrypted: false,
            RequestResponses: responses,
          }),
        };
      }
      throw new AwsError(
        400,
        "UnknownOperationException",
        `the stand-in does not serve ${JSON.stringify(target)}`,
      );
    } catch (error) {
      if (error instanceof AwsError && error.code !== "ServiceUnavailableException")
        counters.refusedRequests++;
      throw error;
    }
  };

  const server = await serveAws({
    tls: options.tls,
    signingName: "firehose",
    // A bound on what is read before the limits are checked on the decoded data (base64 of 4 MiB is 5.4 MiB).
    maxBodyBytes: 16 * 1024 * 1024,
    protocol: "json",
    handle,
  });
  return {
    ...server,
    counters,
    failRecords(predicate) {
      failing = predicate;
    },
    setOutage(on) {
      outage = on;
    },
  };
}

/** `arn:aws:firehose:<region>:<account>:deliverystream/<name>`, as the transform receives it. */
export function deliveryStreamArn(name: string, region = "eu-west-1", account = "123456789012"): string {
  return `arn:aws:firehose:${region}:${account}:deliverystream/${name}`;
}
