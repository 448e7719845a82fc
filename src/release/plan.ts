/** A release, decided: every argument of publish and of every namespace's deploy checked before anything runs. */
import { check } from "../common/errors.js"
import {
  type HelmPlan,
  parseNamespaces,
  parseReleaseName,
  planHelm,
  planPullSecret,
  type PullSecretPlan,
} from "../delivery/inputs.js"
import { formatPlatform } from "../oci/platform.js"
import { planPublish, type PublishArgs, type PublishPlan } from "../publish/inputs.js"

export interface ReleasePlan {
  readonly publish: PublishPlan
  readonly steps: { readonly pullSecret: PullSecretPlan; readonly helm: HelmPlan }[]
}

/** The pull secret's name unless told otherwise. */
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
  allowRemoval?: boolean
  imageValues?: string
  pullSecretName?: string
}

/** Checks every argument of a release, for every namespace, before anything runs. */
export function planRelease(args: ReleaseArgs): ReleasePlan {
  const publish = planPublish(args)
  const namespaces = parseNamespaces(args.namespaces)
  const release = parseReleaseName(args.helmRelease, "helmRelease")
  const pullSecretName = args.pullSecretName ?? PULL_SECRET_NAME
  const steps = namespaces.map((namespace) => ({
    pullSecret: planPullSecret(
      { namespace, name: pullSecretName, server: publish.repository.host, username: args.readerUsername },
      { username: "readerUsername", name: "pullSecretName" },
    ),
    helm: planHelm({
      release,
      namespace,
      image: publish.repository.address,
      version: publish.version.tag,
      pullSecretName,
      timeout: args.timeout ?? "10m",
      set: args.set ?? [],
      values: args.values ?? [],
      platform: args.platform,
      allowDowngrade: args.allowDowngrade,
      allowRemoval: args.allowRemoval,
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
