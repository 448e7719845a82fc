/**
 * The retention planner: a pure function from (package versions, the manifests read so far,
 * policy, now) to a typed plan that gives every version its tags, a decision and the reason.
 * Nothing here reads the network or the clock; the adapters feed it.
 *
 * Policy (the module's API contract, see the README's retention section):
 * - images whose tags are all `sha-<hex>` build tags: the newest `keep` (by created_at, then id)
 *   are kept, older ones are deleted;
 * - images with a semantic version tag, or with any other tag (`latest`), are kept;
 * - what a kept image needs is kept: the children of a kept index (platform manifests, buildx
 *   attestation manifests), even when untagged or shared with a deleted index, and its
 *   signatures and attestations (`sha256-<hex>[.sig|.att|.sbom]` tags, and untagged manifests
 *   whose `subject` names it: OCI 1.1 referrers pushed without a fallback tag);
 * - untagged versions nothing kept refers to are deleted;
 * - the package's last version is never deleted (GitHub refuses).
 *
 * Which manifests are read, in rounds the adapter serves (`Closure.missing`):
 * 1. those of kept tagged versions, kept untagged roots (grace, the pinned last version) and
 *    nested indexes of kept ones, to find what they need;
 * 2. then those of every untagged version still to be deleted, to find a `subject` naming a
 *    kept image (ghcr.io has no referrers API: the manifest is the only place it is written).
 * Tagged versions to be deleted are never read.
 */
import { BUILD_TAG, isVersionTag } from "../common/version.js"
import { type PackageVersion } from "../github/packages.js"
import { INDEX_MEDIA_TYPES, type ManifestJson } from "../oci/manifest.js"
import {
  classify,
  type Decision,
  isIndex,
  newestFirst,
  type PlannedVersion,
  REFERRER_TAG,
  referrerTag,
  referrerWhat,
  type RetentionPlan,
  type RetentionPolicy,
  type UnlistedTag,
  type VersionKind,
} from "./versions.js"

const tagsOf = (version: PackageVersion): readonly string[] => version.metadata?.container?.tags ?? []

const short = (digest: string) => digest.replace(/^sha256:/, "").slice(0, 12)

/** A person's name for a version: its first tag, or its short digest. */
function label(version: { tags: readonly string[]; digest: string }): string {
  const plain = version.tags.filter((tag) => !REFERRER_TAG.test(tag))
  return plain[0] ?? version.tags[0] ?? short(version.digest)
}

interface Working {
  readonly id: number
  readonly digest: string
  readonly tags: readonly string[]
  readonly createdAt: string
  readonly kind: VersionKind
  decision?: Decision
  reason?: string
  parent?: string
  /** Kept by a rule of its own (tags, age, the pinned last version), not for another version. */
  root?: boolean
}

/** Why the planner asks for manifests: to see what kept versions need, or to look for a subject. */
export type ReadPurpose = "kept" | "subjects"

export interface Closure {
  /** The plan, when every manifest it needs has been read. */
  readonly plan?: RetentionPlan
  /** Digests whose manifests must be read before the plan is final. */
  readonly missing: readonly string[]
  /** What the missing manifests are for (absent with the plan). */
  readonly purpose?: ReadPurpose
}

/**
 * Plans retention. Returns the digests still to read when the decision depends on manifests
 * not yet in `manifests` (the adapter reads them and calls again); otherwise the plan.
 */
export function planRetention(
  versions: readonly PackageVersion[],
  manifests: ReadonlyMap<string, ManifestJson>,
  policy: RetentionPolicy,
  now: Date,
  options: { pinned?: string; unlisted?: readonly UnlistedTag[] } = {},
): Closure {
  const { pinned, unlisted = [] } = options
  const all: Working[] = versions
    .map((v) => ({
      id: v.id,
      digest: v.name,
      tags: [...tagsOf(v)],
      createdAt: v.created_at,
      kind: classify(tagsOf(v)),
    }))
    .sort(newestFirst)
  const byDigest = new Map<string, Working>()
  for (const version of all) byDigest.set(version.digest, version)
  // Unlisted tags name versions the listing missed (or, when a tag was added meanwhile, a listed one).
  const unlistedTags = new Map<string, string[]>()
  for (const { tag, digest } of unlisted) unlistedTags.set(digest, [...(unlistedTags.get(digest) ?? []), tag])

  // 1. Roots: from tags, from age, and the pinned last version.
  const graceMs = policy.graceMinutes * 60_000
  let builds = 0
  for (const version of all) {
    if (version.kind === "release") keep(version, `carries version tag ${version.tags.find(isVersionTag)}`)
    else if (version.kind === "tagged")
      keep(
        version,
        `carries tag ${version.tags.find((t) => !BUILD_TAG.test(t) && !REFERRER_TAG.test(t))}, which is neither a version nor a build tag`,
      )
    else if (version.kind === "build" && ++builds <= policy.keep)
      keep(version, `build image ${builds} of the newest ${policy.keep}`)
    else if (version.digest === pinned)
      keep(version, "the package's last version: GitHub refuses to delete it (delete the package instead)")
    else if (graceMs > 0 && now.getTime() - Date.parse(version.createdAt) < graceMs)
      keep(version, `younger than ${policy.graceMinutes} min: may belong to a push still under way`)
    if (version.decision === "keep") version.root = true
  }
  const missed: Working[] = []
  for (const [digest, tags] of unlistedTags) {
    const why = `the registry serves tag ${tags.join(", ")}, which GitHub's listing did not show (changed while it was read): kept with all it needs`
    const listed = byDigest.get(digest)
    if (listed) {
      keep(listed, why)
      listed.root = true
      continue
    }
    // Not in the listing at all: a stand-in, kept, never reported as a version of its own.
    const stand: Working = {
      id: 0,
      digest,
      tags,
      createdAt: "",
      kind: classify(tags),
      decision: "keep",
      reason: why,
      root: true,
    }
    missed.push(stand)
    byDigest.set(digest, stand)
  }
  all.push(...missed)

  // Nothing would be deleted by tags alone? Then no manifest needs reading.
  const candidates = all.filter((v) => v.decision === undefined)
  const missing = new Set<string>()
  if (candidates.length > 0) {
    // 2. What kept versions need, to a fixed point: index children, then referrers of kept digests.
    const expanded = new Set<string>()
    for (let changed = true; changed;) {
      changed = false
      for (const version of all) {
        if (version.decision !== "keep" || expanded.has(version.digest)) continue
        const manifest = manifests.get(version.digest)
        if (!manifest) {
          // A version kept for another one is described by that one's descriptor (a nested
          // index is asked for where its parent is read); anything else may be an index.
          if (version.kind !== "untagged" || version.root) missing.add(version.digest)
          continue
        }
        expanded.add(version.digest)
        if (!isIndex(manifest)) continue
        for (const child of manifest.manifests ?? []) {
          const target = byDigest.get(child.digest)
          if (!target || target.decision === "keep") continue
          if (version.kind === "referrer") {
            // A referrers index (the `sha256-<hex>` fallback tag of the OCI 1.1 referrers
            // scheme) lists the referrers of the image its tag names, not platforms.
            const subject = version.tags.map(referrerTag).find((r) => r !== undefined)!.subject
            const owner = byDigest.get(subject)
            const what = child.artifactType ? `referrer (${child.artifactType})` : "referrer"
            keep(
              target,
              `${what} of ${owner ? `kept ${label(owner)}` : short(subject)}, listed in its referrers index ${version.tags[0]!.slice(0, 19)}`,
              version.digest,
            )
          } else {
            const reference =
              child.annotations?.["vnd.docker.reference.type"] === "attestation-manifest"
                ? "attestation manifest"
                : child.platform?.os === "unknown"
                  ? "attestation manifest"
                  : `platform manifest${child.platform ? ` (${[child.platform.os, child.platform.architecture].filter(Boolean).join("/")})` : ""}`
            keep(target, `${reference} of kept ${label(version)}`, version.digest)
          }
          changed = true
          // A child index (nested) needs its own manifest read.
          if (child.mediaType && INDEX_MEDIA_TYPES.has(child.mediaType) && !manifests.has(child.digest))
            missing.add(child.digest)
        }
      }
      for (const version of all) {
        if (version.decision !== undefined || version.kind !== "referrer") continue
        const subject = version.tags.map(referrerTag).find((r) => r && byDigest.get(r.subject)?.decision === "keep")
        if (subject) {
          keep(version, `${subject.what} of kept ${label(byDigest.get(subject.subject)!)}`, subject.subject)
          changed = true
        }
      }
      // An untagged version whose manifest (read) names a kept subject belongs to it.
      for (const version of all) {
        if (version.decision !== undefined || version.kind !== "untagged") continue
        const manifest = manifests.get(version.digest)
        const subject = manifest?.subject?.digest
        if (subject && byDigest.get(subject)?.decision === "keep") {
          keep(version, `${referrerWhat(manifest!)} of kept ${label(byDigest.get(subject)!)}`, subject)
          changed = true
        }
      }
    }
  }
  if (missing.size > 0) return { missing: [...missing], purpose: "kept" }

  // Untagged versions about to be deleted may be OCI 1.1 referrers of a kept image: their own
  // manifest is the only place that says so. Read each one before deciding.
  const unread = all
    .filter((v) => v.decision === undefined && v.kind === "untagged" && !manifests.has(v.digest))
    .map((v) => v.digest)
  if (unread.length > 0) return { missing: unread, purpose: "subjects" }

  // 3. Everything else goes.
  for (const version of all) {
    if (version.decision !== undefined) continue
    if (version.kind === "build") del(version, `build image beyond the newest ${policy.keep}`)
    else if (version.kind === "referrer") {
      const subjects = version.tags.map(referrerTag).filter((r) => r !== undefined)
      const present = subjects.find((r) => byDigest.has(r.subject))
      del(
        version,
        present
          ? `${present.what} of deleted ${label(byDigest.get(present.subject)!)}`
          : `${subjects[0]!.what} of ${short(subjects[0]!.subject)}, which is not in the package`,
      )
    } else {
      const manifest = manifests.get(version.digest)
      const subject = manifest?.subject?.digest
      if (subject) {
        const target = byDigest.get(subject)
        del(
          version,
          target
            ? `${referrerWhat(manifest!)} of deleted ${label(target)}`
            : `${referrerWhat(manifest!)} of ${short(subject)}, which is not in the package`,
        )
      } else del(version, "untagged, and no kept image refers to it")
    }
  }
  // 4. GitHub refuses to delete a package's last version: keep the newest image, with what it needs.
  if (all.length > 0 && all.every((v) => v.decision === "delete") && pinned === undefined) {
    const newest = all.find((v) => v.kind !== "untagged" && v.kind !== "referrer") ?? all[0]!
    return planRetention(versions, manifests, policy, now, { pinned: newest.digest, unlisted })
  }

  const planned: PlannedVersion[] = all
    .filter((v) => !missed.includes(v))
    .map((v) => ({
      id: v.id,
      digest: v.digest,
      tags: v.tags,
      createdAt: v.createdAt,
      kind: v.kind,
      decision: v.decision!,
      reason: v.reason!,
      ...(v.parent ? { parent: v.parent } : {}),
    }))
  // Tagged versions (images, indexes) before untagged ones (their children), newest first
  // within each: a parent is pushed after its children, so it is deleted before them.
  const deletions = planned
    .filter((v) => v.decision === "delete")
    .sort((a, b) => Number(a.tags.length === 0) - Number(b.tags.length === 0) || newestFirst(a, b))
  return { plan: { policy, ...(unlisted.length > 0 ? { unlisted } : {}), versions: planned, deletions }, missing: [] }

  function keep(version: Working, reason: string, parent?: string) {
    version.decision = "keep"
    version.reason = reason
    version.parent = parent
  }
  function del(version: Working, reason: string) {
    version.decision = "delete"
    version.reason = reason
  }
}
