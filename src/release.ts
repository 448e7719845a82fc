/**
 * The whole release: publish once, check the published image as the cluster will pull it, then
 * for each namespace in order refresh the pull secret and deploy the same digest; stop at the
 * first namespace that fails and name it.
 */
import type { Directory, Secret } from "@dagger.io/dagger"

import { check } from "./errors.js"
import { applyPullSecret, chartValuesFiles, checkKubeconfig, helmUpgrade } from "./deploy.js"
import {
  parseNamespaces,
  parseReleaseName,
  planHelm,
  planPullSecret,
  type HelmPlan,
  type HelmReport,
  type PullSecretPlan,
} from "./kubernetes.js"
import { DIRECT, type ServiceNetwork } from "./network.js"
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
    pullSecret: planPullSecret(
      { namespace, name: PULL_SECRET_NAME, server: publish.repository.host, username: args.readerUsername },
      { username: "readerUsername" },
    ),
    helm: planHelm({
      release,
      namespace,
      image: publish.repository.address,
      version: publish.version.tag,
      pullSecretName: PULL_SECRET_NAME,
      timeout: args.timeout ?? "10m",
      set: args.set ?? [],
      values: args.values ?? [],
      platform: args.platform,
      allowDowngrade: args.allowDowngrade,
      imageValues: args.imageValues,
    }),
  }))
  const platform = formatPlatform(steps[0]!.helm.platform)
  check(
    publish.platforms.includes(platform),
    "platform",
    platform,
    `is not among the platforms built (${publish.platforms.join(", ")}): the cluster's nodes could not run the image; add it to --platforms`,
  )
  return { publish, steps }
}

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

/** The steps of a release, in the order they run. */
export const RELEASE_STEPS = ["check inputs", "publish", "preflight", "pull secret", "helm deploy"] as const
export type ReleaseStep = (typeof RELEASE_STEPS)[number]

/** One step that ended: which, where (for a per-namespace step), how long, and whether it failed. */
export interface StepRecord {
  readonly step: string
  readonly namespace?: string
  readonly ms: number
  readonly ok: boolean
  /** What the step produced, in one line (a revision, a digest). */
  readonly detail?: string
}

/** Runs one step and tells `onStep` how it ended and how long it took; the step's own error passes through. */
export async function timedStep<T>(
  onStep: ((record: StepRecord) => void) | undefined,
  step: string,
  namespace: string | undefined,
  work: () => Promise<T>,
  detail?: (result: T) => string,
): Promise<T> {
  const started = performance.now()
  const where = namespace ? { namespace } : {}
  try {
    const result = await work()
    onStep?.({
      step,
      ...where,
      ms: performance.now() - started,
      ok: true,
      ...(detail ? { detail: detail(result) } : {}),
    })
    return result
  } catch (error) {
    onStep?.({ step, ...where, ms: performance.now() - started, ok: false })
    throw error
  }
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
      namedByAddress(
        await preflightImage(
          {
            endpoint: network.registry?.endpoint ?? plan.publish.repository,
            path: plan.publish.repository.path,
            version: plan.publish.version.tag,
            digest,
            platform: plan.steps[0]!.helm.platform,
          },
          { username: plan.steps[0]!.pullSecret.username, password: await inputs.readerToken.plaintext() },
        ),
        plan.publish.repository.address,
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

/**
 * The resolved image named by the image's address (what pods pull), whichever way the module's own
 * process reached the registry (in a rehearsal: the registry service's hostname).
 */
export function namedByAddress(image: ResolvedImage, address: string): ResolvedImage {
  return { ...image, repository: address, uri: `${address}:${image.version}@${image.digest}` }
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
