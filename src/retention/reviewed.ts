/**
 * Reviewed purges: the plan an earlier `retain --dry-run --format json` wrote, read back and applied
 * exactly. Pure: the fingerprint, parsing a plan file, matching it to the run, and choosing which
 * of today's planned deletions the reviewed plan approves.
 *
 * A deletion is applied only when the reviewed plan lists that version (same id, same digest,
 * same tags) as a deletion AND today's plan, made from today's listing with today's policy,
 * deletes it too. Everything else is skipped and reported with the reason. Nothing outside the
 * reviewed plan is ever deleted.
 */
import { InvalidArgumentError, quote } from "../common/errors.js"
import { fingerprint, REPORT_FORMAT, reportFingerprint } from "./fingerprint.js"
import { type Decision, type PlannedVersion, type RetentionPlan, type RetentionPolicy } from "./versions.js"

/** One version as a plan lists it. */
export interface PlanVersion {
  readonly id: number
  readonly digest: string
  readonly tags: readonly string[]
  readonly decision: Decision
  /** In a report of a real run: what happened to a planned deletion (`deleted`, `skipped`, ...). */
  readonly outcome?: string
  /** The planner's reason, as the report words it. */
  readonly reason: string
}

/** One package's plan, as read from a plan file. */
export interface PlanSection {
  readonly owner: string
  readonly packageName: string
  readonly policy: RetentionPolicy
  readonly dryRun: boolean
  readonly versions: readonly PlanVersion[]
  readonly fingerprint: string
  /** A real run's report: why deleting stopped early, if it did. */
  readonly stopped?: string
  /** A real run's report: the fingerprint of its outcomes (see reportFingerprint). */
  readonly reportFingerprint?: string
}

const EXPECTED = "expected the JSON that `retain --dry-run --format json` writes"
const DIGEST = /^sha256:[0-9a-f]{64}$/

/** A short, quotable piece of a long text. */
function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim()
  return flat.length > 60 ? `${flat.slice(0, 57)}...` : flat
}

/**
 * Reads a plan file: the JSON report of one package, or `{"packages": [...]}` for several.
 * Every field the plan needs is checked, and each section's fingerprint must match its content:
 * a plan edited after it was written (and reviewed) is refused.
 */
export function parsePlanFile(text: string, argument = "plan"): PlanSection[] {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new InvalidArgumentError(argument, excerpt(text), `is not JSON: ${EXPECTED}`)
  }
  const bad = (path: string, value: unknown, expected: string) =>
    new InvalidArgumentError(`${argument} ${path}`, value, expected)
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v)
  if (!isObject(json)) throw new InvalidArgumentError(argument, excerpt(text), `is not a retention plan: ${EXPECTED}`)
  const raw = Array.isArray(json.packages) ? json.packages : [json]
  if (raw.length === 0) throw bad("packages", [], `lists no package: ${EXPECTED}`)
  const sections = raw.map((section, i): PlanSection => {
    const at = Array.isArray(json.packages) ? `packages[${i}].` : ""
    if (!isObject(section)) throw bad(`packages[${i}]`, section, `is not a package's plan: ${EXPECTED}`)
    if (section.format !== REPORT_FORMAT)
      throw bad(
        `${at}format`,
        section.format ?? null,
        `is not ${quote(REPORT_FORMAT)}: ${EXPECTED} (by this version of the module)`,
      )
    const { owner, package: packageName, policy, versions, dryRun } = section
    if (typeof owner !== "string" || owner === "")
      throw bad(
        `${at}owner`,
        owner ?? null,
        "is not an owner: expected the GitHub organisation or user the plan was made for",
      )
    if (typeof packageName !== "string" || packageName === "")
      throw bad(`${at}package`, packageName ?? null, "is not a package name: expected the image the plan was made for")
    if (!isObject(policy) || !Number.isInteger(policy.keep) || !Number.isInteger(policy.graceMinutes)) {
      throw bad(
        `${at}policy`,
        policy ?? null,
        'is not a retention policy: expected {"keep": <count>, "graceMinutes": <minutes>}',
      )
    }
    if (!Array.isArray(versions)) throw bad(`${at}versions`, versions ?? null, "is not a list of versions")
    const seen = new Set<number>()
    const parsed = versions.map((v: unknown, k): PlanVersion => {
      const where = `${at}versions[${k}]`
      if (!isObject(v)) throw bad(where, v, "is not a version")
      if (!Number.isSafeInteger(v.id) || (v.id as number) <= 0)
        throw bad(`${where}.id`, v.id ?? null, "is not a package version id: expected a positive whole number")
      if (seen.has(v.id as number)) throw bad(`${where}.id`, v.id, "is listed twice")
      seen.add(v.id as number)
      if (typeof v.digest !== "string" || !DIGEST.test(v.digest))
        throw bad(`${where}.digest`, v.digest ?? null, "is not a manifest digest: expected sha256:<64 hex>")
      if (!Array.isArray(v.tags) || !v.tags.every((t) => typeof t === "string"))
        throw bad(`${where}.tags`, v.tags ?? null, "is not a list of tags")
      if (v.decision !== "keep" && v.decision !== "delete")
        throw bad(`${where}.decision`, v.decision ?? null, 'is not a decision: expected "keep" or "delete"')
      if (typeof v.reason !== "string") throw bad(`${where}.reason`, v.reason ?? null, "is not the planner's reason")
      return {
        id: v.id as number,
        digest: v.digest,
        tags: v.tags as string[],
        decision: v.decision,
        reason: v.reason,
        ...(typeof v.outcome === "string" ? { outcome: v.outcome } : {}),
      }
    })
    const plan = {
      owner,
      packageName,
      policy: { keep: policy.keep as number, graceMinutes: policy.graceMinutes as number },
      versions: parsed,
    }
    const computed = fingerprint(plan)
    if (section.fingerprint !== computed) {
      throw bad(
        `${at}fingerprint`,
        section.fingerprint ?? null,
        `does not match the plan's content (${computed}): the file was changed after it was written; make and review a new plan`,
      )
    }
    if (dryRun === true) return { ...plan, dryRun: true, fingerprint: computed }
    // A real run's report: its outcomes and why it stopped are covered by the report fingerprint.
    const stopped = typeof section.stopped === "string" ? section.stopped : undefined
    const outcomes = reportFingerprint({ fingerprint: computed, versions: parsed, stopped })
    if (section.reportFingerprint !== outcomes) {
      throw bad(
        `${at}reportFingerprint`,
        section.reportFingerprint ?? null,
        `does not match the report's outcomes (${outcomes}): the file was changed after the run wrote it`,
      )
    }
    return {
      ...plan,
      dryRun: false,
      fingerprint: computed,
      reportFingerprint: outcomes,
      ...(stopped ? { stopped } : {}),
    }
  })
  const names = sections.map((s) => `${s.owner.toLowerCase()}/${s.packageName}`)
  const twice = names.find((n, i) => names.indexOf(n) !== i)
  if (twice) throw bad("packages", twice, "appears twice in the plan")
  return sections
}

/**
 * The plan's section for each package of this run. The plan must be for this owner, for exactly
 * these packages, and made with this policy: anything else is refused before any request.
 */
export function matchPlan(
  sections: readonly PlanSection[],
  run: { owner: string; packages: readonly string[]; policy: RetentionPolicy },
  argument = "plan",
): Map<string, PlanSection> {
  const other = sections.find((s) => s.owner.toLowerCase() !== run.owner.toLowerCase())
  if (other)
    throw new InvalidArgumentError(
      argument,
      `${other.owner}/${other.packageName}`,
      `is a plan for owner ${quote(other.owner)}, not ${quote(run.owner)}: refusing to apply it`,
    )
  const byName = new Map(sections.map((s) => [s.packageName, s]))
  const missing = run.packages.filter((p) => !byName.has(p))
  const extra = sections.filter((s) => !run.packages.includes(s.packageName)).map((s) => s.packageName)
  if (missing.length > 0 || extra.length > 0) {
    throw new InvalidArgumentError(
      argument,
      sections.map((s) => s.packageName),
      `is a plan for package${sections.length === 1 ? "" : "s"} ${sections.map((s) => s.packageName).join(", ")}, not for ${run.packages.join(", ")}: ` +
        "refusing to apply it (pass the same --image or --images the plan was made with)",
    )
  }
  for (const section of sections) {
    if (section.policy.keep !== run.policy.keep || section.policy.graceMinutes !== run.policy.graceMinutes) {
      throw new InvalidArgumentError(
        argument,
        section.policy,
        `was made with keep ${section.policy.keep} and graceMinutes ${section.policy.graceMinutes}, but this run has keep ${run.policy.keep} and graceMinutes ${run.policy.graceMinutes}: ` +
          `pass --keep ${section.policy.keep} --grace-minutes ${section.policy.graceMinutes}, the policy the plan was reviewed with`,
      )
    }
  }
  return new Map(run.packages.map((p) => [p, byName.get(p)!]))
}

/** A deletion the reviewed plan lists that this run will not make, and why. */
export interface NotApplied {
  readonly id: number
  readonly digest: string
  readonly tags: readonly string[]
  readonly reason: string
}

export interface Selection {
  /** Ids of today's planned deletions that the reviewed plan approves, in today's order. */
  readonly approved: readonly PlannedVersion[]
  /** Today's planned deletions the reviewed plan does not approve: not deleted, with why. */
  readonly skipped: ReadonlyMap<number, string>
  /** The reviewed plan's deletions that today's plan does not make, with why. */
  readonly notApplied: readonly NotApplied[]
}

const sameTags = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && [...a].sort().every((t, i) => t === [...b].sort()[i])
const tagText = (tags: readonly string[]) => (tags.length ? tags.join(",") : "none")

/** Which of today's deletions the reviewed plan approves; everything else is skipped, with why. */
export function selectReviewed(today: RetentionPlan, reviewed: PlanSection): Selection {
  const planned = new Map(reviewed.versions.map((v) => [v.id, v]))
  const current = new Map(today.versions.map((v) => [v.id, v]))
  const approved: PlannedVersion[] = []
  const skipped = new Map<number, string>()
  for (const version of today.deletions) {
    const then = planned.get(version.id)
    if (!then) skipped.set(version.id, "not in the reviewed plan (pushed or listed after it was made)")
    else if (then.decision !== "delete") skipped.set(version.id, "the reviewed plan keeps it")
    else if (then.digest !== version.digest)
      skipped.set(version.id, `its digest changed since the reviewed plan (${then.digest})`)
    else if (!sameTags(then.tags, version.tags))
      skipped.set(
        version.id,
        `its tags changed since the reviewed plan (then: ${tagText(then.tags)}; now: ${tagText(version.tags)})`,
      )
    else approved.push(version)
  }
  const notApplied: NotApplied[] = []
  for (const then of reviewed.versions) {
    if (then.decision !== "delete") continue
    const now = current.get(then.id)
    const base = { id: then.id, digest: then.digest, tags: then.tags }
    if (!now) notApplied.push({ ...base, reason: "no longer in the package (deleted since the plan was made)" })
    else if (now.decision === "keep")
      notApplied.push({ ...base, reason: `the current policy keeps it now: ${now.reason}` })
    else if (skipped.has(then.id)) notApplied.push({ ...base, reason: skipped.get(then.id)! })
  }
  return { approved, skipped, notApplied }
}
