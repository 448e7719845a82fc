/**
 * A rehearsal, carried out: start the registry and the cluster as Dagger services, register the
 * fake node, run the release path (runRelease: publish, preflight, then pull secret and Helm per
 * namespace, the downgrade guard included) against them, and read back what runs where. The
 * services are the only difference from a real release; nothing outside the engine is touched.
 */
import { createHash, randomUUID } from "node:crypto"

import { dag, type Directory, type Secret, type Service } from "@dagger.io/dagger"

import { type ServiceNetwork } from "../engine/network.js"
import { kubectlRun } from "../delivery/cluster.js"
import { carryOutRelease } from "../release/run.js"
import { Steps } from "../common/steps.js"
import { type ChartSource, chartValuesFiles, readyChart } from "../delivery/chart.js"
import { type ResolvedImage } from "../delivery/preflight.js"
import {
  CLUSTER_ALIAS,
  CLUSTER_IMAGE,
  CLUSTER_PORT,
  NODE_NAME,
  nodeManifest,
  planRehearsal,
  REGISTRY_IMAGE,
  REGISTRY_PORT,
  REHEARSAL_REGISTRY,
  rehearsalKubeconfig,
  type RehearsalArgs,
  type RehearsalPlan,
} from "./plan.js"
import { ATTESTED, type SigningPlan } from "../publish/attest.js"
import { type VerificationPolicy } from "../signing/policy.js"
import { newSigningKey } from "../signing/sign.js"
import { parsePublicKey } from "../signing/trust.js"
import { publishRehearsalChart } from "./chart.js"
import { formatFailure, formatRehearsal, parseDeployments, stateProblems, type DeploymentState } from "./report.js"

export interface RehearsalInputs {
  readonly source: Directory
  readonly chart: ChartSource
  /** Where the values files are read, when not from the chart. */
  readonly values?: Directory
  /** Sign what is published with a key made for the rehearsal, and verify it before each deploy. */
  readonly sign?: boolean
}

/** The rehearsal's own steps, around the release's (the same vocabulary: common/steps.ts). */
export const REHEARSAL_STEP = {
  services: "start services",
  clusterReady: "cluster ready",
  readBack: "read back",
  finalState: "final state",
} as const

/** How long the cluster may take to answer /readyz after its service is up, and between tries. */
export interface ClusterWait {
  readonly attempts: number
  readonly intervalMs: number
}

const CLUSTER_WAIT: ClusterWait = { attempts: 60, intervalMs: 1000 }

/** Checks the arguments (before anything runs), then rehearses; returns the report, or fails naming the step and namespace. */
export async function runRehearsal(
  args: Omit<RehearsalArgs, "sha">,
  inputs: RehearsalInputs,
  wait: ClusterWait = CLUSTER_WAIT,
): Promise<string> {
  // Every argument is checked before the first query; the build SHA (from the source's
  // content) only changes the build tag, so it is filled in afterwards. The chart's values files
  // are checked too, before any service starts.
  const checked = planRehearsal({ ...args, sha: "0".repeat(40) })
  if (inputs.chart.kind === "directory") {
    const chart = await readyChart(inputs.chart, inputs.values)
    for (const s of checked.release.steps) await chartValuesFiles(chart, s.helm)
  }
  const started = performance.now()
  const steps = new Steps()
  const services: Service[] = []
  let cluster: { kubeconfig: Secret; network: ServiceNetwork } | undefined
  try {
    const sha = createHash("sha1")
      .update(await inputs.source.digest())
      .digest("hex")
    const plan = planRehearsal({ ...args, sha })
    const network = await steps.run(
      REHEARSAL_STEP.services,
      { result: () => ({ detail: `registry ${REGISTRY_IMAGE}, cluster ${CLUSTER_IMAGE}` }) },
      () => startServices(services),
    )
    const kubeconfig = dag.setSecret(`rehearsal-kubeconfig-${randomUUID()}`, rehearsalKubeconfig())
    cluster = { kubeconfig, network }
    await steps.run(REHEARSAL_STEP.clusterReady, { result: () => ({ detail: `node ${NODE_NAME} Ready` }) }, () =>
      prepareCluster(kubeconfig, network, plan, wait),
    )
    // The registry and the pull secret need no credentials here; the release path still takes
    // them as Secrets, so the rehearsal hands it throwaway values that never leave the engine.
    const password = dag.setSecret(`rehearsal-password-${randomUUID()}`, randomUUID())
    const readerToken = dag.setSecret(`rehearsal-reader-${randomUUID()}`, randomUUID())
    // The chart is published to the registry service and deployed from there by reference.
    const chart = await publishRehearsalChart(inputs.chart, network, steps)
    // Signed with a key made for this rehearsal, and deployed only past the gate with its public key.
    const key = newSigningKey()
    const signing: SigningPlan = inputs.sign
      ? { mode: "key", key: dag.setSecret(`rehearsal-signing-key-${randomUUID()}`, key.privateKey) }
      : { mode: "none" }
    const policy: VerificationPolicy = inputs.sign
      ? { mode: "key", publicKey: parsePublicKey(key.publicKey), require: ATTESTED }
      : { mode: "off" }
    const { image } = await carryOutRelease(plan.release, {
      source: inputs.source,
      password,
      chart,
      ...(inputs.values ? { values: inputs.values } : {}),
      chartEndpoint: network.registry!.endpoint,
      signing,
      policy,
      kubeconfig,
      readerToken,
      network,
      steps,
    })
    const namespaces = plan.release.steps.map((s) => s.helm.namespace)
    const deployments = await steps.run(
      REHEARSAL_STEP.readBack,
      { result: (found) => ({ detail: `${found.length} Deployment(s) in ${namespaces.length} namespace(s)` }) },
      () => readDeployments(kubeconfig, network, namespaces),
    )
    for (const namespace of namespaces) {
      await steps.run(REHEARSAL_STEP.finalState, { namespace, result: (line) => ({ detail: line }) }, async () =>
        checkFinalState(deployments, namespace, image),
      )
    }
    return formatRehearsal({
      steps: steps.records,
      totalMs: performance.now() - started,
      namespaces,
      image,
      deployments,
      services: `registry ${REHEARSAL_REGISTRY} (${REGISTRY_IMAGE}), cluster ${CLUSTER_IMAGE} with one fake node: pods are scheduled and made Ready by kwok, never run (images, probes and the pull secret are not exercised).`,
    })
  } catch (error) {
    // The cluster stops with the rehearsal: what it said about the namespace that failed is read
    // now, and shown, instead of advice to look at a cluster that will be gone.
    const failedIn = [...steps.records].reverse().find((r) => r.state === "failed" && r.namespace)?.namespace
    const seen = cluster && failedIn ? await readWhatHappened(cluster.kubeconfig, cluster.network, failedIn) : undefined
    throw new Error(formatFailure(steps.records, performance.now() - started, error as Error, seen))
  } finally {
    for (const service of services.reverse()) await service.stop().catch(() => undefined)
  }
}

/** Starts the registry and the cluster; the registry's endpoint is where the module's own process reaches it. */
async function startServices(started: Service[]): Promise<ServiceNetwork> {
  const registry = await dag.container().from(REGISTRY_IMAGE).withExposedPort(REGISTRY_PORT).asService().start()
  started.push(registry)
  const cluster = await dag
    .container()
    .from(CLUSTER_IMAGE)
    .withExposedPort(CLUSTER_PORT)
    .asService({ useEntrypoint: true })
    .start()
  started.push(cluster)
  const endpoint = await registry.endpoint({ port: REGISTRY_PORT })
  return {
    registry: { service: registry, endpoint: { scheme: "http", host: endpoint } },
    cluster: { alias: CLUSTER_ALIAS, service: cluster },
  }
}

/** Waits for the API server to be ready, registers the fake node and waits for kwok to make it Ready. */
async function prepareCluster(
  kubeconfig: Secret,
  network: ServiceNetwork,
  plan: RehearsalPlan,
  wait: ClusterWait,
): Promise<void> {
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
}

/** What the cluster runs in the namespaces rehearsed, read back with kubectl. */
async function readDeployments(
  kubeconfig: Secret,
  network: ServiceNetwork,
  namespaces: string[],
): Promise<DeploymentState[]> {
  const ran = await kubectlRun(kubeconfig, ["kubectl", "get", "deployments", "--all-namespaces", "-o", "json"], network)
  if (ran.exitCode !== 0)
    throw new Error(`kubectl get deployments failed (exit code ${ran.exitCode}): ${(ran.stderr || ran.stdout).trim()}`)
  return parseDeployments(ran.stdout).filter((d) => namespaces.includes(d.namespace))
}

/** One namespace's final state: every Deployment Available, one of them running the published image; else the problems, named. */
function checkFinalState(deployments: readonly DeploymentState[], namespace: string, image: ResolvedImage): string {
  const problems = stateProblems(deployments, [namespace], image)
  if (problems.length > 0)
    throw new Error(
      `the cluster does not run what was deployed in ${namespace}:\n${problems.map((p) => `  ${p.problem}`).join("\n")}`,
    )
  const here = deployments.filter((d) => d.namespace === namespace)
  return `${here.length} Deployment(s) Available, published image running`
}

/** What the cluster said about a namespace, read before the rehearsal stops it: its Deployments' rollout and its events. */
async function readWhatHappened(kubeconfig: Secret, network: ServiceNetwork, namespace: string): Promise<string> {
  const read = async (args: string[]) => {
    const ran = await kubectlRun(kubeconfig, args, network).catch((e: unknown) => ({
      exitCode: -1,
      stdout: "",
      stderr: (e as Error).message,
    }))
    return (ran.exitCode === 0 ? ran.stdout : ran.stderr || ran.stdout).trim() || "(nothing)"
  }
  const deployments = await read(["kubectl", "get", "deployments", "-n", namespace, "-o", "wide"])
  const events = await read(["kubectl", "get", "events", "-n", namespace, "--sort-by=.lastTimestamp"])
  return `what the cluster said about ${namespace} before the rehearsal stopped it:\n$ kubectl get deployments -n ${namespace} -o wide\n${deployments}\n$ kubectl get events -n ${namespace} --sort-by=.lastTimestamp\n${events.split("\n").slice(-20).join("\n")}`
}
