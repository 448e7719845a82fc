/**
 * A local HTTP server that speaks GitHub's REST API for container packages, written from
 * GitHub's documentation: the same paths (organisation, the token's own user, another user),
 * `per_page`/`page` with `Link` headers (`next`, `last`, `first`, `prev`), `x-ratelimit-*`
 * headers on every answer, 401 for bad credentials, 403/404 for missing scopes, 400 for the last
 * version of a package, 404 for unknown versions, and injectable faults: primary and secondary
 * rate limits (403/429 with `retry-after`), 5xx (also after the request was carried out), latency.
 * `GET /rate_limit` answers the quota as documented and is not counted against it. The primary rate limit is enforced
 * as documented: `rateLimit` requests an hour (5,000 by default), announced on every answer
 * with `x-ratelimit-limit`, `-remaining`, `-used`, `-reset` and `-resource`, and beyond it 403
 * with `x-ratelimit-remaining: 0` until the reset. Deleting a version deletes its manifest from
 * the backing registry, as ghcr.io does; a test can delete one as someone else would
 * (`deleteVersion`), between two page requests for instance, and later pages shift as offset
 * pagination makes them.
 *
 * Deleted versions are kept 30 days, as GitHub does: `state=deleted` lists them (with
 * `deleted_at`), and `POST .../versions/{id}/restore` brings one back (204; the manifest and
 * the tags no active version has taken return to the registry). As documented, restoring needs
 * `read:packages` and `write:packages` (403 with GitHub's message otherwise); a version that is
 * not deleted, or was deleted more than 30 days ago, answers 404.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"

export interface ApiVersion {
  id: number
  name: string
  created_at: string
  updated_at: string
  tags: string[]
}

export interface TokenInfo {
  login: string
  scopes: string[]
  /** GITHUB_TOKEN: cannot read /user. */
  integration?: boolean
}

export type Fault =
  | { kind: "secondary"; status: 403 | 429; retryAfter?: number }
  | { kind: "primary"; status: 403 | 429; resetInSeconds: number }
  /** A 5xx; with `carriedOut`, the request is served first (a DELETE really deletes) and its answer replaced by the 5xx. */
  | { kind: "server-error"; status: 500 | 502 | 503 | 504; carriedOut?: boolean }
  | { kind: "forbidden" }
  /** The version is deleted by someone else just before this request: answers 404. */
  | { kind: "vanish" }
  /** Something happens behind the run's back just before this request, which is then served normally. */
  | { kind: "hook"; run: () => Promise<void> | void }

export interface FaultRule {
  method?: string
  /** Matches the path (without query). */
  path?: RegExp
  /** Matches the query string (`?page=2&per_page=100`). */
  query?: RegExp
  /** Only on the n-th matching request (1-based) and after, `times` times. */
  after?: number
  times: number
  fault: Fault
}

export interface GitHubApi {
  readonly url: string
  /** Requests by kind: "GET list", "GET version", "DELETE version", "GET user", "POST restore", ... */
  readonly counts: Map<string, number>
  readonly log: { method: string; path: string; status: number; at: number }[]
  addPackage(ownerLogin: string, name: string, versions: ApiVersion[]): void
  versions(ownerLogin: string, name: string): ApiVersion[]
  /** Versions deleted from the package (restorable for 30 days from `deleted_at`). */
  deletedVersions(ownerLogin: string, name: string): DeletedVersion[]
  addFault(rule: FaultRule): void
  /**
   * Deletes a version as someone else would (the UI, another tool): from the listing at once,
   * so later pages shift by one, and its manifest from the registry, restorable for 30 days.
   */
  deleteVersion(ownerLogin: string, name: string, id: number): Promise<void>
  /** Counts `n` requests against the primary rate limit, as the repository's other workflows would. */
  consume(n: number): void
  /** The primary rate limit's state: requests counted in the current window, and refusals so far. */
  readonly rateLimit: {
    readonly limit: number
    readonly used: number
    readonly refused: number
    readonly resetsAt: number
  }
  stop(): Promise<void>
}

export interface DeletedVersion extends ApiVersion {
  deleted_at: string
  /** The manifest as it was in the registry, to put back on restore. */
  manifest?: { mediaType: string; body: Uint8Array }
}

const RESTORE_WINDOW_MS = 30 * 86_400_000

export interface GitHubApiOptions {
  owners: Record<string, "Organization" | "User">
  tokens: Record<string, TokenInfo>
  /** Delay added to every answer, in ms (for the benchmark). */
  latencyMs?: number
  /** Where deleted versions' manifests are deleted too: `http://host:port` and the repository path of each package. */
  registry?: { url: string; repository: (owner: string, name: string) => string }
  /** Public packages whose versions exceeded 5,000 downloads cannot be deleted. */
  popular?: Set<number>
  /** The server's clock, in ms since the epoch (deletion times, the 30-day restore window, rate-limit windows). */
  clock?: () => number
  /**
   * The primary rate limit, as GitHub enforces it: `limit` requests per hour (5,000 for a
   * personal access token, 1,000 for a repository's GITHUB_TOKEN), the window starting with the
   * first request; beyond it 403 with `x-ratelimit-remaining: 0` until `x-ratelimit-reset`.
   */
  rateLimit?: number
}

const json = (response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  response.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers })
  response.end(status === 204 ? undefined : JSON.stringify(body))
}

export async function startGitHubApi(options: GitHubApiOptions): Promise<GitHubApi> {
  const packages = new Map<string, ApiVersion[]>() // "owner/name" (lower-case owner) -> versions
  const deleted = new Map<string, DeletedVersion[]>() // the same key -> deleted versions
  const clock = options.clock ?? Date.now
  const counts = new Map<string, number>()
  const log: GitHubApi["log"] = []
  const faults: (FaultRule & { seen: number })[] = []
  const limit = options.rateLimit ?? 5000
  const WINDOW_MS = 3_600_000
  let used = 0
  let refused = 0
  let windowStart: number | undefined
  let url = ""

  const resetAt = () => Math.ceil(((windowStart ?? clock()) + WINDOW_MS) / 1000)
  const rateHeaders = () => ({
    "x-ratelimit-limit": String(limit),
    "x-ratelimit-remaining": String(Math.max(0, limit - used)),
    "x-ratelimit-reset": String(resetAt()),
    "x-ratelimit-used": String(Math.min(used, limit)),
    "x-ratelimit-resource": "core",
  })
  const count = (kind: string) => counts.set(kind, (counts.get(kind) ?? 0) + 1)

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const full = new URL(request.url ?? "/", url)
    const path = full.pathname
    const method = request.method ?? "GET"
    if (options.latencyMs) await new Promise((r) => setTimeout(r, options.latencyMs))

    const auth = request.headers.authorization ?? ""
    const token = /^(?:token|bearer)\s+(.+)$/i.exec(auth)?.[1]
    const who = token ? options.tokens[token] : undefined
    if (!who)
      return json(
        response,
        401,
        { message: "Bad credentials", documentation_url: "https://docs.github.com/rest", status: "401" },
        rateHeaders(),
      )

    // The primary rate limit: a window of an hour from its first request.
    if (windowStart === undefined || clock() >= windowStart + WINDOW_MS) {
      windowStart = clock()
      used = 0
    }
    // GET /rate_limit: "does not count against your REST API rate limit" (GitHub's docs).
    if (method === "GET" && path === "/rate_limit") {
      count("GET rate_limit")
      const core = { limit, used: Math.min(used, limit), remaining: Math.max(0, limit - used), reset: resetAt() }
      return json(
        response,
        200,
        { resources: { core, search: { limit: 30, used: 0, remaining: 30, reset: resetAt() } }, rate: core },
        rateHeaders(),
      )
    }
    if (used >= limit) {
      refused++
      count("rate-limited")
      return json(
        response,
        403,
        {
          message: `API rate limit exceeded for installation ID 1. If you reach out to GitHub Support for help, please include the request ID.`,
          documentation_url: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
        },
        rateHeaders(),
      )
    }
    used++

    for (const rule of faults) {
      if (rule.times <= 0) continue
      if (rule.method && rule.method !== method) continue
      if (rule.path && !rule.path.test(path)) continue
      if (rule.query && !rule.query.test(full.search)) continue
      rule.seen++
      if (rule.after && rule.seen < rule.after) continue
      rule.times--
      const f = rule.fault
      count(`fault ${f.kind}`)
      if (f.kind === "secondary") {
        return json(
          response,
          f.status,
          {
            message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            documentation_url:
              "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
          },
          { ...rateHeaders(), ...(f.retryAfter !== undefined ? { "retry-after": String(f.retryAfter) } : {}) },
        )
      }
      if (f.kind === "primary") {
        return json(
          response,
          f.status,
          {
            message: `API rate limit exceeded for user ID 1.`,
            documentation_url: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
          },
          {
            ...rateHeaders(),
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": String(Math.floor(Date.now() / 1000) + f.resetInSeconds),
          },
        )
      }
      if (f.kind === "server-error" && f.carriedOut) {
        // Served, then the answer is lost: what a gateway timing out in front of GitHub looks like.
        const lost = { writeHead: () => lost, end: () => lost } as unknown as ServerResponse
        await serve(lost, method, path, full, who)
        return json(response, f.status, { message: "Server Error" }, rateHeaders())
      }
      if (f.kind === "server-error") return json(response, f.status, { message: "Server Error" }, rateHeaders())
      if (f.kind === "hook") {
        await f.run()
        break
      }
      if (f.kind === "vanish") {
        for (const list of packages.values()) {
          const i = list.findIndex((v) => path.endsWith(`/versions/${v.id}`))
          if (i >= 0) list.splice(i, 1)
        }
        return json(response, 404, { message: "Not Found" }, rateHeaders())
      }
      return json(response, 403, { message: "Resource not accessible by personal access token" }, rateHeaders())
    }

    return serve(response, method, path, full, who)
  }

  /** Answers a request that passed authentication, the rate limit and the faults: the API's routes. */
  const serve = async (response: ServerResponse, method: string, path: string, full: URL, who: TokenInfo) => {
    let match: RegExpExecArray | null
    if (method === "GET" && (match = /^\/users\/([^/]+)$/.exec(path))) {
      count("GET owner")
      const login = Object.keys(options.owners).find(
        (o) => o.toLowerCase() === decodeURIComponent(match![1]!).toLowerCase(),
      )
      if (!login) return json(response, 404, { message: "Not Found" }, rateHeaders())
      return json(response, 200, { login, id: 1, type: options.owners[login] }, rateHeaders())
    }
    if (method === "GET" && path === "/user") {
      count("GET user")
      if (who.integration)
        return json(response, 403, { message: "Resource not accessible by integration" }, rateHeaders())
      return json(response, 200, { login: who.login, type: "User" }, rateHeaders())
    }

    match =
      /^\/(?:orgs\/([^/]+)|user|users\/([^/]+))\/packages\/container\/([^/]+)\/versions(?:\/(\d+)(\/restore)?)?$/.exec(
        path,
      )
    if (!match) return json(response, 404, { message: "Not Found" }, rateHeaders())
    const [, org, user, encodedName, id, restore] = match
    const name = decodeURIComponent(encodedName!)
    if (name.includes("/") && encodedName!.includes("/"))
      return json(response, 404, { message: "Not Found" }, rateHeaders())
    const ownerLogin = org ?? user ?? who.login
    const ownerType = Object.entries(options.owners).find(([o]) => o.toLowerCase() === ownerLogin.toLowerCase())?.[1]
    // /orgs/ only for organisations; /users/ and /user only for users.
    if ((org && ownerType !== "Organization") || (!org && ownerType !== "User"))
      return json(response, 404, { message: "Not Found" }, rateHeaders())
    if (!who.scopes.includes("read:packages")) {
      return json(response, 403, { message: "You need at least read:packages scope to list packages." }, rateHeaders())
    }
    const key = `${ownerLogin.toLowerCase()}/${name}`
    const versions = packages.get(key)
    if (!versions) return json(response, 404, { message: "Package not found." }, rateHeaders())
    const gone = deleted.get(key) ?? []
    const restorable = () => gone.filter((v) => clock() - Date.parse(v.deleted_at) <= RESTORE_WINDOW_MS)

    if (restore) {
      if (method !== "POST") return json(response, 404, { message: "Not Found" }, rateHeaders())
      count("POST restore")
      if (!who.scopes.includes("write:packages"))
        return json(
          response,
          403,
          { message: "You need at least write:packages and read:packages scopes to restore a package version." },
          rateHeaders(),
        )
      const version = restorable().find((v) => v.id === Number(id))
      if (!version) return json(response, 404, { message: "Not Found" }, rateHeaders())
      if (options.registry && version.manifest) {
        const base = `${options.registry.url}/v2/${options.registry.repository(ownerLogin, name)}/manifests`
        const taken = new Set(versions.flatMap((v) => v.tags))
        for (const reference of [version.name, ...version.tags.filter((t) => !taken.has(t))]) {
          const res = await fetch(`${base}/${reference}`, {
            method: "PUT",
            headers: { "content-type": version.manifest.mediaType },
            body: Buffer.from(version.manifest.body),
          })
          if (res.status !== 201)
            return json(response, 500, { message: `registry put answered ${res.status}` }, rateHeaders())
        }
      }
      const { deleted_at: _deletedAt, manifest: _manifest, ...active } = version
      gone.splice(gone.indexOf(version), 1)
      const taken = new Set(versions.flatMap((v) => v.tags))
      versions.push({ ...active, tags: active.tags.filter((t) => !taken.has(t)) })
      return json(response, 204, undefined, rateHeaders())
    }

    if (!id) {
      if (method !== "GET") return json(response, 404, { message: "Not Found" }, rateHeaders())
      const state = full.searchParams.get("state") ?? "active"
      if (state !== "active" && state !== "deleted")
        return json(
          response,
          422,
          { message: "Validation Failed", errors: [{ field: "state", code: "invalid" }] },
          rateHeaders(),
        )
      count(state === "deleted" ? "GET deleted list" : "GET list")
      const perPage = Math.min(100, Math.max(1, Number(full.searchParams.get("per_page") ?? 30)))
      const page = Math.max(1, Number(full.searchParams.get("page") ?? 1))
      const sorted = [...(state === "deleted" ? restorable() : versions)].sort(
        (a, b) => Date.parse(b.created_at) - Date.parse(a.created_at) || b.id - a.id,
      )
      const last = Math.max(1, Math.ceil(sorted.length / perPage))
      const link = (p: number) => {
        const next = new URL(full)
        next.searchParams.set("page", String(p))
        next.searchParams.set("per_page", String(perPage))
        return next.toString()
      }
      const links: string[] = []
      if (page < last) links.push(`<${link(page + 1)}>; rel="next"`, `<${link(last)}>; rel="last"`)
      if (page > 1) links.push(`<${link(1)}>; rel="first"`, `<${link(page - 1)}>; rel="prev"`)
      const body = sorted.slice((page - 1) * perPage, page * perPage).map((v) => toApi(v, ownerLogin, name, url))
      return json(response, 200, body, { ...rateHeaders(), ...(links.length ? { link: links.join(", ") } : {}) })
    }

    const version = versions.find((v) => v.id === Number(id))
    if (method === "GET") {
      count("GET version")
      if (!version) return json(response, 404, { message: "Not Found" }, rateHeaders())
      return json(response, 200, toApi(version, ownerLogin, name, url), rateHeaders())
    }
    if (method === "DELETE") {
      count("DELETE version")
      // Users report 404, not 403, when the token lacks delete:packages.
      if (!who.scopes.includes("delete:packages")) return json(response, 404, { message: "Not Found" }, rateHeaders())
      if (!version) return json(response, 404, { message: "Not Found" }, rateHeaders())
      if (versions.length === 1)
        return json(
          response,
          400,
          { message: "You cannot delete the last version of a package. You must delete the package instead." },
          rateHeaders(),
        )
      if (options.popular?.has(version.id))
        return json(
          response,
          400,
          {
            message:
              "Publicly visible package versions with more than 5000 downloads cannot be deleted. Contact GitHub support for further assistance.",
          },
          rateHeaders(),
        )
      const problem = await remove(ownerLogin, name, version)
      if (problem) return json(response, 500, { message: problem }, rateHeaders())
      return json(response, 204, undefined, rateHeaders())
    }
    return json(response, 404, { message: "Not Found" }, rateHeaders())
  }

  /** Deletes a version: its manifest from the registry (kept to restore), then from the package. Returns a problem, if any. */
  async function remove(ownerLogin: string, name: string, version: ApiVersion): Promise<string | undefined> {
    const key = `${ownerLogin.toLowerCase()}/${name}`
    const versions = packages.get(key)!
    let manifest: DeletedVersion["manifest"]
    if (options.registry) {
      const url = `${options.registry.url}/v2/${options.registry.repository(ownerLogin, name)}/manifests/${version.name}`
      const kept = await fetch(url, { headers: { accept: MANIFEST_ACCEPT } })
      if (kept.ok)
        manifest = { mediaType: kept.headers.get("content-type") ?? "", body: new Uint8Array(await kept.arrayBuffer()) }
      const res = await fetch(url, { method: "DELETE" })
      if (res.status !== 202 && res.status !== 404) return `registry delete answered ${res.status}`
    }
    versions.splice(versions.indexOf(version), 1)
    deleted.set(key, [
      ...(deleted.get(key) ?? []),
      { ...version, tags: [...version.tags], deleted_at: new Date(clock()).toISOString(), manifest },
    ])
    return undefined
  }

  const server = createServer((request, response) => {
    void handle(request, response)
      .catch((error: unknown) => json(response, 500, { message: String(error) }))
      .finally(() =>
        log.push({
          method: request.method ?? "",
          path: request.url ?? "",
          status: response.statusCode,
          at: Date.now(),
        }),
      )
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address()
  url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`
  return {
    url,
    counts,
    log,
    addPackage: (owner, name, versions) => packages.set(`${owner.toLowerCase()}/${name}`, versions),
    versions: (owner, name) => [...(packages.get(`${owner.toLowerCase()}/${name}`) ?? [])],
    deletedVersions: (owner, name) => [...(deleted.get(`${owner.toLowerCase()}/${name}`) ?? [])],
    addFault: (rule) => faults.push({ ...rule, seen: 0 }),
    deleteVersion: async (owner, name, id) => {
      const version = packages.get(`${owner.toLowerCase()}/${name}`)?.find((v) => v.id === id)
      if (!version) throw new Error(`no version ${id} in ${owner}/${name}`)
      const problem = await remove(owner, name, version)
      if (problem) throw new Error(problem)
    },
    consume: (n) => {
      if (windowStart === undefined || clock() >= windowStart + WINDOW_MS) {
        windowStart = clock()
        used = 0
      }
      used += n
    },
    get rateLimit() {
      return { limit, used, refused, resetsAt: resetAt() }
    },
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

const MANIFEST_ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ")

function toApi(version: ApiVersion & { deleted_at?: string }, owner: string, name: string, base: string) {
  return {
    id: version.id,
    name: version.name,
    url: `${base}/orgs/${owner}/packages/container/${encodeURIComponent(name)}/versions/${version.id}`,
    package_html_url: `https://github.com/orgs/${owner}/packages/container/package/${encodeURIComponent(name)}`,
    created_at: version.created_at,
    updated_at: version.updated_at,
    html_url: `https://github.com/orgs/${owner}/packages/container/${encodeURIComponent(name)}/${version.id}`,
    ...(version.deleted_at ? { deleted_at: version.deleted_at } : {}),
    metadata: { package_type: "container", container: { tags: version.tags } },
  }
}
