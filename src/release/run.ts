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
import { chartValuesFiles, helmUpgrade } from "../delivery/run.js"
import { formatPlatform } from "../oci/platform.js"
import { digestOf, publishPlanned } from "../publish/run.js"
import { type ReleasePlan } from "./plan.js"
import { type ReleaseStep, type StepRecord, timedStep } from "./steps.js"

export interface ReleaseInputs {
  source: Directory
  password: Secret
  chart: Directory
  kubeconfig: Secret
  readerToken: Secret
  /** The registry and cluster as Dagger services (a rehearsal); absent for a real release. */
  network?: ServiceNetwork
  /** Told of every step as it ends, with its time (a rehearsal's report is made of them). */
  onStep?: (record: StepRecord) => void
}

/** What a release did: the references published, the image as resolved, and each namespace's Helm report, in order. */
export interface ReleaseResult {
  readonly references: readonly [string, string]
  readonly image: ResolvedImage
  readonly deployed: readonly { namespace: string; report: HelmReport }[]
}

/** The whole release; returns its summary. */
export async function runRelease(plan: ReleasePlan, inputs: ReleaseInputs): Promise<string> {
  const { references, image, deployed } = await carryOutRelease(plan, inputs)
  return formatReleaseSummary(references, image, deployed)
}

/** The whole release, step by step; stops at the first namespace that fails and names it. */
export async function carryOutRelease(plan: ReleasePlan, inputs: ReleaseInputs): Promise<ReleaseResult> {
  const network = inputs.network ?? DIRECT
  const step = <T>(
    name: ReleaseStep,
    namespace: string | undefined,
    work: () => Promise<T>,
    detail?: (result: T) => string,
  ) => timedStep(inputs.onStep, name, namespace, work, detail)
  // The kubeconfig and the chart's values files are checked before anything is built or pushed.
  const valuesFiles = await step("check inputs", undefined, async () => {
    await checkKubeconfig(inputs.kubeconfig)
    const files: string[][] = []
    for (const s of plan.steps) files.push(await chartValuesFiles(inputs.chart, s.helm))
    return files
  })
  const references = await step(
    "publish",
    undefined,
    () => publishPlanned(inputs.source, plan.publish, inputs.password, network),
    (refs) => refs.join(" "),
  )
  const digest = digestOf(references[0])
  // The published image, read as the cluster will read it: with the reader credentials.
  const image = await step(
    "preflight",
    undefined,
    async () =>
      preflightImage(
        imageTarget(plan.publish.repository.address, plan.publish.version.tag, plan.steps[0]!.helm.platform, {
          endpoint: network.registry?.endpoint ?? plan.publish.repository,
        }),
        digest,
        { username: plan.steps[0]!.pullSecret.username, password: await inputs.readerToken.plaintext() },
      ),
    (resolved) =>
      `${resolved.uri}, ${formatPlatform(plan.steps[0]!.helm.platform)} manifest ${resolved.platformDigest}`,
  ).catch((error: Error) => {
    throw new Error(
      `release ${plan.publish.version.tag} was published but not deployed anywhere: ${error.message}\npublished: ${references.join(", ")}`,
    )
  })
  const deployed: { namespace: string; report: HelmReport }[] = []
  for (const [i, s] of plan.steps.entries()) {
    const namespace = s.helm.namespace
    try {
      await step("pull secret", namespace, () =>
        applyPullSecret(inputs.kubeconfig, s.pullSecret, inputs.readerToken, network),
      )
      const { report } = await step(
        "helm deploy",
        namespace,
        () => helmUpgrade(inputs.chart, inputs.kubeconfig, s.helm, image, valuesFiles[i]!, network, true),
        ({ report: r }) => `revision ${r.revision} (${r.status})`,
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

/** The release summary: the published references, then each namespace with its Helm revision, in order. */
export function formatReleaseSummary(
  references: readonly string[],
  image: ResolvedImage,
  deployed: readonly { namespace: string; report: HelmReport }[],
): string {
  return [
    "published:",
    ...references.map((reference) => `  ${reference}`),
    `deployed ${image.version} (${image.digest}):`,
    ...deployed.map(({ namespace, report }) => `  ${namespace}: revision ${report.revision} (${report.status})`),
  ].join("\n")
}
