/**
 * A diagnosis (delivery/diagnosis.ts) in words: the first lines of a deploy that did not become
 * ready. Pods with the same problem are named together, each problem with the registry's or the
 * kubelet's own words and what to do about it. A crashing container's last log lines are shown,
 * redacted: a container may print what it was given.
 */
import { redact } from "../common/redact.js"
import { type ClusterEvent, type Diagnosis, type Finding } from "./diagnosis.js"

/** A crashing container's last lines as read, or what kubectl said instead. */
export type LogsRead = { readonly lines: readonly string[] } | { readonly error: string }

/** Which container's logs to read: its pod and name, and whether it is the previous run's. */
export interface LogsTarget {
  readonly pod: string
  readonly container: string
  readonly previous: boolean
}

/** How many lines of a crashing container's log are shown. */
export const LOG_LINES = 20

/** `kubectl logs` of one container: its last lines, of the run before the restart when it was restarted. */
export const logsArgs = (namespace: string, target: LogsTarget) => [
  "kubectl",
  "logs",
  ...(target.previous ? ["--previous"] : []),
  `--tail=${LOG_LINES}`,
  target.pod,
  "-c",
  target.container,
  "--namespace",
  namespace,
]

export const logsKey = (target: { pod: string; container: string }) => `${target.pod}/${target.container}`

/** Findings with the same problem in the same container, in the order first seen. */
function grouped(findings: readonly Finding[]): Finding[][] {
  const groups = new Map<string, Finding[]>()
  for (const f of findings) {
    const detail =
      f.kind === "pull"
        ? pullAnswer(f.message)
        : f.kind === "crash"
          ? `${f.exitCode}/${f.exitReason}/${f.probe}`
          : f.kind === "not-ready"
            ? f.probe
            : f.kind === "waiting"
              ? `${f.reason}/${f.message}`
              : `${f.phase}/${f.conditions.join(";")}`
    const key = `${f.kind}/${"container" in f ? f.container : ""}/${detail}`
    groups.set(key, [...(groups.get(key) ?? []), f])
  }
  return [...groups.values()]
}

/** The first pod of each group of crashing containers: whose logs to read (at most three). */
export function logsToRead(diagnosis: Diagnosis): LogsTarget[] {
  return grouped(diagnosis.findings)
    .flatMap(([f]) => (f!.kind === "crash" ? [{ pod: f!.pod, container: f!.container, previous: f!.previous }] : []))
    .slice(0, 3)
}

const MAX_MESSAGE = 500
/** One line, redacted; a long one keeps its start and its end (where a registry's answer is). */
const short = (text: string) => {
  const one = redact(text.replace(/\s*\n\s*/g, " ").trim())
  return one.length > MAX_MESSAGE ? `${one.slice(0, 150)} … ${one.slice(-(MAX_MESSAGE - 150))}` : one
}

/**
 * The kubelet's pull error without what the line already says: the back-off's own preamble (it
 * names the image the error names again) and gRPC's wrapping.
 */
export const pullAnswer = (message: string) =>
  message
    .replace(/^Back-off pulling image "[^"]*": (?:ErrImagePull: )?/, "")
    .replace(/rpc error: code = \w+ desc = /g, "")
const list = (names: readonly string[]) => names.join(", ")
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`

/** `pods a, b and 3 more`, `pod a`. */
function pods(group: readonly Finding[]): string {
  const names = [...new Set(group.map((f) => f.pod))]
  const shown = names.slice(0, 3).join(", ")
  return `${names.length === 1 ? "pod" : "pods"} ${shown}${names.length > 3 ? ` and ${names.length - 3} more` : ""}`
}

/** The reasons of a group, each once: `ImagePullBackOff / ErrImagePull` while its pods are at different points of the back-off. */
const reasons = (group: readonly Finding[]) =>
  [...new Set(group.map((f) => ("reason" in f ? f.reason : f.kind)))].join(" / ")

/** What to do about an image the node could not pull, from what the registry answered. */
export function pullHint(f: Extract<Finding, { kind: "pull" }>, namespace: string): string {
  const secrets = f.secrets.length > 0 ? list(f.secrets) : "(none named)"
  if (f.missingSecrets.length > 0)
    return `The namespace ${namespace} has no pull secret ${list(f.missingSecrets)} (the kubelet could not read it), so the pull carried no credentials: create it (pullSecret --namespace ${namespace}; release makes it itself), then deploy again.`
  if (/no basic auth credentials/i.test(f.message))
    return f.secrets.length === 0
      ? `The pod names no pull secret, so the pull carried no credentials: does the chart give its pods global.imagePullSecrets?`
      : `The pull secret ${secrets} holds no credentials for this registry, so the pull carried none: was it made for another --server?`
  if (/\b40[13]\b|unauthori[sz]ed|forbidden|denied/i.test(f.message))
    return `The registry refused the credentials in the pull secret ${secrets}: a wrong, expired or revoked reader token, or a reader that may not read this package? Refresh the secret (pullSecret --reader-token ...), then deploy again.`
  if (/not found|manifest unknown/i.test(f.message))
    return `The registry does not hold this image: was this version published (and not deleted since, by retention?), and does the chart name it as published?`
  return `Check that the nodes can reach the registry and that the image reference is right.`
}

/** What to do about a container that keeps exiting. */
function crashHint(f: Extract<Finding, { kind: "crash" }>): string {
  if (f.exitReason === "OOMKilled")
    return `It was killed for using more memory than its limit: raise resources.limits.memory, or find what grows.`
  if (f.probe) return `Its liveness or startup probe killed it: does the service answer that probe in time?`
  if (f.exitCode === 0) return `Its main process returns (exit code 0): a service must keep running in the foreground.`
  return `It starts, then exits: its logs say why (a missing setting, secret or dependency?).`
}

/** One group's lines: the pods and container, the reason in the cluster's words, then the logs and what to do. */
function groupLines(group: readonly Finding[], namespace: string, logs: ReadonlyMap<string, LogsRead>): string[] {
  const f = group[0]!
  if (f.kind === "pod")
    return [`  ${pods(group)}: ${f.phase}${f.conditions.length > 0 ? `: ${short(f.conditions.join("; "))}` : ""}`]
  const where = `  ${pods(group)}, container ${f.container}`
  switch (f.kind) {
    case "pull":
      return [`${where}: ${reasons(group)}: ${short(pullAnswer(f.message))}`, `    ${pullHint(f, namespace)}`]
    case "crash": {
      const exit =
        f.exitCode !== undefined
          ? `exited with code ${f.exitCode}${f.exitReason ? ` (${f.exitReason})` : ""}`
          : "exited"
      const restarts = f.restarts > 0 ? `, restarted ${plural(f.restarts, "time")}` : ""
      const read = logs.get(logsKey(f))
      const command = `kubectl logs${f.previous ? " --previous" : ""} --tail=${LOG_LINES} ${f.pod} -c ${f.container} -n ${namespace}`
      const logLines =
        read === undefined
          ? []
          : "error" in read
            ? [`    its logs could not be read (${command}): ${short(read.error)}`]
            : read.lines.length === 0
              ? [`    it printed nothing (${command})`]
              : [`    its last lines (${command}):`, ...read.lines.map((line) => `      | ${redact(line)}`)]
      return [
        `${where}: ${f.reason}: ${exit}${restarts}${f.probe ? `; ${short(f.probe)}` : ""}`,
        ...logLines,
        `    ${crashHint(f)}`,
      ]
    }
    case "not-ready":
      return [
        `${where}: Running but not Ready${f.probe ? `: ${short(f.probe)}` : " (no readiness probe failure was reported)"}`,
        `    Its readiness probe never passed: does the service answer the chart's readinessProbe (path and port) once started?`,
      ]
    case "waiting":
      return [`${where}: ${f.reason}${f.message ? `: ${short(f.message)}` : ""}`]
  }
}

const eventLine = (e: ClusterEvent) =>
  `    ${e.object.kind} ${e.object.name}: ${e.reason}: ${short(e.message)}${e.count > 1 ? ` (${e.count} times)` : ""}`

/**
 * The diagnosis in lines: each problem (pods with the same one together) with what to do, then,
 * when no problem says enough (none found, or a pod merely waiting or pending), the Warning
 * events about the release's objects.
 */
export function formatDiagnosis(
  diagnosis: Diagnosis,
  context: { readonly namespace: string; readonly logs: ReadonlyMap<string, LogsRead> },
): string[] {
  const lines = grouped(diagnosis.findings).flatMap((g) => groupLines(g, context.namespace, context.logs))
  if (diagnosis.findings.length === 0)
    lines.push(
      diagnosis.pods === 0
        ? `  the release has no pod running or starting: none was created, or none is left`
        : `  none of the release's ${plural(diagnosis.pods, "pod")} is failing now: every one is Ready`,
    )
  if (diagnosis.findings.every((f) => f.kind === "waiting" || f.kind === "pod")) {
    lines.push(
      diagnosis.warnings.length > 0
        ? `  Warning events, newest last:`
        : `  no Warning event either: helm history and kubectl describe may say more`,
      ...diagnosis.warnings.map(eventLine),
    )
  }
  return lines
}
