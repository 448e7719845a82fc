/**
 * Every step the module takes, as a span Dagger shows (the TUI, `--progress=plain`, Dagger Cloud
 * traces) and as a record the reports print. One helper opens the span with the SDK's tracer,
 * times the step, keeps how it ended and what it produced, and records its error: the TUI and the
 * reports never disagree, because they are made of the same step.
 */
import { AsyncLocalStorage } from "node:async_hooks"

import { getTracer } from "@dagger.io/dagger/telemetry"

/** What a person looks for on a step: the namespace, the version, the digest, the counts. */
export type StepAttributes = Readonly<Record<string, string | number | boolean>>

/** One step: which, where (for a per-namespace step), how deep, how long, how it ended, and what it produced. */
export interface StepRecord {
  readonly step: string
  readonly namespace?: string
  /** 0 for a step of the run itself, 1 for a step inside one, and so on. */
  readonly depth: number
  /** Still running (a step beside one that failed), done, or failed. */
  readonly state: "running" | "done" | "failed"
  readonly ms: number
  /** What the step produced, in one line (a revision, a digest, counts). */
  readonly detail?: string
  /** The span's attributes, as they were when it ended. */
  readonly attributes: StepAttributes
}

/** What a step may tell while it runs: progress a long step shows as it goes. */
export interface StepProgress {
  /** A moment of the step ("deleted 40 of 850"), as a span event; its attributes are also set on the span. */
  note(message: string, attributes?: StepAttributes): void
}

export interface StepOptions<T> {
  /** For a per-namespace step: the namespace (span attribute `k8s.namespace.name`). */
  readonly namespace?: string
  /** Known before the step runs. */
  readonly attributes?: StepAttributes
  /** What the step produced: the record's one-line detail, and attributes for the span. */
  readonly result?: (value: T) => { readonly detail?: string; readonly attributes?: StepAttributes }
}

/** The steps of a release, in the words every report and span uses (one vocabulary). */
export const STEP = {
  checkInputs: "check inputs",
  publish: "publish",
  readRegistry: "read registry",
  build: "build",
  push: "push",
  tag: "tag",
  attest: "attest",
  sbom: "sbom",
  verify: "verify",
  preflight: "preflight",
  namespace: "namespace",
  pullSecret: "pull secret",
  guard: "downgrade guard",
  removalGuard: "removal guard",
  helmUpgrade: "helm upgrade",
  /** After a rollout that did not become ready: why, read from the cluster before anything is undone. */
  diagnose: "diagnose",
  /** Then the module's own rollback to the last good revision (or uninstall, for a first install). */
  rollback: "rollback",
} as const

/** The span attribute of a step's namespace (OpenTelemetry's semantic conventions). */
export const NAMESPACE_ATTRIBUTE = "k8s.namespace.name"

/**
 * A run's steps: every step run through it is a span (a child of whatever span is active, so steps
 * nest) and a record, in the order the steps started; `onStep` is told of each as it ends.
 */
export class Steps {
  private readonly list: StepRecord[] = []
  private readonly depth = new AsyncLocalStorage<number>()

  constructor(private readonly onStep?: (record: StepRecord) => void) {}

  /** Every step so far, in the order they started. */
  get records(): readonly StepRecord[] {
    return this.list
  }

  /** Runs `work` as the step `step`; its error passes through, recorded on the span and in the record. */
  async run<T>(step: string, options: StepOptions<T>, work: (progress: StepProgress) => Promise<T>): Promise<T> {
    const depth = (this.depth.getStore() ?? -1) + 1
    const attributes: Record<string, string | number | boolean> = {
      ...(options.namespace ? { [NAMESPACE_ATTRIBUTE]: options.namespace } : {}),
      ...options.attributes,
    }
    const started = performance.now()
    const index = this.list.length
    const record = (state: StepRecord["state"], detail?: string): StepRecord => ({
      step,
      ...(options.namespace ? { namespace: options.namespace } : {}),
      depth,
      state,
      ms: performance.now() - started,
      ...(detail !== undefined ? { detail } : {}),
      attributes: { ...attributes },
    })
    this.list.push(record("running"))
    const end = (state: "done" | "failed", detail?: string) => {
      this.list[index] = record(state, detail)
      this.onStep?.(this.list[index])
    }
    const name = options.namespace ? `${step} ${options.namespace}` : step
    return getTracer().startActiveSpan(
      name,
      (span) =>
        this.depth.run(depth, async () => {
          const progress: StepProgress = {
            note(message, more = {}) {
              Object.assign(attributes, more)
              span.setAttributes(more)
              span.addEvent(message, more)
            },
          }
          try {
            const value = await work(progress)
            const result = options.result?.(value) ?? {}
            Object.assign(attributes, result.attributes)
            span.setAttributes({ ...result.attributes, ...(result.detail ? { "step.detail": result.detail } : {}) })
            end("done", result.detail)
            return value
          } catch (error) {
            end("failed")
            throw error
          }
        }),
      attributes,
    )
  }
}
