/**
 * Reading one listing of GitHub's REST API to its end, by name only: every page (`per_page`,
 * `Link: rel="next"`), checked against the `total_count` GitHub announces, and a refusal (403,
 * 404) kept as the listing's answer with what the token needs, so that one listing the token may
 * not read leaves the rest of the setup check standing.
 */
import { explain, type GitHubClient, isQuotaSpent, statusOf } from "../github/client.js"
import { parseLinkHeader } from "../github/packages.js"

/** A listing GitHub answered, or why it could not be read (the permission the token lacks). */
export type Listing<T> = { readonly items: readonly T[] } | { readonly unreadable: string }

/** What each listing needs of the token: a classic token's scope, or a fine-grained token's permissions. */
export const LISTING_NEEDS = {
  environments: "the repo scope (a classic token), or Actions: read on the repository (a fine-grained token)",
  environmentSecrets:
    "the repo scope (a classic token), or Environments: read and Secrets: read on the repository (a fine-grained token)",
  environmentVariables:
    "the repo scope (a classic token), or Environments: read and Variables: read on the repository (a fine-grained token)",
  secrets: "the repo scope (a classic token), or Secrets: read on the repository (a fine-grained token)",
  variables: "the repo scope (a classic token), or Variables: read on the repository (a fine-grained token)",
} as const

/** Pages followed at most: 100 pages of 100 is far beyond any repository's settings. */
const MAX_PAGES = 100

/** The secrets endpoints take 100 a page; the variables endpoints at most 30 (GitHub's REST reference). */
const PER_PAGE = { secrets: 100, variables: 30, environments: 100, branch_policies: 100 } as const

export type ListKey = keyof typeof PER_PAGE

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
}

/** Why a listing was refused, for the report: GitHub's status and message, what the token needs, and what GitHub says it accepts. */
function refusal(error: unknown, needs: string): string {
  const status = statusOf(error)
  const message = ((error as Error).message ?? "").split("\n")[0]!.replace(/ - https?:\S+$/, "")
  const headers = (error as { response?: { headers?: Record<string, unknown> } }).response?.headers ?? {}
  const accepted = String(headers["x-accepted-github-permissions"] ?? "")
  const accepts = /^[a-z_=,; ]+$/.test(accepted) ? `; GitHub accepts ${accepted}` : ""
  return `GitHub answered ${status} (${message}): the token needs ${needs}${accepts}`
}

/**
 * Every item of a listing, page by page (`rel="next"`), checked against the `total_count` GitHub
 * announced. A 403 or 404 is the listing's answer (unreadable); anything else throws.
 */
export async function listAll(
  client: GitHubClient,
  route: string,
  params: Record<string, string>,
  key: ListKey,
  needs: string,
): Promise<Listing<Record<string, unknown>>> {
  const items: Record<string, unknown>[] = []
  let total: number | undefined
  for (let page = 1; page <= MAX_PAGES; page++) {
    let response: { data: unknown; headers: { link?: string } }
    try {
      response = await client.request(`GET ${route}`, { ...params, per_page: PER_PAGE[key], page })
    } catch (error) {
      const status = statusOf(error)
      const refused = status === 403 && !isQuotaSpent(error) && !/rate limit/i.test((error as Error).message)
      if (refused || status === 404) return { unreadable: refusal(error, needs) }
      throw explain(error, `GET ${route} (page ${page})`)
    }
    const data = response.data
    const list = isRecord(data) ? data[key] : undefined
    if (!isRecord(data) || !Array.isArray(list)) throw new Error(`GET ${route}: GitHub's answer has no ${key} list`)
    items.push(...list.filter(isRecord))
    if (typeof data.total_count === "number") total ??= data.total_count
    if (!parseLinkHeader(response.headers.link).next) break
  }
  if (total !== undefined && total !== items.length)
    throw new Error(
      `GET ${route}: ${items.length} ${key} listed, GitHub counted ${total}; the listing changed while it was read: run again`,
    )
  return { items }
}

/** The names of a listing, upper-cased as GitHub compares them; nothing else of an item is kept (a variable's value least of all). */
export function names(listing: Listing<Record<string, unknown>>): Listing<string> {
  return "unreadable" in listing
    ? listing
    : {
        items: listing.items
          .map((i) => i.name)
          .filter((n): n is string => typeof n === "string")
          .map((n) => n.toUpperCase()),
      }
}
