/**
 * What the workflow templates' secrets, variables and environments are for, and where
 * docs/operations.md ("One-time setup") says each belongs: the names the setup check knows. A name
 * the workflows read that is not here is still checked; it only has no purpose to show.
 */

/** Where a secret or variable can be stored for a workflow to read it. */
export type Scope = "environment" | "repository" | "organisation"

/** A secret or variable the templates read. */
export interface KnownValue {
  /** What it is for, in one line. */
  readonly purpose: string
  /** Where docs/operations.md says to store it. */
  readonly scope: Scope
  /** Scopes where it must not be: a value there is reported as wrong even when the workflows would work. */
  readonly forbidden?: readonly Scope[]
  /** How to give `gh secret set` its value (a file to redirect from); it asks for it otherwise. */
  readonly input?: string
  /** Why an organisation's repository needs it although the workflows have a fallback. */
  readonly organisationNeedsIt?: string
}

/** A GitHub environment the templates run jobs in, with its deployment rules. */
export interface KnownEnvironment {
  readonly purpose: string
  /**
   * Which refs may deploy: only tags matching these patterns (the deploy environments), or only the
   * repository's default branch (the retention environments).
   */
  readonly refs: { readonly tags: readonly string[] } | "default-branch"
  /** Required reviewers, who may not approve a run they started themselves. */
  readonly reviewers: boolean
}

/** Secrets GitHub provides to every run: never stored by anyone, never checked. */
export const AUTOMATIC_SECRETS: ReadonlySet<string> = new Set(["GITHUB_TOKEN"])

export const KNOWN_SECRETS: Readonly<Record<string, KnownValue>> = {
  KUBECONFIG: {
    purpose:
      "the namespace's kubeconfig (what `kubectl config view --flatten --minify` prints): self-contained (a service-account token or a client certificate, no exec plugin), allowed to create Secrets and the chart's objects in that namespace",
    scope: "environment",
    input: "< kubeconfig.yaml",
  },
  GHCR_READER_USERNAME: {
    purpose: "the GitHub user the clusters pull images as (a machine user)",
    scope: "organisation",
  },
  GHCR_READER_TOKEN: {
    purpose: "that user's personal access token (classic) with read:packages only: each namespace's ghcr-pull-secret",
    scope: "organisation",
  },
  GHCR_RETENTION_TOKEN: {
    purpose:
      "the token that deletes package versions: a personal access token (classic) with read:packages, write:packages and delete:packages of a user with admin rights on the packages (without it, retention uses GITHUB_TOKEN)",
    scope: "environment",
    forbidden: ["repository", "organisation"],
    organisationNeedsIt:
      "the fallback, GITHUB_TOKEN, cannot list an organisation's packages (docs/operations.md): an organisation's package needs this token",
  },
}

export const KNOWN_VARIABLES: Readonly<Record<string, KnownValue>> = {
  MEETINITY_RELEASE_MODULE: {
    purpose:
      "the meetinity-release module every workflow calls (github.com/meetinity/meetinity-release@vX.Y.Z), overriding the workflows' pinned default",
    scope: "repository",
  },
}

/** The deploy environments: named like their namespaces, deployed to only from release tags. */
const namespace = (name: string, reviewers: boolean): KnownEnvironment => ({
  purpose: `deploys to namespace ${name}: holds its KUBECONFIG${reviewers ? "; its reviewers approve each deploy after staging is green" : ""}`,
  refs: { tags: ["release/v*"] },
  reviewers,
})

export const KNOWN_ENVIRONMENTS: Readonly<Record<string, KnownEnvironment>> = {
  "meetinity-dev": namespace("meetinity-dev", false),
  "meetinity-staging": namespace("meetinity-staging", false),
  "meetinity-prod": namespace("meetinity-prod", true),
  "ghcr-retention": {
    purpose: "the scheduled retention job: holds GHCR_RETENTION_TOKEN, for runs of the default branch only",
    refs: "default-branch",
    reviewers: false,
  },
  "ghcr-purge": {
    purpose:
      "the reviewed purge's apply job: holds GHCR_RETENTION_TOKEN; its reviewers approve each purge after reading the plan",
    refs: "default-branch",
    reviewers: true,
  },
}

/** Case-insensitive look-up: GitHub's secret and variable names are not case-sensitive. */
export function known<T>(table: Readonly<Record<string, T>>, name: string): T | undefined {
  return Object.hasOwn(table, name.toUpperCase()) ? table[name.toUpperCase()] : undefined
}
