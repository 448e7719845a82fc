/**
 * An argument the caller gave is not acceptable. Raised before any side effect, so the
 * message alone must let a person fix the call: it names the argument, quotes the value and
 * says what is expected.
 */
export class InvalidArgumentError extends Error {
  override name = "InvalidArgumentError"
  constructor(
    readonly argument: string,
    readonly value: unknown,
    expected: string,
  ) {
    super(`${argument} ${quote(value)} ${expected}`)
  }
}

/** JSON-quotes a value for an error message, so empty strings and spaces stay visible. */
export function quote(value: unknown): string {
  return JSON.stringify(value) ?? String(value)
}

/** Raises `InvalidArgumentError` unless `ok`. */
export function check(ok: boolean, argument: string, value: unknown, expected: string): void {
  if (!ok) throw new InvalidArgumentError(argument, value, expected)
}
