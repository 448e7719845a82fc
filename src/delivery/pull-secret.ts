/**
 * The image pull secret: the Secret `kubectl create secret docker-registry` makes, applied
 * server-side. The token reaches kubectl only inside a mounted Secret file.
 */
import { randomUUID } from "node:crypto"
import { dag, type Secret } from "@dagger.io/dagger"

import { DIRECT, type ServiceNetwork } from "../engine/network.js"
import { Steps, STEP } from "../common/steps.js"
import { clusterClient, ensureNamespace, run } from "./cluster.js"
import { KUBECTL_IMAGE } from "../engine/images.js"
import { type PullSecretPlan } from "./inputs.js"

/** The Secret `kubectl create secret docker-registry` makes, as an object to apply. */
export interface PullSecretManifest {
  apiVersion: "v1"
  kind: "Secret"
  metadata: { name: string; namespace: string; labels: Record<string, string> }
  type: "kubernetes.io/dockerconfigjson"
  data: { ".dockerconfigjson": string }
}

/**
 * The pull secret for `server`: `.dockerconfigjson` holds `auths.<server>` with `username`,
 * `password` and `auth` (base64 of `username:password`), byte for byte as kubectl writes it.
 */
export function pullSecretManifest(input: {
  name: string
  namespace: string
  server: string
  username: string
  token: string
}): PullSecretManifest {
  const dockerConfig = {
    auths: {
      [input.server]: {
        username: input.username,
        password: input.token,
        auth: Buffer.from(`${input.username}:${input.token}`).toString("base64"),
      },
    },
  }
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: input.name,
      namespace: input.namespace,
      labels: { "app.kubernetes.io/managed-by": "meetinity-release" },
    },
    type: "kubernetes.io/dockerconfigjson",
    data: { ".dockerconfigjson": Buffer.from(JSON.stringify(dockerConfig)).toString("base64") },
  }
}

/** The kubectl command that applies the manifest file: server-side, so no copy of the data lands in an annotation. */
export function kubectlApplyArgs(manifestPath: string): string[] {
  return [
    "kubectl",
    "apply",
    "--server-side",
    "--force-conflicts",
    "--field-manager=meetinity-release",
    "-f",
    manifestPath,
  ]
}

/**
 * Makes sure of the namespace, then creates or updates the pull secret with `kubectl apply
 * --server-side` (each a step); returns what kubectl said.
 */
export async function applyPullSecret(
  kubeconfig: Secret,
  plan: PullSecretPlan,
  token: Secret,
  options: { readonly network?: ServiceNetwork; readonly steps?: Steps } = {},
): Promise<string> {
  const network = options.network ?? DIRECT
  const steps = options.steps ?? new Steps()
  const where = { namespace: plan.namespace }
  await steps.run(STEP.namespace, where, () => ensureNamespace(kubeconfig, plan.namespace, network))
  return steps.run(STEP.pullSecret, { ...where, attributes: { "k8s.secret.name": plan.name } }, () =>
    applySecret(kubeconfig, plan, token, network),
  )
}

async function applySecret(
  kubeconfig: Secret,
  plan: PullSecretPlan,
  token: Secret,
  network: ServiceNetwork,
): Promise<string> {
  const manifest = pullSecretManifest({ ...plan, token: await token.plaintext() })
  const manifestSecret = dag.setSecret(`pull-secret-${plan.namespace}-${randomUUID()}`, JSON.stringify(manifest))
  const path = "/run/secrets/pull-secret.json"
  const container = clusterClient(KUBECTL_IMAGE, kubeconfig, network).withMountedSecret(path, manifestSecret, {
    mode: 0o444,
  })
  const out = await run(
    container,
    kubectlApplyArgs(path),
    `kubectl apply of Secret ${plan.name}`,
    plan.namespace,
    `Check that the kubeconfig's user may create and patch Secrets in ${plan.namespace} (kubectl auth can-i patch secrets -n ${plan.namespace}).`,
  )
  return out.trim()
}
