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

/** Longer quotes are shortened: a 10,000-character value must not become a 10,000-character message. */
const QUOTE_MAX = 200

/**
 * JSON-quotes a value for an error message, so empty strings and spaces stay visible. A long
 * string keeps its first 80 characters and says how long it was; a long list says how many
 * items it had and quotes the first.
 */
export function quote(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value)
  if (text.length <= QUOTE_MAX) return text
  if (typeof value === "string") return `${JSON.stringify(`${value.slice(0, 80)}…`)} (${value.length} characters)`
  if (Array.isArray(value)) return `[${value.length} items, the first ${quote(value[0])}]`
  return `${text.slice(0, QUOTE_MAX)}…`
}

/** Raises `InvalidArgumentError` unless `ok`. */
export function check(ok: boolean, argument: string, value: unknown, expected: string): void {
  if (!ok) throw new InvalidArgumentError(argument, value, expected)
}
