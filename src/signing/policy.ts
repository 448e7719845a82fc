/**
 * The verification policy of a deploy, parsed from strings before anything runs: off, a public
 * key, or a keyless identity (the OIDC issuer, exact; the certificate identity, an anchored
 * pattern), and the predicate types that must be there (default: signature and provenance).
 * Pure: every function checks strings and returns a typed policy, or names the argument.
 */
import { type KeyObject } from "node:crypto"

import { type TrustedRoot } from "@sigstore/protobuf-specs"

import { check, InvalidArgumentError } from "../common/errors.js"
import { type IdentityRule } from "./bundle.js"
import { PREDICATE, predicateName } from "./constants.js"
import { parsePublicKey, parseTrustedRoot } from "./trust.js"

export type VerificationPolicy =
  | { readonly mode: "off" }
  | { readonly mode: "key"; readonly publicKey: KeyObject; readonly require: readonly string[] }
  | {
      readonly mode: "keyless"
      readonly identity: IdentityRule
      readonly require: readonly string[]
      /** The trusted root to verify against; undefined: Sigstore's public-good instance. */
      readonly trustedRoot?: TrustedRoot
    }

/** The policy as a Dagger call gives it: strings, empty when not given. */
export interface PolicyArgs {
  /** `off`, `key` or `keyless`. */
  readonly verify: string
  /** key: the PEM public key (cosign.pub). */
  readonly publicKey?: string
  /** keyless: the OIDC issuer, exactly (`https://token.actions.githubusercontent.com`). */
  readonly issuer?: string
  /** keyless: the certificate identity (SAN) as a regular expression the WHOLE identity must match. */
  readonly identity?: string
  /** Predicate types that must be attached and verified: `signature`, `provenance`, `sbom` or a type URI. */
  readonly require?: readonly string[]
  /** keyless: a trusted root JSON (GitHub's instance, a test CA); empty: the public-good instance. */
  readonly trustedRoot?: string
}

/** The argument names messages use (the Dagger arguments the lead maps to PolicyArgs). */
export const POLICY_ARGUMENTS = {
  verify: "verify",
  publicKey: "verifyKey",
  issuer: "verifyIssuer",
  identity: "verifyIdentity",
  require: "requirePredicates",
  trustedRoot: "trustedRoot",
} as const

/** What a policy requires by default: a signature and a provenance. */
export const DEFAULT_REQUIRED = [PREDICATE.signature, PREDICATE.provenance] as const

/** Identities no policy may accept: a pattern that matches one matches anyone (on GitHub). */
const CANARIES = [
  "https://attacker.invalid/.github/workflows/x.yml@refs/heads/x",
  "https://github.com/attacker-canary/x/.github/workflows/x.yml@refs/heads/x",
]

/**
 * A certificate identity pattern, anchored: `^(?:<pattern>)$`, so `…/cd.yml@refs/tags/release/v.*`
 * does not accept `…/cd.yml@refs/heads/main` and a prefix or suffix cannot be smuggled in.
 */
export function anchoredIdentity(pattern: string, argument: string = POLICY_ARGUMENTS.identity): RegExp {
  check(pattern.trim() !== "", argument, pattern, "is empty: expected the certificate identity (a regular expression)")
  let expression: RegExp
  try {
    expression = new RegExp(`^(?:${pattern})$`)
  } catch (error) {
    throw new InvalidArgumentError(argument, pattern, `is not a regular expression: ${(error as Error).message}`)
  }
  check(
    !expression.test("") && !CANARIES.some((canary) => expression.test(canary)),
    argument,
    pattern,
    "matches any identity: expected the workflow's identity, e.g. https://github\\.com/meetinity/api-gateway/\\.github/workflows/cd\\.yml@refs/tags/release/v.*",
  )
  return expression
}

/** Predicate types by short name (`signature`, `provenance`, `sbom`) or URI; empty: signature and provenance. */
export function parseRequired(values: readonly string[] = [], argument: string = POLICY_ARGUMENTS.require): string[] {
  const types = values
    .flatMap((value) => value.split(","))
    .map((value) => value.trim())
    .filter(Boolean)
  if (types.length === 0) return [...DEFAULT_REQUIRED]
  const known = PREDICATE as Record<string, string>
  const out: string[] = []
  for (const value of types) {
    const type = known[value] ?? value
    check(
      type in known || /^https?:\/\/\S+$/.test(type),
      argument,
      value,
      "is not a predicate type: expected signature, provenance, sbom or a predicate type URI (e.g. https://slsa.dev/provenance/v1)",
    )
    if (!out.includes(type)) out.push(type)
  }
  return out
}

/** Checks the policy arguments together: each mode takes its own, and refuses the others'. */
export function parseVerificationPolicy(args: PolicyArgs): VerificationPolicy {
  const A = POLICY_ARGUMENTS
  const given = (value: string | undefined) => value !== undefined && value.trim() !== ""
  const mode = args.verify.trim() as VerificationPolicy["mode"]
  check(
    mode === "off" || mode === "key" || mode === "keyless",
    A.verify,
    args.verify,
    "is not a verification mode: expected off, key (with --verify-key) or keyless (with --verify-issuer and --verify-identity)",
  )
  if (mode === "off") return { mode }
  const require = parseRequired(args.require, A.require)
  if (mode === "key") {
    check(
      given(args.publicKey),
      A.publicKey,
      args.publicKey ?? "",
      "is empty: key verification needs the PEM public key",
    )
    for (const name of ["issuer", "identity", "trustedRoot"] as const)
      check(!given(args[name]), A[name], args[name], "is given with --verify key: it is for keyless verification only")
    return { mode, publicKey: parsePublicKey(args.publicKey!, A.publicKey), require }
  }
  check(
    !given(args.publicKey),
    A.publicKey,
    "<a public key>",
    "is given with --verify keyless: it is for key mode only",
  )
  const issuer = (args.issuer ?? "").trim()
  check(
    /^https:\/\/[^\s/]+(\/\S*)?$/.test(issuer),
    A.issuer,
    args.issuer ?? "",
    "is not an OIDC issuer: expected its URL, exactly (e.g. https://token.actions.githubusercontent.com)",
  )
  const pattern = (args.identity ?? "").trim()
  const identity = { issuer, identity: anchoredIdentity(pattern, A.identity), pattern }
  return {
    mode,
    identity,
    require,
    ...(given(args.trustedRoot) ? { trustedRoot: parseTrustedRoot(args.trustedRoot!, A.trustedRoot) } : {}),
  }
}

/** The required predicate types in words: `signature (https://…), provenance (https://…)`. */
export function describeRequired(require: readonly string[]): string {
  return require.map((type) => (predicateName(type) === type ? type : `${predicateName(type)} (${type})`)).join(", ")
}

/** An exact identity as a pattern (every regular-expression character escaped). */
export function exactPattern(identity: string): string {
  return identity.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")
}
