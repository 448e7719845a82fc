/**
 * The one redactor: what looks like a credential never reaches a message the module prints. It
 * guards every error the front door throws and every line it logs (src/index.ts), every value an
 * argument error quotes (errors.ts), and what registries send back (oci/transport.ts).
 */

const REDACTED = "[redacted]"

/** Credentials by their shape: GitHub tokens, JWTs (OIDC tokens), private keys, cloud access keys. */
const SHAPES: readonly RegExp[] = [
  /\b(?:gh[pousr]_[A-Za-z0-9]{16,}|github_pat_[A-Za-z0-9_]{20,})/g,
  /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g,
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g,
  /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g,
  /\bglpat-[A-Za-z0-9_-]{20,}/g,
  /\bxox[abpr]-[A-Za-z0-9-]{10,}/g,
]

/**
 * Words that say the value after them is a credential: `password=…`, `"token": "…"`,
 * `Authorization: Bearer …`. A value that is itself such a word is prose, not a credential
 * (containerd: "may require authorization: authorization failed: no basic auth credentials").
 */
const NAMED =
  /\b(password|passwd|pwd|secret|client_secret|token|access_token|refresh_token|id_token|api[_-]?key|private[_-]?key|auth|authorization)("?\s*[=:]\s*"?)(?!\[redacted\])(?!(?:basic|bearer)\s)(?!(?:authorization|authentication|credentials)(?:[\s"&,;]|$))(?=[^\s"&,;]{12,})[^\s"&,;]+/gi

/** `Basic …` / `Bearer …` values (a proxy that echoes the request's Authorization header). */
const SCHEMES = /\b(basic|bearer)(\s+)(?!\[redacted\])[A-Za-z0-9+/._~-]{8,}=*/gi

/** User info in a URL: `https://user:pass@host` or `https://token@host`. */
const USER_INFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@:]+(?::[^\s/@]*)?@/gi

/** A run of base64 long enough to hide a credential; checked by decoding it. */
const BASE64 = /[A-Za-z0-9+/_-]{20,}={0,2}/g

/**
 * Removes anything that looks like a credential: the known secrets (and their base64), named
 * values, `Basic`/`Bearer` values, user info in URLs, credential shapes, and base64 that decodes
 * to any of these.
 */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text
  for (const secret of secrets)
    if (secret.length >= 4)
      for (const form of [secret, Buffer.from(secret).toString("base64")]) out = out.split(form).join(REDACTED)
  out = plainRedact(out)
  return out.replace(BASE64, (run) => {
    const decoded = Buffer.from(run.replace(/-/g, "+").replace(/_/g, "/"), "base64").toString("utf8")
    // Text, not bytes, that holds something redacted: the run itself is a credential.
    return /^[\x20-\x7e\s]+$/.test(decoded) && plainRedact(decoded) !== decoded ? REDACTED : run
  })
}

function plainRedact(text: string): string {
  let out = text
    .replace(SCHEMES, `$1$2${REDACTED}`)
    .replace(NAMED, `$1$2${REDACTED}`)
    .replace(USER_INFO, `$1${REDACTED}@`)
  for (const shape of SHAPES) out = out.replace(shape, REDACTED)
  return out
}

/** Does the text hold something the redactor would remove? */
export const looksSecret = (text: string): boolean => redact(text) !== text

/** Writes a line for a person (stderr: Dagger shows it under the call's span), redacted. */
export function say(line: string): void {
  console.error(redact(line))
}

/**
 * Runs a function of the front door: whatever it throws leaves with its message redacted (a
 * kubectl, Helm or registry answer may quote what it was given).
 */
export async function redacting<T>(work: () => Promise<T> | T): Promise<T> {
  try {
    return await work()
  } catch (error) {
    if (error instanceof Error) {
      error.message = redact(error.message)
      if (error.stack) error.stack = redact(error.stack)
    }
    throw error
  }
}
