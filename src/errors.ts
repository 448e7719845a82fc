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

/** How much of a quoted value an error shows: enough to recognise it, never a wall of text. */
export const QUOTE_LIMIT = 120

/**
 * Characters a terminal or a log viewer would act on or hide instead of showing: C0 and C1
 * controls, zero-width characters, line and paragraph separators, and the bidirectional
 * overrides and isolates (U+202E makes `gpj.exe` read as `exe.jpg`).
 */
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g

/**
 * JSON-quotes a value for an error message, so empty strings and spaces stay visible; control,
 * invisible and bidirectional characters are escaped as `\uXXXX`, and a long value is cut to
 * QUOTE_LIMIT characters with the count of what was left out.
 */
export function quote(value: unknown): string {
  const escape = (text: string) => text.replace(INVISIBLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)
  if (typeof value === "string") {
    if (value.length <= QUOTE_LIMIT) return escape(JSON.stringify(value))
    return `${escape(JSON.stringify(value.slice(0, QUOTE_LIMIT)))}… (${value.length - QUOTE_LIMIT} more characters)`
  }
  const text = escape(JSON.stringify(value) ?? String(value))
  return text.length <= QUOTE_LIMIT ? text : `${text.slice(0, QUOTE_LIMIT)}… (${text.length - QUOTE_LIMIT} more characters)`
}

/** Raises `InvalidArgumentError` unless `ok`. */
export function check(ok: boolean, argument: string, value: unknown, expected: string): void {
  if (!ok) throw new InvalidArgumentError(argument, value, expected)
}
