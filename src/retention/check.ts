/**
 * Retention's check after a real run, independent of the plan: every kept tag and version, and
 * every tag the registry lists now with its index children and known referrers, resolved in the
 * registry. What does not resolve is broken. The expectations are pure (validate.ts).
 */
import { mapLimit } from "../common/concurrency.js"
import { type PackageVersion } from "../github/packages.js"
import { INDEX_MEDIA_TYPES, type ManifestJson } from "../oci/manifest.js"
import { type RetentionPlan } from "./versions.js"
import { type RetentionDeps } from "./inputs.js"
import { expectations, knownReferrers, tagExpectations, type Broken, type Expectation } from "./validate.js"

/**
 * Resolves what must still be in the registry after a real run: what the plan keeps, and,
 * independently of the plan, every tag the registry lists now, every child of its indexes and
 * every referrer of it this run knew of. What does not resolve is broken.
 */
export async function validate(
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
