/**
 * The one OCI registry client: manifest HEAD/GET/PUT over the distribution API with the token
 * exchange ghcr.io uses (`401` + `WWW-Authenticate: Bearer realm=...,service=...,scope=...`,
 * then `GET realm?service=...&scope=...` with basic auth). Publishing and retention share it;
 * nobody else talks to a registry over HTTP.
 *
 * Credentials are held in memory only. No message built here ever contains them.
 */
import { createHash } from "node:crypto"

import { networkCause } from "./errors.js"

/** Every manifest kind we read: OCI and Docker, single-platform and index. */
export const MANIFEST_ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ")

export const INDEX_MEDIA_TYPES = new Set([
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
])

export interface RegistryEndpoint {
  readonly scheme: "http" | "https"
  readonly host: string
}

export interface RegistryCredentials {
  readonly username: string
  readonly password: string
}

/** What a HEAD tells: the digest a reference resolves to and its media type. */
export interface ManifestHead {
  readonly digest: string
  readonly mediaType: string
}

/** A manifest as stored: its exact bytes (digest-verified) and the parsed JSON. */
export interface Manifest extends ManifestHead {
  readonly body: Uint8Array
  readonly json: ManifestJson
}

/** The fields of an image manifest or index that the module looks at. */
export interface ManifestJson {
  mediaType?: string
  manifests?: {
    digest: string
    mediaType?: string
    artifactType?: string
    platform?: { os?: string; architecture?: string; variant?: string }
    annotations?: Record<string, string>
  }[]
  subject?: { digest: string }
  artifactType?: string
  config?: { mediaType?: string }
  annotations?: Record<string, string>
}

/** A registry answered something the caller cannot continue from. */
export class RegistryError extends Error {
  override name = "RegistryError"
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message)
  }
}

export function sha256Digest(body: Uint8Array): string {
  return `sha256:${createHash("sha256").update(body).digest("hex")}`
}

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
}

export class RegistryClient {
  /** Bearer tokens by the scope the registry asked for, e.g. `repository:o/i:pull`. */
  private readonly tokens = new Map<string, string>()
  /** Which scope a repository/action pair was last challenged for. */
  private readonly scopeFor = new Map<string, string>()
  /** A first request still learning a repository/action's challenge: the others wait for it. */
  private readonly learning = new Map<string, Promise<unknown>>()
  private readonly timeoutMs: number

  constructor(
    readonly endpoint: RegistryEndpoint,
    private readonly credentials?: RegistryCredentials,
    options: RegistryClientOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 30_000
  }

  /** The digest a tag or digest resolves to, or `undefined` when the registry does not have it. */
  async resolve(repository: string, reference: string): Promise<ManifestHead | undefined> {
    const response = await this.send("HEAD", repository, `manifests/${reference}`, { accept: MANIFEST_ACCEPT })
    if (response.status === 404) return undefined
    await this.expectOk(response, "HEAD", repository, reference)
    const digest = response.headers.get("docker-content-digest")
    if (digest) return { digest, mediaType: response.headers.get("content-type") ?? "" }
    // Some registries leave the digest out of HEAD answers: read the body once.
    const manifest = await this.manifest(repository, reference)
    return { digest: manifest.digest, mediaType: manifest.mediaType }
  }

  /** The manifest bytes of a tag or digest; the digest is verified against the bytes. */
  async manifest(repository: string, reference: string): Promise<Manifest> {
    const response = await this.send("GET", repository, `manifests/${reference}`, { accept: MANIFEST_ACCEPT })
    await this.expectOk(response, "GET", repository, reference)
    const body = new Uint8Array(await response.arrayBuffer())
    const digest = sha256Digest(body)
    const claimed = reference.startsWith("sha256:") ? reference : response.headers.get("docker-content-digest")
    if (claimed && claimed !== digest) {
      throw new RegistryError(
        `${this.where(repository, reference)}: the manifest's bytes hash to ${digest}, not ${claimed}; refusing to trust it`,
      )
    }
    let json: ManifestJson
    try {
      json = JSON.parse(new TextDecoder().decode(body)) as ManifestJson
    } catch {
      throw new RegistryError(`${this.where(repository, reference)}: the manifest is not JSON`)
    }
    const mediaType = json.mediaType ?? response.headers.get("content-type") ?? ""
    return { digest, mediaType, body, json }
  }

  /**
   * Every tag of a repository (`GET /v2/<name>/tags/list`), following the distribution spec's
   * pagination: `n` asks for a page size, and a `Link: <...>; rel="next"` header names the next
   * page (registries that do not paginate, such as distribution 2.8, answer everything at once).
   * A repository the registry does not know has no tags.
   */
  async tags(repository: string, pageSize = 1000): Promise<string[]> {
    const tags: string[] = []
    const seen = new Set<string>()
    let path = `tags/list?n=${pageSize}`
    for (let page = 1; ; page++) {
      if (page > 10_000)
        throw new RegistryError(`${this.endpoint.host}/${repository}: the tag list did not end after 10,000 pages`)
      const response = await this.send("GET", repository, path, { accept: "application/json" })
      if (response.status === 404 && page === 1) {
        await response.arrayBuffer().catch(() => undefined)
        return []
      }
      await this.expectOk(response, "GET", repository, "tags/list")
      const body = (await response.json().catch(() => undefined)) as { tags?: unknown } | undefined
      if (!body || (body.tags !== null && body.tags !== undefined && !Array.isArray(body.tags)))
        throw new RegistryError(`${this.endpoint.host}/${repository}: the tag list is not JSON with a "tags" list`)
      for (const tag of (body.tags ?? []) as unknown[]) {
        if (typeof tag === "string" && !seen.has(tag)) {
          seen.add(tag)
          tags.push(tag)
        }
      }
      const next = /<([^>]+)>\s*;\s*rel="?next"?/.exec(response.headers.get("link") ?? "")?.[1]
      if (!next) return tags
      // The next page's URL, relative to the registry (the spec's form) or absolute on the same host.
      const url = new URL(next, `${this.endpoint.scheme}://${this.endpoint.host}`)
      const prefix = `/v2/${repository}/`
      if (url.host !== this.endpoint.host || !url.pathname.startsWith(prefix))
        throw new RegistryError(
          `${this.endpoint.host}/${repository}: the tag list's next page ${JSON.stringify(next)} is not on this repository`,
        )
      path = `${url.pathname.slice(prefix.length)}${url.search}`
    }
  }

  /** A blob's bytes (an image config, for instance), verified against its digest. */
  async blob(repository: string, digest: string): Promise<Uint8Array> {
    const response = await this.send("GET", repository, `blobs/${digest}`, {})
    await this.expectOk(response, "GET", repository, digest)
    const body = new Uint8Array(await response.arrayBuffer())
    if (sha256Digest(body) !== digest) {
      throw new RegistryError(
        `${this.where(repository, digest)}: the blob's bytes hash to ${sha256Digest(body)}, not ${digest}; refusing to trust it`,
      )
    }
    return body
  }

  /** Stores manifest bytes under a tag (or digest); returns the digest the registry reports. */
  async putManifest(
    repository: string,
    reference: string,
    manifest: { mediaType: string; body: Uint8Array },
  ): Promise<string> {
    const response = await this.send(
      "PUT",
      repository,
      `manifests/${reference}`,
      {
        "content-type": manifest.mediaType,
      },
      manifest.body,
    )
    await this.expectOk(response, "PUT", repository, reference)
    return response.headers.get("docker-content-digest") ?? sha256Digest(manifest.body)
  }

  private where(repository: string, reference: string): string {
    return `${this.endpoint.host}/${repository}@${reference}`.replace(/@(?!sha256:)/, ":")
  }

  private async expectOk(response: Response, method: string, repository: string, reference: string): Promise<void> {
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

  private async send(
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
      fetch(url, {
        method,
        headers: { ...headers, ...(authorization ? { authorization } : {}) },
        body: body === undefined ? undefined : Buffer.from(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      }).catch((error: unknown) => {
        throw new RegistryError(`${method} ${url}: ${noAnswer(error, this.endpoint, this.timeoutMs)}`)
      })
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
    const response = await fetch(url, {
      headers: authorization ? { authorization } : {},
      signal: AbortSignal.timeout(this.timeoutMs),
    }).catch((error: unknown) => {
      throw new RegistryError(
        `token request to ${url.origin}${url.pathname}: ${noAnswer(error, { scheme: url.protocol === "http:" ? "http" : "https", host: url.host }, this.timeoutMs)}`,
      )
    })
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
