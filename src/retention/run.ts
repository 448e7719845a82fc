/**
 * Retention, carried out: list every version, read the manifests the planner asks for, plan,
 * then (unless a dry run, or more deletions than allowed) delete in the plan's order, and check
 * in the registry that everything kept is still there. Fails closed: any listing page or needed
 * manifest that cannot be read stops it before a deletion. With a reviewed plan, only what that
 * plan approves and today's plan still deletes is deleted; with a request budget, deleting stops
 * before the budget is spent and the rest is left for the next run.
 */
import { mapLimit } from "../concurrency.js"
import { check, InvalidArgumentError } from "../errors.js"
import { parseImageName, parseOwner, parseRegistry, parseUsername } from "../naming.js"
import {
  createGitHubClient,
  deletePackageVersion,
  describePackage,
  listPackageVersions,
  PermissionError,
  resolveOwner,
  type GitHubClient,
  type PackageOwner,
  type PackageVersion,
  type RequestCounter,
} from "../github.js"
import { INDEX_MEDIA_TYPES, RegistryClient, RegistryError, type ManifestJson } from "../registry.js"
import { selectBatch } from "./batch.js"
import {
  planRetention,
  referrerTag,
  type PlannedVersion,
  type RetentionPlan,
  type RetentionPolicy,
  type UnlistedTag,
} from "./plan.js"
import {
  formatBroken,
  formatFailure,
  formatReport,
  reportObject,
  type Outcome,
  type RetentionResult,
} from "./report.js"
import { fingerprint, matchPlan, parsePlanFile, selectReviewed, type PlanSection, type Selection } from "./reviewed.js"
import { expectations, knownReferrers, tagExpectations, type Broken, type Expectation } from "./validate.js"

export interface RetentionRequest {
  readonly owner: string
  readonly packageName: string
  readonly policy: RetentionPolicy
  readonly dryRun: boolean
  readonly maxDeletions: number
  readonly now: Date
  /** A reviewed plan (`retain --plan`): delete only what it approves and today's plan still deletes. */
  readonly reviewed?: PlanSection
  /** At most this many GitHub API requests, counted on `counter` (0: no limit). */
  readonly maxRequests?: number
  /** The GitHub API the run used, for the restore command a failure prints (default: api.github.com). */
  readonly githubApiUrl?: string
}

export interface RetentionDeps {
  readonly github: GitHubClient
  /** The registry client for the package's repository path. */
  readonly registry: RegistryClient
  /** `<owner>/<image>` in the registry. */
  readonly repository: string
  readonly log: (line: string) => void
  readonly manifestConcurrency?: number
  /** The owner, when already resolved (several packages of one owner in a run). */
  readonly owner?: PackageOwner
  /** Counts the GitHub client's requests; needed for `maxRequests`. */
  readonly counter?: RequestCounter
}

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
  const where = describePackage(owner, request.packageName)
  const registryWhere = `${deps.registry.endpoint.host}/${deps.repository}`
  deps.log(`listing ${where}`)
  let versions: PackageVersion[]
  try {
    versions = await listPackageVersions(deps.github, owner, request.packageName)
  } catch (error) {
    throw new Error(`${(error as Error).message}\nNothing was deleted: retention never decides on a partial listing.`)
  }
  deps.log(`${versions.length} versions listed`)

  const manifests = new Map<string, ManifestJson>()
  const reads = { kept: 0, subjects: 0 }
  // The registry's own tags, read after the listing: a tag the listing did not show (a version
  // served on no page because someone deleted or pushed one while it was read) is kept, with
  // everything it needs.
  const unlisted = await unlistedTags(deps, versions, manifests, reads)
  if (unlisted.length > 0)
    deps.log(
      `${unlisted.length} tag${unlisted.length === 1 ? "" : "s"} in ${registryWhere} not in GitHub's listing (${unlisted.map((u) => u.tag).join(", ")}): kept, with all they need`,
    )
  let plan: RetentionPlan | undefined
  for (let round = 0; !plan; round++) {
    const closure = planRetention(versions, manifests, request.policy, request.now, { unlisted })
    if (closure.plan) {
      plan = closure.plan
      break
    }
    if (round > 32) throw new Error(`manifests of ${where} nest deeper than 32 levels: nothing was deleted`)
    const forSubjects = closure.purpose === "subjects"
    deps.log(
      forSubjects
        ? `reading ${closure.missing.length} manifests of untagged versions, for a subject naming a kept image`
        : `reading ${closure.missing.length} manifests of kept images`,
    )
    await mapLimit(closure.missing, deps.manifestConcurrency ?? 8, async (digest) => {
      try {
        manifests.set(digest, (await deps.registry.manifest(deps.repository, digest)).json)
        if (forSubjects) reads.subjects++
        else reads.kept++
      } catch (error) {
        const why = forSubjects ? "an untagged version that may refer to a kept image" : "which a kept image may need"
        throw new Error(
          `cannot read manifest ${digest} of ${registryWhere}, ${why}: ${(error as Error).message}\nNothing was deleted: retention never deletes what it could not check.`,
        )
      }
    })
  }

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
    plan: plan!,
    fingerprint: fingerprint({
      owner: owner.login,
      packageName: request.packageName,
      policy: plan!.policy,
      versions: plan!.versions,
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

/**
 * The registry's tags that GitHub's listing did not show, each read (by tag: one GET) so the
 * planner can keep what it names with everything it needs. Fails closed when the tag list or
 * such a manifest cannot be read; a tag that vanished meanwhile names nothing to keep.
 */
async function unlistedTags(
  deps: RetentionDeps,
  versions: readonly PackageVersion[],
  manifests: Map<string, ManifestJson>,
  reads: { kept: number },
): Promise<UnlistedTag[]> {
  const where = `${deps.registry.endpoint.host}/${deps.repository}`
  let tags: string[]
  try {
    tags = await deps.registry.tags(deps.repository)
  } catch (error) {
    throw new Error(
      `cannot read the tag list of ${where}, which GitHub's listing is checked against: ${(error as Error).message}\nNothing was deleted: retention never deletes what it could not check.`,
    )
  }
  const listed = new Set(versions.flatMap((v) => v.metadata?.container?.tags ?? []))
  const unlisted: UnlistedTag[] = []
  await mapLimit(
    tags.filter((t) => !listed.has(t)),
    deps.manifestConcurrency ?? 8,
    async (tag) => {
      try {
        const manifest = await deps.registry.manifest(deps.repository, tag)
        if (!manifests.has(manifest.digest)) reads.kept++
        manifests.set(manifest.digest, manifest.json)
        unlisted.push({ tag, digest: manifest.digest })
      } catch (error) {
        if (error instanceof RegistryError && error.status === 404) return
        throw new Error(
          `cannot read tag ${tag} of ${where}, which GitHub's listing did not show: ${(error as Error).message}\nNothing was deleted: retention never deletes what it could not check.`,
        )
      }
    },
  )
  return unlisted.sort((a, b) => (a.tag < b.tag ? -1 : 1))
}

/**
 * Resolves what must still be in the registry after a real run: what the plan keeps, and,
 * independently of the plan, every tag the registry lists now, every child of its indexes and
 * every referrer of it this run knew of. What does not resolve is broken.
 */
async function validate(
  deps: RetentionDeps,
  plan: RetentionPlan,
  manifests: ReadonlyMap<string, ManifestJson>,
  versions: readonly PackageVersion[],
): Promise<{ checked: number; broken: Broken[] }> {
  const where = `${deps.registry.endpoint.host}/${deps.repository}`
  const limit = deps.manifestConcurrency ?? 8
  const broken: Broken[] = []
  const heads = new Map<string, Promise<{ digest?: string; mediaType?: string; error?: string }>>()
  const head = (reference: string) => {
    if (!heads.has(reference)) {
      heads.set(
        reference,
        deps.registry.resolve(deps.repository, reference).then(
          (h) => ({ digest: h?.digest, mediaType: h?.mediaType }),
          (error: unknown) => ({ error: (error as Error).message }),
        ),
      )
    }
    return heads.get(reference)!
  }
  const fromPlan = expectations(plan, manifests)
  let tags: string[] = []
  try {
    tags = await deps.registry.tags(deps.repository)
  } catch (error) {
    broken.push({
      reference: "tags/list",
      what: "the registry's tag list",
      breaks: [],
      problem: `could not be read from ${where} (${(error as Error).message})`,
    })
  }
  deps.log(`checking ${fromPlan.length} kept tags and digests, and the ${tags.length} tags ${where} lists`)
  const tagged = new Map<string, string[]>()
  const indexes = new Set<string>()
  const listedBroken: Expectation[] = []
  await mapLimit(tags, limit, async (tag) => {
    const found = await head(tag)
    if (found.digest) {
      tagged.set(found.digest, [...(tagged.get(found.digest) ?? []), tag])
      if (found.mediaType && INDEX_MEDIA_TYPES.has(found.mediaType)) indexes.add(found.digest)
    } else if (!found.error)
      listedBroken.push({ reference: tag, what: `tag ${tag}, which the registry lists,`, breaks: [tag] })
  })
  // The manifests of the indexes the tags name: read for the plan already, or read now (an
  // image's manifest lists no children: its HEAD is enough).
  const known = new Map(manifests)
  const unknown = [...indexes].filter((d) => !known.has(d))
  for (let depth = 0; unknown.length > 0 && depth < 8; depth++) {
    const batch = unknown.splice(0)
    await mapLimit(batch, limit, async (digest) => {
      try {
        const manifest = (await deps.registry.manifest(deps.repository, digest)).json
        known.set(digest, manifest)
        for (const child of manifest.manifests ?? [])
          if (child.mediaType && INDEX_MEDIA_TYPES.has(child.mediaType) && !known.has(child.digest))
            unknown.push(child.digest)
      } catch {
        // Not readable now: its children cannot be listed; the tag itself is checked above.
      }
    })
  }
  const fromTags = tagExpectations(tagged, known, knownReferrers(versions, manifests))
  const expected = [...fromPlan]
  const seen = new Set(fromPlan.map((e) => e.reference))
  for (const e of [...listedBroken, ...fromTags]) {
    if (!seen.has(e.reference)) {
      seen.add(e.reference)
      expected.push(e)
    }
  }
  await mapLimit(expected, limit, async (expectation) => {
    const found = await head(expectation.reference)
    if (found.error) broken.push({ ...expectation, problem: `could not be checked in ${where} (${found.error})` })
    else if (!found.digest) broken.push({ ...expectation, problem: `is missing from ${where}` })
  })
  // In the plan's order, then the registry's, so the list reads like the table.
  const order = new Map(expected.map((e, i) => [e, i]))
  broken.sort((a, b) => (order.get(a) ?? -1) - (order.get(b) ?? -1))
  return { checked: expected.length, broken }
}

/** Checked arguments of `retain`. */
export interface RetainArgs {
  readonly owner: string
  /** The packages of this run, in order: `images` when given, else `[image]`. */
  readonly packages: readonly string[]
  /** True when `images` was given: the report has one section per package. */
  readonly several: boolean
  readonly policy: RetentionPolicy
  readonly dryRun: boolean
  readonly maxDeletions: number
  readonly maxRequests: number
  readonly githubApiUrl: string
  readonly registry: { scheme: "http" | "https"; host: string }
  readonly registryUsername: string
}

export interface RetainInput {
  owner: string
  image: string
  keep: number
  dryRun: boolean
  maxDeletions: number
  githubApiUrl: string
  registry: string
  graceMinutes: number
  registryUsername?: string
  maxRequests?: number
  images?: readonly string[]
}

export function parseRetainArgs(args: RetainInput): RetainArgs {
  const count = (name: string, value: number, expected: string) =>
    check(Number.isInteger(value) && value >= 0, name, value, expected)
  count("keep", args.keep, "is not a count: expected a whole number of build images to keep, 0 or more (e.g. 30)")
  count("maxDeletions", args.maxDeletions, "is not a count: expected a whole number, 0 or more (e.g. 1000)")
  count("graceMinutes", args.graceMinutes, "is not a number of minutes: expected a whole number, 0 or more (e.g. 60)")
  count(
    "maxRequests",
    args.maxRequests ?? 0,
    "is not a request budget: expected a whole number of GitHub API requests, or 0 for no limit (e.g. 900)",
  )
  check(
    /^https?:\/\/[^\s/?#]+(?:\/[^\s?#]*)?$/.test(args.githubApiUrl),
    "githubApiUrl",
    args.githubApiUrl,
    "is not a URL: expected https://api.github.com, or https://<host>/api/v3 for GitHub Enterprise Server",
  )
  const owner = parseOwner(args.owner)
  const images = args.images ?? []
  const packages =
    images.length > 0 ? images.map((image, i) => parseImageName(image, `images[${i}]`)) : [parseImageName(args.image)]
  const twice = packages.find((p, i) => packages.indexOf(p) !== i)
  if (twice)
    throw new InvalidArgumentError("images", images, `names ${JSON.stringify(twice)} twice: expected each package once`)
  return {
    owner,
    packages,
    several: images.length > 0,
    policy: { keep: args.keep, graceMinutes: args.graceMinutes },
    dryRun: args.dryRun,
    maxDeletions: args.maxDeletions,
    maxRequests: args.maxRequests ?? 0,
    githubApiUrl: args.githubApiUrl,
    registry: parseRegistry(args.registry),
    registryUsername: args.registryUsername ? parseUsername(args.registryUsername, "registryUsername") : owner,
  }
}

/** Reads a plan file's text for this run: its sections, one per package, checked against the run. */
export function parseRetainPlan(text: string, args: RetainArgs): Map<string, PlanSection> {
  return matchPlan(parsePlanFile(text, "plan"), { owner: args.owner, packages: args.packages, policy: args.policy })
}

/** One package's part of a run: its result, or why it failed. */
export interface PackageOutcome {
  readonly packageName: string
  readonly result?: RetentionResult
  readonly error?: Error
}

/**
 * Runs retention for every package of the run, one after another, each listed, planned, applied
 * and validated on its own. A failure in one stops deletions in none of the others; one GitHub
 * client (and so one request budget) serves them all.
 */
export async function retainPackages(
  args: RetainArgs,
  clients: { github: GitHubClient; counter: RequestCounter; registry: RegistryClient },
  log: (line: string) => void,
  now: Date,
  plans?: ReadonlyMap<string, PlanSection>,
): Promise<PackageOutcome[]> {
  let owner: PackageOwner | undefined
  const outcomes: PackageOutcome[] = []
  for (const packageName of args.packages) {
    try {
      owner ??= await resolveOwner(clients.github, args.owner)
      const result = await runRetention(
        {
          github: clients.github,
          registry: clients.registry,
          repository: `${args.owner.toLowerCase()}/${packageName}`,
          log,
          owner,
          counter: clients.counter,
        },
        {
          owner: args.owner,
          packageName,
          policy: args.policy,
          dryRun: args.dryRun,
          maxDeletions: args.maxDeletions,
          now,
          reviewed: plans?.get(packageName),
          maxRequests: args.maxRequests,
          githubApiUrl: args.githubApiUrl,
        },
      )
      outcomes.push({ packageName, result })
    } catch (error) {
      outcomes.push({ packageName, error: error as Error })
    }
  }
  return outcomes
}

/** The run's report: one package as before; several as one section each, or `{"packages": [...]}`. Throws when any package failed. */
export function renderPackages(args: RetainArgs, outcomes: readonly PackageOutcome[], json: boolean): string {
  if (!args.several) {
    const [only] = outcomes
    if (only!.error) throw only!.error
    return json ? JSON.stringify(reportObject(only!.result!), null, 2) : formatReport(only!.result!)
  }
  const failed = outcomes.filter((o) => o.error)
  const section = (o: PackageOutcome) =>
    `== ${args.owner}/${o.packageName} ==\n${o.error ? `FAILED\n${o.error.message}` : formatReport(o.result!)}`
  if (failed.length > 0) {
    const summary = `${failed.length} of ${outcomes.length} packages failed: ${failed.map((o) => o.packageName).join(", ")} (the others ran to the end)`
    throw new Error(
      `retain failed: ${summary}; each failed package says below what happened, what this run deleted and how to restore it.\n\n${outcomes.map(section).join("\n\n")}\n\n${summary}`,
    )
  }
  return json
    ? JSON.stringify(
        { format: "meetinity-release/retention-reports/v1", packages: outcomes.map((o) => reportObject(o.result!)) },
        null,
        2,
      )
    : outcomes.map(section).join("\n\n")
}

/** Builds the GitHub and registry clients for one token and runs retention with them. */
export async function retainWithToken(
  args: RetainArgs,
  token: string,
  log: (line: string) => void,
  now: Date,
  options: { plans?: ReadonlyMap<string, PlanSection>; json?: boolean; msPerSecond?: number } = {},
): Promise<string> {
  const counter: RequestCounter = { requests: 0 }
  const github = createGitHubClient({
    token,
    baseUrl: args.githubApiUrl,
    log,
    counter,
    msPerSecond: options.msPerSecond,
  })
  const registry = new RegistryClient(args.registry, { username: args.registryUsername, password: token })
  const outcomes = await retainPackages(args, { github, counter, registry }, log, now, options.plans)
  return renderPackages(args, outcomes, options.json ?? false)
}
