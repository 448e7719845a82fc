/**
 * Retention, carried out: list every version, read the manifests the planner asks for, plan,
 * then (unless a dry run, or more deletions than allowed) delete in the plan's order. Fails
 * closed: any listing page or needed manifest that cannot be read stops it before a deletion.
 */
import { mapLimit } from "../concurrency.js"
import { check } from "../errors.js"
import { parseImageName, parseOwner, parseRegistry, parseUsername } from "../naming.js"
import { createGitHubClient, deletePackageVersion, describePackage, listPackageVersions, PermissionError, resolveOwner, type GitHubClient, type PackageVersion } from "../github.js"
import { RegistryClient, type ManifestJson } from "../registry.js"
import { planRetention, referrerTag, type RetentionPlan, type RetentionPolicy } from "./plan.js"
import { formatReport, type Outcome, type RetentionResult } from "./report.js"

export interface RetentionRequest {
  readonly owner: string
  readonly packageName: string
  readonly policy: RetentionPolicy
  readonly dryRun: boolean
  readonly maxDeletions: number
  readonly now: Date
}

export interface RetentionDeps {
  readonly github: GitHubClient
  /** The registry client for the package's repository path. */
  readonly registry: RegistryClient
  /** `<owner>/<image>` in the registry. */
  readonly repository: string
  readonly log: (line: string) => void
  readonly manifestConcurrency?: number
}

/** A refusal before any deletion; the report says what would have happened. */
export class RetentionRefused extends Error {
  override name = "RetentionRefused"
}

export async function runRetention(deps: RetentionDeps, request: RetentionRequest): Promise<RetentionResult> {
  const owner = await resolveOwner(deps.github, request.owner)
  const where = describePackage(owner, request.packageName)
  deps.log(`listing ${where}`)
  let versions: PackageVersion[]
  try {
    versions = await listPackageVersions(deps.github, owner, request.packageName)
  } catch (error) {
    throw new Error(`${(error as Error).message}\nNothing was deleted: retention never decides on a partial listing.`)
  }
  deps.log(`${versions.length} versions listed`)

  const manifests = new Map<string, ManifestJson>()
  let plan: RetentionPlan | undefined
  for (let round = 0; !plan; round++) {
    const closure = planRetention(versions, manifests, request.policy, request.now)
    if (closure.plan) {
      plan = closure.plan
      break
    }
    if (round > 32) throw new Error(`manifests of ${where} nest deeper than 32 levels: nothing was deleted`)
    deps.log(`reading ${closure.missing.length} manifests of kept images`)
    await mapLimit(closure.missing, deps.manifestConcurrency ?? 8, async (digest) => {
      try {
        manifests.set(digest, (await deps.registry.manifest(deps.repository, digest)).json)
      } catch (error) {
        throw new Error(`cannot read manifest ${digest} of ${deps.registry.endpoint.host}/${deps.repository}, which a kept image may need: ${(error as Error).message}\nNothing was deleted: retention never deletes what it could not check.`)
      }
    })
  }

  const outcomes = new Map<number, Outcome>()
  const result = (stopped?: string, dryRun = request.dryRun): RetentionResult => ({
    owner, packageName: request.packageName, dryRun, plan: plan!, outcomes, stopped, manifestsRead: manifests.size,
  })
  if (request.dryRun) {
    for (const version of plan.deletions) outcomes.set(version.id, "would-delete")
    return result()
  }
  for (const version of plan.deletions) outcomes.set(version.id, "not-attempted")
  if (plan.deletions.length > request.maxDeletions) {
    throw new RetentionRefused(
      `${formatReport(result(undefined, true))}\n\n${plan.deletions.length} deletions planned, more than maxDeletions (${request.maxDeletions}): nothing was deleted. ` +
        `Check the plan above (--dry-run), then run again with --max-deletions ${plan.deletions.length} if it is right.`,
    )
  }

  const byId = new Map(versions.map((v) => [v.id, v]))
  // When GitHub refuses to delete a version, what it needs must stay too: its index children
  // and its referrers. If its manifest cannot be read, no untagged version is deleted at all.
  const protectedDigests = new Set<string>()
  let keepUntagged = false
  for (const [i, planned] of plan.deletions.entries()) {
    if (protectedDigests.has(planned.digest) || (keepUntagged && planned.tags.length === 0) || planned.tags.some((t) => protectedDigests.has(referrerTag(t)?.subject ?? ""))) {
      deps.log(`not deleting ${planned.digest}: a version GitHub refused to delete may need it`)
      continue
    }
    try {
      const outcome = await deletePackageVersion(deps.github, owner, request.packageName, byId.get(planned.id)!)
      outcomes.set(planned.id, outcome)
      deps.log(`${outcome === "deleted" ? "deleted" : "already gone"} ${i + 1}/${plan.deletions.length}: ${planned.digest} ${planned.tags.join(",") || "(untagged)"}`)
    } catch (error) {
      outcomes.set(planned.id, "failed")
      const message = (error as Error).message
      // A refusal of this one version (GitHub's 400s) does not stop the rest; anything else does.
      if (!(error instanceof PermissionError) && /answered 400/.test(message)) {
        deps.log(`could not delete ${planned.digest}: ${message}`)
        protectedDigests.add(planned.digest)
        try {
          for (const child of (await deps.registry.manifest(deps.repository, planned.digest)).json.manifests ?? []) protectedDigests.add(child.digest)
        } catch {
          keepUntagged = true
        }
        continue
      }
      throw new Error(`${formatReport(result(message))}\n\nDeletion stopped at ${planned.digest}: ${message}`)
    }
  }
  const failed = [...outcomes.values()].filter((o) => o === "failed").length
  if (failed > 0) throw new Error(formatReport(result(`${failed} deletion${failed === 1 ? "" : "s"} refused by GitHub`)))
  return result()
}

/** Checked arguments of `retain`. */
export interface RetainArgs {
  readonly owner: string
  readonly packageName: string
  readonly repositoryPath: string
  readonly policy: RetentionPolicy
  readonly dryRun: boolean
  readonly maxDeletions: number
  readonly githubApiUrl: string
  readonly registry: { scheme: "http" | "https"; host: string }
  readonly registryUsername: string
}

export function parseRetainArgs(args: { owner: string; image: string; keep: number; dryRun: boolean; maxDeletions: number; githubApiUrl: string; registry: string; graceMinutes: number; registryUsername?: string }): RetainArgs {
  const count = (name: string, value: number, expected: string) => check(Number.isInteger(value) && value >= 0, name, value, expected)
  count("keep", args.keep, "is not a count: expected a whole number of build images to keep, 0 or more (e.g. 30)")
  count("maxDeletions", args.maxDeletions, "is not a count: expected a whole number, 0 or more (e.g. 1000)")
  count("graceMinutes", args.graceMinutes, "is not a number of minutes: expected a whole number, 0 or more (e.g. 60)")
  check(/^https?:\/\/[^\s/?#]+(?:\/[^\s?#]*)?$/.test(args.githubApiUrl), "githubApiUrl", args.githubApiUrl, "is not a URL: expected https://api.github.com, or https://<host>/api/v3 for GitHub Enterprise Server")
  const owner = parseOwner(args.owner)
  const packageName = parseImageName(args.image)
  return {
    owner,
    packageName,
    repositoryPath: `${owner.toLowerCase()}/${packageName}`,
    policy: { keep: args.keep, graceMinutes: args.graceMinutes },
    dryRun: args.dryRun,
    maxDeletions: args.maxDeletions,
    githubApiUrl: args.githubApiUrl,
    registry: parseRegistry(args.registry),
    registryUsername: args.registryUsername ? parseUsername(args.registryUsername, "registryUsername") : owner,
  }
}

/** Builds the GitHub and registry clients for one token and runs retention with them. */
export function retainWithToken(args: RetainArgs, token: string, log: (line: string) => void, now: Date): Promise<RetentionResult> {
  return runRetention(
    {
      github: createGitHubClient({ token, baseUrl: args.githubApiUrl, log }),
      registry: new RegistryClient(args.registry, { username: args.registryUsername, password: token }),
      repository: args.repositoryPath,
      log,
    },
    { owner: args.owner, packageName: args.packageName, policy: args.policy, dryRun: args.dryRun, maxDeletions: args.maxDeletions, now },
  )
}
