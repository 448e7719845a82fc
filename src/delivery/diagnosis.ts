/**
 * Why a rollout did not become ready, read from the cluster before anything is undone: the pods
 * of the release's own workloads and the events about them, as `kubectl get -o json` prints them,
 * judged into what a person acts on: which pod, which container, which reason, the registry's or
 * the kubelet's own words, and what to do. Pure: delivery/rollout.ts runs the commands.
 */
import { manifestObjects } from "./removal.js"

/** A container's state as the kubelet reports it. */
interface ContainerState {
  readonly waiting?: { readonly reason?: string; readonly message?: string }
  readonly running?: { readonly startedAt?: string }
  readonly terminated?: { readonly exitCode?: number; readonly reason?: string }
}
interface ContainerStatus {
  readonly name: string
  readonly ready?: boolean
  readonly restartCount?: number
  readonly state?: ContainerState
  readonly lastState?: ContainerState
}
interface Owner {
  readonly kind?: string
  readonly name?: string
}
interface PodJson {
  readonly metadata: { readonly name: string; readonly ownerReferences?: Owner[]; readonly deletionTimestamp?: string }
  readonly spec?: { readonly imagePullSecrets?: { readonly name?: string }[] }
  readonly status?: {
    readonly phase?: string
    readonly conditions?: { type: string; status: string; reason?: string; message?: string }[]
    readonly containerStatuses?: ContainerStatus[]
    readonly initContainerStatuses?: ContainerStatus[]
  }
}

/** One event, as a person reads it. */
export interface ClusterEvent {
  readonly type: string
  readonly reason: string
  readonly message: string
  readonly object: { readonly kind: string; readonly name: string; readonly fieldPath?: string }
  readonly count: number
  /** When it last happened (RFC 3339), for the order. */
  readonly at: string
}

/** What `kubectl get pods,replicasets,events -o json` printed, split by kind. */
export interface ClusterObjects {
  readonly pods: readonly PodJson[]
  /** Each ReplicaSet's owner (its Deployment), by the ReplicaSet's name. */
  readonly replicaSetOwners: ReadonlyMap<string, string>
  readonly events: readonly ClusterEvent[]
}

/** The one kubectl command that reads them all, in one namespace. */
export const clusterObjectsArgs = (namespace: string) => [
  "kubectl",
  "get",
  "pods,replicasets,events",
  "--namespace",
  namespace,
  "--output",
  "json",
]

const ownerKey = (owner: Owner | undefined) => (owner?.kind && owner.name ? `${owner.kind}/${owner.name}` : "")

/** Reads kubectl's List; undefined when it printed something else. */
export function parseClusterObjects(stdout: string): ClusterObjects | undefined {
  let list: { items?: unknown } | null
  try {
    list = JSON.parse(stdout) as { items?: unknown } | null
  } catch {
    return undefined
  }
  if (!Array.isArray(list?.items)) return undefined
  const items = list.items as { kind?: string; metadata?: { name?: string; ownerReferences?: Owner[] } }[]
  const replicaSetOwners = new Map<string, string>()
  for (const rs of items.filter((i) => i.kind === "ReplicaSet" && i.metadata?.name))
    replicaSetOwners.set(rs.metadata!.name!, ownerKey(rs.metadata!.ownerReferences?.[0]))
  const events = (items as EventJson[]).filter((i) => i.kind === "Event").map(readEvent)
  return { pods: items.filter((i) => i.kind === "Pod" && i.metadata?.name) as PodJson[], replicaSetOwners, events }
}

interface EventJson {
  readonly kind?: string
  readonly type?: string
  readonly reason?: string
  readonly message?: string
  readonly count?: number
  readonly involvedObject?: { kind?: string; name?: string; fieldPath?: string }
  readonly lastTimestamp?: string
  readonly eventTime?: string
  readonly series?: { count?: number; lastObservedTime?: string }
  readonly metadata?: { creationTimestamp?: string }
}

const readEvent = (e: EventJson): ClusterEvent => ({
  type: e.type ?? "",
  reason: e.reason ?? "",
  // The API server folds repeated events into one "(combined from similar events): ..." message.
  message: (e.message ?? "").replace(/^\(combined from similar events\): /, "").trim(),
  object: {
    kind: e.involvedObject?.kind ?? "",
    name: e.involvedObject?.name ?? "",
    ...(e.involvedObject?.fieldPath ? { fieldPath: e.involvedObject.fieldPath } : {}),
  },
  count: e.series?.count ?? e.count ?? 1,
  at: e.lastTimestamp ?? e.series?.lastObservedTime ?? e.eventTime ?? e.metadata?.creationTimestamp ?? "",
})

/** The workloads a release's manifest holds, as `Kind/name`: Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and bare Pods. */
export function releaseWorkloads(manifest: string): ReadonlySet<string> {
  const kinds = ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "Pod"]
  return new Set(manifestObjects(manifest).flatMap((o) => (kinds.includes(o.kind) ? [`${o.kind}/${o.name}`] : [])))
}

/**
 * The pods of the release's workloads, by owner reference: a pod of a ReplicaSet of one of its
 * Deployments, a pod of one of its StatefulSets, DaemonSets, ReplicaSets or Jobs, or one of its
 * own Pods. Pods on their way out (deleted, still terminating) are left out.
 */
export function releasePods(objects: ClusterObjects, workloads: ReadonlySet<string>): PodJson[] {
  return objects.pods.filter((pod) => {
    if (pod.metadata.deletionTimestamp) return false
    if (workloads.has(`Pod/${pod.metadata.name}`)) return true
    return (pod.metadata.ownerReferences ?? []).some((owner) => {
      const key = ownerKey(owner)
      return (
        workloads.has(key) ||
        (owner.kind === "ReplicaSet" && workloads.has(objects.replicaSetOwners.get(owner.name ?? "") ?? ""))
      )
    })
  })
}

/** What keeps one container (or one pod, when it has no container yet) from being ready. */
export type Finding = { readonly pod: string } & (
  | {
      readonly kind: "pull"
      readonly container: string
      readonly reason: string
      /** The kubelet's message: what the registry answered. */
      readonly message: string
      /** The pull secrets the pod names, and those the kubelet could not find in the namespace. */
      readonly secrets: readonly string[]
      readonly missingSecrets: readonly string[]
    }
  | {
      readonly kind: "crash"
      readonly container: string
      readonly reason: string
      readonly exitCode?: number
      readonly exitReason?: string
      readonly restarts: number
      /** The logs to read are the previous run's (`--previous`): the container was restarted since. */
      readonly previous: boolean
      /** A liveness or startup probe that killed it, in the kubelet's words. */
      readonly probe?: string
    }
  | { readonly kind: "not-ready"; readonly container: string; readonly probe?: string }
  | { readonly kind: "waiting"; readonly container: string; readonly reason: string; readonly message: string }
  | { readonly kind: "pod"; readonly phase: string; readonly conditions: readonly string[] }
)

const PULL_REASONS = ["ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName"]

/** The newest event about a pod (and one of its containers, when given) that matches. */
function newestEvent(events: readonly ClusterEvent[], pod: string, container: string | undefined, match: RegExp) {
  return events
    .filter(
      (e) =>
        e.object.kind === "Pod" &&
        e.object.name === pod &&
        (!container || !e.object.fieldPath || e.object.fieldPath === `spec.containers{${container}}`) &&
        match.test(`${e.reason}: ${e.message}`),
    )
    .sort((a, b) => a.at.localeCompare(b.at))
    .at(-1)
}

/** What keeps a pod from being ready: a finding per container that is not, or one for the pod when none runs yet. */
export function podFindings(pod: PodJson, events: readonly ClusterEvent[]): Finding[] {
  const name = pod.metadata.name
  if (pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")) return []
  const secrets = (pod.spec?.imagePullSecrets ?? []).flatMap((s) => (s.name ? [s.name] : []))
  const missing = newestEvent(events, name, undefined, /^FailedToRetrieveImagePullSecret: /)
  const missingSecrets = /\(([^)]*)\)/.exec(missing?.message ?? "")?.[1]?.split(/,\s*/) ?? []
  const judge = (status: ContainerStatus): Finding | undefined => {
    const container = status.name
    const waiting = status.state?.waiting
    const restarts = status.restartCount ?? 0
    const pullEvent = () => newestEvent(events, name, container, /^Failed: Failed to pull image /)
    if (status.ready) return undefined
    if (PULL_REASONS.includes(waiting?.reason ?? "") || (waiting && pullEvent())) {
      const message = waiting?.message || pullEvent()?.message || ""
      return { pod: name, kind: "pull", container, reason: waiting!.reason ?? "", message, secrets, missingSecrets }
    }
    const ended = status.state?.terminated ?? (restarts > 0 ? status.lastState?.terminated : undefined)
    if (waiting?.reason === "CrashLoopBackOff" || ended) {
      const probe = newestEvent(events, name, container, /^Unhealthy: (Liveness|Startup) probe failed/)?.message
      return {
        pod: name,
        kind: "crash",
        container,
        reason: waiting?.reason ?? (status.state?.terminated ? "Terminated" : "Restarted"),
        ...(ended?.exitCode !== undefined ? { exitCode: ended.exitCode } : {}),
        ...(ended?.reason ? { exitReason: ended.reason } : {}),
        restarts,
        previous: !status.state?.terminated && restarts > 0,
        ...(probe ? { probe } : {}),
      }
    }
    if (status.state?.running) {
      const probe = newestEvent(events, name, container, /^Unhealthy: Readiness probe failed/)?.message
      return { pod: name, kind: "not-ready", container, ...(probe ? { probe } : {}) }
    }
    return {
      pod: name,
      kind: "waiting",
      container,
      reason: waiting?.reason ?? "Waiting",
      message: waiting?.message ?? "",
    }
  }
  // An init container that does not finish keeps every other container waiting: it is the one to name.
  const init = (pod.status?.initContainerStatuses ?? []).flatMap((s) => judge(s) ?? [])
  const found = init.length > 0 ? init : (pod.status?.containerStatuses ?? []).flatMap((s) => judge(s) ?? [])
  if (found.length > 0) return found
  const conditions = (pod.status?.conditions ?? [])
    .filter((c) => c.status !== "True")
    .map((c) => `${c.type} ${c.status}${c.reason ? ` (${c.reason}${c.message ? `: ${c.message}` : ""})` : ""}`)
  return [{ pod: name, kind: "pod", phase: pod.status?.phase ?? "Unknown", conditions }]
}

/** The whole diagnosis: each finding, and the Warning events to show when no finding says enough. */
export interface Diagnosis {
  /** The release's pods (not terminating). */
  readonly pods: number
  readonly findings: readonly Finding[]
  /** Warning events about the release's objects (else the namespace's), one per object and reason, newest last, at most five. */
  readonly warnings: readonly ClusterEvent[]
}

export function diagnose(objects: ClusterObjects, workloads: ReadonlySet<string>): Diagnosis {
  const pods = releasePods(objects, workloads)
  const names = new Set([...workloads, ...pods.map((p) => `Pod/${p.metadata.name}`)])
  for (const [rs, owner] of objects.replicaSetOwners) if (workloads.has(owner)) names.add(`ReplicaSet/${rs}`)
  const all = objects.events.filter((e) => e.type === "Warning")
  const about = all.filter((e) => names.has(`${e.object.kind}/${e.object.name}`))
  // One line per object and reason, its newest message and how often it happened: a ReplicaSet
  // refused by a quota says so once, not once per pod name it tried.
  const seen = new Map<string, ClusterEvent>()
  for (const e of [...(about.length > 0 ? about : all)].sort((a, b) => a.at.localeCompare(b.at))) {
    const key = `${e.object.kind}/${e.object.name}/${e.reason}`
    const before = seen.get(key)
    seen.delete(key)
    seen.set(key, before ? { ...e, count: before.count + e.count } : e)
  }
  return {
    pods: pods.length,
    findings: pods.flatMap((p) => podFindings(p, objects.events)),
    warnings: [...seen.values()].slice(-5),
  }
}
