/**
 * One run's share of a plan's deletions (`maxDeletions`): at most that many, oldest first, and
 * never a version without everything that holds it. A version is held by each planned deletion
 * that needs it: an index listing it (a platform or attestation manifest, a nested index), or
 * the image it is a signature or referrer of (a `sha256-<hex>[.sig|.att|.sbom]` tag, or an OCI 1.1
 * `subject`). A version goes in a run only together with every deletion that holds it, so what a
 * run leaves for the next one is whole: an image with its children and its signatures. Pure: the
 * adapter reads what `unread` asks for and calls again.
 *
 * The order within a run puts what holds before what is held (an index before its children, an
 * image before its signatures), so a run stopped half-way (a request budget, a refusal) never
 * leaves a broken image either.
 */
import { type ManifestJson } from "../oci/manifest.js"
import { newestFirst, type PlannedVersion, referrerTag } from "./versions.js"

export interface Batch {
  /** This run's deletions, in the order to make them. */
  readonly order: readonly PlannedVersion[]
  /** Planned deletions left for the next runs. */
  readonly left: readonly PlannedVersion[]
  /**
   * Tagged deletions whose manifest must be looked at before a batch can be chosen: only when
   * the plan holds more than `max` deletions (a tagged index that goes is otherwise never read).
   */
  readonly unread: readonly string[]
}

/** For each planned deletion, the planned deletions that hold it (known from manifests and tags). */
export function holders(
  deletions: readonly PlannedVersion[],
  manifests: ReadonlyMap<string, ManifestJson>,
): Map<string, Set<string>> {
  const going = new Set(deletions.map((d) => d.digest))
  const held = new Map<string, Set<string>>(deletions.map((d) => [d.digest, new Set<string>()]))
  const hold = (holder: string, version: string) => {
    if (holder !== version && going.has(holder) && going.has(version)) held.get(version)!.add(holder)
  }
  for (const version of deletions) {
    for (const child of manifests.get(version.digest)?.manifests ?? []) hold(version.digest, child.digest)
    for (const tag of version.tags) {
      const subject = referrerTag(tag)?.subject
      if (subject) hold(subject, version.digest)
    }
    const subject = manifests.get(version.digest)?.subject?.digest
    if (subject) hold(subject, version.digest)
  }
  return held
}

export function selectBatch(
  deletions: readonly PlannedVersion[],
  manifests: ReadonlyMap<string, ManifestJson>,
  max: number,
): Batch {
  let chosen: Set<string>
  if (deletions.length <= max) {
    chosen = new Set(deletions.map((d) => d.digest))
  } else {
    // Which tagged deletion holds which is written only in its own manifest.
    const unread = deletions.filter((d) => d.tags.length > 0 && !manifests.has(d.digest)).map((d) => d.digest)
    if (unread.length > 0) return { order: [], left: [], unread }
    const held = holders(deletions, manifests)
    chosen = new Set<string>()
    for (const version of [...deletions].sort((a, b) => -newestFirst(a, b))) {
      if (chosen.has(version.digest)) continue
      // The version and, transitively, everything that holds it.
      const group = new Set<string>()
      const stack = [version.digest]
      while (stack.length > 0) {
        const digest = stack.pop()!
        if (chosen.has(digest) || group.has(digest)) continue
        group.add(digest)
        stack.push(...held.get(digest)!)
      }
      // A group that does not fit waits; a smaller, younger one may still fit.
      if (chosen.size + group.size > max) continue
      for (const digest of group) chosen.add(digest)
    }
  }
  const order = holdersFirst(
    deletions.filter((d) => chosen.has(d.digest)),
    manifests,
  )
  return { order, left: deletions.filter((d) => !chosen.has(d.digest)), unread: [] }
}

/**
 * The deletions in the plan's order (tagged before untagged, newest first: an index is pushed
 * after its children, which covers the tagged indexes that were not read), moved where needed so
 * that every known holder comes first.
 */
export function holdersFirst(
  deletions: readonly PlannedVersion[],
  manifests: ReadonlyMap<string, ManifestJson>,
): PlannedVersion[] {
  const held = holders(deletions, manifests)
  const waiting = new Map(deletions.map((d) => [d.digest, held.get(d.digest)!.size]))
  const holds = new Map<string, string[]>()
  for (const [version, by] of held) for (const holder of by) holds.set(holder, [...(holds.get(holder) ?? []), version])
  const out: PlannedVersion[] = []
  const done = new Set<string>()
  let first = 0 // everything before it is done
  while (out.length < deletions.length) {
    while (done.has(deletions[first]!.digest)) first++
    // The first in the plan's order that nothing still holds (a cycle of subjects, which a
    // registry cannot store, would otherwise stop here: take the first left then).
    let next = deletions[first]!
    for (let i = first; i < deletions.length; i++) {
      const d = deletions[i]!
      if (!done.has(d.digest) && waiting.get(d.digest) === 0) {
        next = d
        break
      }
    }
    done.add(next.digest)
    out.push(next)
    for (const version of holds.get(next.digest) ?? []) waiting.set(version, waiting.get(version)! - 1)
  }
  return out
}
