/**
 * The one redactor: what looks like a credential never reaches a message the module prints.
 */
/**
 * Removes anything that looks like a credential from text a registry (or a proxy in front of
 * it) sent back: the known secrets, `Basic`/`Bearer` values (a proxy that echoes the request's
 * Authorization header), `token=`/`password=` pairs and GitHub token formats.
 */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join("[redacted]")
  return out
    .replace(/\b(basic|bearer)(\s+)(?!\[redacted\])[A-Za-z0-9+/._~-]{8,}=*/gi, "$1$2[redacted]")
    .replace(
      /\b(password|passwd|secret|token|access_token|refresh_token|authorization)("?\s*[=:]\s*"?)(?!\[redacted\])(?=[^\s"&,;]{12,})[^\s"&,;]+/gi,
      "$1$2[redacted]",
    )
    .replace(/\b(gh[pousr]_[A-Za-z0-9]{16,}|github_pat_[A-Za-z0-9_]{20,})/g, "[redacted]")
}
