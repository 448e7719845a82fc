/**
 * What a repository's workflows need, read from the workflow files themselves: every environment a
 * job runs in, every `secrets.X` and `vars.X` an expression reads, with the file and job that reads
 * it and, for a name the setup check knows, what it is for. Pure: the texts come in, nothing is read.
 */
import { parse } from "yaml"

import { AUTOMATIC_SECRETS, KNOWN_ENVIRONMENTS, KNOWN_SECRETS, KNOWN_VARIABLES, known } from "./known.js"

/** Where a workflow reads something: its file, and its job (none for the workflow's own `env`). */
export interface Use {
  readonly file: string
  readonly job?: string
}

/** An environment some job runs in. */
export interface EnvironmentNeed {
  readonly name: string
  readonly purpose?: string
  readonly uses: readonly Use[]
  /** The secrets its jobs read (GITHUB_TOKEN aside), sorted. */
  readonly secrets: readonly string[]
  /** The variables its jobs read, sorted. */
  readonly variables: readonly string[]
}

/** A secret or variable some expression reads. */
export interface ValueNeed {
  readonly kind: "secret" | "variable"
  /** Upper case, as GitHub lists names (they are not case-sensitive). */
  readonly name: string
  readonly purpose?: string
  /** The environments of the jobs that read it, sorted. */
  readonly environments: readonly string[]
  /** Whether something outside any environment reads it (a job without one, or the workflow's `env`). */
  readonly outside: boolean
  /** Every read has a fallback: `vars.X || 'default'`, `secrets.X || secrets.GITHUB_TOKEN`. */
  readonly optional: boolean
  /** What the workflows use without it, as written after `||` (a literal without its quotes). */
  readonly fallback?: string
  readonly uses: readonly Use[]
}

export interface WorkflowNeeds {
  readonly environments: readonly EnvironmentNeed[]
  readonly secrets: readonly ValueNeed[]
  readonly variables: readonly ValueNeed[]
  /** What could not be read: a file that is not YAML, an environment named by an expression it cannot resolve. */
  readonly notes: readonly string[]
}

/** A reference in an expression: `secrets.NAME`, `vars.NAME`, or the index form `secrets['NAME']`. */
const REFERENCE = /\b(secrets|vars)\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_]*)|\[\s*'([A-Za-z_][A-Za-z0-9_]*)'\s*\])/g

/** A whole `${{ inputs.NAME }}` (or `github.event.inputs.NAME`): an environment chosen at dispatch. */
const INPUT_EXPRESSION = /^\$\{\{\s*(?:inputs|github\.event\.inputs)\.([A-Za-z_][A-Za-z0-9_-]*)\s*\}\}$/
/** A whole `${{ needs.JOB.outputs.NAME }}`: an environment another job hands on. */
const NEEDS_OUTPUT_EXPRESSION = /^\$\{\{\s*needs\.([A-Za-z_][A-Za-z0-9_-]*)\.outputs\.([A-Za-z_][A-Za-z0-9_-]*)\s*\}\}$/
/** A whole `${{ env.NAME }}`. */
const ENV_EXPRESSION = /^\$\{\{\s*env\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$/

interface Read {
  readonly kind: "secret" | "variable"
  readonly name: string
  readonly optional: boolean
  readonly fallback?: string
}

/**
 * Every secret and variable one expression reads. A reference that is a whole operand of `||`
 * before the last one is optional: the expression goes on without it (`vars.X || 'default'`).
 */
export function expressionReads(expression: string): Read[] {
  const operands = expression.split("||").map((o) => o.trim())
  const reads: Read[] = []
  operands.forEach((operand, i) => {
    for (const match of operand.matchAll(REFERENCE)) {
      const kind = match[1] === "secrets" ? "secret" : "variable"
      const name = (match[2] ?? match[3]!).toUpperCase()
      const whole = match[0] === operand && i < operands.length - 1
      const rest = operands.slice(i + 1).join(" || ")
      reads.push(
        whole
          ? { kind, name, optional: true, fallback: /^'[^']*'$/.test(rest) ? rest.slice(1, -1) : rest }
          : { kind, name, optional: false },
      )
    }
  })
  return reads
}

/** The expressions in a value: each `${{ … }}`, and an `if:` written without one (GitHub reads it as an expression). */
function expressions(value: unknown, key?: string): string[] {
  if (typeof value === "string") {
    const wrapped = [...value.matchAll(/\$\{\{([\s\S]*?)\}\}/g)].map((m) => m[1]!)
    return wrapped.length === 0 && key === "if" ? [value] : wrapped
  }
  if (Array.isArray(value)) return value.flatMap((v) => expressions(v))
  if (isRecord(value)) return Object.entries(value).flatMap(([k, v]) => expressions(v, k))
  return []
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
}

/** The options of each `workflow_dispatch` input of type choice. */
function dispatchChoices(workflow: Record<string, unknown>): Map<string, string[]> {
  const on = workflow.on
  const dispatch = isRecord(on) ? on.workflow_dispatch : undefined
  const inputs = isRecord(dispatch) ? dispatch.inputs : undefined
  const choices = new Map<string, string[]>()
  if (!isRecord(inputs)) return choices
  for (const [name, input] of Object.entries(inputs))
    if (isRecord(input) && input.type === "choice" && Array.isArray(input.options))
      choices.set(name, input.options.map(String))
  return choices
}

/**
 * The environments a job runs in: its `environment` (a name, or `{ name, url }`); a whole
 * `${{ inputs.X }}` where X is a dispatch choice is each of its options. Undefined when the job
 * names one this cannot resolve.
 */
function jobEnvironments(
  job: Record<string, unknown>,
  choices: Map<string, string[]>,
  workflow: Record<string, unknown>,
): string[] | undefined {
  const value = isRecord(job.environment) ? job.environment.name : job.environment
  if (value === undefined || value === null) return []
  if (typeof value !== "string") return undefined
  if (!value.includes("${{")) return [value]
  const input = INPUT_EXPRESSION.exec(value.trim())?.[1]
  if (input !== undefined) return choices.get(input)
  const resolved = jobOutputFromEnv(value, workflow)
  return resolved === undefined ? undefined : [resolved]
}

/**
 * A whole `${{ needs.J.outputs.O }}` whose job J sets O to a whole `${{ env.X }}`, X a plain value of
 * the workflow's `env` block: that value (how cd.yml hands its namespaces to the deploy jobs'
 * `environment`, which cannot read `env` itself). Undefined for anything else.
 */
function jobOutputFromEnv(value: string, workflow: Record<string, unknown>): string | undefined {
  const output = NEEDS_OUTPUT_EXPRESSION.exec(value.trim())
  if (!output || !isRecord(workflow.jobs)) return undefined
  const job = workflow.jobs[output[1]!]
  const outputs = isRecord(job) && isRecord(job.outputs) ? job.outputs : undefined
  const set = outputs?.[output[2]!]
  const name = typeof set === "string" ? ENV_EXPRESSION.exec(set.trim())?.[1] : undefined
  const env = isRecord(workflow.env) && name !== undefined ? workflow.env[name] : undefined
  return typeof env === "string" && !env.includes("${{") ? env : undefined
}

interface Gathered {
  readonly kind: "secret" | "variable"
  readonly name: string
  readonly uses: Use[]
  readonly environments: Set<string>
  outside: boolean
  optional: boolean
  fallback?: string
}

/**
 * What the workflows need. `texts` maps each workflow file's name (`cd.yml`) to its text; a file
 * that is not YAML, or not a workflow, is noted and skipped. GITHUB_TOKEN is not a need: GitHub
 * gives it to every run.
 */
export function workflowNeeds(texts: Readonly<Record<string, string>>): WorkflowNeeds {
  const values = new Map<string, Gathered>()
  const environments = new Map<string, { uses: Use[]; secrets: Set<string>; variables: Set<string> }>()
  const notes: string[] = []

  const note = (read: Read, use: Use, inEnvironments: readonly string[]) => {
    if (read.kind === "secret" && AUTOMATIC_SECRETS.has(read.name)) return
    const key = `${read.kind} ${read.name}`
    const gathered =
      values.get(key) ??
      values
        .set(key, {
          kind: read.kind,
          name: read.name,
          uses: [],
          environments: new Set(),
          outside: false,
          optional: true,
        })
        .get(key)!
    if (!gathered.uses.some((u) => u.file === use.file && u.job === use.job)) gathered.uses.push(use)
    if (inEnvironments.length === 0) gathered.outside = true
    for (const environment of inEnvironments) {
      gathered.environments.add(environment)
      environments.get(environment)![read.kind === "secret" ? "secrets" : "variables"].add(read.name)
    }
    gathered.optional &&= read.optional
    if (read.optional) gathered.fallback ??= read.fallback
  }

  for (const file of Object.keys(texts).sort()) {
    let workflow: unknown
    try {
      workflow = parse(texts[file]!)
    } catch (error) {
      notes.push(`${file} is not valid YAML (${(error as Error).message.split("\n")[0]}): not read`)
      continue
    }
    if (!isRecord(workflow) || !isRecord(workflow.jobs)) {
      notes.push(`${file} has no jobs: not a workflow, not read`)
      continue
    }
    const choices = dispatchChoices(workflow)
    for (const [key, value] of Object.entries(workflow))
      if (key !== "jobs")
        for (const expression of expressions(value, key))
          for (const read of expressionReads(expression)) note(read, { file }, [])

    for (const [job, body] of Object.entries(workflow.jobs)) {
      if (!isRecord(body)) continue
      const use = { file, job }
      let inEnvironments = jobEnvironments(body, choices, workflow)
      if (inEnvironments === undefined) {
        notes.push(
          `job ${job} of ${file} runs in environment ${JSON.stringify(body.environment)}, which this check cannot resolve: its secrets and variables are checked as if it ran in none`,
        )
        inEnvironments = []
      }
      for (const environment of inEnvironments) {
        const need =
          environments.get(environment) ??
          environments.set(environment, { uses: [], secrets: new Set(), variables: new Set() }).get(environment)!
        need.uses.push(use)
      }
      for (const expression of expressions(body))
        for (const read of expressionReads(expression)) note(read, use, inEnvironments)
    }
  }

  const sorted = (set: Set<string>) => [...set].sort()
  const order = Object.keys(KNOWN_ENVIRONMENTS)
  const rank = (name: string) => (order.includes(name) ? order.indexOf(name) : order.length)
  const valueNeed = (g: Gathered): ValueNeed => {
    const purpose = known(g.kind === "secret" ? KNOWN_SECRETS : KNOWN_VARIABLES, g.name)?.purpose
    return {
      kind: g.kind,
      name: g.name,
      ...(purpose !== undefined ? { purpose } : {}),
      environments: sorted(g.environments),
      outside: g.outside,
      optional: g.optional,
      ...(g.optional && g.fallback !== undefined ? { fallback: g.fallback } : {}),
      uses: g.uses,
    }
  }
  const all = [...values.values()].sort((a, b) => a.name.localeCompare(b.name))
  return {
    environments: [...environments.entries()]
      .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
      .map(([name, e]) => {
        const purpose = Object.hasOwn(KNOWN_ENVIRONMENTS, name) ? KNOWN_ENVIRONMENTS[name]!.purpose : undefined
        return {
          name,
          ...(purpose !== undefined ? { purpose } : {}),
          uses: e.uses,
          secrets: sorted(e.secrets),
          variables: sorted(e.variables),
        }
      }),
    secrets: all.filter((g) => g.kind === "secret").map(valueNeed),
    variables: all.filter((g) => g.kind === "variable").map(valueNeed),
    notes,
  }
}
