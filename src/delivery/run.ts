/**
 * A deploy, carried out: the values files checked in the chart, the downgrade guard, the namespace,
 * then `helm upgrade --install` pinned to the resolved digest, and Helm's report read back.
 */
import { type Directory, ExistsType, type Secret } from "@dagger.io/dagger"

import { InvalidArgumentError } from "../common/errors.js"
import { DIRECT, type ServiceNetwork } from "../engine/network.js"
import { clusterClient, describeFailure, ensureNamespace, exec, HELM_IMAGE } from "./cluster.js"
import { refuseDowngrade } from "./guard.js"
import {
  formatHelmReport,
  helmHistoryArgs,
  type HelmReport,
  helmUpgradeAdvice,
  helmUpgradeArgs,
  isReleaseLocked,
  parseHelmHistory,
  parseHelmReport,
  unusedImageProblem,
} from "./helm.js"
import { type HelmPlan } from "./inputs.js"
import { type ResolvedImage } from "./preflight.js"
import { namespaceValuesFile, valuesFilesFor } from "./values.js"

const CHART = "/work/chart"

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
