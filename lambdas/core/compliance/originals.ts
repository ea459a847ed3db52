/**
 * Where the original of each event lives, read from the template (never from the config): the archive is the
 * evidence, the index is for search. A document keeps the raw line in `event.original` unless the transform is told
 * not to (`AUDIT_TRAIL_KEEP_EVENT_ORIGINAL`); Firehose backs up every document (`S3BackupMode: AllDocuments`) and
 * every record the transform could not parse (raw, under the error prefix) into staging, which the archiver copies
 * byte for byte into the Object Lock archive; the index keeps `event.original` in `_source` (searchable only when
 * `IndexEventOriginal`) unless the bootstrap leaves it out of `_source` (`SourceExcludes`).
 */
import { TRANSFORM_ENV } from "../contracts.js";
import { type CfnTemplate, type StackParts, stackParts, valueAt } from "./template.js";

/** One statement about where originals live, with the template settings it rests on. */
export interface OriginalsStatement {
  readonly where: string;
  readonly basis: string;
}

const DESTINATION = "AmazonopensearchserviceDestinationConfiguration";

const isFalse = (value: unknown) => value === false || value === "false";
const isTrue = (value: unknown) => value === true || value === "true";

/** The statements for the report, in the order an auditor follows an event. */
export function whereOriginalsLive(
  template: CfnTemplate,
  parts: StackParts = stackParts(template),
): OriginalsStatement[] {
  const keep = valueAt(
    parts.transform?.properties,
    `Environment.Variables.${TRANSFORM_ENV.keepEventOriginal}`,
  );
  const kept = !isFalse(keep);
  const destination = valueAt(parts.deliveryStream?.properties, DESTINATION);
  const backupMode = valueAt(destination, "S3BackupMode");
  const compression = valueAt(destination, "S3Configuration.CompressionFormat") ?? "UNCOMPRESSED";
  const errorPrefix = valueAt(destination, "S3Configuration.ErrorOutputPrefix");
  const bootstrap = parts.searchBootstrap?.properties;
  const indexed = isTrue(valueAt(bootstrap, "IndexEventOriginal"));
  const excludes = valueAt(bootstrap, "SourceExcludes");
  const excluded = Array.isArray(excludes) && excludes.includes("event.original");
  const archive = parts.archiveBucket?.logicalId ?? "(no archive bucket found)";
  const staging = parts.stagingBucket?.logicalId ?? "(no staging bucket found)";
  const transform = parts.transform?.logicalId ?? "(no transform found)";
  const keepSetting = `${transform} Environment.Variables.${TRANSFORM_ENV.keepEventOriginal} = ${keep === undefined ? "unset (true)" : String(keep)}`;

  const statements: OriginalsStatement[] = [];
  statements.push(
    backupMode === "AllDocuments"
      ? {
          where: kept
            ? `Evidence: the original line of every parsed event is in its document's \`event.original\`, in the archive bucket \`${archive}\` (Object Lock), as Firehose backed it up (${String(compression)}) and the archiver copied it byte for byte; the digest chain seals those bytes.`
            : `Evidence: the archive bucket \`${archive}\` (Object Lock) holds every parsed event's normalized document, without the original line (the transform drops \`event.original\`).`,
          basis: `${keepSetting}; delivery stream S3BackupMode = AllDocuments, S3Configuration.CompressionFormat = ${String(compression)}, bucket \`${staging}\` copied into \`${archive}\``,
        }
      : {
          where: `Evidence: the delivery stream does not back up every document (S3BackupMode = ${String(backupMode)}): only failed records reach the archive.`,
          basis: `delivery stream S3BackupMode = ${String(backupMode)}`,
        },
  );
  statements.push({
    where: `Records that could not be parsed are kept raw (base64 \`rawData\`) under the error prefix \`${String(errorPrefix ?? "(none)")}\` and archived like the documents.`,
    basis: `delivery stream S3Configuration.ErrorOutputPrefix = ${String(errorPrefix ?? "unset")}`,
  });
  statements.push({
    where: !kept
      ? "Search: the index holds no original line (documents have no `event.original`)."
      : excluded
        ? "Search: the index does not hold the original line (`event.original` is left out of `_source`); read it from the archive."
        : indexed
          ? "Search: the index holds the original line in `_source` and indexes it as full text."
          : "Search: the index holds the original line in `_source`, stored but not indexed (not searchable as text); the archive remains the evidence.",
    basis: `${parts.searchBootstrap?.logicalId ?? "(no search bootstrap found)"} IndexEventOriginal = ${String(valueAt(bootstrap, "IndexEventOriginal") ?? "unset")}, SourceExcludes = ${JSON.stringify(excludes ?? [])}`,
  });
  return statements;
}
