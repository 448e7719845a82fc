/**
 * Helm's command lines (`upgrade --install`, `history`) and the reading of what Helm answered: its
 * report of the release, its history, and what to do when it failed.
 */
import { parseAllDocuments } from "yaml"

import { isImage } from "../oci/reference.js"
import { type HelmPlan } from "./inputs.js"
import { valueKeys } from "./values.js"

/** What the preflight settled for one deploy: the digest to pin and the values files to pass (paths in Helm's container). */
export interface DeployInputs {
  readonly digest: string
  readonly valuesFiles: readonly string[]
}

/**
 * `helm upgrade --install` for a plan, into a namespace that exists (see ensureNamespace: Helm's
 * --create-namespace would patch an existing namespace, which a deployer bound to it may not
 * do): waits for the rollout (watcher), prints the release as JSON. A rollout that does not
 * become ready is left as it failed, neither rolled back (--rollback-on-failure) nor cleaned up
 * (--cleanup-on-fail, which deletes the objects the upgrade created, a new subchart's Deployment
 * and its pods among them): the module reads why from those pods first, then rolls back itself
 * (see delivery/rollout.ts). It starts from the chart's defaults and the values of the release's
 * last deployed revision (`--reset-then-reuse-values`), so what other services' deploys set in
 * the same release stays. The values files come next, then the user's values; this service's
 * image, version and digest and the pull-secret value last, so they win.
 */
export function helmUpgradeArgs(plan: HelmPlan, chartPath: string, inputs: DeployInputs): string[] {
  const keys = valueKeys(plan.imageValues)
  return [
    "helm",
    "upgrade",
    "--install",
    plan.release,
    chartPath,
    "--namespace",
    plan.namespace,
    "--wait=watcher",
    "--timeout",
    plan.timeout,
    "--history-max",
    String(plan.historyMax),
    "--output",
    "json",
    "--reset-then-reuse-values",
    ...inputs.valuesFiles.flatMap((file) => ["--values", file]),
    ...plan.set.flatMap((value) => ["--set", value]),
    "--set",
    `${keys.repository}=${plan.image}`,
    "--set",
    `${keys.tag}=${plan.version}`,
    "--set",
    `${keys.digest}=${inputs.digest}`,
    "--set",
    `${keys.pullSecret}=${plan.pullSecretName}`,
  ]
}

/** What Helm reported about a release, from `--output json`. */
export interface HelmReport {
  readonly release: string
  readonly namespace: string
  readonly revision: number
  readonly status: string
  readonly chart: string
  readonly manifest: string
}

export function parseHelmReport(stdout: string): HelmReport {
  const start = stdout.indexOf("{")
  let parsed: {
    name?: string
    namespace?: string
    version?: number
    info?: { status?: string }
    chart?: { metadata?: { name?: string; version?: string } }
    manifest?: string
  }
  try {
    parsed = JSON.parse(stdout.slice(start)) as typeof parsed
  } catch {
    throw new Error(`helm printed no release JSON; its output began: ${JSON.stringify(stdout.slice(0, 200))}`)
  }
  return {
    release: parsed.name ?? "",
    namespace: parsed.namespace ?? "",
    revision: parsed.version ?? 0,
    status: parsed.info?.status ?? "unknown",
    chart: `${parsed.chart?.metadata?.name ?? "?"}-${parsed.chart?.metadata?.version ?? "?"}`,
    manifest: parsed.manifest ?? "",
  }
}

/**
 * Did the chart use the image it was given? Some container Helm rendered must run exactly this
 * image: this repository at this digest (or, without a digest, at this version's tag); the whole
 * reference is compared, not the digest alone. Otherwise the chart does not read `<imageValues>`
 * (a typo in --image-values, or a chart that reads another place) or puts the digest on another
 * repository, and the service was not deployed, even though Helm succeeded. Returns the problem
 * in words, or undefined.
 */
export function unusedImageProblem(report: HelmReport, plan: HelmPlan, digest: string): string | undefined {
  const images = renderedImages(report.manifest)
  const image = { repository: plan.image, version: plan.version, digest }
  if (images.some((reference) => isImage(reference, image))) return undefined
  const near = images.filter((reference) => reference.includes(digest) || reference.includes(plan.image))
  return (
    `Helm upgraded release ${report.release} in ${report.namespace} to revision ${report.revision} (${report.status}), but no container it rendered runs ${plan.image}:${plan.version}@${digest}` +
    (near.length > 0 ? ` (it rendered ${near.join(", ")})` : "") +
    `: the chart does not read ${plan.imageValues}.repository, .tag and .digest as one image, so this service was not deployed. Check --image-values against the chart's values (e.g. api-gateway.image for the api-gateway subchart) and the chart's image template, then deploy again.`
  )
}

/** Every container image the rendered objects run (containers and init containers, at any depth: Deployments, Jobs, CronJobs, Pods). */
export function renderedImages(manifest: string): string[] {
  const images: string[] = []
  const walk = (node: unknown) => {
    if (Array.isArray(node)) node.forEach(walk)
    else if (node !== null && typeof node === "object") {
      for (const [key, value] of Object.entries(node)) {
        if ((key === "containers" || key === "initContainers") && Array.isArray(value)) {
          for (const c of value as { image?: unknown }[]) if (typeof c?.image === "string") images.push(c.image)
        }
        walk(value)
      }
    }
  }
  for (const doc of parseAllDocuments(manifest)) walk(doc.toJS())
  return [...new Set(images)]
}

/**
 * One line a person reads: `release meetinity in meetinity-dev: revision 3, deployed (chart
 * meetinity-0.2.0, image ...:v1.4.2@sha256:... at api-gateway.image)`; a chart by reference is
 * named pinned (`chart oci://ghcr.io/meetinity/charts/meetinity:0.2.0@sha256:...`).
 */
export function formatHelmReport(report: HelmReport, plan: HelmPlan, digest: string, chartReference?: string): string {
  return `release ${report.release} in ${report.namespace}: revision ${report.revision}, ${report.status} (chart ${chartReference ?? report.chart}, image ${plan.image}:${plan.version}@${digest} at ${plan.imageValues})`
}

/** Helm's refusal to touch a release an earlier run left pending-install, pending-upgrade or pending-rollback. */
export const isReleaseLocked = (said: string) =>
  /another operation \(install\/upgrade\/rollback\) is in progress/.test(said)

/** `helm history` of the release, as JSON: read after Helm refused a locked release, to say which revision to go back to. */
export function helmHistoryArgs(plan: HelmPlan): string[] {
  return ["helm", "history", plan.release, "--namespace", plan.namespace, "--max", "20", "--output", "json"]
}

/** One revision of `helm history -o json`. */
export interface HelmRevision {
  readonly revision: number
  readonly status: string
  /** Helm's own words on it: `Upgrade "meetinity" failed: <error>` for a failed upgrade. */
  readonly description?: string
}

/** Reads `helm history -o json`; undefined when it printed something else. */
export function parseHelmHistory(stdout: string): HelmRevision[] | undefined {
  try {
    const parsed = JSON.parse(stdout) as unknown
    if (!Array.isArray(parsed)) return undefined
    return parsed
      .filter((r: unknown): r is HelmRevision => {
        const entry = r as Partial<HelmRevision> | null
        return typeof entry?.revision === "number" && typeof entry?.status === "string"
      })
      .map((r) => ({
        revision: r.revision,
        status: r.status,
        ...(typeof r.description === "string" ? { description: r.description } : {}),
      }))
      .sort((a, b) => a.revision - b.revision)
  } catch {
    return undefined
  }
}

/**
 * What to do after a Helm run against the release failed before it recorded a revision of its
 * own (a rollout that did not become ready is rolled back by the module instead: see
 * delivery/rollout.ts), from what Helm said and the release's history read right after: a release
 * locked by an earlier run that was cut off; a release this very failure left pending (Helm was
 * stopped); a failed revision an earlier deploy never rolled back (it was cut off between the
 * failure and its rollback); or anything else. Each is named with the revision to go back to. The
 * module never unlocks a release itself: a pending revision may belong to a deploy still running.
 */
export function helmUpgradeAdvice(plan: HelmPlan, said: string, history?: readonly HelmRevision[]): string {
  const where = `-n ${plan.namespace}`
  const wait = "The module does not unlock it itself: it cannot tell a run that was cut off from one still running."
  const locked = isReleaseLocked(said)
  const newest = [...(history ?? [])].reverse()[0]
  const pending = locked
    ? [...(history ?? [])].reverse().find((r) => r.status.startsWith("pending-"))
    : newest?.status.startsWith("pending-")
      ? newest
      : undefined
  const who = locked ? "An earlier Helm run was cut off and left" : "This deploy's Helm run left"
  if (pending) {
    const good = lastGood(history!, pending.revision)
    return good
      ? `${who} the release ${pending.status} at revision ${pending.revision}; the last deployed revision is ${good.revision}. ${wait} If no other deploy is running: helm rollback ${plan.release} ${good.revision} ${where}, then deploy again.`
      : `${who} the release ${pending.status} at revision ${pending.revision}; it was never deployed. ${wait} If no other deploy is running: helm uninstall ${plan.release} ${where}, then deploy again.`
  }
  if (newest?.status === "failed" && !thisRunsFailure(history ?? [], said)) {
    const good = lastGood(history ?? [], newest.revision)
    return good
      ? `The release's newest revision ${newest.revision} failed and was never rolled back (a deploy cut off between its failure and its rollback?): its new pods may still be failing beside those of revision ${good.revision}, the last deployed. If no other deploy is running: helm rollback ${plan.release} ${good.revision} ${where} puts it back, then deploy again.`
      : `The release's newest revision ${newest.revision} failed and was never uninstalled (a first install cut off between its failure and its uninstall?): it was never deployed, and its pods may still be failing. If no other deploy is running: helm uninstall ${plan.release} ${where} removes it, then deploy again.`
  }
  if (locked) {
    return `An earlier Helm run was cut off and left the release pending. ${wait} helm history ${plan.release} ${where} shows it; helm rollback ${plan.release} <last deployed revision> ${where} (or helm uninstall for a first install that never finished) frees it, then deploy again.`
  }
  return `Look at: helm history ${plan.release} ${where}; kubectl get events ${where} --sort-by=.lastTimestamp; kubectl describe pods ${where}.`
}

/** The newest revision before `revision` that ran: deployed, or superseded by a later one (Helm's own choice for a rollback). */
export function lastGood(history: readonly HelmRevision[], revision: number): HelmRevision | undefined {
  return [...history]
    .reverse()
    .find((r) => r.revision < revision && (r.status === "deployed" || r.status === "superseded"))
}

/**
 * The revision this very Helm run recorded and failed, when it did: the newest one, failed, whose
 * description (`Upgrade "x" failed: <error>`, `Release "x" failed: <error>` for an install) holds
 * the error Helm printed. A run that failed before recording a revision (a chart that does not
 * render, a refused manifest) finds none, even when an earlier run left a failed revision behind:
 * that one is not this run's to undo.
 */
export function thisRunsFailure(history: readonly HelmRevision[], said: string): HelmRevision | undefined {
  const newest = history.at(-1)
  if (newest?.status !== "failed") return undefined
  const error = /^(?:Upgrade|Release) "[^"]*" failed: ([\s\S]+)$/.exec(newest.description ?? "")?.[1]?.trim()
  return error && said.includes(error) ? newest : undefined
}

/**
 * The module's rollback of a rollout that failed, as Helm's own --rollback-on-failure did it: to
 * the given good revision, waiting (watcher) as long as the upgrade could.
 */
export function helmRollbackArgs(plan: HelmPlan, revision: number): string[] {
  return [
    "helm",
    "rollback",
    plan.release,
    String(revision),
    "--namespace",
    plan.namespace,
    "--wait=watcher",
    "--timeout",
    plan.timeout,
    "--history-max",
    String(plan.historyMax),
  ]
}

/** What --rollback-on-failure did for a first install that failed: the release uninstalled, waiting for its objects to go. */
export function helmUninstallArgs(plan: HelmPlan): string[] {
  return ["helm", "uninstall", plan.release, "--namespace", plan.namespace, "--wait=watcher", "--timeout", plan.timeout]
}
