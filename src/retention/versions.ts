/**
 * Retention's vocabulary: the policy, what a package version is to the planner (its kind, its
 * decision and the reason), the plan, and how tags and manifests name what they belong to.
 */
import { isChartVersionTag } from "../charts/reference.js"
import { BUILD_TAG, isVersionTag } from "../common/version.js"
import { INDEX_MEDIA_TYPES, type ManifestJson } from "../oci/manifest.js"

export interface RetentionPolicy {
  /** How many of the newest sha-only images to keep. */
  readonly keep: number
  /** Versions younger than this many minutes are never deleted (a push may be under way). */
  readonly graceMinutes: number
}

/** What a version is, from its tags alone. */
export type VersionKind =
  | "release" // carries a semantic version tag
  | "build" // every tag is sha-<hex>
  | "tagged" // carries some other tag (latest, main, ...)
  | "referrer" // only sha256-<hex>[.sig|.att|.sbom] tags: belongs to the digest it names
  | "untagged"

export type Decision = "keep" | "delete"

export interface PlannedVersion {
  readonly id: number
  readonly digest: string
  readonly tags: readonly string[]
  readonly createdAt: string
  readonly kind: VersionKind
  readonly decision: Decision
  readonly reason: string
  /** For a version kept because a kept one needs it: that version's digest (index or subject). */
  readonly parent?: string
}

/**
 * A tag the registry serves that GitHub's listing did not show (the listing is paged by offset:
 * a version deleted or pushed by someone else while it was read shifts the pages, and a version
 * can be served on neither page). What it names is kept, with everything it needs.
 */
export interface UnlistedTag {
  readonly tag: string
  readonly digest: string
}

export interface RetentionPlan {
  readonly policy: RetentionPolicy
  /** Tags in the registry that the listing did not show, kept with all they need. */
  readonly unlisted?: readonly UnlistedTag[]
  /** Every version, newest first. */
  readonly versions: readonly PlannedVersion[]
  /** The versions to delete, in the order to delete them: parents before children. */
  readonly deletions: readonly PlannedVersion[]
}

export const REFERRER_TAG = /^sha256-([0-9a-f]{64})(?:\.(sig|att|sbom))?$/

/** The digest a `sha256-<hex>[.sig|.att|.sbom]` tag names, with what it is. */
export function referrerTag(tag: string): { subject: string; what: string } | undefined {
  const match = REFERRER_TAG.exec(tag)
  if (!match) return undefined
  const what =
    match[2] === "sig"
      ? "signature"
      : match[2] === "att"
        ? "attestation"
        : match[2] === "sbom"
          ? "SBOM"
          : "referrers (signatures, attestations)"
  return { subject: `sha256:${match[1]}`, what }
}

export function classify(tags: readonly string[]): VersionKind {
  const plain = tags.filter((tag) => !REFERRER_TAG.test(tag))
  if (tags.length === 0) return "untagged"
  if (plain.length === 0) return "referrer"
  // A Helm chart's version with build metadata is tagged with `_` for `+` (1.0.0_build.5), as Helm pushes it.
  if (plain.some((tag) => isVersionTag(tag) || isChartVersionTag(tag))) return "release"
  if (plain.every((tag) => BUILD_TAG.test(tag))) return "build"
  return "tagged"
}

/** Newest first: created_at descending, then id descending. */
export function newestFirst(a: { createdAt: string; id: number }, b: { createdAt: string; id: number }): number {
  const byTime = Date.parse(b.createdAt) - Date.parse(a.createdAt)
  return byTime !== 0 ? byTime : b.id - a.id
}

export function isIndex(manifest: ManifestJson): boolean {
  return (
    (manifest.mediaType !== undefined && INDEX_MEDIA_TYPES.has(manifest.mediaType)) || Array.isArray(manifest.manifests)
  )
}

/** A person's word for an OCI 1.1 referrer: its artifact type when it says one. */
export function referrerWhat(manifest: ManifestJson): string {
  const type = manifest.artifactType ?? manifest.config?.mediaType
  return type && type !== "application/vnd.oci.image.config.v1+json" ? `referrer (${type})` : "referrer"
}
