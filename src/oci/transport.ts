/**
 * How the registry client reaches a registry: one request at a time over the distribution API,
 * with the token exchange ghcr.io uses (a `401` with `WWW-Authenticate: Bearer realm=...`, then a
 * token from the realm with basic auth), and every refusal or silence put in words. The
 * credentials and tokens live here, in memory only, and are redacted from every message.
 */
import { networkCause } from "../common/errors.js"
import { redact } from "../common/redact.js"
import { type RegistryCredentials, type RegistryEndpoint, RegistryError } from "./manifest.js"

/** Parses `Bearer realm="...",service="...",scope="..."` (and `Basic realm=...`). */
export function parseChallenge(header: string | null): { scheme: string; params: Record<string, string> } | undefined {
  if (!header) return undefined
  const match = /^\s*(\w+)\s*(.*)$/s.exec(header)
  if (!match) return undefined
  const params: Record<string, string> = {}
  for (const m of match[2]!.matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]*))/g)) params[m[1]!.toLowerCase()] = m[2] ?? m[3] ?? ""
  return { scheme: match[1]!.toLowerCase(), params }
}

export interface RegistryClientOptions {
  /** Per-request timeout; a registry that hangs must not hang the pipeline. */
  readonly timeoutMs?: number
  /** Tries of one request when the registry answers 429 or 5xx, or nothing (default 4). */
  readonly attempts?: number
  /** Milliseconds per second of waiting between tries (`Retry-After`, backoff): 1000; tests shrink time with it. */
  readonly msPerSecond?: number
}

/** Answers worth another try: the registry is busy or briefly broken (a proxy in front of it, a restart). */
const TRANSIENT = new Set([429, 500, 502, 503, 504])

/** How long to wait before try `attempt + 1`, in seconds: the registry's `Retry-After` (at most a minute), else 1, 2, 4 … */
export function retryDelay(attempt: number, retryAfter: string | null): number {
  const seconds = retryAfter === null || retryAfter.trim() === "" ? Number.NaN : Number(retryAfter)
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds, 60)
  const date = retryAfter ? Date.parse(retryAfter) : Number.NaN
  if (Number.isFinite(date)) return Math.min(Math.max(0, (date - Date.now()) / 1000), 60)
  return 2 ** (attempt - 1)
}

export class RegistryTransport {
  /** Bearer tokens by the scope the registry asked for, e.g. `repository:o/i:pull`. */
  private readonly tokens = new Map<string, string>()
  /** Which scope a repository/action pair was last challenged for. */
  private readonly scopeFor = new Map<string, string>()
  /** A first request still learning a repository/action's challenge: the others wait for it. */
  private readonly learning = new Map<string, Promise<unknown>>()
  private readonly timeoutMs: number
  private readonly attempts: number
  private readonly msPerSecond: number

  constructor(
    readonly endpoint: RegistryEndpoint,
    private readonly credentials?: RegistryCredentials,
    options: RegistryClientOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 30_000
    this.attempts = options.attempts ?? 4
    this.msPerSecond = options.msPerSecond ?? 1000
  }

  /**
   * One request, tried again (at most `attempts` times in all, waiting as the registry asks or
   * backing off) while the registry answers 429 or 5xx or nothing at all. Every method the
   * client sends is safe to repeat: reads, and a PUT of the same manifest bytes to the same tag.
   */
  private async fetchRetrying(
    url: string | URL,
    init: RequestInit,
    noAnswerAt: RegistryEndpoint,
    what: string,
  ): Promise<Response> {
    for (let attempt = 1; ; attempt++) {
      let response: Response | undefined
      let failure: RegistryError | undefined
      try {
        response = await fetch(url, { ...init, signal: AbortSignal.timeout(this.timeoutMs) })
      } catch (error) {
        failure = new RegistryError(`${what}: ${noAnswer(error, noAnswerAt, this.timeoutMs)}`)
      }
      if (response && !TRANSIENT.has(response.status)) return response
      if (attempt >= this.attempts) {
        if (response) return response
        throw new RegistryError(`${failure!.message} (tried ${attempt} times)`)
      }
      const wait = retryDelay(attempt, response?.headers.get("retry-after") ?? null)
      await response?.arrayBuffer().catch(() => undefined)
      await new Promise((resolve) => setTimeout(resolve, wait * this.msPerSecond))
    }
  }

  where(repository: string, reference: string): string {
    return `${this.endpoint.host}/${repository}@${reference}`.replace(/@(?!sha256:)/, ":")
  }

  async expectOk(response: Response, method: string, repository: string, reference: string): Promise<void> {
    if (response.ok) return
    const detail = method === "HEAD" ? "" : redact(await errorDetail(response), this.secrets())
    const where = this.where(repository, reference)
    const hint =
      response.status === 401
        ? ": the registry refused the credentials (check the user name and that the token has read:packages, and write:packages to push)"
        : response.status === 403
          ? ': access denied (for ghcr.io, grant this repository access under the package\'s "Manage Actions access", or use a token with the packages scopes)'
          : ""
    throw new RegistryError(
      `${method} ${where} answered ${response.status}${detail ? ` (${detail})` : ""}${hint}`,
      response.status,
    )
  }

  async send(
    method: string,
    repository: string,
    path: string,
    headers: Record<string, string>,
    body?: Uint8Array,
  ): Promise<Response> {
    const action = method === "GET" || method === "HEAD" ? "pull" : "push"
    const key = `${repository}|${action}`
    const url = `${this.endpoint.scheme}://${this.endpoint.host}/v2/${repository}/${path}`
    const attempt = (authorization?: string) =>
      this.fetchRetrying(
        url,
        {
          method,
          headers: { ...headers, ...(authorization ? { authorization } : {}) },
          body: body === undefined ? undefined : Buffer.from(body),
        },
        this.endpoint,
        `${method} ${url}`,
      )
    // One request learns the challenge (and fetches the token); concurrent ones wait for it
    // rather than each being refused and each asking for a token.
    if (!this.scopeFor.has(key) && this.learning.has(key)) await this.learning.get(key)!.catch(() => undefined)
    const known = this.scopeFor.get(key)
    if (known) {
      const response = await attempt(this.authorizationFor(known))
      if (response.status !== 401) return response
      this.scopeFor.delete(key) // the token expired: learn again
      await response.arrayBuffer().catch(() => undefined)
    }
    const learn = this.learn(key, repository, action, attempt)
    this.learning.set(key, learn)
    try {
      return await learn
    } finally {
      if (this.learning.get(key) === learn) this.learning.delete(key)
    }
  }

  private async learn(
    key: string,
    repository: string,
    action: "pull" | "push",
    attempt: (authorization?: string) => Promise<Response>,
  ): Promise<Response> {
    const response = await attempt()
    if (response.status !== 401) return response
    const challenge = parseChallenge(response.headers.get("www-authenticate"))
    if (!challenge) return response
    await response.arrayBuffer().catch(() => undefined)
    if (challenge.scheme === "basic") {
      if (!this.credentials) return response
      this.scopeFor.set(key, "basic")
      return attempt(this.authorizationFor("basic"))
    }
    if (challenge.scheme !== "bearer" || !challenge.params.realm) return response
    const scope = challenge.params.scope ?? `repository:${repository}:${action === "pull" ? "pull" : "pull,push"}`
    const cacheKey = `${challenge.params.realm}|${challenge.params.service ?? ""}|${scope}`
    this.tokens.set(cacheKey, await this.fetchToken(challenge.params.realm, challenge.params.service, scope))
    this.scopeFor.set(key, cacheKey)
    return attempt(this.authorizationFor(cacheKey))
  }

  private authorizationFor(cacheKey: string): string | undefined {
    if (cacheKey === "basic") return this.basic()
    const token = this.tokens.get(cacheKey)
    return token ? `Bearer ${token}` : undefined
  }

  /** What must never appear in a message: the password, the basic credentials, the bearer tokens. */
  private secrets(): string[] {
    if (!this.credentials) return [...this.tokens.values()]
    const { username, password } = this.credentials
    return [password, Buffer.from(`${username}:${password}`).toString("base64"), ...this.tokens.values()]
  }

  private basic(): string | undefined {
    if (!this.credentials) return undefined
    return `Basic ${Buffer.from(`${this.credentials.username}:${this.credentials.password}`).toString("base64")}`
  }

  private async fetchToken(realm: string, service: string | undefined, scope: string): Promise<string> {
    const url = new URL(realm)
    if (service) url.searchParams.set("service", service)
    url.searchParams.set("scope", scope)
    const authorization = this.basic()
    const response = await this.fetchRetrying(
      url,
      { headers: authorization ? { authorization } : {} },
      { scheme: url.protocol === "http:" ? "http" : "https", host: url.host },
      `token request to ${url.origin}${url.pathname}`,
    )
    if (!response.ok) {
      throw new RegistryError(
        `token request to ${url.origin}${url.pathname} for scope ${scope} answered ${response.status}${
          response.status === 401 || response.status === 403 ? ": the registry refused the user name or token" : ""
        }`,
        response.status,
      )
    }
    const answer = (await response.json().catch(() => ({}))) as { token?: string; access_token?: string }
    const token = answer.token ?? answer.access_token
    if (!token) throw new RegistryError(`token request to ${url.origin}${url.pathname} answered without a token`)
    return token
  }
}

/** Why a request got no answer, in words, with the network's own code (fetch only says "fetch failed"). */
export function noAnswer(error: unknown, endpoint: RegistryEndpoint, timeoutMs: number): string {
  const { code, timedOut, detail } = networkCause(error)
  if (timedOut) return `no answer from ${endpoint.host} within ${timeoutMs / 1000} s`
  const where = `${endpoint.scheme}://${endpoint.host}`
  if (
    code === "ERR_SSL_WRONG_VERSION_NUMBER" ||
    code === "EPROTO" ||
    /wrong version number|packet length too long/i.test(detail)
  ) {
    return `${where} answered plain HTTP to an HTTPS request (${code ?? detail}): a registry that only speaks plain http is given as http://${endpoint.host}`
  }
  if (code === "ECONNREFUSED")
    return `could not reach the registry: nothing answers at ${where} (ECONNREFUSED: connection refused)`
  if (code === "ENOTFOUND" || code === "EAI_AGAIN")
    return `could not reach the registry: the host ${endpoint.host.replace(/:\d+$/, "")} is not known (${code})`
  if (code === "ECONNRESET" || code === "EPIPE" || code === "UND_ERR_SOCKET")
    return `the connection to ${where} was closed before it answered (${code})`
  if (code === "ETIMEDOUT" || code === "UND_ERR_CONNECT_TIMEOUT")
    return `could not reach the registry: ${where} did not answer (${code})`
  if (code && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code))
    return `${where}'s TLS certificate was refused (${code}: ${detail})`
  return `could not reach the registry at ${where} (${code ? `${code}: ` : ""}${detail})`
}

async function errorDetail(response: Response): Promise<string> {
  const text = await response.text().catch(() => "")
  try {
    const parsed = JSON.parse(text) as { errors?: { code?: string; message?: string }[] }
    const first = parsed.errors?.[0]
    if (first) return [first.code, first.message].filter(Boolean).join(": ")
  } catch {
    // not JSON: fall through to the raw text
  }
  return text.slice(0, 200).trim()
}
