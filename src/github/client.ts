/**
 * The one GitHub REST client. The factory builds Octokit with @octokit/plugin-throttling (primary
 * and secondary rate limits, at most one write a second) and @octokit/plugin-retry (5xx with
 * backoff). Nobody else constructs one. Its errors are put in words here too.
 */
import { retry } from "@octokit/plugin-retry"
import { throttling } from "@octokit/plugin-throttling"
import { Octokit } from "@octokit/rest"
import Bottleneck from "bottleneck"

import { check, networkCause } from "../common/errors.js"
import { checkNoUserInfo } from "../common/names.js"

export const GitHub = Octokit.plugin(throttling, retry)

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
  /** Counts every HTTP request sent to GitHub, retries included (for request budgets), and the quota GitHub announces. */
  counter?: RequestCounter
  /**
   * Whether a write (DELETE, POST) refused for the primary rate limit waits for the quota's
   * reset and tries again (true), or fails at once so the caller can stop cleanly (false: a
   * scheduled retention whose token shares its quota with other workflows).
   */
  writesWaitForQuota?: boolean
}

/** The primary rate limit's state, as GitHub announces it (`x-ratelimit-*` on its answers, or `GET /rate_limit`). */
export interface Quota {
  readonly limit: number
  readonly remaining: number
  /** When the hour's window resets, in seconds since the epoch. */
  readonly reset: number
}

/** How many HTTP requests a client has sent to GitHub so far (`GET /rate_limit` is free and not counted), and the last quota GitHub announced. */
export interface RequestCounter {
  requests: number
  quota?: Quota
}

/** Milliseconds per second of waiting, by client: the module's own retries wait at the pace the client was built with. */
const pace = new WeakMap<object, number>()

/** Waits `seconds` at the client's pace (tests shrink time with msPerSecond). */
export function pause(client: GitHubClient, seconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, seconds * (pace.get(client) ?? 1000)))
}

/**
 * The primary rate limit now (`GET /rate_limit`, which GitHub does not count against it), or
 * undefined when the server has no rate limiting (GitHub Enterprise Server may answer 404).
 */
export async function readQuota(client: GitHubClient): Promise<Quota | undefined> {
  try {
    const { data } = await client.request("GET /rate_limit")
    const core = data.resources.core
    return { limit: core.limit, remaining: core.remaining, reset: core.reset }
  } catch (error) {
    if (statusOf(error) === 404) return undefined
    throw explain(error, "reading the API quota (GET /rate_limit)")
  }
}

/** A write GitHub refused for the primary rate limit, not carried out: the token's hourly quota is spent. */
export class QuotaSpent extends Error {
  override name = "QuotaSpent"
}

/** A refusal for the primary rate limit: the token's hourly quota is spent (`x-ratelimit-remaining: 0`). */
export function isQuotaSpent(error: unknown): boolean {
  const status = statusOf(error)
  const headers = (error as { response?: { headers?: Record<string, unknown> } }).response?.headers ?? {}
  return (status === 403 || status === 429) && String(headers["x-ratelimit-remaining"]) === "0"
}

export function createGitHubClient(options: GitHubClientOptions): GitHubClient {
  const retries = options.retries ?? 4
  const maxWait = options.maxWaitSeconds ?? 15 * 60
  const ms = options.msPerSecond ?? 1000
  const limited =
    (kind: string) =>
    (retryAfter: number, request: { method: string; url: string }, _octokit: unknown, retryCount: number) => {
      if (kind === "primary" && options.writesWaitForQuota === false && request.method !== "GET") {
        options.log(
          `GitHub primary rate limit on ${request.method} ${request.url}: the quota is spent; not waiting for its reset`,
        )
        return false
      }
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
  const client = new GitHub({
    auth: options.token,
    baseUrl,
    userAgent: "meetinity-release",
    request: {
      timeout: 60_000,
      // Every request, retries included, goes through here: the one place to count them.
      fetch: async (input: RequestInfo | URL, init?: RequestInit) => {
        const url = input instanceof Request ? input.url : String(input)
        // GET /rate_limit does not count against GitHub's rate limit: nor against a budget.
        if (options.counter && !/\/rate_limit(?:\?|$)/.test(url)) options.counter.requests++
        try {
          const response = await fetch(input, init)
          if (options.counter) noteQuota(options.counter, response.headers)
          return response
        } catch (error) {
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
  pace.set(client, ms)
  return client
}

/** Keeps the core quota GitHub announced on an answer (`x-ratelimit-*`, resource `core`). */
function noteQuota(counter: RequestCounter, headers: Headers): void {
  const resource = headers.get("x-ratelimit-resource")
  const [limit, remaining, reset] = ["limit", "remaining", "reset"].map((h) =>
    Number(headers.get(`x-ratelimit-${h}`) ?? NaN),
  )
  if ((resource === null || resource === "core") && [limit, remaining, reset].every((n) => Number.isFinite(n)))
    counter.quota = { limit: limit!, remaining: remaining!, reset: reset! }
}

/** An HTTP status from GitHub, if the error is one. */
export function statusOf(error: unknown): number | undefined {
  const status = (error as { status?: unknown }).status
  return typeof status === "number" ? status : undefined
}

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

export const RESTORE_SCOPES =
  "Restoring needs read:packages and write:packages (a personal access token (classic)), and admin rights on the package; " +
  "GITHUB_TOKEN needs the repository to have Admin access to the package and the workflow permission packages: write."

export const DELETE_SCOPES =
  "A personal access token (classic) needs read:packages and delete:packages (and admin rights on an organisation's package); " +
  'GITHUB_TOKEN needs the repository to have Admin access to the package (package settings, "Manage Actions access") and the workflow permission packages: write.'

/** The GitHub REST API's address as --github-api-url takes it: https://api.github.com, or https://<host>/api/v3 (GitHub Enterprise Server). */
export function parseGitHubApiUrl(value: string, argument = "githubApiUrl"): string {
  checkNoUserInfo(value, argument)
  check(
    /^https?:\/\/[^\s/?#]+(?:\/[^\s?#]*)?$/.test(value),
    argument,
    value,
    "is not a URL: expected https://api.github.com, or https://<host>/api/v3 for GitHub Enterprise Server",
  )
  return value
}
