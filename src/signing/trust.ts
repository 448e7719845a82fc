/**
 * What a signature is checked against: a public key (key mode: no certificate, no log), or a
 * Sigstore trusted root (keyless: the Fulcio CAs, and the Rekor logs, CT logs and timestamp
 * authorities whose witness it requires). The public-good root comes from Sigstore's TUF
 * repository, or offline from the copy `@sigstore/tuf` ships.
 */
import { createPublicKey, type KeyObject } from "node:crypto"
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"

import { TrustedRoot } from "@sigstore/protobuf-specs"
import { getTrustedRoot } from "@sigstore/tuf"
import { toTrustMaterial, type TrustMaterial, Verifier, type VerifierOptions } from "@sigstore/verify"

import { InvalidArgumentError } from "../common/errors.js"
import { keyHint } from "./sign.js"

/** A verifier and what it trusts, for messages. */
export interface Trust {
  readonly verifier: Verifier
  /** `key <hint>` or `trusted root: Fulcio ..., Rekor ...`. */
  readonly description: string
  /** Key mode: the trusted key's hint (what a bundle made with it carries). */
  readonly keyHint?: string
}

const EMPTY_ROOT: TrustedRoot = {
  mediaType: "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
  tlogs: [],
  certificateAuthorities: [],
  ctlogs: [],
  timestampAuthorities: [],
}

/** A public key in PEM (SPKI `PUBLIC KEY`), as `cosign verify --key` takes it; ECDSA P-256 only. */
export function parsePublicKey(pem: string, argument = "publicKey"): KeyObject {
  let key: KeyObject
  try {
    key = createPublicKey({ key: pem, format: "pem" })
  } catch {
    throw new InvalidArgumentError(
      argument,
      pem.length > 60 ? `${pem.slice(0, 60)}…` : pem,
      "is not a PEM public key: expected -----BEGIN PUBLIC KEY----- (cosign.pub, or openssl ec -pubout)",
    )
  }
  if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1")
    throw new InvalidArgumentError(
      argument,
      `<a ${key.asymmetricKeyType ?? "unknown"} public key>`,
      "is not an ECDSA P-256 public key: expected the public half of the signing key (cosign.pub)",
    )
  return key
}

/** Trust in one public key: bundles must carry no certificate; no log or timestamp is required. */
export function keyTrust(publicKey: KeyObject): Trust {
  const material = toTrustMaterial(EMPTY_ROOT, () => ({ publicKey, validFor: () => true }))
  const hint = keyHint(publicKey)
  return {
    verifier: new Verifier(material, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }),
    description: `key ${hint}`,
    keyHint: hint,
  }
}

/**
 * Trust in a Sigstore trusted root (JSON, `trusted_root.json`): a certificate must chain to one
 * of its CAs at a witnessed time, and every kind of witness the root lists is required once: a
 * Rekor entry when it lists logs, an SCT when it lists CT logs. GitHub's own instance lists
 * timestamp authorities only, the public-good instance all of them.
 */
export function rootTrust(root: TrustedRoot, thresholds: VerifierOptions = {}): Trust {
  const material: TrustMaterial = toTrustMaterial(root)
  const options: VerifierOptions = {
    tlogThreshold: root.tlogs.length > 0 ? 1 : 0,
    ctlogThreshold: root.ctlogs.length > 0 ? 1 : 0,
    timestampThreshold: 1,
    ...thresholds,
  }
  const cas = root.certificateAuthorities.map((ca) => ca.uri || ca.subject?.commonName || "a CA")
  const logs = root.tlogs.map((log) => log.baseUrl)
  return {
    verifier: new Verifier(material, options),
    description: `trusted root: CA ${[...new Set(cas)].join(", ") || "none"}${logs.length ? `, Rekor ${[...new Set(logs)].join(", ")}` : ""}`,
  }
}

/** A trusted root's JSON text (`trusted_root.json`), parsed; refuses anything else, naming the argument. */
export function parseTrustedRoot(json: string, argument = "trustedRoot"): TrustedRoot {
  let value: unknown
  try {
    value = JSON.parse(json)
  } catch {
    value = undefined
  }
  const mediaType = (value as { mediaType?: unknown } | undefined)?.mediaType
  if (typeof mediaType !== "string" || !mediaType.startsWith("application/vnd.dev.sigstore.trustedroot"))
    throw new InvalidArgumentError(
      argument,
      json.length > 60 ? `${json.slice(0, 60)}…` : json,
      'is not a Sigstore trusted root: expected the JSON of trusted_root.json ("mediaType": "application/vnd.dev.sigstore.trustedroot...")',
    )
  return TrustedRoot.fromJSON(value)
}

/** The public-good trusted root `@sigstore/tuf` ships in its seeds (no network): as of its release. */
export function shippedPublicGoodRoot(): TrustedRoot {
  const require = createRequire(import.meta.url)
  const seeds = JSON.parse(readFileSync(require.resolve("@sigstore/tuf/seeds.json"), "utf8")) as Record<
    string,
    { targets: Record<string, string> }
  >
  const target = seeds["https://tuf-repo-cdn.sigstore.dev"]?.targets["trusted_root.json"]
  if (!target) throw new Error("@sigstore/tuf's seeds.json has no trusted_root.json for tuf-repo-cdn.sigstore.dev")
  return TrustedRoot.fromJSON(JSON.parse(Buffer.from(target, "base64").toString("utf8")))
}

/**
 * The public-good trusted root, fresh from Sigstore's TUF repository (tuf-repo-cdn.sigstore.dev,
 * cached under `cachePath`); with `offline`, the copy `@sigstore/tuf` ships.
 */
export async function publicGoodRoot(options: { offline?: boolean; cachePath?: string } = {}): Promise<TrustedRoot> {
  if (options.offline) return shippedPublicGoodRoot()
  return getTrustedRoot(options.cachePath ? { cachePath: options.cachePath } : {})
}
