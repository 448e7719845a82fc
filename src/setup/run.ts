/**
 * A `setupCheck` call: its arguments checked before any request, the workflow files read from a
 * directory, what they need worked out, what the repository has read with one GitHub client, and
 * the report. The setup check a new organisation runs first: it changes nothing.
 */
import { check } from "../common/errors.js"
import { parseOwner } from "../common/names.js"
import { Steps } from "../common/steps.js"
import { createGitHubClient, parseGitHubApiUrl } from "../github/client.js"
import { readSetup } from "./check.js"
import { judgeSetup } from "./judge.js"
import { workflowNeeds } from "./needs.js"
import { renderSetupReport } from "./report.js"
import { setupRequirements } from "./requirements.js"

export interface SetupCheckArgs {
  /** `owner/name`. */
  readonly repository: string
  readonly githubApiUrl: string
  readonly format: "table" | "json"
}

/** Checks a setup check's arguments; each refusal names the argument, quotes the value and says what is expected. */
export function parseSetupArgs(raw: { repository: string; githubApiUrl: string; format: string }): SetupCheckArgs {
  const parts = raw.repository.split("/")
  check(
    parts.length === 2 && /^[A-Za-z0-9._-]{1,100}$/.test(parts[1]!) && parts[1] !== "." && parts[1] !== "..",
    "repository",
    raw.repository,
    "is not a repository: expected owner/name, e.g. meetinity/api-gateway",
  )
  parseOwner(parts[0]!, "repository")
  check(
    raw.format === "table" || raw.format === "json",
    "format",
    raw.format,
    "is not a report format: expected table or json",
  )
  return {
    repository: raw.repository,
    githubApiUrl: parseGitHubApiUrl(raw.githubApiUrl),
    format: raw.format as "table" | "json",
  }
}

/** What the check reads of a directory: a Dagger Directory fits. */
export interface WorkflowDirectory {
  entries(): Promise<string[]>
  file(path: string): { contents(): Promise<string> }
  directory(path: string): WorkflowDirectory
}

/**
 * The workflow files of a directory, by name: its `*.yml` and `*.yaml`, or those of its
 * `.github/workflows` when it is a repository's root. Refuses a directory without any.
 */
export async function workflowTexts(dir: WorkflowDirectory, argument = "workflows"): Promise<Record<string, string>> {
  let entries = await dir.entries()
  let from = dir
  if (entries.includes(".github/") || entries.includes(".github")) {
    from = dir.directory(".github/workflows")
    entries = await from.entries()
  }
  const files = entries.filter((e) => /\.ya?ml$/.test(e)).sort()
  check(
    files.length > 0,
    argument,
    entries,
    "has no workflow file (*.yml, *.yaml): expected the service repository's .github/workflows directory, or its root",
  )
  const texts: Record<string, string> = {}
  for (const file of files) texts[file] = await from.file(file).contents()
  return texts
}

/**
 * Runs the setup check: what the workflow texts need, read against what the repository has, with
 * one GitHub client for `token`. Returns the report in the asked format; throws only when the
 * repository cannot be read at all (not found, bad token, GitHub unreachable).
 */
export async function runSetupCheck(
  args: SetupCheckArgs,
  workflows: Readonly<Record<string, string>>,
  token: string,
  log: (line: string) => void,
  options: { readonly msPerSecond?: number; readonly steps?: Steps } = {},
): Promise<string> {
  const { requirements, notes } = setupRequirements(workflowNeeds(workflows))
  const client = createGitHubClient({ token, baseUrl: args.githubApiUrl, log, msPerSecond: options.msPerSecond })
  const observed = await readSetup(client, args.repository, requirements, { steps: options.steps ?? new Steps() })
  const target = {
    repository: observed.repository,
    ownerType: observed.ownerType,
    defaultBranch: observed.defaultBranch,
  }
  return renderSetupReport({ target, findings: judgeSetup(observed, requirements), notes }, args.format)
}
