/**
 * Kubernetes delivery, the Dagger part: kubectl and helm run in containers pinned to the
 * versions the tests use, with the kubeconfig and the pull-secret manifest mounted as Secrets.
 * No secret value is ever in a command line, an environment variable or a layer.
 */
import { randomUUID } from "node:crypto"

import { dag, ExistsType, ReturnType, type Container, type Directory, type Secret } from "@dagger.io/dagger"

import { InvalidArgumentError } from "./errors.js"
import {
  checkNotOlder,
  describeFailure,
  formatHelmReport,
  helmGetValuesArgs,
  helmHistoryArgs,
  helmUpgradeAdvice,
  helmUpgradeArgs,
  isReleaseLocked,
  kubeconfigProblem,
  kubectlApplyArgs,
  namespaceCheck,
  namespaceValuesFile,
  parseHelmHistory,
  parseHelmReport,
  pullSecretManifest,
  readDeployedVersion,
  unusedImageProblem,
  valuesFilesFor,
  type HelmPlan,
  type HelmReport,
  type PullSecretPlan,
} from "./kubernetes.js"
import { DIRECT, withCluster, type ServiceNetwork } from "./network.js"
import type { ResolvedImage } from "./preflight.js"

/** kubectl 1.35.2, the version the tests run (registry.k8s.io's own image). */
export const KUBECTL_IMAGE = "registry.k8s.io/kubectl:v1.35.2"
/** Helm 4.1.4, the version the tests run. */
export const HELM_IMAGE = "alpine/helm:4.1.4"

const KUBECONFIG = "/run/secrets/kubeconfig"
const CHART = "/work/chart"

/**
 * A container that can reach the cluster: the kubeconfig mounted as a Secret (readable by the
 * image's user, only inside this container), and a run ID so the engine never serves a cached
 * kubectl or helm result instead of running it again. In a rehearsal, the cluster service is
 * bound in as well.
 */
function clusterClient(image: string, kubeconfig: Secret, network: ServiceNetwork): Container {
  const container = dag
    .container()
    .from(image)
    .withMountedSecret(KUBECONFIG, kubeconfig, { mode: 0o444 })
    .withEnvVariable("KUBECONFIG", KUBECONFIG)
    .withEnvVariable("MEETINITY_RELEASE_RUN", randomUUID())
  return withCluster(container, network)
}

/** Refuses a kubeconfig kubectl and helm could not use (empty, exec plugin), before any container runs. */
export async function checkKubeconfig(kubeconfig: Secret): Promise<void> {
  const problem = kubeconfigProblem(await kubeconfig.plaintext())
  if (problem) throw new Error(`${problem}. Nothing was changed.`)
}

/** What one command printed, and how it ended. */
export interface Ran {
  readonly exitCode: number
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs `args` in `container` without failing the query on a non-zero exit, and reads how it
 * ended. The module's runtime bundles only the SDK's generated client and decorators (no
 * ExecError), so a failed command is read from its exit code, never caught as an exception.
 */
async function exec(container: Container, args: string[]): Promise<Ran> {
  const ran = container.withExec(args, { expect: ReturnType.Any })
  const exitCode = await ran.exitCode()
  return { exitCode, stdout: await ran.stdout(), stderr: exitCode === 0 ? "" : await ran.stderr() }
}

/**
 * Runs one kubectl command against the cluster, with `files` (path: contents, nothing secret)
 * written into the container, and reads how it ended without failing on its exit code: for a
 * rehearsal's setup and read-back, which decide themselves what a failure means.
 */
export async function kubectlRun(
  kubeconfig: Secret,
  args: string[],
  network: ServiceNetwork,
  files: Record<string, string> = {},
): Promise<Ran> {
  const container = Object.entries(files).reduce(
    (c, [path, contents]) => c.withNewFile(path, contents),
    clusterClient(KUBECTL_IMAGE, kubeconfig, network),
  )
  return exec(container, args)
}

/** Runs `args` and returns its stdout; a failure becomes an error a person can act on. */
async function run(
  container: Container,
  args: string[],
  what: string,
  namespace: string,
  lookAt: string,
): Promise<string> {
  const ran = await exec(container, args)
  if (ran.exitCode !== 0) {
    const said = ran.stderr || ran.stdout
    throw new Error(describeFailure(what, namespace, ran.exitCode, said, lookAt))
  }
  return ran.stdout
}

/**
 * Makes sure the namespace exists before a Secret or a release goes into it. Creates it only
 * when kubectl says NotFound; a user who may not read namespaces (a deployer bound to its own
 * namespace) goes on, and what follows says whether the namespace is there. Helm's
 * --create-namespace is not used: Helm patches the namespace even when it exists, which such a
 * deployer may not do.
 */
export async function ensureNamespace(
  kubeconfig: Secret,
  namespace: string,
  network: ServiceNetwork = DIRECT,
): Promise<void> {
  const lookup = await exec(clusterClient(KUBECTL_IMAGE, kubeconfig, network), [
    "kubectl",
    "get",
    "namespace",
    namespace,
    "-o",
    "name",
  ])
  if (namespaceCheck(lookup.exitCode, lookup.stderr) !== "create") return
  await run(
    clusterClient(KUBECTL_IMAGE, kubeconfig, network),
    ["kubectl", "create", "namespace", namespace],
    `kubectl create namespace ${namespace}`,
    namespace,
    `The namespace does not exist and could not be created: create it, or let the kubeconfig's user create namespaces.`,
  )
}

/** Creates or updates the pull secret with `kubectl apply --server-side`; returns what kubectl said. */
export async function applyPullSecret(
  kubeconfig: Secret,
  plan: PullSecretPlan,
  token: Secret,
  network: ServiceNetwork = DIRECT,
): Promise<string> {
  await ensureNamespace(kubeconfig, plan.namespace, network)
  const manifest = pullSecretManifest({ ...plan, token: await token.plaintext() })
  const manifestSecret = dag.setSecret(`pull-secret-${plan.namespace}-${randomUUID()}`, JSON.stringify(manifest))
  const path = "/run/secrets/pull-secret.json"
  const container = clusterClient(KUBECTL_IMAGE, kubeconfig, network).withMountedSecret(path, manifestSecret, {
    mode: 0o444,
  })
  const out = await run(
    container,
    kubectlApplyArgs(path),
    `kubectl apply of Secret ${plan.name}`,
    plan.namespace,
    `Check that the kubeconfig's user may create and patch Secrets in ${plan.namespace} (kubectl auth can-i patch secrets -n ${plan.namespace}).`,
  )
  return out.trim()
}

/**
 * The values files of a deploy, checked in the chart directory before any container runs: every
 * explicit one must be a file there; `values-<namespace>.yaml` is added first when it exists.
 */
export async function chartValuesFiles(chart: Directory, plan: HelmPlan): Promise<string[]> {
  for (const file of plan.values) {
    if (!(await chart.exists(file, { expectedType: ExistsType.RegularType }))) {
      throw new InvalidArgumentError(
        "values",
        file,
        "is not a file in the chart directory: expected a values file path relative to --chart (e.g. values-prod.yaml)",
      )
    }
  }
  const conventional = await chart.exists(namespaceValuesFile(plan.namespace), { expectedType: ExistsType.RegularType })
  return valuesFilesFor(plan.namespace, plan.values, conventional)
}

/** Refuses, before anything changes, to put an older version over a newer one (unless the plan allows it). */
export async function refuseDowngrade(
  kubeconfig: Secret,
  plan: HelmPlan,
  network: ServiceNetwork = DIRECT,
): Promise<void> {
  if (plan.allowDowngrade) return
  const lookup = await exec(clusterClient(HELM_IMAGE, kubeconfig, network), helmGetValuesArgs(plan))
  const deployed = readDeployedVersion(lookup.exitCode, lookup.stdout, lookup.stderr, plan.imageValues)
  if (deployed.state === "error") {
    throw new Error(
      describeFailure(
        `helm get values of release ${plan.release}`,
        plan.namespace,
        undefined,
        deployed.message,
        `Helm could not read the release, so it could not upgrade it either: check the kubeconfig and that its user may read Secrets in ${plan.namespace}.`,
      ),
    )
  }
  const refusal = checkNotOlder(plan, deployed)
  if (refusal) throw new Error(refusal)
}

/**
 * `helm upgrade --install` of the chart, pinned to the resolved image's digest; returns Helm's
 * report of the release. Refuses first to deploy an older version over a newer one (at this
 * service's own place in the values); fails after Helm when nothing Helm rendered uses the image
 * (the chart does not read `plan.imageValues`).
 */
export async function helmUpgrade(
  chart: Directory,
  kubeconfig: Secret,
  plan: HelmPlan,
  image: ResolvedImage,
  valuesFiles: readonly string[],
  network: ServiceNetwork = DIRECT,
  namespaceEnsured = false,
): Promise<{ report: HelmReport; summary: string }> {
  await refuseDowngrade(kubeconfig, plan, network)
  // release has just put the pull secret into it (applyPullSecret ensures the namespace): no second look.
  if (!namespaceEnsured) await ensureNamespace(kubeconfig, plan.namespace, network)
  const container = clusterClient(HELM_IMAGE, kubeconfig, network).withDirectory(CHART, chart)
  const ran = await exec(container, helmUpgradeArgs(plan, CHART, { digest: image.digest, valuesFiles }))
  if (ran.exitCode !== 0) {
    const said = ran.stderr || ran.stdout
    // A release an earlier run left pending: read its history to name the revision to go back to.
    const history = isReleaseLocked(said)
      ? await exec(clusterClient(HELM_IMAGE, kubeconfig, network), helmHistoryArgs(plan))
      : undefined
    throw new Error(
      describeFailure(
        `helm upgrade --install of release ${plan.release} (${image.uri})`,
        plan.namespace,
        ran.exitCode,
        said,
        helmUpgradeAdvice(plan, said, history?.exitCode === 0 ? parseHelmHistory(history.stdout) : undefined),
      ),
    )
  }
  const out = ran.stdout
  const report = parseHelmReport(out)
  const unused = unusedImageProblem(report, plan, image.digest)
  if (unused) throw new Error(unused)
  return { report, summary: formatHelmReport(report, plan, image.digest) }
}
