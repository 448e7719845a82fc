/**
 * The setup check's decisions: each requirement against what the repository has, as present,
 * missing, optional and not set, wrong (there, but where or how docs/operations.md says it must
 * not be), or unchecked (a listing the token could not read). Pure.
 */
import { type ObservedEnvironment, type ObservedSetup, type RefRule } from "./check.js"
import { type Listing } from "./listing.js"
import { type Scope } from "./known.js"
import { type Requirement, type ValueRequirement } from "./requirements.js"

export type Status = "present" | "missing" | "optional" | "wrong" | "unchecked"

/** One requirement, judged. */
export interface Finding {
  readonly requirement: Requirement
  readonly status: Status
  /** For a secret or variable: the scopes it was found in (whether they count or not). */
  readonly foundIn?: readonly Scope[]
  /** Why, in words: what is wrong, what could not be read. Never a value. */
  readonly detail?: string
}

/** Whether a listing has the name, or why it cannot be told. */
type Answer = boolean | { readonly unreadable: string }

function has(listing: Listing<string> | undefined, name: string): Answer {
  if (listing === undefined) return false
  return "unreadable" in listing ? listing : listing.items.includes(name.toUpperCase())
}

function environmentOf(
  observed: ObservedSetup,
  name: string,
): ObservedEnvironment | undefined | { unreadable: string } {
  const listing = observed.environments
  if (listing === undefined) return undefined
  if ("unreadable" in listing) return listing
  return listing.items.find((e) => e.name.toLowerCase() === name.toLowerCase())
}

/** The environment scope: every environment of the requirement has the name in its own listing. */
function inEnvironments(observed: ObservedSetup, r: ValueRequirement): Answer {
  let unknown: { unreadable: string } | undefined
  for (const name of r.environments) {
    const environment = environmentOf(observed, name)
    if (environment === undefined) return false
    if ("unreadable" in environment) {
      unknown ??= environment
      continue
    }
    const answer = has(r.kind === "secret" ? environment.secrets : environment.variables, r.name)
    if (answer === false) return false
    if (answer !== true) unknown ??= answer
  }
  return unknown ?? r.environments.length > 0
}

const SCOPE_WORDS: Record<Scope, string> = {
  environment: "an environment",
  repository: "a repository",
  organisation: "an organisation",
}

function judgeValue(observed: ObservedSetup, r: ValueRequirement): Omit<Finding, "requirement"> {
  const answers: Record<Scope, Answer> = {
    environment: r.environments.length > 0 ? inEnvironments(observed, r) : false,
    repository: has(r.kind === "secret" ? observed.repositorySecrets : observed.repositoryVariables, r.name),
    organisation: has(r.kind === "secret" ? observed.organisationSecrets : observed.organisationVariables, r.name),
  }
  const scopes = Object.keys(answers) as Scope[]
  const foundIn = scopes.filter((s) => answers[s] === true)
  const found = foundIn.length > 0 ? { foundIn } : {}
  const forbidden = foundIn.filter((s) => r.forbidden.includes(s))
  if (forbidden.length > 0)
    return {
      status: "wrong",
      ...found,
      detail: `it is ${forbidden.map((s) => `${SCOPE_WORDS[s]} ${r.kind}`).join(" and ")}: every job ${forbidden.includes("organisation") ? "of every repository it is shared with" : "of this repository"}, on any branch, can read it; docs/operations.md keeps it in its environments only`,
    }
  if (foundIn.some((s) => r.scopes.includes(s))) {
    const elsewhere = foundIn.includes(r.preferred) ? undefined : foundIn.find((s) => r.scopes.includes(s))
    return {
      status: "present",
      ...found,
      ...(elsewhere
        ? {
            detail: `as ${SCOPE_WORDS[elsewhere]} ${r.kind} (docs/operations.md: ${SCOPE_WORDS[r.preferred]} ${r.kind})`,
          }
        : {}),
    }
  }
  const unknown = r.scopes.map((s) => answers[s]).find((a): a is { unreadable: string } => typeof a === "object")
  if (unknown) return { status: "unchecked", detail: `could not check: ${unknown.unreadable}` }
  if (foundIn.length > 0)
    return {
      status: "wrong",
      ...found,
      detail: `only ${SCOPE_WORDS[foundIn[0]!]} ${r.kind} has that name, which every environment would share: ${r.environments.join(", ")} needs its own environment ${r.kind}`,
    }
  // Where an environment's own secret is what docs/operations.md asks for, a missing environment is why.
  const absent =
    r.preferred === "environment" ? r.environments.filter((e) => environmentOf(observed, e) === undefined) : []
  const why =
    absent.length === 0
      ? undefined
      : absent.length === 1
        ? `environment ${absent[0]} does not exist`
        : `environments ${absent.join(", ")} do not exist`
  if (r.optional && r.organisationNeedsIt !== undefined && observed.ownerType === "Organization")
    return { status: "missing", detail: `${r.organisationNeedsIt}${why ? `; ${why}` : ""}` }
  if (r.optional)
    return {
      status: "optional",
      detail: `the workflows use ${r.fallback ?? "their default"} without it${why ? ` (${why})` : ""}`,
    }
  return { status: "missing", ...(why ? { detail: why } : {}) }
}

function describeRules(rules: readonly RefRule[]): string {
  return rules.length === 0
    ? "no rule"
    : rules
        .map((r) => `${r.type} ${r.name}`)
        .sort()
        .join(", ")
}

function judgeRefs(
  observed: ObservedSetup,
  environment: ObservedEnvironment,
  refs: Extract<Requirement, { kind: "deployment-refs" }>["refs"],
): Omit<Finding, "requirement"> {
  const expected: RefRule[] =
    refs === "default-branch"
      ? [{ type: "branch", name: observed.defaultBranch }]
      : refs.tags.map((name) => ({ type: "tag", name }))
  const wanted = `expected only ${describeRules(expected)}`
  const policy = environment.branchPolicy
  if (policy === null) return { status: "wrong", detail: `every branch and tag may deploy to it; ${wanted}` }
  if (policy.protectedBranches) return { status: "wrong", detail: `any protected branch may deploy to it; ${wanted}` }
  if (environment.rules === undefined)
    return { status: "wrong", detail: `no branch or tag may deploy to it; ${wanted}` }
  if ("unreadable" in environment.rules)
    return { status: "unchecked", detail: `could not check: ${environment.rules.unreadable}` }
  const key = (r: RefRule) => `${r.type} ${r.name}`
  const rules = environment.rules.items
  const same = rules.length === expected.length && expected.every((e) => rules.some((r) => key(r) === key(e)))
  return same ? { status: "present" } : { status: "wrong", detail: `it allows ${describeRules(rules)}; ${wanted}` }
}

function isValue(r: Requirement): r is ValueRequirement {
  return r.kind === "secret" || r.kind === "variable"
}

/** Judges one requirement against what the repository has. */
export function judge(observed: ObservedSetup, r: Requirement): Finding {
  if (isValue(r)) return { requirement: r, ...judgeValue(observed, r) }
  const environment = environmentOf(observed, r.environment)
  if (environment !== undefined && "unreadable" in environment)
    return { requirement: r, status: "unchecked", detail: `could not check: ${environment.unreadable}` }
  if (environment === undefined)
    return {
      requirement: r,
      status: "missing",
      ...(r.kind === "environment" ? {} : { detail: `environment ${r.environment} does not exist` }),
    }
  switch (r.kind) {
    case "environment":
      return { requirement: r, status: "present" }
    case "deployment-refs":
      return { requirement: r, ...judgeRefs(observed, environment, r.refs) }
    case "reviewers":
      if (!environment.reviewers || environment.reviewers.count === 0)
        return { requirement: r, status: "missing", detail: "no required reviewers" }
      return environment.reviewers.preventSelfReview
        ? { requirement: r, status: "present" }
        : {
            requirement: r,
            status: "wrong",
            detail: "reviewers may approve a run they started themselves: prevent self-review is off",
          }
  }
}

/** Every requirement, judged, in the requirements' order. */
export function judgeSetup(observed: ObservedSetup, requirements: readonly Requirement[]): Finding[] {
  return requirements.map((r) => judge(observed, r))
}
