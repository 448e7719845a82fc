/**
 * The setup check's report: a summary line first (`3 of 20 missing`), then each requirement that
 * is not right, with what it is for, where the workflows use it and what to do (the `gh` command
 * or the settings page), then what is optional and not set, then what is present; as text or as
 * JSON. It holds names only: no value was read, so none can be shown. Pure.
 */
import { CONTROL } from "../common/names.js"
import { LISTING_NEEDS } from "./listing.js"
import { type Finding, type Status } from "./judge.js"
import { describeRequirement, type Requirement } from "./requirements.js"
import { type Use } from "./needs.js"

/** The JSON form's format name: a consumer checks it before reading the rest. */
export const SETUP_REPORT_FORMAT = "meetinity-release/setup-check/v1"

/** The repository a report is about, as the actions need it. */
export interface ReportTarget {
  /** `owner/name`. */
  readonly repository: string
  readonly ownerType: "Organization" | "User"
  readonly defaultBranch: string
}

export interface SetupReport {
  readonly target: ReportTarget
  readonly findings: readonly Finding[]
  /** What the check could not look at as such (an environment it could not resolve, a file that is not YAML). */
  readonly notes: readonly string[]
}

const ORDER: readonly Status[] = ["missing", "wrong", "unchecked", "optional", "present"]

const LABEL: Record<Status, string> = {
  missing: "MISSING",
  wrong: "WRONG",
  unchecked: "UNCHECKED",
  optional: "not set",
  present: "ok",
}

/** Counts by status. */
export function countFindings(findings: readonly Finding[]): Record<Status, number> & { total: number } {
  const counts = { total: findings.length, present: 0, missing: 0, optional: 0, wrong: 0, unchecked: 0 }
  for (const f of findings) counts[f.status]++
  return counts
}

/** The summary line: `3 of 20 missing`, then what else is not right. */
export function summaryLine(report: SetupReport): string {
  const c = countFindings(report.findings)
  const more = [
    c.wrong > 0 ? `${c.wrong} wrong` : "",
    c.unchecked > 0 ? `${c.unchecked} could not be checked` : "",
    c.optional > 0 ? `${c.optional} optional not set` : "",
  ].filter(Boolean)
  return `${c.missing} of ${c.total} missing${more.length > 0 ? `, ${more.join(", ")}` : ""} (${report.target.repository})`
}

/** Uses as `cd.yml (deploy-dev, deploy-prod), deploy.yml (deploy)`; the workflow's own env is `(env)`. */
export function describeUses(uses: readonly Use[]): string {
  const byFile = new Map<string, string[]>()
  for (const u of uses) byFile.set(u.file, [...(byFile.get(u.file) ?? []), u.job ?? "env"])
  return [...byFile].map(([file, jobs]) => `${file} (${jobs.join(", ")})`).join(", ")
}

/** What a person does to set a requirement right: the `gh` command, or the settings page. */
export function action(finding: Finding, target: ReportTarget): string | undefined {
  const r: Requirement = finding.requirement
  const repo = target.repository
  const [owner, name] = repo.split("/") as [string, string]
  if (finding.status === "present") return undefined
  if (finding.status === "unchecked") return "run the check again with a token that may read it (see above)"
  switch (r.kind) {
    case "environment":
      return `Settings → Environments → New environment "${r.environment}", or: gh api -X PUT repos/${repo}/environments/${r.environment}`
    case "deployment-refs": {
      const rule =
        r.refs === "default-branch"
          ? `the branch rule ${target.defaultBranch}`
          : `the tag rule ${r.refs.tags.join(", ")}`
      const post =
        r.refs === "default-branch"
          ? `-f name=${target.defaultBranch} -f type=branch`
          : r.refs.tags.map((t) => `-f name='${t}' -f type=tag`).join(" ")
      return `Settings → Environments → ${r.environment} → Deployment branches and tags: "Selected branches and tags", with ${rule} and no other; a rule can be added with: gh api -X POST repos/${repo}/environments/${r.environment}/deployment-branch-policies ${post}`
    }
    case "reviewers":
      return `Settings → Environments → ${r.environment} → Required reviewers: add the people or teams who approve, and tick "Prevent self-review"`
    default: {
      const command = r.kind === "secret" ? "secret" : "variable"
      const value = r.kind === "variable" ? " --body <value>" : r.input ? ` ${r.input}` : ""
      const org = target.ownerType === "Organization"
      const preferred = r.preferred === "organisation" && !org ? "repository" : r.preferred
      const set =
        preferred === "environment" && r.environments.length > 0
          ? r.environments.map((e) => `gh ${command} set ${r.name} --env ${e} --repo ${repo}${value}`).join("; ")
          : preferred === "organisation"
            ? `gh ${command} set ${r.name} --org ${owner} --visibility selected --repos ${name}${value} (if the organisation has it already, give it this repository instead: organisation settings → Secrets and variables → Actions → ${r.name} → Repository access; gh ${command} set would replace its value and its repositories)`
            : `gh ${command} set ${r.name} --repo ${repo}${value}`
      const found = finding.foundIn ?? []
      const remove = [
        ...(found.includes("repository") ? [`gh ${command} delete ${r.name} --repo ${repo}`] : []),
        ...(found.includes("organisation") ? [`gh ${command} delete ${r.name} --org ${owner}`] : []),
      ]
      if (finding.status === "wrong") {
        const inEnvironments = found.includes("environment") ? "" : `${set}; then `
        return `${inEnvironments}${remove.join("; ")}`
      }
      return finding.status === "optional" ? `to set it: ${set}` : set
    }
  }
}

/** Escapes control and invisible characters: a name read from GitHub never acts on the terminal. */
function clean(text: string): string {
  return text.replace(new RegExp(CONTROL.source, "g"), (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)
}

/** The report as text for a person. */
export function formatSetupReport(report: SetupReport): string {
  const lines = [summaryLine(report), "Names only: GitHub's API lists names, and no value was read or is shown.", ""]
  for (const status of ORDER) {
    for (const f of report.findings.filter((x) => x.status === status)) {
      const r = f.requirement
      const head = `${LABEL[status].padEnd(9)} ${describeRequirement(r)}`
      if (status === "present") {
        lines.push(f.detail ? `${head}: ${f.detail}` : head)
        continue
      }
      lines.push(head)
      if (r.purpose) lines.push(`  for:     ${r.purpose}`)
      if (r.uses.length > 0) lines.push(`  used by: ${describeUses(r.uses)}`)
      if (f.detail) lines.push(`  why:     ${f.detail}`)
      const todo = action(f, report.target)
      if (todo) lines.push(`  do:      ${todo}`)
      lines.push("")
    }
  }
  if (report.notes.length > 0) lines.push("", "Notes:", ...report.notes.map((n) => `- ${n}`))
  return lines.map(clean).join("\n").trimEnd()
}

/** The report as data: the same findings, each with its action. */
export function setupReportObject(report: SetupReport): Record<string, unknown> {
  return {
    format: SETUP_REPORT_FORMAT,
    repository: report.target.repository,
    summary: { line: summaryLine(report), ...countFindings(report.findings) },
    tokenNeeds: LISTING_NEEDS,
    items: report.findings.map((f) => {
      const r = f.requirement
      const todo = action(f, report.target)
      return {
        status: f.status,
        kind: r.kind,
        ...("name" in r ? { name: r.name, scope: r.preferred, optional: r.optional } : { environment: r.environment }),
        ...("name" in r && r.environments.length > 0 ? { environments: r.environments } : {}),
        what: describeRequirement(r),
        ...(r.purpose ? { purpose: r.purpose } : {}),
        usedBy: r.uses.map((u) => ({ file: u.file, ...(u.job ? { job: u.job } : {}) })),
        ...(f.foundIn ? { foundIn: f.foundIn } : {}),
        ...(f.detail ? { detail: f.detail } : {}),
        ...(todo ? { do: todo } : {}),
      }
    }),
    notes: report.notes,
  }
}

/** The report in the format asked for: `table` (text) or `json`. */
export function renderSetupReport(report: SetupReport, format: "table" | "json"): string {
  return format === "json" ? JSON.stringify(setupReportObject(report), null, 2) : formatSetupReport(report)
}
