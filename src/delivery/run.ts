/**
 * A deploy, carried out: the kubeconfig and the values files checked, the image resolved in the
 * registry (the preflight), then the downgrade guard, the namespace, `helm upgrade --install`
 * pinned to the resolved digest, and Helm's report read back.
 */
import { type Directory, ExistsType, type Secret } from "@dagger.io/dagger"

import { InvalidArgumentError } from "../common/errors.js"
import { Steps, STEP } from "../common/steps.js"
import { DIRECT, type ServiceNetwork } from "../engine/network.js"
import { clusterClient, describeFailure, ensureNamespace, exec, HELM_IMAGE } from "./cluster.js"
import { refuseDowngrade } from "./guard.js"
import {
  formatHelmReport,
  helmHistoryArgs,
  type HelmReport,
  helmUpgradeAdvice,
  helmUpgradeArgs,
  parseHelmHistory,
  parseHelmReport,
  unusedImageProblem,
} from "./helm.js"
import { type HelmPlan, type Reader } from "./inputs.js"
import { checkKubeconfig } from "./kubeconfig.js"
import { imageTarget, preflightImage, type ResolvedImage } from "./preflight.js"
import { namespaceValuesFile, valuesFilesFor } from "./values.js"

const CHART = "/work/chart"

/** What a deploy reads and talks to: the chart, the cluster, and the registry user it reads the image as. */
export interface DeployInputs {
  readonly chart: Directory
  readonly kubeconfig: Secret
  readonly reader?: Reader
}

/**
 * helmDeploy: checks the kubeconfig and the values files, resolves the image as the cluster will
 * pull it (which must be `digest` when given), then deploys it pinned to that digest. Nothing is
 * deployed when any check fails. Returns Helm's report in one line.
 */
export async function deploy(
  inputs: DeployInputs,
  plan: HelmPlan,
  digest?: string,
  steps = new Steps(),
): Promise<string> {
  await checkKubeconfig(inputs.kubeconfig)
  const valuesFiles = await chartValuesFiles(inputs.chart, plan)
  const credentials = inputs.reader
    ? { username: inputs.reader.username, password: await inputs.reader.token.plaintext() }
    : undefined
  const target = imageTarget(plan.image, plan.version, plan.platform, { scheme: plan.imageScheme })
  const image = await steps
    .run(STEP.preflight, { attributes: imageAttributes(plan.image, plan.version), result: preflightResult }, () =>
      preflightImage(target, digest, credentials),
    )
    .catch((error: Error) => {
      throw new Error(`${error.message}\nNothing was deployed to ${plan.namespace}.`)
    })
  return (await deployToNamespace(inputs, plan, image, valuesFiles, { steps })).summary
}

/** The span attributes of an image: its name and tag (OpenTelemetry's container conventions). */
export const imageAttributes = (address: string, version: string) => ({
  "container.image.name": address,
  "container.image.tags": version,
})

/** What the preflight step produced: the digest to pin, and the one nodes pull for their platform. */
export const preflightResult = (image: ResolvedImage) => ({
  detail: `${image.uri}, manifest ${image.platformDigest}`,
  attributes: { "oci.manifest.digest": image.digest },
})

/**
 * One namespace's deploy, each a step: the downgrade guard, the namespace (unless the caller has
 * just made sure of it), then `helm upgrade --install` pinned to the resolved image's digest.
 */
export async function deployToNamespace(
  inputs: { readonly chart: Directory; readonly kubeconfig: Secret },
  plan: HelmPlan,
  image: ResolvedImage,
  valuesFiles: readonly string[],
  options: { readonly network?: ServiceNetwork; readonly steps?: Steps; readonly namespaceEnsured?: boolean } = {},
): Promise<{ report: HelmReport; summary: string }> {
  const network = options.network ?? DIRECT
  const steps = options.steps ?? new Steps()
  const where = { namespace: plan.namespace }
  await steps.run(STEP.guard, where, () => refuseDowngrade(inputs.kubeconfig, plan, network))
  // release has just put the pull secret into it (which made sure of the namespace): no second look.
  if (!options.namespaceEnsured)
    await steps.run(STEP.namespace, where, () => ensureNamespace(inputs.kubeconfig, plan.namespace, network))
  return steps.run(
    STEP.helmUpgrade,
    {
      ...where,
      attributes: {
        ...imageAttributes(plan.image, plan.version),
        "oci.manifest.digest": image.digest,
        "helm.release": plan.release,
      },
      result: ({ report }) => ({
        detail: `revision ${report.revision} (${report.status})`,
        attributes: { "helm.revision": report.revision, "helm.status": report.status },
      }),
    },
    () => helmUpgrade(inputs.chart, inputs.kubeconfig, plan, image, valuesFiles, network),
  )
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

/**
 * `helm upgrade --install` of the chart, pinned to the resolved image's digest; returns Helm's
 * report of the release. Fails after Helm when nothing Helm rendered uses the image (the chart
 * does not read `plan.imageValues`).
 */
async function helmUpgrade(
  chart: Directory,
  kubeconfig: Secret,
  plan: HelmPlan,
  image: ResolvedImage,
  valuesFiles: readonly string[],
  network: ServiceNetwork,
): Promise<{ report: HelmReport; summary: string }> {
  const container = clusterClient(HELM_IMAGE, kubeconfig, network).withDirectory(CHART, chart)
  const ran = await exec(container, helmUpgradeArgs(plan, CHART, { digest: image.digest, valuesFiles }))
  if (ran.exitCode !== 0) {
    const said = ran.stderr || ran.stdout
    // The release's history, read now: a release left pending (by an earlier run, or by this
    // failure) is named with the revision to go back to.
    const history = await exec(clusterClient(HELM_IMAGE, kubeconfig, network), helmHistoryArgs(plan))
    throw new Error(
      describeFailure(
        `helm upgrade --install of release ${plan.release} (${image.uri})`,
        plan.namespace,
        ran.exitCode,
        said,
        // A rehearsal's cluster is gone when the call ends: it shows what the cluster said instead.
        network.cluster
          ? "The rehearsal reads the namespace's rollout and events before it stops its cluster: they follow."
          : helmUpgradeAdvice(plan, said, history?.exitCode === 0 ? parseHelmHistory(history.stdout) : undefined),
      ),
    )
  }
  const out = ran.stdout
  const report = parseHelmReport(out)
  const unused = unusedImageProblem(report, plan, image.digest)
  if (unused) throw new Error(unused)
  return { report, summary: formatHelmReport(report, plan, image.digest) }
}
