/**
 * The module's own kubectl and helm commands against a real cluster: a recorded module run
 * (support/dagger.ts) whose containers the host engine runs for real (support/host-engine.ts),
 * with the IDs the tests hand the module.
 */
import { resolve } from "node:path"

import { dag, type Directory, type DirectoryID, type SecretID } from "@dagger.io/dagger"

import { MeetinityRelease } from "../../src/index.js"
import type { Cluster } from "./cluster.js"
import { recordDagger, type Query, type Recorder } from "./dagger.js"
import { hostEngine, type HostEngineOptions, type HostRun } from "./host-engine.js"

export const CHART = resolve("examples/meetinity")
export const SOURCE = resolve("examples/api-gateway")
export const READER_TOKEN = 'ghp_R3ader-T0ken:with/odd"chars'
export const PUSH_TOKEN = "ghp_Push-T0ken-For-Publish"

export const kubeconfig = () => dag.loadSecretFromID("SecretID-kubeconfig" as SecretID)
export const readerToken = () => dag.loadSecretFromID("SecretID-reader" as SecretID)
export const pushToken = () => dag.loadSecretFromID("SecretID-push" as SecretID)
export const chart = () => dag.loadDirectoryFromID("DirectoryID-chart" as DirectoryID)
export const source = () => dag.loadDirectoryFromID("DirectoryID-source" as DirectoryID)

/**
 * `release` of the example service through the front door, as the cluster tests run it: published
 * by ci-bot to `registry`, pulled by reader-bot, its image at `api-gateway.image`; namespaces
 * default to the module's three; every other argument at the module's default.
 */
export const releaseOnCluster = (
  registry: string,
  run: { ref: string; sha: string; timeout: string; namespaces?: string[]; valuesDir?: Directory },
) =>
  new MeetinityRelease().release(
    source(),
    run.ref,
    run.sha,
    "Meetinity",
    "ci-bot",
    pushToken(),
    chart(),
    kubeconfig(),
    "reader-bot",
    readerToken(),
    "api-gateway",
    registry,
    "Dockerfile",
    ["linux/amd64"],
    [],
    run.namespaces,
    "meetinity",
    run.timeout,
    [],
    [],
    "linux/amd64",
    false,
    "api-gateway.image",
    "ghcr-pull-secret",
    false,
    "",
    run.valuesDir,
  )

export interface ModuleRun {
  recorder: Recorder
  /** Every command that ran, in order, with its real exit code and output. */
  runs: HostRun[]
}

/**
 * Installs a recorder whose containers run on this host against `cluster`, as the user whose
 * kubeconfig is given (the admin's by default). Call `recorder.restore()` after the run.
 */
export async function onCluster(
  cluster: Cluster,
  options: {
    kubeconfig?: string
    readerToken?: string
    publish?: (query: Query) => Promise<string>
    onStart?: HostEngineOptions["onStart"]
    /** More directories the test hands the module, by ID, as host paths. */
    directories?: Record<string, string>
    /** More secrets the test hands the module, by ID. */
    secrets?: Record<string, string>
  } = {},
): Promise<ModuleRun> {
  const engine = hostEngine({
    secrets: {
      "SecretID-kubeconfig": options.kubeconfig ?? cluster.adminKubeconfig,
      "SecretID-reader": options.readerToken ?? READER_TOKEN,
      "SecretID-push": PUSH_TOKEN,
      ...options.secrets,
    },
    directories: { "DirectoryID-chart": CHART, "DirectoryID-source": SOURCE, ...options.directories },
    ...(options.publish ? { publish: options.publish } : {}),
    ...(options.onStart ? { onStart: options.onStart } : {}),
  })
  const recorder = await recordDagger(engine.answer)
  return { recorder, runs: engine.runs }
}

/** A command line as the module sent it, shortened to its first words: "helm upgrade --install" (a render: "helm upgrade --dry-run=server"). */
export const commandLine = (run: HostRun, words = 3) =>
  run.args.includes("--dry-run=server")
    ? `${run.args.slice(0, 2).join(" ")} --dry-run=server`
    : run.args.slice(0, words).join(" ")

/** `helm <args>` as the admin, against the cluster (for reading back what the module did). */
export interface HelmRelease {
  name: string
  namespace: string
  version: number
  info: { status: string; description?: string }
  /** `helm get values` (user-supplied): each service's image under its own key, e.g. config["api-gateway"].image.tag. */
  config: Record<string, { image?: ImageValues } | undefined> | null
}

/** One service's image in the chart's values (`<service>.image`). */
export interface ImageValues {
  repository?: string
  tag?: string
  digest?: string
}

export interface DeploymentState {
  name: string
  generation: number
  image: string
  available: string | undefined
  readyReplicas: number
}

export async function deployments(cluster: Cluster, namespace: string): Promise<DeploymentState[]> {
  const list = JSON.parse(await cluster.kubectlOk(["get", "deployments", "-n", namespace, "-o", "json"])) as {
    items: {
      metadata: { name: string; generation: number }
      spec: { template: { spec: { containers: { image: string }[] } } }
      status: { readyReplicas?: number; conditions?: { type: string; status: string }[] }
    }[]
  }
  return list.items.map((d) => ({
    name: d.metadata.name,
    generation: d.metadata.generation,
    image: d.spec.template.spec.containers[0]!.image,
    available: d.status.conditions?.find((c) => c.type === "Available")?.status,
    readyReplicas: d.status.readyReplicas ?? 0,
  }))
}
