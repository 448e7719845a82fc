/**
 * The retention report: a table a person reads (digest, tags, created, decision, reason) with
 * the plan's fingerprint and a summary line, or the same data as JSON, which is also the plan
 * file `retain --plan` applies and `restore --plan` reads.
 */
import { type Quota } from "../github/client.js"
import { type PackageOwner } from "../github/packages.js"
import { type PlannedVersion, type RetentionPlan } from "./versions.js"
import { REPORT_FORMAT, reportFingerprint } from "./fingerprint.js"
import { type NotApplied } from "./reviewed.js"
import { describeBroken, type Broken } from "./validate.js"

/**
 * What happened to a planned deletion: `skipped` (the reviewed plan does not approve it),
 * `deferred` (a budget or the quota ran out first: left for the next run), `unconfirmed` (its
 * DELETE was sent and GitHub never said what became of it: counted as this run's deletion, so
 * every restore command includes it).
 */
export type Outcome =
  "deleted" | "already-gone" | "would-delete" | "not-attempted" | "failed" | "skipped" | "deferred" | "unconfirmed"

/** Outcomes that count as this run's deletions: what a restore brings back. */
export const DELETED_BY_RUN: readonly Outcome[] = ["deleted", "unconfirmed"]

export interface RetentionResult {
  readonly owner: PackageOwner
  readonly packageName: string
  readonly dryRun: boolean
  readonly plan: RetentionPlan
  /** The plan's fingerprint (see reviewed.ts): what a reviewer compares. */
  readonly fingerprint: string
  /** Outcome by version id, for every planned deletion. */
  readonly outcomes: ReadonlyMap<number, Outcome>
  /** Why deletion stopped early, if it did. */
  readonly stopped?: string
  /** Manifests read from the registry to decide. */
  readonly manifestsRead: number
  /** The same, by purpose: of kept images (what they need), of untagged versions (a subject?). */
  readonly manifestReads: { readonly kept: number; readonly subjects: number }
  /** With `--plan`: the reviewed plan applied, what it did not approve, what it planned but was not done. */
  readonly reviewed?: {
    readonly fingerprint: string
    readonly skipped: ReadonlyMap<number, string>
    readonly notApplied: readonly NotApplied[]
  }
  /**
   * After a real run: how many tags and digests were checked in the registry, what is missing (a
   * fresh read confirmed it), and what could not be verified (the registry kept failing).
   */
  readonly validation?: {
    readonly checked: number
    readonly broken: readonly Broken[]
    readonly unverified: readonly Broken[]
  }
  /** A real run: the token's quota at the start and at the end, and the reserve left to other workflows. */
  readonly quota?: { readonly start: Quota; readonly end: Quota; readonly reserve: number }
  /** With `--max-requests`: the budget and the GitHub API requests used by the end of this package. */
  readonly budget?: { readonly maxRequests: number; readonly used: number }
  /** When more deletions were planned than `maxDeletions`: what was left for the next runs. */
  readonly capped?: string
}

export function summarize(result: RetentionResult) {
  const outcomes = [...result.outcomes.values()]
  const n = (o: Outcome) => outcomes.filter((x) => x === o).length
  return {
    versions: result.plan.versions.length,
    kept: result.plan.versions.filter((v) => v.decision === "keep").length,
    planned: result.plan.deletions.length,
    deleted: n("deleted"),
    alreadyGone: n("already-gone"),
    notAttempted: n("not-attempted"),
    failed: n("failed"),
    skipped: n("skipped"),
    deferred: n("deferred"),
    unconfirmed: n("unconfirmed"),
  }
}

export function summaryLine(result: RetentionResult): string {
  const s = summarize(result)
  const where = `${result.owner.login}/${result.packageName}`
  const skipped = s.skipped ? `, ${s.skipped} skipped (not in the reviewed plan as they are now)` : ""
  if (result.dryRun)
    return `${where}: ${s.versions} versions, ${s.kept} kept, ${s.planned - s.skipped} would be deleted${skipped} (dry run: nothing was deleted; ${result.manifestsRead} manifests read)`
  const extra = [
    s.unconfirmed ? `${s.unconfirmed} unconfirmed (sent; GitHub never answered what became of them)` : "",
    s.alreadyGone ? `${s.alreadyGone} already gone` : "",
    s.failed ? `${s.failed} failed` : "",
    s.skipped ? `${s.skipped} skipped` : "",
    s.deferred ? `${s.deferred} left for the next run` : "",
    s.notAttempted ? `${s.notAttempted} not attempted` : "",
  ]
    .filter(Boolean)
    .join(", ")
  return `${where}: ${s.versions} versions, ${s.kept} kept, ${s.deleted} of ${s.planned} deleted${extra ? ` (${extra})` : ""}${result.stopped ? `; stopped: ${result.stopped}` : ""}`
}

/** `sha256:` and the first 12 hex digits. */
const shortDigest = (digest: string) => digest.slice(0, 19)

function decisionText(version: PlannedVersion, outcomes: ReadonlyMap<number, Outcome>): string {
  if (version.decision === "keep") return "keep"
  const outcome = outcomes.get(version.id)
  return outcome === undefined || outcome === "would-delete" ? "delete" : outcome
}

function reasonText(version: PlannedVersion, result: RetentionResult): string {
  const skipped = result.reviewed?.skipped.get(version.id)
  return skipped ? `${version.reason}; skipped: ${skipped}` : version.reason
}

/** The lines under the table: fingerprint, reads, reviewed plan, validation, budget. */
function detailLines(result: RetentionResult): string[] {
  const lines = [
    `plan ${result.fingerprint} (owner, package, policy, and every version's id, digest, tags and decision)`,
  ]
  const reads = `manifests read: ${result.manifestsRead} (${result.manifestReads.kept} of kept images, ${result.manifestReads.subjects} of untagged versions, for a subject naming a kept image)`
  const v = result.validation
  const checked = v
    ? v.broken.length || v.unverified.length
      ? [
          v.broken.length ? `${v.broken.length} missing` : "",
          v.unverified.length ? `${v.unverified.length} could not be verified` : "",
        ]
          .filter(Boolean)
          .join(", ")
      : "all present"
    : ""
  lines.push(v ? `${reads}; after the run ${v.checked} tags and digests checked in the registry, ${checked}` : reads)
  if (result.reviewed) {
    lines.push(
      `applied the reviewed plan ${result.reviewed.fingerprint}${result.reviewed.fingerprint === result.fingerprint ? " (the package is as it was when the plan was made)" : ""}`,
    )
    for (const n of result.reviewed.notApplied)
      lines.push(
        `  not deleted: ${n.digest} (id ${n.id}, ${n.tags.length ? n.tags.join(",") : "untagged"}): ${n.reason}`,
      )
  }
  if (result.budget) lines.push(`GitHub API requests: ${result.budget.used} used, budget ${result.budget.maxRequests}`)
  if (result.quota) {
    const { start, end, reserve } = result.quota
    lines.push(
      `GitHub API quota: ${start.remaining} of ${start.limit} left at the start, ${end.remaining} at the end, ${reserve} kept for other workflows (resets at ${new Date(end.reset * 1000).toISOString()})`,
    )
  }
  for (const u of result.plan.unlisted ?? [])
    lines.push(
      `kept: tag ${u.tag} (${u.digest}) is in the registry but was not in GitHub's listing (it changed while it was read); what it names is kept`,
    )
  return lines
}

/** The report as a table, newest first, then its details and the summary line. */
export function formatReport(result: RetentionResult): string {
  const rows = result.plan.versions.map((v) => [
    shortDigest(v.digest),
    v.tags.length ? v.tags.join(",") : "-",
    v.createdAt.replace(/\.\d+Z$/, "Z"),
    decisionText(v, result.outcomes),
    reasonText(v, result),
  ])
  const header = ["DIGEST", "TAGS", "CREATED", "DECISION", "REASON"]
  const widths = header.map((h, i) =>
    Math.min(i === 1 ? 48 : 200, Math.max(h.length, ...rows.map((r) => r[i]!.length))),
  )
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd()
  return [line(header), ...rows.map(line), "", ...detailLines(result), summaryLine(result)].join("\n")
}

/** What the check after the run could not verify: not known to be missing, one per line. */
export function formatUnverified(unverified: readonly Broken[]): string {
  return [
    `Could not verify ${unverified.length} in the registry after this run (not known to be missing):`,
    ...unverified.map((b) => `- ${b.what} ${b.problem}`),
  ].join("\n")
}

/** The validation failure: what is broken and which tag it breaks, one per line. */
export function formatBroken(broken: readonly Broken[]): string {
  return [
    `Validation failed: ${broken.length} missing in the registry after this run (the deletions done are reported above):`,
    ...broken.map((b) => `- ${describeBroken(b)}`),
  ].join("\n")
}

/** One package's report as a JSON value (the plan file format, `format` REPORT_FORMAT). */
export function reportObject(result: RetentionResult) {
  const versions = result.plan.versions.map((v) => ({
    id: v.id,
    digest: v.digest,
    tags: v.tags,
    createdAt: v.createdAt,
    kind: v.kind,
    decision: v.decision,
    reason: v.reason,
    ...(v.parent ? { keptFor: v.parent } : {}),
    ...(v.decision === "delete" ? { outcome: result.outcomes.get(v.id) ?? "not-attempted" } : {}),
    ...(result.reviewed?.skipped.has(v.id) ? { skipped: result.reviewed.skipped.get(v.id) } : {}),
  }))
  return {
    format: REPORT_FORMAT,
    owner: result.owner.login,
    ownerType: result.owner.kind === "org" ? "organization" : "user",
    package: result.packageName,
    dryRun: result.dryRun,
    policy: result.plan.policy,
    fingerprint: result.fingerprint,
    ...(result.dryRun
      ? {}
      : {
          reportFingerprint: reportFingerprint({ fingerprint: result.fingerprint, versions, stopped: result.stopped }),
        }),
    summary: summarize(result),
    stopped: result.stopped ?? null,
    manifestsRead: result.manifestsRead,
    manifestReads: { keptImages: result.manifestReads.kept, untaggedForSubject: result.manifestReads.subjects },
    reviewedPlan: result.reviewed
      ? { fingerprint: result.reviewed.fingerprint, notApplied: result.reviewed.notApplied }
      : null,
    validation: result.validation
      ? {
          checked: result.validation.checked,
          broken: result.validation.broken.map((b) => ({
            reference: b.reference,
            what: b.what,
            problem: b.problem,
            breaks: b.breaks,
          })),
          unverified: result.validation.unverified.map((b) => ({
            reference: b.reference,
            what: b.what,
            problem: b.problem,
          })),
        }
      : null,
    budget: result.budget ?? null,
    quota: result.quota ?? null,
    unlistedTags: result.plan.unlisted ?? [],
    versions,
  }
}

/** The same data as JSON. */
export function reportJson(result: RetentionResult): string {
  return JSON.stringify(reportObject(result), null, 2)
}

/**
 * The module as `dagger call -m` names it in the restore command a failure prints, unless the run
 * was told which module it is (`retain --module-ref`, as the workflows do): this release of it
 * (package.json's version; a test keeps the two equal).
 */
export const MODULE_REF = "github.com/meetinity/meetinity-release@v0.4.0"

/**
 * The head of a failed real run's error, for an operator who has only the job's log: what
 * happened, in words, on the first line; then every version this run deleted, with its package
 * version id and full digest; then the exact `restore` command that brings them back (GitHub
 * keeps deleted versions 30 days). `dagger call` reads a list flag as one comma-separated value:
 * `--ids 1,2,3`.
 */
export function formatFailure(
  result: RetentionResult,
  what: readonly string[],
  options: { githubApiUrl?: string; restore?: boolean; moduleRef?: string; tokenUri?: string } = {},
): string {
  const where = `${result.owner.login}/${result.packageName}`
  const deleted = result.plan.deletions.filter((v) => DELETED_BY_RUN.includes(result.outcomes.get(v.id)!))
  if (options.restore === false) {
    return `retain failed for ${where}: ${what.join("; ")}. This run deleted ${deleted.length} version${deleted.length === 1 ? "" : "s"} as planned and none needs restoring: nothing is known to be missing. Check again with retain --dry-run once the registry answers.`
  }
  const lines = [
    `retain failed for ${where}: ${what.join("; ")}. ${deleted.length === 0 ? "This run deleted nothing." : `This run deleted ${deleted.length} version${deleted.length === 1 ? "" : "s"}; the command below restores ${deleted.length === 1 ? "it" : "them"}.`}`,
  ]
  if (deleted.length === 0) return lines[0]!
  lines.push(`deleted by this run (package version id, digest, tags):`)
  for (const v of deleted)
    lines.push(
      `  ${v.id} ${v.digest} ${v.tags.length ? v.tags.join(",") : "(untagged)"}${result.outcomes.get(v.id) === "unconfirmed" ? " (its DELETE was sent; GitHub never said what became of it)" : ""}`,
    )
  const api =
    options.githubApiUrl && options.githubApiUrl.replace(/\/+$/, "") !== "https://api.github.com"
      ? ` --github-api-url ${options.githubApiUrl}`
      : ""
  lines.push(`to restore them (within 30 days; the token needs write:packages):`)
  lines.push(
    `  dagger call -m ${options.moduleRef ?? MODULE_REF} restore --owner ${result.owner.login} --image ${result.packageName} --token ${options.tokenUri ?? "env://GHCR_RETENTION_TOKEN"}${api} --ids ${deleted.map((v) => v.id).join(",")}`,
  )
  return lines.join("\n")
}
