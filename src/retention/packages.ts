/**
 * A `retain` call: the clients built once for its token, then every package of the run, one after
 * another, each listed, planned, applied and validated on its own, and the report of them all.
 */
import { createGitHubClient, type GitHubClient, type RequestCounter } from "../github/client.js"
import { type PackageOwner, resolveOwner } from "../github/packages.js"
import { RegistryClient } from "../oci/client.js"
import { type RetainArgs } from "./inputs.js"
import { formatReport, reportObject } from "./report.js"
import { type PlanSection } from "./reviewed.js"
import { runRetention } from "./run.js"
import { type RetentionResult } from "./report.js"

/** One package's part of a run: its result, or why it failed. */
export interface PackageOutcome {
  readonly packageName: string
  readonly result?: RetentionResult
  readonly error?: Error
}

/**
 * Runs retention for every package of the run, one after another, each listed, planned, applied
 * and validated on its own. A failure in one stops deletions in none of the others; one GitHub
 * client (and so one request budget) serves them all.
 */
export async function retainPackages(
  args: RetainArgs,
  clients: { github: GitHubClient; counter: RequestCounter; registry: RegistryClient },
  log: (line: string) => void,
  now: Date,
  plans?: ReadonlyMap<string, PlanSection>,
): Promise<PackageOutcome[]> {
  let owner: PackageOwner | undefined
  const outcomes: PackageOutcome[] = []
  for (const packageName of args.packages) {
    try {
      owner ??= await resolveOwner(clients.github, args.owner)
      const result = await runRetention(
        {
          github: clients.github,
          registry: clients.registry,
          repository: `${args.owner.toLowerCase()}/${packageName}`,
          log,
          owner,
          counter: clients.counter,
        },
        {
          owner: args.owner,
          packageName,
          policy: args.policy,
          dryRun: args.dryRun,
          maxDeletions: args.maxDeletions,
          now,
          reviewed: plans?.get(packageName),
          maxRequests: args.maxRequests,
          quotaReserve: args.quotaReserve,
          githubApiUrl: args.githubApiUrl,
          restoreWith: args.restoreWith,
        },
      )
      outcomes.push({ packageName, result })
    } catch (error) {
      outcomes.push({ packageName, error: error as Error })
    }
  }
  return outcomes
}

/** The run's report: one package as before; several as one section each, or `{"packages": [...]}`. Throws when any package failed. */
export function renderPackages(args: RetainArgs, outcomes: readonly PackageOutcome[], json: boolean): string {
  if (!args.several) {
    const [only] = outcomes
    if (only!.error) throw only!.error
    return json ? JSON.stringify(reportObject(only!.result!), null, 2) : formatReport(only!.result!)
  }
  const failed = outcomes.filter((o) => o.error)
  const section = (o: PackageOutcome) =>
    `== ${args.owner}/${o.packageName} ==\n${o.error ? `FAILED\n${o.error.message}` : formatReport(o.result!)}`
  if (failed.length > 0) {
    const summary = `${failed.length} of ${outcomes.length} packages failed: ${failed.map((o) => o.packageName).join(", ")} (the others ran to the end)`
    throw new Error(
      `retain failed: ${summary}; each failed package says below what happened, what this run deleted and how to restore it.\n\n${outcomes.map(section).join("\n\n")}\n\n${summary}`,
    )
  }
  return json
    ? JSON.stringify(
        { format: "meetinity-release/retention-reports/v1", packages: outcomes.map((o) => reportObject(o.result!)) },
        null,
        2,
      )
    : outcomes.map(section).join("\n\n")
}

/** Builds the GitHub and registry clients for one token and runs retention with them. */
export async function retainWithToken(
  args: RetainArgs,
  token: string,
  log: (line: string) => void,
  now: Date,
  options: { plans?: ReadonlyMap<string, PlanSection>; json?: boolean; msPerSecond?: number } = {},
): Promise<string> {
  const counter: RequestCounter = { requests: 0 }
  const github = createGitHubClient({
    token,
    baseUrl: args.githubApiUrl,
    log,
    counter,
    msPerSecond: options.msPerSecond,
    // A DELETE refused for the quota stops the run cleanly (the rest is left for the next run):
    // waiting an hour for the reset would only hold the job.
    writesWaitForQuota: false,
  })
  const registry = new RegistryClient(
    args.registry,
    { username: args.registryUsername, password: token },
    { msPerSecond: options.msPerSecond },
  )
  const outcomes = await retainPackages(args, { github, counter, registry }, log, now, options.plans)
  return renderPackages(args, outcomes, options.json ?? false)
}
