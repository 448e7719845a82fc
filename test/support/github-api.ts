/**
 * A local HTTP server that speaks GitHub's REST API for container packages, written from
 * GitHub's documentation: the same paths (organisation, the token's own user, another user),
 * `per_page`/`page` with `Link` headers (`next`, `last`, `first`, `prev`), `x-ratelimit-*`
 * headers on every answer, 401 for bad credentials, 403/404 for missing scopes, 400 for the last
 * version of a package, 404 for unknown versions, and injectable faults: primary and secondary
 * rate limits (403/429 with `retry-after`), 5xx, latency. Deleting a version deletes its
 * manifest from the backing registry, as ghcr.io does.
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
  | { kind: "server-error"; status: 500 | 502 | 503 }
  | { kind: "forbidden" }
  /** The version is deleted by someone else just before this request: answers 404. */
  | { kind: "vanish" }

export interface FaultRule {
  method?: string
  /** Matches the path (without query). */
  path?: RegExp
  /** Only on the n-th matching request (1-based) and after, `times` times. */
  after?: number
  times: number
  fault: Fault
}

export interface GitHubApi {
  readonly url: string
  /** Requests by kind: "GET list", "GET version", "DELETE version", "GET user", ... */
  readonly counts: Map<string, number>
  readonly log: { method: string; path: string; status: number; at: number }[]
  addPackage(ownerLogin: string, name: string, versions: ApiVersion[]): void
  versions(ownerLogin: string, name: string): ApiVersion[]
  addFault(rule: FaultRule): void
  stop(): Promise<void>
}

export interface GitHubApiOptions {
  owners: Record<string, "Organization" | "User">
  tokens: Record<string, TokenInfo>
  /** Delay added to every answer, in ms (for the benchmark). */
  latencyMs?: number
  /** Where deleted versions' manifests are deleted too: `http://host:port` and the repository path of each package. */
  registry?: { url: string; repository: (owner: string, name: string) => string }
  /** Public packages whose versions exceeded 5,000 downloads cannot be deleted. */
  popular?: Set<number>
}

const json = (response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  response.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers })
  response.end(status === 204 ? undefined : JSON.stringify(body))
}

export async function startGitHubApi(options: GitHubApiOptions): Promise<GitHubApi> {
  const packages = new Map<string, ApiVersion[]>() // "owner/name" (lower-case owner) -> versions
  const counts = new Map<string, number>()
  const log: GitHubApi["log"] = []
  const faults: (FaultRule & { seen: number })[] = []
  const limit = 5000
  let used = 0
  let url = ""

  const rateHeaders = () => ({
    "x-ratelimit-limit": String(limit),
    "x-ratelimit-remaining": String(Math.max(0, limit - used)),
    "x-ratelimit-reset": String(Math.floor(Date.now() / 1000) + 3600),
    "x-ratelimit-used": String(used),
    "x-ratelimit-resource": "core",
  })
  const count = (kind: string) => counts.set(kind, (counts.get(kind) ?? 0) + 1)

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const full = new URL(request.url ?? "/", url)
    const path = full.pathname
    const method = request.method ?? "GET"
    used++
    if (options.latencyMs) await new Promise((r) => setTimeout(r, options.latencyMs))

    const auth = request.headers.authorization ?? ""
    const token = /^(?:token|bearer)\s+(.+)$/i.exec(auth)?.[1]
    const who = token ? options.tokens[token] : undefined
    if (!who) return json(response, 401, { message: "Bad credentials", documentation_url: "https://docs.github.com/rest", status: "401" }, rateHeaders())

    for (const rule of faults) {
      if (rule.times <= 0) continue
      if (rule.method && rule.method !== method) continue
      if (rule.path && !rule.path.test(path)) continue
      rule.seen++
      if (rule.after && rule.seen < rule.after) continue
      rule.times--
      const f = rule.fault
      count(`fault ${f.kind}`)
      if (f.kind === "secondary") {
        return json(response, f.status, { message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.", documentation_url: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits" },
          { ...rateHeaders(), ...(f.retryAfter !== undefined ? { "retry-after": String(f.retryAfter) } : {}) })
      }
      if (f.kind === "primary") {
        return json(response, f.status, { message: `API rate limit exceeded for user ID 1.`, documentation_url: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api" },
          { ...rateHeaders(), "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(Math.floor(Date.now() / 1000) + f.resetInSeconds) })
      }
      if (f.kind === "server-error") return json(response, f.status, { message: "Server Error" }, rateHeaders())
      if (f.kind === "vanish") {
        for (const list of packages.values()) {
          const i = list.findIndex((v) => path.endsWith(`/versions/${v.id}`))
          if (i >= 0) list.splice(i, 1)
        }
        return json(response, 404, { message: "Not Found" }, rateHeaders())
      }
      return json(response, 403, { message: "Resource not accessible by personal access token" }, rateHeaders())
    }

    let match: RegExpExecArray | null
    if (method === "GET" && (match = /^\/users\/([^/]+)$/.exec(path))) {
      count("GET owner")
      const login = Object.keys(options.owners).find((o) => o.toLowerCase() === decodeURIComponent(match![1]!).toLowerCase())
      if (!login) return json(response, 404, { message: "Not Found" }, rateHeaders())
      return json(response, 200, { login, id: 1, type: options.owners[login] }, rateHeaders())
    }
    if (method === "GET" && path === "/user") {
      count("GET user")
      if (who.integration) return json(response, 403, { message: "Resource not accessible by integration" }, rateHeaders())
      return json(response, 200, { login: who.login, type: "User" }, rateHeaders())
    }

    match = /^\/(?:orgs\/([^/]+)|user|users\/([^/]+))\/packages\/container\/([^/]+)\/versions(?:\/(\d+))?$/.exec(path)
    if (!match) return json(response, 404, { message: "Not Found" }, rateHeaders())
    const [, org, user, encodedName, id] = match
    const name = decodeURIComponent(encodedName!)
    if (name.includes("/") && encodedName!.includes("/")) return json(response, 404, { message: "Not Found" }, rateHeaders())
    const ownerLogin = org ?? user ?? who.login
    const ownerType = Object.entries(options.owners).find(([o]) => o.toLowerCase() === ownerLogin.toLowerCase())?.[1]
    // /orgs/ only for organisations; /users/ and /user only for users.
    if ((org && ownerType !== "Organization") || (!org && ownerType !== "User")) return json(response, 404, { message: "Not Found" }, rateHeaders())
    if (!who.scopes.includes("read:packages")) {
      return json(response, 403, { message: "You need at least read:packages scope to list packages." }, rateHeaders())
    }
    const versions = packages.get(`${ownerLogin.toLowerCase()}/${name}`)
    if (!versions) return json(response, 404, { message: "Package not found." }, rateHeaders())

    if (!id) {
      if (method !== "GET") return json(response, 404, { message: "Not Found" }, rateHeaders())
      count("GET list")
      const perPage = Math.min(100, Math.max(1, Number(full.searchParams.get("per_page") ?? 30)))
      const page = Math.max(1, Number(full.searchParams.get("page") ?? 1))
      const sorted = [...versions].sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at) || b.id - a.id)
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
      if (versions.length === 1) return json(response, 400, { message: "You cannot delete the last version of a package. You must delete the package instead." }, rateHeaders())
      if (options.popular?.has(version.id)) return json(response, 400, { message: "Publicly visible package versions with more than 5000 downloads cannot be deleted. Contact GitHub support for further assistance." }, rateHeaders())
      if (options.registry) {
        const res = await fetch(`${options.registry.url}/v2/${options.registry.repository(ownerLogin, name)}/manifests/${version.name}`, { method: "DELETE" })
        if (res.status !== 202 && res.status !== 404) return json(response, 500, { message: `registry delete answered ${res.status}` }, rateHeaders())
      }
      versions.splice(versions.indexOf(version), 1)
      return json(response, 204, undefined, rateHeaders())
    }
    return json(response, 404, { message: "Not Found" }, rateHeaders())
  }

  const server = createServer((request, response) => {
    void handle(request, response)
      .catch((error: unknown) => json(response, 500, { message: String(error) }))
      .finally(() => log.push({ method: request.method ?? "", path: request.url ?? "", status: response.statusCode, at: Date.now() }))
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
    addFault: (rule) => faults.push({ ...rule, seen: 0 }),
    stop: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }),
  }
}

function toApi(version: ApiVersion, owner: string, name: string, base: string) {
  return {
    id: version.id,
    name: version.name,
    url: `${base}/orgs/${owner}/packages/container/${encodeURIComponent(name)}/versions/${version.id}`,
    package_html_url: `https://github.com/orgs/${owner}/packages/container/package/${encodeURIComponent(name)}`,
    created_at: version.created_at,
    updated_at: version.updated_at,
    html_url: `https://github.com/orgs/${owner}/packages/container/${encodeURIComponent(name)}/${version.id}`,
    metadata: { package_type: "container", container: { tags: version.tags } },
  }
}
