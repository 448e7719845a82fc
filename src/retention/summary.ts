/**
 * A Markdown summary of a retention report or plan file, for a reviewer: per package the
 * fingerprint, the policy, the counts and the versions to delete. Pure: reads only the text. A file
 * whose fingerprints do not cover what it says is refused (parsePlanFile), so the summary shows
 * nothing the fingerprints do not vouch for; and every value from the file is escaped, so it
 * renders as text in a job summary or a pull request: no heading, link, image or HTML of its own.
 */
import { check } from "../common/errors.js"
import { parsePlanFile, type PlanSection } from "./reviewed.js"

export interface SummaryArgs {
  readonly rows: number
}

export function parseSummaryArgs(args: { rows: number }): SummaryArgs {
  check(
    Number.isInteger(args.rows) && args.rows >= 0,
    "rows",
    args.rows,
    "is not a count: expected a whole number of versions to list, 0 or more (e.g. 200)",
  )
  return { rows: args.rows }
}

/**
 * A value from the file as inline code: Markdown renders it as it is, with no heading, emphasis,
 * link (not even an autolinked URL or www. name), image or HTML of its own. Whitespace is folded
 * and a pipe escaped (it would end a table cell even inside code).
 */
export function text(value: string | number): string {
  const folded = String(value).replace(/\s+/g, " ").replace(/\|/g, "\\|")
  if (folded.trim() === "") return "-"
  const fence = "`".repeat(Math.max(0, ...[...folded.matchAll(/`+/g)].map((m) => m[0].length)) + 1)
  const pad = folded.startsWith("`") || folded.endsWith("`") || folded.startsWith(" ") ? " " : ""
  return `${fence}${pad}${folded}${pad}${fence}`
}

function section(plan: PlanSection, rows: number): string {
  const kept = plan.versions.filter((v) => v.decision === "keep").length
  const deletions = plan.versions.filter((v) => v.decision === "delete")
  const count = (o: string) => deletions.filter((v) => v.outcome === o).length
  const state = plan.dryRun
    ? `Dry run: nothing was deleted. ${deletions.length} version${deletions.length === 1 ? "" : "s"} would be deleted.`
    : `Real run: ${count("deleted")} of ${deletions.length} deleted${["unconfirmed", "already-gone", "skipped", "deferred", "failed", "not-attempted"].map((o) => (count(o) ? `, ${count(o)} ${o}` : "")).join("")}.${plan.stopped ? ` Stopped: ${text(plan.stopped)}` : ""}`
  const lines = [
    `### ${text(plan.owner)}/${text(plan.packageName)}`,
    "",
    `Plan fingerprint: \`${plan.fingerprint}\``,
    ...(plan.reportFingerprint ? ["", `Report fingerprint (what the run did): \`${plan.reportFingerprint}\``] : []),
    "",
    `Policy: keep the newest ${plan.policy.keep} build images; nothing younger than ${plan.policy.graceMinutes} min. ${plan.versions.length} versions, ${kept} kept. ${state}`,
  ]
  if (deletions.length > 0) {
    lines.push(
      "",
      `| id | digest | tags | reason${plan.dryRun ? "" : " | outcome"} |`,
      `|---|---|---|---${plan.dryRun ? "" : "|---"}|`,
    )
    for (const v of deletions.slice(0, rows)) {
      lines.push(
        `| ${v.id} | \`${v.digest.slice(0, 19)}\` | ${text(v.tags.join(", ") || "-")} | ${text(v.reason)}${plan.dryRun ? "" : ` | ${text(v.outcome ?? "")}`} |`,
      )
    }
    if (deletions.length > rows) lines.push("", `…and ${deletions.length - rows} more: the plan file lists them all.`)
  }
  return lines.join("\n")
}

/** The summary of every package in a report or plan file. */
export function summarizePlanFile(text: string, args: SummaryArgs): string {
  const plans = parsePlanFile(text, "report")
  return [
    `## GHCR retention${plans.every((p) => p.dryRun) ? " plan" : ""}`,
    ...plans.map((p) => section(p, args.rows)),
  ].join("\n\n")
}
