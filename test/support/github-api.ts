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
 *
 * A repository's Actions settings, read-only, as the setup check reads them (`repositorySettings`
 * at the end of this file): the repository, its environments (with `deployment_branch_policy` and
 * `protection_rules`), an environment's deployment branch and tag rules, secrets and variables,
 * the repository's secrets and variables, and the organisation's ones shared with it. Secrets are
 * listed by name only, variables with their values, as GitHub does; `per_page` is capped at 100
 * (30 for variables), with `Link` pagination. A classic token needs the `repo` scope; a
 * fine-grained one the permissions GitHub's table gives (`actions:read` for environments,
 * `secrets:read`, `variables:read`, and `environments:read` besides for an environment's), else
 * 403 with `x-accepted-github-permissions`.
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
  /** A repository the Actions settings routes answer for (its owner must be in `owners`). */
  addRepository(fullName: string, options?: { defaultBranch?: string }): void
  /** An environment of a repository, with its deployment rules and required reviewers. */
  addEnvironment(repository: string, name: string, options?: EnvironmentOptions): void
  /** A secret (a name only: GitHub never gives a value back) of a repository, one of its environments, or an organisation. */
  addSecret(scope: SettingScope, name: string): void
  /** A variable, which GitHub lists with its value. */
  addVariable(scope: SettingScope, name: string, value: string): void
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

/** Where a secret or variable lives: a repository, one of its environments, or an organisation (shared with the repositories named, or with all). */
export type SettingScope =
  | { readonly repository: string; readonly environment?: string }
  | { readonly organisation: string; readonly repositories?: readonly string[] }

export interface EnvironmentOptions {
  /** Who may deploy: every branch and tag (GitHub's default), protected branches, or the rules given. */
  readonly refs?: "all" | "protected" | { readonly branches?: readonly string[]; readonly tags?: readonly string[] }
  /** How many required reviewers (0: no such rule). */
  readonly reviewers?: number
  readonly preventSelfReview?: boolean
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
  const settings = repositorySettings(options.owners, () => url)

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

    if (path.startsWith("/repos/")) {
      const answer = method === "GET" ? settings.serve(path, full, who) : undefined
      if (answer) count(answer.kind)
      const { status, body, headers } = answer ?? { status: 404, body: { message: "Not Found" }, headers: {} }
      return json(response, status, body, { ...rateHeaders(), ...headers })
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
    addRepository: settings.addRepository,
    addEnvironment: settings.addEnvironment,
    addSecret: settings.addSecret,
    addVariable: settings.addVariable,
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

interface EnvironmentState {
  name: string
  refs: NonNullable<EnvironmentOptions["refs"]>
  reviewers: number
  preventSelfReview: boolean
  secrets: Set<string>
  variables: Map<string, string>
}

interface RepositoryState {
  fullName: string
  owner: string
  defaultBranch: string
  environments: Map<string, EnvironmentState>
  secrets: Set<string>
  variables: Map<string, string>
}

/** An answer of the settings routes, and the kind of request it counts as. */
interface SettingsAnswer {
  kind: string
  status: number
  body: unknown
  headers: Record<string, string>
}

const STAMP = "2026-01-05T10:00:00Z"

/**
 * The read-only Actions settings routes of a repository, from GitHub's REST reference: the
 * repository, environments, deployment branch policies, and the secrets and variables of an
 * environment, the repository and the organisation (those shared with the repository).
 */
function repositorySettings(owners: GitHubApiOptions["owners"], base: () => string) {
  const repositories = new Map<string, RepositoryState>() // lower-case "owner/name"
  type Shared = readonly string[] | undefined
  type SharedValue = { value: string; repositories?: readonly string[] }
  const organisationSecrets = new Map<string, Map<string, Shared>>() // org -> name -> repositories
  const organisationVariables = new Map<string, Map<string, SharedValue>>()
  const repositoryOf = (fullName: string) => {
    const found = repositories.get(fullName.toLowerCase())
    if (!found) throw new Error(`no repository ${fullName}: addRepository first`)
    return found
  }
  const environmentOf = (repository: string, name: string) => {
    const found = repositoryOf(repository).environments.get(name.toLowerCase())
    if (!found) throw new Error(`no environment ${name} in ${repository}: addEnvironment first`)
    return found
  }
  const shared = (repositories: readonly string[] | undefined, fullName: string) =>
    repositories === undefined || repositories.some((r) => r.toLowerCase() === fullName.toLowerCase())

  const answer = (
    kind: string,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): SettingsAnswer => ({
    kind,
    status,
    body,
    headers,
  })
  const notFound = (kind: string) =>
    answer(kind, 404, { message: "Not Found", documentation_url: "https://docs.github.com/rest", status: "404" })

  /** A fine-grained token's permissions, or the classic `repo` scope; GITHUB_TOKEN is refused as an integration. */
  const refuse = (kind: string, who: TokenInfo, permissions: readonly string[]): SettingsAnswer | undefined => {
    if (who.scopes.includes("repo") || permissions.every((p) => who.scopes.includes(p))) return undefined
    const message = who.integration
      ? "Resource not accessible by integration"
      : "Resource not accessible by personal access token"
    return answer(
      kind,
      403,
      { message, documentation_url: "https://docs.github.com/rest", status: "403" },
      { "x-accepted-github-permissions": permissions.map((p) => p.replace(":", "=")).join(",") },
    )
  }

  /** One page of a listing: `{ total_count, <key>: [...] }`, `per_page` capped, and `Link` as GitHub writes it. */
  const page = (kind: string, full: URL, key: string, items: readonly unknown[], maxPerPage = 100): SettingsAnswer => {
    const perPage = Math.min(maxPerPage, Math.max(1, Number(full.searchParams.get("per_page") ?? 30)))
    const current = Math.max(1, Number(full.searchParams.get("page") ?? 1))
    const last = Math.max(1, Math.ceil(items.length / perPage))
    const link = (p: number) => {
      const next = new URL(full)
      next.searchParams.set("per_page", String(perPage))
      next.searchParams.set("page", String(p))
      return next.toString()
    }
    const links: string[] = []
    if (current < last) links.push(`<${link(current + 1)}>; rel="next"`, `<${link(last)}>; rel="last"`)
    if (current > 1) links.push(`<${link(1)}>; rel="first"`, `<${link(current - 1)}>; rel="prev"`)
    const body = { total_count: items.length, [key]: items.slice((current - 1) * perPage, current * perPage) }
    return answer(kind, 200, body, links.length > 0 ? { link: links.join(", ") } : {})
  }

  const secretItems = (names: Iterable<string>) =>
    [...names].sort().map((name) => ({ name, created_at: STAMP, updated_at: STAMP }))
  const variableItems = (values: Iterable<[string, string]>) =>
    [...values]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, value]) => ({ name, value, created_at: STAMP, updated_at: STAMP }))

  const environmentBody = (repository: RepositoryState, e: EnvironmentState, id: number) => {
    const rules: unknown[] = []
    if (e.reviewers > 0)
      rules.push({
        id: id * 10 + 1,
        node_id: `GA_${id}_reviewers`,
        type: "required_reviewers",
        prevent_self_review: e.preventSelfReview,
        reviewers: Array.from({ length: e.reviewers }, (_, i) => ({
          type: "User",
          reviewer: { login: `reviewer-${i + 1}`, id: 1000 + i, type: "User" },
        })),
      })
    if (e.refs !== "all") rules.push({ id: id * 10 + 2, node_id: `GA_${id}_branch_policy`, type: "branch_policy" })
    return {
      id,
      node_id: `EN_${id}`,
      name: e.name,
      url: `${base()}/repos/${repository.fullName}/environments/${encodeURIComponent(e.name)}`,
      html_url: `https://github.com/${repository.fullName}/deployments/activity_log?environments_filter=${encodeURIComponent(e.name)}`,
      created_at: STAMP,
      updated_at: STAMP,
      protection_rules: rules,
      deployment_branch_policy:
        e.refs === "all"
          ? null
          : { protected_branches: e.refs === "protected", custom_branch_policies: e.refs !== "protected" },
    }
  }

  const serve = (path: string, full: URL, who: TokenInfo): SettingsAnswer | undefined => {
    const match = /^\/repos\/([^/]+)\/([^/]+)(?:\/(.*))?$/.exec(path)
    if (!match) return undefined
    const [, owner, name, rest = ""] = match
    const repository = repositories.get(`${decodeURIComponent(owner!)}/${decodeURIComponent(name!)}`.toLowerCase())
    if (rest === "") {
      // A private repository the token cannot see is not found, as GitHub answers.
      if (!repository || !(who.scopes.includes("repo") || who.scopes.includes("metadata:read")))
        return notFound("GET repo")
      const type = owners[repository.owner] ?? "User"
      return answer("GET repo", 200, {
        id: 1,
        name: repository.fullName.split("/")[1],
        full_name: repository.fullName,
        private: true,
        owner: { login: repository.owner, type },
        default_branch: repository.defaultBranch,
      })
    }
    if (!repository) return notFound("GET repo")
    const environments = [...repository.environments.values()].sort((a, b) => a.name.localeCompare(b.name))
    if (rest === "environments")
      return (
        refuse("GET environments", who, ["actions:read"]) ??
        page(
          "GET environments",
          full,
          "environments",
          environments.map((e, i) => environmentBody(repository, e, i + 1)),
        )
      )
    if (rest === "actions/secrets")
      return (
        refuse("GET repo secrets", who, ["secrets:read"]) ??
        page("GET repo secrets", full, "secrets", secretItems(repository.secrets))
      )
    if (rest === "actions/variables")
      return (
        refuse("GET repo variables", who, ["variables:read"]) ??
        page("GET repo variables", full, "variables", variableItems(repository.variables), 30)
      )
    if (rest === "actions/organization-secrets") {
      const org = organisationSecrets.get(repository.owner.toLowerCase()) ?? new Map<string, Shared>()
      const names = [...org].filter(([, repos]) => shared(repos, repository.fullName)).map(([n]) => n)
      return (
        refuse("GET org secrets", who, ["secrets:read"]) ?? page("GET org secrets", full, "secrets", secretItems(names))
      )
    }
    if (rest === "actions/organization-variables") {
      const org = organisationVariables.get(repository.owner.toLowerCase()) ?? new Map<string, SharedValue>()
      const values = [...org]
        .filter(([, v]) => shared(v.repositories, repository.fullName))
        .map(([n, v]) => [n, v.value] as [string, string])
      return (
        refuse("GET org variables", who, ["variables:read"]) ??
        page("GET org variables", full, "variables", variableItems(values), 30)
      )
    }
    const inEnvironment = /^environments\/([^/]+)(?:\/(deployment-branch-policies|secrets|variables))?$/.exec(rest)
    if (!inEnvironment) return notFound("GET unknown")
    const environment = repository.environments.get(decodeURIComponent(inEnvironment[1]!).toLowerCase())
    const what = inEnvironment[2]
    if (what === undefined) {
      const refused = refuse("GET environment", who, ["actions:read"])
      if (refused) return refused
      if (!environment) return notFound("GET environment")
      return answer(
        "GET environment",
        200,
        environmentBody(repository, environment, environments.indexOf(environment) + 1),
      )
    }
    if (what === "deployment-branch-policies") {
      const refused = refuse("GET branch policies", who, ["actions:read"])
      if (refused) return refused
      if (!environment) return notFound("GET branch policies")
      const refs = typeof environment.refs === "object" ? environment.refs : {}
      const policies = [
        ...(refs.branches ?? []).map((n) => ({ name: n, type: "branch" })),
        ...(refs.tags ?? []).map((n) => ({ name: n, type: "tag" })),
      ].map((p, i) => ({ id: 361471 + i, node_id: `BP_${i}`, ...p }))
      return page("GET branch policies", full, "branch_policies", policies)
    }
    const kind = `GET environment ${what}`
    const refused = refuse(kind, who, ["environments:read", what === "secrets" ? "secrets:read" : "variables:read"])
    if (refused) return refused
    if (!environment) return notFound(kind)
    return what === "secrets"
      ? page(kind, full, "secrets", secretItems(environment.secrets))
      : page(kind, full, "variables", variableItems(environment.variables), 30)
  }

  return {
    serve,
    addRepository(fullName: string, options: { defaultBranch?: string } = {}) {
      const owner = fullName.split("/")[0]!
      const login = Object.keys(owners).find((o) => o.toLowerCase() === owner.toLowerCase())
      if (!login) throw new Error(`owner ${owner} is not in the stand-in's owners`)
      repositories.set(fullName.toLowerCase(), {
        fullName,
        owner: login,
        defaultBranch: options.defaultBranch ?? "main",
        environments: new Map(),
        secrets: new Set(),
        variables: new Map(),
      })
    },
    addEnvironment(repository: string, name: string, options: EnvironmentOptions = {}) {
      repositoryOf(repository).environments.set(name.toLowerCase(), {
        name,
        refs: options.refs ?? "all",
        reviewers: options.reviewers ?? 0,
        preventSelfReview: options.preventSelfReview ?? false,
        secrets: new Set(),
        variables: new Map(),
      })
    },
    addSecret(scope: SettingScope, name: string) {
      // GitHub stores names upper-case.
      const upper = name.toUpperCase()
      if ("organisation" in scope) {
        const org = organisationSecrets.get(scope.organisation.toLowerCase()) ?? new Map<string, Shared>()
        organisationSecrets.set(scope.organisation.toLowerCase(), org.set(upper, scope.repositories))
      } else if (scope.environment !== undefined) environmentOf(scope.repository, scope.environment).secrets.add(upper)
      else repositoryOf(scope.repository).secrets.add(upper)
    },
    addVariable(scope: SettingScope, name: string, value: string) {
      const upper = name.toUpperCase()
      if ("organisation" in scope) {
        const org = organisationVariables.get(scope.organisation.toLowerCase()) ?? new Map<string, SharedValue>()
        organisationVariables.set(
          scope.organisation.toLowerCase(),
          org.set(upper, { value, ...(scope.repositories ? { repositories: scope.repositories } : {}) }),
        )
      } else if (scope.environment !== undefined)
        environmentOf(scope.repository, scope.environment).variables.set(upper, value)
      else repositoryOf(scope.repository).variables.set(upper, value)
    },
  }
}
