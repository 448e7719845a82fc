/**
 * A failed Helm run against a release, explained: what Helm said, and what to do, from the
 * release's history read right after (a release left pending is named with its way out).
 */
import { type Secret } from "@dagger.io/dagger"

import { type ServiceNetwork } from "../engine/network.js"
import { clusterClient, describeFailure, exec, type Ran } from "./cluster.js"
import { HELM_IMAGE } from "../engine/images.js"
import { helmHistoryArgs, helmUpgradeAdvice, type HelmRevision, parseHelmHistory } from "./helm.js"
import { type HelmPlan } from "./inputs.js"

/** The release's history, read now; undefined when Helm could not read it (no release yet, no access). */
export async function readHelmHistory(
  plan: HelmPlan,
  kubeconfig: Secret,
  network: ServiceNetwork,
): Promise<HelmRevision[] | undefined> {
  const history = await exec(clusterClient(HELM_IMAGE, kubeconfig, network), helmHistoryArgs(plan))
  return history.exitCode === 0 ? parseHelmHistory(history.stdout) : undefined
}

/** The error for a Helm run (`what`) that failed in the plan's namespace, with the advice its history (read now) gives. */
export async function helmFailure(
  what: string,
  plan: HelmPlan,
  ran: Ran,
  kubeconfig: Secret,
  network: ServiceNetwork,
): Promise<Error> {
  // The release's history: a release left pending (by an earlier run, or by this failure) is
  // named with the revision to go back to.
  return helmFailureWith(what, plan, ran, network, await readHelmHistory(plan, kubeconfig, network))
}

/** The same error, from the history the caller has just read (undefined: Helm could not read it). */
export function helmFailureWith(
  what: string,
  plan: HelmPlan,
  ran: Ran,
  network: ServiceNetwork,
  history: readonly HelmRevision[] | undefined,
): Error {
  const said = ran.stderr || ran.stdout
  return new Error(
    describeFailure(
      what,
      plan.namespace,
      ran.exitCode,
      said,
      // A rehearsal's cluster is gone when the call ends: it shows what the cluster said instead.
      network.cluster
        ? "The rehearsal reads the namespace's rollout and events before it stops its cluster: they follow."
        : helmUpgradeAdvice(plan, said, history),
    ),
  )
}
