/**
 * A deploy, carried out: the kubeconfig and the values files checked, the image resolved in the
 * registry (the preflight), then the downgrade guard, the namespace, `helm upgrade --install`
 * pinned to the resolved digest, and Helm's report read back.
 */
import { type Directory, type Secret } from "@dagger.io/dagger"

import { Steps, STEP } from "../common/steps.js"
import { DIRECT, type ServiceNetwork } from "../engine/network.js"
import { type VerificationPolicy } from "../signing/policy.js"
import { CHART_MOUNT, type ChartSource, chartValuesFiles, type DeployChart, readyChart, withChart } from "./chart.js"
import { clusterClient, ensureNamespace, execQuietly } from "./cluster.js"
import { HELM_IMAGE } from "../engine/images.js"
import { helmFailureWith, readHelmHistory } from "./failure.js"
import { gateImage } from "./gate.js"
import { refuseDowngrade } from "./guard.js"
import {
  formatHelmReport,
  type HelmReport,
  helmUpgradeArgs,
  parseHelmReport,
  thisRunsFailure,
  unusedImageProblem,
} from "./helm.js"
import { type HelmPlan, type Reader } from "./inputs.js"
import { checkKubeconfig } from "./kubeconfig.js"
import { imageTarget, preflightImage, type ResolvedImage } from "./preflight.js"
import { checkRemovals, describeObject } from "./removal.js"
import { recoverRollout, RolloutFailed } from "./rollout.js"

/** What a deploy reads and talks to: the chart, the cluster, and the registry user it reads the image as. */
export interface DeployInputs {
  readonly chart: ChartSource
  /** Where the values files are read, when not from the chart (a service repository's infra/helm/values). */
  readonly values?: Directory
  readonly kubeconfig: Secret
  readonly reader?: Reader
  /** The verification gate's policy (off when absent). */
  readonly policy?: VerificationPolicy
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
  const credentials = inputs.reader
    ? { username: inputs.reader.username, password: await inputs.reader.token.plaintext() }
    : undefined
  // A chart by reference: resolved and pulled (by digest) with the reader's credentials first.
  const chart = await readyChart(inputs.chart, inputs.values, { credentials, steps }).catch((error: Error) => {
    throw new Error(`${error.message}\nNothing was deployed to ${plan.namespace}.`)
  })
  const valuesFiles = await chartValuesFiles(chart, plan)
  const target = imageTarget(plan.image, plan.version, plan.platform, { scheme: plan.imageScheme })
  const image = await steps
    .run(STEP.preflight, { attributes: imageAttributes(plan.image, plan.version), result: preflightResult }, () =>
      preflightImage(target, digest, credentials),
    )
    .catch((error: Error) => {
      throw new Error(`${error.message}\nNothing was deployed to ${plan.namespace}.`)
    })
  // The gate: before any kubectl or Helm command, the digest must carry what the policy requires.
  await gateImage(target, image, inputs.policy ?? { mode: "off" }, { version: plan.version }, credentials, steps).catch(
    (error: Error) => {
      throw new Error(`${error.message}\nNothing was deployed to ${plan.namespace}.`)
    },
  )
  return (await deployToNamespace({ chart, kubeconfig: inputs.kubeconfig }, plan, image, valuesFiles, { steps }))
    .summary
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
 * just made sure of it), then `helm upgrade --install` pinned to the resolved image's digest; when
 * its rollout fails, the diagnosis and the rollback (delivery/rollout.ts).
 */
export async function deployToNamespace(
  inputs: { readonly chart: DeployChart; readonly kubeconfig: Secret },
  plan: HelmPlan,
  image: ResolvedImage,
  valuesFiles: readonly string[],
  options: { readonly network?: ServiceNetwork; readonly steps?: Steps; readonly namespaceEnsured?: boolean } = {},
): Promise<{ report: HelmReport; summary: string }> {
  const network = options.network ?? DIRECT
  const steps = options.steps ?? new Steps()
  const where = { namespace: plan.namespace }
  await steps.run(STEP.guard, where, () => refuseDowngrade(inputs.kubeconfig, plan, network))
  // What the release would lose: refused before any change when another service runs it.
  const removed = await steps.run(
    STEP.removalGuard,
    {
      ...where,
      result: (gone) => ({
        detail: gone.length > 0 ? `${gone.length} removed on purpose` : "removes nothing another service runs",
        attributes: { "helm.removed": gone.length },
      }),
    },
    () => checkRemovals(inputs, plan, { digest: image.digest, valuesFiles }, network),
  )
  // release has just put the pull secret into it (which made sure of the namespace): no second look.
  if (!options.namespaceEnsured)
    await steps.run(STEP.namespace, where, () => ensureNamespace(inputs.kubeconfig, plan.namespace, network))
  return steps
    .run(
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
    .catch(async (error: unknown) => {
      // A rollout Helm recorded and that failed: why is read from its pods, then it is rolled back.
      throw error instanceof RolloutFailed
        ? await recoverRollout(error, inputs.kubeconfig, plan, network, steps)
        : error
    })
    .then(({ report, summary }) => ({
      report,
      summary:
        removed.length > 0
          ? `${summary}; removed on purpose (--allow-removal): ${removed.map(describeObject).join(", ")}`
          : summary,
    }))
}

/**
 * `helm upgrade --install` of the chart, pinned to the resolved image's digest; returns Helm's
 * report of the release. Fails after Helm when nothing Helm rendered uses the image (the chart
 * does not read `plan.imageValues`); a rollout Helm recorded and failed is thrown as
 * RolloutFailed, for deployToNamespace to diagnose and roll back as steps of their own.
 */
async function helmUpgrade(
  chart: DeployChart,
  kubeconfig: Secret,
  plan: HelmPlan,
  image: ResolvedImage,
  valuesFiles: readonly string[],
  network: ServiceNetwork,
): Promise<{ report: HelmReport; summary: string }> {
  const container = withChart(clusterClient(HELM_IMAGE, kubeconfig, network), chart)
  const ran = await execQuietly(container, helmUpgradeArgs(plan, CHART_MOUNT, { digest: image.digest, valuesFiles }))
  if (ran.exitCode !== 0) {
    const what = `helm upgrade --install of release ${plan.release} (${image.uri})`
    const history = await readHelmHistory(plan, kubeconfig, network)
    // Helm recorded this run's revision, then failed it (its wait ran out): the module undoes it.
    const failed = thisRunsFailure(history ?? [], ran.stderr || ran.stdout)
    if (failed) throw new RolloutFailed(what, ran, failed, history!)
    throw helmFailureWith(what, plan, ran, network, history)
  }
  const out = ran.stdout
  const report = parseHelmReport(out)
  const unused = unusedImageProblem(report, plan, image.digest)
  if (unused) throw new Error(unused)
  return { report, summary: formatHelmReport(report, plan, image.digest, chart.reference) }
}
