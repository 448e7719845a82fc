/**
 * No deploy removes what another service runs: what the release holds now (`helm get manifest`)
 * against what this deploy would apply (Helm's own render of the same chart, values and flags,
 * `--dry-run=server`). An object that would go and that this service does not own (another
 * subchart's, or the umbrella chart's own) refuses the deploy before anything changes, unless the
 * plan allows removals; then the report lists them.
 */
import { type Secret } from "@dagger.io/dagger"
import { parse } from "yaml"

import { DIRECT, type ServiceNetwork } from "../engine/network.js"
import { clusterClient, describeFailure, execQuietly } from "./cluster.js"
import { HELM_IMAGE } from "../engine/images.js"
import { CHART_MOUNT, type DeployChart, withChart } from "./chart.js"
import { helmFailure } from "./failure.js"
import { helmUpgradeArgs, parseHelmReport, renderedImages } from "./helm.js"
import { type HelmPlan } from "./inputs.js"
import { valueKeys } from "./values.js"

/** One object of a release's manifest, and the chart that rendered it. */
export interface ManifestObject {
  readonly apiVersion: string
  readonly kind: string
  readonly name: string
  readonly namespace: string
  /** The subchart that rendered it (first level under the umbrella), or "" for the umbrella's own templates. */
  readonly subchart: string
  /** Helm keeps it when the release no longer renders it (`helm.sh/resource-policy: keep`). */
  readonly kept: boolean
  /** Every container image it runs. */
  readonly images: readonly string[]
}

/**
 * The objects of a Helm manifest (`helm get manifest`, or a release's `manifest`): documents
 * separated by `---`, each after Helm's `# Source: <chart>/[charts/<subchart>/]templates/...`
 * line. A document that is not an object (empty, or only comments) is skipped.
 */
export function manifestObjects(manifest: string): ManifestObject[] {
  const objects: ManifestObject[] = []
  for (const document of manifest.split(/^---[ \t]*$/m)) {
    const source = /^# Source: (\S+)/m.exec(document)?.[1] ?? ""
    let parsed: unknown
    try {
      parsed = parse(document)
    } catch {
      continue
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) continue
    const object = parsed as {
      apiVersion?: unknown
      kind?: unknown
      metadata?: { name?: unknown; namespace?: unknown; annotations?: Record<string, unknown> }
    }
    if (typeof object.kind !== "string" || typeof object.metadata?.name !== "string") continue
    objects.push({
      apiVersion: typeof object.apiVersion === "string" ? object.apiVersion : "",
      kind: object.kind,
      name: object.metadata.name,
      namespace: typeof object.metadata.namespace === "string" ? object.metadata.namespace : "",
      subchart: /^[^/]+\/charts\/([^/]+)\//.exec(source)?.[1] ?? "",
      kept: object.metadata.annotations?.["helm.sh/resource-policy"] === "keep",
      images: renderedImages(document),
    })
  }
  return objects
}

/** The same object in both manifests: API group, kind, namespace and name (not the version: v1beta1 -> v1 is no removal). */
const identity = (o: ManifestObject) =>
  `${o.apiVersion.includes("/") ? o.apiVersion.split("/")[0] : ""}/${o.kind}/${o.namespace}/${o.name}`

/** `Deployment event-service (subchart event-service)`. */
export const describeObject = (o: ManifestObject) =>
  `${o.kind} ${o.namespace ? `${o.namespace}/` : ""}${o.name} (${o.subchart ? `subchart ${o.subchart}` : "the umbrella chart's own templates"})`

/**
 * The subcharts this deploy's service owns: the first key of `--image-values` (api-gateway for
 * api-gateway.image), unless it is `global`; and every subchart whose rendered containers run
 * this service's image. With a single chart (`--image-values image`), the chart's own templates.
 */
export function ownedSubcharts(plan: HelmPlan, next: readonly ManifestObject[]): Set<string> {
  const owned = new Set<string>()
  const keys = valueKeys(plan.imageValues).repository.split(".")
  if (keys.length > 2 && keys[0] !== "global") owned.add(keys[0]!)
  if (keys.length === 2) owned.add("")
  const repository = (reference: string) => reference.replace(/@.*$/, "").replace(/:[^/:]*$/, "")
  for (const object of next) if (object.images.some((i) => repository(i) === plan.image)) owned.add(object.subchart)
  return owned
}

/** What a deploy would remove: every object of the release now that the render does not hold, split by owner. */
export interface Removals {
  /** Objects of this service's own subchart: they go as its chart says. */
  readonly own: readonly ManifestObject[]
  /** Objects another service (or the umbrella itself) runs: a deploy refuses to remove them unless allowed. */
  readonly others: readonly ManifestObject[]
}

export function findRemovals(
  plan: HelmPlan,
  current: readonly ManifestObject[],
  next: readonly ManifestObject[],
): Removals {
  const rendered = new Set(next.map(identity))
  const owned = ownedSubcharts(plan, next)
  const gone = current.filter((o) => !o.kept && !rendered.has(identity(o)))
  return {
    own: gone.filter((o) => owned.has(o.subchart)),
    others: gone.filter((o) => !owned.has(o.subchart)),
  }
}

/** The refusal, naming each object and its subchart, and the two ways on. */
export function removalRefusal(plan: HelmPlan, others: readonly ManifestObject[]): string {
  const subcharts = [...new Set(others.map((o) => o.subchart).filter(Boolean))]
  return [
    `refusing to deploy ${plan.image}:${plan.version} to release ${plan.release} in ${plan.namespace}: it would remove ${others.length} object${others.length === 1 ? "" : "s"} this service does not own:`,
    ...others.map((o) => `  ${describeObject(o)}`),
    `The chart given does not render ${subcharts.length > 0 ? `the subchart${subcharts.length === 1 ? "" : "s"} ${subcharts.join(", ")}` : "them"} that the release runs now (a stale copy of the umbrella chart?). Nothing was changed.`,
    `Deploy from the current umbrella chart (--chart-ref oci://... names the one published chart), or pass --allow-removal to remove them on purpose (the report then lists them).`,
  ].join("\n")
}

/** `helm get manifest` of the release: what it holds now. */
export function helmGetManifestArgs(plan: HelmPlan): string[] {
  return ["helm", "get", "manifest", plan.release, "--namespace", plan.namespace]
}

/**
 * The upgrade's own command line, as a server-side dry run: the same chart, values and flags,
 * rendered by Helm against the cluster (lookups included), nothing persisted. Secrets are
 * rendered too (only the module reads them; see `execQuietly`).
 */
export function helmRenderArgs(
  plan: HelmPlan,
  chartPath: string,
  inputs: { digest: string; valuesFiles: readonly string[] },
): string[] {
  const upgrade = helmUpgradeArgs(plan, chartPath, inputs)
  const waitFlags = new Set(["--wait=watcher"])
  return [...upgrade.filter((a) => !waitFlags.has(a)), "--dry-run=server"]
}

/**
 * Compares the release now with this deploy's render, before any change: refuses when another
 * service's objects would go (unless `plan.allowRemoval`); returns what would be removed on
 * purpose (listed in the report), or nothing. A first install removes nothing.
 */
export async function checkRemovals(
  container: { chart: DeployChart; kubeconfig: Secret },
  plan: HelmPlan,
  inputs: { digest: string; valuesFiles: readonly string[] },
  network: ServiceNetwork = DIRECT,
): Promise<ManifestObject[]> {
  const client = () => clusterClient(HELM_IMAGE, container.kubeconfig, network)
  const held = await execQuietly(client(), helmGetManifestArgs(plan))
  if (held.exitCode !== 0) {
    if (/release: not found/.test(held.stderr)) return []
    throw new Error(
      describeFailure(
        `helm get manifest of release ${plan.release}`,
        plan.namespace,
        held.exitCode,
        held.stderr,
        `Helm could not read the release, so it could not upgrade it either: check the kubeconfig and that its user may read Secrets in ${plan.namespace}. Nothing was changed.`,
      ),
    )
  }
  const render = await execQuietly(withChart(client(), container.chart), helmRenderArgs(plan, CHART_MOUNT, inputs))
  if (render.exitCode !== 0)
    throw await helmFailure(
      `helm upgrade --dry-run=server of release ${plan.release} (what this deploy would apply, read before any change)`,
      plan,
      render,
      container.kubeconfig,
      network,
    )
  const removals = findRemovals(
    plan,
    manifestObjects(held.stdout),
    manifestObjects(parseHelmReport(render.stdout).manifest),
  )
  if (removals.others.length > 0 && !plan.allowRemoval) throw new Error(removalRefusal(plan, removals.others))
  return [...removals.others]
}
