/**
 * pullSecret and helmDeploy against a real control plane (support/cluster.ts): the module's own
 * kubectl and helm commands, exactly as it sends them to its containers, run by the real
 * binaries (support/host-engine.ts); what they did is read back from the API server.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest"
import { dag, type Directory, type DirectoryID } from "@dagger.io/dagger"

import { MeetinityRelease } from "../src/index.js"
import { NEVER_READY, startCluster, type Cluster } from "./support/cluster.js"
import {
  chart,
  CHART,
  commandLine,
  deployments,
  kubeconfig,
  onCluster,
  pushToken,
  READER_TOKEN,
  readerToken,
  type HelmRelease,
  type ModuleRun,
} from "./support/cluster-module.js"
import { OciPusher } from "./support/oci.js"
import { startRegistry, type RunningRegistry } from "./support/registry.js"
import { kubectl } from "./support/tools.js"

let cluster: Cluster
let registry: RunningRegistry
let push: OciPusher
let run: ModuleRun | undefined
const digests: Record<string, string> = {}

beforeAll(async () => {
  ;[cluster, registry] = await Promise.all([startCluster(), startRegistry()])
  push = new OciPusher(registry.url)
  for (const version of ["v1.4.1", "v1.4.2", "v1.4.3", `v1.5.0-${NEVER_READY}`]) {
    digests[version] = (await push.image("meetinity/api-gateway", version, { tag: version })).digest
  }
  for (const version of ["v0.2.0", "v0.3.0"]) {
    digests[`event-service:${version}`] = (
      await push.image("meetinity/event-service", `event-service ${version}`, { tag: version })
    ).digest
  }
}, 180_000)
afterAll(async () => {
  await Promise.all([cluster?.stop(), registry?.stop()])
})
afterEach(() => {
  run?.recorder.restore()
  run = undefined
})

const IMAGE = () => `${registry.host}/meetinity/api-gateway`
const EVENTS = () => `${registry.host}/meetinity/event-service`

/** helmDeploy of one service of the umbrella chart: api-gateway (at api-gateway.image) unless said otherwise. */
const deploy = (
  namespace: string,
  version: string,
  o: {
    timeout?: string
    allowDowngrade?: boolean
    image?: string
    imageValues?: string
    chart?: Directory | null
    allowRemoval?: boolean
    chartRef?: string
    valuesDir?: Directory
  } = {},
) =>
  new MeetinityRelease().helmDeploy(
    o.chart === undefined ? chart() : o.chart,
    kubeconfig(),
    namespace,
    version,
    o.image ?? IMAGE(),
    "meetinity",
    "ghcr-pull-secret",
    o.timeout ?? "60s",
    [],
    10,
    "",
    "",
    undefined,
    [],
    "linux/amd64",
    o.allowDowngrade ?? false,
    o.imageValues ?? "api-gateway.image",
    o.allowRemoval ?? false,
    o.chartRef ?? "",
    o.valuesDir,
  )
const deployEvents = (namespace: string, version: string, o: { allowDowngrade?: boolean } = {}) =>
  deploy(namespace, version, { ...o, image: EVENTS(), imageValues: "event-service.image" })

async function helmStatus(namespace: string): Promise<HelmRelease | undefined> {
  const ran = await cluster.helm(["status", "meetinity", "-n", namespace, "-o", "json"])
  if (ran.status !== 0) {
    expect(ran.stderr).toMatch(/release: not found/)
    return undefined
  }
  const status = JSON.parse(ran.stdout) as HelmRelease
  const values = await cluster.helm(["get", "values", "meetinity", "-n", namespace, "-o", "json"])
  return { ...status, config: JSON.parse(values.stdout) as HelmRelease["config"] }
}

async function helmHistory(namespace: string): Promise<{ revision: number; status: string; description: string }[]> {
  return JSON.parse((await cluster.helm(["history", "meetinity", "-n", namespace, "-o", "json"])).stdout) as {
    revision: number
    status: string
    description: string
  }[]
}

describe("pullSecret on a real API server", () => {
  test("creates the namespace when missing, then the secret server-side; a second run updates it in place", async () => {
    expect((await cluster.kubectl(["get", "namespace", "meetinity-qa"])).stderr).toMatch(/NotFound/)
    run = await onCluster(cluster)
    expect(await new MeetinityRelease().pullSecret(kubeconfig(), "meetinity-qa", "reader-bot", readerToken())).toBe(
      "secret/ghcr-pull-secret serverside-applied",
    )
    expect(run.runs.map((r) => [commandLine(r), r.exitCode])).toEqual([
      ["kubectl get namespace", 1],
      ["kubectl create namespace", 0],
      ["kubectl apply --server-side", 0],
    ])
    expect(run.runs[0]!.stderr).toMatch(/\(NotFound\): namespaces "meetinity-qa" not found/)

    const read = async () =>
      JSON.parse(
        await cluster.kubectlOk([
          "get",
          "secret",
          "ghcr-pull-secret",
          "-n",
          "meetinity-qa",
          "-o",
          "json",
          "--show-managed-fields",
        ]),
      ) as {
        type: string
        data: Record<string, string>
        metadata: {
          resourceVersion: string
          labels: Record<string, string>
          annotations?: Record<string, string>
          managedFields: { manager: string; operation: string }[]
        }
      }
    const reference = (token: string) =>
      (
        JSON.parse(
          kubectl([
            "create",
            "secret",
            "docker-registry",
            "ghcr-pull-secret",
            "-n",
            "meetinity-qa",
            "--docker-server",
            "ghcr.io",
            "--docker-username",
            "reader-bot",
            "--docker-password",
            token,
            "--dry-run=client",
            "-o",
            "json",
          ]).stdout,
        ) as { data: unknown }
      ).data
    const first = await read()
    // The API server validated it as a kubernetes.io/dockerconfigjson Secret and stored kubectl's own content.
    expect(first.type).toBe("kubernetes.io/dockerconfigjson")
    expect(first.data).toEqual(reference(READER_TOKEN))
    expect(first.metadata.labels).toEqual({ "app.kubernetes.io/managed-by": "meetinity-release" })
    // Server-side: our field manager owns it, and no copy of the data sits in an annotation.
    expect(first.metadata.managedFields.map((f) => [f.manager, f.operation])).toEqual([["meetinity-release", "Apply"]])
    expect(first.metadata.annotations?.["kubectl.kubernetes.io/last-applied-configuration"]).toBeUndefined()

    run.recorder.restore()
    run = await onCluster(cluster, { readerToken: "ghp_rotated-token" })
    expect(await new MeetinityRelease().pullSecret(kubeconfig(), "meetinity-qa", "reader-bot", readerToken())).toBe(
      "secret/ghcr-pull-secret serverside-applied",
    )
    expect(run.runs.map((r) => [commandLine(r), r.exitCode])).toEqual([
      ["kubectl get namespace", 0],
      ["kubectl apply --server-side", 0],
    ])
    const second = await read()
    expect(second.data).toEqual(reference("ghp_rotated-token"))
    expect(second.metadata.resourceVersion).not.toBe(first.metadata.resourceVersion)
    expect(second.metadata.managedFields.map((f) => f.manager)).toEqual(["meetinity-release"])
  })
})

describe("helmDeploy on a real API server", () => {
  test("installs the umbrella chart with --wait (namespace created), Deployments Available, pinned to the digest; the same version again is a no-op upgrade", async () => {
    run = await onCluster(cluster)
    const summary = await deploy("meetinity-dev", "v1.4.2")
    expect(summary).toBe(
      `release meetinity in meetinity-dev: revision 1, deployed (chart meetinity-0.2.0, image ${IMAGE()}:v1.4.2@${digests["v1.4.2"]} at api-gateway.image)`,
    )
    // First install: real `helm get values` says the release is not found, and the guard lets it through; the module creates the namespace.
    expect(run.runs.map((r) => [commandLine(r), r.exitCode])).toEqual([
      ["helm get values", 1],
      // Nothing to compare a first install with: no render.
      ["helm get manifest", 1],
      ["kubectl get namespace", 1],
      ["kubectl create namespace", 0],
      ["helm upgrade --install", 0],
    ])
    expect(run.runs[0]!.stderr).toMatch(/release: not found/)
    // The umbrella renders api-gateway's Deployment only: event-service has no image yet.
    const listed = await deployments(cluster, "meetinity-dev")
    expect(listed.map((d) => d.name)).toEqual(["meetinity-api-gateway"])
    const [before] = listed
    expect(before).toMatchObject({
      name: "meetinity-api-gateway",
      available: "True",
      readyReplicas: 2,
      image: `${IMAGE()}:v1.4.2@${digests["v1.4.2"]}`,
    })

    run.recorder.restore()
    run = await onCluster(cluster)
    expect(await deploy("meetinity-dev", "v1.4.2")).toMatch(
      /^release meetinity in meetinity-dev: revision 2, deployed /,
    )
    // Nothing rolled: same pod template, same generation, one ReplicaSet.
    expect(await deployments(cluster, "meetinity-dev")).toEqual([before])
    expect(
      (
        JSON.parse(await cluster.kubectlOk(["get", "replicasets", "-n", "meetinity-dev", "-o", "json"])) as {
          items: unknown[]
        }
      ).items,
    ).toHaveLength(1)
    expect((await helmHistory("meetinity-dev")).map((h) => [h.revision, h.status])).toEqual([
      [1, "superseded"],
      [2, "deployed"],
    ])
  })

  test("a rollout that never gets Ready: the module reads why from its pods, rolls back, and says both first; the release is back at the previous version", async () => {
    run = await onCluster(cluster)
    await deploy("meetinity-rollback", "v1.4.2")
    run.recorder.restore()
    run = await onCluster(cluster)
    const started = Date.now()
    await expect(deploy("meetinity-rollback", `v1.5.0-${NEVER_READY}`, { timeout: "10s" })).rejects.toThrow(
      /^helm upgrade --install of release meetinity \(\S+:v1\.5\.0-never-ready@sha256:[0-9a-f]{64}\) in namespace meetinity-rollback did not become ready within 10s:\n {2}pod meetinity-api-gateway-\w+-\w+, container api-gateway: Running but not Ready \(no readiness probe failure was reported\)\n {4}Its readiness probe never passed[^\n]*\nThe module rolled release meetinity back to revision 1: revision 2 failed, revision 3 runs what revision 1 ran, and the release is otherwise as it was\.\nHelm said \(exit code 1\):\n[\s\S]*UPGRADE FAILED: resource Deployment\/meetinity-rollback\/meetinity-api-gateway not ready/,
    )
    expect(Date.now() - started).toBeLessThan(45_000)
    // Helm failed and rolled nothing back; the module read the failed revision's pods, then rolled back itself.
    const upgrade = run.runs.findIndex((r) => commandLine(r) === "helm upgrade --install")
    const after = run.runs.slice(upgrade).map((r) => [commandLine(r), r.exitCode])
    expect(after.slice(0, 2)).toEqual([
      ["helm upgrade --install", 1],
      ["helm history meetinity", 0],
    ])
    // The failed revision's manifest and the namespace's pods, read side by side.
    expect(after.slice(2, 4).sort()).toEqual([
      ["helm get manifest", 0],
      ["kubectl get pods,replicasets,events", 0],
    ])
    expect(after.slice(4)).toEqual([["helm rollback meetinity", 0]])
    expect(run.runs.find((r) => r.args[1] === "rollback")!.args).toEqual([
      "helm",
      "rollback",
      "meetinity",
      "1",
      "--namespace",
      "meetinity-rollback",
      "--wait=watcher",
      "--timeout",
      "10s",
      "--history-max",
      "10",
    ])
    const status = await helmStatus("meetinity-rollback")
    expect(status).toMatchObject({ version: 3, info: { status: "deployed" } })
    expect(status!.config?.["api-gateway"]?.image?.tag).toBe("v1.4.2")
    expect((await helmHistory("meetinity-rollback")).map((h) => [h.revision, h.status])).toEqual([
      [1, "superseded"],
      [2, "failed"],
      [3, "deployed"],
    ])
    expect(await deployments(cluster, "meetinity-rollback")).toMatchObject([
      { name: "meetinity-api-gateway", image: `${IMAGE()}:v1.4.2@${digests["v1.4.2"]}`, available: "True" },
    ])
  })

  test("the downgrade guard reads real `helm get values`: a newer release refuses, nothing changes; --allow-downgrade deploys", async () => {
    run = await onCluster(cluster)
    await deploy("meetinity-guard", "v1.4.3")
    run.recorder.restore()
    run = await onCluster(cluster)
    await expect(deploy("meetinity-guard", "v1.4.2")).rejects.toThrow(
      /release meetinity in namespace meetinity-guard runs v1\.4\.3, newer than v1\.4\.2: refusing to deploy an older version .*the version deployed was read at api-gateway\.image\.tag\./,
    )
    expect(run.runs.map((r) => commandLine(r))).toEqual(["helm get values"])
    expect(await helmStatus("meetinity-guard")).toMatchObject({
      version: 1,
      config: { "api-gateway": { image: { tag: "v1.4.3" } } },
    })
    expect(await deploy("meetinity-guard", "v1.4.2", { allowDowngrade: true })).toMatch(/revision 2, deployed/)
    expect(await deployments(cluster, "meetinity-guard")).toMatchObject([
      { name: "meetinity-api-gateway", image: `${IMAGE()}:v1.4.2@${digests["v1.4.2"]}` },
    ])
  })

  test("releases installed by hand, without the values helmDeploy sets: a version in the chart's own values is seen; none at all lets the deploy through", async () => {
    // An operator's own install from a copy of the umbrella chart whose defaults name api-gateway's image: no user-supplied values at all.
    const edit = (file: string, pattern: RegExp, replacement: string) => {
      const before = readFileSync(file, "utf8")
      const after = before.replace(pattern, replacement)
      expect(after, `${file} no longer matches ${pattern}`).not.toBe(before)
      writeFileSync(file, after)
    }
    const handChart = (tag: string, literalImage?: string) => {
      const copy = mkdtempSync(join(tmpdir(), "chart-by-hand-"))
      cpSync(CHART, copy, { recursive: true })
      edit(
        join(copy, "values.yaml"),
        /^(api-gateway:\n(?: {2}.*\n)*? {2}image:\n {4}repository: )""\n( {4}tag: )""$/m,
        `$1"${IMAGE()}"\n$2"${tag}"`,
      )
      if (literalImage) {
        // The subchart's image helper replaced by a literal image: the release names no version in any value.
        edit(
          join(copy, "charts", "api-gateway", "templates", "_helpers.tpl"),
          /\{\{- define "api-gateway.image" -\}\}[\s\S]*?(?=\{\{- define "api-gateway.labels")/,
          `{{- define "api-gateway.image" -}}${literalImage}{{- end -}}\n\n`,
        )
      }
      return copy
    }
    const install = async (namespace: string, copy: string) => {
      const hand = await cluster.helm([
        "install",
        "meetinity",
        copy,
        "-n",
        namespace,
        "--create-namespace",
        "--wait=watcher",
        "--timeout",
        "60s",
      ])
      expect(hand.status, hand.stderr).toBe(0)
      expect(
        JSON.parse((await cluster.helm(["get", "values", "meetinity", "-n", namespace, "-o", "json"])).stdout),
      ).toBeNull()
    }

    await install("meetinity-hand", handChart("v1.4.3"))
    run = await onCluster(cluster)
    await expect(deploy("meetinity-hand", "v1.4.1")).rejects.toThrow(
      /release meetinity in namespace meetinity-hand runs v1\.4\.3, newer than v1\.4\.1: refusing/,
    )
    expect(run.runs.map((r) => [commandLine(r), r.exitCode])).toEqual([["helm get values", 0]])
    expect(await deployments(cluster, "meetinity-hand")).toMatchObject([
      { name: "meetinity-api-gateway", image: `${IMAGE()}:v1.4.3` },
    ])
    run.recorder.restore()

    await install("meetinity-hand-2", handChart("", `${IMAGE()}:v1.4.3`))
    run = await onCluster(cluster)
    expect(await deploy("meetinity-hand-2", "v1.4.1")).toMatch(
      /^release meetinity in meetinity-hand-2: revision 2, deployed/,
    )
    expect(JSON.parse(run.runs[0]!.stdout)).toMatchObject({
      "api-gateway": { image: { repository: IMAGE(), tag: "" } },
    })
    expect(await deployments(cluster, "meetinity-hand-2")).toMatchObject([
      { name: "meetinity-api-gateway", image: `${IMAGE()}:v1.4.1@${digests["v1.4.1"]}` },
    ])
  })

  test("a release left pending-upgrade by a deploy cut off half-way: the module names the state and the way out, which works", async () => {
    run = await onCluster(cluster)
    await deploy("meetinity-pending", "v1.4.2")
    run.recorder.restore()
    // The next deploy is cut off (SIGKILL, as a cancelled job) once Helm has marked the release pending.
    run = await onCluster(cluster, {
      onStart: (args, kill) => {
        if (args[1] !== "upgrade") return
        void (async () => {
          for (let i = 0; i < 200; i++) {
            const pending = await cluster.kubectl([
              "get",
              "secrets",
              "-n",
              "meetinity-pending",
              "-l",
              "owner=helm,status=pending-upgrade",
              "-o",
              "name",
            ])
            if (pending.stdout.trim()) return kill()
            await new Promise((r) => setTimeout(r, 100))
          }
        })()
      },
    })
    await expect(deploy("meetinity-pending", `v1.5.0-${NEVER_READY}`, { timeout: "5m" })).rejects.toThrow(
      /exit code 137/,
    )
    expect((await helmStatus("meetinity-pending"))!.info.status).toBe("pending-upgrade")
    run.recorder.restore()

    run = await onCluster(cluster)
    const attempt = deploy("meetinity-pending", `v1.5.0-${NEVER_READY}`, { timeout: "10s" })
    await expect(attempt).rejects.toThrow(
      /another operation \(install\/upgrade\/rollback\) is in progress[\s\S]*An earlier Helm run was cut off and left the release pending-upgrade at revision 2; the last deployed revision is 1\. The module does not unlock it itself[^\n]* If no other deploy is running: helm rollback meetinity 1 -n meetinity-pending, then deploy again\./,
    )
    // The module did not touch it: still pending.
    expect((await helmStatus("meetinity-pending"))!.info.status).toBe("pending-upgrade")

    // The way out the module names works.
    const rollback = await cluster.helm([
      "rollback",
      "meetinity",
      "1",
      "-n",
      "meetinity-pending",
      "--wait=watcher",
      "--timeout",
      "60s",
    ])
    expect(rollback.status, rollback.stderr).toBe(0)
    run.recorder.restore()
    run = await onCluster(cluster)
    expect(await deploy("meetinity-pending", "v1.4.3")).toMatch(
      /^release meetinity in meetinity-pending: revision 4, deployed/,
    )
  })
})

describe("two services of the umbrella release on a real API server", () => {
  test("deployed one after the other, they keep each other's images: both Deployments Available at their own repo:tag@digest; a later api-gateway deploy keeps event-service's; the downgrade guard reads each service's own tag", async () => {
    const namespace = "meetinity-umbrella"
    const gateway = (version: string) => `${IMAGE()}:${version}@${digests[version]}`
    const events = (version: string) => `${EVENTS()}:${version}@${digests[`event-service:${version}`]}`
    const revisions = async () => (await helmHistory(namespace)).map((h) => `${h.revision} ${h.status}`)

    run = await onCluster(cluster)
    expect(await deploy(namespace, "v1.4.2")).toBe(
      `release meetinity in ${namespace}: revision 1, deployed (chart meetinity-0.2.0, image ${gateway("v1.4.2")} at api-gateway.image)`,
    )
    const [gatewayFirst, ...others] = await deployments(cluster, namespace)
    expect(others).toEqual([])
    expect(gatewayFirst).toMatchObject({
      name: "meetinity-api-gateway",
      available: "True",
      readyReplicas: 2,
      image: gateway("v1.4.2"),
    })
    run.recorder.restore()

    // event-service v0.3.0 next to api-gateway v1.4.2 is not a downgrade: the guard reads event-service.image.tag, not yet set.
    run = await onCluster(cluster)
    expect(await deployEvents(namespace, "v0.3.0")).toBe(
      `release meetinity in ${namespace}: revision 2, deployed (chart meetinity-0.2.0, image ${events("v0.3.0")} at event-service.image)`,
    )
    expect(run.runs.map((r) => [commandLine(r), r.exitCode])).toEqual([
      ["helm get values", 0],
      // The removal guard: what the release holds, against Helm's own server-side render of this deploy.
      ["helm get manifest", 0],
      ["helm upgrade --dry-run=server", 0],
      ["kubectl get namespace", 0],
      ["helm upgrade --install", 0],
    ])
    expect(JSON.parse(run.runs[0]!.stdout)).toMatchObject({
      "api-gateway": { image: { tag: "v1.4.2" } },
      "event-service": { image: { tag: "" } },
    })
    // This deploy names only event-service's image; api-gateway's comes from the release's last revision.
    expect(run.runs[4]!.args.filter((a) => a.includes("api-gateway"))).toEqual([])
    const both = await deployments(cluster, namespace)
    expect(both).toMatchObject([
      { name: "meetinity-api-gateway", available: "True", readyReplicas: 2, image: gateway("v1.4.2") },
      { name: "meetinity-event-service", available: "True", readyReplicas: 1, image: events("v0.3.0") },
    ])
    // api-gateway did not even roll: same pod template, same generation.
    expect(both[0]).toEqual(gatewayFirst)
    expect((await helmStatus(namespace))!.config).toMatchObject({
      "api-gateway": { image: { repository: IMAGE(), tag: "v1.4.2", digest: digests["v1.4.2"] } },
      "event-service": { image: { repository: EVENTS(), tag: "v0.3.0", digest: digests["event-service:v0.3.0"] } },
    })
    run.recorder.restore()

    // A later api-gateway deploy keeps event-service's image.
    run = await onCluster(cluster)
    expect(await deploy(namespace, "v1.4.3")).toBe(
      `release meetinity in ${namespace}: revision 3, deployed (chart meetinity-0.2.0, image ${gateway("v1.4.3")} at api-gateway.image)`,
    )
    expect(run.runs[run.runs.length - 1]!.args.filter((a) => a.includes("event-service"))).toEqual([])
    const later = await deployments(cluster, namespace)
    expect(later).toMatchObject([
      { name: "meetinity-api-gateway", available: "True", image: gateway("v1.4.3") },
      { name: "meetinity-event-service", available: "True", readyReplicas: 1, image: events("v0.3.0") },
    ])
    expect(later[1]).toEqual(both[1])
    run.recorder.restore()

    // Each service's own version guards it: event-service v0.2.0 after its v0.3.0 is refused (api-gateway's v1.4.3 plays no part), nothing changes.
    run = await onCluster(cluster)
    await expect(deployEvents(namespace, "v0.2.0")).rejects.toThrow(
      /^release meetinity in namespace meetinity-umbrella runs v0\.3\.0, newer than v0\.2\.0: refusing to deploy an older version .*read at event-service\.image\.tag\. Nothing was changed\./,
    )
    expect(run.runs.map((r) => commandLine(r))).toEqual(["helm get values"])
    expect(await revisions()).toEqual(["1 superseded", "2 superseded", "3 deployed"])
    expect(await deployments(cluster, namespace)).toEqual(later)
  })
})

describe("a deploy from a stale copy of the umbrella chart, on a real API server", () => {
  /** The umbrella chart as a service repository copied it before event-service was added. */
  function staleChart(): string {
    const dir = join(mkdtempSync(join(tmpdir(), "stale-chart-")), "meetinity")
    cpSync(CHART, dir, { recursive: true })
    rmSync(join(dir, "charts", "event-service"), { recursive: true })
    const chartYaml = readFileSync(join(dir, "Chart.yaml"), "utf8")
    writeFileSync(join(dir, "Chart.yaml"), chartYaml.replace(/\n  - name: event-service\n[^\n]*\n[^\n]*\n/, "\n"))
    expect(readFileSync(join(dir, "Chart.yaml"), "utf8")).not.toContain("event-service")
    return dir
  }
  const STALE = "DirectoryID-stale-chart"
  const stale = () => dag.loadDirectoryFromID(STALE as DirectoryID)

  test("is refused before any change, naming event-service's objects; event-service keeps running; the current chart deploys; --allow-removal removes and says so", async () => {
    const namespace = "meetinity-stale"
    const directories = { [STALE]: staleChart() }
    const revisions = async () => (await helmHistory(namespace)).map((h) => `${h.revision} ${h.status}`)
    run = await onCluster(cluster, { directories })
    await deploy(namespace, "v1.4.1")
    await deployEvents(namespace, "v0.3.0")
    const before = await deployments(cluster, namespace)
    expect(before.map((d) => [d.name, d.available])).toEqual([
      ["meetinity-api-gateway", "True"],
      ["meetinity-event-service", "True"],
    ])
    run.recorder.restore()

    // api-gateway v1.4.2 from the stale copy: refused, each object named with its subchart.
    run = await onCluster(cluster, { directories })
    const refused = await deploy(namespace, "v1.4.2", { chart: stale() }).then(
      () => undefined,
      (e: unknown) => e as Error,
    )
    expect(refused?.message).toMatch(
      /^refusing to deploy \S+\/meetinity\/api-gateway:v1\.4\.2 to release meetinity in meetinity-stale: it would remove 2 objects this service does not own:\n  Service meetinity-event-service \(subchart event-service\)\n  Deployment meetinity-event-service \(subchart event-service\)\nThe chart given does not render the subchart event-service that the release runs now \(a stale copy of the umbrella chart\?\)\. Nothing was changed\.\nDeploy from the current umbrella chart[^\n]*or pass --allow-removal/,
    )
    // Read and rendered; nothing applied, not even the namespace looked at.
    expect(run.runs.map((r) => [commandLine(r), r.exitCode])).toEqual([
      ["helm get values", 0],
      ["helm get manifest", 0],
      ["helm upgrade --dry-run=server", 0],
    ])
    expect(await revisions()).toEqual(["1 superseded", "2 deployed"])
    expect(await deployments(cluster, namespace)).toEqual(before)
    run.recorder.restore()

    // The same deploy from the current umbrella chart passes, and event-service is untouched.
    run = await onCluster(cluster, { directories })
    expect(await deploy(namespace, "v1.4.2")).toMatch(/^release meetinity in meetinity-stale: revision 3, deployed /)
    const current = await deployments(cluster, namespace)
    expect(current[1]).toEqual(before[1])
    run.recorder.restore()

    // --allow-removal: event-service goes, on purpose, and the report lists what went.
    run = await onCluster(cluster, { directories })
    expect(await deploy(namespace, "v1.4.3", { chart: stale(), allowRemoval: true })).toMatch(
      /^release meetinity in meetinity-stale: revision 4, deployed \(.*\); removed on purpose \(--allow-removal\): Service meetinity-event-service \(subchart event-service\), Deployment meetinity-event-service \(subchart event-service\)$/,
    )
    expect((await deployments(cluster, namespace)).map((d) => d.name)).toEqual(["meetinity-api-gateway"])
  })
})

describe("the umbrella chart by reference, on a real registry and a real API server", () => {
  test("published once (a second publish writes nothing), deployed by reference pinned in the report, values from --values-dir; a version the registry lacks is refused before any change", async () => {
    const namespace = "meetinity-byref"
    const valuesDir = mkdtempSync(join(tmpdir(), "values-"))
    writeFileSync(join(valuesDir, `values-${namespace}.yaml`), "api-gateway:\n  replicaCount: 3\n")
    const directories = { "DirectoryID-values": valuesDir }
    const values = () => dag.loadDirectoryFromID("DirectoryID-values" as DirectoryID)

    run = await onCluster(cluster, { directories })
    const reference = await new MeetinityRelease().publishChart(
      chart(),
      "Meetinity",
      "writer",
      pushToken(),
      registry.url,
    )
    expect(reference).toMatch(
      new RegExp(
        `^oci://${registry.host.replace(/[.]/g, "\\.")}/meetinity/charts/meetinity:0\\.2\\.0@sha256:[0-9a-f]{64}$`,
      ),
    )
    // Real Helm pulls what was published, at that digest.
    const pulled = await cluster.helm([
      "show",
      "chart",
      reference.replace(/@.*$/, ""),
      "--plain-http",
      "--version",
      "0.2.0",
    ])
    expect(pulled.stdout).toMatch(/^name: meetinity$/m)
    expect(await new MeetinityRelease().publishChart(chart(), "Meetinity", "writer", pushToken(), registry.url)).toBe(
      reference,
    )
    run.recorder.restore()

    // Deployed by reference (the version only): the report names the chart pinned to its digest.
    run = await onCluster(cluster, { directories })
    const unpinned = reference.replace(/@.*$/, "")
    expect(await deploy(namespace, "v1.4.2", { chart: null, chartRef: unpinned, valuesDir: values() })).toBe(
      `release meetinity in ${namespace}: revision 1, deployed (chart ${reference}, image ${IMAGE()}:v1.4.2@${digests["v1.4.2"]} at api-gateway.image)`,
    )
    // values-<namespace>.yaml came from --values-dir, mounted beside the chart.
    const upgrade = run.runs.find((r) => commandLine(r) === "helm upgrade --install")!
    expect(upgrade.args).toContain(`/work/values/values-${namespace}.yaml`)
    expect(upgrade.args[4]).toBe("/work/chart")
    expect(await deployments(cluster, namespace)).toMatchObject([
      { name: "meetinity-api-gateway", available: "True", readyReplicas: 3 },
    ])
    run.recorder.restore()

    // A version the registry does not have: refused before any container runs.
    run = await onCluster(cluster, { directories })
    await expect(
      deploy(namespace, "v1.4.3", { chart: null, chartRef: unpinned.replace(/0\.2\.0$/, "0.9.9") }),
    ).rejects.toThrow(
      /meetinity:0\.9\.9 is not in the registry: no chart version 0\.9\.9 there[\s\S]*Nothing was deployed to meetinity-byref\./,
    )
    expect(run.runs).toEqual([])
  })

  test.each([
    [
      "both --chart and --chart-ref",
      () => chart(),
      "oci://ghcr.io/meetinity/charts/meetinity:0.2.0",
      /chartRef "oci:\/\/ghcr\.io\/meetinity\/charts\/meetinity:0\.2\.0" was given with --chart: expected one of them/,
    ],
    ["neither", () => null, "", /^chart null is missing: expected --chart <directory>.* or --chart-ref oci:\/\//],
    [
      "a reference without a version or digest",
      () => null,
      "oci://ghcr.io/meetinity/charts/meetinity",
      /chartRef "oci:\/\/ghcr\.io\/meetinity\/charts\/meetinity"/,
    ],
  ])("%s: refused before any query", async (_name, given, chartRef, message) => {
    run = await onCluster(cluster)
    await expect(deploy("meetinity-dev", "v1.4.2", { chart: given(), chartRef })).rejects.toThrow(message)
    expect(run.runs).toEqual([])
    expect(run.recorder.queries.filter((q) => q.leaf !== "id")).toEqual([])
  })
})
