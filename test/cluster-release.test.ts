/**
 * RBAC and the whole release against a real control plane of its own (support/cluster.ts; it
 * runs beside the one of cluster-deploy.test.ts): the module's own kubectl and helm commands,
 * run by the real binaries as a namespaced deployer or the admin, read back from the API server.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest"

import { MeetinityRelease } from "../src/index.js"
import { DEPLOYER_RULES, startCluster, type Cluster } from "./support/cluster.js"
import {
  chart,
  commandLine,
  deployments,
  kubeconfig,
  onCluster,
  readerToken,
  releaseOnCluster,
  type ModuleRun,
} from "./support/cluster-module.js"
import { publishAnswer } from "./support/engine.js"
import { OciPusher } from "./support/oci.js"
import { startRegistry, type RunningRegistry } from "./support/registry.js"

let cluster: Cluster
let registry: RunningRegistry
let push: OciPusher
let run: ModuleRun | undefined

beforeAll(async () => {
  ;[cluster, registry] = await Promise.all([startCluster(), startRegistry()])
  push = new OciPusher(registry.url)
}, 180_000)
afterAll(async () => {
  await Promise.all([cluster?.stop(), registry?.stop()])
})
afterEach(() => {
  run?.recorder.restore()
  run = undefined
})

const IMAGE = () => `${registry.host}/meetinity/api-gateway`

describe("RBAC: a deployer bound to one namespace", () => {
  test("refreshes the pull secret and deploys into its existing namespace, without the right to read or create namespaces", async () => {
    await cluster.kubectlOk(["create", "namespace", "meetinity-team"])
    const deployer = await cluster.restrictedUser("team-deployer", "meetinity-team", DEPLOYER_RULES)
    const digest = (await push.image("meetinity/api-gateway", "team", { tag: "v2.0.0" })).digest
    // What this user may not do, said by the API server itself.
    run = await onCluster(cluster, { kubeconfig: deployer })
    expect(await new MeetinityRelease().pullSecret(kubeconfig(), "meetinity-team", "reader-bot", readerToken())).toBe(
      "secret/ghcr-pull-secret serverside-applied",
    )
    expect(run.runs[0]!.stderr).toMatch(
      /\(Forbidden\): namespaces "meetinity-team" is forbidden: User "team-deployer" cannot get resource "namespaces"/,
    )
    run.recorder.restore()

    run = await onCluster(cluster, { kubeconfig: deployer })
    const summary = await new MeetinityRelease().helmDeploy(
      chart(),
      kubeconfig(),
      "meetinity-team",
      "v2.0.0",
      IMAGE(),
      "meetinity",
      "ghcr-pull-secret",
      "60s",
      [],
      10,
      "",
      "",
      undefined,
      [],
      "linux/amd64",
      false,
      "api-gateway.image",
    )
    expect(summary).toBe(
      `release meetinity in meetinity-team: revision 1, deployed (chart meetinity-0.2.0, image ${IMAGE()}:v2.0.0@${digest} at api-gateway.image)`,
    )
    expect(run.runs.filter((r) => r.args[1] === "upgrade").map((r) => r.exitCode)).toEqual([0])
    expect(await deployments(cluster, "meetinity-team")).toMatchObject([
      { name: "meetinity-api-gateway", available: "True", image: `${IMAGE()}:v2.0.0@${digest}` },
    ])
  })

  test("a namespace it may not create: the module's own error names it, nothing is deployed", async () => {
    await cluster.kubectlOk(["create", "namespace", "meetinity-home"])
    const deployer = await cluster.restrictedUser("home-deployer", "meetinity-home", DEPLOYER_RULES)
    run = await onCluster(cluster, { kubeconfig: deployer })
    await expect(
      new MeetinityRelease().pullSecret(kubeconfig(), "meetinity-elsewhere", "reader-bot", readerToken()),
    ).rejects.toThrow(
      /kubectl apply of Secret ghcr-pull-secret in namespace meetinity-elsewhere failed \(exit code 1\):\n {2}Error from server \(Forbidden\)/,
    )
    expect((await cluster.kubectl(["get", "namespace", "meetinity-elsewhere"])).status).not.toBe(0)
  })

  test("a deployer that may not patch Secrets gets the module's named error for the pull secret", async () => {
    await cluster.kubectlOk(["create", "namespace", "meetinity-readonly"])
    const reader = await cluster.restrictedUser("secret-reader", "meetinity-readonly", [
      { apiGroups: [""], resources: ["secrets"], verbs: ["get", "list", "watch", "create"] },
    ])
    run = await onCluster(cluster, { kubeconfig: reader })
    await expect(
      new MeetinityRelease().pullSecret(kubeconfig(), "meetinity-readonly", "reader-bot", readerToken()),
    ).rejects.toThrow(
      /kubectl apply of Secret ghcr-pull-secret in namespace meetinity-readonly failed \(exit code 1\):\n {2}Error from server \(Forbidden\): secrets "ghcr-pull-secret" is forbidden: User "secret-reader" cannot patch resource "secrets" in API group "" in the namespace "meetinity-readonly"\nCheck that the kubeconfig's user may create and patch Secrets in meetinity-readonly \(kubectl auth can-i patch secrets -n meetinity-readonly\)\./,
    )
    expect((await cluster.kubectl(["get", "secret", "ghcr-pull-secret", "-n", "meetinity-readonly"])).stderr).toMatch(
      /NotFound/,
    )
  })
})

describe("release through three namespaces on a real API server", () => {
  test("staging cannot run pods: dev is upgraded, staging is diagnosed and rolled back, prod is untouched; read back from the cluster", async () => {
    // Before: every namespace runs v3.0.0 (published, then deployed by the module).
    const release = (ref: string, sha: string, timeout: string) => releaseOnCluster(registry.url, { ref, sha, timeout })
    run = await onCluster(cluster, { publish: (query) => publishAnswer(push, "v3.0.0", query) })
    const first = await release("release/v3.0.0", "0123abc", "60s")
    const old = /:v3\.0\.0@(sha256:[0-9a-f]{64})/.exec(first)![1]!
    expect(first).toMatch(
      /meetinity-dev: revision 1 \(deployed\)\n {2}meetinity-staging: revision 1 \(deployed\)\n {2}meetinity-prod: revision 1 \(deployed\)$/,
    )
    run.recorder.restore()

    // Staging's quota now allows no new pod: its rollout can never become Available.
    await cluster.kubectlOk(["create", "quota", "no-pods", "-n", "meetinity-staging", "--hard=pods=2"])
    run = await onCluster(cluster, { publish: (query) => publishAnswer(push, "v3.1.0", query) })
    // v3.1.0 is a new commit (the same commit would reuse its build: sha-0123abc never moves).
    // Why first: no pod of the release fails, the quota refused the new ones (the ReplicaSet's events say so).
    await expect(release("release/v3.1.0", "4567def", "10s")).rejects.toThrow(
      /^release v3\.1\.0 stopped at namespace meetinity-staging: helm upgrade --install of release meetinity \([^)]*:v3\.1\.0@sha256:[0-9a-f]{64}\) in namespace meetinity-staging did not become ready within 10s:\n {2}none of the release's 2 pods is failing now: every one is Ready\n {2}Warning events, newest last:\n {4}ReplicaSet meetinity-api-gateway-\w+: FailedCreate: Error creating: pods "[^"]+" is forbidden: exceeded quota: no-pods, requested: pods=1, used: pods=2, limited: pods=2 \(\d+ times\)\nThe module rolled release meetinity back to revision 1: revision 2 failed, revision 3 runs what revision 1 ran, and the release is otherwise as it was\.\nHelm said \(exit code 1\):\n[\s\S]*deployed before it: meetinity-dev \(revision 2\)\nnot touched: meetinity-prod$/,
    )
    const where = (args: readonly string[]) =>
      args.includes("--namespace") ? args[args.indexOf("--namespace") + 1] : args[1] === "get" ? args[3] : "-"
    const ran = run.runs.map((r) => `${commandLine(r, 2)} ${where(r.args)} ${r.exitCode}`)
    // Per namespace: the pull secret (its namespace looked up once), the downgrade guard's values,
    // the removal guard's manifest and render, then Helm.
    const deploy = (ns: string, upgraded: number) => [
      `kubectl get ${ns} 0`,
      "kubectl apply - 0",
      `helm get ${ns} 0`,
      `helm get ${ns} 0`,
      `helm upgrade --dry-run=server ${ns} 0`,
      `helm upgrade ${ns} ${upgraded}`,
    ]
    expect(ran.slice(0, 13)).toEqual([
      ...deploy("meetinity-dev", 0),
      ...deploy("meetinity-staging", 1),
      // Which revision failed; then its manifest and the pods, side by side; then the rollback.
      "helm history meetinity-staging 0",
    ])
    expect(ran.slice(13, 15).sort()).toEqual(["helm get meetinity-staging 0", "kubectl get meetinity-staging 0"])
    expect(ran.slice(15)).toEqual(["helm rollback meetinity-staging 0"])
    const fresh = run.runs
      .find((r) => r.args[1] === "upgrade" && !r.args.includes("--dry-run=server"))!
      .args.find((a) => a.startsWith("api-gateway.image.digest="))!
      .slice("api-gateway.image.digest=".length)
    expect(fresh).not.toBe(old)

    const state = async (namespace: string) => {
      const values = JSON.parse(
        (await cluster.helm(["get", "values", "meetinity", "-n", namespace, "-o", "json"])).stdout,
      ) as { "api-gateway": { image: { tag: string } } }
      const history = JSON.parse(
        (await cluster.helm(["history", "meetinity", "-n", namespace, "-o", "json"])).stdout,
      ) as { revision: number; status: string }[]
      return {
        tag: values["api-gateway"].image.tag,
        history: history.map((h) => `${h.revision} ${h.status}`),
        images: (await deployments(cluster, namespace)).map((d) => `${d.name} ${d.image}`),
      }
    }
    expect(await state("meetinity-dev")).toEqual({
      tag: "v3.1.0",
      history: ["1 superseded", "2 deployed"],
      images: [`meetinity-api-gateway ${IMAGE()}:v3.1.0@${fresh}`],
    })
    expect(await state("meetinity-staging")).toEqual({
      tag: "v3.0.0",
      history: ["1 superseded", "2 failed", "3 deployed"],
      images: [`meetinity-api-gateway ${IMAGE()}:v3.0.0@${old}`],
    })
    expect(await state("meetinity-prod")).toEqual({
      tag: "v3.0.0",
      history: ["1 deployed"],
      images: [`meetinity-api-gateway ${IMAGE()}:v3.0.0@${old}`],
    })
  })
})
