/**
 * Listing the archive's prefixes (S3 `ListObjectsV2`, every page): what the weekly review reads of the pipeline's
 * health (objects under the error prefixes, digests per period). Shared by the scheduled review and
 * `audit-trail review -c env=NAME`.
 */
import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";

/** Every key (and its time) under each prefix. */
export async function listKeys(
  s3: S3Client,
  bucket: string,
  prefixes: readonly string[],
): Promise<{ key: string; lastModifiedMs: number }[]> {
  const out: { key: string; lastModifiedMs: number }[] = [];
  for (const prefix of prefixes) {
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const object of page.Contents ?? [])
        if (object.Key !== undefined)
          out.push({ key: object.Key, lastModifiedMs: object.LastModified?.getTime() ?? 0 });
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }
  return out;
}
