/**
 * The verification gate before a deploy: read what is attached to the digest (referrers API or
 * fallback index, each referrer and bundle once), check every Sigstore bundle with
 * @sigstore/verify against the policy's key or trusted root and identity, then decide (judge.ts)
 * and refuse with what was found and what was wanted. Nothing here runs kubectl or Helm: the
 * caller runs the gate first.
 */
import { type RegistryClient } from "../oci/client.js"
import { checkBundle, type IdentityRule } from "./bundle.js"
import { type ExpectedRelease, type GateDecision, judge } from "./judge.js"
import { type VerificationPolicy } from "./policy.js"
import { readAttached } from "./referrers.js"
import { keyTrust, publicGoodRoot, rootTrust, type Trust } from "./trust.js"

/** The gate refused the image; nothing was deployed. `reasons` has one line per reason. */
export class SignatureRefusedError extends Error {
  override name = "SignatureRefusedError"
  constructor(
    message: string,
    readonly reasons: readonly string[],
  ) {
    super(message)
  }
}

/** What the policy trusts: the verifier, the identity rule (keyless) and the words for it. */
export interface PolicyTrust {
  readonly trust: Trust
  readonly identity?: IdentityRule
  readonly signers: string
}

/**
 * The trust a policy needs: its key, or its trusted root (the public-good one from Sigstore's TUF
 * repository unless the policy gives one; `offline`: the copy @sigstore/tuf ships).
 */
export async function policyTrust(
  policy: Exclude<VerificationPolicy, { mode: "off" }>,
  options: { readonly offline?: boolean; readonly tufCachePath?: string } = {},
): Promise<PolicyTrust> {
  if (policy.mode === "key") {
    const trust = keyTrust(policy.publicKey)
    return { trust, signers: trust.description }
  }
  const root =
    policy.trustedRoot ??
    (await publicGoodRoot({
      ...(options.offline ? { offline: true } : {}),
      ...(options.tufCachePath ? { cachePath: options.tufCachePath } : {}),
    }))
  return {
    trust: rootTrust(root),
    identity: policy.identity,
    signers: `${policy.identity.pattern} (issuer ${policy.identity.issuer}, the whole identity)`,
  }
}

/** Where the image is: the client that reaches its registry, its repository path, the address messages show. */
export interface GateTarget {
  readonly client: RegistryClient
  /** `<owner>/<image>` inside the registry. */
  readonly repository: string
  /** `ghcr.io/meetinity/api-gateway`: what pods pull. */
  readonly address: string
  /** The digest pods pull (the index, or the one manifest). */
  readonly digest: string
}

/** What the gate found, when it passed. */
export interface GateReport extends GateDecision {
  /** `skipped` when the policy is off. */
  readonly skipped: boolean
  /** Registry requests the gate made. */
  readonly requests: number
}

/**
 * Runs the gate: returns the report when the digest carries what the policy requires, signed by
 * whom it trusts, about this digest, and (provenance) about this release; otherwise throws a
 * SignatureRefusedError naming what it found and what it wanted. Registry failures throw the
 * registry's own error.
 */
export async function verifyRelease(
  target: GateTarget,
  policy: VerificationPolicy,
  expected: ExpectedRelease,
  options: { readonly trust?: PolicyTrust; readonly offline?: boolean; readonly tufCachePath?: string } = {},
): Promise<GateReport> {
  const image = `${target.address}:${expected.version}@${target.digest}`
  if (policy.mode === "off")
    return { ok: true, skipped: true, reasons: [], accepted: [], requests: 0, message: `${image}: verification off` }
  const trusted = options.trust ?? (await policyTrust(policy, options))
  const state = await readAttached(target.client, target.repository, target.digest)
  const bundles = state.bundles.map((stored) => ({
    referrer: stored.descriptor.digest,
    ...(stored.annotatedType ? { annotatedType: stored.annotatedType } : {}),
    check: checkBundle(stored.bytes, trusted.trust, trusted.identity),
  }))
  const decision = judge({
    image,
    digest: target.digest,
    source: state.source,
    listed: state.listed.length,
    bundles,
    require: policy.require,
    signers: trusted.signers,
    expected,
  })
  if (!decision.ok) throw new SignatureRefusedError(decision.message, decision.reasons)
  return { ...decision, skipped: false, requests: state.requests }
}
