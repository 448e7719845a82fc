/**
 * A rehearsal, put in words: what the cluster runs where (read back with kubectl), whether that
 * is what the release deployed, and the report a person reads in ten seconds: each step, its
 * time, and the final state. Pure functions of what kubectl printed and the steps recorded.
 */
import { type StepRecord } from "../common/steps.js"
import { isImage } from "../oci/reference.js"

/** One Deployment as the cluster reports it. */
export interface DeploymentState {
  readonly namespace: string
  readonly name: string
  readonly available: boolean
  readonly readyReplicas: number
  readonly replicas: number
  readonly images: string[]
}

interface DeploymentJson {
  metadata?: { name?: string; namespace?: string }
  spec?: { replicas?: number; template?: { spec?: { containers?: { image?: string }[] } } }
  status?: { readyReplicas?: number; conditions?: { type?: string; status?: string }[] }
}

/** Reads `kubectl get deployments --all-namespaces -o json`. */
export function parseDeployments(stdout: string): DeploymentState[] {
  let parsed: { items?: DeploymentJson[] }
  try {
    parsed = JSON.parse(stdout) as typeof parsed
  } catch {
    throw new Error(
      `kubectl get deployments printed no JSON; its output began: ${JSON.stringify(stdout.slice(0, 200))}`,
    )
  }
  return (parsed.items ?? []).map((item) => ({
    namespace: item.metadata?.namespace ?? "",
    name: item.metadata?.name ?? "",
    available: (item.status?.conditions ?? []).some((c) => c.type === "Available" && c.status === "True"),
    readyReplicas: item.status?.readyReplicas ?? 0,
    replicas: item.spec?.replicas ?? 1,
    images: (item.spec?.template?.spec?.containers ?? []).map((c) => c.image ?? ""),
  }))
}

/**
 * What is wrong with the final state, per namespace rehearsed: no Deployment, a Deployment not
 * Available, or no Deployment running the published digest. Empty when all is well.
 */
export function stateProblems(
  deployments: readonly DeploymentState[],
  namespaces: readonly string[],
  image: PublishedImage,
): { namespace: string; problem: string }[] {
  const digest = image.digest
  const problems: { namespace: string; problem: string }[] = []
  for (const namespace of namespaces) {
    const here = deployments.filter((d) => d.namespace === namespace)
    if (here.length === 0) {
      problems.push({ namespace, problem: "has no Deployment: the chart rendered none" })
      continue
    }
    for (const d of here.filter((x) => !x.available)) {
      problems.push({
        namespace,
        problem: `Deployment ${d.name} is not Available (${d.readyReplicas}/${d.replicas} ready)`,
      })
    }
    if (!here.some((d) => d.images.some((reference) => isImage(reference, image)))) {
      problems.push({
        namespace,
        problem: `no Deployment runs the published image ${image.repository}@${digest} (images: ${here.flatMap((d) => d.images).join(", ")}): does the chart read the image values?`,
      })
    }
  }
  return problems
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`

/** A step's name, indented by how deep it ran (a build inside publish). */
const stepName = (s: StepRecord) => `${"  ".repeat(s.depth)}${s.step}`

/** How a step ended, as its table shows it. */
const outcome = (s: StepRecord) =>
  s.state === "done" ? (s.detail ?? "") : s.state === "failed" ? "FAILED" : "(still running when the run stopped)"

/** The steps as a table, in the order they started: time, step (indented when inside another), namespace, what it produced. */
export function formatSteps(steps: readonly StepRecord[]): string[] {
  const width = Math.max(...steps.map((s) => stepName(s).length), 4)
  const nsWidth = Math.max(...steps.map((s) => (s.namespace ?? "").length), 0)
  return steps.map((s) => {
    const columns = [
      seconds(s.ms).padStart(7),
      stepName(s).padEnd(width),
      (s.namespace ?? "").padEnd(nsWidth),
      outcome(s),
    ]
    return `  ${columns.join("  ")}`.trimEnd()
  })
}

/** The steps a step ran inside, outermost first, and the step itself: `publish > build`. */
function stepPath(steps: readonly StepRecord[], index: number): string {
  const path = [steps[index]!.step]
  for (let i = index - 1, depth = steps[index]!.depth; i >= 0 && depth > 0; i--) {
    if (steps[i]!.depth === depth - 1) {
      path.unshift(steps[i]!.step)
      depth--
    }
  }
  return path.join(" > ")
}

/** The published image, as the read-back compares it (the whole reference). */
export interface PublishedImage {
  readonly repository: string
  readonly version: string
  readonly digest: string
}

/** What runs where, per namespace in rollout order; the published image is marked. */
export function formatState(
  deployments: readonly DeploymentState[],
  namespaces: readonly string[],
  published: PublishedImage,
): string[] {
  return namespaces.flatMap((namespace) => {
    const here = deployments.filter((d) => d.namespace === namespace)
    if (here.length === 0) return [`  ${namespace}: no Deployment`]
    return [
      `  ${namespace}:`,
      ...here.map((d) => {
        const images = d.images
          .map((image) => (isImage(image, published) ? `${image} (published image)` : image))
          .join(", ")
        return `    ${d.name}: ${d.available ? "Available" : "NOT Available"} ${d.readyReplicas}/${d.replicas}, ${images}`
      }),
    ]
  })
}

export interface RehearsalOutcome {
  readonly steps: readonly StepRecord[]
  readonly totalMs: number
  readonly services: string
  readonly namespaces: readonly string[]
  readonly image: PublishedImage
  readonly deployments: readonly DeploymentState[]
  /** On a real node: each container the kubelet runs, with the imageID it pulled. */
  readonly running?: readonly string[]
}

/** The report of a rehearsal that passed. */
export function formatRehearsal(outcome: RehearsalOutcome): string {
  return [
    `rehearsal passed in ${seconds(outcome.totalMs)}: ${outcome.namespaces.join(" -> ")} at ${outcome.image.digest}`,
    outcome.services,
    "",
    "steps:",
    ...formatSteps(outcome.steps),
    "",
    "what runs where (read back from the cluster):",
    ...formatState(outcome.deployments, outcome.namespaces, outcome.image),
    ...((outcome.running ?? []).length > 0
      ? ["", "running containers (the kubelet's imageID: what it pulled):", ...outcome.running!.map((l) => `  ${l}`)]
      : []),
  ].join("\n")
}

/** The message of a rehearsal that failed: the step and namespace first, then the step's own error, then the steps that ran. */
export function formatFailure(steps: readonly StepRecord[], totalMs: number, error: Error, seen?: string): string {
  // The innermost step that failed: the last failed one to start (a step inside another starts after it).
  const index = steps.map((s) => s.state).lastIndexOf("failed")
  const failed = steps[index]
  const where = failed
    ? `step "${stepPath(steps, index)}"${failed.namespace ? ` in namespace ${failed.namespace}` : ""}`
    : "an unrecorded step"
  return [
    `rehearsal failed at ${where} after ${seconds(totalMs)}:`,
    error.message,
    ...(seen ? ["", seen] : []),
    "",
    "steps:",
    ...formatSteps(steps),
  ].join("\n")
}
