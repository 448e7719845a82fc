/**
 * The whole release: publish once, then for each namespace in order refresh the pull secret
 * and deploy the same version; stop at the first namespace that fails and name it.
 */
import type { Directory, Secret } from "@dagger.io/dagger"

import { applyPullSecret, helmUpgrade } from "./deploy.js"
import { parseNamespaces, parseReleaseName, planHelm, planPullSecret, type HelmPlan, type HelmReport, type PullSecretPlan } from "./kubernetes.js"
import { planPublish, publishPlanned, type PublishArgs, type PublishPlan } from "./publish.js"

export interface ReleasePlan {
  readonly publish: PublishPlan
  readonly steps: { readonly pullSecret: PullSecretPlan; readonly helm: HelmPlan }[]
}

export const PULL_SECRET_NAME = "ghcr-pull-secret"

/** Checks every argument of a release, for every namespace, before anything runs. */
export function planRelease(args: PublishArgs & { readerUsername: string; namespaces: string[]; helmRelease: string; timeout?: string; set?: string[] }): ReleasePlan {
  const publish = planPublish(args)
  const namespaces = parseNamespaces(args.namespaces)
  const release = parseReleaseName(args.helmRelease, "helmRelease")
  return {
    publish,
    steps: namespaces.map((namespace) => ({
      pullSecret: planPullSecret({ namespace, name: PULL_SECRET_NAME, server: publish.repository.host, username: args.readerUsername }, { username: "readerUsername" }),
      helm: planHelm({
        release, namespace, image: publish.repository.address, version: publish.version.tag,
        pullSecretName: PULL_SECRET_NAME, timeout: args.timeout ?? "10m", set: args.set ?? [],
      }),
    })),
  }
}

export interface ReleaseInputs {
  source: Directory
  password: Secret
  chart: Directory
  kubeconfig: Secret
  readerToken: Secret
}

export async function runRelease(plan: ReleasePlan, inputs: ReleaseInputs): Promise<string> {
  const references = await publishPlanned(inputs.source, plan.publish, inputs.password)
  const deployed: { namespace: string; report: HelmReport }[] = []
  for (const [i, step] of plan.steps.entries()) {
    const namespace = step.helm.namespace
    try {
      await applyPullSecret(inputs.kubeconfig, step.pullSecret, inputs.readerToken)
      deployed.push({ namespace, report: (await helmUpgrade(inputs.chart, inputs.kubeconfig, step.helm)).report })
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
  return formatReleaseSummary(references, plan.publish.version.tag, deployed)
}

/** The release summary: the published references, then each namespace with its Helm revision, in order. */
export function formatReleaseSummary(references: readonly string[], version: string, deployed: readonly { namespace: string; report: HelmReport }[]): string {
  return [
    "published:",
    ...references.map((reference) => `  ${reference}`),
    `deployed ${version}:`,
    ...deployed.map(({ namespace, report }) => `  ${namespace}: revision ${report.revision} (${report.status})`),
  ].join("\n")
}
