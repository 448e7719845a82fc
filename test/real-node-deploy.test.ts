/**
 * pullSecret, helmDeploy and release on a real node (support/node.ts: the kubelet, containerd and
 * runc): the module's own kubectl and helm commands (support/cluster-module.ts) against pods that
 * really pull from an htpasswd registry, run, crash, and pass or fail their readiness probe. A
 * rollout that does not become ready is diagnosed from the cluster, then rolled back by the
 * module: each case asserts the first lines of the module's error, then reads the release back
 * with real helm and kubectl. The cases run side by side, each in its own namespace, through one
 * recorded module run; the time each took is printed at the end.
 *
 * With MEETINITY_CAPTURE_FIXTURES=1, the kubectl and helm output each failing case's diagnosis
 * read is written to test/fixtures/diagnosis/<case>/ (what test/diagnosis.test.ts reads).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

import { afterAll, beforeAll, describe, expect, test } from "vitest"
import { dag, type DirectoryID, type SecretID } from "@dagger.io/dagger"

import { MeetinityRelease } from "../src/index.js"
import { startCluster, type Cluster } from "./support/cluster.js"
import {
  chart,
  deployments,
  kubeconfig,
  onCluster,
  PUSH_TOKEN,
  READER_TOKEN,
  readerToken,
  releaseOnCluster,
  type ModuleRun,
} from "./support/cluster-module.js"
import { argValue, type Query } from "./support/dagger.js"
import { busyboxImage, type ImageSpec } from "./support/node-images.js"
import { type NodeRegistry } from "./support/node.js"

const WRONG_TOKEN = "ghp_Wr0ng-Reader-T0ken-Revoked"
const wrongToken = () => dag.loadSecretFromID("SecretID-wrong-reader" as SecretID)
const values = () => dag.loadDirectoryFromID("DirectoryID-values" as DirectoryID)
const valuesDir = mkdtempSync(join(tmpdir(), "values-"))

let cluster: Cluster
let registry: NodeRegistry
let run: ModuleRun
const digests: Record<string, string> = {}
const times: Record<string, number> = {}
const firstLines: Record<string, string> = {}

/** busybox httpd on 8080 serving /www, with /www/healthz (the chart's readiness probe) unless `healthz` is false. */
function web(version: string, healthz = true): ImageSpec {
  const image = busyboxImage(["httpd", "-f", "-v", "-p", "8080", "-h", "/www"], { version })
  if (healthz) image.entries.push({ path: "www/healthz", content: "ok\n" })
  return image
}

beforeAll(async () => {
  const started = Date.now()
  cluster = await startCluster({ realNode: true })
  // The reader pulls (nodes, preflight); the CI user publishes (release): htpasswd lets both do either.
  registry = await cluster.node!.startRegistry({ username: "reader-bot", password: READER_TOKEN }, [
    { username: "ci-bot", password: PUSH_TOKEN },
  ])
  const images: Record<string, ImageSpec> = {
    "v1.0.0": web("v1.0.0"),
    "v1.1.0": web("v1.1.0"),
    // Starts, says something on each stream (a credential among it), exits 3.
    "v1.2.0": busyboxImage([
      "sh",
      "-c",
      "echo starting up; echo connecting with password=hunter2-not-for-logs >&2; echo giving up >&2; exit 3",
    ]),
    // Serves, but has no /healthz: the readiness probe gets 404 for ever.
    "v1.3.0": web("v1.3.0", false),
  }
  for (const [version, spec] of Object.entries(images))
    digests[version] = (await registry.push("meetinity/api-gateway", version, spec)).digest
  run = await onCluster(cluster, {
    secrets: { "SecretID-wrong-reader": WRONG_TOKEN },
    directories: { "DirectoryID-values": valuesDir },
    publish: publishWeb,
  })
  times["cluster, real node, registry and images"] = Date.now() - started
}, 180_000)

afterAll(async () => {
  run?.recorder.restore()
  await cluster?.stop()
  const table = Object.entries(times).map(([what, ms]) => `  ${what}: ${(ms / 1000).toFixed(1)} s`)
  const said = Object.entries(firstLines).map(([what, lines]) => `--- ${what}\n${lines}`)
  console.log(`real node deploys, time of each:\n${table.join("\n")}\nfirst lines of each failure:\n${said.join("\n")}`)
})

/** release's publish, as the engine would do it: a runnable web image pushed where the module asked. */
async function publishWeb(query: Query): Promise<string> {
  const address = argValue(query.chain.at(-1)!.args, "address") as string
  const tag = address.slice(address.lastIndexOf(":") + 1)
  const repository = address.slice(address.indexOf("/") + 1, address.lastIndexOf(":"))
  return `${address}@${(await registry.push(repository, tag, web(tag))).digest}`
}

const IMAGE = () => `${registry.host}/meetinity/api-gateway`
const pinned = (version: string) => `${IMAGE()}:${version}@${digests[version]}`
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")

const pullSecret = (namespace: string, token = readerToken()) =>
  new MeetinityRelease().pullSecret(kubeconfig(), namespace, "reader-bot", token, "ghcr-pull-secret", registry.host)

/** helmDeploy of api-gateway (at api-gateway.image) from the registry, read over plain http, with the reader's credentials. */
const deploy = (namespace: string, version: string, o: { timeout?: string; set?: string[] } = {}) =>
  new MeetinityRelease().helmDeploy(
    chart(),
    kubeconfig(),
    namespace,
    version,
    `http://${IMAGE()}`,
    "meetinity",
    "ghcr-pull-secret",
    o.timeout ?? "60s",
    o.set ?? [],
    10,
    "",
    "reader-bot",
    readerToken(),
    [],
    "linux/amd64",
    false,
    "api-gateway.image",
  )

/** The error a deploy failed with (a deploy that succeeds fails the test). */
const failure = (deploying: Promise<string>) =>
  deploying.then(
    (summary) => {
      throw new Error(`expected the deploy to fail, it said: ${summary}`)
    },
    (error: Error) => error,
  )

/** Times `work` under `what`. */
async function timed<T>(what: string, work: () => Promise<T>): Promise<T> {
  const started = Date.now()
  try {
    return await work()
  } finally {
    times[what] = Date.now() - started
  }
}

interface PodState {
  name: string
  hash: string
  ready: boolean
  imageID: string
  restarts: number
  pullSecrets: string[]
}

/** The namespace's pods that are not on their way out, as the kubelet reports them. */
async function pods(namespace: string): Promise<PodState[]> {
  const list = JSON.parse(await cluster.kubectlOk(["get", "pods", "-n", namespace, "-o", "json"])) as {
    items: {
      metadata: { name: string; labels: Record<string, string>; deletionTimestamp?: string }
      spec: { imagePullSecrets?: { name: string }[] }
      status: { containerStatuses?: { ready: boolean; imageID: string; restartCount: number }[] }
    }[]
  }
  return list.items
    .filter((p) => !p.metadata.deletionTimestamp)
    .map((p) => ({
      name: p.metadata.name,
      hash: p.metadata.labels["pod-template-hash"] ?? "",
      ready: p.status.containerStatuses?.[0]?.ready ?? false,
      imageID: p.status.containerStatuses?.[0]?.imageID ?? "",
      restarts: p.status.containerStatuses?.[0]?.restartCount ?? 0,
      pullSecrets: (p.spec.imagePullSecrets ?? []).map((s) => s.name),
    }))
}

async function history(namespace: string): Promise<string[]> {
  const ran = await cluster.helm(["history", "meetinity", "-n", namespace, "-o", "json"])
  if (ran.status !== 0) return [ran.stderr.trim()]
  return (JSON.parse(ran.stdout) as { revision: number; status: string }[]).map((h) => `${h.revision} ${h.status}`)
}

/** The commands the module ran in a namespace, in order, as their first words. */
const commandsIn = (namespace: string) =>
  run.runs
    .filter((r) => r.args.includes(namespace))
    .map((r) => `${r.args.slice(0, 3).join(" ")}${r.args.includes("--dry-run=server") ? " --dry-run=server" : ""}`)

/** The commands after the last `helm upgrade --install`; the diagnosis's two reads, run side by side, as one. */
function afterUpgrade(namespace: string): string[] {
  const all = commandsIn(namespace)
  const after = all.slice(all.lastIndexOf("helm upgrade --install") + 1)
  const reads = ["helm get manifest", "kubectl get pods,replicasets,events"]
  const at = after.findIndex((c) => reads.includes(c))
  if (at < 0 || !reads.every((r) => after.slice(at, at + 2).includes(r))) return after
  return [...after.slice(0, at), `(${reads.join(", ")})`, ...after.slice(at + 2)]
}

/**
 * With MEETINITY_CAPTURE_FIXTURES=1: what the module read in `namespace` after Helm failed, as the
 * real programs printed it (kubectl's JSON re-serialized without its indentation): Helm's error,
 * the release's history, the failed revision's manifest, the pods, ReplicaSets and events, and a
 * crashing container's logs.
 */
function capture(name: string, namespace: string) {
  if (!process.env.MEETINITY_CAPTURE_FIXTURES) return
  const dir = join("test", "fixtures", "diagnosis", name)
  mkdirSync(dir, { recursive: true })
  const mine = run.runs.filter((r) => r.args.includes(namespace))
  const find = (words: string[]) => [...mine].reverse().find((r) => words.every((w, i) => r.args[i] === w))
  const compact = (json: string) => `${JSON.stringify(JSON.parse(json))}\n`
  writeFileSync(join(dir, "helm-upgrade.stderr"), find(["helm", "upgrade", "--install"])!.stderr)
  writeFileSync(join(dir, "history.json"), compact(find(["helm", "history"])!.stdout))
  writeFileSync(join(dir, "manifest.yaml"), find(["helm", "get", "manifest"])!.stdout)
  writeFileSync(join(dir, "objects.json"), compact(find(["kubectl", "get", "pods,replicasets,events"])!.stdout))
  const logs = find(["kubectl", "logs"])
  if (logs) writeFileSync(join(dir, "logs.txt"), logs.stdout)
}

/** The first lines of a failure, kept for the report; returns them. */
function lines(what: string, error: Error, count: number): string[] {
  const first = error.message.split("\n").slice(0, count)
  firstLines[what] = first.join("\n")
  return first
}

const ROLLED_BACK =
  "The module rolled release meetinity back to revision 1: revision 2 failed, revision 3 runs what revision 1 ran, and the release is otherwise as it was."

describe.concurrent("helmDeploy on a real node", { timeout: 240_000 }, () => {
  test("1. pullSecret, then helmDeploy: the pods pull with that secret, pass the readiness probe, and run the published digest", async () => {
    const ns = "rn-ok"
    const summary = await timed("1. pull secret, deploy, Ready", async () => {
      await pullSecret(ns)
      return deploy(ns, "v1.0.0")
    })
    expect(summary).toBe(
      `release meetinity in ${ns}: revision 1, deployed (chart meetinity-0.2.0, image ${pinned("v1.0.0")} at api-gateway.image)`,
    )
    const running = await pods(ns)
    expect(running).toHaveLength(2)
    for (const pod of running) {
      // What the kubelet pulled (imageID) is the published digest, not only what the spec asked for.
      expect(pod).toMatchObject({ ready: true, restarts: 0, imageID: `${IMAGE()}@${digests["v1.0.0"]}` })
      expect(pod.pullSecrets).toEqual(["ghcr-pull-secret"])
    }
    expect(await deployments(cluster, ns)).toMatchObject([
      { name: "meetinity-api-gateway", image: pinned("v1.0.0"), available: "True", readyReplicas: 2 },
    ])
    // The secret the pods pulled with is the one pullSecret made.
    const secret = JSON.parse(
      await cluster.kubectlOk(["get", "secret", "ghcr-pull-secret", "-n", ns, "-o", "json", "--show-managed-fields"]),
    ) as { metadata: { managedFields: { manager: string }[] } }
    expect(secret.metadata.managedFields.map((f) => f.manager)).toEqual(["meetinity-release"])
    expect(await history(ns)).toEqual(["1 deployed"])
    // Nothing to diagnose, nothing rolled back.
    expect(commandsIn(ns).filter((c) => /logs|pods,replicasets|rollback|uninstall|get manifest/.test(c))).toEqual([
      "helm get manifest",
    ])
  })

  test("2. a wrong reader token in the pull secret: ImagePullBackOff with the registry's 401, rolled back to revision 1", async () => {
    const ns = "rn-wrong-token"
    await pullSecret(ns)
    await deploy(ns, "v1.0.0")
    const before = await pods(ns)
    // The secret is refreshed with a revoked token; the deploy itself reads the registry with the right one.
    await pullSecret(ns, wrongToken())
    const error = await timed("2. wrong token: fail, diagnose, roll back", () =>
      failure(deploy(ns, "v1.1.0", { timeout: "25s" })),
    )
    capture("wrong-token", ns)
    const [first, pod, hint, did] = lines("2. wrong token", error, 4)
    expect(first).toBe(
      `helm upgrade --install of release meetinity (${pinned("v1.1.0")}) in namespace ${ns} did not become ready within 25s:`,
    )
    expect(pod).toMatch(
      new RegExp(
        `^  pod meetinity-api-gateway-(\\w+)-\\w+, container api-gateway: (ImagePullBackOff|ErrImagePull)( / \\w+)?: failed to pull and unpack image "${escape(IMAGE())}@${digests["v1.1.0"]}": .*: 401 Unauthorized$`,
      ),
    )
    // The pod named is the new revision's, not one of those still serving.
    expect(before.map((p) => p.hash)).not.toContain(/pod meetinity-api-gateway-(\w+)-/.exec(pod!)![1])
    expect(hint).toMatch(
      /^ {4}The registry refused the credentials in the pull secret ghcr-pull-secret: a wrong, expired or revoked reader token/,
    )
    expect(did).toBe(ROLLED_BACK)
    expect(error.message).not.toContain(WRONG_TOKEN)
    expect(error.message).not.toContain(READER_TOKEN)
    await expectRolledBack(ns, before)
  })

  test("3. no pull secret in the namespace: a first install that cannot pull is diagnosed, then uninstalled", async () => {
    const ns = "rn-no-secret"
    const error = await timed("3. no pull secret: fail, diagnose, uninstall", () =>
      failure(deploy(ns, "v1.0.0", { timeout: "25s" })),
    )
    capture("no-secret", ns)
    const [first, pod, hint, did] = lines("3. no pull secret", error, 4)
    expect(first).toBe(
      `helm upgrade --install of release meetinity (${pinned("v1.0.0")}) in namespace ${ns} did not become ready within 25s:`,
    )
    expect(pod).toMatch(
      /^ {2}pods meetinity-api-gateway-\w+-\w+, meetinity-api-gateway-\w+-\w+, container api-gateway: [\w /]+: failed to pull and unpack image ".*": failed to resolve image: pull access denied, repository does not exist or may require authorization: authorization failed: no basic auth credentials$/,
    )
    expect(hint).toBe(
      `    The namespace ${ns} has no pull secret ghcr-pull-secret (the kubelet could not read it), so the pull carried no credentials: create it (pullSecret --namespace ${ns}; release makes it itself), then deploy again.`,
    )
    expect(did).toBe(
      "The module uninstalled release meetinity: its first install (revision 1) failed and nothing ran before it; the namespace keeps what it had before.",
    )
    expect(await history(ns)).toEqual(["Error: release: not found"])
    expect(await deployments(cluster, ns)).toEqual([])
    // Helm failed, its history named the failed revision, the pods were read, then the release uninstalled.
    expect(afterUpgrade(ns)).toEqual([
      "helm history meetinity",
      "(helm get manifest, kubectl get pods,replicasets,events)",
      "helm uninstall meetinity",
    ])
  })

  test("4. an image the registry does not hold (event-service pinned to a version it lacks): ErrImagePull not found, rolled back", async () => {
    const ns = "rn-not-found"
    await pullSecret(ns)
    await deploy(ns, "v1.0.0")
    const before = await pods(ns)
    const error = await timed("4. image not in the registry: fail, diagnose, roll back", () =>
      failure(
        // The same api-gateway version: only event-service is new, pinned by hand.
        deploy(ns, "v1.0.0", {
          timeout: "25s",
          set: [
            `event-service.image.repository=${registry.host}/meetinity/event-service`,
            "event-service.image.tag=v0.9.0",
          ],
        }),
      ),
    )
    capture("not-found", ns)
    const [first, pod, hint, did] = lines("4. image not in the registry", error, 4)
    expect(first).toBe(
      `helm upgrade --install of release meetinity (${pinned("v1.0.0")}) in namespace ${ns} did not become ready within 25s:`,
    )
    // api-gateway's pods kept running, Ready: only event-service's is named.
    expect(pod).toMatch(
      new RegExp(
        `^  pod meetinity-event-service-\\w+-\\w+, container event-service: [\\w /]+: failed to pull and unpack image "${escape(registry.host)}/meetinity/event-service:v0\\.9\\.0": failed to resolve image: ${escape(registry.host)}/meetinity/event-service:v0\\.9\\.0: not found$`,
      ),
    )
    expect(hint).toBe(
      "    The registry does not hold this image: was this version published (and not deleted since, by retention?), and does the chart name it as published?",
    )
    expect(did).toBe(ROLLED_BACK)
    // The rollback took event-service's Deployment away again: revision 1 had none.
    await expectRolledBack(ns, before)
  })

  test("5. a container that exits: CrashLoopBackOff with its exit code and its last lines, redacted; rolled back", async () => {
    const ns = "rn-crash"
    await pullSecret(ns)
    await deploy(ns, "v1.0.0")
    const before = await pods(ns)
    const error = await timed("5. container exits: fail, diagnose, roll back", () =>
      failure(deploy(ns, "v1.2.0", { timeout: "25s" })),
    )
    capture("crash", ns)
    const shown = lines("5. container exits", error, 8)
    const [first, pod, logs, ...rest] = shown
    expect(first).toBe(
      `helm upgrade --install of release meetinity (${pinned("v1.2.0")}) in namespace ${ns} did not become ready within 25s:`,
    )
    expect(pod).toMatch(
      /^ {2}pod meetinity-api-gateway-\w+-\w+, container api-gateway: CrashLoopBackOff: exited with code 3 \(Error\), restarted \d+ times?$/,
    )
    const name = /pod (\S+),/.exec(pod!)![1]!
    expect(logs).toBe(`    its last lines (kubectl logs --previous --tail=20 ${name} -c api-gateway -n ${ns}):`)
    // What the container printed on both streams, the credential among it redacted. The kubelet
    // merges stdout and stderr as it reads them: lines of the two streams may come in either order.
    expect(rest.slice(0, 3).sort()).toEqual([
      "      | connecting with password=[redacted]",
      "      | giving up",
      "      | starting up",
    ])
    expect(rest.slice(3)).toEqual([
      "    It starts, then exits: its logs say why (a missing setting, secret or dependency?).",
      ROLLED_BACK,
    ])
    expect(error.message).not.toContain("hunter2")
    await expectRolledBack(ns, before)
  })

  test("6. a readiness probe that never passes: Running but not Ready, with the kubelet's 404; rolled back", async () => {
    const ns = "rn-never-ready"
    await pullSecret(ns)
    await deploy(ns, "v1.0.0")
    const before = await pods(ns)
    const error = await timed("6. probe never passes: fail, diagnose, roll back", () =>
      failure(deploy(ns, "v1.3.0", { timeout: "20s" })),
    )
    capture("never-ready", ns)
    const [first, pod, hint, did] = lines("6. probe never passes", error, 4)
    expect(first).toBe(
      `helm upgrade --install of release meetinity (${pinned("v1.3.0")}) in namespace ${ns} did not become ready within 20s:`,
    )
    expect(pod).toMatch(
      /^ {2}pod meetinity-api-gateway-\w+-\w+, container api-gateway: Running but not Ready: Readiness probe failed: HTTP probe failed with statuscode: 404$/,
    )
    expect(hint).toBe(
      "    Its readiness probe never passed: does the service answer the chart's readinessProbe (path and port) once started?",
    )
    expect(did).toBe(ROLLED_BACK)
    await expectRolledBack(ns, before)
  })

  test("7. release through three namespaces: staging's pods cannot pull, the release stops there, rolled back; prod untouched", async () => {
    const namespaces = ["rel-dev", "rel-staging", "rel-prod"]
    const release = (version: string, sha: string, timeout: string) =>
      releaseOnCluster(registry.url, { ref: `release/${version}`, sha, timeout, namespaces, valuesDir: values() })
    const digestOf = (summary: string) => /^deployed v[\d.]+ \((sha256:[0-9a-f]{64})\):$/m.exec(summary)![1]!
    const first = await timed("7. release v2.0.0 to three namespaces", () => release("v2.0.0", "1111111", "60s"))
    const old = digestOf(first)
    const prodBefore = await pods("rel-prod")
    const prodCommands = commandsIn("rel-prod")
    // Staging's values now pin event-service to a version the registry does not hold (deleted by retention).
    writeFileSync(
      join(valuesDir, "values-rel-staging.yaml"),
      `event-service:\n  image:\n    repository: ${registry.host}/meetinity/event-service\n    tag: v0.9.0\n`,
    )
    const error = await timed("7. release v2.1.0: dev, then staging fails, diagnosed, rolled back", () =>
      failure(release("v2.1.0", "2222222", "25s")),
    )
    const [head, pod, hint, did] = lines("7. release stopped at staging", error, 4)
    expect(head).toMatch(
      new RegExp(
        `^release v2\\.1\\.0 stopped at namespace rel-staging: helm upgrade --install of release meetinity \\(${escape(IMAGE())}:v2\\.1\\.0@(sha256:[0-9a-f]{64})\\) in namespace rel-staging did not become ready within 25s:$`,
      ),
    )
    const fresh = /@(sha256:[0-9a-f]{64})\)/.exec(head!)![1]!
    expect(fresh).not.toBe(old)
    expect(pod).toMatch(
      /^ {2}pod meetinity-event-service-\w+-\w+, container event-service: [\w /]+: .*meetinity\/event-service:v0\.9\.0: not found$/,
    )
    expect(hint).toMatch(/^ {4}The registry does not hold this image/)
    expect(did).toBe(ROLLED_BACK)
    expect(error.message).toMatch(/\ndeployed before it: rel-dev \(revision 2\)\nnot touched: rel-prod$/)

    const state = async (namespace: string) => ({
      history: await history(namespace),
      images: (await deployments(cluster, namespace)).map((d) => `${d.name} ${d.image} ${d.available}`),
      pulled: [...new Set((await pods(namespace)).filter((p) => p.ready).map((p) => p.imageID))],
    })
    const at = (digest: string, version: string) => ({
      images: [`meetinity-api-gateway ${IMAGE()}:${version}@${digest} True`],
      pulled: [`${IMAGE()}@${digest}`],
    })
    expect(await state("rel-dev")).toEqual({ history: ["1 superseded", "2 deployed"], ...at(fresh, "v2.1.0") })
    expect(await state("rel-staging")).toEqual({
      history: ["1 superseded", "2 failed", "3 deployed"],
      ...at(old, "v2.0.0"),
    })
    expect(await state("rel-prod")).toEqual({ history: ["1 deployed"], ...at(old, "v2.0.0") })
    // Prod's pods are the very ones that ran before: nothing there was touched.
    expect((await pods("rel-prod")).map((p) => p.name).sort()).toEqual(prodBefore.map((p) => p.name).sort())
    // Not one command went to prod in the second release.
    expect(commandsIn("rel-prod")).toEqual(prodCommands)
  })

  test("8. anything else (pods the scheduler cannot place): their phase and conditions, and the Warning events; uninstalled", async () => {
    const ns = "rn-unschedulable"
    await pullSecret(ns)
    const error = await timed("8. pods not scheduled: fail, diagnose, uninstall", () =>
      failure(deploy(ns, "v1.0.0", { timeout: "15s", set: ["api-gateway.resources.requests.cpu=64"] })),
    )
    capture("unschedulable", ns)
    const [first, pod, warnings, event] = lines("8. pods not scheduled", error, 4)
    expect(first).toBe(
      `helm upgrade --install of release meetinity (${pinned("v1.0.0")}) in namespace ${ns} did not become ready within 15s:`,
    )
    expect(pod).toMatch(
      /^ {2}pods meetinity-api-gateway-\w+-\w+, meetinity-api-gateway-\w+-\w+: Pending: PodScheduled False \(Unschedulable: 0\/1 nodes are available: 1 Insufficient cpu\./,
    )
    expect(warnings).toBe("  Warning events, newest last:")
    expect(event).toMatch(
      /^ {4}Pod meetinity-api-gateway-\w+-\w+: FailedScheduling: 0\/1 nodes are available: 1 Insufficient cpu\./,
    )
    expect(error.message).toContain(
      "\nThe module uninstalled release meetinity: its first install (revision 1) failed and nothing ran before it; the namespace keeps what it had before.\n",
    )
    expect(await history(ns)).toEqual(["Error: release: not found"])
  })
})

/** The release back at revision 1 (history, values, Deployment), its pods the ones that ran before. */
async function expectRolledBack(namespace: string, before: PodState[]) {
  expect(await history(namespace)).toEqual(["1 superseded", "2 failed", "3 deployed"])
  const values = JSON.parse(
    (await cluster.helm(["get", "values", "meetinity", "-n", namespace, "-o", "json"])).stdout,
  ) as { "api-gateway": { image: { tag: string } } }
  expect(values["api-gateway"].image.tag).toBe("v1.0.0")
  expect(await deployments(cluster, namespace)).toMatchObject([
    { name: "meetinity-api-gateway", image: pinned("v1.0.0"), available: "True", readyReplicas: 2 },
  ])
  const ready = (await pods(namespace)).filter((p) => p.ready)
  expect(ready.map((p) => p.name).sort()).toEqual(before.map((p) => p.name).sort())
}
