/**
 * The rehearsal's services: an OCI registry that requires credentials (htpasswd, the one user
 * the release publishes and the cluster pulls as), a Kubernetes control plane (kwok's image),
 * and the node pods run on: a real one (kind's node image as a privileged service: images pulled
 * with the pull secret, containers run, probes run) or kwok's fake one (scheduled and made Ready,
 * never run), for engines that refuse privileged services.
 */
import { dag, type Secret, type Service } from "@dagger.io/dagger"
import bcrypt from "bcryptjs"

import { check } from "../common/errors.js"
import { kubectlRun } from "../delivery/cluster.js"
import { type ServiceNetwork } from "../engine/network.js"
import {
  cniConfig,
  containerdConfig,
  hostsToml,
  KUBELET_PORT,
  kubeletConfig,
  kubeletKubeconfig,
  NODE_DIR,
  NODE_IMAGE,
  PAUSE_IMAGE,
  startScript,
} from "./node.js"
import {
  CLUSTER_ALIAS,
  CLUSTER_IMAGE,
  CLUSTER_PORT,
  NODE_NAME,
  nodeManifest,
  REGISTRY_IMAGE,
  REGISTRY_PORT,
  REHEARSAL_REGISTRY,
  REHEARSAL_USER,
  type RehearsalPlan,
} from "./plan.js"
import { parseDeployments, type DeploymentState } from "./report.js"

/** The node pods run on. */
export type NodeKind = "real" | "kwok"
/** auto: a real node, or kwok's fake node when the engine refuses privileged services. */
export type NodeChoice = NodeKind | "auto"

/** Reads the `node` argument. */
export function parseNodeChoice(value: string): NodeChoice {
  check(
    value === "real" || value === "kwok" || value === "auto",
    "node",
    value,
    "is not a node kind: expected auto (a real node, or kwok's fake one when the engine refuses privileged services), real or kwok",
  )
  return value as NodeChoice
}

/** What an engine with security.insecureRootCapabilities off answers a privileged service. */
export const PRIVILEGED_REFUSED =
  /security\.insecure is not allowed|insecure root capabilities|node service \S+ did not start within/i

/**
 * How long the node service may take to start (its image pulled, its container up) before the
 * rehearsal gives up on it: an engine configured without insecure root capabilities was seen to
 * hold such a service forever, with no error.
 */
export const NODE_START_MS = 300_000

/**
 * kwok's control plane told to reach kubelets by InternalIP (the real node's container address)
 * and to play only the nodes annotated fake (by default it manages every node, the real one too).
 */
export const CLUSTER_ARGS = [
  "--extra-args=kube-apiserver=kubelet-preferred-address-types=InternalIP,Hostname",
  "--extra-args=kwok-controller=manage-all-nodes=false",
  "--extra-args=kwok-controller=manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
]

/** How long the cluster may take to answer /readyz after its service is up, and between tries. */
export interface ClusterWait {
  readonly attempts: number
  readonly intervalMs: number
  /** How long the real node's service may take to start (NODE_START_MS). */
  readonly nodeStartMs?: number
}

/**
 * Starts the registry (htpasswd: `REHEARSAL_USER` with `password`) and the cluster; the
 * registry's endpoint is where the module's own process reaches it.
 */
export async function startServices(started: Service[], password: string): Promise<ServiceNetwork> {
  const [registry, cluster] = await Promise.all([
    dag
      .container()
      .from(REGISTRY_IMAGE)
      .withNewFile("/auth/htpasswd", `${REHEARSAL_USER}:${bcrypt.hashSync(password, 5)}\n`)
      .withEnvVariable("REGISTRY_AUTH", "htpasswd")
      .withEnvVariable("REGISTRY_AUTH_HTPASSWD_REALM", "rehearsal")
      .withEnvVariable("REGISTRY_AUTH_HTPASSWD_PATH", "/auth/htpasswd")
      .withExposedPort(REGISTRY_PORT)
      .asService()
      .start(),
    dag
      .container()
      .from(CLUSTER_IMAGE)
      .withExposedPort(CLUSTER_PORT)
      .asService({ useEntrypoint: true, args: CLUSTER_ARGS })
      .start(),
  ])
  started.push(registry, cluster)
  const endpoint = await registry.endpoint({ port: REGISTRY_PORT })
  return {
    registry: { service: registry, endpoint: { scheme: "http", host: endpoint } },
    cluster: { alias: CLUSTER_ALIAS, service: cluster },
  }
}

/** Waits for the API server, then brings up the node; returns how the node is, in words. */
export async function prepareCluster(
  kubeconfig: Secret,
  network: ServiceNetwork,
  plan: RehearsalPlan,
  wait: ClusterWait,
  node: NodeKind,
  started: Service[],
): Promise<string> {
  let last = ""
  for (let attempt = 1; ; attempt++) {
    const ready = await kubectlRun(kubeconfig, ["kubectl", "get", "--raw=/readyz"], network)
    if (ready.exitCode === 0) break
    last = (ready.stderr || ready.stdout).trim()
    if (attempt >= wait.attempts) {
      throw new Error(
        `the cluster service (${CLUSTER_IMAGE}) did not answer /readyz after ${wait.attempts} tries: ${last}`,
      )
    }
    await new Promise((resolve) => setTimeout(resolve, wait.intervalMs))
  }
  return node === "real"
    ? startRealNode(kubeconfig, network, started, wait.nodeStartMs ?? NODE_START_MS)
    : registerFakeNode(kubeconfig, network, plan)
}

/** kwok's fake node: registered, then made Ready by the kwok controller. */
async function registerFakeNode(kubeconfig: Secret, network: ServiceNetwork, plan: RehearsalPlan): Promise<string> {
  const path = "/work/node.json"
  const applied = await kubectlRun(kubeconfig, ["kubectl", "apply", "-f", path], network, {
    [path]: JSON.stringify(nodeManifest(plan.nodePlatform)),
  })
  if (applied.exitCode !== 0)
    throw new Error(
      `kubectl apply of the fake node ${NODE_NAME} failed (exit code ${applied.exitCode}): ${(applied.stderr || applied.stdout).trim()}`,
    )
  const readyNode = await kubectlRun(
    kubeconfig,
    ["kubectl", "wait", "--for=condition=Ready", `node/${NODE_NAME}`, "--timeout=60s"],
    network,
  )
  if (readyNode.exitCode !== 0)
    throw new Error(
      `the fake node ${NODE_NAME} did not become Ready (is the kwok controller running?): ${(readyNode.stderr || readyNode.stdout).trim()}`,
    )
  return "fake (kwok)"
}

/**
 * The real node: kind's node image as a privileged service (containerd and the kubelet started by
 * a script instead of systemd), joined to the cluster service, pulling `localhost:5000/...` from
 * the registry service; waits for it to be Ready.
 */
async function startRealNode(
  kubeconfig: Secret,
  network: ServiceNetwork,
  started: Service[],
  startMs: number,
): Promise<string> {
  const starting = dag
    .container()
    .from(NODE_IMAGE)
    .withServiceBinding(CLUSTER_ALIAS, network.cluster!.service)
    .withServiceBinding("registry", network.registry!.service)
    .withFile(`${NODE_DIR}/pause.tar`, dag.container().from(PAUSE_IMAGE).asTarball())
    .withNewFile(`${NODE_DIR}/start.sh`, startScript(), { permissions: 0o755 })
    .withNewFile(`${NODE_DIR}/containerd.toml`, containerdConfig())
    .withNewFile(`${NODE_DIR}/hosts/${REHEARSAL_REGISTRY}.toml`, hostsToml(`registry:${REGISTRY_PORT}`))
    .withNewFile(`${NODE_DIR}/cni.conflist`, cniConfig())
    .withNewFile(`${NODE_DIR}/kubelet.json`, kubeletConfig())
    .withNewFile(`${NODE_DIR}/kubelet.kubeconfig`, kubeletKubeconfig(`http://${CLUSTER_ALIAS}:${CLUSTER_PORT}`))
    .withMountedTemp("/var/lib/containerd")
    .withExposedPort(KUBELET_PORT)
    .asService({ args: ["bash", `${NODE_DIR}/start.sh`], useEntrypoint: false, insecureRootCapabilities: true })
    .start()
  let timer: ReturnType<typeof setTimeout> | undefined
  const node = await Promise.race([
    starting,
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `the node service ${NODE_IMAGE} did not start within ${startMs / 1000} s: an engine that does not allow insecure root capabilities (engine.json "security": {"insecureRootCapabilities": false}) holds a privileged service without an error; or its image is still being pulled`,
            ),
          ),
        startMs,
      )
    }),
  ]).finally(() => clearTimeout(timer))
  started.push(node)
  for (let attempt = 0; ; attempt++) {
    const got = await kubectlRun(kubeconfig, ["kubectl", "get", "node", NODE_NAME, "-o", "name"], network)
    if (got.exitCode === 0) break
    if (attempt > 240) throw new Error(`the node ${NODE_NAME} (${NODE_IMAGE}) did not register: ${got.stderr.trim()}`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  const ready = await kubectlRun(
    kubeconfig,
    ["kubectl", "wait", "--for=condition=Ready", `node/${NODE_NAME}`, "--timeout=120s"],
    network,
  )
  if (ready.exitCode !== 0)
    throw new Error(
      `the node ${NODE_NAME} (${NODE_IMAGE}) did not become Ready: ${(ready.stderr || ready.stdout).trim()}`,
    )
  const info = await kubectlRun(
    kubeconfig,
    [
      "kubectl",
      "get",
      "node",
      NODE_NAME,
      "-o",
      "jsonpath={.status.nodeInfo.kubeletVersion} {.status.nodeInfo.containerRuntimeVersion}",
    ],
    network,
  )
  return `real (${NODE_IMAGE}), kubelet ${info.stdout.trim().replace(" ", ", ")}`
}

/** What the cluster runs in the namespaces rehearsed, read back with kubectl. */
export async function readDeployments(
  kubeconfig: Secret,
  network: ServiceNetwork,
  namespaces: string[],
): Promise<DeploymentState[]> {
  const ran = await kubectlRun(kubeconfig, ["kubectl", "get", "deployments", "--all-namespaces", "-o", "json"], network)
  if (ran.exitCode !== 0)
    throw new Error(`kubectl get deployments failed (exit code ${ran.exitCode}): ${(ran.stderr || ran.stdout).trim()}`)
  return parseDeployments(ran.stdout).filter((d) => namespaces.includes(d.namespace))
}

/**
 * Every container the rehearsed namespaces run, as the kubelet reports it
 * (`status.containerStatuses[].imageID`: what it actually pulled); fails naming any container
 * not at the published digest.
 */
export async function readImageIDs(
  kubeconfig: Secret,
  network: ServiceNetwork,
  namespaces: readonly string[],
  digest: string,
): Promise<string[]> {
  const ran = await kubectlRun(kubeconfig, ["kubectl", "get", "pods", "--all-namespaces", "-o", "json"], network)
  if (ran.exitCode !== 0) throw new Error(`kubectl get pods failed: ${(ran.stderr || ran.stdout).trim()}`)
  type Pod = {
    metadata: { namespace: string; name: string }
    status?: { containerStatuses?: { name: string; imageID?: string; ready: boolean; restartCount: number }[] }
  }
  const pods = (JSON.parse(ran.stdout) as { items: Pod[] }).items.filter((p) =>
    namespaces.includes(p.metadata.namespace),
  )
  const lines: string[] = []
  const wrong: string[] = []
  for (const pod of pods) {
    for (const c of pod.status?.containerStatuses ?? []) {
      const imageID = c.imageID ?? ""
      const ok = imageID.endsWith(`@${digest}`)
      lines.push(
        `${pod.metadata.namespace}/${pod.metadata.name} ${c.name}: ready=${c.ready} restarts=${c.restartCount} imageID ${imageID || "(none)"}`,
      )
      if (!ok) wrong.push(`${pod.metadata.namespace}/${pod.metadata.name} ${c.name}: ${imageID || "no imageID"}`)
    }
  }
  if (lines.length === 0) throw new Error(`no container runs in ${namespaces.join(", ")}: the kubelet reports none`)
  if (wrong.length > 0)
    throw new Error(`containers the kubelet runs are not at the published digest ${digest}:\n  ${wrong.join("\n  ")}`)
  return lines
}
