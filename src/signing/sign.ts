/**
 * Signing in-toto statements into Sigstore bundles v0.3 (a DSSE envelope), in the module's own
 * process with sigstore-js: with a PEM private key (ECDSA P-256, no transparency log, what
 * `cosign verify --key` accepts), or keyless with an OIDC token (a Fulcio certificate, then a
 * Rekor entry and/or an RFC 3161 timestamp). The key and the token never appear in a message.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign } from "node:crypto"

import { bundleToJSON } from "@sigstore/bundle"
import { DSSEBundleBuilder, FulcioSigner, RekorWitness, type Signer, TSAWitness, type Witness } from "@sigstore/sign"

import { InvalidArgumentError } from "../common/errors.js"
import { redact } from "../common/redact.js"
import { IN_TOTO_PAYLOAD_TYPE } from "./constants.js"
import { decodeJwtClaims, githubActionsIdentity, githubCertificateIdentity } from "./oidc.js"
import { type Statement, statementBytes } from "./statement.js"

/** One signed statement: its predicate type and the bundle's JSON bytes, as stored in the registry. */
export interface SignedStatement {
  readonly predicateType: string
  readonly bundle: Uint8Array
}

/** Who signs: what a bundle this signer made is verified against. */
export type SignerIdentity =
  | { readonly kind: "key"; readonly publicKey: string; readonly hint: string }
  | { readonly kind: "keyless"; readonly issuer: string; readonly identity: string }

/** Signs statements, one bundle each. */
export interface StatementSigner {
  readonly identity: SignerIdentity
  /** `key <hint>` or `<identity> (issuer <issuer>)`: for messages. */
  readonly description: string
  sign(statement: Statement): Promise<SignedStatement>
}

/** Signing failed at a service (Fulcio, Rekor, a timestamp authority); the message says which and why. */
export class SigningError extends Error {
  override name = "SigningError"
}

/** cosign's key hint: the base64 SHA-256 of the public key's DER SubjectPublicKeyInfo. */
export function keyHint(publicKey: KeyObject): string {
  return createHash("sha256")
    .update(publicKey.export({ type: "spki", format: "der" }))
    .digest("base64")
}

/** A private key's description that never shows the key itself. */
function describeKeyText(pem: string): string {
  const label = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(pem)?.[1]
  return label ? `<a PEM "${label}" block of ${pem.length} characters>` : `<${pem.length} characters, no PEM block>`
}

/**
 * The signing key of a PEM text (PKCS#8 `PRIVATE KEY` or SEC1 `EC PRIVATE KEY`, not encrypted):
 * it must be ECDSA P-256, the curve cosign's own keys and Sigstore use. Refuses anything else
 * with an argument error that describes, never quotes, what was given.
 */
export function parseSigningKey(pem: string, argument = "signingKey"): KeyObject {
  let key: KeyObject
  try {
    key = createPrivateKey({ key: pem, format: "pem" })
  } catch {
    const encrypted = /ENCRYPTED/.test(pem)
    throw new InvalidArgumentError(
      argument,
      describeKeyText(pem),
      encrypted
        ? "is an encrypted private key: expected an unencrypted PKCS#8 or SEC1 PEM ECDSA P-256 key (cosign's encrypted cosign.key cannot be read; pass the key cosign import-key-pair was given)"
        : "is not a PEM private key: expected an unencrypted PKCS#8 (BEGIN PRIVATE KEY) or SEC1 (BEGIN EC PRIVATE KEY) ECDSA P-256 key",
    )
  }
  const curve = key.asymmetricKeyDetails?.namedCurve
  if (key.asymmetricKeyType !== "ec" || curve !== "prime256v1")
    throw new InvalidArgumentError(
      argument,
      `<a ${key.asymmetricKeyType ?? "unknown"}${curve ? ` ${curve}` : ""} private key>`,
      "is not an ECDSA P-256 key: expected an EC key on prime256v1 (P-256), as cosign generate-key-pair makes",
    )
  return key
}

/**
 * A new ECDSA P-256 key pair as PEM (PKCS#8 private, SPKI public): what a rehearsal signs with
 * and verifies against, made in memory for that one run.
 */
export function newSigningKey(): { privateKey: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" })
  return {
    privateKey: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicKey: publicKey.export({ type: "spki", format: "pem" }).toString(),
  }
}

const builder = (signer: Signer, witnesses: Witness[]) => new DSSEBundleBuilder({ signer, witnesses })

async function signWith(
  bundles: DSSEBundleBuilder,
  statement: Statement,
  secrets: readonly string[],
  where: string,
): Promise<SignedStatement> {
  try {
    const bundle = await bundles.create({ data: statementBytes(statement), type: IN_TOTO_PAYLOAD_TYPE })
    // No DSSE keyid, as cosign writes it: cosign (go-securesystemslib) skips a signature whose
    // keyid is not its verifier's, and a key loaded from a PEM has none. The bundle's
    // verification material keeps the key's hint; the signature does not cover the keyid.
    for (const signature of bundle.content.dsseEnvelope.signatures) signature.keyid = ""
    return { predicateType: statement.predicateType, bundle: Buffer.from(JSON.stringify(bundleToJSON(bundle))) }
  } catch (error) {
    throw new SigningError(`signing ${statement.predicateType} ${where} failed: ${redact(explain(error), secrets)}`)
  }
}

/** sigstore-js's error in words: its code, message and cause chain. */
function explain(error: unknown): string {
  const parts: string[] = []
  for (let e: unknown = error; e && parts.length < 4; e = (e as { cause?: unknown }).cause) {
    const { code, message } = e as { code?: unknown; message?: unknown }
    parts.push([typeof code === "string" ? code : "", typeof message === "string" ? message : String(e)].join(": "))
  }
  return parts.join(" <- ").replace(/^: /, "")
}

/** A signer with a PEM private key (ECDSA P-256): bundles carry the key's hint, no certificate, no log entry. */
export function keySigner(pem: string, argument = "signingKey"): StatementSigner {
  const privateKey = parseSigningKey(pem, argument)
  const publicKey = createPublicKey(privateKey)
  const publicPem = publicKey.export({ type: "spki", format: "pem" }).toString()
  const hint = keyHint(publicKey)
  const signer: Signer = {
    sign: async (data) => ({
      signature: sign("sha256", data, privateKey),
      key: { $case: "publicKey", publicKey: publicPem, hint },
    }),
  }
  const bundles = builder(signer, [])
  return {
    identity: { kind: "key", publicKey: publicPem, hint },
    description: `key ${hint}`,
    sign: (statement) => signWith(bundles, statement, [], "with the key"),
  }
}

/** How long a Fulcio certificate is used for more signatures: half its ten-minute life. */
export const CERTIFICATE_REUSE_MS = 5 * 60_000

/** Where keyless signing goes: Fulcio, and a transparency log and/or a timestamp authority. */
export interface KeylessOptions {
  /** The OIDC identity token (audience `sigstore`): the Secret's plaintext. */
  readonly oidcToken: string
  /** `https://fulcio.sigstore.dev` (public repositories) or `https://fulcio.githubapp.com` (GitHub's instance). */
  readonly fulcioUrl: string
  /** Rekor v1 (`https://rekor.sigstore.dev`); undefined: no transparency log entry. */
  readonly rekorUrl?: string
  /** An RFC 3161 timestamp authority (`https://timestamp.githubapp.com/api/v1/timestamp`); undefined: none. */
  readonly timestampUrl?: string
  /** Per request, default 30 s. */
  readonly timeoutMs?: number
}

/** The certificate identity Fulcio issues for a token: GitHub Actions' workflow URI, else the email or subject. */
export function expectedCertificateIdentity(token: string): { issuer: string; identity: string } {
  const claims = decodeJwtClaims(token)
  const issuer = typeof claims.iss === "string" ? claims.iss : ""
  if (typeof claims.job_workflow_ref === "string")
    return { issuer, identity: githubCertificateIdentity(githubActionsIdentity(claims)) }
  const identity = typeof claims.email === "string" ? claims.email : typeof claims.sub === "string" ? claims.sub : ""
  return { issuer, identity }
}

/**
 * A keyless signer: one ephemeral P-256 key and one Fulcio certificate for the statements it
 * signs within five minutes (a publish's three bundles cost one certificate), each bundle then witnessed by Rekor
 * and/or a timestamp authority, as configured (at least one: a certificate lives ten minutes,
 * and only a witnessed time lets a verifier check it was valid when the signature was made).
 */
export function keylessSigner(options: KeylessOptions): StatementSigner {
  const token = options.oidcToken.trim()
  const claims = decodeJwtClaims(token)
  if (typeof claims.iss !== "string" || (typeof claims.sub !== "string" && typeof claims.email !== "string"))
    throw new InvalidArgumentError(
      "oidcToken",
      "<a token without iss and sub claims>",
      "is not an OIDC identity token: expected iss and sub (or email) claims",
    )
  for (const [argument, url] of [
    ["fulcioUrl", options.fulcioUrl],
    ["rekorUrl", options.rekorUrl],
    ["timestampUrl", options.timestampUrl],
  ] as const) {
    if (url !== undefined && !/^https?:\/\/[^\s/]+(\/\S*)?$/.test(url))
      throw new InvalidArgumentError(argument, url, "is not a URL: expected https://host[/path]")
  }
  if (!options.rekorUrl && !options.timestampUrl)
    throw new InvalidArgumentError(
      "rekorUrl",
      options.rekorUrl ?? "",
      "is empty and so is timestampUrl: keyless signing needs a transparency log or a timestamp authority to witness the time of signing",
    )
  const timeout = options.timeoutMs ?? 30_000
  const retry = { retries: 2 }
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" })
  const publicPem = publicKey.export({ type: "spki", format: "pem" }).toString()
  const keyHolder: Signer = {
    sign: async (data) => ({
      signature: sign("sha256", data, privateKey),
      key: { $case: "publicKey", publicKey: publicPem },
    }),
  }
  const fulcio = new FulcioSigner({
    fulcioBaseURL: options.fulcioUrl.replace(/\/+$/, ""),
    identityProvider: { getToken: async () => token },
    keyHolder,
    timeout,
    retry,
  })
  // One certificate for the statements signed within CERTIFICATE_REUSE_MS of it (a publish's
  // three, unless making the SBOM took long): Fulcio's certificates live ten minutes.
  let certificate: { value: Promise<string>; at: number } | undefined
  const signer: Signer = {
    sign: async (data) => {
      if (!certificate || Date.now() - certificate.at > CERTIFICATE_REUSE_MS) {
        const first = fulcio.sign(data)
        const value = first.then((signature) => {
          if (signature.key.$case !== "x509Certificate") throw new SigningError("Fulcio answered without a certificate")
          return signature.key.certificate
        })
        const current = { value, at: Date.now() }
        certificate = current
        value.catch(() => {
          if (certificate === current) certificate = undefined
        })
        return first
      }
      return {
        signature: sign("sha256", data, privateKey),
        key: { $case: "x509Certificate", certificate: await certificate.value },
      }
    },
  }
  const witnesses: Witness[] = [
    ...(options.rekorUrl
      ? [new RekorWitness({ rekorBaseURL: options.rekorUrl, entryType: "dsse", fetchOnConflict: true, timeout, retry })]
      : []),
    ...(options.timestampUrl ? [new TSAWitness({ tsaBaseURL: options.timestampUrl, timeout, retry })] : []),
  ]
  const bundles = builder(signer, witnesses)
  const expected = expectedCertificateIdentity(token)
  const where = `keyless (Fulcio ${options.fulcioUrl}${options.rekorUrl ? `, Rekor ${options.rekorUrl}` : ""}${options.timestampUrl ? `, timestamp authority ${options.timestampUrl}` : ""})`
  return {
    identity: { kind: "keyless", ...expected },
    description: `${expected.identity} (issuer ${expected.issuer})`,
    sign: (statement) => signWith(bundles, statement, [token, ...token.split(".")], where),
  }
}
