/**
 * The guard that keeps the workflows in step with the module and with what a security review
 * asks: every `dagger call` in a workflow must name a function Dagger registers and pass only
 * flags it accepts (required ones present, Secret arguments as env://), the dagger action's
 * version equal to the module's engineVersion, and no secret written into a command. Every action
 * is pinned to the full commit SHA of a release tag with that tag in a comment, every checkout
 * leaves no credentials behind, every job has a timeout, and every job that reads a secret other
 * than GITHUB_TOKEN runs in a GitHub environment.
 */
import { parse } from "yaml"

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

/** The module a workflow calls: a release of it, overridable by a repository variable. */
export const MODULE_PIN =
  /^\$\{\{ vars\.MEETINITY_RELEASE_MODULE \|\| 'github\.com\/meetinity\/meetinity-release@(v\d+\.\d+\.\d+)' \}\}$/
export const MODULE_REF = "${{ env.MEETINITY_RELEASE }}"

/** A `run` line that only copies output into the step's outputs or the job summary. */
const MOVES_OUTPUT = /^(?:printf|echo) .*>> "\$(?:GITHUB_OUTPUT|GITHUB_STEP_SUMMARY)"$/

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
    const pin = MODULE_PIN.exec(doc.env?.MEETINITY_RELEASE ?? "")
    if (!pin)
      problems.push(
        `${file}: env.MEETINITY_RELEASE is ${JSON.stringify(doc.env?.MEETINITY_RELEASE)}, expected \${{ vars.MEETINITY_RELEASE_MODULE || 'github.com/meetinity/meetinity-release@vX.Y.Z' }}`,
      )
    else if (pin[1] !== `v${options.moduleVersion}`)
      problems.push(`${file}: the module is pinned to ${pin[1]}, but this release of it is v${options.moduleVersion}`)
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
    for (const [i, step] of (job.steps ?? []).entries()) {
      const where = `${file} job ${jobName} step ${step.name ?? i + 1}`
      if (step.uses?.startsWith("actions/checkout@") && step.with?.["persist-credentials"] !== false) {
        problems.push(`${where}: actions/checkout without persist-credentials: false leaves the token in .git/config`)
      }
      if (options.moduleVersion && step.run !== undefined) {
        for (const line of step.run
          .split("\n")
          .map((l) => l.trim())
          .filter(Boolean)) {
          if (!MOVES_OUTPUT.test(line))
            problems.push(
              `${where}: run line ${JSON.stringify(line)} does more than copy output into $GITHUB_OUTPUT or $GITHUB_STEP_SUMMARY; put the logic in the module`,
            )
        }
      }
      if (!step.uses?.startsWith("dagger/dagger-for-github")) continue
      if (step.uses !== DAGGER_ACTION)
        problems.push(
          `${where}: uses ${step.uses}, expected ${DAGGER_ACTION} # ${PINNED_ACTIONS["dagger/dagger-for-github"]!.version}`,
        )
      const module = String(step.with?.module ?? "")
      if (options.moduleVersion ? module !== MODULE_REF : module !== ".") {
        problems.push(
          `${where}: module ${JSON.stringify(module)}, expected ${options.moduleVersion ? MODULE_REF : '"."'}`,
        )
      }
      const version = String(step.with?.version ?? "")
      if (version.replace(/^v/, "") !== engineVersion.replace(/^v/, ""))
        problems.push(
          `${where}: dagger version ${JSON.stringify(version)} is not the module's engineVersion ${engineVersion}`,
        )
      const verb = String(step.with?.verb ?? "call")
      const line = String(step.with?.call ?? step.with?.args ?? "")
      if (verb !== "call") continue
      if (/\$\{\{/.test(line))
        problems.push(
          `${where}: the call contains a \${{ }} expression; pass values through the step's env and refer to them as $NAME (or env://NAME for secrets)`,
        )
      const [fnName, ...rest] = splitWords(line)
      const fn = fnName ? byCli.get(fnName) : undefined
      if (!fn) {
        problems.push(
          `${where}: dagger call ${JSON.stringify(fnName)} is not a function of the module (it has ${[...byCli.keys()].join(", ")})`,
        )
        continue
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
      calls.push({ workflow: file, job: jobName, step: step.name ?? String(i + 1), fn: fn.name, flags })
    }
  }
  return { problems, calls }
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
