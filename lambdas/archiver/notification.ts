/**
 * Reads the staging objects named by one SQS message carrying an S3 event notification. S3's test event
 * (sent when the notification is configured) names none. Keys arrive URL-encoded with `+` for spaces.
 */
import * as z from "zod";

const recordSchema = z.object({
  eventName: z.string().startsWith("ObjectCreated:"),
  s3: z.object({
    bucket: z.object({ name: z.string().min(1) }),
    object: z.object({
      key: z.string().min(1),
      versionId: z.string().optional(),
      size: z.number().optional(),
    }),
  }),
});

const notificationSchema = z.union([
  z.object({ Event: z.literal("s3:TestEvent") }),
  z.object({ Records: z.array(z.unknown()) }),
]);

export interface NotifiedObject {
  readonly bucket: string;
  readonly key: string;
  readonly versionId?: string;
}

export class NotificationError extends Error {
  override readonly name = "NotificationError";
}

export function decodeS3Key(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, " "));
}

export function stagingObjectsFromMessage(body: string, messageId: string): NotifiedObject[] {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new NotificationError(`message ${messageId}: body is not JSON`);
  }
  const notification = notificationSchema.safeParse(json);
  if (!notification.success) {
    throw new NotificationError(`message ${messageId}: not an S3 event notification (no 'Records' array)`);
  }
  if (!("Records" in notification.data)) return [];
  return notification.data.Records.map((raw, index) => {
    const parsed = recordSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new NotificationError(
        `message ${messageId}: Records[${index}].${issue?.path.join(".") ?? ""}: ${issue?.message ?? "invalid"}`,
      );
    }
    const { bucket, object } = parsed.data.s3;
    return {
      bucket: bucket.name,
      key: decodeS3Key(object.key),
      ...(object.versionId ? { versionId: object.versionId } : {}),
    };
  });
}
