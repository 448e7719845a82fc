/**
 * GitHub's packages REST API for container packages: who owns a package, its versions (every
 * page, checked for a listing that changed while it was read), deleting and restoring one.
 */
import { mapLimit } from "../common/concurrency.js"
import { Steps } from "../common/steps.js"
import {
  DELETE_SCOPES,
  explain,
  type GitHubClient,
  isQuotaSpent,
  networkReason,
  pause,
  PermissionError,
  QuotaSpent,
  statusOf,
  unreachable,
} from "./client.js"

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
  options: { concurrency?: number; state?: "active" | "deleted"; steps?: Steps } = {},
): Promise<PackageVersion[]> {
  const route = `GET ${packagePath(owner)}/versions`
  const params = { owner: owner.login, package_name: packageName, per_page: PER_PAGE, state: options.state ?? "active" }
  const steps = options.steps ?? new Steps()
  const fetchPage = (page: number) =>
    steps.run(
      "list page",
      {
        attributes: { "github.page": page, "github.package.state": params.state },
        result: ({ versions }) => ({
          detail: `${versions.length} versions`,
          attributes: { "github.versions": versions.length },
        }),
      },
      () => readPage(page),
    )
  const readPage = async (page: number) => {
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

/** What happened to one deletion: this run deleted it, or it was gone before this run's DELETE reached GitHub. */
export type DeleteOutcome = "deleted" | "already-gone"

export interface DeleteResult {
  readonly outcome: DeleteOutcome
  /** GitHub's answers on the way, when the first was not the last (a 5xx, then a 204 or a 404). */
  readonly note?: string
}

/**
 * A DELETE this run sent whose outcome GitHub never told: every attempt got a 5xx or no answer.
 * The version may be deleted; until a listing shows otherwise it counts as this run's deletion.
 */
export class DeleteUnconfirmed extends Error {
  override name = "DeleteUnconfirmed"
}

/** How many times a DELETE is sent when GitHub answers 5xx or nothing, at most. */
const DELETE_ATTEMPTS = 4

/**
 * Deletes one version. The module sends the DELETE itself, again after a 5xx or no answer (up to
 * four times, backing off, honouring `retry-after`), because such an answer may come after GitHub
 * carried the delete out: a later 404 then means this run deleted it, not that it was already
 * gone. A 404 is "already gone" only when the first DELETE got it and the version really is gone:
 * GitHub also answers 404 when the token lacks `delete:packages` (users' reports), so this
 * checks with a GET and, when the version is still there, fails with that explanation.
 */
export async function deletePackageVersion(
  client: GitHubClient,
  owner: PackageOwner,
  packageName: string,
  version: PackageVersion,
): Promise<DeleteResult> {
  const route = `${packagePath(owner)}/versions/{package_version_id}`
  const params = { owner: owner.login, package_name: packageName, package_version_id: version.id }
  /** Answers that leave it unknown whether GitHub carried the DELETE out. */
  const unclear: string[] = []
  const after = () => (unclear.length > 0 ? { note: `GitHub answered ${unclear.join(", then ")} first` } : {})
  for (let attempt = 1; ; attempt++) {
    try {
      // The module retries a DELETE itself (below), so that it knows what each answer was.
      await client.request(`DELETE ${route}`, { ...params, request: { retries: 0 } })
      return { outcome: "deleted", ...after() }
    } catch (error) {
      const status = statusOf(error)
      if (status === 404) break
      if (isQuotaSpent(error)) {
        throw new QuotaSpent(
          `deleting version ${version.id} (${version.name}): GitHub refused it for the token's hourly quota`,
        )
      }
      const noAnswer = unreachable(error)
      if (noAnswer === undefined && (status === undefined || status < 500)) {
        throw explain(error, `deleting version ${version.id} (${version.name})`)
      }
      unclear.push(noAnswer === undefined ? `${status}` : `nothing (${networkReason(error)})`)
      if (attempt >= DELETE_ATTEMPTS) {
        throw new DeleteUnconfirmed(
          `deleting version ${version.id} (${version.name}): GitHub answered ${unclear.join(", then ")} to ${attempt} DELETEs: it may have deleted it`,
        )
      }
      await pause(client, retryAfterSeconds(error) ?? 2 ** (attempt - 1))
    }
  }
  try {
    await client.request(`GET ${route}`, params)
  } catch (error) {
    if (statusOf(error) !== 404) throw explain(error, `checking version ${version.id} after a 404 on delete`)
    // Gone. After a 5xx or no answer, the earlier DELETE is what removed it: this run's deletion.
    return unclear.length > 0
      ? {
          outcome: "deleted",
          note: `GitHub answered ${unclear.join(", then ")}, then 404: the earlier DELETE was carried out`,
        }
      : { outcome: "already-gone" }
  }
  throw new PermissionError(
    `deleting version ${version.id} (${version.name}) answered 404, yet the version is still listed: the token cannot delete it. ` +
      DELETE_SCOPES,
  )
}

/** A `retry-after` GitHub sent with an error, in seconds (at most a minute), if any. */
function retryAfterSeconds(error: unknown): number | undefined {
  const headers = (error as { response?: { headers?: Record<string, unknown> } }).response?.headers ?? {}
  const seconds = Number(headers["retry-after"])
  return Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds, 60) : undefined
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
