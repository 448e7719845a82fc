/**
 * Restore: bring deleted package versions back through GitHub's restore endpoint
 * (`POST .../versions/{id}/restore`, 204; GitHub keeps deleted versions 30 days). The pure part
 * chooses which ids to restore (given ones, and those a retain report or plan lists as deleted)
 * and words the report; the adapter lists the package (active and deleted versions) and restores.
 */
import { check, InvalidArgumentError, quote } from "../common/errors.js"
import { parseOwner } from "../common/names.js"
import {
  createGitHubClient,
  type GitHubClient,
  parseGitHubApiUrl,
  RESTORE_SCOPES,
  statusOf,
  unreachable,
} from "../github/client.js"
import {
  describePackage,
  listPackageVersions,
  type PackageOwner,
  type PackageVersion,
  resolveOwner,
  restorePackageVersion,
} from "../github/packages.js"
import { parseImageName } from "../oci/reference.js"
import { idsFromJournal } from "./journal.js"
import { DELETED_BY_RUN } from "./report.js"
import { parsePlanFile } from "./reviewed.js"

/** Checked arguments of `restore`. */
export interface RestoreArgs {
  readonly owner: string
  readonly packageName: string
  /** Version ids given as `ids`, in order, without repeats. */
  readonly ids: readonly number[]
  readonly githubApiUrl: string
  readonly dryRun: boolean
}

export function parseRestoreArgs(args: {
  owner: string
  image: string
  ids: readonly string[]
  githubApiUrl: string
  dryRun: boolean
  hasPlan: boolean
  hasJournal?: boolean
}): RestoreArgs {
  const ids: number[] = []
  for (const [i, id] of args.ids.entries()) {
    check(
      /^[0-9]{1,15}$/.test(id) && Number(id) > 0,
      `ids[${i}]`,
      id,
      "is not a package version id: expected digits, as a retain --format json report lists them (e.g. 123456789)",
    )
    if (!ids.includes(Number(id))) ids.push(Number(id))
  }
  check(
    ids.length > 0 || args.hasPlan || args.hasJournal === true,
    "ids",
    [...args.ids],
    "is empty and no plan or journal was given: expected version ids (--ids 123456789,123456790), --plan with a retain --format json report, or --journal with a retain run's log",
  )
  parseGitHubApiUrl(args.githubApiUrl)
  return {
    owner: parseOwner(args.owner),
    packageName: parseImageName(args.image),
    ids,
    githubApiUrl: args.githubApiUrl,
    dryRun: args.dryRun,
  }
}

/**
 * The ids a retain report or plan lists as deleted, for this owner and package: in a report of a
 * real run the versions this run deleted (`deleted`, and `unconfirmed`: sent, outcome never told);
 * in a dry-run plan the versions it would delete. A file for another owner or package is refused.
 */
export function idsFromPlan(text: string, args: RestoreArgs): number[] {
  const sections = parsePlanFile(text, "plan")
  const other = sections.find((s) => s.owner.toLowerCase() !== args.owner.toLowerCase())
  if (other)
    throw new InvalidArgumentError(
      "plan",
      `${other.owner}/${other.packageName}`,
      `is a report for owner ${quote(other.owner)}, not ${quote(args.owner)}: refusing to use it`,
    )
  const section = sections.find((s) => s.packageName === args.packageName)
  if (!section) {
    throw new InvalidArgumentError(
      "plan",
      sections.map((s) => s.packageName),
      `has no section for package ${quote(args.packageName)}: pass --image with one of the packages it lists`,
    )
  }
  return section.versions
    .filter((v) =>
      section.dryRun ? v.decision === "delete" : (DELETED_BY_RUN as readonly string[]).includes(v.outcome ?? ""),
    )
    .map((v) => v.id)
}

export type RestoreOutcome = "restored" | "would-restore" | "already-present" | "refused" | "not-attempted"

export interface RestoreEntry {
  readonly id: number
  readonly digest?: string
  readonly tags?: readonly string[]
  readonly outcome: RestoreOutcome
  readonly reason: string
}

export interface RestoreResult {
  readonly owner: PackageOwner
  readonly packageName: string
  readonly dryRun: boolean
  readonly entries: readonly RestoreEntry[]
}

const tagsOf = (v: PackageVersion) => v.metadata?.container?.tags ?? []

/** Restores children before the images that name them: untagged first, then oldest first. */
function restoreOrder(a: PackageVersion | undefined, b: PackageVersion | undefined): number {
  if (!a || !b) return Number(!a) - Number(!b)
  return (
    Number(tagsOf(a).length > 0) - Number(tagsOf(b).length > 0) ||
    Date.parse(a.created_at) - Date.parse(b.created_at) ||
    a.id - b.id
  )
}

function refusal(error: unknown): string {
  const status = statusOf(error)
  const message = (error as Error).message
  const noAnswer = unreachable(error)
  if (noAnswer) return noAnswer
  if (status === 404)
    return `GitHub answered 404 (${message}): it is not a deleted version of this package, or it was deleted more than 30 days ago, or its name is taken by a newer version`
  if (status === 401) return `GitHub answered 401 (${message}): the token is invalid or expired`
  if (status === 403) return `GitHub answered 403 (${message}). ${RESTORE_SCOPES}`
  return status === undefined ? message : `GitHub answered ${status} (${message})`
}

export async function runRestore(
  github: GitHubClient,
  request: { owner: string; packageName: string; ids: readonly number[]; dryRun: boolean },
  log: (line: string) => void,
): Promise<RestoreResult> {
  const owner = await resolveOwner(github, request.owner)
  const where = describePackage(owner, request.packageName)
  log(`listing the active and deleted versions of ${where}`)
  const active = new Map((await listPackageVersions(github, owner, request.packageName)).map((v) => [v.id, v]))
  const deleted = new Map(
    (await listPackageVersions(github, owner, request.packageName, { state: "deleted" })).map((v) => [v.id, v]),
  )
  const ids = [...request.ids].sort((a, b) =>
    restoreOrder(deleted.get(a) ?? active.get(a), deleted.get(b) ?? active.get(b)),
  )
  const entries: RestoreEntry[] = []
  let stopped: string | undefined
  for (const id of ids) {
    const known = active.get(id) ?? deleted.get(id)
    const base = { id, ...(known ? { digest: known.name, tags: tagsOf(known) } : {}) }
    if (active.has(id)) {
      entries.push({
        ...base,
        outcome: "already-present",
        reason: "an active version of the package: nothing to restore",
      })
      continue
    }
    if (stopped) {
      entries.push({ ...base, outcome: "not-attempted", reason: stopped })
      continue
    }
    if (request.dryRun) {
      entries.push(
        deleted.has(id)
          ? { ...base, outcome: "would-restore", reason: `deleted ${deleted.get(id)!.deleted_at ?? ""}`.trim() }
          : {
              ...base,
              outcome: "refused",
              reason: "not among the deleted versions GitHub lists for this package (it keeps them 30 days)",
            },
      )
      continue
    }
    try {
      await restorePackageVersion(github, owner, request.packageName, id)
      entries.push({
        ...base,
        outcome: "restored",
        reason: deleted.has(id) ? `deleted ${deleted.get(id)!.deleted_at ?? ""}`.trim() : "restored",
      })
      log(`restored ${id}${known ? ` (${known.name})` : ""}`)
    } catch (error) {
      const reason = refusal(error)
      entries.push({ ...base, outcome: "refused", reason })
      log(`could not restore ${id}: ${reason}`)
      // Credentials that are refused once are refused for every version: stop asking.
      if (statusOf(error) === 401 || statusOf(error) === 403)
        stopped = `not attempted after version ${id} was refused for the token's rights`
    }
  }
  return { owner, packageName: request.packageName, dryRun: request.dryRun, entries }
}

export function formatRestoreReport(result: RestoreResult): string {
  const rows = result.entries.map((e) => [
    String(e.id),
    e.digest ? e.digest.slice(0, 19) : "-",
    e.tags?.length ? e.tags.join(",") : "-",
    e.outcome,
    e.reason,
  ])
  const header = ["ID", "DIGEST", "TAGS", "OUTCOME", "REASON"]
  const widths = header.map((h, i) =>
    Math.min(i === 2 ? 48 : 200, Math.max(h.length, ...rows.map((r) => r[i]!.length))),
  )
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd()
  const n = (o: RestoreOutcome) => result.entries.filter((e) => e.outcome === o).length
  const counts = (
    result.dryRun
      ? [
          [n("would-restore"), "would be restored"],
          [n("already-present"), "already present"],
          [n("refused"), "would be refused"],
        ]
      : [
          [n("restored"), "restored"],
          [n("already-present"), "already present"],
          [n("refused"), "refused"],
          [n("not-attempted"), "not attempted"],
        ]
  ) as [number, string][]
  const summary = `${result.owner.login}/${result.packageName}: ${result.entries.length} version${result.entries.length === 1 ? "" : "s"} asked for: ${counts
    .filter(([c], i) => c > 0 || i === 0)
    .map(([c, w]) => `${c} ${w}`)
    .join(", ")}${result.dryRun ? " (dry run: nothing was restored)" : ""}`
  return [line(header), ...rows.map(line), "", summary].join("\n")
}

/** Parses the plan (before any request), builds the client, restores, and fails when any was not restored. */
export async function restoreWithToken(
  args: RestoreArgs,
  files: { readonly plan?: string; readonly journal?: string },
  token: string,
  log: (line: string) => void,
  options: { msPerSecond?: number } = {},
): Promise<string> {
  const fromPlan = files.plan === undefined ? [] : idsFromPlan(files.plan, args)
  const fromJournal =
    files.journal === undefined ? [] : idsFromJournal(files.journal, `${args.owner}/${args.packageName}`)
  const ids = [...new Set([...args.ids, ...fromPlan, ...fromJournal])]
  if (ids.length === 0)
    throw new InvalidArgumentError(
      files.plan === undefined ? "journal" : "plan",
      "(no deleted versions)",
      "lists no deleted version of this package: nothing to restore",
    )
  const github = createGitHubClient({ token, baseUrl: args.githubApiUrl, log, msPerSecond: options.msPerSecond })
  const result = await runRestore(
    github,
    { owner: args.owner, packageName: args.packageName, ids, dryRun: args.dryRun },
    log,
  )
  const report = formatRestoreReport(result)
  const failed = result.entries.filter((e) => e.outcome === "refused" || e.outcome === "not-attempted").length
  if (failed > 0)
    throw new Error(
      `${report}\n\n${failed} of ${result.entries.length} version${result.entries.length === 1 ? "" : "s"} could not be restored${result.dryRun ? " (dry run)" : ""}`,
    )
  return report
}
