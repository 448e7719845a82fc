/**
 * Retention, carried out: list every version, read the manifests the planner asks for, plan,
 * then (unless a dry run, or more deletions than allowed) delete in the plan's order, and check
 * in the registry that everything kept is still there. Fails closed: any listing page or needed
 * manifest that cannot be read stops it before a deletion. With a reviewed plan, only what that
 * plan approves and today's plan still deletes is deleted; with a request budget, deleting stops
 * before the budget is spent and the rest is left for the next run.
 */
import { mapLimit } from "../common/concurrency.js"
import { PermissionError } from "../github/client.js"
import { deletePackageVersion, resolveOwner } from "../github/packages.js"
import { INDEX_MEDIA_TYPES, type ManifestJson } from "../oci/manifest.js"
import { selectBatch } from "./batch.js"
import { validate } from "./check.js"
import { type RetentionDeps, type RetentionRequest } from "./inputs.js"
import { type PlannedVersion, referrerTag } from "./versions.js"
import { readAndPlan } from "./read.js"
import { formatBroken, formatFailure, formatReport, type Outcome, type RetentionResult } from "./report.js"
import { fingerprint, selectReviewed, type Selection } from "./reviewed.js"

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
  const owner = deps.owner ?? (await resolveOwner(deps.github, request.owner))
  const registryWhere = `${deps.registry.endpoint.host}/${deps.repository}`
  const { versions, manifests, reads, plan } = await readAndPlan(deps, owner, request)

  const selection: Selection | undefined = request.reviewed ? selectReviewed(plan, request.reviewed) : undefined
  const approved = selection ? selection.approved : plan.deletions
  const outcomes = new Map<number, Outcome>()
  for (const version of plan.deletions)
    outcomes.set(
      version.id,
      selection?.skipped.has(version.id) ? "skipped" : request.dryRun ? "would-delete" : "not-attempted",
    )
  const budget = request.maxRequests ? { maxRequests: request.maxRequests, counter: deps.counter } : undefined
  if (budget && !budget.counter) throw new Error("maxRequests needs the GitHub client's request counter")
  let validation: RetentionResult["validation"]
  let capped: string | undefined
  const result = (stopped?: string, dryRun = request.dryRun): RetentionResult => ({
    owner,
    packageName: request.packageName,
    dryRun,
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
    ...(budget ? { budget: { maxRequests: budget.maxRequests, used: budget.counter!.requests } } : {}),
    ...(capped ? { capped } : {}),
  })
  if (request.dryRun) return result()

  // At most maxDeletions, oldest first, each with everything that holds it.
  const shapes = new Map<string, ManifestJson>(manifests)
  let batch = selectBatch(approved, shapes, request.maxDeletions)
  if (batch.unread.length > 0) {
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
    batch = selectBatch(approved, shapes, request.maxDeletions)
  }
  for (const version of batch.left) outcomes.set(version.id, "deferred")
  if (batch.left.length > 0) {
    capped =
      batch.order.length === 0
        ? `maxDeletions (${request.maxDeletions}) is smaller than any image that could go with everything that holds it: nothing was deleted, ${batch.left.length} deletion${batch.left.length === 1 ? "" : "s"} left; raise --max-deletions`
        : `maxDeletions (${request.maxDeletions}) reached: ${batch.left.length} deletion${batch.left.length === 1 ? "" : "s"} left for the next runs`
    deps.log(capped)
  }
  const deletions = batch.order

  const byId = new Map(versions.map((v) => [v.id, v]))
  // When GitHub refuses to delete a version, what it needs must stay too: its index children
  // and its referrers. If its manifest cannot be read, no untagged version is deleted at all.
  const protectedDigests = new Set<string>()
  let keepUntagged = false
  const isProtected = (planned: PlannedVersion) =>
    protectedDigests.has(planned.digest) ||
    (keepUntagged && planned.tags.length === 0) ||
    planned.tags.some((t) => protectedDigests.has(referrerTag(t)?.subject ?? "")) ||
    protectedDigests.has(manifests.get(planned.digest)?.subject?.digest ?? "")
  let stopped: string | undefined
  let failure: { version: PlannedVersion; message: string } | undefined
  for (const [i, planned] of deletions.entries()) {
    if (isProtected(planned)) {
      deps.log(`not deleting ${planned.digest}: a version GitHub refused to delete may need it`)
      continue
    }
    if (budget && budget.counter!.requests + 1 > budget.maxRequests) {
      const left = deletions.slice(i).filter((d) => !isProtected(d))
      for (const d of left) outcomes.set(d.id, "deferred")
      stopped = `the budget of ${budget.maxRequests} GitHub API requests is reached (${budget.counter!.requests} used): ${left.length} deletion${left.length === 1 ? "" : "s"} left for the next run`
      deps.log(stopped)
      break
    }
    try {
      const outcome = await deletePackageVersion(deps.github, owner, request.packageName, byId.get(planned.id)!)
      outcomes.set(planned.id, outcome)
      deps.log(
        `${outcome === "deleted" ? "deleted" : "already gone"} ${i + 1}/${deletions.length}: ${planned.digest} ${planned.tags.join(",") || "(untagged)"}`,
      )
    } catch (error) {
      outcomes.set(planned.id, "failed")
      const message = (error as Error).message
      // A refusal of this one version (GitHub's 400s) does not stop the rest; anything else does.
      if (!(error instanceof PermissionError) && /answered 400/.test(message)) {
        deps.log(`could not delete ${planned.digest}: ${message}`)
        protectedDigests.add(planned.digest)
        try {
          for (const child of (await deps.registry.manifest(deps.repository, planned.digest)).json.manifests ?? [])
            protectedDigests.add(child.digest)
        } catch {
          keepUntagged = true
        }
        continue
      }
      stopped = message
      failure = { version: planned, message }
      break
    }
  }
  if (!stopped && capped) stopped = capped

  // Whatever happened above, check what was kept, and what the registry's tags need.
  validation = await validate(deps, plan, manifests, versions)
  const refused = plan.deletions.filter((d) => outcomes.get(d.id) === "failed" && d.id !== failure?.version.id)
  if (!failure && refused.length > 0)
    stopped = `${refused.length} deletion${refused.length === 1 ? "" : "s"} refused by GitHub`
  const done = result(stopped)
  if (!failure && refused.length === 0 && validation.broken.length === 0) return done
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
  ].filter((x) => x !== undefined)
  const lines = [
    formatFailure(done, what, { githubApiUrl: request.githubApiUrl }),
    "",
    formatReport(done),
    ...(validation.broken.length ? ["", formatBroken(validation.broken)] : []),
  ]
  throw new RetentionFailed(lines.join("\n"), done)
}
