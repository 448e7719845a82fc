/**
 * The whole release, carried out: publish once, check the published image as the cluster will pull
 * it, then for each namespace in order refresh the pull secret and deploy the same digest; stop at
 * the first namespace that fails and name it.
 */
import { type Directory, type Secret } from "@dagger.io/dagger"

import { DIRECT, type ServiceNetwork } from "../engine/network.js"
import { type HelmReport } from "../delivery/helm.js"
import { checkKubeconfig } from "../delivery/kubeconfig.js"
import { imageTarget, preflightImage, type ResolvedImage } from "../delivery/preflight.js"
import { applyPullSecret } from "../delivery/pull-secret.js"
import { type ChartSource, chartValuesFiles, readyChart } from "../delivery/chart.js"
import { deployToNamespace, imageAttributes, preflightResult } from "../delivery/run.js"
import { type RegistryEndpoint } from "../oci/manifest.js"
import { gateImage } from "../delivery/gate.js"
import { publishSigned } from "../publish/attest.js"
import { type SigningPlan } from "../publish/inputs.js"
import { digestOf } from "../publish/run.js"
import { type VerificationPolicy } from "../signing/policy.js"
import { type ReleasePlan } from "./plan.js"
import { type StepRecord, Steps, STEP } from "../common/steps.js"

export interface ReleaseInputs {
  source: Directory
  password: Secret
  chart: ChartSource
  /** Where the values files are read, when not from the chart. */
  values?: Directory
  kubeconfig: Secret
  readerToken: Secret
  /** How the module reaches the registry of a chart by reference, when not as the reference says (a rehearsal's registry service). */
  chartEndpoint?: RegistryEndpoint
  /** The registry and cluster as Dagger services (a rehearsal); absent for a real release. */
  network?: ServiceNetwork
  /** How publish signs (not at all when absent). */
  signing?: SigningPlan
  /** The verification gate's policy, run once on the published digest before the first namespace (off when absent). */
  policy?: VerificationPolicy
  /** Where the steps are recorded (a rehearsal's report is made of them); a new one when absent. */
  steps?: Steps
}

/** What a release did: the references published, the image as resolved, and each namespace's Helm report, in order. */
export interface ReleaseResult {
  readonly references: readonly [string, string]
  readonly image: ResolvedImage
  readonly deployed: readonly { namespace: string; report: HelmReport }[]
}

/** The whole release; returns its summary, made of its steps. */
export async function runRelease(plan: ReleasePlan, inputs: ReleaseInputs): Promise<string> {
  const steps = inputs.steps ?? new Steps()
  const { image } = await carryOutRelease(plan, { ...inputs, steps })
  return formatReleaseSummary(steps.records, image)
}

/** The whole release, step by step; stops at the first namespace that fails and names it. */
export async function carryOutRelease(plan: ReleasePlan, inputs: ReleaseInputs): Promise<ReleaseResult> {
  const network = inputs.network ?? DIRECT
  const steps = inputs.steps ?? new Steps()
  // The kubeconfig, the chart (pulled once, by digest, when it comes by reference) and its values
  // files are checked before anything is built or pushed.
  const { chart, valuesFiles } = await steps.run(STEP.checkInputs, {}, async () => {
    await checkKubeconfig(inputs.kubeconfig)
    const chart = await readyChart(inputs.chart, inputs.values, {
      credentials: { username: plan.steps[0]!.pullSecret.username, password: await inputs.readerToken.plaintext() },
      ...(inputs.chartEndpoint ? { endpoint: inputs.chartEndpoint } : {}),
      steps,
    })
    const files: string[][] = []
    for (const s of plan.steps) files.push(await chartValuesFiles(chart, s.helm))
    return { chart, valuesFiles: files }
  })
  const references = await steps.run(
    STEP.publish,
    { attributes: imageAttributes(plan.publish.repository.address, plan.publish.version.tag), result: publishResult },
    () =>
      publishSigned(inputs.source, plan.publish, inputs.password, inputs.signing ?? { mode: "none" }, {
        network,
        steps,
      }),
  )
  const digest = digestOf(references[0])
  const platform = plan.steps[0]!.helm.platform
  // The published image, read as the cluster will read it: with the reader credentials; then the
  // gate, once, on that digest, before the first namespace.
  const target = imageTarget(plan.publish.repository.address, plan.publish.version.tag, platform, {
    endpoint: network.registry?.endpoint ?? plan.publish.repository,
  })
  const reader = { username: plan.steps[0]!.pullSecret.username, password: await inputs.readerToken.plaintext() }
  const notDeployed = (error: Error) => {
    throw new Error(
      `release ${plan.publish.version.tag} was published but not deployed anywhere: ${error.message}\npublished: ${references.join(", ")}`,
    )
  }
  const image = await steps
    .run(
      STEP.preflight,
      {
        attributes: { ...imageAttributes(plan.publish.repository.address, plan.publish.version.tag) },
        result: preflightResult,
      },
      () => preflightImage(target, digest, reader),
    )
    .catch(notDeployed)
  await gateImage(
    target,
    image,
    inputs.policy ?? { mode: "off" },
    { version: plan.publish.version.tag, commit: plan.publish.sha },
    reader,
    steps,
  ).catch(notDeployed)
  const deployed: { namespace: string; report: HelmReport }[] = []
  for (const [i, s] of plan.steps.entries()) {
    const namespace = s.helm.namespace
    try {
      await applyPullSecret(inputs.kubeconfig, s.pullSecret, inputs.readerToken, { network, steps })
      const { report } = await deployToNamespace(
        { chart, kubeconfig: inputs.kubeconfig },
        s.helm,
        image,
        valuesFiles[i]!,
        {
          network,
          steps,
          namespaceEnsured: true,
        },
      )
      deployed.push({ namespace, report })
    } catch (error) {
      const untouched = plan.steps.slice(i + 1).map((later) => later.helm.namespace)
      throw new Error(
        `release ${plan.publish.version.tag} stopped at namespace ${namespace}: ${(error as Error).message}\n` +
          `published: ${references.join(", ")}\n` +
          `deployed before it: ${deployed.map((d) => `${d.namespace} (revision ${d.report.revision})`).join(", ") || "none"}\n` +
          `not touched: ${untouched.join(", ") || "none"}`,
      )
    }
  }
  return { references, image, deployed }
}

/** What the publish step produced: both references, version first. */
const publishResult = (references: readonly string[]) => ({
  detail: references.join(" "),
  attributes: { "oci.manifest.digest": digestOf(references[0]!) },
})

/**
 * The release summary, made of its steps: the references the publish step produced, then each
 * namespace with the revision its helm upgrade step produced, in order.
 */
export function formatReleaseSummary(records: readonly StepRecord[], image: ResolvedImage): string {
  const published = records.find((r) => r.step === STEP.publish && r.state === "done")?.detail?.split(" ") ?? []
  const upgrades = records.filter((r) => r.step === STEP.helmUpgrade && r.state === "done")
  return [
    "published:",
    ...published.map((reference) => `  ${reference}`),
    `deployed ${image.version} (${image.digest}):`,
    ...upgrades.map((r) => `  ${r.namespace}: ${r.detail}`),
  ].join("\n")
}
