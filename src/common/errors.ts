/**
 * Errors a person can act on: an argument refused before any side effect (named, quoted, with
 * what is expected), and the network's own reason for a request that got no answer.
 */
import { redact } from "./redact.js"

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

/** A quoted value longer than this (as JSON) is shortened: a 10,000-character value must not become a 10,000-character message. */
export const QUOTE_LIMIT = 200

/** How many characters of a shortened string an error still shows: enough to recognise it. */
const QUOTE_HEAD = 80

/**
 * Characters a terminal or a log viewer would act on or hide instead of showing: C0 and C1
 * controls, zero-width characters, line and paragraph separators, and the bidirectional
 * overrides and isolates (U+202E makes `gpj.exe` read as `exe.jpg`).
 */
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g

/**
 * JSON-quotes a value for an error message, so empty strings and spaces stay visible; control,
 * invisible and bidirectional characters are escaped as `\uXXXX`. A value longer than
 * QUOTE_LIMIT is shortened: a string keeps its first 80 characters and says how long it was; a
 * list says how many items it had and quotes the first. A credential is never quoted: whatever
 * the redactor would remove (a token pasted into the wrong argument, a URL with user info) is
 * shown as `[redacted]`.
 */
export function quote(value: unknown): string {
  const escape = (text: string) =>
    redact(text).replace(INVISIBLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)
  const text = escape(JSON.stringify(value) ?? String(value))
  if (text.length <= QUOTE_LIMIT) return text
  if (typeof value === "string")
    return `${escape(JSON.stringify(`${value.slice(0, QUOTE_HEAD)}…`))} (${value.length} characters)`
  if (Array.isArray(value)) return `[${value.length} items, the first ${quote(value[0])}]`
  return `${text.slice(0, QUOTE_LIMIT)}…`
}

/** Raises `InvalidArgumentError` unless `ok`. */
export function check(ok: boolean, argument: string, value: unknown, expected: string): void {
  if (!ok) throw new InvalidArgumentError(argument, value, expected)
}

/** Why a request got no answer, as the network said it: found in the error's cause chain. */
export interface NetworkCause {
  /** The socket's or TLS layer's code (ECONNREFUSED, ENOTFOUND, ERR_SSL_…), when one was given. */
  readonly code?: string
  /** The request was cut off by its timeout (or aborted) before any answer. */
  readonly timedOut: boolean
  /** The innermost message: that of the cause with the code, else the deepest one below the error. */
  readonly detail: string
}

/**
 * Walks an error's cause chain (Octokit's RequestError -> fetch's TypeError -> the socket error)
 * for the network's own reason: fetch alone only says "fetch failed".
 */
export function networkCause(error: unknown): NetworkCause {
  let detail = (error as Error)?.message ?? String(error)
  for (let cause: unknown = error; cause; cause = (cause as { cause?: unknown }).cause) {
    const c = cause as { code?: unknown; message?: unknown; name?: unknown }
    if (c.name === "TimeoutError" || c.name === "AbortError") return { timedOut: true, detail }
    if (typeof c.code === "string")
      return { code: c.code, timedOut: false, detail: typeof c.message === "string" ? c.message.trim() : c.code }
    if (cause !== error && typeof c.message === "string") detail = c.message
  }
  return { timedOut: false, detail }
}
