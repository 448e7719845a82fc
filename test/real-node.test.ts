/**
 * A real node (support/node.ts: the kubelet and containerd in a network namespace of their own):
 * images are really pulled from an htpasswd-protected registry with a pod's imagePullSecrets,
 * containers really run, crash and restart, and probes really pass or fail. Every expectation is
 * read back from the cluster (pods, Deployments, events, `kubectl logs`), not from what was applied.
 * The time each state took is printed at the end.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest"

import { startCluster, type Cluster } from "./support/cluster.js"
import { busyboxImage } from "./support/node-images.js"
import { leftovers, POD_SUBNET, type NodeRegistry } from "./support/node.js"

const PULLER = { username: "puller", password: "s3cret-pull-token" }

let cluster: Cluster
let registry: NodeRegistry
const digests: Record<string, string> = {}
const times: Record<string, number> = {}
/** What the node said in each failing case (printed at the end, beside the times). */
const messages: Record<string, string> = {}

beforeAll(async () => {
  const started = Date.now()
  cluster = await startCluster({ realNode: true })
  times["cluster and real node Ready"] = Date.now() - started
  registry = await cluster.node!.startRegistry(PULLER)
  // busybox httpd serves /www on 8080; the crashing one says something on each stream, then exits 3.
  digests.web = (
    await registry.push("meetinity/web", "v1", busyboxImage(["httpd", "-f", "-v", "-p", "8080", "-h", "/www"]))
  ).digest
  digests.crash = (
    await registry.push(
      "meetinity/crash",
      "v1",
      busyboxImage(["sh", "-c", "echo starting up; echo giving up >&2; exit 3"]),
    )
  ).digest
}, 180_000)

afterAll(async () => {
  await cluster?.stop()
  const table = Object.entries(times).map(([what, ms]) => `  ${what}: ${(ms / 1000).toFixed(1)} s`)
  const said = Object.entries(messages).map(([what, message]) => `  ${what}: ${message}`)
  console.log(`real node, time to each state:\n${table.join("\n")}\nwhat it said:\n${said.join("\n")}`)
})

interface ContainerState {
  waiting?: { reason?: string; message?: string }
  running?: { startedAt?: string }
  terminated?: { exitCode?: number; reason?: string }
}
interface PodJson {
  metadata: { name: string }
  spec: { nodeName?: string }
  status: {
    phase?: string
    podIP?: string
    conditions?: { type: string; status: string }[]
    containerStatuses?: {
      name: string
      ready: boolean
      restartCount: number
      image: string
      imageID: string
      state: ContainerState
      lastState: ContainerState
    }[]
  }
}
type ContainerStatus = NonNullable<PodJson["status"]["containerStatuses"]>[number]

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function pods(namespace: string): Promise<PodJson[]> {
  return (JSON.parse(await cluster.kubectlOk(["get", "pods", "-n", namespace, "-o", "json"])) as { items: PodJson[] })
    .items
}

/**
 * Polls until `check` returns a value (not undefined); records the time since `since` under `what`.
 * On a timeout, fails with the last pods seen and the node's logs.
 */
async function until<T>(
  what: string,
  since: number,
  check: () => Promise<T | undefined>,
  timeoutMs = 90_000,
): Promise<T> {
  for (;;) {
    const found = await check()
    if (found !== undefined) {
      times[what] = Date.now() - since
      return found
    }
    if (Date.now() - since > timeoutMs) {
      throw new Error(`${what}: not reached in ${timeoutMs / 1000} s\n${cluster.logs(10)}`)
    }
    await sleep(250)
  }
}

/** The only pod of a namespace's Deployment, once it has a container status matching `check`. */
const podWhere = (namespace: string, check: (status: ContainerStatus, pod: PodJson) => boolean) => async () => {
  const [pod] = await pods(namespace)
  const status = pod?.status.containerStatuses?.[0]
  return pod && status && check(status, pod) ? { pod, status } : undefined
}

/**
 * A namespace with a one-replica Deployment of `image` (the test registry's), a pull secret for it
 * (right, wrong, or none), and optionally a readiness probe (httpGet on 8080). Returns when applied.
 */
async function deploy(
  namespace: string,
  image: string,
  options: { password?: string | null; readinessPath?: string } = {},
): Promise<number> {
  await cluster.kubectlOk(["create", "namespace", namespace])
  const password = options.password === undefined ? PULLER.password : options.password
  if (password !== null) {
    await cluster.kubectlOk([
      "create",
      "secret",
      "docker-registry",
      "registry-pull",
      "-n",
      namespace,
      `--docker-server=${registry.host}`,
      `--docker-username=${PULLER.username}`,
      `--docker-password=${password}`,
    ])
  }
  const container = {
    name: "app",
    image: `${registry.host}/${image}`,
    ...(options.readinessPath
      ? {
          readinessProbe: {
            httpGet: { path: options.readinessPath, port: 8080 },
            periodSeconds: 1,
            failureThreshold: 1,
          },
        }
      : {}),
  }
  const deployment = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "app", namespace },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: "app" } },
      template: {
        metadata: { labels: { app: "app" } },
        spec: {
          // Always the secret the case is about ("registry-pull", absent in the no-secret case).
          imagePullSecrets: [{ name: "registry-pull" }],
          terminationGracePeriodSeconds: 1,
          containers: [container],
        },
      },
    },
  }
  const applied = Date.now()
  await cluster.kubectlOk(["apply", "-f", "-"], JSON.stringify(deployment))
  return applied
}

const PULL_FAILED = ["ErrImagePull", "ImagePullBackOff"]

describe.concurrent("a real node", { timeout: 120_000 }, () => {
  test("is the kubelet's own Node: Ready, at its InternalIP, reporting its kubelet and containerd", async () => {
    const node = JSON.parse(await cluster.kubectlOk(["get", "node", cluster.node!.name, "-o", "json"])) as {
      status: {
        addresses: { type: string; address: string }[]
        conditions: { type: string; status: string }[]
        nodeInfo: { kubeletVersion: string; containerRuntimeVersion: string }
      }
    }
    expect(node.status.conditions.find((c) => c.type === "Ready")?.status).toBe("True")
    expect(node.status.addresses).toContainEqual({ type: "InternalIP", address: cluster.node!.ip })
    expect(node.status.nodeInfo).toMatchObject({
      kubeletVersion: "v1.35.4",
      containerRuntimeVersion: "containerd://2.2.10",
    })
  })

  test("pulls with the Deployment's imagePullSecrets from the htpasswd registry, passes the readiness probe, becomes Available; a pod without the secret may not use the image then on the node", async () => {
    const applied = await deploy("pull-ok", "meetinity/web:v1", { readinessPath: "/index.html" })
    const { pod, status } = await until(
      "(a) pulled, probe passed, pod Ready",
      applied,
      podWhere("pull-ok", (s) => s.ready),
    )
    await until("(a) Deployment Available", applied, async () => {
      const deployment = JSON.parse(
        await cluster.kubectlOk(["get", "deployment", "app", "-n", "pull-ok", "-o", "json"]),
      ) as {
        status: { availableReplicas?: number; conditions?: { type: string; status: string }[] }
      }
      const available = deployment.status.conditions?.find((c) => c.type === "Available")?.status
      return available === "True" && deployment.status.availableReplicas === 1 ? true : undefined
    })
    // What ran is what was pushed: the registry's digest, on the real node, on the pod network.
    expect(status.imageID).toBe(`${registry.host}/meetinity/web@${digests.web}`)
    expect(status.image).toBe(`${registry.host}/meetinity/web:v1`)
    expect(status.state.running).toBeDefined()
    expect(status.restartCount).toBe(0)
    expect(pod.spec.nodeName).toBe(cluster.node!.name)
    expect(pod.status.podIP).toMatch(new RegExp(`^${POD_SUBNET.split(".").slice(0, 3).join("\\.")}\\.`))
    // busybox httpd (-v) logged the kubelet's probes, from the pod network's gateway (the node itself).
    const logs = await cluster.kubectlOk(["logs", "-n", "pull-ok", pod.metadata.name])
    expect(logs).toMatch(/^\[::ffff:10\.88\.0\.1\]:\d+: response:200$/m)

    // The image is on the node now, pulled with the secret. A pod without it still may not use it:
    // the kubelet (KubeletEnsureSecretPulledImages, on by default in 1.35) asks the registry again.
    const cachedApplied = await deploy("pull-cached-no-secret", "meetinity/web:v1", { password: null })
    const cached = await until(
      "(c2) missing secret, image already on the node: ErrImagePull/ImagePullBackOff",
      cachedApplied,
      podWhere("pull-cached-no-secret", (s) => PULL_FAILED.includes(s.state.waiting?.reason ?? "")),
    )
    messages["(c2) missing secret, image on the node"] = cached.status.state.waiting?.message ?? ""
    expect(cached.status.state.waiting?.message).toMatch(/authorization failed: no basic auth credentials/)
  })

  test("a wrong password in the pull secret: ErrImagePull / ImagePullBackOff with the registry's answer", async () => {
    const applied = await deploy("pull-wrong-password", "meetinity/web:v1", { password: "not-the-password" })
    const { status } = await until(
      "(b) wrong password: ErrImagePull/ImagePullBackOff",
      applied,
      podWhere("pull-wrong-password", (s) => PULL_FAILED.includes(s.state.waiting?.reason ?? "")),
    )
    messages["(b) wrong password"] = status.state.waiting?.message ?? ""
    // The registry's answer to the credentials containerd sent.
    expect(status.state.waiting?.message).toMatch(/401 Unauthorized/)
    expect(status.imageID).toBe("")
  })

  test("no pull secret: ErrImagePull / ImagePullBackOff with the registry's answer", async () => {
    const applied = await deploy("pull-no-secret", "meetinity/web:v1", { password: null })
    const { status } = await until(
      "(c) missing secret: ErrImagePull/ImagePullBackOff",
      applied,
      podWhere("pull-no-secret", (s) => PULL_FAILED.includes(s.state.waiting?.reason ?? "")),
    )
    messages["(c) missing secret"] = status.state.waiting?.message ?? ""
    // The registry answered 401 and containerd had no credentials to offer in return.
    expect(status.state.waiting?.message).toMatch(
      /pull access denied, repository does not exist or may require authorization: authorization failed: no basic auth credentials/,
    )
    expect(status.imageID).toBe("")
    // The kubelet said why it had none.
    const events = JSON.parse(await cluster.kubectlOk(["get", "events", "-n", "pull-no-secret", "-o", "json"])) as {
      items: { reason: string; message: string }[]
    }
    expect(events.items.find((e) => e.reason === "FailedToRetrieveImagePullSecret")?.message).toMatch(
      /Unable to retrieve some image pull secrets \(registry-pull\)/,
    )
  })

  test("an image the registry does not hold: ErrImagePull / ImagePullBackOff, not found", async () => {
    const applied = await deploy("pull-not-found", "meetinity/web:v404")
    const { status } = await until(
      "(d) unknown image: ErrImagePull/ImagePullBackOff",
      applied,
      podWhere("pull-not-found", (s) => PULL_FAILED.includes(s.state.waiting?.reason ?? "")),
    )
    messages["(d) unknown image"] = status.state.waiting?.message ?? ""
    expect(status.state.waiting?.message).toMatch(/not found/)
    expect(status.state.waiting?.message).toContain(`${registry.host}/meetinity/web:v404`)
  })

  test("a container that exits 3: CrashLoopBackOff, its exit code and its previous logs readable", async () => {
    const applied = await deploy("crash-loop", "meetinity/crash:v1")
    // CrashLoopBackOff is in the status from the kubelet's next sync of the pod after it refused a
    // restart (every 2 s here: syncFrequency in support/node.ts) until the back-off runs out.
    const { pod, status } = await until(
      "(e) CrashLoopBackOff",
      applied,
      podWhere("crash-loop", (s) => s.state.waiting?.reason === "CrashLoopBackOff" && s.restartCount >= 1),
    )
    messages["(e) CrashLoopBackOff"] = status.state.waiting?.message ?? ""
    expect(status.state.waiting?.message).toMatch(/^back-off \d+s restarting failed container=app pod=app-/)
    expect(status.lastState.terminated).toMatchObject({ exitCode: 3, reason: "Error" })
    expect(status.imageID).toBe(`${registry.host}/meetinity/crash@${digests.crash}`)
    // The last run's output (stdout and stderr), read by the kubelet from its log file. The kubelet
    // removes all but the newest dead container: retried while the status changes under it.
    const previous = await until("(e) kubectl logs --previous", applied, async () => {
      const ran = await cluster.kubectl(["logs", "--previous", "-n", "crash-loop", pod.metadata.name])
      // (for a removed container, the kubelet answers "unable to retrieve container logs" as the logs)
      return ran.status === 0 && !ran.stdout.startsWith("unable to retrieve") ? ran.stdout : undefined
    })
    expect(previous.split("\n").filter(Boolean).sort()).toEqual(["giving up", "starting up"])
  })

  test("a readiness probe that never passes: Running but not Ready, with a 'Readiness probe failed' event", async () => {
    const applied = await deploy("never-ready", "meetinity/web:v1", { readinessPath: "/healthz" })
    const { pod, status } = await until(
      "(f) Running, not Ready",
      applied,
      podWhere("never-ready", (s) => s.state.running !== undefined),
    )
    const event = await until("(f) 'Readiness probe failed' event", applied, async () => {
      const events = JSON.parse(await cluster.kubectlOk(["get", "events", "-n", "never-ready", "-o", "json"])) as {
        items: { reason: string; message: string; involvedObject: { name: string } }[]
      }
      return events.items.find((e) => e.reason === "Unhealthy" && e.involvedObject.name === pod.metadata.name)
    })
    expect(event.message).toMatch(/^Readiness probe failed: HTTP probe failed with statuscode: 404/)
    // Still not Ready, still running, never restarted (readiness does not restart a container).
    const [now] = await pods("never-ready")
    expect(now!.status.phase).toBe("Running")
    expect(now!.status.conditions?.find((c) => c.type === "Ready")?.status).toBe("False")
    expect(now!.status.containerStatuses?.[0]).toMatchObject({ ready: false, restartCount: 0 })
    expect(status.imageID).toBe(`${registry.host}/meetinity/web@${digests.web}`)
  })
})

describe("stopping the cluster", () => {
  test("leaves no process, mount, network namespace, veth, cgroup or directory behind", async () => {
    const node = cluster.node!
    const started = Date.now()
    await cluster.stop()
    times["stop (cluster and node)"] = Date.now() - started
    expect(leftovers(node)).toEqual([])
  })
})
