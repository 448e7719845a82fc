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
 * every referrer of it this run knew of. What a read and a fresh read both find missing is broken;
 * what the registry would not answer (after the client's retries) could not be verified, which
 * is never called broken.
 */
export async function validate(
  deps: RetentionDeps,
  plan: RetentionPlan,
  manifests: ReadonlyMap<string, ManifestJson>,
  versions: readonly PackageVersion[],
): Promise<{ checked: number; broken: Broken[]; unverified: Broken[] }> {
  const where = `${deps.registry.endpoint.host}/${deps.repository}`
  const limit = deps.manifestConcurrency ?? 8
  const broken: Broken[] = []
  const unverified: Broken[] = []
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
    unverified.push({
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
    else
      unverified.push({
        reference: tag,
        what: `tag ${tag}, which the registry lists, and what it holds`,
        breaks: [tag],
        problem: `could not be checked in ${where} (${found.error})`,
      })
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
      } catch (error) {
        // Not readable now: its children cannot be listed (the tag itself is checked above).
        unverified.push({
          reference: digest,
          what: `the children of index ${digest.slice(0, 19)}`,
          breaks: [],
          problem: `could not be listed: its manifest could not be read from ${where} (${(error as Error).message})`,
        })
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
    if (found.error) {
      unverified.push({ ...expectation, problem: `could not be checked in ${where} (${found.error})` })
      return
    }
    if (found.digest) return
    // Missing: only a fresh read that finds it missing too makes it broken.
    const again = await deps.registry.resolve(deps.repository, expectation.reference).then(
      (h) => ({ digest: h?.digest, error: undefined }),
      (error: unknown) => ({ digest: undefined, error: (error as Error).message }),
    )
    if (again.error)
      unverified.push({
        ...expectation,
        problem: `was missing once, then could not be read again from ${where} (${again.error})`,
      })
    else if (!again.digest) broken.push({ ...expectation, problem: `is missing from ${where}` })
  })
  // In the plan's order, then the registry's, so the list reads like the table.
  const order = new Map(expected.map((e, i) => [e.reference, i]))
  const byOrder = (a: Broken, b: Broken) => (order.get(a.reference) ?? -1) - (order.get(b.reference) ?? -1)
  return { checked: expected.length, broken: broken.sort(byOrder), unverified: unverified.sort(byOrder) }
}
