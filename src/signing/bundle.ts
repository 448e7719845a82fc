/**
 * One Sigstore bundle checked: read (any bundle version, a DSSE envelope over an in-toto
 * statement), its signer described as it claims to be, then verified with @sigstore/verify
 * against a Trust, and, keyless, its certificate identity matched: the issuer exactly, the SAN
 * against an anchored pattern (sigstore-js's own policy matches it unanchored, so it is not used).
 * No I/O: the bytes come from the registry reader.
 */
import { bundleFromJSON, type Bundle } from "@sigstore/bundle"
import { X509Certificate } from "@sigstore/core"
import { toSignedEntity } from "@sigstore/verify"

import { IN_TOTO_PAYLOAD_TYPE, IN_TOTO_STATEMENT_V01, IN_TOTO_STATEMENT_V1 } from "./constants.js"
import { type Statement } from "./statement.js"
import { type Trust } from "./trust.js"

/** Who may have signed, keyless: the OIDC issuer exactly, the certificate identity (SAN) by an anchored pattern. */
export interface IdentityRule {
  readonly issuer: string
  /** Anchored: the whole SAN must match. */
  readonly identity: RegExp
  /** The pattern as given, for messages. */
  readonly pattern: string
}

/** What a bundle turned out to be. */
export type BundleVerdict =
  | "verified"
  | "unreadable"
  | "not-a-statement"
  | "other-key"
  | "untrusted-certificate"
  | "other-identity"
  | "tampered"
  | "unwitnessed"
  | "unverified"

/** One bundle, checked. */
export interface BundleCheck {
  readonly verdict: BundleVerdict
  /** The verdict in words (what failed, from the verifier's own code and message). */
  readonly detail: string
  /** Who signed, as the bundle says: `key <hint>` or `<SAN> (issuer <issuer>)`. */
  readonly signer: string
  /** The statement, whenever the bundle could be read (verified or not). */
  readonly statement?: Statement
}

const OID_ISSUER_V2 = "1.3.6.1.4.1.57264.1.8"
const OID_ISSUER_V1 = "1.3.6.1.4.1.57264.1.1"

/** The SAN and OIDC issuer a certificate claims (not verified). */
export function certificateIdentity(certificate: X509Certificate): { identity: string; issuer: string } {
  const v2 = certificate.extension(OID_ISSUER_V2)
  const issuer = v2
    ? (v2.valueObj.subs[0]?.value.toString("utf8") ?? "")
    : (certificate.extension(OID_ISSUER_V1)?.value.toString("utf8") ?? "")
  return { identity: certificate.subjectAltName ?? "", issuer }
}

/** The bundle's key material: its certificate, or the hint of the key it names. */
function keyMaterial(bundle: Bundle): { certificate?: X509Certificate; hint?: string } {
  const content = bundle.verificationMaterial.content
  switch (content.$case) {
    case "publicKey":
      return { hint: content.publicKey.hint }
    case "certificate":
      return { certificate: X509Certificate.parse(Buffer.from(content.certificate.rawBytes)) }
    case "x509CertificateChain": {
      const leaf = content.x509CertificateChain.certificates[0]
      return leaf ? { certificate: X509Certificate.parse(Buffer.from(leaf.rawBytes)) } : {}
    }
  }
}

/** The in-toto statement of a DSSE payload, or why it is not one. */
function readStatement(bundle: Bundle): Statement | string {
  if (bundle.content.$case !== "dsseEnvelope") return "a message signature, not a DSSE envelope"
  const envelope = bundle.content.dsseEnvelope
  if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE)
    return `a DSSE envelope of ${JSON.stringify(envelope.payloadType)}, not ${IN_TOTO_PAYLOAD_TYPE}`
  let value: Partial<Statement> | undefined
  try {
    value = JSON.parse(envelope.payload.toString("utf8")) as Partial<Statement>
  } catch {
    return "a DSSE envelope whose payload is not JSON"
  }
  const ok =
    typeof value === "object" &&
    value !== null &&
    (value._type === IN_TOTO_STATEMENT_V1 || value._type === IN_TOTO_STATEMENT_V01) &&
    Array.isArray(value.subject) &&
    typeof value.predicateType === "string"
  return ok ? (value as Statement) : "a DSSE envelope whose payload is not an in-toto statement"
}

/** Which verdict a verifier error means, from its code. */
function verdictOf(code: string, keyMode: boolean, hintIsTrusted: boolean): BundleVerdict {
  if (code === "SIGNATURE_ERROR" || code === "TLOG_BODY_ERROR")
    return keyMode && !hintIsTrusted ? "other-key" : "tampered"
  if (code === "CERTIFICATE_ERROR" || code === "PUBLIC_KEY_ERROR") return "untrusted-certificate"
  if (code.startsWith("TLOG") || code === "TIMESTAMP_ERROR") return "unwitnessed"
  return "unverified"
}

const DETAIL: Record<BundleVerdict, string> = {
  verified: "verified",
  unreadable: "not a Sigstore bundle",
  "not-a-statement": "not an in-toto statement",
  "other-key": "signed by another key",
  "untrusted-certificate": "its certificate does not chain to a trusted CA",
  "other-identity": "signed by another identity",
  tampered: "its signature does not match its payload (altered after signing)",
  unwitnessed: "its transparency log entry or timestamp does not verify",
  unverified: "does not verify",
}

/**
 * Checks one bundle's bytes against `trust` and, keyless, `identity`. Never throws: a bundle
 * that cannot be read or verified is a verdict with the reason.
 */
export function checkBundle(bytes: Uint8Array, trust: Trust, identity?: IdentityRule): BundleCheck {
  let bundle: Bundle
  try {
    bundle = bundleFromJSON(JSON.parse(Buffer.from(bytes).toString("utf8")))
  } catch (error) {
    return { verdict: "unreadable", detail: `not a Sigstore bundle (${(error as Error).message})`, signer: "nobody" }
  }
  let material: ReturnType<typeof keyMaterial>
  try {
    material = keyMaterial(bundle)
  } catch {
    return { verdict: "unreadable", detail: "its certificate cannot be parsed", signer: "an unreadable certificate" }
  }
  const claimed = material.certificate ? certificateIdentity(material.certificate) : undefined
  const signer = claimed
    ? `${claimed.identity || "a certificate without SAN"} (issuer ${claimed.issuer || "unknown"})`
    : material.hint
      ? `key ${material.hint}`
      : "a key without hint"
  const read = readStatement(bundle)
  if (typeof read === "string") return { verdict: "not-a-statement", detail: read, signer }
  const statement = read
  const keyMode = trust.keyHint !== undefined
  if (keyMode && material.certificate)
    return {
      verdict: "other-key",
      detail: `signed keyless by ${signer}, not by ${trust.description}`,
      signer,
      statement,
    }
  if (!keyMode && !material.certificate)
    return { verdict: "other-identity", detail: `signed by ${signer}, not by a certificate`, signer, statement }
  let verified: ReturnType<Trust["verifier"]["verify"]>
  try {
    verified = trust.verifier.verify(toSignedEntity(bundle))
  } catch (error) {
    const { code, message } = error as { code?: unknown; message?: unknown }
    const text = typeof code === "string" ? code : "ERROR"
    const verdict = verdictOf(text, keyMode, material.hint === trust.keyHint)
    const why = `${text}: ${typeof message === "string" ? message : String(error)}`
    return { verdict, detail: `${DETAIL[verdict]} (${why})`, signer, statement }
  }
  if (identity) {
    const san = verified.identity?.subjectAlternativeName ?? ""
    const issuer = verified.identity?.extensions?.issuer ?? ""
    if (issuer !== identity.issuer || !identity.identity.test(san))
      return {
        verdict: "other-identity",
        detail: `signed by ${san || "no identity"} (issuer ${issuer || "unknown"}), wanted ${identity.pattern} (issuer ${identity.issuer})`,
        signer,
        statement,
      }
  }
  return { verdict: "verified", detail: "verified", signer, statement }
}

/** The verdict's words. */
export function verdictText(verdict: BundleVerdict): string {
  return DETAIL[verdict]
}
