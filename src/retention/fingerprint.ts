/**
 * The fingerprints of a retention plan and of a real run's report: what a reviewer approved is
 * exactly what runs, and a report's summary cannot be altered unnoticed. Pure.
 */
import { createHash } from "node:crypto"

import { type Decision, type RetentionPolicy } from "./versions.js"

/** The `format` field of the JSON report; a plan file must carry it (v2: the fingerprints cover reasons and outcomes). */
export const REPORT_FORMAT = "meetinity-release/retention-report/v2"

/** What the fingerprint is a hash of: changing the canonical form changes this name. */
const CANONICAL_FORM = "meetinity-release/retention-plan/v2"

/** What a real run's report fingerprint is a hash of. */
const REPORT_FORM = "meetinity-release/retention-outcomes/v1"

/**
 * The fingerprint of a plan: `sha256:` and the hex SHA-256 of its canonical form, the JSON text
 * of `["meetinity-release/retention-plan/v2", owner (lower-case), package, keep, graceMinutes,
 * [[id, digest, [tags, sorted], decision, reason], ...]]` with the versions sorted by id. It
 * covers everything a summary of the plan shows; times and outcomes are left out (outcomes are
 * covered by a real run's report fingerprint).
 */
export function fingerprint(plan: {
  owner: string
  packageName: string
  policy: RetentionPolicy
  versions: readonly { id: number; digest: string; tags: readonly string[]; decision: Decision; reason: string }[]
}): string {
  const versions = [...plan.versions]
    .sort((a, b) => a.id - b.id)
    .map((v) => [v.id, v.digest, [...v.tags].sort(), v.decision, v.reason])
  const canonical = JSON.stringify([
    CANONICAL_FORM,
    plan.owner.toLowerCase(),
    plan.packageName,
    plan.policy.keep,
    plan.policy.graceMinutes,
    versions,
  ])
  return `sha256:${createHash("sha256").update(canonical).digest("hex")}`
}

/**
 * The fingerprint of what a real run did: `sha256:` and the SHA-256 of the JSON text of
 * `["meetinity-release/retention-outcomes/v1", plan fingerprint, [[id, outcome], ...], stopped]`
 * (every planned deletion, sorted by id; stopped is null when the run went to the end). With the
 * plan's, it covers everything a summary of the report shows.
 */
export function reportFingerprint(report: {
  fingerprint: string
  versions: readonly { id: number; decision: Decision; outcome?: string }[]
  stopped?: string | null
}): string {
  const outcomes = report.versions
    .filter((v) => v.decision === "delete")
    .sort((a, b) => a.id - b.id)
    .map((v) => [v.id, v.outcome ?? null])
  const canonical = JSON.stringify([REPORT_FORM, report.fingerprint, outcomes, report.stopped ?? null])
  return `sha256:${createHash("sha256").update(canonical).digest("hex")}`
}
