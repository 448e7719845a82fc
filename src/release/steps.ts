/** The steps of a release and a rehearsal: each one timed, and told to whoever reports them. */

/** The steps of a release, in the order they run. */
export const RELEASE_STEPS = ["check inputs", "publish", "preflight", "pull secret", "helm deploy"] as const

export type ReleaseStep = (typeof RELEASE_STEPS)[number]

/** One step that ended: which, where (for a per-namespace step), how long, and whether it failed. */
export interface StepRecord {
  readonly step: string
  readonly namespace?: string
  readonly ms: number
  readonly ok: boolean
  /** What the step produced, in one line (a revision, a digest). */
  readonly detail?: string
}

/** Runs one step and tells `onStep` how it ended and how long it took; the step's own error passes through. */
export async function timedStep<T>(
  onStep: ((record: StepRecord) => void) | undefined,
  step: string,
  namespace: string | undefined,
  work: () => Promise<T>,
  detail?: (result: T) => string,
): Promise<T> {
  const started = performance.now()
  const where = namespace ? { namespace } : {}
  try {
    const result = await work()
    onStep?.({
      step,
      ...where,
      ms: performance.now() - started,
      ok: true,
      ...(detail ? { detail: detail(result) } : {}),
    })
    return result
  } catch (error) {
    onStep?.({ step, ...where, ms: performance.now() - started, ok: false })
    throw error
  }
}
