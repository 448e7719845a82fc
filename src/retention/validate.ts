/**
 * What must still be in the registry after a real run: every kept tag, every kept version
 * (index children, attestation manifests, signatures and referrers among them), and every child
 * of a kept index even when GitHub does not list it. Pure: the adapter resolves each expectation
 * and reports the ones that fail, with the tags they break.
 */
import type { ManifestJson } from "../registry.js"
import { isIndex, referrerTag, type PlannedVersion, type RetentionPlan } from "./plan.js"

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
  /** The tags a version is kept for: its own plain tags, else those of what it is kept for. */
  const breaks = (version: PlannedVersion): string[] => {
    const seen = new Set<string>()
    for (let v: PlannedVersion | undefined = version; v && !seen.has(v.digest); v = v.parent ? byDigest.get(v.parent) : undefined) {
      seen.add(v.digest)
      if (plainTags(v).length > 0) return plainTags(v)
    }
    return []
  }
  const out: Expectation[] = []
  for (const version of plan.versions) {
    if (version.decision !== "keep") continue
    if (version.tags.length > 0) {
      for (const tag of version.tags) {
        out.push({ reference: tag, what: `tag ${tag}${version.parent ? ` (${version.reason})` : ""}`, breaks: referrerTag(tag) ? breaks(version) : [tag] })
      }
    } else {
      out.push({ reference: version.digest, what: `${version.reason} (${short(version.digest)})`, breaks: breaks(version) })
    }
    const manifest = manifests.get(version.digest)
    if (manifest && isIndex(manifest)) {
      for (const child of manifest.manifests ?? []) {
        if (byDigest.has(child.digest)) continue // listed: checked as a kept version
        const label = plainTags(version)[0] ?? version.tags[0] ?? short(version.digest)
        out.push({ reference: child.digest, what: `child ${short(child.digest)} of kept ${label}, which GitHub does not list`, breaks: breaks(version) })
      }
    }
  }
  return out
}

/** One line of the validation failure list. */
export function describeBroken(broken: Broken): string {
  return `${broken.what} ${broken.problem}: breaks ${broken.breaks.length ? broken.breaks.join(", ") : "no tag (it belongs to an untagged version)"}`
}
