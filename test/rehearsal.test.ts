/**
 * rehearse without an engine: the test answers the SDK's queries. The registry service is a real
 * registry process (the engine's push to localhost:5000 lands there, as registryService routes
 * it; the module's own process reaches it at the service's endpoint); Helm's recorded argument
 * list is run by real Helm 4 against the real chart (--dry-run=client), and the cluster's read
 * back is built from what Helm really rendered. What a real engine and cluster print is in
 * docs/engine-run.md.
 */
import { createHash } from "node:crypto"
import { cpSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"

import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest"
import { dag, type DirectoryID } from "@dagger.io/dagger"
import { parseAllDocuments } from "yaml"

import { MeetinityRelease } from "../src/index.js"
import { CLUSTER_IMAGE, REGISTRY_IMAGE } from "../src/rehearsal/plan.js"
import { stateProblems } from "../src/rehearsal/report.js"
import { runRehearsal } from "../src/rehearsal/run.js"
import { RegistryClient } from "../src/oci/client.js"
import { argValue, recordDagger, type Query, type Recorder } from "./support/dagger.js"
import { hostDirectories } from "./support/directories.js"
import { type Command, execAnswers, type Ran } from "./support/exec-answers.js"
import { publishAnswer } from "./support/engine.js"
import { OciPusher } from "./support/oci.js"
import { startRegistry, type RunningRegistry } from "./support/registry.js"
import { helm } from "./support/tools.js"

const CHART = resolve("examples/meetinity")
const SOURCE_DIGEST = "sha256:5a0ed31c0ffee00000000000000000000000000000000000000000000000abcd"
const BUILD_TAG = `sha-${createHash("sha1").update(SOURCE_DIGEST).digest("hex").slice(0, 7)}`
const NAMESPACES = ["meetinity-dev", "meetinity-staging", "meetinity-prod"]

let registry: RunningRegistry
let push: OciPusher
let recorder: Recorder | undefined

beforeAll(async () => {
  registry = await startRegistry()
  push = new OciPusher(registry.url)
})
afterAll(() => registry?.stop())
afterEach(() => recorder?.restore())

interface FakeOptions {
  chartDir?: string
  /** How many /readyz answers fail before the API server is ready (Infinity: never). */
  notReadyFor?: number
  /** Deployments the read back reports as not Available, by namespace. */
  unavailableIn?: string[]
  seed?: string
  /**
   * A rollout that fails in meetinity-dev: Helm, the release's history and the cluster there answer
   * what they answered on a real node (test/fixtures/diagnosis/<name>, a first install that could
   * not pull); the uninstall that follows succeeds.
   */
  failedRollout?: string
}

interface Log {
  secrets: Map<string, string>
  /** Every command run, as "<program> <args...>" (namespaced commands end with their namespace). */
  commands: string[][]
  /** The containers' bindings: one entry per command, the (alias, service) pairs of its container. */
  bindings: { alias: unknown; service: unknown }[][]
  started: string[]
  stopped: string[]
  endpoints: string[]
  rendered: Map<string, string>
}

/** The engine and the two services, as the test stands them in. */
function fakeEngine(options: FakeOptions = {}) {
  const chartDir = options.chartDir ?? CHART
  const directories = hostDirectories({ "DirectoryID-chart": chartDir })
  /** The host path of the chart a container has at /work/chart. */
  const chartIn = (query: Query) => {
    const mount = query.chain.find((c) => c.field === "withDirectory" && argValue(c.args, "path") === "/work/chart")
    return mount ? directories.path(argValue(mount.args, "source") as string)! : chartDir
  }
  const log: Log = {
    secrets: new Map(),
    commands: [],
    bindings: [],
    started: [],
    stopped: [],
    endpoints: [],
    rendered: new Map(),
  }
  let secrets = 0
  let readyz = 0

  const answer = async (query: Query): Promise<unknown> => {
    const first = query.chain[0]!
    const last = query.chain.at(-1)!
    if (first.field === "setSecret" && query.leaf === "id") {
      const id = `setSecret-${++secrets}`
      log.secrets.set(id, argValue(first.args, "plaintext") as string)
      return id
    }
    if (query.leaf === "plaintext" && first.field === "setSecret") return argValue(first.args, "plaintext")
    if (query.leaf === "plaintext")
      return log.secrets.get(argValue(first.args, "id") as string) ?? new Error(`unknown secret in ${query.text}`)
    if (query.leaf === "digest" && first.field === "loadDirectoryFromID") return SOURCE_DIGEST
    if (query.leaf === "start") {
      const image = argValue(query.chain.find((c) => c.field === "from")!.args, "address") as string
      const id =
        image === REGISTRY_IMAGE
          ? "ServiceID-registry"
          : image === CLUSTER_IMAGE
            ? "ServiceID-cluster"
            : `ServiceID-unknown-${image}`
      log.started.push(id)
      return id
    }
    if (query.leaf === "endpoint") {
      log.endpoints.push(argValue(first.args, "id") as string)
      return registry.host
    }
    if (query.leaf === "stop") {
      log.stopped.push(argValue(first.args, "id") as string)
      return argValue(first.args, "id")
    }
    if (query.leaf === "publish") return publishAnswer(push, options.seed ?? "rehearsal", query)
    // The chart the rehearsal publishes (read as bytes) and the one it pulls back for Helm.
    const built = directories.answer(query)
    if (built !== undefined) return built
    const tarred = directories.tarStdout(query)
    if (tarred !== undefined) return tarred
    if (query.leaf === "exists" && first.field === "loadDirectoryFromID") {
      const path = join(directories.path(argValue(first.args, "id") as string)!, argValue(last.args, "path") as string)
      return existsSync(path) && statSync(path).isFile()
    }
    return commands(query)
  }

  const ok = (stdout: string) => ({ exitCode: 0, stdout, stderr: "" })
  const commands = execAnswers(async ({ args }: Command, query: Query): Promise<Ran> => {
    log.commands.push(args)
    log.bindings.push(
      query.chain
        .filter((c) => c.field === "withServiceBinding")
        .map((c) => ({ alias: argValue(c.args, "alias"), service: argValue(c.args, "service") })),
    )
    return execute(args, query)
  })
  function execute(args: string[], query: Query): Ran {
    const mounts = query.chain.filter((c) => c.field === "withMountedSecret").map((c) => argValue(c.args, "path"))
    expect(mounts).toContain("/run/secrets/kubeconfig")
    const failing = options.failedRollout && args.includes("meetinity-dev") ? options.failedRollout : undefined
    if (failing) {
      const real = (file: string) => readFileSync(join("test", "fixtures", "diagnosis", failing, file), "utf8")
      if (args[0] === "helm" && args[1] === "upgrade" && !args.includes("--dry-run=server"))
        return { exitCode: 1, stdout: "", stderr: real("helm-upgrade.stderr") }
      if (args[0] === "helm" && args[1] === "history") return ok(real("history.json"))
      if (args[0] === "helm" && args[1] === "get" && args[2] === "manifest" && args.includes("--revision"))
        return ok(real("manifest.yaml"))
      if (args[0] === "kubectl" && args[2] === "pods,replicasets,events") return ok(real("objects.json"))
      if (args[0] === "helm" && args[1] === "uninstall") return ok(`release "meetinity" uninstalled\n`)
    }
    if (args[0] === "kubectl" && args[1] === "get" && args[2] === "--raw=/readyz") {
      return ++readyz > (options.notReadyFor ?? 0)
        ? ok("ok")
        : {
            exitCode: 1,
            stdout: "",
            stderr: "The connection to the server kwok:8080 was refused - did you specify the right host or port?",
          }
    }
    if (args[0] === "kubectl" && args[1] === "apply" && args.includes("/work/node.json")) {
      const file = query.chain.find((c) => c.field === "withNewFile" && argValue(c.args, "path") === "/work/node.json")!
      const node = JSON.parse(argValue(file.args, "contents") as string) as { metadata: { name: string } }
      return ok(`node/${node.metadata.name} created\n`)
    }
    if (args[0] === "kubectl" && args[1] === "wait") return ok(`${args[3]} condition met\n`)
    if (args[0] === "kubectl" && args[1] === "get" && args[2] === "namespace")
      return { exitCode: 1, stdout: "", stderr: `Error from server (NotFound): namespaces "${args[3]}" not found\n` }
    if (args[0] === "kubectl" && args[1] === "create" && args[2] === "namespace")
      return ok(`namespace/${args[3]} created\n`)
    if (args[0] === "kubectl" && args[1] === "apply") return ok("secret/ghcr-pull-secret serverside-applied\n")
    if (args[0] === "helm" && args[1] === "get" && args[2] === "values")
      return { exitCode: 1, stdout: "", stderr: "Error: release: not found\n" }
    if (args[0] === "helm" && args[1] === "get" && args[2] === "manifest")
      return { exitCode: 1, stdout: "", stderr: "Error: release: not found\n" }
    if (args[0] === "helm" && args[1] === "history")
      return { exitCode: 1, stdout: "", stderr: "Error: release: not found\n" }
    if (args[0] === "kubectl" && args[1] === "get" && args[2] === "events")
      return ok(
        `LAST SEEN   TYPE      REASON              OBJECT                             MESSAGE\n2s          Warning   FailedCreate        replicaset/meetinity-api-gateway   (what the cluster said)\n`,
      )
    if (args[0] === "kubectl" && args[1] === "get" && args[2] === "deployments" && args.includes("-n"))
      return ok(
        "NAME                    READY   UP-TO-DATE   AVAILABLE\nmeetinity-api-gateway   0/2     0            0\n",
      )
    if (args[0] === "helm" && args[1] === "upgrade") {
      const namespace = args[args.indexOf("--namespace") + 1]!
      const real = helm([
        ...args.slice(1).map((a) => (a.startsWith("/work/chart") ? chartIn(query) + a.slice("/work/chart".length) : a)),
        "--dry-run=client",
      ])
      if (real.status === 0)
        log.rendered.set(
          namespace,
          (JSON.parse(real.stdout.slice(real.stdout.indexOf("{"))) as { manifest: string }).manifest,
        )
      return { exitCode: real.status, stdout: real.stdout, stderr: real.stderr }
    }
    if (args[0] === "kubectl" && args[1] === "get" && args[2] === "deployments") {
      // The cluster runs what Helm rendered: each Deployment of each namespace, Available unless told otherwise.
      const items = [...log.rendered.entries()].flatMap(([namespace, manifest]) =>
        parseAllDocuments(manifest)
          .map(
            (d) =>
              d.toJSON() as {
                kind?: string
                metadata: { name: string; namespace?: string }
                spec: { replicas?: number }
              },
          )
          .filter((d) => d?.kind === "Deployment")
          .map((d) => {
            const available = !options.unavailableIn?.includes(namespace)
            return {
              ...d,
              metadata: { ...d.metadata, namespace },
              status: {
                readyReplicas: available ? (d.spec.replicas ?? 1) : 0,
                conditions: [{ type: "Available", status: available ? "True" : "False" }],
              },
            }
          }),
      )
      return ok(JSON.stringify({ apiVersion: "v1", kind: "List", items }))
    }
    throw new Error(`unexpected command ${args.join(" ")}`)
  }
  return { answer, log }
}

const source = () => dag.loadDirectoryFromID("DirectoryID-source" as DirectoryID)
const chart = () => dag.loadDirectoryFromID("DirectoryID-chart" as DirectoryID)
const rehearse = (
  o: Partial<{
    imageValues: string
    namespaces: string[]
    values: string[]
    set: string[]
    platforms: string[]
    image: string
    timeout: string
  }> = {},
) =>
  new MeetinityRelease().rehearse(
    source(),
    chart(),
    o.imageValues,
    o.namespaces,
    o.values,
    o.set,
    o.platforms,
    o.image,
    o.timeout,
  )

/** What ran, without the per-namespace detail: the program and its first words. */
const shape = (args: string[]) => args.slice(0, 3).join(" ")

describe("rehearse", () => {
  test("starts both services, publishes to the registry service, runs the release path bound to the cluster, reads back, reports", async () => {
    const engine = fakeEngine()
    recorder = await recordDagger(engine.answer)
    const report = await rehearse()
    const { log } = engine

    // The services: the pinned images, their ports exposed, started before anything else runs.
    const from = (id: string) =>
      recorder!.queries.find(
        (q) =>
          q.leaf === "start" &&
          log.started.includes(id) &&
          q.text.includes(id === "ServiceID-registry" ? REGISTRY_IMAGE : CLUSTER_IMAGE),
      )!
    expect(log.started).toEqual(["ServiceID-registry", "ServiceID-cluster"])
    expect(argValue(from("ServiceID-registry").chain.find((c) => c.field === "withExposedPort")!.args, "port")).toBe(
      5000,
    )
    expect(argValue(from("ServiceID-cluster").chain.find((c) => c.field === "withExposedPort")!.args, "port")).toBe(
      8080,
    )
    expect(REGISTRY_IMAGE).toBe("docker.io/library/registry:3.0.0")
    expect(CLUSTER_IMAGE).toBe("registry.k8s.io/kwok/cluster:v0.8.0-k8s.v1.35.5")
    expect(log.endpoints).toEqual(["ServiceID-registry"])

    // Publish: one push, to localhost:5000 routed to the registry service; the version tag
    // written by the module's own process at the service's endpoint (it is in the real registry).
    const publishes = recorder.calls("publish")
    expect(publishes).toHaveLength(1)
    expect(argValue(publishes[0]!.args, "address")).toBe(`localhost:5000/rehearsal/api-gateway:${BUILD_TAG}`)
    expect(argValue(publishes[0]!.args, "registryService")).toBe("ServiceID-registry")
    const client = new RegistryClient({ scheme: "http", host: registry.host })
    const version = await client.resolve("rehearsal/api-gateway", "v0.0.0-rehearsal")
    const build = await client.resolve("rehearsal/api-gateway", BUILD_TAG)
    expect(version?.digest).toBeDefined()
    expect(version?.digest).toBe(build?.digest)

    // The cluster: readiness, the fake node, then the release path per namespace, then the read back.
    expect(log.commands.map(shape)).toEqual([
      "kubectl get --raw=/readyz",
      "kubectl apply -f",
      "kubectl wait --for=condition=Ready",
      ...NAMESPACES.flatMap(() => [
        "kubectl get namespace",
        "kubectl create namespace",
        "kubectl apply --server-side",
        "helm get values",
        "helm get manifest",
        "helm upgrade --install",
      ]),
      "kubectl get deployments",
    ])
    // Every kubectl and helm container has the cluster service bound as "kwok", and nothing else.
    expect(log.bindings).toEqual(log.commands.map(() => [{ alias: "kwok", service: "ServiceID-cluster" }]))
    const kubeconfig = [...log.secrets.values()].find((s) => s.includes("kind: Config"))!
    expect(kubeconfig).toContain("server: http://kwok:8080")
    // Helm pins every namespace to the digest publish reported, at the rehearsal's address.
    const upgrades = log.commands.filter((a) => a[1] === "upgrade")
    expect(upgrades.map((a) => a[a.indexOf("--namespace") + 1])).toEqual(NAMESPACES)
    for (const a of upgrades) {
      expect(a).toContain(`api-gateway.image.digest=${version!.digest}`)
      expect(a).toContain("api-gateway.image.repository=localhost:5000/rehearsal/api-gateway")
      expect(a).toContain("api-gateway.image.tag=v0.0.0-rehearsal")
    }

    // The report: every step with a time, then what runs where, at the published digest.
    expect(report).toMatch(
      new RegExp(
        `^rehearsal passed in \\d+\\.\\ds: meetinity-dev -> meetinity-staging -> meetinity-prod at ${version!.digest}\n`,
      ),
    )
    const stepLines = report
      .split("\n")
      .filter((l) => /^ +\d+\.\ds {2}/.test(l))
      .map((l) =>
        l
          .trim()
          .split(/\s{2,}/)
          .slice(1)
          .join(" "),
      )
    expect(stepLines).toEqual([
      "start services registry docker.io/library/registry:3.0.0, cluster registry.k8s.io/kwok/cluster:v0.8.0-k8s.v1.35.5",
      "cluster ready node rehearsal-node Ready",
      // The chart goes the way a real one does: published to the registry, then pulled by digest.
      expect.stringMatching(/^package chart meetinity 0\.2\.0, \d+ files, layer sha256:[0-9a-f]{64}$/),
      "read chart version 0.2.0 is not there",
      expect.stringMatching(/^push chart sha256:[0-9a-f]{64}$/),
      "check inputs",
      expect.stringMatching(
        /^resolve chart oci:\/\/localhost:5000\/rehearsal\/charts\/meetinity:0\.2\.0@sha256:[0-9a-f]{64}$/,
      ),
      expect.stringMatching(/^pull chart \d+ files$/),
      expect.stringMatching(/^publish localhost:5000\/rehearsal\/api-gateway:v0\.0\.0-rehearsal@sha256:/),
      // publish's own steps, each a span inside it: read, build, read again, push the build tag, write the version tag.
      "read registry version tag missing, build tag missing",
      "build linux/amd64",
      "read registry version tag missing, build tag missing",
      expect.stringMatching(/^push sha-[0-9a-f]{7} at sha256:[0-9a-f]{64}$/),
      "tag v0.0.0-rehearsal created",
      expect.stringMatching(
        /^preflight localhost:5000\/rehearsal\/api-gateway:v0\.0\.0-rehearsal@sha256:[0-9a-f]{64}, manifest sha256:/,
      ),
      ...NAMESPACES.flatMap((ns) => [
        `namespace ${ns}`,
        `pull secret ${ns}`,
        `downgrade guard ${ns}`,
        `removal guard ${ns} removes nothing another service runs`,
        // Helm's own report (this test's Helm runs with --dry-run: its status is pending-install).
        expect.stringMatching(new RegExp(`^helm upgrade ${ns} revision 1 \\([a-z-]+\\)$`)),
      ]),
      "read back 3 Deployment(s) in 3 namespace(s)",
      ...NAMESPACES.map((ns) => `final state ${ns} 1 Deployment(s) Available, published image running`),
    ])
    for (const ns of NAMESPACES) {
      expect(report).toContain(`  ${ns}:\n    meetinity-api-gateway: Available `)
      expect(report).toMatch(
        new RegExp(
          `${ns}:\\n    meetinity-api-gateway: Available \\d/\\d, localhost:5000/rehearsal/api-gateway:v0\\.0\\.0-rehearsal@${version!.digest} \\(published image\\)`,
        ),
      )
    }
    // A step inside another is indented under it: publish's own steps by one level.
    expect(report).toMatch(/\n +\d+\.\ds {2}publish {2,}localhost/)
    expect(report).toMatch(/\n +\d+\.\ds {2} {2}build {2,}linux\/amd64/)
    expect(report).toContain("never run")
    // Both services are stopped at the end, the cluster first.
    expect(log.stopped).toEqual(["ServiceID-cluster", "ServiceID-registry"])
  })

  test("a broken chart: the failure names the step and the namespace, with Helm's own message; later namespaces untouched", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chart-"))
    cpSync(CHART, dir, { recursive: true })
    const deployment = join(dir, "charts/api-gateway/templates/deployment.yaml")
    writeFileSync(
      deployment,
      readFileSync(deployment, "utf8").replace(
        "replicas: {{ .Values.replicaCount }}",
        "replicas: {{ .Values.replicaCount | nosuchfunction }}",
      ),
    )
    // Its own version: the tests' registry outlives each rehearsal's, and a chart version never moves.
    const chartYaml = join(dir, "Chart.yaml")
    writeFileSync(chartYaml, readFileSync(chartYaml, "utf8").replace(/^version: 0\.2\.0$/m, "version: 0.2.1-broken"))
    const engine = fakeEngine({ chartDir: dir, seed: "rehearsal" })
    recorder = await recordDagger(engine.answer)
    const attempt = rehearse({ image: "broken-chart" })
    // Helm's failure names the image by its address, not by where the module's process reached the registry.
    await expect(attempt).rejects.toThrow(
      /^rehearsal failed at step "helm upgrade" in namespace meetinity-dev after [\d.]+s:\nrelease v0\.0\.0-rehearsal stopped at namespace meetinity-dev: helm upgrade --install of release meetinity \(localhost:5000\/rehearsal\/broken-chart:v0\.0\.0-rehearsal@sha256:[0-9a-f]{64}\)[\s\S]*nosuchfunction[\s\S]*not touched: meetinity-staging, meetinity-prod/,
    )
    await attempt.catch((error: Error) => {
      expect(error.message).toMatch(/steps:\n[\s\S]*helm upgrade +meetinity-dev +FAILED/)
      // Not advice to look at a cluster that is gone: what it said, read before it was stopped.
      expect(error.message).not.toMatch(/Look at: .*kubectl get events/)
      expect(error.message).toMatch(
        /what the cluster said about meetinity-dev before the rehearsal stopped it:\n\$ kubectl get deployments -n meetinity-dev -o wide\nNAME[\s\S]*\$ kubectl get events -n meetinity-dev --sort-by=\.lastTimestamp\n[\s\S]*\(what the cluster said\)/,
      )
    })
    expect(engine.log.commands.filter((a) => a[1] === "upgrade")).toHaveLength(1)
    expect(engine.log.stopped).toEqual(["ServiceID-cluster", "ServiceID-registry"])
  })

  test("a rollout that fails: diagnosed and undone in the rehearsal's cluster, each command bound to it; the failure says why first", async () => {
    const engine = fakeEngine({ seed: "rehearsal", failedRollout: "no-secret" })
    recorder = await recordDagger(engine.answer)
    const attempt = rehearse({ timeout: "25s" })
    await expect(attempt).rejects.toThrow(
      /^rehearsal failed at step "helm upgrade" in namespace meetinity-dev after [\d.]+s:\nrelease v0\.0\.0-rehearsal stopped at namespace meetinity-dev: helm upgrade --install of release meetinity \(localhost:5000\/rehearsal\/api-gateway:v0\.0\.0-rehearsal@sha256:[0-9a-f]{64}\) in namespace meetinity-dev did not become ready within 25s:\n {2}pods meetinity-api-gateway-\w+-\w+, meetinity-api-gateway-\w+-\w+, container api-gateway: [\w /]+: .*no basic auth credentials\n {4}The namespace meetinity-dev has no pull secret ghcr-pull-secret [^\n]*\nThe module uninstalled release meetinity: its first install \(revision 1\) failed/,
    )
    const error = (await attempt.catch((e: unknown) => e)) as Error
    expect(error.message).toMatch(
      /steps:\n[\s\S]*helm upgrade +meetinity-dev +FAILED[\s\S]*diagnose +meetinity-dev[\s\S]*rollback +meetinity-dev/,
    )
    const after = engine.log.commands.slice(engine.log.commands.findIndex((a) => a[1] === "upgrade"))
    expect(after.map(shape).slice(0, 5)).toEqual([
      "helm upgrade --install",
      "helm history meetinity",
      "helm get manifest",
      "kubectl get pods,replicasets,events",
      "helm uninstall meetinity",
    ])
    // Every kubectl and helm container, the diagnosis's and the uninstall's too, reaches the cluster service.
    expect(engine.log.bindings).toEqual(
      engine.log.commands.map(() => [{ alias: "kwok", service: "ServiceID-cluster" }]),
    )
    expect(engine.log.commands.filter((a) => a[1] === "upgrade" && !a.includes("--dry-run=server"))).toHaveLength(1)
    expect(engine.log.stopped).toEqual(["ServiceID-cluster", "ServiceID-registry"])
  })

  test('a cluster that is slow to start is waited for; one that never answers fails the step "cluster ready" before anything is published', async () => {
    let engine = fakeEngine({ notReadyFor: 2, seed: "rehearsal" })
    recorder = await recordDagger(engine.answer)
    const fast = { attempts: 3, intervalMs: 1 }
    await runRehearsal(
      {
        image: "slow-cluster",
        imageValues: "api-gateway.image",
        namespaces: ["meetinity-dev"],
        values: [],
        set: [],
        platforms: ["linux/amd64"],
        helmRelease: "meetinity",
        timeout: "5m",
      },
      { source: source(), chart: { kind: "directory", directory: chart() } },
      fast,
    )
    expect(engine.log.commands.filter((a) => a[2] === "--raw=/readyz")).toHaveLength(3)
    recorder.restore()

    engine = fakeEngine({ notReadyFor: Infinity })
    recorder = await recordDagger(engine.answer)
    await expect(
      runRehearsal(
        {
          image: "dead-cluster",
          imageValues: "api-gateway.image",
          namespaces: ["meetinity-dev"],
          values: [],
          set: [],
          platforms: ["linux/amd64"],
          helmRelease: "meetinity",
          timeout: "5m",
        },
        { source: source(), chart: { kind: "directory", directory: chart() } },
        fast,
      ),
    ).rejects.toThrow(
      /^rehearsal failed at step "cluster ready" after [\d.]+s:\nthe cluster service \(registry\.k8s\.io\/kwok\/cluster:v0\.8\.0-k8s\.v1\.35\.5\) did not answer \/readyz after 3 tries: The connection to the server kwok:8080 was refused/,
    )
    expect(recorder.calls("publish")).toEqual([])
  })

  test('Deployments that never become Available: the failure names the step "final state" and the namespace', async () => {
    const engine = fakeEngine({ unavailableIn: ["meetinity-staging"], seed: "rehearsal" })
    recorder = await recordDagger(engine.answer)
    await expect(rehearse({ image: "unavailable" })).rejects.toThrow(
      /^rehearsal failed at step "final state" in namespace meetinity-staging after [\d.]+s:\nthe cluster does not run what was deployed in meetinity-staging:\n {2}Deployment meetinity-api-gateway is not Available \(0\/\d ready\)/,
    )
  })

  test.each([
    ["a bad namespace", { namespaces: ["meetinity-dev", "Prod"] }, /namespaces "Prod" is not a Kubernetes namespace/],
    ["no namespace", { namespaces: [] }, /namespaces \[\] is empty/],
    [
      "a --set of a value the release sets itself",
      { set: ["api-gateway.image.tag=v9.9.9"] },
      /set "api-gateway.image.tag=v9.9.9" sets api-gateway.image.tag, which helmDeploy sets itself/,
    ],
    ["bad image values", { imageValues: "api-gateway..image" }, /imageValues "api-gateway..image"/],
    ["a bad values file", { values: ["../secrets.yaml"] }, /values "..\/secrets.yaml" is not a values file/],
    ["a bad platform", { platforms: ["amd64"] }, /platforms "amd64" is not a platform/],
    ["no platform", { platforms: [] }, /platforms \[\] is empty/],
    ["a bad image name", { image: "API" }, /image "API" is not an image name/],
    ["a bad timeout", { timeout: "soon" }, /timeout "soon" is not a duration/],
  ])("%s: refused before any service starts or any query is sent", async (_name, overrides, message) => {
    recorder = await recordDagger(() => undefined)
    await expect(rehearse(overrides)).rejects.toThrow(message)
    expect(recorder.queries).toEqual([])
  })

  test("a values file the chart does not have: refused before any service starts (only the chart is looked at)", async () => {
    const engine = fakeEngine({ seed: "rehearsal" })
    recorder = await recordDagger(engine.answer)
    await expect(rehearse({ values: ["canary.yaml"] })).rejects.toThrow(
      /values "canary\.yaml" is not a file in the chart directory/,
    )
    expect(recorder.queries.map((q) => q.leaf)).toEqual(["exists"])
    expect(engine.log.stopped).toEqual([])
  })

  test("an absurd timeout: refused before anything runs", async () => {
    recorder = await recordDagger(() => undefined)
    await expect(rehearse({ timeout: "99999999999h" })).rejects.toThrow(
      /timeout "99999999999h" is longer than a deploy may wait: expected a duration of at most 24h/,
    )
    expect(recorder.queries).toEqual([])
  })

  test("the default source and chart are in the repository, where defaultPath finds them", () => {
    expect(statSync("examples/api-gateway/Dockerfile").isFile()).toBe(true)
    expect(statSync("examples/meetinity/Chart.yaml").isFile()).toBe(true)
  })
})

describe("the read-back compares the whole image reference", () => {
  const digest = `sha256:${"cd".repeat(32)}`
  const published = { repository: "localhost:5000/rehearsal/api-gateway", version: "v0.0.0-rehearsal", digest }
  const deployment = (image: string) => ({
    namespace: "meetinity-dev",
    name: "meetinity-api-gateway",
    available: true,
    readyReplicas: 2,
    replicas: 2,
    images: [image],
  })
  test.each([
    ["the published image", `localhost:5000/rehearsal/api-gateway:v0.0.0-rehearsal@${digest}`, true],
    ["by digest alone", `localhost:5000/rehearsal/api-gateway@${digest}`, true],
    ["the published digest on another repository", `docker.io/library/busybox:v0.0.0-rehearsal@${digest}`, false],
    ["a short Docker Hub name with the digest", `busybox@${digest}`, false],
    ["the right repository at another digest", `localhost:5000/rehearsal/api-gateway@sha256:${"ef".repeat(32)}`, false],
  ])("%s", (_name, image, runs) => {
    const problems = stateProblems([deployment(image)], ["meetinity-dev"], published)
    expect(problems.length === 0).toBe(runs)
    if (!runs)
      expect(problems[0]!.problem).toMatch(
        /no Deployment runs the published image localhost:5000\/rehearsal\/api-gateway@sha256:(cd){32}/,
      )
  })
})
