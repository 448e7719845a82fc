/**
 * pullSecret, helmDeploy and release without an engine or a cluster: the test answers the SDK's
 * queries. kubectl's input is checked against real `kubectl create secret docker-registry`;
 * helm's recorded argument list is run by real Helm 4 (`--dry-run=client`, in-memory driver)
 * and its output handed back, so the module parses what Helm really prints.
 */
import { cpSync, existsSync, mkdtempSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"

import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest"
import { dag, type DirectoryID, type SecretID } from "@dagger.io/dagger"

import { MeetinityRelease } from "../src/index.js"
import { quietly } from "../src/delivery/cluster.js"
import { argValue, recordDagger, type Query, type Recorder } from "./support/dagger.js"
import { publishAnswer } from "./support/engine.js"
import { type Command, execAnswers, type Ran, unwrap } from "./support/exec-answers.js"
import { OciPusher } from "./support/oci.js"
import { startRegistry, type RunningRegistry } from "./support/registry.js"
import { startKubeApi } from "./support/kube-api.js"
import { TOKEN_KUBECONFIG as KUBECONFIG_TEXT } from "./support/kubeconfig.js"
import { helm, helmAsync, installedRelease, kubectl } from "./support/tools.js"

const READER_TOKEN = 'ghp_R3ader-T0ken:with/odd"chars'
const PUSH_TOKEN = "ghp_Push-T0ken-For-Publish"
const KUBECONFIG_ID = "SecretID-kubeconfig"
const EKS_KUBECONFIG = KUBECONFIG_TEXT.replace(
  "    token: sa-token-not-real",
  "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: aws\n      args: [eks, get-token, --cluster-name, prod]",
)
const CHART = resolve("examples/meetinity")

let registry: RunningRegistry
let push: OciPusher
let recorder: Recorder | undefined
/** Answers what Helm asks a cluster before upgrading a release it already has (its version, its API groups). */
let kubeApi: Awaited<ReturnType<typeof startKubeApi>>

beforeAll(async () => {
  registry = await startRegistry()
  push = new OciPusher(registry.url)
  kubeApi = await startKubeApi({ existing: [], forbidden: [] }, mkdtempSync(join(tmpdir(), "kube-")))
})
afterAll(async () => {
  await kubeApi?.stop()
  await registry?.stop()
})
afterEach(() => recorder?.restore())

interface EngineLog {
  /** Secrets the module created with setSecret, by the ID the engine gave them. */
  secrets: Map<string, string>
  /** What ran, in order: "kubectl <namespace>" or "helm <namespace>". */
  runs: string[]
  /** What real Helm printed for each `helm upgrade`, by namespace. */
  upgrades: Map<string, string>
}

interface FakeEngineOptions {
  failHelmIn?: string
  seed?: string
  missingNamespaces?: string[]
  /** The chart directory on disk that "DirectoryID-chart" stands for. */
  chartDir?: string
  /** Releases Helm already has, per namespace (real Helm release objects). */
  releases?: Record<string, object>
  /** What the kubeconfig Secret holds. */
  kubeconfigText?: string
  /** kubectl apply is forbidden in this namespace. */
  failKubectlIn?: string
}

function fakeEngine(options: FakeEngineOptions = {}) {
  const chartDir = options.chartDir ?? CHART
  const log: EngineLog = { secrets: new Map(), runs: [], upgrades: new Map() }
  let secretCounter = 0
  const answer = async (query: Query) => {
    const first = query.chain[0]!
    if (query.leaf === "plaintext") {
      const id = argValue(first.args, "id")
      if (id === KUBECONFIG_ID) return options.kubeconfigText ?? KUBECONFIG_TEXT
      return id === "SecretID-reader"
        ? READER_TOKEN
        : id === "SecretID-push"
          ? PUSH_TOKEN
          : new Error(`unexpected plaintext read of ${String(id)}`)
    }
    if (first.field === "setSecret" && query.leaf === "id") {
      const id = `setSecret-${++secretCounter}`
      log.secrets.set(id, argValue(first.args, "plaintext") as string)
      return id
    }
    if (query.leaf === "publish") return publishAnswer(push, options.seed ?? "release", query)
    if (query.leaf === "exists" && first.field === "loadDirectoryFromID") {
      const path = join(chartDir, argValue(query.chain.at(-1)!.args, "path") as string)
      return existsSync(path) && statSync(path).isFile()
    }
    return commands(query)
  }

  const ok = (stdout: string): Ran => ({ exitCode: 0, stdout, stderr: "" })

  /** What the engine's container would report for one command, as the real program would. */
  async function execute({ args: execArgs }: Command, query: Query): Promise<Ran> {
    const mounts = query.chain
      .filter((c) => c.field === "withMountedSecret")
      .map((c) => ({ path: argValue(c.args, "path"), source: argValue(c.args, "source") }))
    expect(mounts).toContainEqual({ path: "/run/secrets/kubeconfig", source: KUBECONFIG_ID })
    // A failing command must come back as an exit code (expect: ANY), not as an exception.
    expect(query.chain.find((c) => c.field === "withExec")!.args).toMatch(/expect: ANY\b/)
    const namespace = execArgs.includes("--namespace") ? execArgs[execArgs.indexOf("--namespace") + 1]! : execArgs[3]!
    if (execArgs[0] === "helm" && execArgs[1] === "get" && execArgs[2] === "values") {
      log.runs.push(`helm get values ${namespace}`)
      const release = options.releases?.[namespace]
      const real = helm(execArgs.slice(1), release ? [release] : [])
      return { exitCode: real.status, stdout: real.stdout, stderr: real.stderr }
    }
    if (execArgs[0] === "helm" && execArgs[1] === "get" && execArgs[2] === "manifest") {
      log.runs.push(`helm get manifest ${namespace}`)
      const release = options.releases?.[namespace]
      const real = helm(execArgs.slice(1), release ? [release] : [])
      return { exitCode: real.status, stdout: real.stdout, stderr: real.stderr }
    }
    if (execArgs[0] === "helm" && execArgs[1] === "history") {
      log.runs.push(`helm history ${namespace}`)
      const release = options.releases?.[namespace]
      const real = helm(execArgs.slice(1), release ? [release] : [])
      return { exitCode: real.status, stdout: real.stdout, stderr: real.stderr }
    }
    if (execArgs[0] === "kubectl" && execArgs[1] === "get" && execArgs[2] === "namespace") {
      log.runs.push(`kubectl get namespace ${namespace}`)
      return options.missingNamespaces?.includes(namespace)
        ? { exitCode: 1, stdout: "", stderr: `Error from server (NotFound): namespaces "${namespace}" not found\n` }
        : ok(`namespace/${namespace}\n`)
    }
    if (execArgs[0] === "kubectl" && execArgs[1] === "create" && execArgs[2] === "namespace") {
      log.runs.push(`kubectl create namespace ${namespace}`)
      return ok(`namespace/${namespace} created\n`)
    }
    if (execArgs[0] === "kubectl") {
      const manifestMount = mounts.find((m) => m.path === "/run/secrets/pull-secret.json")!
      const manifest = JSON.parse(log.secrets.get(manifestMount.source as string)!) as {
        metadata: { name: string; namespace: string }
      }
      log.runs.push(`kubectl ${manifest.metadata.namespace}`)
      if (options.failKubectlIn === manifest.metadata.namespace) {
        return {
          exitCode: 1,
          stdout: "",
          stderr: `Error from server (Forbidden): secrets "${manifest.metadata.name}" is forbidden`,
        }
      }
      return ok(`secret/${manifest.metadata.name} serverside-applied\n`)
    }
    if (execArgs.includes("--dry-run=server")) {
      log.runs.push(`helm render ${namespace}`)
      const args = execArgs
        .slice(1)
        .map((a) => (a.startsWith("/work/chart") ? chartDir + a.slice("/work/chart".length) : a))
        .map((a) => (a === "--dry-run=server" ? "--dry-run=client" : a))
      const release = options.releases?.[namespace]
      const real = release ? await helmAsync(args, [release], kubeApi.kubeconfig) : helm(args)
      return { exitCode: real.status, stdout: real.stdout, stderr: real.stderr }
    }
    log.runs.push(`helm ${namespace}`)
    if (namespace === options.failHelmIn) {
      return {
        exitCode: 1,
        stdout: "",
        stderr:
          "Error: UPGRADE FAILED: resource Deployment/meetinity-staging/meetinity-api-gateway not ready. status: InProgress, message: Available: 0/2",
      }
    }
    // Real Helm, over the release the namespace already has (an upgrade asks the cluster stand-in for its version).
    const release = options.releases?.[namespace]
    const args = [
      ...execArgs.slice(1).map((a) => (a.startsWith("/work/chart") ? chartDir + a.slice("/work/chart".length) : a)),
      "--dry-run=client",
    ]
    const real = release ? await helmAsync(args, [release], kubeApi.kubeconfig) : helm(args)
    log.upgrades.set(namespace, real.stdout)
    return { exitCode: real.status, stdout: real.stdout, stderr: real.stderr }
  }
  const commands = execAnswers(execute)
  return { answer, log }
}

/** The commands the module ran, in order: each one's exit code is read exactly once. */
const commandsRun = (r: Recorder) =>
  r.queries
    .filter((q) => q.leaf === "exitCode")
    .map((q) => unwrap(argValue(q.chain.find((c) => c.field === "withExec")!.args, "args") as string[]).args)

const kubeconfig = () => dag.loadSecretFromID(KUBECONFIG_ID as SecretID)
const readerToken = () => dag.loadSecretFromID("SecretID-reader" as SecretID)
const chart = () => dag.loadDirectoryFromID("DirectoryID-chart" as DirectoryID)

/** Every query outside setSecret: none may carry the token, plain or base64. */
function expectNoSecretOutsideSetSecret(queries: Query[], token: string, username: string) {
  const forms = [
    token,
    Buffer.from(token).toString("base64"),
    Buffer.from(`${username}:${token}`).toString("base64"),
    JSON.stringify(token).slice(1, -1),
  ]
  for (const query of queries.filter((q) => q.chain[0]!.field !== "setSecret")) {
    for (const form of forms) expect(query.text).not.toContain(form)
  }
}

describe("pullSecret", () => {
  test("applies kubectl's own docker-registry secret, server-side, from a mounted Secret; the token is only in setSecret", async () => {
    const engine = fakeEngine()
    recorder = await recordDagger(engine.answer)
    const out = await new MeetinityRelease().pullSecret(kubeconfig(), "meetinity-dev", "reader-bot", readerToken())
    expect(out).toBe("secret/ghcr-pull-secret serverside-applied")

    const [manifestText] = [...engine.log.secrets.values()]
    const manifest = JSON.parse(manifestText!) as {
      data: Record<string, string>
      metadata: { namespace: string; name: string }
    }
    const real = kubectl([
      "create",
      "secret",
      "docker-registry",
      "ghcr-pull-secret",
      "-n",
      "meetinity-dev",
      "--docker-server",
      "ghcr.io",
      "--docker-username",
      "reader-bot",
      "--docker-password",
      READER_TOKEN,
      "--dry-run=client",
      "-o",
      "json",
    ])
    expect(manifest.data).toEqual((JSON.parse(real.stdout) as { data: unknown }).data)
    expect(manifest.metadata).toMatchObject({ name: "ghcr-pull-secret", namespace: "meetinity-dev" })

    const execs = commandsRun(recorder)
    expect(execs).toEqual([
      ["kubectl", "get", "namespace", "meetinity-dev", "-o", "name"],
      [
        "kubectl",
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=meetinity-release",
        "-f",
        "/run/secrets/pull-secret.json",
      ],
    ])
    expect(new Set(recorder.calls("from").map((c) => argValue(c.args, "address")))).toEqual(
      new Set(["registry.k8s.io/kubectl:v1.35.2"]),
    )
    expect(engine.log.runs).toEqual(["kubectl get namespace meetinity-dev", "kubectl meetinity-dev"])
    expect(recorder.calls("withEnvVariable").map((c) => argValue(c.args, "name"))).toEqual(
      expect.arrayContaining(["KUBECONFIG", "MEETINITY_RELEASE_RUN"]),
    )
    expectNoSecretOutsideSetSecret(recorder.queries, READER_TOKEN, "reader-bot")
  })

  test("a namespace that does not exist yet is created before the secret goes in", async () => {
    const engine = fakeEngine({ missingNamespaces: ["meetinity-qa"] })
    recorder = await recordDagger(engine.answer)
    await new MeetinityRelease().pullSecret(kubeconfig(), "meetinity-qa", "reader-bot", readerToken())
    expect(engine.log.runs).toEqual([
      "kubectl get namespace meetinity-qa",
      "kubectl create namespace meetinity-qa",
      "kubectl meetinity-qa",
    ])
  })

  test("a kubectl failure names the namespace and what to check", async () => {
    recorder = await recordDagger(fakeEngine({ failKubectlIn: "meetinity-prod" }).answer)
    await expect(
      new MeetinityRelease().pullSecret(kubeconfig(), "meetinity-prod", "reader-bot", readerToken()),
    ).rejects.toThrow(
      /kubectl apply of Secret ghcr-pull-secret in namespace meetinity-prod failed \(exit code 1\):\n {2}Error from server \(Forbidden\)[\s\S]*kubectl auth can-i patch secrets -n meetinity-prod/,
    )
  })

  test.each([
    ["namespace", ["Meetinity", "bot", "ghcr-pull-secret", "ghcr.io"], /namespace "Meetinity"/],
    ["readerUsername", ["meetinity-dev", "bad user", "ghcr-pull-secret", "ghcr.io"], /readerUsername "bad user"/],
    ["pullSecretName", ["meetinity-dev", "bot", "Pull_Secret", "ghcr.io"], /pullSecretName "Pull_Secret"/],
    ["server", ["meetinity-dev", "bot", "ghcr-pull-secret", "not a host"], /server "not a host"/],
  ])("bad %s: refused before any query", async (_name, [namespace, username, name, server], message) => {
    recorder = await recordDagger(() => undefined)
    await expect(
      new MeetinityRelease().pullSecret(kubeconfig(), namespace!, username!, readerToken(), name, server),
    ).rejects.toThrow(message)
    expect(recorder.queries).toEqual([])
  })
})

describe("helmDeploy", () => {
  const IMAGE = () => `${registry.host}/meetinity/deployed`
  let published: { digest: string }
  beforeAll(async () => {
    published = await push.image("meetinity/deployed", "deployed", { tag: "v1.4.2" })
  })

  type DeployOptions = Partial<{
    namespace: string
    version: string
    image: string
    timeout: string
    set: string[]
    digest: string
    readerUsername: string
    readerToken: boolean
    values: string[]
    platform: string
    allowDowngrade: boolean
    imageValues: string
  }>
  /** A deploy of the api-gateway service of the example umbrella chart (its image at api-gateway.image), unless told otherwise. */
  const deploy = (o: DeployOptions = {}) =>
    new MeetinityRelease().helmDeploy(
      chart(),
      kubeconfig(),
      o.namespace ?? "meetinity-staging",
      o.version ?? "v1.4.2",
      o.image ?? IMAGE(),
      "meetinity",
      "ghcr-pull-secret",
      o.timeout ?? "5m",
      o.set ?? [],
      10,
      o.digest ?? "",
      o.readerUsername ?? "",
      o.readerToken ? readerToken() : undefined,
      o.values ?? [],
      o.platform ?? "linux/amd64",
      o.allowDowngrade ?? false,
      o.imageValues ?? "api-gateway.image",
    )
  const helmRuns = () => commandsRun(recorder!).filter((a) => a[1] === "upgrade" && !a.includes("--dry-run=server"))

  test("resolves the image, then runs helm upgrade --install in the pinned Helm image, pinned to the digest, its output kept out of the log", async () => {
    const engine = fakeEngine()
    recorder = await recordDagger(engine.answer)
    const out = await deploy({ set: ["api-gateway.replicaCount=2"] })
    expect(out).toBe(
      `release meetinity in meetinity-staging: revision 1, pending-install (chart meetinity-0.2.0, image ${IMAGE()}:v1.4.2@${published.digest} at api-gateway.image)`,
    )
    // Helm in the pinned Helm image; the namespace lookup before it in the pinned kubectl image.
    expect(new Set(recorder.calls("from").map((c) => argValue(c.args, "address")))).toEqual(
      new Set(["alpine/helm:4.1.4", "registry.k8s.io/kubectl:v1.35.2"]),
    )
    const [exec] = helmRuns()
    expect(exec!.slice(0, 5)).toEqual(["helm", "upgrade", "--install", "meetinity", "/work/chart"])
    // Sent as `sh -c 'exec "$@" >FILE' sh helm ...`: the shell reads none of Helm's arguments, and
    // Helm's JSON (every value, every rendered Secret) goes to a file the module reads, not to the log.
    const sent = recorder.calls("withExec").map((c) => argValue(c.args, "args") as string[])
    expect(sent).toContainEqual(quietly(exec!))
    expect(sent.filter((a) => a.includes("upgrade") || a.includes("values")).every((a) => a[0] === "sh")).toBe(true)
    expect(exec).toContain("--reset-then-reuse-values")
    expect(exec!.slice(-8)).toEqual([
      "--set",
      `api-gateway.image.repository=${IMAGE()}`,
      "--set",
      "api-gateway.image.tag=v1.4.2",
      "--set",
      `api-gateway.image.digest=${published.digest}`,
      "--set",
      "global.imagePullSecrets[0].name=ghcr-pull-secret",
    ])
    expect(
      new Set(recorder.calls("withDirectory").map((c) => `${argValue(c.args, "path")} ${argValue(c.args, "source")}`)),
    ).toEqual(new Set(["/work/chart DirectoryID-chart"]))
    // The namespace is looked up (created when missing) between the downgrade check and Helm.
    expect(engine.log.runs).toEqual([
      "helm get values meetinity-staging",
      "helm get manifest meetinity-staging",
      "kubectl get namespace meetinity-staging",
      "helm meetinity-staging",
    ])
  })

  test("an http:// image: the preflight reads that registry over plain http, and pods pull the address without the scheme", async () => {
    const engine = fakeEngine()
    recorder = await recordDagger(engine.answer)
    const out = await deploy({ image: `http://${registry.host}/meetinity/deployed` })
    expect(out).toContain(`image ${IMAGE()}:v1.4.2@${published.digest}`)
    expect(helmRuns()[0]).toContain(`api-gateway.image.repository=${IMAGE()}`)
  })

  test("the digest given is checked and deployed; the reader token is read for the registry only", async () => {
    const engine = fakeEngine()
    recorder = await recordDagger(engine.answer)
    await deploy({ digest: published.digest, readerUsername: "reader-bot", readerToken: true })
    expect(helmRuns()[0]).toContain(`api-gateway.image.digest=${published.digest}`)
    expectNoSecretOutsideSetSecret(recorder.queries, READER_TOKEN, "reader-bot")
  })

  test.each([
    [
      "a version that was never published",
      { version: "v1.4.3" },
      /meetinity\/deployed:v1\.4\.3 does not exist[\s\S]*Nothing was deployed to meetinity-staging/,
    ],
    [
      "a digest the tag does not name",
      { digest: `sha256:${"e".repeat(64)}` },
      /meetinity\/deployed:v1\.4\.2 is sha256:[0-9a-f]{64} in the registry, not sha256:e{64}/,
    ],
    [
      "a platform the image does not have",
      { platform: "linux/arm64" },
      /is a single linux\/amd64 image, not linux\/arm64/,
    ],
  ])("%s: refused before any container runs", async (_name, options, message) => {
    const engine = fakeEngine()
    recorder = await recordDagger(engine.answer)
    await expect(deploy(options)).rejects.toThrow(message)
    expect(recorder.calls("withExec")).toEqual([])
    expect(engine.log.runs).toEqual([])
  })

  test("per-namespace values: values-meetinity-prod.yaml first, then --values in order, each reaching real Helm", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chart-"))
    cpSync(CHART, dir, { recursive: true })
    writeFileSync(join(dir, "canary.yaml"), "api-gateway:\n  replicaCount: 4\n")
    writeFileSync(join(dir, "notes.yaml"), 'api-gateway:\n  note: "a, b, c"\n')
    const engine = fakeEngine({ chartDir: dir })
    recorder = await recordDagger(engine.answer)
    await deploy({ namespace: "meetinity-prod", values: ["canary.yaml", "notes.yaml"] })
    const [exec] = helmRuns()
    expect(exec!.flatMap((a, i) => (a === "--values" ? [exec![i + 1]] : []))).toEqual([
      "/work/chart/values-meetinity-prod.yaml",
      "/work/chart/canary.yaml",
      "/work/chart/notes.yaml",
    ])
    // What Helm made of them: the last file wins, and a value with commas arrives whole.
    const real = helm([
      ...exec!.slice(1).map((a) => (a.startsWith("/work/chart") ? dir + a.slice("/work/chart".length) : a)),
      "--dry-run=client",
    ])
    expect(real.status, real.stderr).toBe(0)
    const release = JSON.parse(real.stdout.slice(real.stdout.indexOf("{"))) as {
      manifest: string
      config: { "api-gateway": { note: string } }
    }
    expect(release.manifest).toMatch(/replicas: 4/)
    expect(release.config["api-gateway"].note).toBe("a, b, c")
  })

  test("a values file the chart does not have: refused before any container runs", async () => {
    const engine = fakeEngine()
    recorder = await recordDagger(engine.answer)
    await expect(deploy({ values: ["values-qa.yaml"] })).rejects.toThrow(
      /values "values-qa.yaml" is not a file in the chart directory/,
    )
    expect(recorder.calls("withExec")).toEqual([])
  })

  test("an older version over a newer one is refused before the upgrade; --allow-downgrade deploys it", async () => {
    await push.image("meetinity/deployed", "older", { tag: "v1.4.1" })
    const newer = installedRelease([
      "upgrade",
      "--install",
      "meetinity",
      CHART,
      "--namespace",
      "meetinity-prod",
      "--output",
      "json",
      "--set",
      `api-gateway.image.repository=${IMAGE()}`,
      "--set",
      "api-gateway.image.tag=v1.4.2",
    ])
    const engine = fakeEngine({ releases: { "meetinity-prod": newer } })
    recorder = await recordDagger(engine.answer)
    await expect(deploy({ namespace: "meetinity-prod", version: "v1.4.1" })).rejects.toThrow(
      /runs v1\.4\.2, newer than v1\.4\.1: refusing to deploy an older version/,
    )
    expect(engine.log.runs).toEqual(["helm get values meetinity-prod"])
    await deploy({ namespace: "meetinity-prod", version: "v1.4.1", allowDowngrade: true })
    expect(engine.log.runs).toEqual([
      "helm get values meetinity-prod",
      // The removal guard: what the release holds, against Helm's render of this deploy.
      "helm get manifest meetinity-prod",
      "helm render meetinity-prod",
      "kubectl get namespace meetinity-prod",
      "helm meetinity-prod",
    ])
  })

  test("a second service into the same release: it keeps the first, sets only its own place, and the first's newer version is no downgrade", async () => {
    const events = await push.image("meetinity/event-service", "events", { tag: "v0.3.0" })
    // api-gateway v1.4.2 runs in prod, deployed by the module (its own arguments, stored by real Helm).
    const gateway = installedRelease([
      "upgrade",
      "--install",
      "meetinity",
      CHART,
      "--namespace",
      "meetinity-prod",
      "--output",
      "json",
      "--reset-then-reuse-values",
      "--set",
      `api-gateway.image.repository=${IMAGE()}`,
      "--set",
      "api-gateway.image.tag=v1.4.2",
      "--set",
      `api-gateway.image.digest=${published.digest}`,
      "--set",
      "global.imagePullSecrets[0].name=ghcr-pull-secret",
    ])
    const engine = fakeEngine({ releases: { "meetinity-prod": gateway } })
    recorder = await recordDagger(engine.answer)
    const out = await deploy({
      namespace: "meetinity-prod",
      image: `${registry.host}/meetinity/event-service`,
      version: "v0.3.0",
      imageValues: "event-service.image",
    })
    expect(out).toBe(
      `release meetinity in meetinity-prod: revision 2, pending-upgrade (chart meetinity-0.2.0, image ${registry.host}/meetinity/event-service:v0.3.0@${events.digest} at event-service.image)`,
    )
    const [exec] = helmRuns()
    expect(exec!.filter((a) => a.includes(".image."))).toEqual([
      `event-service.image.repository=${registry.host}/meetinity/event-service`,
      "event-service.image.tag=v0.3.0",
      `event-service.image.digest=${events.digest}`,
    ])
    const release = JSON.parse(
      engine.log.upgrades.get("meetinity-prod")!.slice(engine.log.upgrades.get("meetinity-prod")!.indexOf("{")),
    ) as { manifest: string }
    const images = release.manifest
      .split("\n")
      .filter((line) => line.trim().startsWith("image:"))
      .map((line) => line.trim())
    expect(images).toEqual([
      `image: "${IMAGE()}:v1.4.2@${published.digest}"`,
      `image: "${registry.host}/meetinity/event-service:v0.3.0@${events.digest}"`,
    ])
  })

  test("a --image-values the chart does not read: Helm ran, and the deploy fails saying the service was not deployed", async () => {
    const engine = fakeEngine()
    recorder = await recordDagger(engine.answer)
    await expect(deploy({ imageValues: "api-gatway.image" })).rejects.toThrow(
      /Helm upgraded release meetinity in meetinity-staging to revision 1 \(pending-install\), but no container it rendered runs 127\.0\.0\.1:\d+\/meetinity\/deployed:v1\.4\.2@sha256:[0-9a-f]{64}: the chart does not read api-gatway\.image\.repository, \.tag and \.digest/,
    )
    expect(engine.log.runs).toEqual([
      "helm get values meetinity-staging",
      "helm get manifest meetinity-staging",
      "kubectl get namespace meetinity-staging",
      "helm meetinity-staging",
    ])
  })

  test("a Helm failure names the namespace, the release, the image, Helm's message and where to look", async () => {
    const engine = fakeEngine({ failHelmIn: "meetinity-staging" })
    recorder = await recordDagger(engine.answer)
    await expect(deploy()).rejects.toThrow(
      /helm upgrade --install of release meetinity \(127\.0\.0\.1:\d+\/meetinity\/deployed:v1\.4\.2@sha256:[0-9a-f]{64}\) in namespace meetinity-staging failed \(exit code 1\):[\s\S]*UPGRADE FAILED[\s\S]*helm history meetinity -n meetinity-staging/,
    )
  })

  test.each([
    ["namespace", { namespace: "Prod" }, /namespace "Prod"/],
    ["version", { version: "1.4.2" }, /version "1.4.2" is not a version tag/],
    ["set", { set: ["nokey"] }, /set "nokey"/],
    ["timeout", { timeout: "ten minutes" }, /timeout "ten minutes"/],
    ["image", { image: "ghcr.io/meetinity/api-gateway:v1" }, /image "ghcr.io\/meetinity\/api-gateway:v1"/],
    ["digest", { digest: "sha256:abc" }, /digest "sha256:abc" is not a manifest digest/],
    ["values", { values: ["../x.yaml"] }, /values "..\/x.yaml" is not a values file/],
    ["platform", { platform: "amd64" }, /platform "amd64" is not a platform/],
    ["reader user without a token", { readerUsername: "reader-bot" }, /readerToken null is missing/],
    [
      "image without a registry host",
      { image: "meetinity/api-gateway" },
      /image "meetinity\/api-gateway" names no registry host: "meetinity" would be read as one\. Expected registry\/owner\/name \(e\.g\. ghcr\.io\/meetinity\/api-gateway\)/,
    ],
    ["imageValues", { imageValues: "api-gateway image" }, /imageValues "api-gateway image" is not a chart values path/],
    [
      "set of this service's digest",
      { set: ["api-gateway.image.digest=sha256:00"] },
      /set "api-gateway\.image\.digest=sha256:00" sets api-gateway\.image\.digest, which helmDeploy sets itself/,
    ],
  ])("bad %s: refused before any query", async (_name, overrides, message) => {
    recorder = await recordDagger(() => undefined)
    await expect(deploy(overrides)).rejects.toThrow(message)
    expect(recorder.queries).toEqual([])
  })
})

describe("imageUri", () => {
  test("the pinned reference of a published version, read from the registry without any container", async () => {
    const image = await push.image("meetinity/uri", "uri", { tag: "v2.1.0" })
    recorder = await recordDagger(() => undefined)
    expect(await new MeetinityRelease().imageUri(`${registry.host}/meetinity/uri`, "v2.1.0")).toBe(
      `${registry.host}/meetinity/uri:v2.1.0@${image.digest}`,
    )
    expect(recorder.queries).toEqual([])
  })

  test.each([
    [
      "no registry host",
      "meetinity/api-gateway",
      /image "meetinity\/api-gateway" names no registry host: "meetinity" would be read as one\. Expected registry\/owner\/name \(e\.g\. ghcr\.io\/meetinity\/api-gateway\)/,
    ],
    [
      "10,000 characters",
      `ghcr.io/meetinity/${"x".repeat(9982)}`,
      /is not an image repository: expected registry\/owner\/name, without tag or digest, at most 255 characters/,
    ],
  ])("an image with %s is refused before the registry is asked", async (_name, image, message) => {
    recorder = await recordDagger(() => undefined)
    await expect(new MeetinityRelease().imageUri(image, "v1.4.2")).rejects.toThrow(message)
  })
})

describe("a kubeconfig kubectl and helm could not use is refused before any container runs", () => {
  test.each([
    [
      "empty (the environment's KUBECONFIG secret is missing)",
      "",
      /kubeconfig is empty: kubectl and helm would fall back to localhost:8080\. In a workflow, the GitHub environment of this namespace has no KUBECONFIG secret/,
    ],
    [
      "with an exec plugin (EKS)",
      EKS_KUBECONFIG,
      /kubeconfig gets its credentials from an exec plugin \(aws\) for user "deployer", which the kubectl and helm containers do not have/,
    ],
    [
      "with an exec plugin, as JSON",
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        users: [{ name: "deployer", user: { exec: { command: "aws" } } }],
      }),
      /kubeconfig gets its credentials from an exec plugin \(aws\) for user "deployer"/,
    ],
  ])("%s", async (_name, text, message) => {
    for (const call of [
      () => new MeetinityRelease().pullSecret(kubeconfig(), "meetinity-dev", "reader-bot", readerToken()),
      () =>
        new MeetinityRelease().helmDeploy(
          chart(),
          kubeconfig(),
          "meetinity-dev",
          "v1.4.2",
          "ghcr.io/meetinity/api-gateway",
        ),
      () =>
        new MeetinityRelease().release(
          dag.loadDirectoryFromID("DirectoryID-source" as DirectoryID),
          "release/v9.0.0",
          "0123abc",
          "meetinity",
          "ci-bot",
          dag.loadSecretFromID("SecretID-push" as SecretID),
          chart(),
          kubeconfig(),
          "reader-bot",
          readerToken(),
          "api-gateway",
          registry.url,
        ),
    ]) {
      const engine = fakeEngine({ kubeconfigText: text })
      recorder = await recordDagger(engine.answer)
      await expect(call()).rejects.toThrow(message)
      expect(recorder.calls("withExec")).toEqual([])
      expect(recorder.calls("publish")).toEqual([])
      for (const query of recorder.queries) expect(query.text).not.toContain("sa-token-not-real")
      recorder.restore()
    }
  })
})

describe("release", () => {
  const run = (
    namespaces?: string[],
    overrides: {
      ref?: string
      readerUsername?: string
      values?: string[]
      platform?: string
      imageValues?: string
    } = {},
  ) =>
    new MeetinityRelease().release(
      dag.loadDirectoryFromID("DirectoryID-source" as DirectoryID),
      overrides.ref ?? "release/v1.4.2",
      "0123abc",
      "Meetinity",
      "ci-bot",
      dag.loadSecretFromID("SecretID-push" as SecretID),
      chart(),
      kubeconfig(),
      overrides.readerUsername ?? "reader-bot",
      readerToken(),
      "api-gateway",
      registry.url,
      "Dockerfile",
      ["linux/amd64"],
      [],
      namespaces,
      "meetinity",
      "10m",
      [],
      overrides.values ?? [],
      overrides.platform ?? "linux/amd64",
      false,
      overrides.imageValues ?? "api-gateway.image",
    )

  test("publishes once, then pull secret and Helm per namespace: dev, then staging, then prod, same version", async () => {
    const engine = fakeEngine({ seed: "ordered" })
    recorder = await recordDagger(engine.answer)
    const summary = await run()
    expect(recorder.calls("publish")).toHaveLength(1)
    expect(engine.log.runs.filter((r) => !r.startsWith("kubectl get namespace"))).toEqual([
      "kubectl meetinity-dev",
      "helm get values meetinity-dev",
      "helm get manifest meetinity-dev",
      "helm meetinity-dev",
      "kubectl meetinity-staging",
      "helm get values meetinity-staging",
      "helm get manifest meetinity-staging",
      "helm meetinity-staging",
      "kubectl meetinity-prod",
      "helm get values meetinity-prod",
      "helm get manifest meetinity-prod",
      "helm meetinity-prod",
    ])
    const tags = commandsRun(recorder)
      .filter((a) => a[0] === "helm" && a[1] === "upgrade")
      .map((a) => a.find((x) => x.startsWith("api-gateway.image.tag=")))
    expect(tags).toEqual([
      "api-gateway.image.tag=v1.4.2",
      "api-gateway.image.tag=v1.4.2",
      "api-gateway.image.tag=v1.4.2",
    ])
    const digest = /:v1\.4\.2@(sha256:[0-9a-f]{64})/.exec(summary)![1]!
    const helmExecs = commandsRun(recorder).filter((a) => a[1] === "upgrade")
    expect(helmExecs.map((a) => a.find((x) => x.startsWith("api-gateway.image.digest=")))).toEqual(
      Array(3).fill(`api-gateway.image.digest=${digest}`),
    )
    expect(helmExecs.every((a) => a.includes("--reset-then-reuse-values"))).toBe(true)
    // values-meetinity-prod.yaml of the example chart is used in prod only.
    expect(helmExecs.map((a) => a.filter((x) => x.includes("values-")))).toEqual([
      [],
      [],
      ["/work/chart/values-meetinity-prod.yaml"],
    ])
    expect(summary).toMatch(
      new RegExp(
        [
          "^published:",
          `  ${registry.host}/meetinity/api-gateway:v1\\.4\\.2@sha256:[0-9a-f]{64}`,
          `  ${registry.host}/meetinity/api-gateway:sha-0123abc@sha256:[0-9a-f]{64}`,
          "deployed v1\\.4\\.2 \\(sha256:[0-9a-f]{64}\\):",
          "  meetinity-dev: revision 1 \\(pending-install\\)",
          "  meetinity-staging: revision 1 \\(pending-install\\)",
          "  meetinity-prod: revision 1 \\(pending-install\\)$",
        ].join("\n"),
      ),
    )
    expectNoSecretOutsideSetSecret(recorder.queries, READER_TOKEN, "reader-bot")
    for (const query of recorder.queries) expect(query.text).not.toContain(PUSH_TOKEN)
  })

  test("a values file the chart does not have: refused before anything is built or published", async () => {
    const engine = fakeEngine()
    recorder = await recordDagger(engine.answer)
    await expect(run(undefined, { ref: "release/v1.6.0", values: ["missing.yaml"] })).rejects.toThrow(
      /values "missing.yaml" is not a file in the chart directory/,
    )
    expect(recorder.calls("publish")).toEqual([])
    expect(recorder.calls("withExec")).toEqual([])
  })

  test("staging's Helm fails: prod is never touched and the error names staging and Helm's message", async () => {
    const engine = fakeEngine({ failHelmIn: "meetinity-staging", seed: "stops" })
    recorder = await recordDagger(engine.answer)
    // A new version: v1.4.2 is already published by the test above, at another digest.
    const attempt = run(undefined, { ref: "release/v1.5.0" })
    await expect(attempt).rejects.toThrow(
      /release v1\.5\.0 stopped at namespace meetinity-staging: helm upgrade --install[\s\S]*UPGRADE FAILED[\s\S]*deployed before it: meetinity-dev \(revision 1\)\nnot touched: meetinity-prod/,
    )
    expect(
      engine.log.runs.filter((r) => !/^(kubectl get namespace|helm get values|helm get manifest)/.test(r)),
    ).toEqual([
      "kubectl meetinity-dev",
      "helm meetinity-dev",
      "kubectl meetinity-staging",
      "helm meetinity-staging",
      // After a failed upgrade, its history: is the release left pending?
      "helm history meetinity-staging",
    ])
    // Only the chart was looked at for prod (its values file, before publishing); nothing ran there.
    expect(recorder.queries.filter((q) => q.text.includes("meetinity-prod")).map((q) => q.leaf)).toEqual(["exists"])
  })

  test.each([
    ["a bad ref", undefined, { ref: "release/v1.4" }, /ref "release\/v1.4"/],
    [
      "a bad namespace among good ones",
      ["meetinity-dev", "Staging"],
      {},
      /namespaces "Staging" is not a Kubernetes namespace/,
    ],
    ["a repeated namespace", ["meetinity-dev", "meetinity-dev"], {}, /namespaces "meetinity-dev" is listed twice/],
    ["no namespace", [], {}, /namespaces \[\] is empty/],
    ["a bad reader username", undefined, { readerUsername: "" }, /readerUsername "" is not a user name/],
    [
      "a cluster platform that is not built",
      undefined,
      { platform: "linux/arm64" },
      /platform "linux\/arm64" is not among the platforms built \(linux\/amd64\)/,
    ],
    ["a bad values file", undefined, { values: ["/etc/x.yaml"] }, /values "\/etc\/x.yaml" is not a values file/],
    [
      "a bad imageValues",
      undefined,
      { imageValues: "api-gateway.image[0]" },
      /imageValues "api-gateway\.image\[0\]" is not a chart values path/,
    ],
  ])("%s: nothing is built, published or deployed", async (_name, namespaces, overrides, message) => {
    recorder = await recordDagger(() => undefined)
    await expect(run(namespaces, overrides)).rejects.toThrow(message)
    expect(recorder.queries).toEqual([])
  })
})
