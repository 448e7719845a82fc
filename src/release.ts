/**
 * The whole release: publish once, check the published image as the cluster will pull it, then
 * for each namespace in order refresh the pull secret and deploy the same digest; stop at the
 * first namespace that fails and name it.
 */
import type { Directory, Secret } from "@dagger.io/dagger"

import { check } from "./errors.js"
import { applyPullSecret, chartValuesFiles, checkKubeconfig, helmUpgrade } from "./deploy.js"
import { parseNamespaces, parseReleaseName, planHelm, planPullSecret, type HelmPlan, type HelmReport, type PullSecretPlan } from "./kubernetes.js"
import { formatPlatform, preflightImage, type ResolvedImage } from "./preflight.js"
import { digestOf, planPublish, publishPlanned, type PublishArgs, type PublishPlan } from "./publish.js"

export interface ReleasePlan {
  readonly publish: PublishPlan
  readonly steps: { readonly pullSecret: PullSecretPlan; readonly helm: HelmPlan }[]
}

export const PULL_SECRET_NAME = "ghcr-pull-secret"

export interface ReleaseArgs extends PublishArgs {
  readerUsername: string
  namespaces: string[]
  helmRelease: string
  timeout?: string
  set?: string[]
  values?: string[]
  platform?: string
  allowDowngrade?: boolean
  imageValues?: string
}

/** Checks every argument of a release, for every namespace, before anything runs. */
export function planRelease(args: ReleaseArgs): ReleasePlan {
  const publish = planPublish(args)
  const namespaces = parseNamespaces(args.namespaces)
  const release = parseReleaseName(args.helmRelease, "helmRelease")
  const steps = namespaces.map((namespace) => ({
    pullSecret: planPullSecret({ namespace, name: PULL_SECRET_NAME, server: publish.repository.host, username: args.readerUsername }, { username: "readerUsername" }),
    helm: planHelm({
      release, namespace, image: publish.repository.address, version: publish.version.tag,
      pullSecretName: PULL_SECRET_NAME, timeout: args.timeout ?? "10m", set: args.set ?? [], values: args.values ?? [],
      platform: args.platform, allowDowngrade: args.allowDowngrade, imageValues: args.imageValues,
    }),
  }))
  const platform = formatPlatform(steps[0]!.helm.platform)
  check(publish.platforms.includes(platform), "platform", platform,
    `is not among the platforms built (${publish.platforms.join(", ")}): the cluster's nodes could not run the image; add it to --platforms`)
  return { publish, steps }
}

export interface ReleaseInputs {
  source: Directory
  password: Secret
  chart: Directory
  kubeconfig: Secret
  readerToken: Secret
}

export async function runRelease(plan: ReleasePlan, inputs: ReleaseInputs): Promise<string> {
  // The kubeconfig and the chart's values files are checked before anything is built or pushed.
  await checkKubeconfig(inputs.kubeconfig)
  const valuesFiles: string[][] = []
  for (const step of plan.steps) valuesFiles.push(await chartValuesFiles(inputs.chart, step.helm))
  const references = await publishPlanned(inputs.source, plan.publish, inputs.password)
  const digest = digestOf(references[0])
  // The published image, read as the cluster will read it: with the reader credentials.
  const image = await preflightImage(
    { endpoint: plan.publish.repository, path: plan.publish.repository.path, version: plan.publish.version.tag, digest, platform: plan.steps[0]!.helm.platform },
    { username: plan.steps[0]!.pullSecret.username, password: await inputs.readerToken.plaintext() },
  ).catch((error: Error) => {
    throw new Error(`release ${plan.publish.version.tag} was published but not deployed anywhere: ${error.message}\npublished: ${references.join(", ")}`)
  })
  const deployed: { namespace: string; report: HelmReport }[] = []
  for (const [i, step] of plan.steps.entries()) {
    const namespace = step.helm.namespace
    try {
      await applyPullSecret(inputs.kubeconfig, step.pullSecret, inputs.readerToken)
      deployed.push({ namespace, report: (await helmUpgrade(inputs.chart, inputs.kubeconfig, step.helm, image, valuesFiles[i]!)).report })
    } catch (error) {
      const untouched = plan.steps.slice(i + 1).map((s) => s.helm.namespace)
      throw new Error(
        `release ${plan.publish.version.tag} stopped at namespace ${namespace}: ${(error as Error).message}\n` +
          `published: ${references.join(", ")}\n` +
          `deployed before it: ${deployed.map((d) => `${d.namespace} (revision ${d.report.revision})`).join(", ") || "none"}\n` +
          `not touched: ${untouched.join(", ") || "none"}`,
      )
    }
  }
  return formatReleaseSummary(references, image, deployed)
}

/** The release summary: the published references, then each namespace with its Helm revision, in order. */
export function formatReleaseSummary(references: readonly string[], image: ResolvedImage, deployed: readonly { namespace: string; report: HelmReport }[]): string {
  return [
    "published:",
    ...references.map((reference) => `  ${reference}`),
    `deployed ${image.version} (${image.digest}):`,
    ...deployed.map(({ namespace, report }) => `  ${namespace}: revision ${report.revision} (${report.status})`),
  ].join("\n")
}
