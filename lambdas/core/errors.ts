/**
 * How a caught value becomes text. `catch (error)` hands over `unknown`: an `Error` most of the time, anything a
 * library throws otherwise.
 */

/** The message alone, for text that already says what failed (`--template x.json: <message>`). */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The type and the message (`TimeoutError: <message>`), for logs and ops alerts where the type says what failed;
 * a plain `Error` adds no type.
 */
export function errorDescription(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.name === "Error" ? error.message : `${error.name}: ${error.message}`;
}
