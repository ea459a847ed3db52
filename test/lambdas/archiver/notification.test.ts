import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeS3Key,
  NotificationError,
  stagingObjectsFromMessage,
} from "../../../lambdas/archiver/notification.js";

function notification(keys: readonly string[]): string {
  return JSON.stringify({
    Records: keys.map((key) => ({
      eventVersion: "2.1",
      eventSource: "aws:s3",
      eventName: "ObjectCreated:Put",
      s3: { bucket: { name: "staging" }, object: { key, size: 10, versionId: "abc" } },
    })),
  });
}

describe("stagingObjectsFromMessage", () => {
  it("names each created object with its decoded key and version", () => {
    // Act
    const objects = stagingObjectsFromMessage(notification(["errors/processing-failed/a+b%3Dc.gz"]), "m1");

    // Assess
    expect(objects).toEqual([
      { bucket: "staging", key: "errors/processing-failed/a b=c.gz", versionId: "abc" },
    ]);
  });

  it("ignores the test event S3 sends when the notification is configured", () => {
    // Act
    const objects = stagingObjectsFromMessage(
      JSON.stringify({ Service: "Amazon S3", Event: "s3:TestEvent" }),
      "m1",
    );

    // Assess
    expect(objects).toEqual([]);
  });

  it("rejects a body that is not JSON, naming the message", () => {
    expect(() => stagingObjectsFromMessage("not json", "m-42")).toThrow(
      new NotificationError("message m-42: body is not JSON"),
    );
  });

  it("rejects a record that is not an object creation, naming the record and field", () => {
    // Prepare
    const body = JSON.stringify({
      Records: [{ eventName: "ObjectRemoved:Delete", s3: { bucket: { name: "b" }, object: { key: "k" } } }],
    });

    // Act / Assess
    expect(() => stagingObjectsFromMessage(body, "m-7")).toThrow(/message m-7: Records\[0\]\.eventName/);
  });

  it("decodes every key S3 can encode back to the original (property)", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, unit: "grapheme" }), (key) => {
        const encoded = encodeURIComponent(key).replace(/%20/g, "+");
        expect(decodeS3Key(encoded)).toBe(key);
      }),
    );
  });
});
