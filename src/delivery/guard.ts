/**
 * Never an older version after a newer one: what the namespace runs now (`helm get values --all`,
 * at this service's own place in the values), and the refusal to put an older version over it.
 */
import { type Secret } from "@dagger.io/dagger"
import semver from "semver"

import { DIRECT, type ServiceNetwork } from "../engine/network.js"
import { clusterClient, describeFailure, execQuietly } from "./cluster.js"
import { HELM_IMAGE } from "../engine/images.js"
import { type HelmPlan } from "./inputs.js"
import { DEFAULT_IMAGE_VALUES, valueKeys } from "./values.js"

/**
 * `helm get values --all` of the release: every value it runs with, the chart's own defaults
 * included, so a version named only in the chart's values (a release installed by hand, without
 * the values helmDeploy sets) is seen too.
 */
export function helmGetValuesArgs(plan: HelmPlan): string[] {
  return ["helm", "get", "values", plan.release, "--namespace", plan.namespace, "--all", "--output", "json"]
}

/** What the namespace runs now, from `helm get values`: nothing yet, a tag (or a release that does not say), or Helm's error. */
export type DeployedVersion =
  | { readonly state: "none" }
  | { readonly state: "deployed"; readonly tag?: string }
  | { readonly state: "error"; readonly message: string }

/**
 * Reads `helm get values <release> --all -o json` (the computed values: a release installed by
 * hand may carry its version only in the chart's own values): exit 0 with the values (this
 * service's tag at `<imageValues>.tag`, e.g. `api-gateway.image.tag`; empty or absent: the
 * release runs no version of this service yet), or "release: not found" for a first install.
 * Anything else is an error: the upgrade could not have worked either.
 */
export function readDeployedVersion(
  exitCode: number,
  stdout: string,
  stderr: string,
  imageValues = DEFAULT_IMAGE_VALUES,
): DeployedVersion {
  if (exitCode !== 0)
    return /release: not found/.test(stderr)
      ? { state: "none" }
      : { state: "error", message: stderr.trim() || stdout.trim() }
  try {
    const values = JSON.parse(stdout.trim() || "null") as unknown
    const tag = valueKeys(imageValues)
      .tag.split(".")
      .reduce<unknown>(
        (node, key) =>
          node !== null && typeof node === "object" && !Array.isArray(node)
            ? (node as Record<string, unknown>)[key]
            : undefined,
        values,
      )
    return typeof tag === "string" && tag !== "" ? { state: "deployed", tag } : { state: "deployed" }
  } catch {
    return { state: "error", message: `helm get values printed no JSON: ${JSON.stringify(stdout.slice(0, 200))}` }
  }
}

/**
 * Never an older version after a newer one: refuses (with what to do) when the namespace runs
 * a semantically newer version tag than `plan.version`, unless `allowDowngrade`. A release
 * that queued behind a newer one is stopped here instead of rolling production backwards.
 */
export function checkNotOlder(plan: HelmPlan, deployed: DeployedVersion): string | undefined {
  if (deployed.state !== "deployed" || !deployed.tag || plan.allowDowngrade) return undefined
  const running = semver.valid(deployed.tag.replace(/^v/, ""))
  const wanted = semver.valid(plan.version.replace(/^v/, ""))
  if (!running || !wanted || !semver.gt(running, wanted)) return undefined
  return (
    `release ${plan.release} in namespace ${plan.namespace} runs ${deployed.tag}, newer than ${plan.version}: refusing to deploy an older version ` +
    `(a release that queued behind a newer one?); the version deployed was read at ${valueKeys(plan.imageValues).tag}. Nothing was changed. To roll back on purpose, pass --allow-downgrade.`
  )
}

/** Refuses, before anything changes, to put an older version over a newer one (unless the plan allows it). */
export async function refuseDowngrade(
  kubeconfig: Secret,
  plan: HelmPlan,
  network: ServiceNetwork = DIRECT,
): Promise<void> {
  if (plan.allowDowngrade) return
  const lookup = await execQuietly(clusterClient(HELM_IMAGE, kubeconfig, network), helmGetValuesArgs(plan))
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
