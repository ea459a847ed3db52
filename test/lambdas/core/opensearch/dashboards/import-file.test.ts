import { describe, expect, it } from "vitest";
import {
  buildDashboardsSavedObjects,
  IMPORT_FILE_NAME,
  importFileField,
  multipartForm,
  renderSavedObjectsNdjson,
} from "../../../../../lambdas/core/opensearch/index.js";
import { parseMultipart } from "../multipart.js";

describe("import file and form", () => {
  it("renders the saved objects as NDJSON that parses back to the same objects", () => {
    // Prepare
    const objects = buildDashboardsSavedObjects();

    // Act
    const ndjson = renderSavedObjectsNdjson(objects);

    // Assess
    expect(ndjson.endsWith("\n")).toBe(true);
    expect(
      ndjson
        .trimEnd()
        .split("\n")
        .map((line) => JSON.parse(line)),
    ).toEqual(JSON.parse(JSON.stringify(objects)));
  });

  it("encodes a multipart form whose file field carries the NDJSON under a .ndjson file name", () => {
    // Prepare
    const ndjson = renderSavedObjectsNdjson(buildDashboardsSavedObjects());

    // Act
    const form = multipartForm([importFileField(ndjson), { name: "retries", value: "[]" }]);

    // Assess
    const fields = parseMultipart(form.contentType, form.body);
    expect(fields).toEqual([
      { name: "file", fileName: IMPORT_FILE_NAME, contentType: "application/ndjson", value: ndjson },
      { name: "retries", value: "[]" },
    ]);
    expect(IMPORT_FILE_NAME.endsWith(".ndjson")).toBe(true);
  });

  it("gives the same content the same bytes, and other content another boundary", () => {
    // Act
    const first = multipartForm([{ name: "a", value: "1" }]);
    const again = multipartForm([{ name: "a", value: "1" }]);
    const other = multipartForm([{ name: "a", value: "2" }]);

    // Assess
    expect(again.body.equals(first.body)).toBe(true);
    expect(other.contentType).not.toBe(first.contentType);
  });

  it("refuses a field name or file name that would break the part headers", () => {
    expect(() => multipartForm([{ name: 'a"b', value: "x" }])).toThrow('form field "a"b"');
    expect(() =>
      multipartForm([
        { name: "file", value: "x", file: { fileName: "a\r\nb.ndjson", contentType: "application/ndjson" } },
      ]),
    ).toThrow("cannot go into a multipart header");
  });
});
