/**
 * The setup check's adapter: what a repository has, read from GitHub's REST API by name only (the
 * secrets API never returns values; the variables API does, and they are dropped as they arrive).
 * Its environments with their deployment rules and reviewers, each environment's secrets and
 * variables, the repository's, and the organisation's that are shared with the repository, every
 * page (`per_page`, `Link: rel="next"`). A listing the token may not read (403, 404) is recorded
 * as unreadable, with the permission it needs: the rest of the check goes on.
 */
import { mapLimit } from "../common/concurrency.js"
import { Steps } from "../common/steps.js"
import { explain, type GitHubClient, statusOf } from "../github/client.js"
import { isRecord, type Listing, LISTING_NEEDS, listAll, type ListKey, names } from "./listing.js"
import { type Requirement } from "./requirements.js"

/** One deployment branch or tag rule of an environment. */
export interface RefRule {
  readonly name: string
  readonly type: "branch" | "tag"
}

/** One environment of the repository, as far as the check needs it. */
export interface ObservedEnvironment {
  readonly name: string
  /** `deployment_branch_policy`: null when every branch and tag may deploy. */
  readonly branchPolicy: { readonly protectedBranches: boolean; readonly customBranchPolicies: boolean } | null
  /** Its branch and tag rules, read when the policy is custom and a requirement looks at them. */
  readonly rules?: Listing<RefRule>
  /** Its required reviewers rule, if any. */
  readonly reviewers?: { readonly count: number; readonly preventSelfReview: boolean }
  /** Its secrets' names, read when a requirement could be met there. */
  readonly secrets?: Listing<string>
  /** Its variables' names, likewise. */
  readonly variables?: Listing<string>
}

/** What the repository has. A listing no requirement needs is not read (undefined). */
export interface ObservedSetup {
  /** `owner/name` as GitHub spells it. */
  readonly repository: string
  readonly ownerType: "Organization" | "User"
  readonly defaultBranch: string
  readonly environments?: Listing<ObservedEnvironment>
  readonly repositorySecrets?: Listing<string>
  /** The organisation's secrets this repository may use (none for a user's repository: undefined). */
  readonly organisationSecrets?: Listing<string>
  readonly repositoryVariables?: Listing<string>
  readonly organisationVariables?: Listing<string>
}

/** The steps of a setup check, as spans and records. */
export const SETUP_STEP = {
  repository: "read repository",
  list: "list",
} as const

/** An environment as the listing (or `GET .../environments/{name}`) gives it. */
function environmentOf(item: Record<string, unknown>): ObservedEnvironment {
  const policy = item.deployment_branch_policy
  const rules = Array.isArray(item.protection_rules) ? item.protection_rules.filter(isRecord) : []
  const reviewers = rules.find((r) => r.type === "required_reviewers")
  return {
    name: String(item.name),
    branchPolicy: isRecord(policy)
      ? {
          protectedBranches: policy.protected_branches === true,
          customBranchPolicies: policy.custom_branch_policies === true,
        }
      : null,
    ...(reviewers
      ? {
          reviewers: {
            count: Array.isArray(reviewers.reviewers) ? reviewers.reviewers.length : 0,
            preventSelfReview: reviewers.prevent_self_review === true,
          },
        }
      : {}),
  }
}

/** Splits `owner/name`; the caller has checked its form. */
function split(repository: string): { owner: string; repo: string } {
  const [owner, repo] = repository.split("/") as [string, string]
  return { owner, repo }
}

/** The repository itself: it must exist and be visible to the token, or nothing else can be checked. */
async function readRepository(client: GitHubClient, repository: string) {
  try {
    return (await client.request("GET /repos/{owner}/{repo}", split(repository))).data
  } catch (error) {
    if (statusOf(error) === 404)
      throw new Error(
        `repository ${repository} was not found, or the token cannot see it (GET /repos/${repository} answered 404): check the name, and that the token may read the repository (the repo scope for a private one)`,
      )
    throw explain(error, `reading repository ${repository}`)
  }
}

const ENVIRONMENT = "/repos/{owner}/{repo}/environments/{environment_name}"

/**
 * Reads what the requirements look at, and nothing more: the repository (it must exist and be
 * visible to the token, or this throws), then each listing a requirement could be met by, a few
 * at a time.
 */
export async function readSetup(
  client: GitHubClient,
  repository: string,
  requirements: readonly Requirement[],
  options: { readonly steps?: Steps } = {},
): Promise<ObservedSetup> {
  const steps = options.steps ?? new Steps()
  const at = { "github.repository": repository }
  const data = await steps.run(SETUP_STEP.repository, { attributes: at }, () => readRepository(client, repository))
  const list = (what: string, route: string, key: ListKey, needs: string, params: Record<string, string> = {}) =>
    steps.run(
      `${SETUP_STEP.list} ${what}`,
      {
        attributes: at,
        result: (l: Listing<Record<string, unknown>>) => ({
          detail: "unreadable" in l ? "could not read" : `${l.items.length} listed`,
          attributes: { "setup.listed": "unreadable" in l ? -1 : l.items.length },
        }),
      },
      () => listAll(client, route, { ...split(repository), ...params }, key, needs),
    )
  const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase()
  const wants = (kind: Requirement["kind"], environment?: string) =>
    requirements.some(
      (r) =>
        r.kind === kind &&
        (environment === undefined ||
          ("environment" in r ? same(r.environment, environment) : r.environments.some((e) => same(e, environment)))),
    )

  /** One environment: its rules when a requirement looks at them, its secrets and variables when one could be met there. */
  const readEnvironment = async (item: Record<string, unknown>): Promise<ObservedEnvironment> => {
    const name = String(item.name)
    const params = { environment_name: name }
    let environment = environmentOf(item)
    // The listing carries deployment_branch_policy; a server that leaves it out is asked for the environment itself.
    if (!("deployment_branch_policy" in item)) {
      try {
        const answer = await client.request(`GET ${ENVIRONMENT}`, { ...split(repository), ...params })
        environment = environmentOf(answer.data as Record<string, unknown>)
      } catch (error) {
        throw explain(error, `reading environment ${name} of ${repository}`)
      }
    }
    const [rules, secrets, variables] = await Promise.all([
      wants("deployment-refs", name) && environment.branchPolicy?.customBranchPolicies
        ? list(
            `deployment rules of ${name}`,
            `${ENVIRONMENT}/deployment-branch-policies`,
            "branch_policies",
            LISTING_NEEDS.environments,
            params,
          )
        : undefined,
      wants("secret", name)
        ? list(
            `secrets of ${name}`,
            `${ENVIRONMENT}/secrets`,
            "secrets",
            LISTING_NEEDS.environmentSecrets,
            params,
          ).then(names)
        : undefined,
      wants("variable", name)
        ? list(
            `variables of ${name}`,
            `${ENVIRONMENT}/variables`,
            "variables",
            LISTING_NEEDS.environmentVariables,
            params,
          ).then(names)
        : undefined,
    ])
    const rule = (r: Record<string, unknown>): RefRule => ({
      name: String(r.name),
      type: r.type === "tag" ? "tag" : "branch",
    })
    return {
      ...environment,
      ...(rules ? { rules: "unreadable" in rules ? rules : { items: rules.items.map(rule) } } : {}),
      ...(secrets ? { secrets } : {}),
      ...(variables ? { variables } : {}),
    }
  }

  const readEnvironments = async (): Promise<Listing<ObservedEnvironment>> => {
    const listing = await list(
      "environments",
      "/repos/{owner}/{repo}/environments",
      "environments",
      LISTING_NEEDS.environments,
    )
    if ("unreadable" in listing) return listing
    const needed = listing.items.filter((item) =>
      requirements.some((r) =>
        ("environment" in r ? [r.environment] : r.environments).some((e) => same(e, String(item.name))),
      ),
    )
    return { items: await mapLimit(needed, 4, readEnvironment) }
  }

  const organisation = data.owner.type === "Organization"
  const secrets = wants("secret")
  const variables = wants("variable")
  const [environments, repositorySecrets, organisationSecrets, repositoryVariables, organisationVariables] =
    await Promise.all([
      requirements.some((r) => "environment" in r || r.environments.length > 0) ? readEnvironments() : undefined,
      secrets
        ? list("repository secrets", "/repos/{owner}/{repo}/actions/secrets", "secrets", LISTING_NEEDS.secrets).then(
            names,
          )
        : undefined,
      secrets && organisation
        ? list(
            "organisation secrets",
            "/repos/{owner}/{repo}/actions/organization-secrets",
            "secrets",
            LISTING_NEEDS.secrets,
          ).then(names)
        : undefined,
      variables
        ? list(
            "repository variables",
            "/repos/{owner}/{repo}/actions/variables",
            "variables",
            LISTING_NEEDS.variables,
          ).then(names)
        : undefined,
      variables && organisation
        ? list(
            "organisation variables",
            "/repos/{owner}/{repo}/actions/organization-variables",
            "variables",
            LISTING_NEEDS.variables,
          ).then(names)
        : undefined,
    ])
  return {
    repository: data.full_name,
    ownerType: organisation ? "Organization" : "User",
    defaultBranch: data.default_branch,
    ...(environments ? { environments } : {}),
    ...(repositorySecrets ? { repositorySecrets } : {}),
    ...(organisationSecrets ? { organisationSecrets } : {}),
    ...(repositoryVariables ? { repositoryVariables } : {}),
    ...(organisationVariables ? { organisationVariables } : {}),
  }
}
