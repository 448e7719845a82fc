/**
 * The Kubernetes core against the real programs: the pull-secret manifest against
 * `kubectl create secret docker-registry`, the Helm argument list through real Helm 4
 * (lint, template, and `upgrade --install --dry-run=client` with the in-memory driver).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"

import { afterAll, beforeAll, describe, expect, test } from "vitest"
import { parseAllDocuments } from "yaml"

import { namespaceCheck } from "../src/delivery/cluster.js"
import { checkNotOlder, helmGetValuesArgs, readDeployedVersion } from "../src/delivery/guard.js"
import {
  type DeployInputs,
  helmHistoryArgs,
  helmUpgradeAdvice,
  helmUpgradeArgs,
  parseHelmHistory,
  parseHelmReport,
  unusedImageProblem,
} from "../src/delivery/helm.js"
import { DEFAULT_NAMESPACES, type HelmPlan, planHelm, planPullSecret } from "../src/delivery/inputs.js"
import { kubeconfigProblem } from "../src/delivery/kubeconfig.js"
import { pullSecretManifest } from "../src/delivery/pull-secret.js"
import { VALUE_KEYS, valuesFilesFor } from "../src/delivery/values.js"
import { parseDigest } from "../src/oci/reference.js"
import { daggerListFlag } from "./support/dagger-cli.js"
import { startKubeApi } from "./support/kube-api.js"
import { helm, helmAsync, installedRelease, kubectl } from "./support/tools.js"

const CHART = resolve("examples/meetinity")

const decode = (b64: string) => JSON.parse(Buffer.from(b64, "base64").toString("utf8")) as unknown

describe("pull secret manifest = kubectl create secret docker-registry", () => {
  test.each([
    ["ghcr with a classic PAT", "ghcr.io", "meetinity-bot", "ghp_0123456789abcdefABCDEF0123456789abcd"],
    ["server with port", "registry.example.com:5000", "reader", "s3cr3t"],
    ["http URL server", "http://127.0.0.1:5000", "local", "x"],
    ["token with quotes, backslash, colon and unicode", "ghcr.io", "user.name", 'p@ss:w"o\\rd/ü€ and space'],
    ["user with @ and +", "ghcr.io", "bot+ci@example.com", "github_pat_11AAAA_bbbb"],
  ])("%s", (_name, server, username, token) => {
    const ours = pullSecretManifest({ name: "ghcr-pull-secret", namespace: "meetinity-dev", server, username, token })
    const real = kubectl([
      "create",
      "secret",
      "docker-registry",
      "ghcr-pull-secret",
      "--namespace",
      "meetinity-dev",
      "--docker-server",
      server,
      "--docker-username",
      username,
      "--docker-password",
      token,
      "--dry-run=client",
      "-o",
      "json",
    ])
    expect(real.stderr).toBe("")
    const theirs = JSON.parse(real.stdout) as {
      type: string
      kind: string
      apiVersion: string
      metadata: { name: string; namespace: string }
      data: Record<string, string>
    }
    expect(ours.type).toBe(theirs.type)
    expect(ours.kind).toBe(theirs.kind)
    expect(ours.apiVersion).toBe(theirs.apiVersion)
    expect(ours.metadata).toMatchObject(theirs.metadata)
    expect(Object.keys(ours.data)).toEqual(Object.keys(theirs.data))
    expect(decode(ours.data[".dockerconfigjson"])).toEqual(decode(theirs.data[".dockerconfigjson"]!))
    expect(ours.data[".dockerconfigjson"]).toBe(theirs.data[".dockerconfigjson"])
  })
})

const DIGEST = `sha256:${"ab".repeat(32)}`
const NO_FILES: DeployInputs = { digest: DIGEST, valuesFiles: [] }

const basePlan = (overrides: Partial<Parameters<typeof planHelm>[0]> = {}): HelmPlan =>
  planHelm({
    release: "meetinity",
    namespace: "meetinity-dev",
    image: "ghcr.io/meetinity/api-gateway",
    version: "v1.4.2",
    pullSecretName: "ghcr-pull-secret",
    timeout: "10m",
    set: [],
    ...overrides,
  })

describe("helm argument list", () => {
  test.each([
    [
      "defaults",
      {},
      ["--namespace", "meetinity-dev", "--timeout", "10m", "--history-max", "10", "--set", "global.image.tag=v1.4.2"],
    ],
    [
      "pre-release in prod",
      { namespace: "meetinity-prod", version: "v2.0.0-rc.1" },
      ["--namespace", "meetinity-prod", "--set", "global.image.tag=v2.0.0-rc.1"],
    ],
    ["other pull secret", { pullSecretName: "regcred" }, ["--set", "global.imagePullSecrets[0].name=regcred"]],
    [
      "longer timeout, unlimited history",
      { timeout: "1h30m", historyMax: 0 },
      ["--timeout", "1h30m", "--history-max", "0"],
    ],
    [
      "user values",
      { set: ["api-gateway.replicaCount=3", "a.b=c"] },
      ["--set", "api-gateway.replicaCount=3", "--set", "a.b=c"],
    ],
    ["pinned to the digest", {}, ["--set", `global.image.digest=${DIGEST}`]],
  ])("%s", (_name, overrides, expectedRun) => {
    const args = helmUpgradeArgs(basePlan(overrides), "/work/chart", NO_FILES)
    expect(args.slice(0, 5)).toEqual(["helm", "upgrade", "--install", "meetinity", "/work/chart"])
    // No --create-namespace: Helm would patch an existing namespace, which a namespaced deployer may not (helmDeploy creates a missing one itself).
    expect(args).not.toContain("--create-namespace")
    expect(args).toEqual(expect.arrayContaining(["--wait=watcher", "--output", "json", "--reset-then-reuse-values"]))
    // A rollout that fails is left as it failed: the module reads its pods first, then rolls back itself.
    expect(args).not.toContain("--rollback-on-failure")
    expect(args).not.toContain("--cleanup-on-fail")
    // Each expected flag is followed by its value.
    for (let i = 0; i < expectedRun.length; i += 2) {
      const pairs = args.flatMap((arg, j) => (arg === expectedRun[i] ? [args[j + 1]] : []))
      expect(pairs, `${expectedRun[i]} ${expectedRun[i + 1]}`).toContain(expectedRun[i + 1])
    }
    // Our four values come last, so a chart default or user value can never override the version or digest.
    expect(args.slice(-8)).toEqual([
      "--set",
      `${VALUE_KEYS.repository}=${basePlan(overrides).image}`,
      "--set",
      `${VALUE_KEYS.tag}=${basePlan(overrides).version}`,
      "--set",
      `${VALUE_KEYS.digest}=${DIGEST}`,
      "--set",
      `${VALUE_KEYS.pullSecret}=${basePlan(overrides).pullSecretName}`,
    ])
  })

  test.each([
    ["the default: one image for the whole chart", undefined, "global.image"],
    ["a subchart's own image", "api-gateway.image", "api-gateway.image"],
    ["a top-level image block", "image", "image"],
    ["a nested path with underscores", "services.event_service.image", "services.event_service.image"],
  ])(
    "--image-values, %s: the image goes to <path>.repository, .tag and .digest, last, with the pull secret",
    (_name, imageValues, path) => {
      const plan = basePlan(imageValues ? { imageValues } : {})
      expect(plan.imageValues).toBe(path)
      expect(helmUpgradeArgs(plan, "/work/chart", NO_FILES).slice(-8)).toEqual([
        "--set",
        `${path}.repository=ghcr.io/meetinity/api-gateway`,
        "--set",
        `${path}.tag=v1.4.2`,
        "--set",
        `${path}.digest=${DIGEST}`,
        "--set",
        "global.imagePullSecrets[0].name=ghcr-pull-secret",
      ])
    },
  )

  test.each([
    ["a subchart's pull policy beside its image", "api-gateway.image", ["api-gateway.image.pullPolicy=Always"]],
    [
      "global.image, when this service's image goes elsewhere",
      "api-gateway.image",
      ["global.image.tag=latest", "global.image.digest=sha256:00"],
    ],
    [
      "another service's image (its own deploy sets it, but nothing stops a hand-made fix)",
      "api-gateway.image",
      ["event-service.image.tag=v0.3.0"],
    ],
    [
      "a key that only starts like the block",
      "api-gateway.image",
      ["api-gateway.images.extra=x", "api-gateway.image.repository2=x"],
    ],
  ])("--set of %s is allowed", (_name, imageValues, set) => {
    expect(basePlan({ imageValues, set }).set).toEqual(set)
  })

  test("values files (where chartValuesFiles put them in Helm's container) come before --set values, in the order given", () => {
    const args = helmUpgradeArgs(basePlan({ set: ["a=b"] }), "/work/chart", {
      digest: DIGEST,
      valuesFiles: ["/work/chart/values-meetinity-dev.yaml", "/work/chart/env/extra.yaml"],
    })
    const flags = args.filter((a) => a === "--values" || a === "--set")
    expect(flags.slice(0, 3)).toEqual(["--values", "--values", "--set"])
    expect(args.flatMap((a, i) => (a === "--values" ? [args[i + 1]] : []))).toEqual([
      "/work/chart/values-meetinity-dev.yaml",
      "/work/chart/env/extra.yaml",
    ])
  })

  test.each([
    ["no namespace file, none given", "meetinity-dev", [], false, []],
    ["the namespace file alone", "meetinity-prod", [], true, ["values-meetinity-prod.yaml"]],
    [
      "the namespace file first, then the given ones in order",
      "meetinity-prod",
      ["b.yaml", "a.yaml"],
      true,
      ["values-meetinity-prod.yaml", "b.yaml", "a.yaml"],
    ],
    [
      "the namespace file listed explicitly keeps its given place",
      "meetinity-prod",
      ["base.yaml", "values-meetinity-prod.yaml"],
      true,
      ["base.yaml", "values-meetinity-prod.yaml"],
    ],
    [
      "another namespace's file is not picked up",
      "meetinity-dev",
      ["values-meetinity-prod.yaml"],
      false,
      ["values-meetinity-prod.yaml"],
    ],
  ])("values files: %s", (_name, namespace, explicit, exists, expected) => {
    expect(valuesFilesFor(namespace, explicit, exists)).toEqual(expected)
  })
  test.each([
    [
      "namespace with upper case",
      { namespace: "Meetinity-Dev" },
      /namespace "Meetinity-Dev" is not a Kubernetes namespace: expected a DNS-1123 label/,
    ],
    ["namespace too long", { namespace: "a".repeat(64) }, /namespace "a{64}" is not a Kubernetes namespace/],
    ["namespace ending in -", { namespace: "dev-" }, /namespace "dev-"/],
    ["version without v", { version: "1.4.2" }, /version "1.4.2" is not a version tag: expected vX.Y.Z/],
    ["version with build metadata", { version: "v1.4.2+5" }, /version "v1.4.2\+5"/],
    [
      "image with tag",
      { image: "ghcr.io/meetinity/api-gateway:v1.4.2" },
      /image "ghcr.io\/meetinity\/api-gateway:v1.4.2" is not an image repository.*leave the tag off/,
    ],
    ["image with digest", { image: "ghcr.io/meetinity/api@sha256:00" }, /image ".*" is not an image repository/],
    [
      "image with a space",
      { image: "ghcr.io/meetinity/api gateway" },
      /image "ghcr.io\/meetinity\/api gateway" is not an image repository/,
    ],
    ["set without =", { set: ["replicaCount"] }, /set "replicaCount" is not a chart value: expected key=value/],
    [
      "set overriding the version",
      { set: ["global.image.tag=latest"] },
      /set "global.image.tag=latest" sets global.image.tag, which helmDeploy sets itself/,
    ],
    [
      "set overriding pull secrets",
      { set: ["global.imagePullSecrets[1].name=x"] },
      /sets global.imagePullSecrets\[1\].name/,
    ],
    [
      "set overriding the digest",
      { set: ["global.image.digest=sha256:00"] },
      /set "global.image.digest=sha256:00" sets global.image.digest, which helmDeploy sets itself from .*--digest/,
    ],
    [
      "values file outside the chart",
      { values: ["../secrets.yaml"] },
      /values "..\/secrets.yaml" is not a values file: expected a path inside the chart directory/,
    ],
    ["absolute values file", { values: ["/etc/passwd"] }, /values "\/etc\/passwd" is not a values file/],
    ["empty values file", { values: [""] }, /values "" is not a values file/],
    ["platform without arch", { platform: "linux" }, /platform "linux" is not a platform: expected os\/arch/],
    ["timeout without unit", { timeout: "600" }, /timeout "600" is not a duration: expected a positive Go duration/],
    ["zero timeout", { timeout: "0s" }, /timeout "0s" is not a duration/],
    ["release with underscore", { release: "meet_inity" }, /helmRelease "meet_inity" is not a Helm release name/],
    ["release too long", { release: "a".repeat(54) }, /helmRelease "a{54}" is not a Helm release name/],
    ["bad pull secret name", { pullSecretName: "GHCR" }, /pullSecretName "GHCR" is not a Kubernetes object name/],
    ["negative history", { historyMax: -1 }, /historyMax -1 is not a revision count/],
    [
      "image without a registry host",
      { image: "meetinity/api-gateway" },
      /image "meetinity\/api-gateway" names no registry host: "meetinity" would be read as one\. Expected registry\/owner\/name \(e\.g\. ghcr\.io\/meetinity\/api-gateway\)/,
    ],
    [
      "image of one name",
      { image: "api-gateway" },
      /image "api-gateway" is not an image repository: expected registry\/owner\/name/,
    ],
    [
      "image without a registry host, with http://",
      { image: "http://meetinity/api-gateway" },
      /image "http:\/\/meetinity\/api-gateway" names no registry host/,
    ],
    [
      "image of 10,000 characters",
      { image: `ghcr.io/meetinity/${"a".repeat(9982)}` },
      /image "ghcr\.io\/meetinity\/a{62}…" \(10000 characters\) is not an image repository: expected registry\/owner\/name, without tag or digest, at most 255 characters.*; it is 10000 characters long/,
    ],
    ["imageValues empty", { imageValues: "" }, /imageValues "" is not a chart values path: expected value keys/],
    [
      "imageValues with a trailing dot",
      { imageValues: "api-gateway.image." },
      /imageValues "api-gateway\.image\." is not a chart values path/,
    ],
    [
      "imageValues with a list index",
      { imageValues: "services[0].image" },
      /imageValues "services\[0\]\.image" is not a chart values path/,
    ],
    ["imageValues with a space", { imageValues: "api gateway.image" }, /imageValues "api gateway\.image"/],
    ["imageValues with an = (it would break --set)", { imageValues: "a=b" }, /imageValues "a=b"/],
    [
      "imageValues too long",
      { imageValues: `${"a.".repeat(100)}image` },
      /imageValues "(a\.){40}…" \(205 characters\) is not a chart values path/,
    ],
    [
      "imageValues on the pull secrets",
      { imageValues: "global.imagePullSecrets" },
      /imageValues "global\.imagePullSecrets" is where helmDeploy puts the pull secrets/,
    ],
    [
      "set of this service's digest at its own path",
      { imageValues: "api-gateway.image", set: ["api-gateway.image.digest=sha256:00"] },
      /set "api-gateway\.image\.digest=sha256:00" sets api-gateway\.image\.digest, which helmDeploy sets itself from --image, --version, --digest and --pull-secret-name \(this service's image goes to api-gateway\.image, --image-values\)/,
    ],
    [
      "set of this service's tag at its own path",
      { imageValues: "api-gateway.image", set: ["api-gateway.image.tag=latest"] },
      /sets api-gateway\.image\.tag/,
    ],
    [
      "set of this service's repository at its own path",
      { imageValues: "api-gateway.image", set: ["api-gateway.image.repository=x/y"] },
      /sets api-gateway\.image\.repository/,
    ],
    [
      "set of the whole image block",
      { imageValues: "api-gateway.image", set: ["api-gateway.image=x"] },
      /sets api-gateway\.image,/,
    ],
    [
      "set of a key above the image block",
      { imageValues: "api-gateway.image", set: ["api-gateway=x"] },
      /sets api-gateway,/,
    ],
    [
      "set of the pull secrets with another image path",
      { imageValues: "api-gateway.image", set: ["global.imagePullSecrets[0].name=x"] },
      /sets global\.imagePullSecrets\[0\]\.name/,
    ],
  ])("%s is refused", (_name, overrides, message) => {
    expect(() => basePlan(overrides)).toThrow(message)
  })

  // --digest is parsed on its own, at the front door (parseDigest): it goes to the preflight, not into Helm's plan.
  test.each([
    ["digest without algorithm", "ab".repeat(32), /digest "(ab){32}" is not a manifest digest: expected sha256:/],
    ["digest in upper case", `sha256:${"AB".repeat(32)}`, /digest "sha256:(AB){32}" is not a manifest digest/],
    ["digest too short", "sha256:abc", /digest "sha256:abc"/],
  ])("%s is refused", (_name, digest, message) => {
    expect(() => parseDigest(digest)).toThrow(message)
  })

  test("an owner with capitals is lower-cased in the image, as publish does", () => {
    expect(basePlan({ image: "ghcr.io/Meetinity/Api-Gateway" }).image).toBe("ghcr.io/meetinity/api-gateway")
  })

  test.each([
    ["no scheme", "ghcr.io/meetinity/api-gateway", "ghcr.io/meetinity/api-gateway", undefined],
    [
      "a plain-http registry on a bridge address",
      "http://10.89.0.1:5000/Meetinity/api-gateway",
      "10.89.0.1:5000/meetinity/api-gateway",
      "http",
    ],
    ["https said out loud", "HTTPS://ghcr.io/meetinity/api-gateway", "ghcr.io/meetinity/api-gateway", "https"],
  ])(
    "--image with %s: pods pull the address without a scheme, the preflight uses the scheme",
    (_name, image, address, scheme) => {
      const plan = basePlan({ image })
      expect([plan.image, plan.imageScheme]).toEqual([address, scheme])
      expect(helmUpgradeArgs(plan, "/work/chart", NO_FILES)).toContain(`global.image.repository=${address}`)
    },
  )

  test.each([
    ["another scheme", "ftp://ghcr.io/meetinity/api-gateway"],
    ["a scheme and nothing else", "http://"],
  ])("--image with %s is refused, quoting what was given", (_name, image) => {
    expect(() => basePlan({ image })).toThrow(
      new RegExp(`image "${image.replace(/[/.]/g, "\\$&")}" is not an image repository`),
    )
  })

  test.each([
    ["namespace", { namespace: "prod env" }, /namespace "prod env"/],
    ["secret name", { name: "Ghcr_Pull" }, /pullSecretName "Ghcr_Pull" is not a Kubernetes object name/],
    ["server", { server: "ghcr io" }, /server "ghcr io" is not a registry server/],
    ["username", { username: "" }, /username "" is not a user name/],
  ])("pull secret: bad %s is refused", (_name, overrides, message) => {
    expect(() =>
      planPullSecret({
        namespace: "meetinity-dev",
        name: "ghcr-pull-secret",
        server: "ghcr.io",
        username: "bot",
        ...overrides,
      }),
    ).toThrow(message)
  })
})

interface Rendered {
  kind: string
  metadata: { name: string }
  spec?: { template?: { spec?: { imagePullSecrets?: { name: string }[]; containers?: { image: string }[] } } }
}

function renderedObjects(manifest: string): Rendered[] {
  return parseAllDocuments(manifest)
    .map((doc) => doc.toJS() as Rendered)
    .filter(Boolean)
}

/** The two services of the example umbrella chart, each deployed with its own image at its own place. */
const GATEWAY = { image: "ghcr.io/meetinity/api-gateway", imageValues: "api-gateway.image", version: "v1.4.2" }
const EVENTS = { image: "ghcr.io/meetinity/event-service", imageValues: "event-service.image", version: "v0.3.0" }
const EVENTS_DIGEST = `sha256:${"cd".repeat(32)}`

/** The --set arguments of a deploy, as `helm template` and `helm lint` take them. */
const setsOf = (args: string[]) => args.flatMap((arg, i, all) => (all[i - 1] === "--set" ? ["--set", arg] : []))

const deploymentImages = (manifest: string) =>
  Object.fromEntries(
    renderedObjects(manifest)
      .filter((o) => o.kind === "Deployment")
      .map((d) => [d.metadata.name, d.spec!.template!.spec!.containers!.map((c) => c.image)]),
  )

describe("the example umbrella chart under real Helm 4", () => {
  test.each([
    ["no image at all", []],
    ["the api-gateway deploy's values", setsOf(helmUpgradeArgs(basePlan(GATEWAY), CHART, NO_FILES))],
    [
      "both services' values",
      [
        ...setsOf(helmUpgradeArgs(basePlan(GATEWAY), CHART, NO_FILES)),
        ...setsOf(helmUpgradeArgs(basePlan(EVENTS), CHART, { digest: EVENTS_DIGEST, valuesFiles: [] })),
      ],
    ],
  ])("helm lint --strict passes with %s", (_name, sets) => {
    const result = helm(["lint", CHART, "--strict", ...sets])
    expect(result.stderr + result.stdout).toContain("1 chart(s) linted, 0 chart(s) failed")
    expect(result.status).toBe(0)
  })

  test("helm template renders each service from its own values: its own <repository>:<tag>@<digest>, its own Service, the shared pull secret", () => {
    const sets = [
      ...setsOf(helmUpgradeArgs(basePlan(GATEWAY), CHART, NO_FILES)),
      ...setsOf(helmUpgradeArgs(basePlan(EVENTS), CHART, { digest: EVENTS_DIGEST, valuesFiles: [] })),
    ]
    const result = helm(["template", "meetinity", CHART, "--namespace", "meetinity-dev", ...sets])
    expect(result.status, result.stderr).toBe(0)
    expect(deploymentImages(result.stdout)).toEqual({
      "meetinity-api-gateway": [`ghcr.io/meetinity/api-gateway:v1.4.2@${DIGEST}`],
      "meetinity-event-service": [`ghcr.io/meetinity/event-service:v0.3.0@${EVENTS_DIGEST}`],
    })
    const objects = renderedObjects(result.stdout)
    expect(
      objects
        .filter((o) => o.kind === "Service")
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(["meetinity-api-gateway", "meetinity-event-service"])
    for (const d of objects.filter((o) => o.kind === "Deployment"))
      expect(d.spec!.template!.spec!.imagePullSecrets).toEqual([{ name: "ghcr-pull-secret" }])
  })

  test("a service whose image is not set yet renders nothing; one without a tag fails with the chart's own message", () => {
    const none = helm(["template", "meetinity", CHART])
    expect(none.status, none.stderr).toBe(0)
    expect(renderedObjects(none.stdout)).toEqual([])
    const gatewayOnly = helm([
      "template",
      "meetinity",
      CHART,
      ...setsOf(helmUpgradeArgs(basePlan(GATEWAY), CHART, NO_FILES)),
    ])
    expect(Object.keys(deploymentImages(gatewayOnly.stdout))).toEqual(["meetinity-api-gateway"])
    const noTag = helm([
      "template",
      "meetinity",
      CHART,
      "--set",
      "event-service.image.repository=ghcr.io/meetinity/event-service",
    ])
    expect(noTag.status).not.toBe(0)
    expect(noTag.stderr).toContain("event-service.image.tag is required with event-service.image.repository")
  })

  test("the default --image-values (global.image) is not what the example chart reads: nothing it renders uses the image, and the deploy says so", () => {
    const [, ...args] = helmUpgradeArgs(basePlan(), CHART, NO_FILES)
    const result = helm([...args, "--dry-run=client"])
    expect(result.status, result.stderr).toBe(0)
    const report = parseHelmReport(result.stdout)
    expect(unusedImageProblem(report, basePlan(), DIGEST)).toMatch(
      /Helm upgraded release meetinity in meetinity-dev to revision 1 \(pending-install\), but no container it rendered runs ghcr\.io\/meetinity\/api-gateway:v1\.4\.2@sha256:(ab){32}: the chart does not read global\.image\.repository, \.tag and \.digest as one image[\s\S]*Check --image-values/,
    )
    const [, ...gateway] = helmUpgradeArgs(basePlan(GATEWAY), CHART, NO_FILES)
    const used = helm([...gateway, "--dry-run=client"])
    expect(unusedImageProblem(parseHelmReport(used.stdout), basePlan(GATEWAY), DIGEST)).toBeUndefined()
  })

  test("a chart that puts the published digest on another repository (busybox@<digest>) did not deploy the image: the whole reference is compared", () => {
    const dir = mkdtempSync(join(tmpdir(), "wrong-repo-"))
    cpSync(CHART, dir, { recursive: true })
    const deployment = join(dir, "charts/api-gateway/templates/deployment.yaml")
    writeFileSync(
      deployment,
      readFileSync(deployment, "utf8").replace(
        /image: .*/,
        'image: "docker.io/library/busybox:{{ .Values.image.tag }}@{{ .Values.image.digest }}"',
      ),
    )
    const [, ...args] = helmUpgradeArgs(basePlan(GATEWAY), dir, NO_FILES)
    const result = helm([...args, "--dry-run=client"])
    expect(result.status, result.stderr).toBe(0)
    const report = parseHelmReport(result.stdout)
    expect(report.manifest).toContain(`docker.io/library/busybox:v1.4.2@${DIGEST}`)
    expect(unusedImageProblem(report, basePlan(GATEWAY), DIGEST)).toMatch(
      /no container it rendered runs ghcr\.io\/meetinity\/api-gateway:v1\.4\.2@sha256:(ab){32} \(it rendered docker\.io\/library\/busybox:v1\.4\.2@sha256:(ab){32}\)/,
    )
    rmSync(dir, { recursive: true, force: true })
  })

  test.each(DEFAULT_NAMESPACES)(
    "helm upgrade --install --dry-run=client into %s renders <image>:<version>@<digest> with the pull secret",
    (namespace) => {
      const plan = basePlan({ ...GATEWAY, namespace, set: ["api-gateway.replicaCount=3"] })
      const [, ...args] = helmUpgradeArgs(plan, CHART, NO_FILES)
      const result = helm([...args, "--dry-run=client"])
      expect(result.stderr).toBe("")
      expect(result.status).toBe(0)
      const report = parseHelmReport(result.stdout)
      expect(report).toMatchObject({
        release: "meetinity",
        namespace,
        revision: 1,
        status: "pending-install",
        chart: "meetinity-0.2.0",
      })
      const deployments = renderedObjects(report.manifest).filter((o) => o.kind === "Deployment")
      expect(deployments.map((d) => d.metadata.name)).toEqual(["meetinity-api-gateway"])
      const pod = deployments[0]!.spec!.template!.spec!
      expect(pod.containers!.map((c) => c.image)).toEqual([`ghcr.io/meetinity/api-gateway:v1.4.2@${DIGEST}`])
      expect(pod.imagePullSecrets).toEqual([{ name: "ghcr-pull-secret" }])
      expect((deployments[0] as unknown as { spec: { replicas: number } }).spec.replicas).toBe(3)
    },
  )

  test("without a digest the example chart renders <image>:<version>", () => {
    const result = helm([
      "template",
      "meetinity",
      CHART,
      "--set",
      "api-gateway.image.repository=ghcr.io/meetinity/api-gateway",
      "--set",
      "api-gateway.image.tag=v1.4.2",
    ])
    expect(result.status, result.stderr).toBe(0)
    expect(
      renderedObjects(result.stdout).find((o) => o.kind === "Deployment")!.spec!.template!.spec!.containers![0]!.image,
    ).toBe("ghcr.io/meetinity/api-gateway:v1.4.2")
  })

  test("the example chart's values-meetinity-prod.yaml reaches Helm in prod, and a later --set still wins", () => {
    const replicas = (valuesFiles: string[], set: string[]) => {
      const [, ...args] = helmUpgradeArgs(basePlan({ ...GATEWAY, namespace: "meetinity-prod", set }), CHART, {
        digest: DIGEST,
        valuesFiles,
      })
      const result = helm([...args, "--dry-run=client"])
      expect(result.status, result.stderr).toBe(0)
      return (
        renderedObjects(parseHelmReport(result.stdout).manifest).find((o) => o.kind === "Deployment") as unknown as {
          spec: { replicas: number }
        }
      ).spec.replicas
    }
    expect(replicas([], [])).toBe(2)
    // As chartValuesFiles names it: inside the chart, where Helm runs (here, the chart on this disk).
    const prod = `${CHART}/values-meetinity-prod.yaml`
    expect(replicas([prod], [])).toBe(3)
    expect(replicas([prod], ["api-gateway.replicaCount=5"])).toBe(5)
  })

  test.each([
    [
      "a comma splits the list",
      ["api-gateway.replicaCount=3,api-gateway.note=x"],
      ["api-gateway.replicaCount=3", "api-gateway.note=x"],
    ],
    ["a repeated flag appends", ["a=1", "b=2"], ["a=1", "b=2"]],
    ["double quotes keep a comma in one element", ['"api-gateway.note=a,b"'], ["api-gateway.note=a,b"]],
    ["a backslash is kept for Helm", ['"api-gateway.note=a\\,b"', "c=d"], ["api-gateway.note=a\\,b", "c=d"]],
    ["a doubled quote inside quotes is one quote", ['"api-gateway.note=say ""hi"""'], ['api-gateway.note=say "hi"']],
    ["spaces are kept", [" a=1, b=2"], [" a=1", " b=2"]],
  ])("dagger call's list flags (the CLI's own answers are in docs/engine-run.md): %s", (_name, typed, received) => {
    expect(daggerListFlag(...typed)).toEqual(received)
  })

  test("a quote inside an unquoted element is refused by the CLI itself", () => {
    expect(() => daggerListFlag('api-gateway.note="x"')).toThrow(/bare " in non-quoted-field/)
  })

  test("a value with a comma: unquoted, the CLI splits it and the module refuses the fragment (naming the ways out)", () => {
    expect(() => basePlan({ set: daggerListFlag("api-gateway.note=a,b") })).toThrow(
      /set "b" is not a chart value: expected key=value.*'"key=a\\,b"'.*values file \(--values\)/,
    )
  })

  test("a value with a comma and quotes reaches Helm whole from a values file", () => {
    const dir = mkdtempSync(join(tmpdir(), "values-"))
    writeFileSync(join(dir, "note.yaml"), 'api-gateway:\n  note: "a, b; it\'s \\"quoted\\""\n')
    const [, ...args] = helmUpgradeArgs(basePlan(GATEWAY), CHART, NO_FILES)
    const result = helm([...args, "--values", join(dir, "note.yaml"), "--dry-run=client"])
    expect(result.status, result.stderr).toBe(0)
    const config = (
      JSON.parse(result.stdout.slice(result.stdout.indexOf("{"))) as { config: { "api-gateway": { note: string } } }
    ).config
    expect(config["api-gateway"].note).toBe('a, b; it\'s "quoted"')
  })

  test("Helm's own --set splits on unescaped commas too: --set '\"key=a\\,b\"' on the command line (CSV-quoted, backslash kept) gives a,b", () => {
    const render = (set: string) => {
      const [, ...args] = helmUpgradeArgs(basePlan({ ...GATEWAY, set: [set] }), CHART, NO_FILES)
      return helm([...args, "--dry-run=client"])
    }
    const escaped = render(daggerListFlag('"api-gateway.note=a\\,b"')[0]!)
    expect(escaped.status, escaped.stderr).toBe(0)
    const config = (
      JSON.parse(escaped.stdout.slice(escaped.stdout.indexOf("{"))) as { config: { "api-gateway": { note: string } } }
    ).config
    expect(config["api-gateway"].note).toBe("a,b")
    // Unescaped, Helm reads a second assignment without a value, and refuses it; the module reads
    // --set as Helm does, so it refuses it first, before anything runs.
    const unescaped = helm(["template", "meetinity", CHART, "--set", "api-gateway.note=a,b"])
    expect(unescaped.status).not.toBe(0)
    expect(unescaped.stderr).toMatch(/key "b" has no value/)
    expect(() => basePlan({ ...GATEWAY, set: ["api-gateway.note=a,b"] })).toThrow(
      /set "api-gateway\.note=a,b" is not a chart value/,
    )
  })

  test("helm template renders the same image for every namespace", () => {
    const images = DEFAULT_NAMESPACES.map((namespace) => {
      const sets = setsOf(helmUpgradeArgs(basePlan({ ...GATEWAY, namespace }), CHART, NO_FILES))
      const result = helm(["template", "meetinity", CHART, "--namespace", namespace, ...sets])
      expect(result.status).toBe(0)
      return renderedObjects(result.stdout).find((o) => o.kind === "Deployment")!.spec!.template!.spec!.containers![0]!
        .image
    })
    expect(new Set(images)).toEqual(new Set([`ghcr.io/meetinity/api-gateway:v1.4.2@${DIGEST}`]))
  })
})

describe("never an older version after a newer one: helm get values, read by real Helm", () => {
  /** The release real Helm would store after installing api-gateway `version` into `namespace`. */
  const installed = (namespace: string, version: string) =>
    installedRelease(helmUpgradeArgs(basePlan({ ...GATEWAY, namespace, version }), CHART, NO_FILES).slice(1))

  const deployedIn = (namespace: string, releases: object[], imageValues = GATEWAY.imageValues) => {
    const [, ...args] = helmGetValuesArgs(basePlan({ namespace }))
    const result = helm(args, releases)
    return readDeployedVersion(result.status, result.stdout, result.stderr, imageValues)
  }

  test("a first install: helm says release: not found", () => {
    expect(deployedIn("meetinity-dev", [])).toEqual({ state: "none" })
  })

  test("an installed release: its tag is read back at this service's path; another path has none", () => {
    expect(deployedIn("meetinity-prod", [installed("meetinity-prod", "v1.5.0")])).toEqual({
      state: "deployed",
      tag: "v1.5.0",
    })
    expect(deployedIn("meetinity-prod", [installed("meetinity-prod", "v1.5.0")], EVENTS.imageValues)).toEqual({
      state: "deployed",
    })
    expect(deployedIn("meetinity-prod", [installed("meetinity-prod", "v1.5.0")], "global.image")).toEqual({
      state: "deployed",
    })
  })

  test.each([
    ["the default path", '{"global":{"image":{"tag":"v1.0.0"}}}', undefined, { state: "deployed", tag: "v1.0.0" }],
    [
      "a subchart's path",
      '{"api-gateway":{"image":{"tag":"v1.4.2"}},"global":{"image":{"tag":"v9.0.0"}}}',
      "api-gateway.image",
      { state: "deployed", tag: "v1.4.2" },
    ],
    [
      "a path through a list is no tag",
      '{"api-gateway":[{"image":{"tag":"v1.4.2"}}]}',
      "api-gateway.image",
      { state: "deployed" },
    ],
    ["a path through a string is no tag", '{"api-gateway":"x"}', "api-gateway.image", { state: "deployed" }],
    [
      "a tag that is not a string is no tag",
      '{"api-gateway":{"image":{"tag":1.4}}}',
      "api-gateway.image",
      { state: "deployed" },
    ],
    ["no values at all (helm prints null)", "null", "api-gateway.image", { state: "deployed" }],
  ])("helm get values read at a path: %s", (_name, stdout, imageValues, expected) => {
    expect(readDeployedVersion(0, stdout, "", imageValues)).toEqual(expected)
  })

  test.each([
    ["nothing deployed yet", { state: "none" } as const, "v1.4.3", false, undefined],
    ["the same version again (a re-run)", { state: "deployed", tag: "v1.4.3" } as const, "v1.4.3", false, undefined],
    ["a newer version", { state: "deployed", tag: "v1.4.2" } as const, "v1.4.3", false, undefined],
    [
      "the release after its pre-release",
      { state: "deployed", tag: "v2.0.0-rc.1" } as const,
      "v2.0.0",
      false,
      undefined,
    ],
    [
      "an older version after a newer one",
      { state: "deployed", tag: "v1.5.0" } as const,
      "v1.4.3",
      false,
      /runs v1\.5\.0, newer than v1\.4\.3: refusing to deploy an older version[\s\S]*--allow-downgrade/,
    ],
    [
      "a pre-release after its release",
      { state: "deployed", tag: "v2.0.0" } as const,
      "v2.0.0-rc.1",
      false,
      /runs v2\.0\.0, newer than v2\.0\.0-rc\.1/,
    ],
    ["a deliberate rollback", { state: "deployed", tag: "v1.5.0" } as const, "v1.4.3", true, undefined],
    [
      "a tag that is no version (deployed by hand)",
      { state: "deployed", tag: "latest" } as const,
      "v1.4.3",
      false,
      undefined,
    ],
  ])("%s", (_name, deployed, version, allowDowngrade, refusal) => {
    const result = checkNotOlder(basePlan({ namespace: "meetinity-prod", version, allowDowngrade }), deployed)
    if (refusal) expect(result).toMatch(refusal)
    else expect(result).toBeUndefined()
  })

  test("the whole path with real Helm: v1.5.0 in prod refuses v1.4.3", () => {
    const deployed = deployedIn("meetinity-prod", [installed("meetinity-prod", "v1.5.0")])
    expect(checkNotOlder(basePlan({ ...GATEWAY, namespace: "meetinity-prod", version: "v1.4.3" }), deployed)).toMatch(
      /release meetinity in namespace meetinity-prod runs v1\.5\.0, newer than v1\.4\.3: refusing to deploy an older version .*; the version deployed was read at api-gateway\.image\.tag\./,
    )
  })

  test.each([
    [
      "a cluster Helm cannot reach",
      1,
      "",
      'Error: Kubernetes cluster unreachable: Get "https://10.0.0.1/version": dial tcp: i/o timeout',
    ],
    ["output that is not JSON", 0, "global: {}", ""],
  ])("%s is an error, not a first install", (_name, exitCode, stdout, stderr) => {
    expect(readDeployedVersion(exitCode, stdout, stderr)).toMatchObject({ state: "error" })
  })
})

describe("one release, several services: each deploy keeps the others (real Helm 4, a Kubernetes API stand-in)", () => {
  // Helm asks the cluster for its version before an upgrade of a release it has, even with
  // --dry-run=client: the stand-in answers that, the in-memory driver holds the releases.
  let api: Awaited<ReturnType<typeof startKubeApi>>
  beforeAll(async () => {
    api = await startKubeApi({ existing: [], forbidden: [] }, mkdtempSync(join(tmpdir(), "kube-")))
  })
  afterAll(() => api?.stop())

  type Release = { version: number; config: Record<string, unknown>; manifest: string; info: { status: string } }
  /** `helm upgrade --install --dry-run=client` of these args over `previous`, as the release Helm would store. */
  async function upgrade(args: string[], previous: object[]): Promise<Release> {
    const result = await helmAsync([...args.slice(1), "--dry-run=client"], previous, api.kubeconfig)
    expect(result.status, result.stderr).toBe(0)
    const release = JSON.parse(result.stdout.slice(result.stdout.indexOf("{"))) as Release
    release.info.status = "deployed"
    return release
  }
  const gateway = (version = "v1.4.2", namespace = "meetinity-prod") =>
    helmUpgradeArgs(basePlan({ ...GATEWAY, version, namespace }), CHART, NO_FILES)
  const events = (version = "v0.3.0", namespace = "meetinity-prod", set: string[] = []) =>
    helmUpgradeArgs(basePlan({ ...EVENTS, version, namespace, set }), CHART, { digest: EVENTS_DIGEST, valuesFiles: [] })

  test("api-gateway, then event-service into the same release: revision 2 runs both, each at its own digest", async () => {
    const first = await upgrade(gateway(), [])
    expect(first.version).toBe(1)
    const second = await upgrade(events(), [first])
    expect(second.version).toBe(2)
    expect(deploymentImages(second.manifest)).toEqual({
      "meetinity-api-gateway": [`ghcr.io/meetinity/api-gateway:v1.4.2@${DIGEST}`],
      "meetinity-event-service": [`ghcr.io/meetinity/event-service:v0.3.0@${EVENTS_DIGEST}`],
    })
    // And back: a new api-gateway keeps event-service.
    const third = await upgrade(gateway("v1.4.3"), [first, second])
    expect(deploymentImages(third.manifest)).toEqual({
      "meetinity-api-gateway": [`ghcr.io/meetinity/api-gateway:v1.4.3@${DIGEST}`],
      "meetinity-event-service": [`ghcr.io/meetinity/event-service:v0.3.0@${EVENTS_DIGEST}`],
    })
  })

  test("why --reset-then-reuse-values: without it, deploying event-service would remove api-gateway from the release", async () => {
    const first = await upgrade(gateway(), [])
    const without = await upgrade(
      events().filter((a) => a !== "--reset-then-reuse-values"),
      [first],
    )
    expect(Object.keys(deploymentImages(without.manifest))).toEqual(["meetinity-event-service"])
  })

  test("values an earlier deploy set stay until set again; --set key=null removes one", async () => {
    const first = await upgrade(
      helmUpgradeArgs(
        basePlan({ ...GATEWAY, namespace: "meetinity-prod", set: ["api-gateway.replicaCount=5"] }),
        CHART,
        NO_FILES,
      ),
      [],
    )
    const kept = await upgrade(events(), [first])
    expect(kept.manifest).toMatch(/name: meetinity-api-gateway[\s\S]*?replicas: 5/)
    const removed = await upgrade(events("v0.3.0", "meetinity-prod", ["api-gateway.replicaCount=null"]), [first])
    expect(removed.manifest).toMatch(/name: meetinity-api-gateway[\s\S]*?replicas: 2/)
  })

  test("a service that used global.image moves to its own place; --set global.image=null then drops the old block", async () => {
    const old = await upgrade(
      helmUpgradeArgs(basePlan({ namespace: "meetinity-prod", version: "v1.4.1" }), CHART, NO_FILES),
      [],
    )
    expect(old.config).toMatchObject({ global: { image: { tag: "v1.4.1" } } })
    const moved = await upgrade(gateway(), [old])
    expect(moved.config).toMatchObject({
      global: { image: { tag: "v1.4.1" } },
      "api-gateway": { image: { tag: "v1.4.2" } },
    })
    const cleaned = await upgrade(
      helmUpgradeArgs(
        basePlan({ ...GATEWAY, namespace: "meetinity-prod", set: ["global.image=null"] }),
        CHART,
        NO_FILES,
      ),
      [old, moved],
    )
    expect((cleaned.config as { global: Record<string, unknown> }).global).not.toHaveProperty("image")
    expect(deploymentImages(cleaned.manifest)).toEqual({
      "meetinity-api-gateway": [`ghcr.io/meetinity/api-gateway:v1.4.2@${DIGEST}`],
    })
  })

  test("each deploy installs the whole chart it is given: a copy of the umbrella without the api-gateway subchart removes api-gateway", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chart-"))
    cpSync(CHART, dir, { recursive: true })
    rmSync(join(dir, "charts", "api-gateway"), { recursive: true })
    writeFileSync(
      join(dir, "Chart.yaml"),
      readFileSync(join(dir, "Chart.yaml"), "utf8").replace(/  - name: api-gateway\n(    .*\n)+/, ""),
    )
    const first = await upgrade(gateway(), [])
    const partial = await upgrade(
      helmUpgradeArgs(basePlan({ ...EVENTS, namespace: "meetinity-prod" }), dir, {
        digest: EVENTS_DIGEST,
        valuesFiles: [],
      }),
      [first],
    )
    expect(Object.keys(deploymentImages(partial.manifest))).toEqual(["meetinity-event-service"])
  })

  test("two services deploying into one namespace at once: Helm's lock refuses the second while the first is pending", async () => {
    const first = await upgrade(gateway(), [])
    const pending = { ...first, info: { ...first.info, status: "pending-upgrade" } }
    const result = await helmAsync([...events().slice(1), "--dry-run=client"], [pending], api.kubeconfig)
    expect(result.status).not.toBe(0)
    expect(result.stderr).toMatch(/another operation \(install\/upgrade\/rollback\) is in progress/)
    expect(helmUpgradeAdvice(basePlan(EVENTS), result.stderr)).toMatch(/^An earlier Helm run was cut off/)
  })

  test("the downgrade guard reads each service at its own path: event-service v0.3.0 next to api-gateway v1.4.2 is no downgrade; event-service v0.2.0 after v0.3.0 is", async () => {
    const first = await upgrade(gateway(), [])
    const [, ...getValues] = helmGetValuesArgs(basePlan({ namespace: "meetinity-prod" }))
    const read = async (releases: object[], imageValues: string) => {
      const result = await helmAsync(getValues, releases, api.kubeconfig)
      return readDeployedVersion(result.status, result.stdout, result.stderr, imageValues)
    }
    // The issue's case: a second service's lower version is not "older" than the first service's.
    expect(
      checkNotOlder(basePlan({ ...EVENTS, namespace: "meetinity-prod" }), await read([first], EVENTS.imageValues)),
    ).toBeUndefined()
    const second = await upgrade(events(), [first])
    expect(await read([first, second], GATEWAY.imageValues)).toEqual({ state: "deployed", tag: "v1.4.2" })
    expect(await read([first, second], EVENTS.imageValues)).toEqual({ state: "deployed", tag: "v0.3.0" })
    expect(
      checkNotOlder(
        basePlan({ ...EVENTS, namespace: "meetinity-prod", version: "v0.2.0" }),
        await read([first, second], EVENTS.imageValues),
      ),
    ).toMatch(
      /runs v0\.3\.0, newer than v0\.2\.0: refusing to deploy an older version .*read at event-service\.image\.tag/,
    )
    expect(
      checkNotOlder(
        basePlan({ ...GATEWAY, namespace: "meetinity-prod", version: "v1.4.1" }),
        await read([first, second], GATEWAY.imageValues),
      ),
    ).toMatch(/runs v1\.4\.2, newer than v1\.4\.1/)
  })
})

describe("what to look at after Helm failed", () => {
  test.each([
    [
      "a release locked by a cut-off run, its history unread",
      "Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress",
      /^An earlier Helm run was cut off and left the release pending\. The module does not unlock it itself[^\n]*helm history meetinity -n meetinity-dev shows it; helm rollback meetinity <last deployed revision> -n meetinity-dev/,
    ],
    [
      "a failure before anything was applied (nothing to roll back)",
      "Error: unable to build kubernetes objects from release manifest: failed to download openapi",
      /^Look at: helm history meetinity -n meetinity-dev; kubectl get events/,
    ],
  ])("%s", (_name, said, advice) => {
    expect(helmUpgradeAdvice(basePlan(), said)).toMatch(advice)
  })

  const locked = "Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress"
  test.each([
    [
      "an upgrade cut off after two good revisions",
      [
        [1, "superseded"],
        [2, "deployed"],
        [3, "pending-upgrade"],
      ],
      /^An earlier Helm run was cut off and left the release pending-upgrade at revision 3; the last deployed revision is 2\. The module does not unlock it itself: .* If no other deploy is running: helm rollback meetinity 2 -n meetinity-dev, then deploy again\.$/,
    ],
    [
      "a rollback cut off after a failed upgrade",
      [
        [1, "superseded"],
        [2, "failed"],
        [3, "pending-rollback"],
      ],
      /pending-rollback at revision 3; the last deployed revision is 1\..*helm rollback meetinity 1 -n meetinity-dev/,
    ],
    [
      "a first install cut off",
      [[1, "pending-install"]],
      /pending-install at revision 1; it was never deployed\..*helm uninstall meetinity -n meetinity-dev, then deploy again\.$/,
    ],
  ])("a locked release with its history: %s", (_name, revisions, advice) => {
    const history = parseHelmHistory(
      JSON.stringify(
        (revisions as [number, string][]).map(([revision, status]) => ({
          revision,
          status,
          chart: "meetinity-0.1.0",
          updated: "2026-01-01T00:00:00Z",
          description: "x",
        })),
      ),
    )
    expect(helmUpgradeAdvice(basePlan(), locked, history)).toMatch(advice)
  })

  test.each([
    ["not JSON", "Error: x"],
    ["not a list", "{}"],
  ])("helm history that printed %s is not read", (_name, stdout) => {
    expect(parseHelmHistory(stdout)).toBeUndefined()
  })

  test("helm history arguments: the release in its namespace, as JSON", () => {
    expect(helmHistoryArgs(basePlan())).toEqual([
      "helm",
      "history",
      "meetinity",
      "--namespace",
      "meetinity-dev",
      "--max",
      "20",
      "--output",
      "json",
    ])
  })
})

describe("kubeconfigs kubectl and helm could not use", () => {
  const base = "apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n"
  test.each([
    ["a service-account token", `${base}    token: abc\n`, undefined],
    ["a client certificate", `${base}    client-certificate-data: QUJD\n    client-key-data: QUJD\n`, undefined],
    ["empty", "", /kubeconfig is empty/],
    ["only white space", "\n  \n", /kubeconfig is empty/],
    [
      "EKS (aws eks get-token)",
      `${base}    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: aws\n`,
      /exec plugin \(aws\)/,
    ],
    [
      "GKE (gke-gcloud-auth-plugin, by path)",
      `${base}    exec:\n      command: /usr/lib/google-cloud-sdk/bin/gke-gcloud-auth-plugin\n`,
      /exec plugin \(gke-gcloud-auth-plugin\)/,
    ],
    [
      "an exec plugin in flow style",
      `${base}    exec: {command: kubelogin, apiVersion: client.authentication.k8s.io/v1beta1}\n`,
      /exec plugin \(kubelogin\) for user "u"/,
    ],
    ["a legacy auth provider", `${base}    auth-provider:\n      name: gcp\n`, /auth-provider plugin for user "u"/],
    [
      "EKS as JSON (kubectl reads JSON too)",
      JSON.stringify(
        {
          apiVersion: "v1",
          kind: "Config",
          users: [
            {
              name: "eks",
              user: {
                exec: {
                  apiVersion: "client.authentication.k8s.io/v1beta1",
                  command: "aws",
                  args: ["eks", "get-token"],
                },
              },
            },
          ],
        },
        null,
        2,
      ),
      /exec plugin \(aws\) for user "eks"/,
    ],
    [
      "EKS as JSON on one line",
      JSON.stringify({ users: [{ name: "eks", user: { exec: { command: "aws" } } }] }),
      /exec plugin \(aws\)/,
    ],
    [
      "the whole kubeconfig in flow style",
      "{apiVersion: v1, kind: Config, users: [{name: gke, user: {exec: {command: gke-gcloud-auth-plugin}}}]}",
      /exec plugin \(gke-gcloud-auth-plugin\) for user "gke"/,
    ],
    [
      "an auth provider as JSON",
      JSON.stringify({ users: [{ name: "old", user: { "auth-provider": { name: "oidc" } } }] }),
      /auth-provider plugin for user "old"/,
    ],
    [
      "an exec plugin behind a YAML alias",
      `plugins:\n  eks: &eks {exec: {command: aws}}\nusers:\n- name: u\n  user: *eks\n`,
      /exec plugin \(aws\)/,
    ],
    ["a quoted key", `${base}    "exec":\n      "command": "aws"\n`, /exec plugin \(aws\)/],
    [
      "the second of two users",
      `${base}    token: abc\n- name: v\n  user:\n    exec:\n      command: kubelogin\n`,
      /exec plugin \(kubelogin\) for user "v"/,
    ],
    ["a token user as JSON", JSON.stringify({ users: [{ name: "ci", user: { token: "abc" } }] }), undefined],
    ["exec: null (kubectl ignores it)", `${base}    token: abc\n    exec: null\n`, undefined],
    [
      "the word exec outside a user (a cluster extension)",
      `apiVersion: v1\nclusters:\n- name: c\n  cluster:\n    server: https://x\n    extensions:\n    - name: e\n      extension:\n        exec:\n          command: x\nusers:\n- name: u\n  user:\n    token: abc\n`,
      undefined,
    ],
    [
      "not YAML at all",
      `${base}    token: [abc\n  x: {\n`,
      /kubeconfig is not valid YAML \([A-Z_]+ at line \d+, column \d+\): kubectl and helm could not read it/,
    ],
  ])("%s", (_name, text, problem) => {
    if (problem) expect(kubeconfigProblem(text)).toMatch(problem)
    else expect(kubeconfigProblem(text)).toBeUndefined()
  })

  test("a kubeconfig that is not YAML: the message quotes no part of it (the parser's own message would)", () => {
    const secret = "sa-token-0123456789-secret"
    const problem = kubeconfigProblem(`apiVersion: v1\nusers:\n- name: u\n  user: {token: ${secret}\n`)
    expect(problem).toMatch(/kubeconfig is not valid YAML/)
    expect(problem).not.toContain(secret)
  })

  test("what real kubectl does with an empty kubeconfig (why it is refused up front)", () => {
    const dir = mkdtempSync(join(tmpdir(), "kc-"))
    writeFileSync(join(dir, "empty"), "")
    const result = kubectl(["--kubeconfig", join(dir, "empty"), "--request-timeout=2s", "get", "namespace", "x"])
    expect(result.status).not.toBe(0)
    expect(result.stderr).toMatch(/localhost:8080/)
  })
})

describe("kubectl get namespace, read as the pull secret needs it", () => {
  // An existing namespace, a missing one (created) and one the user may not read (go on to the
  // apply) are read from a real API server's answers in cluster-deploy.test.ts and cluster-release.test.ts.
  test("an unreachable cluster is not taken for a missing namespace", () => {
    const result = kubectl(["--server", "http://127.0.0.1:1", "get", "namespace", "x", "-o", "name"])
    expect(result.status).not.toBe(0)
    expect(namespaceCheck(result.status, result.stderr)).toBe("unknown")
  })
})

describe("a release this very failure left pending is named on that failure", () => {
  test.each([
    [
      "its rollback failed, leaving pending-rollback",
      "Error: UPGRADE FAILED: an error occurred while rolling back the release. original upgrade error: context deadline exceeded",
      [
        { revision: 3, status: "superseded" },
        { revision: 4, status: "failed" },
        { revision: 5, status: "pending-rollback" },
      ],
      /^This deploy's Helm run left the release pending-rollback at revision 5; the last deployed revision is 3\. .* helm rollback meetinity 3 -n meetinity-dev, then deploy again\./,
    ],
    [
      "a first install cut off, pending-install",
      "Error: INSTALLATION FAILED: context canceled",
      [{ revision: 1, status: "pending-install" }],
      /^This deploy's Helm run left the release pending-install at revision 1; it was never deployed\. .* helm uninstall meetinity -n meetinity-dev/,
    ],
    [
      "a failure that left nothing pending (a rollout the module rolled back before)",
      "Error: UPGRADE FAILED: unable to build kubernetes objects from new release manifest: error validating data",
      [
        { revision: 3, status: "superseded" },
        { revision: 4, status: "failed", description: 'Upgrade "meetinity" failed: context deadline exceeded' },
        { revision: 5, status: "deployed" },
      ],
      /^Look at: helm history meetinity -n meetinity-dev/,
    ],
    [
      "a failed revision a deploy cut off before its rollback left behind, this run failing before recording its own",
      "Error: UPGRADE FAILED: unable to build kubernetes objects from new release manifest: error validating data",
      [
        { revision: 3, status: "superseded" },
        { revision: 4, status: "deployed" },
        {
          revision: 5,
          status: "failed",
          description: 'Upgrade "meetinity" failed: resource Deployment/meetinity-dev/meetinity-api-gateway not ready',
        },
      ],
      /^The release's newest revision 5 failed and was never rolled back \(a deploy cut off between its failure and its rollback\?\): its new pods may still be failing beside those of revision 4, the last deployed\. If no other deploy is running: helm rollback meetinity 4 -n meetinity-dev puts it back, then deploy again\.$/,
    ],
    [
      "a failed first install a deploy cut off before its uninstall left behind",
      "Error: UPGRADE FAILED: unable to build kubernetes objects from new release manifest: error validating data",
      [{ revision: 1, status: "failed", description: 'Release "meetinity" failed: context deadline exceeded' }],
      /^The release's newest revision 1 failed and was never uninstalled \(a first install cut off between its failure and its uninstall\?\): it was never deployed, and its pods may still be failing\. If no other deploy is running: helm uninstall meetinity -n meetinity-dev removes it, then deploy again\.$/,
    ],
  ])("%s", (_name, said, history, advice) => {
    expect(helmUpgradeAdvice(basePlan(), said, history)).toMatch(advice)
  })
})
