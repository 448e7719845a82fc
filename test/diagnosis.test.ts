/**
 * The diagnosis of a rollout that did not become ready, pure: fed with what the real programs
 * printed on a real node. The fixtures under test/fixtures/diagnosis/ were captured from real
 * runs of test/real-node-deploy.test.ts (MEETINITY_CAPTURE_FIXTURES=1; the kubelet, containerd and
 * runc of support/node.ts, Helm 4 and kubectl 1.35): each holds Helm's stderr and the release's
 * history after the failed upgrade, the failed revision's manifest, `kubectl get
 * pods,replicasets,events -o json` (re-serialized without its indentation) and, for the crash, the
 * container's `kubectl logs --previous`. Where a test changes them (a pod whose secret exists, a
 * pod that names none), it says so.
 */
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"

import { describe, expect, test } from "vitest"

import {
  clusterObjectsArgs,
  type ClusterObjects,
  diagnose,
  parseClusterObjects,
  releaseWorkloads,
} from "../src/delivery/diagnosis.js"
import { formatDiagnosis, type LogsRead, logsArgs, logsKey, logsToRead } from "../src/delivery/diagnosis-format.js"
import {
  helmRollbackArgs,
  helmUninstallArgs,
  lastGood,
  parseHelmHistory,
  thisRunsFailure,
} from "../src/delivery/helm.js"
import { planHelm } from "../src/delivery/inputs.js"
import { formatRolloutFailure, RolloutFailed } from "../src/delivery/rollout.js"

const DIR = join("test", "fixtures", "diagnosis")

interface Fixture {
  name: string
  namespace: string
  said: string
  history: string
  manifest: string
  objects: ClusterObjects
  logs?: string
}

function fixture(name: string): Fixture {
  const read = (file: string) => readFileSync(join(DIR, name, file), "utf8")
  const objects = parseClusterObjects(read("objects.json"))!
  const namespace = (JSON.parse(read("objects.json")) as { items: { metadata: { namespace: string } }[] }).items[0]!
    .metadata.namespace
  return {
    name,
    namespace,
    said: read("helm-upgrade.stderr"),
    history: read("history.json"),
    manifest: read("manifest.yaml"),
    objects,
    ...(readdirSync(join(DIR, name)).includes("logs.txt") ? { logs: read("logs.txt") } : {}),
  }
}

/** The diagnosis in lines, as the module shows it, with the crash's logs read as the module reads them. */
function shown(f: Fixture): string[] {
  const diagnosis = diagnose(f.objects, releaseWorkloads(f.manifest))
  const logs = new Map<string, LogsRead>()
  for (const target of logsToRead(diagnosis))
    logs.set(logsKey(target), { lines: (f.logs ?? "").split("\n").filter((line) => line !== "") })
  return formatDiagnosis(diagnosis, { namespace: f.namespace, logs })
}

const POD = "meetinity-api-gateway-[0-9a-z]+-[0-9a-z]+"

describe("a diagnosis from what a real node said", () => {
  test.each([
    [
      "wrong-token",
      "the registry's 401 to a revoked token: the new pod named, the old ones (Ready) left out",
      [
        new RegExp(
          `^  pod ${POD}, container api-gateway: (ImagePullBackOff|ErrImagePull): failed to pull and unpack image ".*": failed to resolve image: unexpected status from HEAD request to http://[^ ]+/manifests/sha256:[0-9a-f]{64}: 401 Unauthorized$`,
        ),
        /^ {4}The registry refused the credentials in the pull secret ghcr-pull-secret: a wrong, expired or revoked reader token, or a reader that may not read this package\? Refresh the secret \(pullSecret --reader-token \.\.\.\), then deploy again\.$/,
      ],
    ],
    [
      "no-secret",
      "no pull secret in the namespace: both pods of a first install in one line, the kubelet's missing secret named",
      [
        new RegExp(
          `^  pods ${POD}, ${POD}, container api-gateway: [\\w /]+: failed to pull and unpack image ".*": failed to resolve image: pull access denied, repository does not exist or may require authorization: authorization failed: no basic auth credentials$`,
        ),
        /^ {4}The namespace rn-no-secret has no pull secret ghcr-pull-secret \(the kubelet could not read it\), so the pull carried no credentials: create it \(pullSecret --namespace rn-no-secret; release makes it itself\), then deploy again\.$/,
      ],
    ],
    [
      "not-found",
      "an image the registry does not hold: event-service's pod, not api-gateway's Ready ones",
      [
        /^ {2}pod meetinity-event-service-[0-9a-z]+-[0-9a-z]+, container event-service: [\w /]+: failed to pull and unpack image "[^"]+\/meetinity\/event-service:v0\.9\.0": failed to resolve image: [^ ]+\/meetinity\/event-service:v0\.9\.0: not found$/,
        /^ {4}The registry does not hold this image: was this version published \(and not deleted since, by retention\?\), and does the chart name it as published\?$/,
      ],
    ],
    [
      "crash",
      "a container that exits 3: its exit code, its restarts, its previous run's lines with the credential redacted",
      [
        new RegExp(
          `^  pod ${POD}, container api-gateway: CrashLoopBackOff: exited with code 3 \\(Error\\), restarted \\d+ times?$`,
        ),
        new RegExp(`^    its last lines \\(kubectl logs --previous --tail=20 ${POD} -c api-gateway -n rn-crash\\):$`),
        /^ {6}\| starting up$/,
        /^ {6}\| connecting with password=\[redacted\]$/,
        /^ {6}\| giving up$/,
        /^ {4}It starts, then exits: its logs say why \(a missing setting, secret or dependency\?\)\.$/,
      ],
    ],
    [
      "never-ready",
      "a readiness probe that never passes: Running, not Ready, with the kubelet's 404",
      [
        new RegExp(
          `^  pod ${POD}, container api-gateway: Running but not Ready: Readiness probe failed: HTTP probe failed with statuscode: 404$`,
        ),
        /^ {4}Its readiness probe never passed: does the service answer the chart's readinessProbe \(path and port\) once started\?$/,
      ],
    ],
    [
      "unschedulable",
      "pods the scheduler cannot place: their phase and conditions, then the scheduler's Warning events",
      [
        new RegExp(
          `^  pods ${POD}, ${POD}: Pending: PodScheduled False \\(Unschedulable: 0/1 nodes are available: 1 Insufficient cpu\\.`,
        ),
        /^ {2}Warning events, newest last:$/,
        new RegExp(`^    Pod ${POD}: FailedScheduling: 0/1 nodes are available: 1 Insufficient cpu\\.`),
        new RegExp(`^    Pod ${POD}: FailedScheduling: 0/1 nodes are available: 1 Insufficient cpu\\.`),
      ],
    ],
  ])("%s: %s", (name, _what, expected) => {
    const lines = shown(fixture(name))
    expect(lines).toHaveLength(expected.length)
    expected.forEach((line, i) => expect(lines[i]).toMatch(line))
  })

  test("the pods are the release's, by owner reference: another release's Deployment in the namespace is left out", () => {
    const f = fixture("not-found")
    const gateway = diagnose(f.objects, new Set(["Deployment/meetinity-api-gateway"]))
    // api-gateway's two pods are Ready: nothing to say about them.
    expect(gateway).toMatchObject({ pods: 2, findings: [] })
    const events = diagnose(f.objects, new Set(["Deployment/meetinity-event-service"]))
    expect(events.pods).toBe(1)
    expect(events.findings.map((x) => [x.kind, "container" in x ? x.container : ""])).toEqual([
      ["pull", "event-service"],
    ])
    // A release whose manifest names neither: no pod of its own; the namespace's Warning events are shown.
    const none = diagnose(f.objects, new Set(["Deployment/another-service"]))
    expect(none).toMatchObject({ pods: 0, findings: [] })
    expect(formatDiagnosis(none, { namespace: f.namespace, logs: new Map() }).slice(0, 2)).toEqual([
      "  the release has no pod running or starting: none was created, or none is left",
      "  Warning events, newest last:",
    ])
    expect(none.warnings.every((e) => e.type === "Warning")).toBe(true)
  })

  test("the workloads are read from the failed revision's manifest", () => {
    expect([...releaseWorkloads(fixture("not-found").manifest)].sort()).toEqual([
      "Deployment/meetinity-api-gateway",
      "Deployment/meetinity-event-service",
    ])
    expect([...releaseWorkloads(fixture("crash").manifest)]).toEqual(["Deployment/meetinity-api-gateway"])
  })

  test("a pull secret that exists but holds no credentials for the registry, and a pod that names none: said apart", () => {
    const f = fixture("no-secret")
    // The same pods and events, without the kubelet's word that the secret is missing.
    const found: ClusterObjects = {
      ...f.objects,
      events: f.objects.events.filter((e) => e.reason !== "FailedToRetrieveImagePullSecret"),
    }
    expect(
      formatDiagnosis(diagnose(found, releaseWorkloads(f.manifest)), { namespace: f.namespace, logs: new Map() })[1],
    ).toBe(
      "    The pull secret ghcr-pull-secret holds no credentials for this registry, so the pull carried none: was it made for another --server?",
    )
    // ... and pods that name no pull secret at all.
    const unnamed: ClusterObjects = {
      ...found,
      pods: found.pods.map((p) => ({ ...p, spec: { ...p.spec, imagePullSecrets: [] } })),
    }
    expect(
      formatDiagnosis(diagnose(unnamed, releaseWorkloads(f.manifest)), { namespace: f.namespace, logs: new Map() })[1],
    ).toBe(
      "    The pod names no pull secret, so the pull carried no credentials: does the chart give its pods global.imagePullSecrets?",
    )
  })

  test("the crash's logs: the previous run's of the first pod of each group, read with kubectl logs --previous", () => {
    const f = fixture("crash")
    const [target, ...more] = logsToRead(diagnose(f.objects, releaseWorkloads(f.manifest)))
    expect(more).toEqual([])
    expect(target).toMatchObject({ container: "api-gateway", previous: true })
    expect(logsArgs("rn-crash", target!)).toEqual([
      "kubectl",
      "logs",
      "--previous",
      "--tail=20",
      target!.pod,
      "-c",
      "api-gateway",
      "--namespace",
      "rn-crash",
    ])
    // What kubectl said instead of the logs is shown in their place.
    const failed = formatDiagnosis(diagnose(f.objects, releaseWorkloads(f.manifest)), {
      namespace: f.namespace,
      logs: new Map([[logsKey(target!), { error: "Error from server (Forbidden): pods/log is forbidden" }]]),
    })
    expect(failed[1]).toMatch(
      /^ {4}its logs could not be read \(kubectl logs --previous .*\): Error from server \(Forbidden\): pods\/log is forbidden$/,
    )
  })

  test("what kubectl printed when it could not list is no diagnosis", () => {
    expect(
      parseClusterObjects('Error from server (Forbidden): pods is forbidden: User "x" cannot list resource "pods"'),
    ).toBeUndefined()
    expect(parseClusterObjects("{}")).toBeUndefined()
    expect(parseClusterObjects("null")).toBeUndefined()
    expect(clusterObjectsArgs("rn-crash")).toEqual([
      "kubectl",
      "get",
      "pods,replicasets,events",
      "--namespace",
      "rn-crash",
      "--output",
      "json",
    ])
  })
})

describe("which failed revision is this run's, from real Helm's history and error", () => {
  const CASES = ["wrong-token", "no-secret", "not-found", "crash", "never-ready", "unschedulable"]

  test.each(CASES)("%s: the newest revision, failed, with the error Helm printed", (name) => {
    const f = fixture(name)
    const history = parseHelmHistory(f.history)!
    const failed = thisRunsFailure(history, f.said)
    expect(failed).toMatchObject({ revision: history.at(-1)!.revision, status: "failed" })
    // An upgrade goes back to revision 1; a first install has nothing to go back to.
    expect(lastGood(history, failed!.revision)?.revision).toBe(history.length > 1 ? 1 : undefined)
  })

  test.each(CASES)("%s: not this run's when Helm said something else (it failed before recording one)", (name) => {
    const f = fixture(name)
    const history = parseHelmHistory(f.history)!
    expect(
      thisRunsFailure(history, "Error: UPGRADE FAILED: unable to build kubernetes objects from new release manifest"),
    ).toBeUndefined()
    // ... nor when its newest revision is not failed.
    expect(thisRunsFailure(history.slice(0, -1), f.said)).toBeUndefined()
  })

  const plan = (namespace: string) =>
    planHelm({
      release: "meetinity",
      namespace,
      image: "ghcr.io/meetinity/api-gateway",
      version: "v1.4.2",
      pullSecretName: "ghcr-pull-secret",
      timeout: "25s",
      set: [],
    })

  test("the rollback and the uninstall, as Helm's own --rollback-on-failure did them: waiting as long as the upgrade could", () => {
    expect(helmRollbackArgs(plan("rn-crash"), 1)).toEqual([
      "helm",
      "rollback",
      "meetinity",
      "1",
      "--namespace",
      "rn-crash",
      "--wait=watcher",
      "--timeout",
      "25s",
      "--history-max",
      "10",
    ])
    expect(helmUninstallArgs(plan("rn-no-secret"))).toEqual([
      "helm",
      "uninstall",
      "meetinity",
      "--namespace",
      "rn-no-secret",
      "--wait=watcher",
      "--timeout",
      "25s",
    ])
  })

  test.each([
    [
      "rolled back",
      "crash",
      { kind: "rollback", to: 1, revision: 3 } as const,
      "The module rolled release meetinity back to revision 1: revision 2 failed, revision 3 runs what revision 1 ran, and the release is otherwise as it was.",
    ],
    [
      "uninstalled",
      "no-secret",
      { kind: "uninstall" } as const,
      "The module uninstalled release meetinity: its first install (revision 1) failed and nothing ran before it; the namespace keeps what it had before.",
    ],
    [
      "the rollback failed too",
      "crash",
      { kind: "failed", message: "The module's rollback to revision 1 failed too (exit code 1):\n  Error: x" } as const,
      "The module's rollback to revision 1 failed too (exit code 1):\n  Error: x",
    ],
  ])("the error: why first, then what the module did (%s), then what Helm said", (_name, name, undone, did) => {
    const f = fixture(name)
    const history = parseHelmHistory(f.history)!
    const failure = new RolloutFailed(
      "helm upgrade --install of release meetinity (ghcr.io/meetinity/api-gateway:v1.4.2@sha256:0)",
      { exitCode: 1, stdout: "", stderr: f.said },
      thisRunsFailure(history, f.said)!,
      history,
    )
    const diagnosis = shown(f)
    const message = formatRolloutFailure(failure, plan(f.namespace), diagnosis, undone)
    expect(message.split("\n")).toEqual([
      `helm upgrade --install of release meetinity (ghcr.io/meetinity/api-gateway:v1.4.2@sha256:0) in namespace ${f.namespace} did not become ready within 25s:`,
      ...diagnosis,
      ...did.split("\n"),
      "Helm said (exit code 1):",
      ...f.said
        .trim()
        .split("\n")
        .filter(Boolean)
        .slice(-8)
        .map((line) => `  ${line}`),
    ])
  })
})
