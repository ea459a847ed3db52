import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { EcsDocument } from "../../../../lambdas/core/ecs.js";
import {
  createPseudonymizer,
  createReingestSealer,
  normalizeRecord,
} from "../../../../lambdas/core/normalize/index.js";

const ISTIO =
  '[2024-05-02T08:00:01.250Z] "GET /items HTTP/1.1" 200 - via_upstream - "-" 0 64 12 11 "-" "curl/8" "rid-1" "items:80" "10.1.2.3:80" outbound|80||items.shop.svc.cluster.local 10.1.9.9:40000 10.96.0.20:80 10.1.9.9:51000 - default';
const LINKERD = '10.9.0.1:4000 - - [2024-06-01T12:00:01Z] "GET /live HTTP/1.1" 200';
const AUDIT = JSON.stringify({
  kind: "Event",
  apiVersion: "audit.k8s.io/v1",
  auditID: "abc-123",
  stage: "ResponseComplete",
  verb: "get",
  requestURI: "/api/v1/namespaces/a/secrets/s",
  user: { username: "carol" },
  sourceIPs: ["192.0.2.1"],
  responseStatus: { code: 200 },
  requestReceivedTimestamp: "2024-01-01T00:00:00.000000Z",
});

function ok(result: ReturnType<typeof normalizeRecord>): EcsDocument[] {
  if (!result.ok) throw new Error(`expected success, got: ${result.reason}`);
  return result.documents;
}

describe("normalizeRecord", () => {
  it("sets a deterministic event.id from the SHA-256 of the record", () => {
    // Act
    const [first] = ok(normalizeRecord(ISTIO));
    const [again] = ok(normalizeRecord(ISTIO));
    // Assess
    const expected = createHash("sha256").update(ISTIO).digest("hex").slice(0, 32);
    expect(first?.event.id).toBe(expected);
    expect(again).toEqual(first);
  });

  it("uses auditID-stage as the id of an audit event", () => {
    const [doc] = ok(normalizeRecord(AUDIT));
    expect(doc?.event.id).toBe("abc-123-ResponseComplete");
  });

  it("keeps the raw record in event.original unless told not to", () => {
    expect(ok(normalizeRecord(ISTIO))[0]?.event.original).toBe(ISTIO);
    expect(ok(normalizeRecord(ISTIO, { keepOriginal: false }))[0]?.event).not.toHaveProperty("original");
  });

  it("writes receivedAt to event.ingested", () => {
    expect(ok(normalizeRecord(LINKERD, { receivedAt: "2024-06-01T12:00:05.000Z" }))[0]?.event.ingested).toBe(
      "2024-06-01T12:00:05.000Z",
    );
  });

  it("yields one document per line of a simple_aggregation payload, numbered ids", () => {
    const payload = `${ISTIO}\n${LINKERD}\n\n`;
    const docs = ok(normalizeRecord(payload));
    const hash = createHash("sha256").update(payload).digest("hex").slice(0, 32);
    expect(docs.map((d) => d.event.dataset)).toEqual(["istio.access", "linkerd.access"]);
    expect(docs.map((d) => d.event.id)).toEqual([`${hash}-1`, `${hash}-2`]);
    expect(docs[1]?.event.original).toBe(LINKERD);
  });

  it("fails a multi-line record as a whole, naming the bad line", () => {
    const result = normalizeRecord(`${ISTIO}\nnot a log line\n`);
    expect(result).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^line 2: unrecognized log line/),
    });
  });

  it("unwraps a Fluent Bit docker record with kubernetes metadata", () => {
    const record = JSON.stringify({
      log: `${ISTIO}\n`,
      stream: "stdout",
      time: "2024-05-02T08:00:01.300000000Z",
      kubernetes: {
        pod_name: "items-7d9",
        namespace_name: "shop",
        pod_id: "uid-1",
        labels: { app: "items" },
        host: "node-3",
        pod_ip: "10.1.9.9",
        container_name: "istio-proxy",
        container_image: "istio/proxyv2:1.22",
      },
    });
    const [doc] = ok(normalizeRecord(record));
    expect(doc?.event.dataset).toBe("istio.access");
    expect(doc?.kubernetes).toEqual({
      pod: { name: "items-7d9", uid: "uid-1", ip: "10.1.9.9" },
      namespace: "shop",
      node: { name: "node-3" },
      container: { name: "istio-proxy", image: "istio/proxyv2:1.22" },
      labels: { app: "items" },
    });
    expect(doc?.host).toEqual({ name: "node-3" });
    // Like Filebeat: the container's own line, the envelope being kept as fields.
    expect(doc?.event.original).toBe(ISTIO);
  });

  describe("the source is what sent the line", () => {
    /** The custom format of examples/mesh/istio on a plaintext request: no identity, a short authority. */
    const customPlaintext = JSON.stringify({
      timestamp: "2024-05-02T08:00:02.000Z",
      source_identity: null,
      source_ip: "10.1.7.7",
      destination_service: "payments:8443",
      method: "POST",
      path: "/charge",
      response_code: 200,
      response_flags: "-",
      duration_ms: 4,
      bytes_sent: 10,
      bytes_received: 20,
      mtls: null,
      user_agent: "curl/8",
      request_id: "r-9",
      trace_id: null,
    });

    it("files an istio-proxy container's custom-format line under istio.access, whatever its fields", () => {
      // Prepare
      const record = JSON.stringify({
        log: `${customPlaintext}\n`,
        stream: "stdout",
        kubernetes: { pod_name: "payments-1", namespace_name: "shop", container_name: "istio-proxy" },
      });
      // Act
      const [doc] = ok(normalizeRecord(record));
      // Assess
      expect(doc?.event.dataset).toBe("istio.access");
      expect(doc?.mesh).toMatchObject({ name: "istio", mtls: false, mtls_evidence: "peer_certificate" });
    });

    it("reads the sender from the tail path when there is no kubernetes metadata", () => {
      const containers = JSON.stringify({
        log: customPlaintext,
        path: `/var/log/containers/payments-1_shop_istio-proxy-${"a".repeat(64)}.log`,
      });
      const pods = JSON.stringify({
        log: customPlaintext,
        filename: "/var/log/pods/shop_payments-1_0f1e/istio-proxy/0.log",
      });
      expect(ok(normalizeRecord(containers))[0]?.event.dataset).toBe("istio.access");
      expect(ok(normalizeRecord(pods))[0]?.event.dataset).toBe("istio.access");
    });

    it("leaves the content to decide when the sender is not a proxy", () => {
      const record = JSON.stringify({
        log: customPlaintext,
        kubernetes: { pod_name: "app-1", namespace_name: "shop", container_name: "app" },
      });
      expect(ok(normalizeRecord(record))[0]?.event.dataset).toBe("envoy.access");
    });

    it("files a Merge_Log-lifted line from istio-proxy under istio.access too", () => {
      const record = JSON.stringify({
        ...(JSON.parse(customPlaintext) as Record<string, unknown>),
        kubernetes: { pod_name: "payments-1", namespace_name: "shop", container_name: "istio-proxy" },
      });
      expect(ok(normalizeRecord(record))[0]?.event.dataset).toBe("istio.access");
    });
  });

  it("names the cluster from the record's cluster_name, unless the log names its own", () => {
    const shipped = (log: string) => JSON.stringify({ log, stream: "stdout", cluster_name: "prod-eu-1" });
    const [access] = ok(normalizeRecord(shipped(ISTIO)));
    expect(access?.orchestrator?.cluster).toEqual({ name: "prod-eu-1" });
    const hubble = JSON.stringify({
      flow: {
        time: "2024-05-02T08:00:01Z",
        verdict: "FORWARDED",
        IP: { source: "10.0.0.1", destination: "10.0.0.2", ipVersion: "IPv4" },
        l4: { TCP: { source_port: 1234, destination_port: 80 } },
        node_name: "gke-east/node-1",
        Type: "L3_L4",
      },
    });
    const [flow] = ok(normalizeRecord(shipped(hubble)));
    expect(flow?.orchestrator?.cluster).toEqual({ name: "gke-east" });
  });

  it("reads Elastic-shaped kubernetes metadata (pod.name, node.name, container.name)", () => {
    const record = JSON.stringify({
      message:
        'ACCESS [2024-02-02T10:00:00.000Z] "GET /gw HTTP/1.1" 200 - 0 5 1 1 "198.51.100.1" "curl/8" "r-1" "gw.example" "10.2.0.4:80"\n',
      kubernetes: {
        pod: { name: "gw-1", uid: "u-9" },
        node: { name: "n-1" },
        container: { name: "ambassador" },
        namespace: "edge",
        labels: { service: "gw" },
      },
    });
    const [doc] = ok(normalizeRecord(record));
    expect(doc?.kubernetes).toEqual({
      pod: { name: "gw-1", uid: "u-9" },
      namespace: "edge",
      node: { name: "n-1" },
      container: { name: "ambassador" },
      labels: { service: "gw" },
    });
  });

  it("unwraps the legacy CRI parser's message key and a CRI-prefixed log", () => {
    const cri = `2024-05-02T08:00:01.300000000Z stdout F ${ISTIO}`;
    expect(ok(normalizeRecord(cri))[0]?.event).toMatchObject({ dataset: "istio.access", original: ISTIO });
    expect(
      ok(normalizeRecord(JSON.stringify({ message: LINKERD, logtag: "F", stream: "stderr" })))[0]?.event
        .dataset,
    ).toBe("linkerd.access");
    expect(ok(normalizeRecord(JSON.stringify({ log: cri })))[0]?.event.dataset).toBe("istio.access");
  });

  it("reads a JSON payload that Merge_Log lifted to the top level", () => {
    const linkerdJson = {
      "client.addr": "10.0.0.1:1",
      "client.id": "-",
      method: "GET",
      status: 200,
      timestamp: "2024-01-01T00:00:00Z",
      uri: "/",
    };
    const record = {
      log: "not parseable\n",
      stream: "stderr",
      ...linkerdJson,
      kubernetes: { pod_name: "p", namespace_name: "n" },
    };
    const [doc] = ok(normalizeRecord(JSON.stringify(record)));
    expect(doc?.event.dataset).toBe("linkerd.access");
    expect(doc?.kubernetes?.pod?.name).toBe("p");
  });

  it("normalizes every message of a (decompressed) CloudWatch Logs DATA_MESSAGE and none of a CONTROL_MESSAGE", () => {
    const data = {
      messageType: "DATA_MESSAGE",
      logGroup: "/aws/eks/x/cluster",
      logEvents: [
        { id: "1", timestamp: 1, message: AUDIT },
        { id: "2", timestamp: 2, message: LINKERD },
      ],
    };
    const docs = ok(normalizeRecord(JSON.stringify(data)));
    expect(docs.map((d) => d.event.dataset)).toEqual(["kubernetes.audit", "linkerd.access"]);
    expect(docs[1]?.event.original).toBe(LINKERD);
    // EKS's control-plane log group names the cluster.
    expect(docs.map((d) => d.orchestrator?.cluster?.name)).toEqual(["x", "x"]);
    expect(normalizeRecord(JSON.stringify({ messageType: "CONTROL_MESSAGE", logEvents: [] }))).toEqual({
      ok: true,
      documents: [],
    });
  });

  it.each([
    ["an empty record", "", /empty record/],
    ["invalid JSON", "{not json", /invalid JSON/],
    ["a JSON array", "[1,2]", /envoy text: expected/],
    [
      "an unknown JSON object",
      '{"level":"info","msg":"hi"}',
      /unrecognized JSON record \(keys: level, msg\)/,
    ],
    [
      "a Fluent Bit record of an application log",
      '{"log":"Started server\\n","stream":"stdout"}',
      /in Fluent Bit record: unrecognized log line/,
    ],
  ])("rejects %s with a reason", (_name, text, reason) => {
    const result = normalizeRecord(text);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });

  describe("the API server's audit webhook (an audit.k8s.io/v1 EventList per request)", () => {
    const event = (auditID: string, verb: string, code: number) => ({
      kind: "Event",
      apiVersion: "audit.k8s.io/v1",
      level: "Metadata",
      auditID,
      stage: "ResponseComplete",
      verb,
      requestURI: `/api/v1/namespaces/shop/pods/web-0${verb === "create" ? "/exec" : ""}`,
      user: { username: "mallory", groups: ["system:authenticated"] },
      sourceIPs: ["192.0.2.7"],
      objectRef: { resource: "pods", namespace: "shop", name: "web-0", apiVersion: "v1" },
      responseStatus: { metadata: {}, code },
      requestReceivedTimestamp: "2024-06-01T12:00:00.000000Z",
      stageTimestamp: "2024-06-01T12:00:00.010000Z",
    });
    /** What Fluent Bit's http input makes of the webhook's POST body, with the example's cluster_name and time key. */
    const webhookRecord = (items: unknown[]) => ({
      kind: "EventList",
      apiVersion: "audit.k8s.io/v1",
      metadata: {},
      items,
      cluster_name: "prod-eu",
      "@timestamp": "2024-06-01T12:00:01.000Z",
    });

    it("yields one kubernetes.audit document per event, each with its own id and original", () => {
      // Prepare
      const items = [event("a-1", "get", 200), event("a-2", "create", 101), event("a-3", "delete", 403)];
      // Act
      const docs = ok(normalizeRecord(JSON.stringify(webhookRecord(items))));
      // Assess
      expect(docs.map((d) => d.event.dataset)).toEqual(Array(3).fill("kubernetes.audit"));
      expect(docs.map((d) => d.event.id)).toEqual([
        "a-1-ResponseComplete",
        "a-2-ResponseComplete",
        "a-3-ResponseComplete",
      ]);
      expect(docs.map((d) => d.event.original)).toEqual(items.map((item) => JSON.stringify(item)));
      expect(docs.map((d) => d.orchestrator?.cluster?.name)).toEqual(["prod-eu", "prod-eu", "prod-eu"]);
      expect(docs[2]?.event.outcome).toBe("failure");
    });

    it("accepts an empty EventList as no documents, and fails the whole list naming the bad item", () => {
      expect(normalizeRecord(JSON.stringify(webhookRecord([])))).toEqual({ ok: true, documents: [] });
      const result = normalizeRecord(
        JSON.stringify(webhookRecord([event("a-1", "get", 200), { kind: "Event", verb: "get" }])),
      );
      expect(result).toMatchObject({
        ok: false,
        reason: expect.stringMatching(/^EventList items\[1\]: kubernetes audit/),
      });
      expect(normalizeRecord(JSON.stringify({ ...webhookRecord([]), items: "x" }))).toMatchObject({
        ok: false,
        reason: "EventList: items is not an array",
      });
    });

    it("refuses an EventList over the record's document limit before reading its events", () => {
      const items = [event("a-1", "get", 200), event("a-2", "get", 200), event("a-3", "get", 200)];
      const result = normalizeRecord(JSON.stringify(webhookRecord(items)), { maxDocuments: 2 });
      expect(result).toMatchObject({ ok: false, reason: expect.stringMatching(/^document limit/) });
    });

    it("refuses an EventList a workload container logged, like any audit event it logs", () => {
      const line = JSON.stringify({
        kind: "EventList",
        apiVersion: "audit.k8s.io/v1",
        items: [event("a-1", "get", 200)],
      });
      const record = {
        log: `${line}\n`,
        stream: "stdout",
        kubernetes: { pod_name: "web-0", namespace_name: "shop", container_name: "app" },
      };
      const result = normalizeRecord(JSON.stringify(record));
      expect(result).toMatchObject({
        ok: false,
        reason: expect.stringMatching(/audit event from a workload container: shop\/web-0\/app/),
      });
    });
  });

  it("applies the pseudonymizer and drops event.original", () => {
    const pseudonymizer = createPseudonymizer("0123456789abcdef0123456789abcdef", [
      "user.name",
      "kubernetes.audit.user.username",
      "source.ip",
    ]);
    const [doc] = ok(normalizeRecord(AUDIT, { pseudonymizer }));
    expect(doc?.user?.name).toBe(pseudonymizer.token("carol"));
    expect(doc?.kubernetes?.audit?.user?.username).toBe(pseudonymizer.token("carol"));
    expect(doc?.related?.user).toEqual([pseudonymizer.token("carol")]);
    expect(doc?.source?.ip).toMatch(/^fd[0-9a-f]{2}:/);
    expect(doc?.event).not.toHaveProperty("original");
    expect(JSON.stringify(doc)).not.toContain("carol");
  });

  it("for the CLI (trustDocuments), passes through a document this pipeline already produced, unchanged", () => {
    const [doc] = ok(normalizeRecord(ISTIO));
    const again = ok(normalizeRecord(JSON.stringify(doc), { trustDocuments: true }));
    expect(again).toEqual([doc]);
  });

  it("refuses a line shaped like a finished document, whoever wrote it, naming why", () => {
    // Prepare: a finished document, as a producer would copy one
    const [doc] = ok(normalizeRecord(ISTIO));
    const forged = JSON.stringify({ ...doc, event: { ...doc?.event, id: "mine" } });
    // Act / Assess: at the top level, in a Fluent Bit envelope, and even for the CLI inside an envelope
    for (const [text, options] of [
      [forged, {}],
      [JSON.stringify({ log: forged, kubernetes: { pod_name: "p" } }), {}],
      [JSON.stringify({ log: forged, kubernetes: { pod_name: "p" } }), { trustDocuments: true }],
    ] as const) {
      expect(normalizeRecord(text, options)).toMatchObject({
        ok: false,
        reason: expect.stringMatching(/unauthenticated ECS document/),
      });
    }
  });

  it("passes a sealed re-ingested document through when its seal verifies, and refuses it otherwise", () => {
    // Prepare
    const sealer = createReingestSealer("k".repeat(32));
    const [doc] = ok(normalizeRecord(AUDIT));
    const sealed = sealer.seal(JSON.stringify(doc));
    // Act / Assess
    expect(ok(normalizeRecord(sealed, { reingest: sealer }))).toEqual([doc]);
    expect(normalizeRecord(sealed, { reingest: createReingestSealer("x".repeat(32)) })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^re-ingested document: seal does not verify/),
    });
    expect(normalizeRecord(sealed)).toMatchObject({
      ok: false,
      reason: "re-ingested document: no re-ingest key to verify its seal with",
    });
    // The CLI without the key reads it unverified
    expect(ok(normalizeRecord(sealed, { trustDocuments: true }))).toEqual([doc]);
  });

  it("replays Firehose's error output: the same documents and ids as the records it holds, arrival as event.ingested", () => {
    // Prepare: what Firehose writes under errors/processing-failed/ for two records the transform failed
    const arrivalTimestamp = Date.UTC(2024, 5, 1, 12, 0, 5);
    const failed = (record: string | Buffer) =>
      JSON.stringify({
        attemptsMade: 1,
        arrivalTimestamp,
        errorCode: "Lambda.ProcessingFailed",
        errorMessage: "The data could not be decoded as UTF-8 or contains an invalid record.",
        attemptEndingTimestamp: arrivalTimestamp + 900,
        rawData: Buffer.from(record).toString("base64"),
        lambdaArn: "arn:aws:lambda:eu-west-1:111122223333:function:transform:$LATEST",
      });
    const gzipped = gzipSync(`${LINKERD}\n${ISTIO}\n`);

    // Act
    const one = ok(normalizeRecord(failed(ISTIO)));
    const file = ok(normalizeRecord(`${failed(LINKERD)}\n${failed(AUDIT)}\n`));
    const batch = ok(normalizeRecord(failed(gzipped)));

    // Assess
    const [original] = ok(normalizeRecord(ISTIO, { receivedAt: "2024-06-01T12:00:05.000Z" }));
    expect(one).toEqual([original]);
    expect(file.map((d) => d.event.id)).toEqual([
      ok(normalizeRecord(LINKERD))[0]?.event.id,
      "abc-123-ResponseComplete",
    ]);
    expect(file.every((d) => d.event.ingested === "2024-06-01T12:00:05.000Z")).toBe(true);
    expect(batch.map((d) => d.event.dataset)).toEqual(["linkerd.access", "istio.access"]);
  });

  it("for the CLI, passes a document OpenSearch refused through unchanged when its error output is replayed", () => {
    const [doc] = ok(normalizeRecord(ISTIO, { receivedAt: "2024-06-01T12:00:05.000Z" }));
    const refused = JSON.stringify({
      attemptsMade: 4,
      arrivalTimestamp: Date.UTC(2024, 5, 1, 12, 0, 5),
      errorCode: "400",
      errorMessage: "mapper_parsing_exception",
      attemptEndingTimestamp: Date.UTC(2024, 5, 1, 12, 5, 0),
      rawData: Buffer.from(`${JSON.stringify(doc)}\n`).toString("base64"),
      subsequenceNumber: 0,
      esDocumentId: "49645…",
      esIndexName: "audit-2024-06-01",
    });
    expect(ok(normalizeRecord(refused, { trustDocuments: true }))).toEqual([doc]);
    // The envelope proves nothing: without trust, what it holds is read like any record.
    expect(normalizeRecord(refused)).toMatchObject({ ok: false });
  });

  it("names the Firehose error output line that cannot be replayed, and why", () => {
    const line = (rawData: string) => JSON.stringify({ attemptsMade: 1, arrivalTimestamp: 0, rawData });
    const garbage = Buffer.from("not a log line").toString("base64");
    const result = normalizeRecord(`${line(Buffer.from(LINKERD).toString("base64"))}\n${line(garbage)}`);
    expect(result).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^line 2: Firehose error output: /),
    });
    expect(normalizeRecord('{"attemptsMade":1}')).toMatchObject({
      ok: false,
      reason: "Firehose error output without rawData",
    });
    expect(normalizeRecord(line(""))).toMatchObject({
      ok: false,
      reason: "Firehose error output without rawData",
    });
  });

  it("never throws and never emits null, '-' or empty values, for arbitrary strings", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        const result = normalizeRecord(text);
        if (result.ok)
          for (const doc of result.documents)
            expect(JSON.stringify({ ...doc, event: { ...doc.event, original: "x" } })).not.toMatch(
              /:null|:"-"|:""/,
            );
      }),
      { numRuns: 500 },
    );
  });

  it("never throws for arbitrary JSON values, nor for mutated real-shaped records", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        normalizeRecord(JSON.stringify(value));
      }),
      { numRuns: 500 },
    );
    const base = JSON.parse(AUDIT) as Record<string, unknown>;
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.constantFrom(...Object.keys(base), "log", "kubernetes", "flow", "start_time"),
          fc.jsonValue(),
        ),
        (patch) => {
          normalizeRecord(JSON.stringify({ ...base, ...patch }));
        },
      ),
      { numRuns: 500 },
    );
  });
});
