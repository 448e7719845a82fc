/**
 * The one GitHub REST client, and the packages API calls retention makes with it. The factory
 * builds Octokit with @octokit/plugin-throttling (primary and secondary rate limits, at most one
 * write a second) and @octokit/plugin-retry (5xx with backoff). Nobody else constructs one.
 */
import { Octokit } from "@octokit/rest"
import { retry } from "@octokit/plugin-retry"
import { throttling } from "@octokit/plugin-throttling"
import Bottleneck from "bottleneck"

import { mapLimit } from "./concurrency.js"
import { networkCause } from "./errors.js"

const GitHub = Octokit.plugin(throttling, retry)
export type GitHubClient = InstanceType<typeof GitHub>

export interface GitHubClientOptions {
  token: string
  baseUrl: string
  /** Progress and rate-limit messages for a person (stderr in Dagger). */
  log: (line: string) => void
  /** Give up waiting for a primary rate-limit reset longer than this (seconds). */
  maxWaitSeconds?: number
  /** Retries of one request after rate limits or 5xx. */
  retries?: number
  /**
   * Milliseconds per second of waiting that GitHub asks for (retry-after, reset, backoff) and
   * of the pause between writes. 1000 in real use; tests shrink time with it.
   */
  msPerSecond?: number
  /** Counts every HTTP request sent to GitHub, retries included (for request budgets). */
  counter?: RequestCounter
}

/** How many HTTP requests a client has sent to GitHub so far. */
export interface RequestCounter {
  requests: number
}

export function createGitHubClient(options: GitHubClientOptions): GitHubClient {
  const retries = options.retries ?? 4
  const maxWait = options.maxWaitSeconds ?? 15 * 60
  const ms = options.msPerSecond ?? 1000
  const limited =
    (kind: string) =>
    (retryAfter: number, request: { method: string; url: string }, _octokit: unknown, retryCount: number) => {
      if (retryCount >= retries || retryAfter > maxWait) {
        options.log(
          `GitHub ${kind} rate limit on ${request.method} ${request.url}: not retrying (attempt ${retryCount + 1}, asked to wait ${retryAfter}s)`,
        )
        return false
      }
      options.log(
        `GitHub ${kind} rate limit on ${request.method} ${request.url}: waiting ${retryAfter}s, then retrying`,
      )
      return true
    }
  const baseUrl = options.baseUrl.replace(/\/+$/, "")
  // Requests that got no answer at all, by "METHOD path", until Octokit's request log reports
  // them: it calls them status 500, which GitHub never sent.
  const unanswered = new Map<string, string>()
  return new GitHub({
    auth: options.token,
    baseUrl,
    userAgent: "meetinity-release",
    request: {
      timeout: 60_000,
      // Every request, retries included, goes through here: the one place to count them.
      fetch: async (input: RequestInfo | URL, init?: RequestInit) => {
        if (options.counter) options.counter.requests++
        try {
          return await fetch(input, init)
        } catch (error) {
          const url = input instanceof Request ? input.url : String(input)
          unanswered.set(
            `${(init?.method ?? "GET").toUpperCase()} ${url.startsWith(baseUrl) ? url.slice(baseUrl.length) : url}`,
            networkReason(error),
          )
          throw error
        }
      },
    },
    log: {
      debug: () => {},
      info: () => {},
      warn: (m: string) => options.log(`GitHub: ${m}`),
      error: (m: string) => {
        const request = /^(\S+ \S+) - 500 with id UNKNOWN in \d+ms$/.exec(m)?.[1]
        const reason = request === undefined ? undefined : unanswered.get(request)
        if (request !== undefined && reason !== undefined) {
          unanswered.delete(request)
          options.log(`GitHub: ${request} - no answer (${reason})`)
        } else options.log(`GitHub: ${m}`)
      },
    },
    throttle: {
      onRateLimit: limited("primary"),
      onSecondaryRateLimit: limited("secondary"),
      retryAfterBaseValue: ms,
      fallbackSecondaryRateRetryAfter: 60,
      // One write at a time, at least a second apart: GitHub's own guidance for mutating calls.
      write: new Bottleneck.Group({ maxConcurrent: 1, minTime: ms }),
    },
    // 429 is the throttling plugin's to handle; retry the rest of the 5xx family here.
    retry: { retries, retryAfterBaseValue: ms, doNotRetry: [400, 401, 403, 404, 410, 422, 429, 451] },
  })
}

/** Where a package lives in the API: an organisation's, the token's own user's, or another user's. */
export type PackageOwner =
  | { readonly kind: "org"; readonly login: string }
  | { readonly kind: "authenticated-user"; readonly login: string }
  | { readonly kind: "user"; readonly login: string }

/** The packages API prefix for an owner (package names are URL-encoded by Octokit). */
export function packagePath(owner: PackageOwner): string {
  switch (owner.kind) {
    case "org":
      return "/orgs/{owner}/packages/container/{package_name}"
    case "authenticated-user":
      return "/user/packages/container/{package_name}"
    case "user":
      return "/users/{owner}/packages/container/{package_name}"
  }
}

/** An HTTP status from GitHub, if the error is one. */
export function statusOf(error: unknown): number | undefined {
  const status = (error as { status?: unknown }).status
  return typeof status === "number" ? status : undefined
}

/**
 * Organisation or user? `GET /users/{login}` says which; for a user, `GET /user` tells whether
 * it is the token's own (whose private packages live under `/user/...`).
 */
export async function resolveOwner(client: GitHubClient, login: string): Promise<PackageOwner> {
  let type: string
  try {
    type = (await client.request("GET /users/{username}", { username: login })).data.type
  } catch (error) {
    if (statusOf(error) === 404)
      throw new Error(
        `owner ${JSON.stringify(login)} is not a GitHub user or organisation (GET /users/${login} answered 404)`,
      )
    throw explain(error, `GET /users/${login}`)
  }
  if (type === "Organization") return { kind: "org", login }
  try {
    const me = (await client.request("GET /user")).data.login
    if (me.toLowerCase() === login.toLowerCase()) return { kind: "authenticated-user", login: me }
  } catch (error) {
    // GITHUB_TOKEN cannot read /user (403): fall back to the public path for that user.
    if (statusOf(error) !== 403 && statusOf(error) !== 401) throw explain(error, "GET /user")
  }
  return { kind: "user", login }
}

/** One package version as the API lists it. */
export interface PackageVersion {
  readonly id: number
  /** The manifest digest, `sha256:...`. */
  readonly name: string
  readonly created_at: string
  readonly updated_at?: string
  /** Set on versions listed with `state=deleted`. */
  readonly deleted_at?: string
  readonly metadata?: { readonly package_type?: string; readonly container?: { readonly tags?: readonly string[] } }
}

/** Parses a `Link` header into `{ next: url, last: url, ... }`. */
export function parseLinkHeader(header: string | undefined): Record<string, string> {
  const links: Record<string, string> = {}
  for (const part of (header ?? "").split(",")) {
    const match = /<([^>]+)>\s*;\s*rel="([^"]+)"/.exec(part)
    if (match) links[match[2]!] = match[1]!
  }
  return links
}

function pageOf(url: string | undefined): number | undefined {
  if (!url) return undefined
  const page = new URL(url, "http://github.invalid").searchParams.get("page")
  return page ? Number(page) : undefined
}

const PER_PAGE = 100

/**
 * Every active version of the package. Page 1 tells how many pages there are (`rel="last"`);
 * the rest are fetched concurrently. The listing must be complete and consistent, or this
 * throws: retention decides nothing on a partial view.
 */
export async function listPackageVersions(
  client: GitHubClient,
  owner: PackageOwner,
  packageName: string,
  options: { concurrency?: number; state?: "active" | "deleted" } = {},
): Promise<PackageVersion[]> {
  const route = `GET ${packagePath(owner)}/versions`
  const params = { owner: owner.login, package_name: packageName, per_page: PER_PAGE, state: options.state ?? "active" }
  const fetchPage = async (page: number) => {
    try {
      const response = await client.request(route, { ...params, page })
      return { versions: response.data as PackageVersion[], links: parseLinkHeader(response.headers.link) }
    } catch (error) {
      if (statusOf(error) === 404) {
        throw new Error(
          `${describePackage(owner, packageName)} was not found: check the owner and image names, and that the token can see the package (read:packages)`,
        )
      }
      throw explain(
        error,
        `listing page ${page} of ${options.state === "deleted" ? "the deleted versions of " : ""}${describePackage(owner, packageName)}`,
      )
    }
  }
  const first = await fetchPage(1)
  const last = pageOf(first.links.last)
  const pages = [first.versions]
  if (last !== undefined && last > 1) {
    const rest = await mapLimit(
      Array.from({ length: last - 1 }, (_, i) => i + 2),
      options.concurrency ?? 4,
      fetchPage,
    )
    pages.push(...rest.map((r) => r.versions))
    const expected = (last - 1) * PER_PAGE + rest.at(-1)!.versions.length
    const unique = new Set(pages.flat().map((v) => v.id)).size
    if (unique !== expected || rest.some((r, i) => i < rest.length - 1 && r.versions.length !== PER_PAGE)) {
      throw new Error(
        `the listing of ${describePackage(owner, packageName)} changed while it was read (${unique} distinct versions, ${expected} expected from ${last} pages): nothing was deleted; run again`,
      )
    }
  } else if (first.links.next) {
    // No rel="last" (not what GitHub sends, but allowed by the Link spec): follow rel="next".
    let links = first.links
    for (let page = 2; links.next; page++) {
      const next = await fetchPage(page)
      pages.push(next.versions)
      links = next.links
    }
  }
  const all = pages.flat()
  const seen = new Map<number, PackageVersion>()
  for (const version of all) seen.set(version.id, version)
  return [...seen.values()]
}

export function describePackage(owner: PackageOwner, packageName: string): string {
  return `container package ${owner.login}/${packageName} (${owner.kind === "org" ? "organisation" : "user"} ${owner.login})`
}

/** What happened to one deletion. */
export type DeleteOutcome = "deleted" | "already-gone"

/**
 * Deletes one version. A `404` is "already gone" only if the version really is gone: GitHub
 * also answers 404 when the token lacks `delete:packages` (users' reports), so this checks
 * with a GET and, when the version is still there, fails with that explanation.
 */
export async function deletePackageVersion(
  client: GitHubClient,
  owner: PackageOwner,
  packageName: string,
  version: PackageVersion,
): Promise<DeleteOutcome> {
  const route = `${packagePath(owner)}/versions/{package_version_id}`
  const params = { owner: owner.login, package_name: packageName, package_version_id: version.id }
  try {
    await client.request(`DELETE ${route}`, params)
    return "deleted"
  } catch (error) {
    if (statusOf(error) !== 404) throw explain(error, `deleting version ${version.id} (${version.name})`)
  }
  try {
    await client.request(`GET ${route}`, params)
  } catch (error) {
    if (statusOf(error) === 404) return "already-gone"
    throw explain(error, `checking version ${version.id} after a 404 on delete`)
  }
  throw new PermissionError(
    `deleting version ${version.id} (${version.name}) answered 404, yet the version is still listed: the token cannot delete it. ` +
      DELETE_SCOPES,
  )
}

/**
 * Restores one deleted version (`POST .../versions/{id}/restore`, 204). GitHub restores a
 * version within 30 days of its deletion, and only while its namespace is not reused. A refusal
 * comes back as an error carrying GitHub's status and message.
 */
export async function restorePackageVersion(
  client: GitHubClient,
  owner: PackageOwner,
  packageName: string,
  id: number,
): Promise<void> {
  await client.request(`POST ${packagePath(owner)}/versions/{package_version_id}/restore`, {
    owner: owner.login,
    package_name: packageName,
    package_version_id: id,
  })
}

export const RESTORE_SCOPES =
  "Restoring needs read:packages and write:packages (a personal access token (classic)), and admin rights on the package; " +
  "GITHUB_TOKEN needs the repository to have Admin access to the package and the workflow permission packages: write."

export const DELETE_SCOPES =
  "A personal access token (classic) needs read:packages and delete:packages (and admin rights on an organisation's package); " +
  'GITHUB_TOKEN needs the repository to have Admin access to the package (package settings, "Manage Actions access") and the workflow permission packages: write.'

/** A refusal that more attempts will not fix: stop and tell the person what to grant. */
export class PermissionError extends Error {
  override name = "PermissionError"
}

/**
 * Octokit reports a request that got no answer at all (refused connection, unknown host,
 * timeout) as a status 500 without a response: that is no word from GitHub. Returns it in words.
 */
export function unreachable(error: unknown): string | undefined {
  const failed = error as { status?: number; response?: unknown; message?: string }
  if (failed.response !== undefined || (failed.status !== undefined && failed.status !== 500)) return undefined
  if (failed.status === undefined && !(error instanceof Error)) return undefined
  return `could not reach the GitHub API (${networkReason(error)}): check --github-api-url and that this machine can reach it`
}

/**
 * The network's own reason for a request without an answer (ECONNREFUSED, ENOTFOUND, a TLS
 * error code): it sits in the cause chain (RequestError -> fetch's TypeError -> the socket error).
 */
export function networkReason(error: unknown): string {
  const cause = networkCause(error)
  return cause.code ?? (cause.timedOut ? "no answer in time" : ((error as Error)?.message ?? String(error)))
}

/** Turns an Octokit error into one a person can act on. */
export function explain(error: unknown, what: string): Error {
  const status = statusOf(error)
  const message = (error as Error).message ?? String(error)
  const noAnswer = unreachable(error)
  if (noAnswer) return new Error(`${what}: ${noAnswer}`)
  if (status === 401)
    return new PermissionError(`${what}: GitHub answered 401 (bad credentials): the token is invalid or expired.`)
  if (status === 403 && !/rate limit/i.test(message)) {
    return new PermissionError(
      `${what}: GitHub answered 403 (${message}). Listing needs read:packages; deleting needs delete:packages too. ${DELETE_SCOPES}`,
    )
  }
  if (status === 403 || status === 429)
    return new Error(`${what}: GitHub's rate limit was still exhausted after waiting and retrying (${message})`)
  if (status !== undefined) return new Error(`${what}: GitHub answered ${status} (${message})`)
  return new Error(`${what}: ${message}`)
}
