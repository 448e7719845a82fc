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
import { STEP, Steps } from "../common/steps.js"
import { type ChartSource, chartValuesFiles, readyChart } from "../delivery/chart.js"
import { type ResolvedImage } from "../delivery/preflight.js"
import {
  CLUSTER_IMAGE,
  NODE_NAME,
  planRehearsal,
  REGISTRY_IMAGE,
  REHEARSAL_REGISTRY,
  REHEARSAL_USER,
  rehearsalKubeconfig,
  type RehearsalArgs,
} from "./plan.js"
import { ATTESTED } from "../publish/attest.js"
import { type SigningPlan } from "../publish/inputs.js"
import { type VerificationPolicy } from "../signing/policy.js"
import { newSigningKey } from "../signing/sign.js"
import { parsePublicKey } from "../signing/trust.js"
import { publishRehearsalChart } from "./chart.js"
import {
  type ClusterWait,
  type NodeChoice,
  type NodeKind,
  prepareCluster,
  PRIVILEGED_REFUSED,
  readDeployments,
  readImageIDs,
  startServices,
} from "./cluster.js"
import { formatFailure, formatRehearsal, stateProblems, type DeploymentState } from "./report.js"

export interface RehearsalInputs {
  readonly source: Directory
  readonly chart: ChartSource
  /** Where the values files are read, when not from the chart. */
  readonly values?: Directory
  /** Sign what is published with a key made for the rehearsal, and verify it before each deploy. */
  readonly sign?: boolean
  /** The syft image the SBOM is made with (default: SYFT_IMAGE). */
  readonly syftImage?: string
}

/** The rehearsal's own steps, around the release's (the same vocabulary: common/steps.ts). */
export const REHEARSAL_STEP = {
  services: "start services",
  clusterReady: "cluster ready",
  readBack: "read back",
  finalState: "final state",
  imageIds: "kubelet imageIDs",
} as const

const CLUSTER_WAIT: ClusterWait = { attempts: 60, intervalMs: 1000 }

/** Checks the arguments (before anything runs), then rehearses; returns the report, or fails naming the step and namespace. */
export async function runRehearsal(
  args: Omit<RehearsalArgs, "sha"> & { readonly node?: NodeChoice },
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
    const choice = args.node ?? "auto"
    let node: NodeKind = choice === "kwok" ? "kwok" : "real"
    // One registry user (REHEARSAL_USER publishes and pulls), one password made for this rehearsal:
    // the registry requires it, publish pushes with it, the pull secret carries it to the node.
    const secretValue = randomUUID()
    const password = dag.setSecret(`rehearsal-password-${randomUUID()}`, secretValue)
    const readerToken = password
    const network = await steps.run(
      REHEARSAL_STEP.services,
      { result: () => ({ detail: `registry ${REGISTRY_IMAGE} (htpasswd), cluster ${CLUSTER_IMAGE}` }) },
      () => startServices(services, secretValue),
    )
    const kubeconfig = dag.setSecret(`rehearsal-kubeconfig-${randomUUID()}`, rehearsalKubeconfig())
    cluster = { kubeconfig, network }
    const nodeInfo = await steps.run(
      REHEARSAL_STEP.clusterReady,
      { result: (info) => ({ detail: `node ${NODE_NAME} Ready: ${info}` }) },
      () =>
        prepareCluster(kubeconfig, network, plan, wait, node, services).catch(async (error: Error) => {
          // auto: an engine that refuses privileged services still rehearses, on kwok's fake node.
          if (choice !== "auto" || !PRIVILEGED_REFUSED.test(error.message)) throw error
          node = "kwok"
          const fake = await prepareCluster(kubeconfig, network, plan, wait, "kwok", services)
          return `${fake}; the engine did not run the privileged node service (${error.message.split("\n")[0]})`
        }),
    )
    // The chart is published to the registry service and deployed from there by reference.
    const chart = await publishRehearsalChart(
      inputs.chart,
      network,
      { username: REHEARSAL_USER, password: secretValue },
      steps,
    )
    // Signed with a key made for this rehearsal, and deployed only past the gate with its public key.
    const key = newSigningKey()
    const signing: SigningPlan = inputs.sign
      ? {
          mode: "key",
          key: dag.setSecret(`rehearsal-signing-key-${randomUUID()}`, key.privateKey),
          ...(inputs.syftImage ? { syftImage: inputs.syftImage } : {}),
        }
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
    // On a real node: what the kubelet pulled and runs, every container at the published digest.
    const running =
      node === "real"
        ? await steps.run(
            REHEARSAL_STEP.imageIds,
            { result: (lines) => ({ detail: `${lines.length} container(s), every imageID at the published digest` }) },
            () => readImageIDs(kubeconfig, network, namespaces, image.digest),
          )
        : []
    return formatRehearsal({
      steps: steps.records,
      totalMs: performance.now() - started,
      namespaces,
      image,
      deployments,
      services:
        node === "real"
          ? `registry ${REHEARSAL_REGISTRY} (${REGISTRY_IMAGE}, htpasswd), cluster ${CLUSTER_IMAGE}, node ${NODE_NAME}: ${nodeInfo}: images pulled with the pull secret, containers run, readiness probes run.`
          : `registry ${REHEARSAL_REGISTRY} (${REGISTRY_IMAGE}, htpasswd), cluster ${CLUSTER_IMAGE}, node ${NODE_NAME}: ${nodeInfo}: pods are scheduled and made Ready by kwok, never run (images, probes and the pull secret are not exercised).`,
      running,
    })
  } catch (error) {
    // The cluster stops with the rehearsal: what it said about the namespace that failed is read
    // now, and shown, instead of advice to look at a cluster that will be gone.
    const failedIn = [...steps.records].reverse().find((r) => r.state === "failed" && r.namespace)?.namespace
    const undone = steps.records.some((r) => r.step === STEP.rollback && r.namespace === failedIn)
    const seen =
      cluster && failedIn ? await readWhatHappened(cluster.kubeconfig, cluster.network, failedIn, undone) : undefined
    throw new Error(formatFailure(steps.records, performance.now() - started, error as Error, seen))
  } finally {
    for (const service of services.reverse()) await service.stop().catch(() => undefined)
  }
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

/**
 * What the cluster said about a namespace, read before the rehearsal stops it: its Deployments'
 * rollout and its events (kubectl's header and the last 20). After the module's own rollback the
 * Deployments are what the rollback left (the diagnosis above says what failed); the events still
 * tell the failure.
 */
async function readWhatHappened(
  kubeconfig: Secret,
  network: ServiceNetwork,
  namespace: string,
  undone: boolean,
): Promise<string> {
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
  const lines = events.split("\n")
  const lastEvents = lines.length > 21 ? [lines[0]!, "[…]", ...lines.slice(-20)] : lines
  const when = undone ? `, after the module's rollback,` : ""
  return `what the cluster said about ${namespace}${when} before the rehearsal stopped it:\n$ kubectl get deployments -n ${namespace} -o wide\n${deployments}\n$ kubectl get events -n ${namespace} --sort-by=.lastTimestamp\n${lastEvents.join("\n")}`
}
