/**
 * Retention, carried out: list every version, read the manifests the planner asks for, plan,
 * then (unless a dry run, or more deletions than allowed) delete in the plan's order, and check
 * in the registry that everything kept is still there. Fails closed: any listing page or needed
 * manifest that cannot be read stops it before a deletion. With a reviewed plan, only what that
 * plan approves and today's plan still deletes is deleted; with a request budget, deleting stops
 * before the budget is spent and the rest is left for the next run.
 */
import { mapLimit } from "../common/concurrency.js"
import { Steps } from "../common/steps.js"
import { readQuota } from "../github/client.js"
import { resolveOwner } from "../github/packages.js"
import { INDEX_MEDIA_TYPES, type ManifestJson } from "../oci/manifest.js"
import { selectBatch } from "./batch.js"
import { validate } from "./check.js"
import { deleteInOrder } from "./delete.js"
import { type RetentionDeps, type RetentionRequest } from "./inputs.js"
import { readAndPlan, RETENTION_STEP } from "./read.js"
import {
  formatBroken,
  formatFailure,
  formatReport,
  formatUnverified,
  type Outcome,
  type RetentionResult,
} from "./report.js"
import { fingerprint } from "./fingerprint.js"
import { selectReviewed, type Selection } from "./reviewed.js"
import { type PlannedVersion } from "./versions.js"

/** A run that deleted what it could and then failed (refusals, a stop, a broken kept image): the report is in the message. */
export class RetentionFailed extends Error {
  override name = "RetentionFailed"
  constructor(
    message: string,
    readonly result: RetentionResult,
  ) {
    super(message)
  }
}

export async function runRetention(deps: RetentionDeps, request: RetentionRequest): Promise<RetentionResult> {
  const steps = deps.steps ?? new Steps()
  const owner = deps.owner ?? (await resolveOwner(deps.github, request.owner))
  const registryWhere = `${deps.registry.endpoint.host}/${deps.repository}`
  // A real run reads the token's quota first (GitHub does not count that read): the token may share
  // it with every other workflow of the repository, so the run keeps a reserve of it for them.
  const quota = request.dryRun ? undefined : await readQuota(deps.github)
  if (quota && deps.counter) deps.counter.quota = quota
  const reserve = quota ? Math.min(request.quotaReserve ?? QUOTA_RESERVE, Math.floor(quota.limit / 10)) : 0
  const { versions, manifests, reads, plan } = await readAndPlan(deps, owner, request)

  const selection: Selection | undefined = request.reviewed ? selectReviewed(plan, request.reviewed) : undefined
  const approved = selection ? selection.approved : plan.deletions
  const outcomes = new Map<number, Outcome>()
  for (const version of plan.deletions)
    outcomes.set(
      version.id,
      selection?.skipped.has(version.id) ? "skipped" : request.dryRun ? "would-delete" : "not-attempted",
    )
  if (request.maxRequests && !deps.counter) throw new Error("maxRequests needs the GitHub client's request counter")
  let validation: RetentionResult["validation"]
  let capped: string | undefined
  const result = (stopped?: string): RetentionResult => ({
    owner,
    packageName: request.packageName,
    dryRun: request.dryRun,
    plan,
    fingerprint: fingerprint({
      owner: owner.login,
      packageName: request.packageName,
      policy: plan.policy,
      versions: plan.versions,
    }),
    outcomes,
    stopped,
    manifestsRead: manifests.size,
    manifestReads: { ...reads },
    ...(request.reviewed && selection
      ? {
          reviewed: {
            fingerprint: request.reviewed.fingerprint,
            skipped: selection.skipped,
            notApplied: selection.notApplied,
          },
        }
      : {}),
    ...(validation ? { validation } : {}),
    ...(request.maxRequests ? { budget: { maxRequests: request.maxRequests, used: deps.counter!.requests } } : {}),
    ...(quota ? { quota: { start: quota, end: deps.counter?.quota ?? quota, reserve } } : {}),
    ...(capped ? { capped } : {}),
  })
  if (request.dryRun) return result()

  const batch = await runBatch(deps, request, approved, manifests)
  for (const version of batch.left) outcomes.set(version.id, "deferred")
  if (batch.left.length > 0) {
    capped =
      batch.order.length === 0
        ? `maxDeletions (${request.maxDeletions}) is smaller than any image that could go with everything that holds it: nothing was deleted, ${batch.left.length} deletion${batch.left.length === 1 ? "" : "s"} left; raise --max-deletions`
        : `maxDeletions (${request.maxDeletions}) reached: ${batch.left.length} deletion${batch.left.length === 1 ? "" : "s"} left for the next runs`
    deps.log(capped)
  }
  const deleting = await deleteInOrder(
    deps,
    { owner, packageName: request.packageName },
    batch.order,
    { versions: new Map(versions.map((v) => [v.id, v])), manifests },
    outcomes,
    { counter: deps.counter, maxRequests: request.maxRequests ?? 0, reserve },
  )
  const failure = deleting.failure
  let stopped = deleting.stopped ?? (failure ? failure.message : capped)

  // Whatever happened above, check what was kept, and what the registry's tags need.
  validation = await steps.run(
    RETENTION_STEP.check,
    {
      attributes: { "github.package": `${owner.login}/${request.packageName}` },
      result: (v) => ({
        detail: `${v.checked} checked, ${v.broken.length} missing, ${v.unverified.length} could not be verified`,
        attributes: {
          "retention.checked": v.checked,
          "retention.broken": v.broken.length,
          "retention.unverified": v.unverified.length,
        },
      }),
    },
    () => validate(deps, plan, manifests, versions),
  )
  const refused = plan.deletions.filter((d) => outcomes.get(d.id) === "failed" && d.id !== failure?.version.id)
  if (!failure && refused.length > 0)
    stopped = `${refused.length} deletion${refused.length === 1 ? "" : "s"} refused by GitHub`
  const done = result(stopped)
  if (!failure && refused.length === 0 && validation.broken.length === 0 && validation.unverified.length === 0)
    return done
  const what = [
    failure
      ? `deleting stopped at version ${failure.version.id} (${failure.version.digest}): ${failure.message}`
      : undefined,
    refused.length > 0
      ? `GitHub refused for good to delete ${refused.length} version${refused.length === 1 ? "" : "s"} (${refused.map((d) => d.id).join(", ")}); the rest went on`
      : undefined,
    validation.broken.length > 0
      ? `after the run ${validation.broken.length} tag${validation.broken.length === 1 ? "" : "s"} or manifest${validation.broken.length === 1 ? "" : "s"} a kept image needs ${validation.broken.length === 1 ? "is" : "are"} missing from ${registryWhere} (${validation.broken
          .slice(0, 3)
          .map((b) => (b.reference.startsWith("sha256:") ? b.reference.slice(0, 19) : b.reference))
          .join(", ")}${validation.broken.length > 3 ? ", …" : ""})`
      : undefined,
    validation.unverified.length > 0
      ? `after the run ${validation.unverified.length} tag${validation.unverified.length === 1 ? "" : "s"} or manifest${validation.unverified.length === 1 ? "" : "s"} could not be verified in ${registryWhere} (the registry kept failing: ${validation.unverified[0]!.problem}); none is known to be missing`
      : undefined,
  ].filter((x) => x !== undefined)
  // Nothing known broken and no deletion refused or cut off: no version needs restoring.
  const restore = failure !== undefined || refused.length > 0 || validation.broken.length > 0
  const lines = [
    formatFailure(done, what, { githubApiUrl: request.githubApiUrl, restore, ...request.restoreWith }),
    "",
    formatReport(done),
    ...(validation.broken.length ? ["", formatBroken(validation.broken)] : []),
    ...(validation.unverified.length ? ["", formatUnverified(validation.unverified)] : []),
  ]
  throw new RetentionFailed(lines.join("\n"), done)
}

/** How many requests of the token's hourly quota a run leaves to other workflows, by default (at most a tenth of the quota). */
export const QUOTA_RESERVE = 100

/**
 * This run's share of the approved deletions (maxDeletions), oldest first, each with everything
 * that holds it; tagged versions that go are looked at first when the share must be cut (a HEAD,
 * and a GET only for an index).
 */
async function runBatch(
  deps: RetentionDeps,
  request: RetentionRequest,
  approved: readonly PlannedVersion[],
  manifests: ReadonlyMap<string, ManifestJson>,
) {
  const registryWhere = `${deps.registry.endpoint.host}/${deps.repository}`
  const shapes = new Map<string, ManifestJson>(manifests)
  const batch = selectBatch(approved, shapes, request.maxDeletions)
  if (batch.unread.length === 0) return batch
  deps.log(
    `${approved.length} deletions planned, more than maxDeletions (${request.maxDeletions}): looking at ${batch.unread.length} tagged versions that go, to keep each image whole`,
  )
  await mapLimit(batch.unread, deps.manifestConcurrency ?? 8, async (digest) => {
    try {
      // A HEAD (no download on ghcr.io) tells an index from an image; only an index is read.
      const head = await deps.registry.resolve(deps.repository, digest)
      shapes.set(
        digest,
        head && INDEX_MEDIA_TYPES.has(head.mediaType)
          ? (await deps.registry.manifest(deps.repository, digest)).json
          : {},
      )
    } catch (error) {
      throw new Error(
        `cannot read manifest ${digest} of ${registryWhere}, a tagged version to delete that may hold others: ${(error as Error).message}\nNothing was deleted: a run that deletes part of the plan must know what holds what.`,
      )
    }
  })
  return selectBatch(approved, shapes, request.maxDeletions)
}
