/**
 * The gate's decision, pure: from the bundles attached to a digest (each already checked), the
 * predicate types the policy requires and the release being deployed, accept or refuse, and say
 * what was found and what was wanted. A bundle counts only when it verified AND its statement
 * names the digest; a provenance counts only when its source is the release's ref and commit.
 */
import { parseReleaseRef } from "../common/version.js"
import { type BundleCheck } from "./bundle.js"
import { PREDICATE, predicateName } from "./constants.js"
import { describeRequired } from "./policy.js"
import { type Statement } from "./statement.js"

/** One bundle referrer and its check. */
export interface CheckedBundle {
  /** The referrer manifest's digest. */
  readonly referrer: string
  readonly annotatedType?: string
  readonly check: BundleCheck
}

/** What is being deployed: the version tag, and the commit when it is known (7 to 40 hex). */
export interface ExpectedRelease {
  readonly version: string
  readonly commit?: string
}

/** The gate's input: everything already read and checked. */
export interface GateInput {
  /** `<address>:<version>@<digest>`, as messages name the image. */
  readonly image: string
  readonly digest: string
  /** Where the referrers were listed, and how many. */
  readonly source: string
  readonly listed: number
  readonly bundles: readonly CheckedBundle[]
  readonly require: readonly string[]
  /** Who is trusted, in words (`key …` or `<pattern> (issuer …)`). */
  readonly signers: string
  readonly expected: ExpectedRelease
}

export interface GateDecision {
  readonly ok: boolean
  /** Why it refused, one reason a line, empty when ok. */
  readonly reasons: readonly string[]
  /** The whole report: reasons, what was wanted, what was found. */
  readonly message: string
  /** The predicate types accepted, in order. */
  readonly accepted: readonly string[]
}

/** The source a provenance predicate names: ours, GitHub's attest-build-provenance, or cosign's slsaprovenance1. */
export function provenanceSource(predicate: unknown): { ref?: string; commit?: string } {
  const p = predicate as {
    buildDefinition?: {
      externalParameters?: { ref?: unknown; commit?: unknown; workflow?: { ref?: unknown } }
      resolvedDependencies?: { uri?: unknown; digest?: Record<string, unknown>; annotations?: { ref?: unknown } }[]
    }
  }
  const definition = p?.buildDefinition
  const text = (value: unknown) => (typeof value === "string" && value !== "" ? value : undefined)
  const source = (Array.isArray(definition?.resolvedDependencies) ? definition.resolvedDependencies : []).find(
    (dep) => text(dep?.digest?.gitCommit) ?? text(dep?.digest?.sha1),
  )
  const uriRef = /@(refs\/\S+)$/.exec(text(source?.uri) ?? "")?.[1]
  const params = definition?.externalParameters
  const ref = text(params?.ref) ?? uriRef ?? text(source?.annotations?.ref) ?? text(params?.workflow?.ref)
  const commit = text(source?.digest?.gitCommit) ?? text(source?.digest?.sha1) ?? text(params?.commit)
  return { ...(ref ? { ref } : {}), ...(commit ? { commit: commit.toLowerCase() } : {}) }
}

/** Whether a provenance's source is the release: its ref is `release/<version>`, its commit the one expected. */
export function provenanceMatches(source: { ref?: string; commit?: string }, expected: ExpectedRelease): boolean {
  let version: string | undefined
  try {
    version = source.ref ? parseReleaseRef(source.ref).tag : undefined
  } catch {
    version = undefined
  }
  if (version !== expected.version) return false
  if (!expected.commit) return true
  const want = expected.commit.toLowerCase()
  return source.commit !== undefined && (source.commit.startsWith(want) || want.startsWith(source.commit))
}

const names = (statement: Statement | undefined) =>
  (statement?.subject ?? []).flatMap((s) => (s?.digest?.sha256 ? [`sha256:${s.digest.sha256}`] : []))

const short = (digest: string) => `${digest.slice(0, 19)}…`

/** Decides; never throws. */
export function judge(input: GateInput): GateDecision {
  const lines: string[] = []
  const accepted: { type: string; statement: Statement }[] = []
  const outcomes = new Map<CheckedBundle, string>()
  for (const bundle of input.bundles) {
    const { referrer, annotatedType, check } = bundle
    const type = check.statement?.predicateType ?? annotatedType ?? "unknown predicate type"
    let outcome = check.detail
    if (check.verdict === "verified") {
      const subjects = names(check.statement)
      if (subjects.includes(input.digest)) accepted.push({ type, statement: check.statement! })
      else
        outcome = `names another digest: its statement's subject is ${subjects.join(", ") || "no sha256 digest"}, not ${input.digest} (a bundle copied from another image)`
    }
    outcomes.set(
      bundle,
      `${check.verdict === "verified" && outcome !== check.detail ? "" : `by ${check.signer}: `}${outcome}`,
    )
    lines.push(`  - ${predicateName(type)} (${type}) in ${short(referrer)} by ${check.signer}: ${outcome}`)
  }
  const reasons: string[] = []
  if (input.bundles.length === 0)
    reasons.push(`it is not signed: no Sigstore bundle is attached (${input.source} lists ${input.listed} referrer(s))`)
  else
    for (const type of input.require) {
      if (accepted.some((a) => a.type === type)) continue
      const ofType = input.bundles.filter((b) => (b.check.statement?.predicateType ?? b.annotatedType) === type)
      reasons.push(
        ofType.length === 0
          ? `missing ${predicateName(type)} (${type}): no bundle of that type is attached`
          : `missing ${predicateName(type)} (${type}): ${ofType.length} bundle(s) of that type, none accepted (${[...new Set(ofType.map((b) => outcomes.get(b)))].join("; ")})`,
      )
    }
  const provenances = accepted.filter((a) => a.type === PREDICATE.provenance)
  const sources = provenances.map((p) => provenanceSource(p.statement.predicate))
  if (provenances.length > 0 && !sources.some((source) => provenanceMatches(source, input.expected))) {
    const found = sources.map((s) => `${s.ref ?? "no ref"} at ${s.commit ?? "no commit"}`).join("; ")
    reasons.push(
      `its provenance is not the version being deployed: it names ${found}; wanted refs/tags/release/${input.expected.version}${input.expected.commit ? ` at ${input.expected.commit}` : ""}`,
    )
  }
  const wanted = `${describeRequired(input.require)} signed by ${input.signers}; provenance of refs/tags/release/${input.expected.version}${input.expected.commit ? ` at commit ${input.expected.commit}` : ""}`
  const seen = `found (${input.listed} referrer(s) listed by ${input.source}, ${input.bundles.length} Sigstore bundle(s)):`
  const report = [`wanted: ${wanted}`, seen, ...(lines.length ? lines : ["  (nothing)"])].join("\n")
  // Accepted types: the required ones in the policy's order, then any other.
  const found = new Set(accepted.map((a) => a.type))
  const types = [...input.require.filter((t) => found.has(t)), ...[...found].filter((t) => !input.require.includes(t))]
  if (reasons.length === 0)
    return {
      ok: true,
      reasons,
      accepted: types,
      message: `${input.image} verified: ${describeRequired(types)}\n${report}`,
    }
  return {
    ok: false,
    reasons,
    accepted: types,
    message: `refusing to deploy ${input.image}: ${reasons.join("; ")}\n${report}`,
  }
}
