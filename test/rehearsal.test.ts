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
import { NODE_IMAGE } from "../src/rehearsal/node.js"
import { CLUSTER_IMAGE, REGISTRY_IMAGE } from "../src/rehearsal/plan.js"
import { stateProblems } from "../src/rehearsal/report.js"
import { runRehearsal } from "../src/rehearsal/run.js"
import { RegistryClient } from "../src/oci/client.js"
import { argValue, EngineError, recordDagger, type Query, type Recorder } from "./support/dagger.js"
import { hostDirectories } from "./support/directories.js"
import { type Command, execAnswers, type Ran } from "./support/exec-answers.js"
import { buildBusyboxImage, type BuiltImage } from "./support/busybox-image.js"
import { publishAnswer } from "./support/engine.js"
import { publishEngine } from "./support/publish-engine.js"
import { OciPusher } from "./support/oci.js"
import { startRegistry, type RunningRegistry } from "./support/registry.js"
import { helm } from "./support/tools.js"

const CHART = resolve("examples/meetinity")
const SOURCE_DIR = resolve("examples/api-gateway")
const SOURCE_DIGEST = "sha256:5a0ed31c0ffee00000000000000000000000000000000000000000000000abcd"
const BUILD_TAG = `sha-${createHash("sha1").update(SOURCE_DIGEST).digest("hex").slice(0, 7)}`
const NAMESPACES = ["meetinity-dev", "meetinity-staging", "meetinity-prod"]

let registry: RunningRegistry
let push: OciPusher
let recorder: Recorder | undefined

let image: BuiltImage
beforeAll(async () => {
  registry = await startRegistry()
  push = new OciPusher(registry.url)
  image = buildBusyboxImage(mkdtempSync(join(tmpdir(), "busybox-")))
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
  /** The rehearsal signs (its default): the build is a real image, scanned by real syft (support/publish-engine.ts). */
  signs?: boolean
  /** The engine refuses privileged services, as one with insecure root capabilities off does. */
  refusesPrivileged?: boolean
  /** The engine holds the privileged node service without starting it or saying why (insecureRootCapabilities off, seen on a real engine). */
  holdsPrivileged?: boolean
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
  const signing = publishEngine({ image, sources: { "DirectoryID-source": SOURCE_DIR }, registryHost: registry.host })
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
      if (image === NODE_IMAGE && options.refusesPrivileged)
        return new EngineError("failed to start service: security.insecure is not allowed")
      if (image === NODE_IMAGE && options.holdsPrivileged) return new Promise(() => undefined)
      const id =
        image === REGISTRY_IMAGE
          ? "ServiceID-registry"
          : image === CLUSTER_IMAGE
            ? "ServiceID-cluster"
            : image === NODE_IMAGE
              ? "ServiceID-node"
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
    if (options.signs) {
      const signed = await signing.answer(query)
      if (signed !== undefined) return signed
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
    // The real node: registered by its kubelet once its service started.
    if (args[0] === "kubectl" && args[1] === "get" && args[2] === "node" && args.includes("name"))
      return log.started.includes("ServiceID-node")
        ? ok(`node/${args[3]}\n`)
        : { exitCode: 1, stdout: "", stderr: `Error from server (NotFound): nodes "${args[3]}" not found` }
    if (args[0] === "kubectl" && args[1] === "get" && args[2] === "node") return ok("v1.35.4 containerd://2.2.10")
    if (args[0] === "kubectl" && args[1] === "get" && args[2] === "pods") {
      // What the kubelet reports for each rendered Deployment's pods: the image it pulled, by digest.
      const items = [...log.rendered.entries()].flatMap(([namespace, manifest]) =>
        parseAllDocuments(manifest)
          .map((d) => d.toJSON() as { kind?: string; metadata: { name: string }; spec: DeploymentSpec })
          .filter((d) => d?.kind === "Deployment")
          .map((d) => {
            const container = d.spec.template.spec.containers[0]!
            const repository = container.image.replace(/[:@].*$/, "").replace(/:\d+\//, (m) => m)
            return {
              metadata: { namespace, name: `${d.metadata.name}-5d4f8b7c9-abcde` },
              status: {
                containerStatuses: [
                  {
                    name: container.name,
                    ready: true,
                    restartCount: 0,
                    imageID: `${container.image.split("@")[0]!.replace(/:[^/:]+$/, "")}@${container.image.split("@")[1]}`,
                  },
                ],
              },
              repository,
            }
          }),
      )
      return ok(JSON.stringify({ apiVersion: "v1", kind: "List", items }))
    }
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

interface DeploymentSpec {
  replicas?: number
  template: { spec: { containers: { name: string; image: string }[] } }
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
    sign: boolean
    node: string
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
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
    o.sign ?? false,
    o.node ?? "kwok",
  )

/** What ran, without the per-namespace detail: the program and its first words. */
const shape = (args: string[]) => args.slice(0, 3).join(" ")

describe("rehearse", () => {
  test("starts its services and a real node, publishes and signs to the registry service, runs the release path (the gate included) bound to the cluster, reads back what the kubelet runs, reports", async () => {
    const engine = fakeEngine({ signs: true })
    recorder = await recordDagger(engine.answer)
    const report = await rehearse({ sign: true, node: "auto" })
    const { log } = engine

    // The services: the pinned images, their ports exposed, started before anything else runs.
    const from = (id: string) =>
      recorder!.queries.find(
        (q) =>
          q.leaf === "start" &&
          log.started.includes(id) &&
          q.text.includes(id === "ServiceID-registry" ? REGISTRY_IMAGE : CLUSTER_IMAGE),
      )!
    // The registry and the cluster start together; then the real node, bound to both.
    expect(log.started.slice(0, 2).sort()).toEqual(["ServiceID-cluster", "ServiceID-registry"])
    expect(log.started[2]).toBe("ServiceID-node")
    const nodeStart = recorder.queries.find((q) => q.leaf === "start" && q.text.includes(NODE_IMAGE))!
    expect(nodeStart.text).toMatch(/insecureRootCapabilities: true/)
    expect(
      nodeStart.chain
        .filter((c) => c.field === "withServiceBinding")
        .map((c) => [argValue(c.args, "alias"), argValue(c.args, "service")]),
    ).toEqual([
      ["kwok", "ServiceID-cluster"],
      ["registry", "ServiceID-registry"],
    ])
    // The registry requires the rehearsal's user and password (htpasswd, bcrypt).
    const registryStart = recorder.queries.find((q) => q.leaf === "start" && q.text.includes(REGISTRY_IMAGE))!
    expect(registryStart.text).toMatch(/name: "REGISTRY_AUTH",\s*value: "htpasswd"/)
    expect(registryStart.text).toMatch(/rehearsal:\$2[aby]\$05\$/)
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

    // The cluster: readiness, the real node registered and Ready, then the release path per
    // namespace, then the read back, and what the kubelet runs.
    expect(log.commands.map(shape)).toEqual([
      "kubectl get --raw=/readyz",
      "kubectl get node",
      "kubectl wait --for=condition=Ready",
      "kubectl get node",
      ...NAMESPACES.flatMap(() => [
        "kubectl get namespace",
        "kubectl create namespace",
        "kubectl apply --server-side",
        "helm get values",
        "helm get manifest",
        "helm upgrade --install",
      ]),
      "kubectl get deployments",
      "kubectl get pods",
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
      "start services registry docker.io/library/registry:3.0.0 (htpasswd), cluster registry.k8s.io/kwok/cluster:v0.8.0-k8s.v1.35.5",
      "cluster ready node rehearsal-node Ready: real (docker.io/kindest/node:v1.35.5), kubelet v1.35.4, containerd://2.2.10",
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
      // Signed with the rehearsal's own key: the three bundles, the SBOM made by syft.
      expect.stringMatching(/^attest added signature, provenance, sbom; signed by key \S+$/),
      "sbom syft docker.io/anchore/syft:v1.54.1",
      expect.stringMatching(
        /^preflight localhost:5000\/rehearsal\/api-gateway:v0\.0\.0-rehearsal@sha256:[0-9a-f]{64}, manifest sha256:/,
      ),
      // The gate, once, before the first namespace: the rehearsal's public key, all three required.
      expect.stringMatching(
        /^verify localhost:5000\/rehearsal\/api-gateway:v0\.0\.0-rehearsal@sha256:[0-9a-f]{64} verified: signature \(\S+\), provenance \(\S+\), sbom \(\S+\)$/,
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
      "kubelet imageIDs 3 container(s), every imageID at the published digest",
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
    expect(report).toContain("images pulled with the pull secret, containers run, readiness probes run")
    expect(report).toMatch(
      new RegExp(
        `running containers \\(the kubelet's imageID: what it pulled\\):\n  meetinity-dev/meetinity-api-gateway-\\S+ api-gateway: ready=true restarts=0 imageID localhost:5000/rehearsal/api-gateway@${version!.digest}`,
      ),
    )
    // Every service is stopped at the end, the last started first.
    expect(log.stopped).toEqual(["ServiceID-node", "ServiceID-cluster", "ServiceID-registry"])
  })

  test("--node auto on an engine that refuses privileged services: the rehearsal runs on kwok's fake node and says so; --node real fails there", async () => {
    let engine = fakeEngine({ refusesPrivileged: true, seed: "rehearsal" })
    recorder = await recordDagger(engine.answer)
    const report = await rehearse({ node: "auto" })
    expect(report).toMatch(
      /cluster ready +node rehearsal-node Ready: fake \(kwok\); the engine did not run the privileged node service \([^)]*security\.insecure is not allowed/,
    )
    expect(report).toContain("node rehearsal-node: fake (kwok); the engine did not run the privileged node service")
    expect(report).toContain("never run (images, probes and the pull secret are not exercised)")
    expect(engine.log.commands.map(shape)).toContain("kubectl apply -f")
    recorder.restore()

    engine = fakeEngine({ refusesPrivileged: true, seed: "rehearsal" })
    recorder = await recordDagger(engine.answer)
    await expect(rehearse({ node: "real" })).rejects.toThrow(
      /^rehearsal failed at step "cluster ready" after [\d.]+s:\n[^\n]*security\.insecure is not allowed/,
    )
  })

  test("an engine that holds the privileged node service without a word: --node auto falls back to kwok after the node's start time, --node real fails saying why", async () => {
    const args = {
      image: "held-node",
      imageValues: "api-gateway.image",
      namespaces: ["meetinity-dev"],
      values: [],
      set: [],
      platforms: ["linux/amd64"],
      helmRelease: "meetinity",
      timeout: "5m",
    }
    const wait = { attempts: 3, intervalMs: 1, nodeStartMs: 50 }
    let engine = fakeEngine({ holdsPrivileged: true, seed: "rehearsal" })
    recorder = await recordDagger(engine.answer)
    const report = await runRehearsal(
      { ...args, node: "auto" },
      { source: source(), chart: { kind: "directory", directory: chart() } },
      wait,
    )
    expect(report).toMatch(
      /cluster ready +node rehearsal-node Ready: fake \(kwok\); the engine did not run the privileged node service \(the node service docker\.io\/kindest\/node:\S+ did not start within 0\.05 s: an engine that does not allow insecure root capabilities/,
    )
    expect(report).toContain("never run (images, probes and the pull secret are not exercised)")
    recorder.restore()

    engine = fakeEngine({ holdsPrivileged: true, seed: "rehearsal" })
    recorder = await recordDagger(engine.answer)
    await expect(
      runRehearsal(
        { ...args, node: "real" },
        { source: source(), chart: { kind: "directory", directory: chart() } },
        wait,
      ),
    ).rejects.toThrow(
      /^rehearsal failed at step "cluster ready" after [\d.]+s:\nthe node service \S+ did not start within 0\.05 s/,
    )
  })

  test("--node anything else: refused before any service starts", async () => {
    recorder = await recordDagger(() => undefined)
    await expect(rehearse({ node: "k3s" })).rejects.toThrow(/^node "k3s" is not a node kind: expected auto/)
    expect(recorder.queries).toEqual([])
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
    // The rehearsal's own read-back comes after the module's rollback, and says so.
    expect(error.message).toMatch(
      /what the cluster said about meetinity-dev, after the module's rollback, before the rehearsal stopped it:/,
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
