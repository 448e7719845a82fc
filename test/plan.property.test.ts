/**
 * Property tests for the code that decides deletions. Random packages from a seeded generator
 * (multi-platform indexes, nested indexes, shared children, tags moved away, cosign and sigstore
 * tags, OCI 1.1 referrers with a `subject`, chains of referrers, referrers of what is not in the
 * package, young versions), the written policy as a small independent oracle, and zero unsafe
 * decisions: the planner keeps exactly what the oracle keeps, reads no manifest of a tagged
 * version it deletes, and deletes a tagged index before its children. Then reviewed plans: after
 * random changes to the package, a plan applies only what it lists, unchanged, and today's plan
 * still deletes.
 */
import { createHash } from "node:crypto"

import { describe, expect, test } from "vitest"

import { type PackageVersion } from "../src/github/packages.js"
import { type ManifestJson } from "../src/oci/manifest.js"
import { selectBatch } from "../src/retention/batch.js"
import { planRetention } from "../src/retention/plan.js"
import { newestFirst, type RetentionPlan, type RetentionPolicy } from "../src/retention/versions.js"
import { reportObject } from "../src/retention/report.js"
import { fingerprint } from "../src/retention/fingerprint.js"
import { parsePlanFile, selectReviewed } from "../src/retention/reviewed.js"

const INDEX = "application/vnd.oci.image.index.v1+json"
const MANIFEST = "application/vnd.oci.image.manifest.v1+json"
const digest = (seed: string) => `sha256:${createHash("sha256").update(seed).digest("hex")}`

/** mulberry32: a small seeded generator, so a failing case can be replayed from its seed. */
function rng(seed: number) {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return {
    next,
    chance: (p: number) => next() < p,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]!,
  }
}

interface Generated {
  versions: PackageVersion[]
  manifests: Map<string, ManifestJson>
  policy: RetentionPolicy
  now: Date
}

/** A random package as a CD pipeline, people and signing tools leave it. */
function generate(seed: number): Generated {
  const r = rng(seed)
  const versions: PackageVersion[] = []
  const manifests = new Map<string, ManifestJson>()
  let clock = Date.parse("2026-01-01T00:00:00Z")
  let id = 100
  let n = 0
  const add = (d: string, tags: string[], manifest: ManifestJson) => {
    clock += 60_000 * (1 + r.int(30))
    versions.push({ id: ++id, name: d, created_at: new Date(clock).toISOString(), metadata: { container: { tags } } })
    manifests.set(d, manifest)
    return d
  }
  const image = (subject?: string) =>
    add(digest(`${seed} ${++n}`), [], {
      mediaType: MANIFEST,
      ...(subject ? { subject: { digest: subject }, artifactType: "application/example" } : {}),
    })
  const children: string[] = []
  const index = (tags: string[], depth = 0): string => {
    const kids: { digest: string; mediaType: string }[] = []
    for (let k = 0, count = 1 + r.int(3); k < count; k++) {
      if (children.length > 0 && r.chance(0.1))
        kids.push({ digest: r.pick(children), mediaType: MANIFEST }) // shared with an earlier index
      else if (depth === 0 && r.chance(0.08))
        kids.push({ digest: index([], 1), mediaType: INDEX }) // nested
      else {
        const child = image()
        children.push(child)
        kids.push({ digest: child, mediaType: MANIFEST })
      }
    }
    const d = digest(`${seed} ${++n} index`)
    add(d, tags, {
      mediaType: INDEX,
      manifests: kids.map((k) => ({ ...k, platform: { os: "linux", architecture: "amd64" } })),
    })
    return d
  }
  const sha = () =>
    `sha-${createHash("sha1")
      .update(`${seed} ${++n}`)
      .digest("hex")
      .slice(0, 7 + r.int(3))}`
  for (let i = 0, count = 5 + r.int(30); i < count; i++) {
    const roll = r.next()
    const multi = r.chance(0.35)
    const tags =
      roll < 0.1
        ? [`v1.${i}.0`, ...(r.chance(0.5) ? [sha()] : [])]
        : roll < 0.15
          ? ["latest"]
          : roll < 0.75
            ? [sha()]
            : []
    const made = multi ? index(tags) : add(digest(`${seed} ${++n} image`), tags, { mediaType: MANIFEST })
    // A child that also carries a build tag of its own (tagged by hand, or a moved tag).
    if (multi && r.chance(0.05)) {
      const child = (manifests.get(made)!.manifests ?? [])[0]!.digest
      const version = versions.find((v) => v.name === child)!
      ;(version.metadata!.container!.tags as string[]).push(sha())
    }
    // Signatures and attestations, of every style, of this image or of anything earlier.
    const subject = r.chance(0.7) ? made : r.pick(versions).name
    if (r.chance(0.15))
      add(digest(`${seed} ${++n} sig`), [`${subject.replace(":", "-")}${r.pick([".sig", ".att", ".sbom", ""])}`], {
        mediaType: MANIFEST,
      })
    if (r.chance(0.03))
      add(digest(`${seed} ${++n} stray sig`), [`${digest(`absent ${n}`).replace(":", "-")}.sig`], {
        mediaType: MANIFEST,
      })
    if (r.chance(0.2)) image(subject)
    if (r.chance(0.08)) image(r.pick(versions).name) // a referrer of a referrer, a child, anything
    if (r.chance(0.04)) image(digest(`absent ${++n}`)) // its subject is not in the package
    if (r.chance(0.1)) image() // an orphan
  }
  const policy = { keep: r.int(8), graceMinutes: r.chance(0.3) ? 60 : 0 }
  const now = new Date(clock + (r.chance(0.3) ? 30 * 60_000 : 2 * 86_400_000))
  // The API lists versions in no particular order.
  for (let i = versions.length - 1; i > 0; i--) {
    const j = r.int(i + 1)
    ;[versions[i], versions[j]] = [versions[j]!, versions[i]!]
  }
  return { versions, manifests, policy, now }
}

/** The written policy (README, "The policy, exactly"), independently. */
function oracle({ versions, manifests, policy, now }: Generated): Set<string> {
  const REFERRER = /^sha256-([0-9a-f]{64})(\.(sig|att|sbom))?$/
  const tagsOf = (v: PackageVersion) => [...(v.metadata?.container?.tags ?? [])]
  const kindOf = (tags: string[]) => {
    const plain = tags.filter((t) => !REFERRER.test(t))
    if (tags.length === 0) return "untagged"
    if (plain.length === 0) return "referrer"
    if (plain.some((t) => /^v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(t))) return "release"
    if (plain.every((t) => /^sha-[0-9a-f]{7,40}$/.test(t))) return "build"
    return "tagged"
  }
  const sorted = [...versions].sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at) || b.id - a.id)
  const inPackage = new Set(sorted.map((v) => v.name))
  const closure = (roots: string[]) => {
    const kept = new Set(roots)
    for (let grew = true; grew;) {
      grew = false
      const add = (d: string) => {
        if (inPackage.has(d) && !kept.has(d)) {
          kept.add(d)
          grew = true
        }
      }
      for (const d of [...kept]) for (const child of manifests.get(d)?.manifests ?? []) add(child.digest)
      for (const v of sorted) {
        const tags = tagsOf(v)
        const kind = kindOf(tags)
        if (kind === "referrer" && tags.some((t) => kept.has(`sha256:${REFERRER.exec(t)![1]}`))) add(v.name)
        if (kind === "untagged" && kept.has(manifests.get(v.name)?.subject?.digest ?? "")) add(v.name)
      }
    }
    return kept
  }
  const roots: string[] = []
  let builds = 0
  for (const v of sorted) {
    const kind = kindOf(tagsOf(v))
    const young = policy.graceMinutes > 0 && now.getTime() - Date.parse(v.created_at) < policy.graceMinutes * 60_000
    if (kind === "release" || kind === "tagged" || (kind === "build" && ++builds <= policy.keep) || young)
      roots.push(v.name)
  }
  const kept = closure(roots)
  if (kept.size === 0 && sorted.length > 0) {
    const newest = sorted.find((v) => !["untagged", "referrer"].includes(kindOf(tagsOf(v)))) ?? sorted[0]!
    return closure([newest.name])
  }
  return kept
}

/** Plans as the adapter does: serving each round of reads from the generated manifests. */
function planWithReads(g: Generated): { plan: RetentionPlan; read: string[] } {
  const known = new Map<string, ManifestJson>()
  const read: string[] = []
  for (let round = 0; round < 40; round++) {
    const closure = planRetention(g.versions, known, g.policy, g.now)
    if (closure.plan) return { plan: closure.plan, read }
    for (const d of closure.missing) {
      expect(known.has(d), `asked twice for ${d}`).toBe(false)
      known.set(d, g.manifests.get(d)!)
      read.push(d)
    }
  }
  throw new Error("the planner did not converge")
}

const CASES = 400

describe("the planner against the written policy", () => {
  test(`${CASES} random packages: zero unsafe decisions, nothing kept needlessly`, () => {
    let deletions = 0
    let subjectKept = 0
    for (let seed = 1; seed <= CASES; seed++) {
      const g = generate(seed)
      const { plan, read } = planWithReads(g)
      const expected = oracle(g)
      const kept = new Set(plan.versions.filter((v) => v.decision === "keep").map((v) => v.digest))
      const unsafe = [...expected].filter((d) => !kept.has(d))
      const needless = [...kept].filter((d) => !expected.has(d))
      expect({ seed, unsafe, needless }).toEqual({ seed, unsafe: [], needless: [] })
      expect(plan.deletions.map((v) => v.digest).sort()).toEqual(
        plan.versions
          .filter((v) => v.decision === "delete")
          .map((v) => v.digest)
          .sort(),
      )
      for (const v of plan.versions) expect(v.reason, `seed ${seed}`).toMatch(/\S/)

      // A tagged version that goes is never read (every manifest GET counts as a download).
      const tagged = new Set(plan.deletions.filter((v) => v.tags.length > 0).map((v) => v.digest))
      expect(
        read.filter((d) => tagged.has(d)),
        `seed ${seed}`,
      ).toEqual([])
      // Every untagged version that goes was read first: it might have named a kept image.
      const readSet = new Set(read)
      expect(
        plan.deletions.filter((v) => v.tags.length === 0 && !readSet.has(v.digest)).map((v) => v.digest),
        `seed ${seed}`,
      ).toEqual([])

      // A tagged index goes before its children.
      const position = new Map(plan.deletions.map((v, i) => [v.digest, i]))
      for (const parent of plan.deletions.filter((v) => v.tags.length > 0)) {
        for (const child of g.manifests.get(parent.digest)?.manifests ?? []) {
          if (position.has(child.digest))
            expect(position.get(parent.digest)!, `seed ${seed}: ${parent.digest} before ${child.digest}`).toBeLessThan(
              position.get(child.digest)!,
            )
        }
      }
      deletions += plan.deletions.length
      subjectKept += plan.versions.filter(
        (v) => v.decision === "keep" && v.tags.length === 0 && g.manifests.get(v.digest)?.subject,
      ).length
    }
    // The generator really exercises what it claims to.
    expect(deletions).toBeGreaterThan(CASES * 3)
    expect(subjectKept).toBeGreaterThan(CASES / 4)
  })
})

describe("one run's share of the deletions (maxDeletions)", () => {
  test(`${CASES} random packages, random caps: at most the cap, oldest first, nothing left held by what went`, () => {
    let cut = 0
    for (let seed = 1; seed <= CASES; seed++) {
      const g = generate(seed)
      const { plan, read } = planWithReads(g)
      const r = rng(seed * 104_729)
      const max = r.int(plan.deletions.length + 2)
      // The adapter's protocol: the manifests the plan read, then what the batch asks for.
      const known = new Map(read.map((d) => [d, g.manifests.get(d)!]))
      let batch = selectBatch(plan.deletions, known, max)
      if (batch.unread.length > 0) {
        expect(plan.deletions.length, `seed ${seed}: reads only when the cap cuts`).toBeGreaterThan(max)
        for (const d of batch.unread) known.set(d, g.manifests.get(d)!)
        batch = selectBatch(plan.deletions, known, max)
      }
      expect(batch.unread).toEqual([])
      expect(batch.order.length, `seed ${seed}`).toBeLessThanOrEqual(max)
      expect([...batch.order, ...batch.left].map((v) => v.id).sort()).toEqual(plan.deletions.map((v) => v.id).sort())
      if (batch.left.length > 0) cut++

      // The truth, from the generator: who holds whom (index -> child, subject -> referrer).
      const going = new Set(plan.deletions.map((v) => v.digest))
      const holders = new Map<string, string[]>()
      const hold = (holder: string, held: string) => {
        if (going.has(holder) && going.has(held) && holder !== held)
          holders.set(held, [...(holders.get(held) ?? []), holder])
      }
      for (const v of plan.deletions) {
        for (const child of g.manifests.get(v.digest)?.manifests ?? []) hold(v.digest, child.digest)
        const subject = g.manifests.get(v.digest)?.subject?.digest
        if (subject) hold(subject, v.digest)
        for (const tag of v.tags) {
          const m = /^sha256-([0-9a-f]{64})/.exec(tag)
          if (m) hold(`sha256:${m[1]}`, v.digest)
        }
      }
      // Nothing deleted is held by a version left behind, and every holder goes first.
      const position = new Map(batch.order.map((v, i) => [v.digest, i]))
      for (const v of batch.order) {
        for (const holder of holders.get(v.digest) ?? []) {
          expect(position.has(holder), `seed ${seed}: ${v.digest} went without ${holder}, which holds it`).toBe(true)
          expect(position.get(holder)!, `seed ${seed}: ${holder} before ${v.digest}`).toBeLessThan(
            position.get(v.digest)!,
          )
        }
      }
      // Oldest first: a version left behind did not fit with what holds it (nor would anything older).
      if (batch.left.length > 0) {
        const taken = new Set(batch.order.map((v) => v.digest))
        const youngestTaken = batch.order.reduce<(typeof batch.order)[number] | undefined>(
          (y, v) => (y === undefined || newestFirst(v, y) < 0 ? v : y),
          undefined,
        )
        for (const v of batch.left) {
          if (youngestTaken && newestFirst(v, youngestTaken) <= 0) continue // younger than all taken: fine
          const group = new Set<string>([v.digest])
          for (const d of group) for (const h of holders.get(d) ?? []) if (!taken.has(h)) group.add(h)
          expect(taken.size + group.size, `seed ${seed}: ${v.digest} was left though it fitted`).toBeGreaterThan(max)
        }
      }
    }
    expect(cut).toBeGreaterThan(CASES / 4)
  })
})

describe("reviewed plans after random changes", () => {
  test(`${CASES / 2} random packages changed after review: only unchanged, still-deleted, planned versions are approved`, () => {
    let approvedTotal = 0
    let skippedTotal = 0
    for (let seed = 1; seed <= CASES / 2; seed++) {
      const g = generate(seed)
      const reviewed = planWithReads(g).plan
      const owner = { kind: "org" as const, login: "Meetinity" }
      const result = {
        owner,
        packageName: "api",
        dryRun: true,
        plan: reviewed,
        outcomes: new Map(),
        manifestsRead: 0,
        manifestReads: { kept: 0, subjects: 0 },
        fingerprint: fingerprint({
          owner: "Meetinity",
          packageName: "api",
          policy: reviewed.policy,
          versions: reviewed.versions,
        }),
      }
      const [section] = parsePlanFile(JSON.stringify(reportObject(result)))

      // The package changes: versions deleted by others, tags added or moved away, new pushes.
      const r = rng(seed * 7919)
      const changed: Generated = {
        ...g,
        versions: g.versions
          .filter(() => !r.chance(0.1))
          .map((v) => {
            const tags = [...(v.metadata?.container?.tags ?? [])]
            if (r.chance(0.08))
              tags.push(
                r.chance(0.5)
                  ? "latest"
                  : `sha-${createHash("sha1").update(`${seed} moved ${v.id}`).digest("hex").slice(0, 7)}`,
              )
            if (tags.length > 0 && r.chance(0.05)) tags.splice(0, 1)
            return { ...v, metadata: { container: { tags } } }
          }),
      }
      for (let k = 0; k < r.int(4); k++) {
        const d = digest(`${seed} late ${k}`)
        changed.manifests.set(d, { mediaType: MANIFEST })
        changed.versions.push({
          id: 10_000 + k,
          name: d,
          created_at: new Date(g.now.getTime() - 3_600_000).toISOString(),
          metadata: { container: { tags: [] } },
        })
      }
      const today = planWithReads(changed).plan
      const selection = selectReviewed(today, section!)

      const planned = new Map(section!.versions.map((v) => [v.id, v]))
      const todayDeletes = new Set(today.deletions.map((v) => v.id))
      for (const v of selection.approved) {
        const then = planned.get(v.id)
        expect(then, `seed ${seed}: approved ${v.id} is in the reviewed plan`).toBeDefined()
        expect(then!.decision).toBe("delete")
        expect(then!.digest).toBe(v.digest)
        expect([...then!.tags].sort()).toEqual([...v.tags].sort())
        expect(todayDeletes.has(v.id)).toBe(true)
      }
      // Today's deletions are either approved or skipped with a reason; nothing else is deleted.
      const approved = new Set(selection.approved.map((v) => v.id))
      expect(
        [...todayDeletes].every((id) => approved.has(id) !== selection.skipped.has(id)),
        `seed ${seed}`,
      ).toBe(true)
      // Every reviewed deletion is approved or reported as not applied.
      const notApplied = new Set(selection.notApplied.map((n) => n.id))
      for (const then of section!.versions.filter((v) => v.decision === "delete"))
        expect(approved.has(then.id) !== notApplied.has(then.id), `seed ${seed}: ${then.id}`).toBe(true)
      approvedTotal += approved.size
      skippedTotal += selection.skipped.size + notApplied.size
    }
    expect(approvedTotal).toBeGreaterThan(CASES)
    expect(skippedTotal).toBeGreaterThan(CASES / 4)
  })
})
