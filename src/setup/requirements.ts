/**
 * From what the workflows need to what the setup check looks for: one requirement per thing a
 * person must create or fix, each with the scopes where GitHub would find it, the one
 * docs/operations.md advises, and the environments' deployment rules. Pure.
 */
import {
  type KnownEnvironment,
  KNOWN_ENVIRONMENTS,
  KNOWN_SECRETS,
  KNOWN_VARIABLES,
  known,
  type Scope,
} from "./known.js"
import { type EnvironmentNeed, type Use, type ValueNeed, type WorkflowNeeds } from "./needs.js"

interface Base {
  readonly purpose?: string
  readonly uses: readonly Use[]
}

/** An environment that must exist. */
export interface EnvironmentRequirement extends Base {
  readonly kind: "environment"
  readonly environment: string
}

/** Which refs may deploy to an environment (its deployment branch and tag rules). */
export interface RefsRequirement extends Base {
  readonly kind: "deployment-refs"
  readonly environment: string
  readonly refs: KnownEnvironment["refs"]
}

/** Required reviewers on an environment, with self-review prevented. */
export interface ReviewersRequirement extends Base {
  readonly kind: "reviewers"
  readonly environment: string
}

/** A secret or variable that must be stored where the jobs that read it find it. */
export interface ValueRequirement extends Base {
  readonly kind: "secret" | "variable"
  readonly name: string
  /**
   * The environments whose own secret (variable) would serve: the environment scope counts only
   * when every one of them has it. Empty when something outside any environment reads it.
   */
  readonly environments: readonly string[]
  /** Where GitHub would find it for these jobs. */
  readonly scopes: readonly Scope[]
  /** Where docs/operations.md says to store it (the `gh` command to create it uses this). */
  readonly preferred: Scope
  /** Where it must not be, though the jobs would find it there. */
  readonly forbidden: readonly Scope[]
  readonly optional: boolean
  readonly fallback?: string
  /** How to feed `gh secret set` the value, when known. */
  readonly input?: string
  /** Why a repository of an organisation needs it even though it is optional. */
  readonly organisationNeedsIt?: string
}

export type Requirement = EnvironmentRequirement | RefsRequirement | ReviewersRequirement | ValueRequirement

/** What the setup check looks for, and what it cannot check as such (said in words). */
export interface SetupRequirements {
  readonly requirements: readonly Requirement[]
  readonly notes: readonly string[]
}

/** The uses of a value in the jobs of one environment. */
function usesIn(value: ValueNeed, environment: EnvironmentNeed): Use[] {
  return value.uses.filter((u) => environment.uses.some((e) => e.file === u.file && e.job === u.job))
}

/** The uses of a value outside any environment: the workflow's own env, or a job in none. */
function usesOutside(value: ValueNeed, needs: WorkflowNeeds): Use[] {
  return value.uses.filter(
    (u) =>
      u.job === undefined || !needs.environments.some((e) => e.uses.some((x) => x.file === u.file && x.job === u.job)),
  )
}

/** The requirements of one secret or variable, and a note when it is read where it may not be stored. */
function valueRequirements(value: ValueNeed, needs: WorkflowNeeds, notes: string[]): ValueRequirement[] {
  const entry = known(value.kind === "secret" ? KNOWN_SECRETS : KNOWN_VARIABLES, value.name)
  const forbidden = entry?.forbidden ?? []
  const common = {
    kind: value.kind,
    name: value.name,
    ...(value.purpose !== undefined ? { purpose: value.purpose } : {}),
    forbidden,
    optional: value.optional,
    ...(value.fallback !== undefined ? { fallback: value.fallback } : {}),
    ...(entry?.input !== undefined ? { input: entry.input } : {}),
    ...(entry?.organisationNeedsIt !== undefined ? { organisationNeedsIt: entry.organisationNeedsIt } : {}),
  }
  const found: ValueRequirement[] = []
  if (entry?.scope === "environment") {
    // One per environment: each namespace has its own kubeconfig, each retention job its own token.
    for (const name of value.environments) {
      const environment = needs.environments.find((e) => e.name === name)!
      found.push({
        ...common,
        environments: [name],
        scopes: ["environment"],
        preferred: "environment",
        uses: usesIn(value, environment),
      })
    }
    if (value.outside) {
      const outside = usesOutside(value, needs)
      const where = outside.map((u) => (u.job ? `job ${u.job} of ${u.file}` : `the env of ${u.file}`)).join(", ")
      const scopes = (["repository", "organisation"] as const).filter((s) => !forbidden.includes(s))
      if (scopes.length === 0)
        notes.push(
          `${value.kind} ${value.name} is read by ${where}, which runs in no environment: it would need a repository or organisation ${value.kind}, which docs/operations.md forbids; run that job in an environment`,
        )
      else found.push({ ...common, environments: [], scopes, preferred: "repository", uses: outside })
    }
    return found
  }
  const environments = value.outside ? [] : value.environments
  return [
    {
      ...common,
      environments,
      scopes: [...(environments.length > 0 ? (["environment"] as const) : []), "repository", "organisation"],
      preferred: entry?.scope ?? "repository",
      uses: value.uses,
    },
  ]
}

/**
 * Everything the workflows need, as requirements: each environment (and, for one the check knows,
 * its deployment rules and reviewers), then each secret and variable. A secret docs/operations.md
 * keeps per environment (KUBECONFIG, GHCR_RETENTION_TOKEN) is one requirement per environment.
 */
export function setupRequirements(needs: WorkflowNeeds): SetupRequirements {
  const requirements: Requirement[] = []
  const notes = [...needs.notes]
  for (const environment of needs.environments) {
    const base = {
      environment: environment.name,
      ...(environment.purpose !== undefined ? { purpose: environment.purpose } : {}),
      uses: environment.uses,
    }
    requirements.push({ kind: "environment", ...base })
    const rules = Object.hasOwn(KNOWN_ENVIRONMENTS, environment.name) ? KNOWN_ENVIRONMENTS[environment.name] : undefined
    if (rules) {
      requirements.push({ kind: "deployment-refs", ...base, refs: rules.refs })
      if (rules.reviewers) requirements.push({ kind: "reviewers", ...base })
    }
  }
  for (const value of [...needs.secrets, ...needs.variables])
    requirements.push(...valueRequirements(value, needs, notes))
  return { requirements, notes }
}

/** A requirement in a few words: `environment secret KUBECONFIG in meetinity-prod`. */
export function describeRequirement(r: Requirement): string {
  switch (r.kind) {
    case "environment":
      return `environment ${r.environment}`
    case "deployment-refs":
      return `deployment rules of ${r.environment}`
    case "reviewers":
      return `required reviewers of ${r.environment}`
    default:
      return r.preferred === "environment" && r.environments.length === 1
        ? `environment ${r.kind} ${r.name} in ${r.environments[0]}`
        : `${r.preferred === "organisation" ? "organisation" : "repository"} ${r.kind} ${r.name}`
  }
}
