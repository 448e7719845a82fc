/**
 * The retention report: a table a person reads (digest, tags, created, decision, reason) with
 * a summary line, or the same data as JSON.
 */
import type { PackageOwner } from "../github.js"
import type { PlannedVersion, RetentionPlan } from "./plan.js"

/** What happened to a planned deletion. */
export type Outcome = "deleted" | "already-gone" | "would-delete" | "not-attempted" | "failed"

export interface RetentionResult {
  readonly owner: PackageOwner
  readonly packageName: string
  readonly dryRun: boolean
  readonly plan: RetentionPlan
  /** Outcome by version id, for every planned deletion. */
  readonly outcomes: ReadonlyMap<number, Outcome>
  /** Why deletion stopped early, if it did. */
  readonly stopped?: string
  /** Manifests read from the registry to decide. */
  readonly manifestsRead: number
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
  }
}

export function summaryLine(result: RetentionResult): string {
  const s = summarize(result)
  const where = `${result.owner.login}/${result.packageName}`
  if (result.dryRun) return `${where}: ${s.versions} versions, ${s.kept} kept, ${s.planned} would be deleted (dry run: nothing was deleted; ${result.manifestsRead} manifests read)`
  const extra = [s.alreadyGone ? `${s.alreadyGone} already gone` : "", s.failed ? `${s.failed} failed` : "", s.notAttempted ? `${s.notAttempted} not attempted` : ""].filter(Boolean).join(", ")
  return `${where}: ${s.versions} versions, ${s.kept} kept, ${s.deleted} of ${s.planned} deleted${extra ? ` (${extra})` : ""}${result.stopped ? `; stopped: ${result.stopped}` : ""}`
}

/** `sha256:` and the first 12 hex digits. */
const shortDigest = (digest: string) => digest.slice(0, 19)

function decisionText(version: PlannedVersion, outcomes: ReadonlyMap<number, Outcome>): string {
  if (version.decision === "keep") return "keep"
  const outcome = outcomes.get(version.id)
  return outcome === undefined || outcome === "would-delete" ? "delete" : outcome
}

/** The report as a table, newest first, then the summary line. */
export function formatReport(result: RetentionResult): string {
  const rows = result.plan.versions.map((v) => [
    shortDigest(v.digest),
    v.tags.length ? v.tags.join(",") : "-",
    v.createdAt.replace(/\.\d+Z$/, "Z"),
    decisionText(v, result.outcomes),
    v.reason,
  ])
  const header = ["DIGEST", "TAGS", "CREATED", "DECISION", "REASON"]
  const widths = header.map((h, i) => Math.min(i === 1 ? 48 : 200, Math.max(h.length, ...rows.map((r) => r[i]!.length))))
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd()
  return [line(header), ...rows.map(line), "", summaryLine(result)].join("\n")
}

/** The same data as JSON. */
export function reportJson(result: RetentionResult): string {
  return JSON.stringify({
    owner: result.owner.login,
    ownerType: result.owner.kind === "org" ? "organization" : "user",
    package: result.packageName,
    dryRun: result.dryRun,
    policy: result.plan.policy,
    summary: summarize(result),
    stopped: result.stopped ?? null,
    manifestsRead: result.manifestsRead,
    versions: result.plan.versions.map((v) => ({
      id: v.id,
      digest: v.digest,
      tags: v.tags,
      createdAt: v.createdAt,
      kind: v.kind,
      decision: v.decision,
      reason: v.reason,
      ...(v.decision === "delete" ? { outcome: result.outcomes.get(v.id) ?? "not-attempted" } : {}),
    })),
  }, null, 2)
}
