/**
 * A Fulcio stand-in for the keyless tests, offline: a local CA (ECDSA P-256, made here) behind
 * Fulcio's signing-certificate API as its documentation gives it (`POST /api/v2/signingCert`:
 * `credentials.oidcIdentityToken`, `publicKeyRequest.publicKey` {algorithm, content PEM} and
 * `proofOfPossession`, the token's subject signed by that key; the answer
 * `signedCertificateEmbeddedSct.chain.certificates`, PEM, leaf first). It checks the token against
 * a test OIDC issuer (ES256, made here), then issues a ten-minute code-signing certificate with
 * the identity real Fulcio puts in it: for a GitHub Actions token the SAN URI
 * `https://github.com/<job_workflow_ref>` and the workflow extensions; the issuer in
 * 1.3.6.1.4.1.57264.1.8 (and .1.1). No SCT: the trusted root lists no CT log. Certificates are
 * built with a small DER writer below.
 */
import {
  createHash,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
  verify,
} from "node:crypto"
import { createServer, type Server } from "node:http"
import { type TestIssuer } from "./oidc.js"

/** DER: tag, length, content. */
function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length
  const length =
    n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff])
  return Buffer.concat([Buffer.from([tag]), length, content])
}
const seq = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items))
const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat(items))
const utf8 = (text: string) => tlv(0x0c, Buffer.from(text, "utf8"))
const octets = (bytes: Buffer) => tlv(0x04, bytes)
const bits = (bytes: Buffer, unused = 0) => tlv(0x03, Buffer.concat([Buffer.from([unused]), bytes]))
const bool = (value: boolean) => tlv(0x01, Buffer.from([value ? 0xff : 0]))
const explicit = (n: number, content: Buffer) => tlv(0xa0 + n, content)
function integer(bytes: Buffer): Buffer {
  const trimmed = bytes[0] === 0 && bytes.length > 1 ? bytes.subarray(1) : bytes
  return tlv(0x02, trimmed[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed)
}
function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split(".").map(Number)
  const out = [40 * a! + b!]
  for (const arc of rest) {
    const chunk = [arc & 0x7f]
    for (let v = arc >> 7; v > 0; v >>= 7) chunk.unshift((v & 0x7f) | 0x80)
    out.push(...chunk)
  }
  return tlv(0x06, Buffer.from(out))
}
function time(date: Date): Buffer {
  const text = date
    .toISOString()
    .replace(/[-:T]/g, "")
    .replace(/\.\d+Z$/, "Z")
  return date.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(text.slice(2))) : tlv(0x18, Buffer.from(text))
}
const name = (cn: string) =>
  seq(set(seq(oid("2.5.4.10"), utf8("meetinity-release tests"))), set(seq(oid("2.5.4.3"), utf8(cn))))
const extension = (id: string, critical: boolean, value: Buffer) =>
  seq(oid(id), ...(critical ? [bool(true)] : []), octets(value))
const ECDSA_SHA256 = seq(oid("1.2.840.10045.4.3.2"))
const spki = (key: KeyObject) => key.export({ type: "spki", format: "der" })
/** The key identifier of a public key: SHA-1 of its subjectPublicKey bits (RFC 5280, method 1). */
const keyId = (key: KeyObject) => createHash("sha1").update(spki(key).subarray(-65)).digest()

function certificate(options: {
  subject: Buffer
  issuer: Buffer
  publicKey: KeyObject
  signer: KeyObject
  notBefore: Date
  notAfter: Date
  extensions: Buffer[]
}): Buffer {
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))),
    integer(randomBytes(20)),
    ECDSA_SHA256,
    options.issuer,
    seq(time(options.notBefore), time(options.notAfter)),
    options.subject,
    spki(options.publicKey),
    explicit(3, seq(...options.extensions)),
  )
  return seq(tbs, ECDSA_SHA256, bits(sign("sha256", tbs, options.signer)))
}

const pem = (der: Buffer) =>
  `-----BEGIN CERTIFICATE-----\n${der.toString("base64").replace(/.{64}/g, "$&\n")}\n-----END CERTIFICATE-----\n`.replace(
    /\n\n/g,
    "\n",
  )

/** The stand-in, running: where it answers, its CA certificate, what it issued. */
export interface RunningFulcio {
  readonly url: string
  /** The CA certificate (DER): what the trusted root lists. */
  readonly root: Buffer
  readonly issued: { identity: string; issuer: string }[]
  /** Requests answered (any outcome). */
  readonly requests: number
  stop(): Promise<void>
}

/** The claims checked; the error is the answer's message. */
function checkToken(token: string, issuers: readonly TestIssuer[]): Record<string, unknown> {
  const [header, payload, signature] = token.split(".")
  if (!header || !payload || !signature) throw new Error("the identity token is not a JWT")
  const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as Record<string, unknown>
  const issuer = issuers.find((i) => i.url === claims.iss)
  if (!issuer) throw new Error(`the token's issuer ${String(claims.iss)} is not trusted`)
  const data = Buffer.from(`${header}.${payload}`)
  const sig = Buffer.from(signature, "base64url")
  if (!verify("sha256", data, { key: issuer.publicKey, dsaEncoding: "ieee-p1363" }, sig))
    throw new Error("the token's signature does not verify")
  if (claims.aud !== "sigstore" && !(Array.isArray(claims.aud) && claims.aud.includes("sigstore")))
    throw new Error("the token's audience is not sigstore")
  if (typeof claims.exp !== "number" || claims.exp * 1000 < Date.now()) throw new Error("the token has expired")
  return claims
}

/** The SAN and the extensions real Fulcio writes for a token. */
function identityOf(claims: Record<string, unknown>): { san: Buffer; identity: string; extra: Buffer[] } {
  const text = (key: string) => (typeof claims[key] === "string" ? (claims[key] as string) : "")
  if (text("job_workflow_ref")) {
    const server = "https://github.com"
    const identity = `${server}/${text("job_workflow_ref")}`
    const ext = (n: number, value: string) => extension(`1.3.6.1.4.1.57264.1.${n}`, false, utf8(value))
    return {
      identity,
      san: seq(tlv(0x86, Buffer.from(identity))),
      extra: [
        ext(9, identity),
        ext(11, text("runner_environment")),
        ext(12, `${server}/${text("repository")}`),
        ext(13, text("sha")),
        ext(14, text("ref")),
        ext(21, `${server}/${text("repository")}/actions/runs/${text("run_id")}/attempts/${text("run_attempt")}`),
      ],
    }
  }
  if (text("email")) return { identity: text("email"), san: seq(tlv(0x81, Buffer.from(text("email")))), extra: [] }
  return { identity: text("sub"), san: seq(tlv(0x86, Buffer.from(text("sub")))), extra: [] }
}

/** Starts the stand-in on a free loopback port, trusting `issuers`' tokens. */
export async function startFulcio(issuers: readonly TestIssuer[]): Promise<RunningFulcio> {
  const { privateKey: caKey, publicKey: caPublic } = generateKeyPairSync("ec", { namedCurve: "prime256v1" })
  const caName = name("fulcio stand-in")
  const now = Date.now()
  const root = certificate({
    subject: caName,
    issuer: caName,
    publicKey: caPublic,
    signer: caKey,
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + 10 * 365 * 86400_000),
    extensions: [
      extension("2.5.29.15", true, bits(Buffer.from([0x06]), 1)), // keyCertSign, cRLSign
      extension("2.5.29.19", true, seq(bool(true))),
      extension("2.5.29.14", false, octets(keyId(caPublic))),
    ],
  })
  const issued: RunningFulcio["issued"] = []
  const state = { requests: 0 }
  const issue = (body: Record<string, unknown>): string[] => {
    const request = body as {
      credentials?: { oidcIdentityToken?: string }
      publicKeyRequest?: { publicKey?: { algorithm?: string; content?: string }; proofOfPossession?: string }
    }
    const claims = checkToken(request.credentials?.oidcIdentityToken ?? "", issuers)
    const key = createPublicKey(request.publicKeyRequest?.publicKey?.content ?? "")
    const subject = typeof claims.email === "string" ? claims.email : String(claims.sub)
    const proof = Buffer.from(request.publicKeyRequest?.proofOfPossession ?? "", "base64")
    if (!verify("sha256", Buffer.from(subject), key, proof))
      throw new Error("the proof of possession does not verify: sign the token's subject with the key")
    const { san, identity, extra } = identityOf(claims)
    const issuedAt = Math.floor(Date.now() / 1000) * 1000
    const leaf = certificate({
      subject: seq(),
      issuer: caName,
      publicKey: key,
      signer: caKey,
      notBefore: new Date(issuedAt),
      notAfter: new Date(issuedAt + 600_000),
      extensions: [
        extension("2.5.29.15", true, bits(Buffer.from([0x80]), 7)), // digitalSignature
        extension("2.5.29.37", false, seq(oid("1.3.6.1.5.5.7.3.3"))), // codeSigning
        extension("2.5.29.14", false, octets(keyId(key))),
        extension("2.5.29.35", false, seq(tlv(0x80, keyId(caPublic)))),
        extension("2.5.29.17", true, san),
        extension("1.3.6.1.4.1.57264.1.1", false, Buffer.from(String(claims.iss))),
        extension("1.3.6.1.4.1.57264.1.8", false, utf8(String(claims.iss))),
        ...extra,
      ],
    })
    issued.push({ identity, issuer: String(claims.iss) })
    return [pem(leaf), pem(root)]
  }
  const server: Server = createServer((req, res) => {
    state.requests++
    const chunks: Buffer[] = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => {
      const answer = (status: number, value: object) => {
        res.writeHead(status, { "content-type": "application/json" })
        res.end(JSON.stringify(value))
      }
      if (req.method !== "POST" || req.url !== "/api/v2/signingCert") return answer(404, { message: "not found" })
      try {
        const certificates = issue(JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>)
        answer(201, { signedCertificateEmbeddedSct: { chain: { certificates } } })
      } catch (error) {
        answer(400, { code: 3, message: (error as Error).message })
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address()
  const port = typeof address === "object" && address ? address.port : 0
  return {
    url: `http://127.0.0.1:${port}`,
    root,
    issued,
    get requests() {
      return state.requests
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

/**
 * A trusted root (`trusted_root.json`, media type 0.1) for the stand-ins: the CA, and the log
 * when one is given (its key, its log id: the SHA-256 of the key's DER).
 */
export function trustedRoot(fulcio: RunningFulcio, rekor?: { url: string; publicKey: KeyObject }): string {
  const start = new Date(Date.now() - 86400_000).toISOString()
  const log = rekor && {
    baseUrl: rekor.url,
    hashAlgorithm: "SHA2_256",
    publicKey: {
      rawBytes: spki(rekor.publicKey).toString("base64"),
      keyDetails: "PKIX_ECDSA_P256_SHA_256",
      validFor: { start },
    },
    logId: { keyId: createHash("sha256").update(spki(rekor.publicKey)).digest("base64") },
  }
  return JSON.stringify({
    mediaType: "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
    tlogs: log ? [log] : [],
    certificateAuthorities: [
      {
        subject: { organization: "meetinity-release tests", commonName: "fulcio stand-in" },
        uri: fulcio.url,
        certChain: { certificates: [{ rawBytes: fulcio.root.toString("base64") }] },
        validFor: { start },
      },
    ],
    ctlogs: [],
    timestampAuthorities: [],
  })
}
