/**
 * What must still be in the registry after a real run: every kept tag, every kept version
 * (index children, attestation manifests, signatures and referrers among them), and every child
 * of a kept index even when GitHub does not list it. Pure: the adapter resolves each expectation
 * and reports the ones that fail, with the tags they break.
 */
import { type PackageVersion } from "../github/packages.js"
import { type ManifestJson } from "../oci/manifest.js"
import { isIndex, type PlannedVersion, referrerTag, type RetentionPlan } from "./versions.js"

export interface Expectation {
  /** The tag or digest to resolve. */
  readonly reference: string
  /** A person's description of it: "tag v1.4.2", "platform manifest (linux/arm64) of kept v1.4.2 (sha256:…)". */
  readonly what: string
  /** The tags of the kept image that break when it is missing. */
  readonly breaks: readonly string[]
}

/** An expectation the registry did not meet, and how. */
export interface Broken extends Expectation {
  readonly problem: string
}

const short = (digest: string) => digest.slice(0, 19)
const plainTags = (v: PlannedVersion) => v.tags.filter((t) => !referrerTag(t))

/** Everything the registry must still serve after a run that kept what `plan` keeps. */
export function expectations(plan: RetentionPlan, manifests: ReadonlyMap<string, ManifestJson>): Expectation[] {
  const byDigest = new Map(plan.versions.map((v) => [v.digest, v]))
  const unlisted = new Map<string, string[]>()
  for (const u of plan.unlisted ?? []) unlisted.set(u.digest, [...(unlisted.get(u.digest) ?? []), u.tag])
  /** The tags a version is kept for: its own plain tags, else those of what it is kept for. */
  const breaks = (version: PlannedVersion): string[] => {
    const seen = new Set<string>()
    let v: PlannedVersion | undefined = version
    for (; v && !seen.has(v.digest); v = v.parent ? byDigest.get(v.parent) : undefined) {
      seen.add(v.digest)
      if (plainTags(v).length > 0) return plainTags(v)
      // Kept for a tag the listing did not show.
      if (v.parent && unlisted.has(v.parent)) return unlisted.get(v.parent)!
    }
    return []
  }
  const out: Expectation[] = []
  for (const version of plan.versions) {
    if (version.decision !== "keep") continue
    if (version.tags.length > 0) {
      for (const tag of version.tags) {
        out.push({
          reference: tag,
          what: `tag ${tag}${version.parent ? ` (${version.reason})` : ""}`,
          breaks: referrerTag(tag) ? breaks(version) : [tag],
        })
      }
    } else {
      out.push({
        reference: version.digest,
        what: `${version.reason} (${short(version.digest)})`,
        breaks: breaks(version),
      })
    }
    const manifest = manifests.get(version.digest)
    if (manifest && isIndex(manifest)) {
      for (const child of manifest.manifests ?? []) {
        if (byDigest.has(child.digest)) continue // listed: checked as a kept version
        const label = plainTags(version)[0] ?? version.tags[0] ?? short(version.digest)
        out.push({
          reference: child.digest,
          what: `child ${short(child.digest)} of kept ${label}, which GitHub does not list`,
          breaks: breaks(version),
        })
      }
    }
  }
  return out
}

/** One line of the validation failure list. */
export function describeBroken(broken: Broken): string {
  return `${broken.what} ${broken.problem}: breaks ${broken.breaks.length ? broken.breaks.join(", ") : "no tag (it belongs to an untagged version)"}`
}

/** For each digest, the referrers this run knew of: versions tagged `sha256-<hex>[…]` after it, and untagged ones whose manifest (read) names it as `subject`. */
export function knownReferrers(
  versions: readonly PackageVersion[],
  manifests: ReadonlyMap<string, ManifestJson>,
): Map<string, string[]> {
  const out = new Map<string, string[]>()
  const add = (subject: string, referrer: string) => out.set(subject, [...(out.get(subject) ?? []), referrer])
  for (const version of versions) {
    for (const tag of version.metadata?.container?.tags ?? []) {
      const subject = referrerTag(tag)?.subject
      if (subject) add(subject, version.name)
    }
    const subject = manifests.get(version.name)?.subject?.digest
    if (subject) add(subject, version.name)
  }
  return out
}

/**
 * What the registry's own tags need, whatever the plan said: for each digest a tag names now,
 * every child of its index (nested ones too, when their manifest is known) and every referrer
 * of it, or of one of its children, that the run knew of.
 */
export function tagExpectations(
  tagged: ReadonlyMap<string, readonly string[]>,
  manifests: ReadonlyMap<string, ManifestJson>,
  referrers: ReadonlyMap<string, readonly string[]>,
): Expectation[] {
  const out: Expectation[] = []
  for (const [digest, tags] of tagged) {
    const name = [...tags].sort()[0]!
    const seen = new Set<string>([digest])
    const walk = (parent: string, depth: number) => {
      for (const child of manifests.get(parent)?.manifests ?? []) {
        if (seen.has(child.digest) || depth > 8) continue
        seen.add(child.digest)
        const platform =
          child.platform && child.platform.os !== "unknown"
            ? ` (${[child.platform.os, child.platform.architecture].filter(Boolean).join("/")})`
            : ""
        out.push({
          reference: child.digest,
          what: `child ${short(child.digest)}${platform} of ${name}, which the registry lists,`,
          breaks: [...tags],
        })
        walk(child.digest, depth + 1)
      }
    }
    walk(digest, 0)
    // Referrers of the image, of its children, and of those referrers (a signature of an SBOM).
    const subjects = [...seen]
    for (let i = 0; i < subjects.length; i++) {
      const subject = subjects[i]!
      for (const referrer of referrers.get(subject) ?? []) {
        if (seen.has(referrer)) continue
        seen.add(referrer)
        subjects.push(referrer)
        out.push({
          reference: referrer,
          what: `referrer ${short(referrer)} of ${subject === digest ? name : `${short(subject)} in ${name}`}, which the registry lists,`,
          breaks: [...tags],
        })
      }
    }
  }
  return out
}
