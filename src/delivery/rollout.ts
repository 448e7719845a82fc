/**
 * A rollout that Helm recorded and that failed (its wait ran out: pods that never became ready),
 * undone the way --rollback-on-failure undid it, but only after the module has read why from the
 * cluster. Two steps: diagnose (the pods of the release's workloads, their events, a crashing
 * container's last lines), then rollback (to the last good revision; a first install that never
 * ran is uninstalled, as --rollback-on-failure did for installs). The error says why first, then
 * what the module did, then what Helm said.
 *
 * A run killed between Helm's failure and the rollback (a cancelled job) leaves the release at
 * its failed revision, unlocked: the new pods keep failing beside the last good revision's, which
 * a rolling update keeps serving while the new ones are not Ready (a first install has only the
 * failing ones). The next deploy upgrades over it as over any release: Helm starts from the last
 * deployed revision's values. A Helm run that then fails before recording a revision of its own
 * gets helmUpgradeAdvice, which names the failed revision and the rollback (or the uninstall, for
 * a first install) that puts the release back.
 */
import { type Secret } from "@dagger.io/dagger"

import { Steps, STEP } from "../common/steps.js"
import { type ServiceNetwork } from "../engine/network.js"
import { clusterClient, exec, execQuietly, kubectlRun, type Ran } from "./cluster.js"
import { HELM_IMAGE } from "../engine/images.js"
import { clusterObjectsArgs, diagnose, type Finding, parseClusterObjects, releaseWorkloads } from "./diagnosis.js"
import { formatDiagnosis, type LogsRead, logsArgs, logsKey, logsToRead } from "./diagnosis-format.js"
import {
  helmHistoryArgs,
  helmRollbackArgs,
  helmUninstallArgs,
  type HelmRevision,
  lastGood,
  parseHelmHistory,
} from "./helm.js"
import { type HelmPlan } from "./inputs.js"

/** Helm's run failed after recording its revision: what ran, what it said, and the history read right after. */
export class RolloutFailed extends Error {
  constructor(
    /** What ran, in words: `helm upgrade --install of release meetinity (<image>)`. */
    readonly what: string,
    readonly ran: Ran,
    readonly failed: HelmRevision,
    readonly history: readonly HelmRevision[],
  ) {
    super(`${what}: revision ${failed.revision} failed`)
  }
}

/** What the module did about the failed revision. */
export type Undone =
  | { readonly kind: "rollback"; readonly to: number; readonly revision: number }
  | { readonly kind: "uninstall" }
  | { readonly kind: "failed"; readonly message: string }

/** Diagnoses, then undoes, a rollout that failed; returns the error to throw. */
export async function recoverRollout(
  failure: RolloutFailed,
  kubeconfig: Secret,
  plan: HelmPlan,
  network: ServiceNetwork,
  steps: Steps,
): Promise<Error> {
  const where = { namespace: plan.namespace }
  const diagnosis = await steps.run(STEP.diagnose, { ...where, result: (d) => ({ detail: d.detail }) }, () =>
    readDiagnosis(kubeconfig, plan, failure.failed.revision, network),
  )
  const undone = await steps
    .run(
      STEP.rollback,
      {
        ...where,
        attributes: { "helm.revision.failed": failure.failed.revision },
        result: (u: Undone) => ({
          detail: u.kind === "rollback" ? `to revision ${u.to} (now revision ${u.revision})` : "uninstalled",
        }),
      },
      () => undo(kubeconfig, plan, failure, network),
    )
    .catch((error: Error): Undone => ({ kind: "failed", message: error.message }))
  return new Error(formatRolloutFailure(failure, plan, diagnosis.lines, undone))
}

/** Reads the failed revision's workloads, their pods and events, and a crashing container's logs. */
async function readDiagnosis(
  kubeconfig: Secret,
  plan: HelmPlan,
  revision: number,
  network: ServiceNetwork,
): Promise<{ lines: string[]; detail: string }> {
  const manifestArgs = ["helm", "get", "manifest", plan.release, "--revision", String(revision)]
  const [manifest, read] = await Promise.all([
    execQuietly(clusterClient(HELM_IMAGE, kubeconfig, network), [...manifestArgs, "--namespace", plan.namespace]),
    kubectlRun(kubeconfig, clusterObjectsArgs(plan.namespace), network),
  ])
  const objects = read.exitCode === 0 ? parseClusterObjects(read.stdout) : undefined
  if (manifest.exitCode !== 0 || !objects) {
    const said =
      manifest.exitCode !== 0 ? `helm said: ${manifest.stderr}` : `kubectl said: ${read.stderr || read.stdout}`
    return {
      lines: [
        `  the module could not read why (${said.trim().split("\n")[0]}): may the kubeconfig's user list pods, replicasets and events in ${plan.namespace}?`,
      ],
      detail: "could not read the pods",
    }
  }
  const diagnosis = diagnose(objects, releaseWorkloads(manifest.stdout))
  const logs = new Map<string, LogsRead>()
  for (const target of logsToRead(diagnosis)) {
    const ran = await kubectlRun(kubeconfig, logsArgs(plan.namespace, target), network)
    logs.set(
      logsKey(target),
      ran.exitCode === 0
        ? { lines: ran.stdout.split("\n").filter((line) => line !== "") }
        : { error: ran.stderr || ran.stdout },
    )
  }
  const reasons = [...new Set(diagnosis.findings.map(findingReason))]
  return {
    lines: formatDiagnosis(diagnosis, { namespace: plan.namespace, logs }),
    detail:
      diagnosis.findings.length > 0
        ? `${diagnosis.findings.length} not ready: ${reasons.join(", ")}`
        : `${diagnosis.pods} pod(s), none failing`,
  }
}

/** Rolls back to the last good revision, or uninstalls a release that never ran; fails with what to do. */
async function undo(
  kubeconfig: Secret,
  plan: HelmPlan,
  failure: RolloutFailed,
  network: ServiceNetwork,
): Promise<Undone> {
  const good = lastGood(failure.history, failure.failed.revision)
  const args = good ? helmRollbackArgs(plan, good.revision) : helmUninstallArgs(plan)
  const ran = await exec(clusterClient(HELM_IMAGE, kubeconfig, network), args)
  if (ran.exitCode === 0)
    return good ? { kind: "rollback", to: good.revision, revision: failure.failed.revision + 1 } : { kind: "uninstall" }
  const history = await exec(clusterClient(HELM_IMAGE, kubeconfig, network), helmHistoryArgs(plan))
  const newest = (history.exitCode === 0 ? parseHelmHistory(history.stdout) : undefined)?.at(-1)
  const where = `-n ${plan.namespace}`
  const wayOut = good
    ? `helm rollback ${plan.release} ${good.revision} ${where}`
    : `helm uninstall ${plan.release} ${where}`
  throw new Error(
    `The module's ${good ? `rollback to revision ${good.revision}` : "uninstall of the failed first install"} failed too (exit code ${ran.exitCode}):\n  ${lastLines(ran.stderr || ran.stdout)}\n` +
      `The release is left ${newest ? `${newest.status} at revision ${newest.revision}` : "as the failure left it"}. ` +
      (network.cluster
        ? "The rehearsal's cluster stops with it."
        : `If no other deploy is running: ${wayOut} puts it back, then deploy again.`),
  )
}

const lastLines = (said: string) => said.trim().split("\n").filter(Boolean).slice(-8).join("\n  ")

/**
 * The error of a rollout that failed: why first (the diagnosis, after a line naming the deploy
 * and its timeout), then what the module did about it, then what Helm said.
 */
export function formatRolloutFailure(
  failure: RolloutFailed,
  plan: HelmPlan,
  diagnosis: readonly string[],
  undone: Undone,
): string {
  const said = failure.ran.stderr || failure.ran.stdout
  const waited = /not ready|deadline exceeded|timed out/i.test(said)
  const first = said.trim().split("\n")[0] ?? ""
  const headline = waited
    ? `${failure.what} in namespace ${plan.namespace} did not become ready within ${plan.timeout}:`
    : `${failure.what} in namespace ${plan.namespace} failed once Helm had applied revision ${failure.failed.revision} (${first}); its pods:`
  const did =
    undone.kind === "rollback"
      ? `The module rolled release ${plan.release} back to revision ${undone.to}: revision ${failure.failed.revision} failed, revision ${undone.revision} runs what revision ${undone.to} ran, and the release is otherwise as it was.`
      : undone.kind === "uninstall"
        ? `The module uninstalled release ${plan.release}: its first install (revision ${failure.failed.revision}) failed and nothing ran before it; the namespace keeps what it had before.`
        : undone.message
  return [headline, ...diagnosis, did, `Helm said (exit code ${failure.ran.exitCode}):`, `  ${lastLines(said)}`].join(
    "\n",
  )
}

/** A finding's reason in a word or two, for the step's one line: the kubelet's reason, or what stands in for one. */
function findingReason(finding: Finding): string {
  if ("reason" in finding) return finding.reason
  return finding.kind === "not-ready" ? "Running, not Ready" : `pod ${finding.phase}`
}
