/** A small `multipart/form-data` reader for tests: the fields of a body, as a server would see them. */
export interface ParsedFormField {
  readonly name: string;
  readonly value: string;
  readonly fileName?: string;
  readonly contentType?: string;
}

export function parseMultipart(contentType: string, body: Buffer | string): ParsedFormField[] {
  const boundary = /^multipart\/form-data; boundary=(\S+)$/.exec(contentType)?.[1];
  if (boundary === undefined) throw new Error(`not a multipart content type: ${contentType}`);
  const text = typeof body === "string" ? body : body.toString("utf8");
  if (!text.endsWith(`--${boundary}--\r\n`))
    throw new Error("the body does not end with the closing boundary");
  const parts = text.slice(0, -`--${boundary}--\r\n`.length).split(`--${boundary}\r\n`);
  if (parts.shift() !== "") throw new Error("the body does not start with a boundary");
  return parts.map((part) => {
    const headerEnd = part.indexOf("\r\n\r\n");
    const headers = part.slice(0, headerEnd).split("\r\n");
    const value = part.slice(headerEnd + 4, -2);
    const disposition = headers.find((header) => header.startsWith("Content-Disposition: form-data;")) ?? "";
    const name = /; name="([^"]*)"/.exec(disposition)?.[1];
    if (name === undefined) throw new Error(`a part without a name: ${headers.join(" | ")}`);
    const fileName = /; filename="([^"]*)"/.exec(disposition)?.[1];
    const type = headers
      .find((header) => header.startsWith("Content-Type: "))
      ?.slice("Content-Type: ".length);
    return fileName === undefined ? { name, value } : { name, value, fileName, contentType: type };
  });
}
