/**
 * Retention's reading: the package's every version (GitHub's listing), the registry's own tags (a
 * second source: a tag the listing did not show is kept with everything it needs) and the
 * manifests the planner asks for, until it can decide. Fails closed: a page, a tag list or a
 * manifest that cannot be read stops the run before any deletion.
 */
import { mapLimit } from "../common/concurrency.js"
import { Steps } from "../common/steps.js"
import { describePackage, listPackageVersions, type PackageOwner, type PackageVersion } from "../github/packages.js"
import { type ManifestJson, RegistryError } from "../oci/manifest.js"
import { planRetention } from "./plan.js"
import { type RetentionPlan, type RetentionPolicy, type UnlistedTag } from "./versions.js"
import { type RetentionDeps } from "./inputs.js"

/** Retention's steps, as spans and records (the vocabulary of common/steps.ts, for retention). */
export const RETENTION_STEP = {
  list: "list versions",
  registryTags: "registry tags",
  plan: "plan",
  readManifests: "read manifests",
  delete: "delete",
  check: "check",
} as const

/** What a run read, and the plan it made of it. */
export interface PackageRead {
  readonly versions: readonly PackageVersion[]
  /** Every manifest read, by digest. */
  readonly manifests: Map<string, ManifestJson>
  /** Manifest reads by purpose: of kept images (what they need), of untagged versions (a subject?). */
  readonly reads: { kept: number; subjects: number }
  readonly plan: RetentionPlan
}

/** Lists the package, reads the registry's tags and the manifests the planner needs, and plans. */
export async function readAndPlan(
  deps: RetentionDeps,
  owner: PackageOwner,
  request: { readonly packageName: string; readonly policy: RetentionPolicy; readonly now: Date },
): Promise<PackageRead> {
  const where = describePackage(owner, request.packageName)
  const registryWhere = `${deps.registry.endpoint.host}/${deps.repository}`
  const steps = deps.steps ?? new Steps()
  const pkg = { "github.package": `${owner.login}/${request.packageName}` }
  deps.log(`listing ${where}`)
  let versions: PackageVersion[]
  try {
    versions = await steps.run(
      RETENTION_STEP.list,
      {
        attributes: pkg,
        result: (all) => ({ detail: `${all.length} versions`, attributes: { "github.versions": all.length } }),
      },
      () => listPackageVersions(deps.github, owner, request.packageName, { steps }),
    )
  } catch (error) {
    throw new Error(`${(error as Error).message}\nNothing was deleted: retention never decides on a partial listing.`)
  }
  deps.log(`${versions.length} versions listed`)

  const manifests = new Map<string, ManifestJson>()
  const reads = { kept: 0, subjects: 0 }
  // The registry's own tags, read after the listing: a tag the listing did not show (a version
  // served on no page because someone deleted or pushed one while it was read) is kept, with
  // everything it needs.
  const unlisted = await steps.run(
    RETENTION_STEP.registryTags,
    {
      attributes: pkg,
      result: (found) => ({
        detail: `${found.length} not in GitHub's listing`,
        attributes: { "retention.unlisted": found.length },
      }),
    },
    () => unlistedTags(deps, versions, manifests, reads),
  )
  if (unlisted.length > 0)
    deps.log(
      `${unlisted.length} tag${unlisted.length === 1 ? "" : "s"} in ${registryWhere} not in GitHub's listing (${unlisted.map((u) => u.tag).join(", ")}): kept, with all they need`,
    )
  const plan = await steps.run(
    RETENTION_STEP.plan,
    { attributes: { ...pkg, "retention.keep": request.policy.keep }, result: planCounts },
    () => closeOver(deps, where, registryWhere, versions, manifests, reads, { ...request, unlisted }, steps),
  )
  return { versions, manifests, reads, plan }
}

/** The plan's counts, for its step. */
const planCounts = (plan: RetentionPlan) => {
  const kept = plan.versions.filter((v) => v.decision === "keep").length
  return {
    detail: `${plan.versions.length} versions: ${kept} kept, ${plan.deletions.length} to delete`,
    attributes: {
      "retention.versions": plan.versions.length,
      "retention.kept": kept,
      "retention.deletions": plan.deletions.length,
    },
  }
}

/** Plans, reading the manifests the planner asks for (one step per round), until it can decide. */
async function closeOver(
  deps: RetentionDeps,
  where: string,
  registryWhere: string,
  versions: readonly PackageVersion[],
  manifests: Map<string, ManifestJson>,
  reads: { kept: number; subjects: number },
  request: { readonly policy: RetentionPolicy; readonly now: Date; readonly unlisted: readonly UnlistedTag[] },
  steps: Steps,
): Promise<RetentionPlan> {
  for (let round = 0; ; round++) {
    const closure = planRetention(versions, manifests, request.policy, request.now, { unlisted: request.unlisted })
    if (closure.plan) return closure.plan
    if (round > 32) throw new Error(`manifests of ${where} nest deeper than 32 levels: nothing was deleted`)
    const forSubjects = closure.purpose === "subjects"
    deps.log(
      forSubjects
        ? `reading ${closure.missing.length} manifests of untagged versions, for a subject naming a kept image`
        : `reading ${closure.missing.length} manifests of kept images`,
    )
    const read = () =>
      mapLimit(closure.missing, deps.manifestConcurrency ?? 8, async (digest) => {
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
    await steps.run(
      RETENTION_STEP.readManifests,
      { attributes: { "retention.purpose": closure.purpose ?? "kept", "retention.manifests": closure.missing.length } },
      read,
    )
  }
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
