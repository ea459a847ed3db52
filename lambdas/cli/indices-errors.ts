/**
 * The error `-c env=NAME` paths (`posture`, `review`) raise when the environment cannot be read: its stack is not
 * deployed or lacks an output, its domain cannot be reached or refuses the search, its archive cannot be read. A
 * user error (printed after the verb's name, exit status 2), in a module of its own so the verbs can name it
 * without loading the AWS SDK the environment path needs.
 */
export class EnvironmentAccessError extends Error {
  override readonly name = "EnvironmentAccessError";
}
