/**
 * The guard that keeps the workflows in step with the module and with what a security review
 * asks: every `dagger call` in a workflow must name a function Dagger registers and pass only
 * flags it accepts (required ones present, Secret arguments as env://), the dagger action's
 * version equal to the module's engineVersion, and no secret written into a command. Every action
 * is pinned to the full commit SHA of a release tag with that tag in a comment, and so is the
 * module a template calls; every checkout leaves no credentials behind, every job has a timeout,
 * and every job that reads a secret other than GITHUB_TOKEN runs in a GitHub environment.
 *
 * A `dagger call` is a step of the dagger action, or, for `retain` only, exactly one kind of `run`
 * step: the CLI the action installed (a step of the action with nothing but its version), called
 * as `dagger --progress plain call -m "$MEETINITY_RELEASE" retain ... 2> >(tee
 * retention-journal.log >&2)` in bash, so that the run's log (its journal) is kept as a file.
 */
import { parse } from "yaml"

import { daggerListFlag } from "./dagger-cli.js"
import type { FunctionInfo } from "./introspection.js"

/**
 * Every action the workflows may use, pinned to the commit its release tag names (read from a
 * snapshot of the action's own repository: `git rev-parse <tag>^{commit}`). A workflow line reads
 * `uses: <action>@<sha> # <version>`. To move an action, change its row here and every line.
 */
export const PINNED_ACTIONS: Readonly<Record<string, { readonly sha: string; readonly version: string }>> = {
  "actions/checkout": { sha: "3d3c42e5aac5ba805825da76410c181273ba90b1", version: "v7.0.1" },
  "actions/setup-node": { sha: "820762786026740c76f36085b0efc47a31fe5020", version: "v7.0.0" },
  "actions/upload-artifact": { sha: "bbbca2ddaa5d8feaa63e36b76fdaad77386f024f", version: "v7.0.0" },
  "actions/download-artifact": { sha: "3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c", version: "v8.0.1" },
  "actions/cache": { sha: "27d5ce7f107fe9357f9df03efb73ab90386fccae", version: "v5.0.5" },
  "actions/setup-go": { sha: "b7ad1dad31e06c5925ef5d2fc7ad053ef454303e", version: "v7.0.0" },
  "dagger/dagger-for-github": { sha: "27b130bf0f79a7f6fbbbe0fbca6760dc9bb40a77", version: "v8.4.1" },
}

/** `uses:` of the dagger action, as every step that calls the module must write it. */
export const DAGGER_ACTION = `dagger/dagger-for-github@${PINNED_ACTIONS["dagger/dagger-for-github"]!.sha}`

/** A `uses:` line: the reference and the comment after it, if any. */
const USES_LINE = /^\s*(?:-\s+)?uses:\s*["']?([^\s"'#]+)["']?(?:\s+#\s*(.*?))?\s*$/

/** Flags of `dagger call` itself (not of the function) that a workflow may pass, with whether they take a value. */
export const DAGGER_CALL_FLAGS: Record<string, boolean> = { output: true }

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)

interface Step {
  name?: string
  id?: string
  uses?: string
  run?: string
  shell?: string
  env?: Record<string, string>
  with?: Record<string, string | number | boolean>
}

interface Job {
  uses?: string
  environment?: string | { name: string }
  "timeout-minutes"?: number | string
  steps?: Step[]
}

/** Splits a command line as a shell would for plain words and simple quotes. */
export function splitWords(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!)
}

/** The module a template calls: the commit of a release of it, overridable by a repository variable. */
export const MODULE_PIN =
  /^\$\{\{ vars\.MEETINITY_RELEASE_MODULE \|\| 'github\.com\/meetinity\/meetinity-release@([0-9a-f]{40})' \}\}$/
/** The line of the env block that pins the module, with the release named in a comment, as actions are pinned. */
const MODULE_PIN_LINE = /^ {2}MEETINITY_RELEASE: .*\}\}[ \t]+#[ \t]*(\S+)[ \t]*$/m
export const MODULE_REF = "${{ env.MEETINITY_RELEASE }}"

/** Where a template pins the module: the commit and the release its comment names. */
export interface ModulePin {
  readonly commit: string
  readonly version: string
}

/** The module pin of a workflow's text, or what is wrong with it. */
export function modulePin(text: string): ModulePin | string {
  const doc = parse(text) as { env?: Record<string, unknown> }
  const value = doc.env?.MEETINITY_RELEASE
  const pin = MODULE_PIN.exec(typeof value === "string" ? value : "")
  if (!pin)
    return `env.MEETINITY_RELEASE is ${JSON.stringify(value)}, expected \${{ vars.MEETINITY_RELEASE_MODULE || 'github.com/meetinity/meetinity-release@<40-hex commit>' }} # vX.Y.Z`
  const comment = MODULE_PIN_LINE.exec(text)
  if (!comment)
    return `env.MEETINITY_RELEASE pins ${pin[1]} without the release in a comment: expected # vX.Y.Z after it`
  if (!/^v\d+\.\d+\.\d+$/.test(comment[1]!))
    return `env.MEETINITY_RELEASE's comment names ${JSON.stringify(comment[1])}, not a release vX.Y.Z`
  return { commit: pin[1]!, version: comment[1]! }
}

/** A `run` line that only copies output into the step's outputs or the job summary. */
const MOVES_OUTPUT = /^(?:printf|echo) [^]*>> "\$(?:GITHUB_OUTPUT|GITHUB_STEP_SUMMARY)"$/
/**
 * What a moving line may not hold outside its single-quoted format: a command, a pipe, a list, an
 * input redirection, a redirection before the last one, or a parameter expansion that does more
 * than name a variable.
 */
const SHELL_LOGIC = /\$\(|`|;|&|\||<|>[^]*>>|\$\{[^}]*[^A-Za-z0-9_}]/

/** The one kind of `run` step that calls the module: retain, its log kept as retention-journal.log. */
export const RETAIN_RUN_PREFIX = 'dagger --progress plain call -m "$MEETINITY_RELEASE" '
export const RETAIN_RUN_SUFFIX = " 2> >(tee retention-journal.log >&2)"
/** Characters a call line may not hold: the dagger action and bash run it as a shell line. */
const CALL_METACHARACTERS = /[;&|<>()`\\]|\$\(/

export interface GuardOptions {
  /** The module's own version: a template workflow must pin the module to it. Absent: the workflow calls the module in its own checkout (`module: .`). */
  readonly moduleVersion?: string
}

export interface DaggerCall {
  workflow: string
  job: string
  step: string
  fn: string
  flags: Map<string, string | true>
  /** A step of the dagger action, or the retain run step. */
  via: "action" | "run"
}

/** Problems found in one workflow file's text; empty when it is in step with the module. */
export function checkWorkflow(
  file: string,
  text: string,
  functions: Record<string, FunctionInfo>,
  engineVersion: string,
  options: GuardOptions = {},
): { problems: string[]; calls: DaggerCall[] } {
  const problems: string[] = []
  const calls: DaggerCall[] = []
  const byCli = new Map(Object.values(functions).map((fn) => [kebab(fn.name), fn]))
  const doc = parse(text) as { env?: Record<string, string>; jobs?: Record<string, Job> }
  problems.push(...checkPins(file, text))
  if (options.moduleVersion) {
    const pin = modulePin(text)
    if (typeof pin === "string") problems.push(`${file}: ${pin}`)
    else if (pin.version !== `v${options.moduleVersion}`)
      problems.push(
        `${file}: the module is pinned to ${pin.commit} # ${pin.version}, but this release of it is v${options.moduleVersion}`,
      )
  }
  for (const [jobName, job] of Object.entries(doc.jobs ?? {})) {
    const timeout = job["timeout-minutes"]
    if (!(typeof timeout === "number" && timeout > 0))
      problems.push(`${file} job ${jobName}: no timeout-minutes (GitHub's default is 360 minutes); give every job one`)
    const secrets = [
      ...new Set([...JSON.stringify(job).matchAll(/secrets\.([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!)),
    ].filter((name) => name !== "GITHUB_TOKEN")
    if (secrets.length > 0 && !job.environment) {
      problems.push(
        `${file} job ${jobName}: reads ${secrets.join(", ")} outside a GitHub environment; run the job in one and store the secret there`,
      )
    }
    let installed = false
    for (const [i, step] of (job.steps ?? []).entries()) {
      const where = `${file} job ${jobName} step ${step.name ?? i + 1}`
      const stepName = step.name ?? String(i + 1)
      if (step.uses?.startsWith("actions/checkout@") && step.with?.["persist-credentials"] !== false) {
        problems.push(`${where}: actions/checkout without persist-credentials: false leaves the token in .git/config`)
      }
      if (options.moduleVersion && step.run !== undefined) {
        const line = step.run.replace(/\s+/g, " ").trim()
        if (line.startsWith(RETAIN_RUN_PREFIX)) {
          if (step.shell !== "bash")
            problems.push(`${where}: the retain run step needs shell: bash (it tees its log with >(...))`)
          if (!installed)
            problems.push(
              `${where}: no step of ${DAGGER_ACTION.split("@")[0]} installs the Dagger CLI before it (with: version only)`,
            )
          if (!line.endsWith(RETAIN_RUN_SUFFIX)) {
            problems.push(
              `${where}: a run step that calls the module must end with ${JSON.stringify(RETAIN_RUN_SUFFIX.trim())}, nothing else`,
            )
            continue
          }
          const call = line.slice(RETAIN_RUN_PREFIX.length, line.length - RETAIN_RUN_SUFFIX.length)
          const checked = checkCall(where, call, step, byCli)
          problems.push(...checked.problems)
          if (!checked.call) continue
          if (checked.call.fn !== "retain")
            problems.push(
              `${where}: only retain runs in a run step (for its journal); call ${checked.call.fn} with the dagger action`,
            )
          if (checked.call.flags.get("module-ref") !== "$MEETINITY_RELEASE")
            problems.push(
              `${where}: retain needs --module-ref "$MEETINITY_RELEASE" (the module its restore command names)`,
            )
          calls.push({ workflow: file, job: jobName, step: stepName, ...checked.call, via: "run" })
          continue
        }
        if (step.shell !== undefined)
          problems.push(`${where}: shell: ${step.shell} on a step that only moves output; leave the default`)
        for (const l of step.run
          .split("\n")
          .map((l) => l.trim())
          .filter(Boolean)) {
          if (!MOVES_OUTPUT.test(l) || SHELL_LOGIC.test(l.replace(/'[^']*'/g, "''")))
            problems.push(
              `${where}: run line ${JSON.stringify(l)} does more than copy output into $GITHUB_OUTPUT or $GITHUB_STEP_SUMMARY; put the logic in the module`,
            )
        }
      }
      if (!step.uses?.startsWith("dagger/dagger-for-github")) continue
      if (step.uses !== DAGGER_ACTION)
        problems.push(
          `${where}: uses ${step.uses}, expected ${DAGGER_ACTION} # ${PINNED_ACTIONS["dagger/dagger-for-github"]!.version}`,
        )
      const version = String(step.with?.version ?? "")
      if (version.replace(/^v/, "") !== engineVersion.replace(/^v/, ""))
        problems.push(
          `${where}: dagger version ${JSON.stringify(version)} is not the module's engineVersion ${engineVersion}`,
        )
      // With nothing to run, the action only installs the CLI (its should-exec step, v8.4.1).
      const inputs = Object.keys(step.with ?? {})
      if (options.moduleVersion && inputs.length === 1 && inputs[0] === "version") {
        installed = true
        continue
      }
      // Any other input (verb, args, shell, check, dagger-flags, workdir...) would run something unchecked.
      const others = inputs.filter((input) => !["version", "module", "call"].includes(input))
      if (others.length > 0 || !inputs.includes("call"))
        problems.push(
          `${where}: the dagger action takes version, module and call here (or version alone, to install the CLI), not ${JSON.stringify(inputs)}`,
        )
      const module = String(step.with?.module ?? "")
      if (options.moduleVersion ? module !== MODULE_REF : module !== ".") {
        problems.push(
          `${where}: module ${JSON.stringify(module)}, expected ${options.moduleVersion ? MODULE_REF : '"."'}`,
        )
      }
      const line = String(step.with?.call ?? "")
      const checked = checkCall(where, line, step, byCli)
      problems.push(...checked.problems)
      if (checked.call) calls.push({ workflow: file, job: jobName, step: stepName, ...checked.call, via: "action" })
    }
  }
  return { problems, calls }
}

/** One call line (`<function> --flag value ...`): its function and flags, or what is wrong with it. */
function checkCall(
  where: string,
  line: string,
  step: Step,
  byCli: Map<string, FunctionInfo>,
): { problems: string[]; call?: { fn: string; flags: Map<string, string | true> } } {
  const problems: string[] = []
  if (/\$\{\{/.test(line))
    problems.push(
      `${where}: the call contains a \${{ }} expression; pass values through the step's env and refer to them as $NAME (or env://NAME for secrets)`,
    )
  if (CALL_METACHARACTERS.test(line))
    problems.push(
      `${where}: the call ${JSON.stringify(line)} holds shell syntax (a command, pipe, redirection or escape); pass plain words and $NAME`,
    )
  const [fnName, ...rest] = splitWords(line)
  const fn = fnName ? byCli.get(fnName) : undefined
  if (!fn) {
    problems.push(
      `${where}: dagger call ${JSON.stringify(fnName)} is not a function of the module (it has ${[...byCli.keys()].join(", ")})`,
    )
    return { problems }
  }
  const accepted = new Map(Object.values(fn.arguments).map((a) => [kebab(a.name), a]))
  const flags = new Map<string, string | true>()
  for (let k = 0; k < rest.length; k++) {
    const word = rest[k]!
    const match = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(word)
    if (!match) {
      problems.push(`${where}: ${fnName}: unexpected word ${JSON.stringify(word)}`)
      continue
    }
    const [, flag, inline] = match
    const arg = accepted.get(flag!)
    if (!arg && flag! in DAGGER_CALL_FLAGS) {
      const value = inline ?? (DAGGER_CALL_FLAGS[flag!] ? (rest[++k] ?? "") : true)
      if (value === "") problems.push(`${where}: dagger call --${flag} needs a value`)
      flags.set(`dagger:${flag}`, value)
      continue
    }
    if (!arg) {
      problems.push(
        `${where}: ${fnName} has no flag --${flag} (it takes ${[...accepted.keys()].map((a) => `--${a}`).join(", ")})`,
      )
      continue
    }
    let value: string | true
    if (inline !== undefined) value = inline
    else if (arg.type.kind === "BOOLEAN_KIND") value = true
    else value = rest[++k] ?? ""
    flags.set(flag!, value)
    if (
      arg.type.kind === "OBJECT_KIND" &&
      arg.type.name === "Secret" &&
      !(typeof value === "string" && value.startsWith("env://"))
    ) {
      problems.push(`${where}: --${flag} is a Secret: pass it as env://NAME, not ${JSON.stringify(value)}`)
    }
    // A value taken from a secret may reach the command line only as a user name.
    for (const ref of typeof value === "string" ? value.matchAll(/\$\{?([A-Z_][A-Z0-9_]*)/g) : []) {
      const source = step.env?.[ref[1]!]
      if (source && /secrets\./.test(source) && !/username/.test(flag!)) {
        problems.push(
          `${where}: --${flag} writes the secret ${ref[1]} into the command line; pass it as env://${ref[1]} to a Secret argument`,
        )
      }
    }
  }
  for (const arg of Object.values(fn.arguments)) {
    if (
      arg.defaultValue === undefined &&
      arg.defaultPath === undefined &&
      !arg.isOptional &&
      !flags.has(kebab(arg.name))
    )
      problems.push(`${where}: ${fnName} needs --${kebab(arg.name)}`)
  }
  return { problems, call: { fn: fn.name, flags } }
}

/** Problems with the `uses:` lines of a workflow's text: an action not pinned to the commit of its release tag, or without that tag in a comment. */
export function checkPins(file: string, text: string): string[] {
  const problems: string[] = []
  for (const [i, line] of text.split("\n").entries()) {
    const match = USES_LINE.exec(line)
    if (!match) continue
    const [, reference, comment] = match
    const where = `${file} line ${i + 1}`
    const at = reference!.lastIndexOf("@")
    const action = at > 0 ? reference!.slice(0, at) : reference!
    const pin = PINNED_ACTIONS[action]
    if (!pin) {
      problems.push(
        `${where}: uses ${reference}, an action that is not pinned (known: ${Object.keys(PINNED_ACTIONS).join(", ")})`,
      )
      continue
    }
    const expected = `${action}@${pin.sha} # ${pin.version}`
    if (reference!.slice(at + 1) !== pin.sha)
      problems.push(`${where}: uses ${reference}, not pinned to a full commit SHA: expected ${expected}`)
    else if (comment !== pin.version)
      problems.push(`${where}: ${reference} needs its version in a comment: expected ${expected}`)
  }
  return problems
}

/** The templates a service repository copies (ci.yml is this module's own CI). */
export const TEMPLATES = ["cd.yml", "deploy.yml", "ghcr-retention.yml", "rehearse.yml"] as const
/** cd.yml's deploy jobs, in order, with the stage each output and env line is named after. */
export const STAGES = [
  { job: "deploy-dev", output: "namespace_dev", env: "NAMESPACE_DEV" },
  { job: "deploy-staging", output: "namespace_staging", env: "NAMESPACE_STAGING" },
  { job: "deploy-prod", output: "namespace_prod", env: "NAMESPACE_PROD" },
] as const
/** GitHub Actions' OIDC issuer, which certifies a workflow run's identity. */
export const GITHUB_OIDC_ISSUER = "https://token.actions.githubusercontent.com"
/** The identity deploys accept: this repository's cd.yml at a release tag, built from the run's context. */
export const VERIFY_IDENTITY_EXPRESSION =
  "${{ format('{0}/{1}/\\.github/workflows/cd\\.yml@refs/tags/release/v.*', github.server_url, github.repository) }}"
/** What every deploy requires, as dagger call splits the flag. */
export const REQUIRED_PREDICATES = ["signature", "provenance", "sbom"]

/** The env lines each template has; a line in several templates has the same value in all of them. */
export const TEMPLATE_ENV: Readonly<Record<(typeof TEMPLATES)[number], readonly string[]>> = {
  "cd.yml": [
    "MEETINITY_RELEASE",
    "IMAGE_NAME",
    "IMAGE_VALUES",
    "CHART_REF",
    "VALUES_DIR",
    "HELM_RELEASE",
    ...STAGES.map((s) => s.env),
    "VERIFY_ISSUER",
    "VERIFY_IDENTITY",
  ],
  "deploy.yml": [
    "MEETINITY_RELEASE",
    "IMAGE_NAME",
    "IMAGE_VALUES",
    "CHART_REF",
    "VALUES_DIR",
    "HELM_RELEASE",
    "VERIFY_ISSUER",
    "VERIFY_IDENTITY",
  ],
  "ghcr-retention.yml": ["MEETINITY_RELEASE", "IMAGE_NAME"],
  "rehearse.yml": [
    "MEETINITY_RELEASE",
    "IMAGE_NAME",
    "IMAGE_VALUES",
    "CHART_REF",
    "VALUES_DIR",
    "HELM_RELEASE",
    ...STAGES.map((s) => s.env),
  ],
}

interface TemplateJob extends Job {
  name?: string
  needs?: string | string[]
  permissions?: Record<string, string>
  concurrency?: { group?: string }
  env?: Record<string, string>
  outputs?: Record<string, string>
  steps?: (Step & { if?: string })[]
}
interface TemplateWorkflow {
  on?: Record<string, unknown>
  env?: Record<string, string>
  permissions?: Record<string, string>
  jobs?: Record<string, TemplateJob>
}

/** The text without its comments (a `#` after a space, or at the start of a line). */
export function withoutComments(text: string): string {
  return text
    .split("\n")
    .map((line) => line.replace(/(^|\s)#.*$/, ""))
    .join("\n")
}

/** The text without its top-level `env:` block. */
export function withoutEnvBlock(text: string): string {
  return text.replace(/^env:\n(?:(?: .*)?\n)*/m, "")
}

/**
 * What makes the templates adoptable and safe together, beyond each file's own guard: one env
 * block per workflow names everything an organisation changes (namespaces, environments and
 * concurrency groups derive from it, and no organisation constant is written anywhere else), the
 * blocks agree, every deploy passes the verification gate, only the publish job may mint an OIDC
 * token, and every retain run keeps its journal. Empty when all holds.
 */
export function checkTemplates(
  texts: Readonly<Record<string, string>>,
  functions: Record<string, FunctionInfo>,
  engineVersion: string,
  moduleVersion: string,
): string[] {
  const problems: string[] = []
  const docs = Object.fromEntries(TEMPLATES.map((f) => [f, parse(texts[f] ?? "") as TemplateWorkflow]))
  const calls = Object.fromEntries(
    TEMPLATES.map((f) => [f, checkWorkflow(f, texts[f] ?? "", functions, engineVersion, { moduleVersion }).calls]),
  )
  const cd = docs["cd.yml"]!
  const cdEnv = cd.env ?? {}
  const literal = (value: unknown) => typeof value === "string" && value.trim() !== "" && !value.includes("${{")

  // One env block per workflow, the same lines alike everywhere.
  for (const file of TEMPLATES) {
    const env = docs[file]!.env ?? {}
    const expected = TEMPLATE_ENV[file]
    if (JSON.stringify(Object.keys(env)) !== JSON.stringify(expected))
      problems.push(`${file}: env block has ${Object.keys(env).join(", ")}; expected ${expected.join(", ")}`)
    for (const key of expected)
      if (env[key] !== cdEnv[key])
        problems.push(`${file}: env.${key} is ${JSON.stringify(env[key])}, not cd.yml's ${JSON.stringify(cdEnv[key])}`)
  }

  // cd.yml: each deploy job's environment, concurrency group, name and namespace come from the
  // env block, through the publish job's outputs (a job's environment and concurrency cannot read env).
  const namespaces = STAGES.map((s) => cdEnv[s.env])
  for (const [i, stage] of STAGES.entries()) {
    if (!literal(cdEnv[stage.env])) problems.push(`cd.yml: env.${stage.env} must name the namespace`)
    const output = cd.jobs?.publish?.outputs?.[stage.output]
    if (output !== `\${{ env.${stage.env} }}`)
      problems.push(
        `cd.yml job publish: output ${stage.output} is ${JSON.stringify(output)}, expected \${{ env.${stage.env} }}`,
      )
    const ref = `\${{ needs.publish.outputs.${stage.output} }}`
    const job = cd.jobs?.[stage.job]
    const needs = [job?.needs ?? []].flat()
    const expected = {
      needs: i === 0 ? ["publish"] : ["publish", STAGES[i - 1]!.job],
      name: `Deploy to ${ref}`,
      environment: ref,
      group: `deploy-${ref}-\${{ github.repository }}`,
      namespace: ref,
    }
    const actual = {
      needs,
      name: job?.name,
      environment: job?.environment,
      group: job?.concurrency?.group,
      namespace: job?.env?.NAMESPACE,
    }
    if (JSON.stringify(actual) !== JSON.stringify(expected))
      problems.push(
        `cd.yml job ${stage.job}: ${JSON.stringify(actual)}; expected ${JSON.stringify(expected)} (from env.${stage.env})`,
      )
  }
  if (new Set(namespaces).size !== STAGES.length)
    problems.push(`cd.yml: the namespaces ${namespaces.join(", ")} are not three`)
  for (const [name, job] of Object.entries(cd.jobs ?? {}))
    if (job.environment !== undefined && !STAGES.some((s) => s.job === name))
      problems.push(`cd.yml job ${name}: runs in environment ${JSON.stringify(job.environment)}, which is no deploy's`)

  // deploy.yml: the dispatch choice is the one place the namespaces are listed again.
  const deploy = docs["deploy.yml"]!
  const inputs = (deploy.on?.workflow_dispatch as { inputs?: Record<string, { options?: string[] }> } | undefined)
    ?.inputs
  if (JSON.stringify(inputs?.namespace?.options) !== JSON.stringify(namespaces))
    problems.push(
      `deploy.yml: the namespace choices ${JSON.stringify(inputs?.namespace?.options)} are not cd.yml's ${JSON.stringify(namespaces)}`,
    )
  for (const job of Object.values(deploy.jobs ?? {})) {
    if (job.environment !== "${{ inputs.namespace }}")
      problems.push(`deploy.yml: environment ${JSON.stringify(job.environment)}, expected \${{ inputs.namespace }}`)
    if (job.concurrency?.group !== "deploy-${{ inputs.namespace }}-${{ github.repository }}")
      problems.push(
        `deploy.yml: concurrency group ${JSON.stringify(job.concurrency?.group)} is not cd.yml's for that namespace`,
      )
  }

  // rehearse.yml: the namespaces from its env block; paths (no context there) follow VALUES_DIR.
  const rehearse = calls["rehearse.yml"]!.find((c) => c.fn === "rehearse")
  const rehearsed = rehearse?.flags.get("namespaces")
  if (
    typeof rehearsed !== "string" ||
    JSON.stringify(daggerListFlag(rehearsed)) !== JSON.stringify(STAGES.map((s) => `$${s.env}`))
  )
    problems.push(
      `rehearse.yml: rehearse --namespaces ${JSON.stringify(rehearsed)}, expected the three NAMESPACE_ lines`,
    )
  const paths = ((docs["rehearse.yml"]!.on?.pull_request ?? {}) as { paths?: string[] }).paths ?? []
  const valuesDir = String(cdEnv.VALUES_DIR ?? "").replace(/^\.\//, "")
  for (const path of ["Dockerfile", `${valuesDir}/**`, ".github/workflows/cd.yml", ".github/workflows/rehearse.yml"])
    if (!paths.includes(path)) problems.push(`rehearse.yml: pull_request paths lack ${path}`)

  // No organisation constant outside the env blocks (and deploy.yml's choices): comments aside.
  const constants = Object.values(cdEnv).filter((v) => literal(v) && !/^\d+$/.test(v))
  for (const file of TEMPLATES) {
    let text = withoutEnvBlock(withoutComments(texts[file] ?? ""))
    if (file === "deploy.yml") text = text.replace(/^( +)options:\n(?:\1 +- .*\n)*/m, "")
    for (const [n, line] of text.split("\n").entries()) {
      const bare = line.replace(/\bMEETINITY_RELEASE(?:_MODULE)?\b/g, "")
      const found = [
        ...new Set([...(/meetinity/i.test(bare) ? ["meetinity"] : []), ...constants.filter((c) => bare.includes(c))]),
      ]
      if (found.length > 0)
        problems.push(
          `${file} line ${n + 1}: ${JSON.stringify(line.trim())} names ${found.join(", ")} outside the env block; read it from there`,
        )
    }
  }

  // Every deploy passes the gate: keyless, this repository's cd.yml as GitHub's issuer certifies it.
  if (cdEnv.VERIFY_ISSUER !== GITHUB_OIDC_ISSUER)
    problems.push(`cd.yml: env.VERIFY_ISSUER is ${JSON.stringify(cdEnv.VERIFY_ISSUER)}, expected ${GITHUB_OIDC_ISSUER}`)
  if (cdEnv.VERIFY_IDENTITY !== VERIFY_IDENTITY_EXPRESSION)
    problems.push(
      `cd.yml: env.VERIFY_IDENTITY is ${JSON.stringify(cdEnv.VERIFY_IDENTITY)}, expected ${VERIFY_IDENTITY_EXPRESSION}`,
    )
  for (const file of ["cd.yml", "deploy.yml"] as const) {
    const deploys = calls[file]!.filter((c) => c.fn === "helmDeploy")
    if (deploys.length === 0) problems.push(`${file}: no helm-deploy`)
    for (const call of deploys) {
      const where = `${file} job ${call.job} step ${call.step}`
      const gate = {
        verify: call.flags.get("verify") ?? null,
        issuer: call.flags.get("verify-issuer") ?? null,
        identity: call.flags.get("verify-identity") ?? null,
        predicates: daggerListFlag(String(call.flags.get("require-predicates") ?? "")),
        chart: call.flags.get("chart") ?? null,
        chartRef: call.flags.get("chart-ref") ?? null,
        valuesDir: call.flags.get("values-dir") ?? null,
      }
      const expected = {
        verify: "keyless",
        issuer: "$VERIFY_ISSUER",
        identity: "$VERIFY_IDENTITY",
        predicates: REQUIRED_PREDICATES,
        chart: null,
        chartRef: "$CHART_REF",
        valuesDir: "$VALUES_DIR",
      }
      if (JSON.stringify(gate) !== JSON.stringify(expected))
        problems.push(`${where}: helm-deploy ${JSON.stringify(gate)}; expected ${JSON.stringify(expected)}`)
    }
  }

  // Only cd.yml's publish job may request an OIDC token, and it hands it to publish only.
  for (const file of TEMPLATES) {
    const doc = docs[file]!
    if (doc.permissions?.["id-token"] !== undefined)
      problems.push(`${file}: id-token at the workflow level; grant it to cd.yml's publish job only`)
    for (const [name, job] of Object.entries(doc.jobs ?? {})) {
      const mints = job.permissions?.["id-token"]
      const publish = file === "cd.yml" && name === "publish"
      if (publish ? mints !== "write" : mints !== undefined)
        problems.push(
          `${file} job ${name}: id-token: ${mints ?? "(none)"}; ${publish ? "publish signs keyless and needs write" : "only cd.yml's publish job signs"}`,
        )
    }
    for (const call of calls[file]!) {
      const signs = {
        url: call.flags.get("oidc-request-url"),
        token: call.flags.get("oidc-request-token"),
      }
      const publish = file === "cd.yml" && call.fn === "publish"
      const expected = publish
        ? { url: "$ACTIONS_ID_TOKEN_REQUEST_URL", token: "env://ACTIONS_ID_TOKEN_REQUEST_TOKEN" }
        : {}
      if (JSON.stringify(signs) !== JSON.stringify(expected))
        problems.push(
          `${file} job ${call.job}: ${call.fn} ${JSON.stringify(signs)}; expected ${JSON.stringify(expected)}`,
        )
      for (const flag of ["oidc-token", "signing-key"])
        if (call.flags.has(flag))
          problems.push(`${file} job ${call.job}: ${call.fn} --${flag}; sign keyless in Actions`)
    }
  }

  // Every retain runs in the run step, its report to a file; a run that deletes uploads its journal
  // whatever happened (a cancelled or killed run writes no report).
  const retention = docs["ghcr-retention.yml"]!
  for (const call of calls["ghcr-retention.yml"]!.filter((c) => c.fn === "retain")) {
    const where = `ghcr-retention.yml job ${call.job}`
    if (call.via !== "run") problems.push(`${where}: retain through the dagger action: its log is not kept`)
    if (call.flags.get("format") !== "json" || !call.flags.get("dagger:output"))
      problems.push(`${where}: retain without --format json --output <file>: its report must go to a file`)
    if (call.flags.has("dry-run")) continue
    const uploads = (retention.jobs?.[call.job]?.steps ?? []).filter(
      (s) =>
        s.uses?.startsWith("actions/upload-artifact@") &&
        s.if === "always()" &&
        s.with?.name === "retention-journal" &&
        s.with?.path === "retention-journal.log",
    )
    if (uploads.length !== 1)
      problems.push(
        `${where}: deletes, but does not upload retention-journal.log as retention-journal with if: always()`,
      )
  }
  for (const [name, job] of Object.entries(retention.jobs ?? {}))
    for (const step of job.steps ?? [])
      if (step.run?.includes("retain") && step.id !== undefined)
        problems.push(`ghcr-retention.yml job ${name}: the retain step has an id; nothing it prints is a step output`)
  return problems
}
