/**
 * Retention's deletions, carried out in the order the batch chose: one DELETE at a time, each
 * written to the journal before it is sent and again when GitHub has answered, so a run that is
 * killed or cancelled can be undone from its log (`restore --journal`). Deleting stops cleanly,
 * leaving the rest for the next run, when the request budget or the token's hourly quota (down
 * to its reserve, or spent by another workflow) runs out; a version GitHub refuses for good
 * keeps what it needs; anything else stops the run. One span per batch shows the progress.
 */
import { Steps } from "../common/steps.js"
import { PermissionError, type Quota, QuotaSpent, type RequestCounter } from "../github/client.js"
import { deletePackageVersion, DeleteUnconfirmed, type PackageOwner, type PackageVersion } from "../github/packages.js"
import { type ManifestJson } from "../oci/manifest.js"
import { type RetentionDeps } from "./inputs.js"
import { journalLine } from "./journal.js"
import { RETENTION_STEP } from "./read.js"
import { type Outcome } from "./report.js"
import { type PlannedVersion, referrerTag } from "./versions.js"

/** How many deletions one span covers: a long run shows its progress batch by batch. */
export const DELETE_BATCH = 50

/** What may be spent on GitHub API requests: an explicit budget, and the quota's reserve for other workflows. */
export interface Spending {
  readonly counter?: RequestCounter
  /** At most this many requests in the whole run (0: no limit). */
  readonly maxRequests: number
  /** Stop before the quota GitHub announces falls below this (other workflows share it). */
  readonly reserve: number
}

/** How deleting ended: every deletion tried, or stopped (with why), or failed at one version. */
export interface Deleting {
  /** Why deleting stopped before the end (a budget, the quota): the rest is deferred, and the run is still good. */
  readonly stopped?: string
  /** The version deleting failed at, when it did: the run fails. */
  readonly failure?: { readonly version: PlannedVersion; readonly message: string }
}

/** A deletion may cost two requests (a DELETE, and a GET after a 404). */
const COST = 2

/**
 * Deletes `deletions` in order, writing each outcome into `outcomes`. Versions GitHub refuses
 * for good (400: the last version, a popular public one) are recorded as failed, and what they
 * need is then kept: their index children and referrers (all untagged versions, when the
 * refused version's manifest cannot be read).
 */
export async function deleteInOrder(
  deps: RetentionDeps,
  target: { readonly owner: PackageOwner; readonly packageName: string },
  deletions: readonly PlannedVersion[],
  known: {
    readonly versions: ReadonlyMap<number, PackageVersion>
    readonly manifests: ReadonlyMap<string, ManifestJson>
  },
  outcomes: Map<number, Outcome>,
  spending: Spending,
): Promise<Deleting> {
  const steps = deps.steps ?? new Steps()
  const pkg = `${target.owner.login}/${target.packageName}`
  const journal = (event: Parameters<typeof journalLine>[0], version: PlannedVersion, why?: string) =>
    deps.log(journalLine(event, pkg, version, why))
  // When GitHub refuses to delete a version, what it needs must stay too: its index children
  // and its referrers. If its manifest cannot be read, no untagged version is deleted at all.
  const protectedDigests = new Set<string>()
  let keepUntagged = false
  const isProtected = (planned: PlannedVersion) =>
    protectedDigests.has(planned.digest) ||
    (keepUntagged && planned.tags.length === 0) ||
    planned.tags.some((t) => protectedDigests.has(referrerTag(t)?.subject ?? "")) ||
    protectedDigests.has(known.manifests.get(planned.digest)?.subject?.digest ?? "")
  const defer = (from: number, why: string): Deleting => {
    const left = deletions.slice(from).filter((d) => !isProtected(d))
    for (const d of left) outcomes.set(d.id, "deferred")
    const stopped = `${why}: ${left.length} deletion${left.length === 1 ? "" : "s"} left for the next run`
    deps.log(stopped)
    return { stopped }
  }
  let deleted = 0
  for (let start = 0; start < deletions.length; start += DELETE_BATCH) {
    const batch = deletions.slice(start, start + DELETE_BATCH)
    const ended = await steps.run(
      RETENTION_STEP.delete,
      {
        attributes: {
          "github.package": pkg,
          "retention.from": start + 1,
          "retention.to": start + batch.length,
          "retention.of": deletions.length,
        },
        result: (end: Deleting | undefined) => ({
          detail: `deleted ${deleted} of ${deletions.length}${end?.stopped ? " (stopped)" : ""}`,
          attributes: { "retention.deleted": deleted },
        }),
      },
      async (progress) => {
        for (const [offset, planned] of batch.entries()) {
          const i = start + offset
          if (isProtected(planned)) {
            deps.log(`not deleting ${planned.digest}: a version GitHub refused to delete may need it`)
            continue
          }
          const limit = spendingLimit(spending)
          if (limit) return defer(i, limit)
          journal("deleting", planned)
          try {
            const { outcome, note } = await deletePackageVersion(
              deps.github,
              target.owner,
              target.packageName,
              known.versions.get(planned.id)!,
            )
            outcomes.set(planned.id, outcome)
            if (outcome === "deleted") deleted++
            journal(outcome === "deleted" ? "deleted" : "already gone", planned, note)
            progress.note(`${outcome === "deleted" ? "deleted" : "already gone"} ${i + 1} of ${deletions.length}`, {
              "retention.deleted": deleted,
            })
          } catch (error) {
            const message = (error as Error).message
            if (error instanceof DeleteUnconfirmed) {
              // Sent, and maybe carried out: this run's deletion until a listing shows otherwise.
              outcomes.set(planned.id, "unconfirmed")
              journal("unconfirmed", planned, message)
              return { failure: { version: planned, message } }
            }
            if (error instanceof QuotaSpent) {
              // Refused, so not carried out: the token's quota is spent (another workflow shares it).
              journal("not deleted", planned, "the token's hourly quota is spent")
              return defer(i, `GitHub refused for the token's hourly quota${describeQuota(spending.counter?.quota)}`)
            }
            outcomes.set(planned.id, "failed")
            journal("not deleted", planned, message)
            // A refusal of this one version (GitHub's 400s) does not stop the rest; anything else does.
            if (!(error instanceof PermissionError) && /answered 400/.test(message)) {
              deps.log(`could not delete ${planned.digest}: ${message}`)
              protectedDigests.add(planned.digest)
              try {
                for (const child of (await deps.registry.manifest(deps.repository, planned.digest)).json.manifests ??
                  [])
                  protectedDigests.add(child.digest)
              } catch {
                keepUntagged = true
              }
              continue
            }
            return { failure: { version: planned, message } }
          }
        }
        return undefined
      },
    )
    if (ended) return ended
  }
  return {}
}

/** Why the next deletion may not be sent (an explicit budget, or the quota down to its reserve), or undefined. */
export function spendingLimit(spending: Spending): string | undefined {
  const used = spending.counter?.requests ?? 0
  if (spending.maxRequests > 0 && used + 1 > spending.maxRequests) {
    return `the budget of ${spending.maxRequests} GitHub API requests is reached (${used} used)`
  }
  const quota = spending.counter?.quota
  if (quota && quota.remaining - COST < spending.reserve) {
    return `the token's hourly quota is down to its reserve for other workflows (${quota.remaining} of ${quota.limit} left, ${spending.reserve} kept${describeReset(quota)})`
  }
  return undefined
}

const describeReset = (quota: Quota) => `; it resets at ${new Date(quota.reset * 1000).toISOString()}`
const describeQuota = (quota?: Quota) =>
  quota ? ` (${quota.remaining} of ${quota.limit} left${describeReset(quota)})` : ""
