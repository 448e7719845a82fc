/**
 * A Rekor v1 stand-in for the keyless tests, offline: `POST /api/v1/log/entries` with a proposed
 * `dsse` v0.0.1 entry (what sigstore-js's RekorWitness sends) answers the entry as Rekor does:
 * the canonicalized body (`envelopeHash`, `payloadHash`, `signatures` [{signature, verifier}]),
 * `integratedTime`, `logID` (SHA-256 of the log key's DER), `logIndex`, and `verification` with
 * the signed entry timestamp (the log key's signature over the canonical
 * {body, integratedTime, logID, logIndex}) and an RFC 6962 inclusion proof in a tree of every
 * entry so far, with its checkpoint (a signed note: origin, size, root). Only what a verifier
 * checks is there; no search, no retrieval, no persistence.
 */
import { createHash, generateKeyPairSync, type KeyObject, randomUUID, sign } from "node:crypto"
import { createServer, type Server } from "node:http"

const sha256 = (...parts: Buffer[]) => {
  const hash = createHash("sha256")
  for (const part of parts) hash.update(part)
  return hash.digest()
}
const leafHash = (leaf: Buffer) => sha256(Buffer.from([0]), leaf)
const nodeHash = (left: Buffer, right: Buffer) => sha256(Buffer.from([1]), left, right)

/** RFC 6962 MTH of leaf hashes. */
function treeHash(leaves: readonly Buffer[]): Buffer {
  if (leaves.length === 1) return leaves[0]!
  const k = 2 ** Math.floor(Math.log2(leaves.length - 1))
  return nodeHash(treeHash(leaves.slice(0, k)), treeHash(leaves.slice(k)))
}

/** RFC 6962 PATH(m, D[n]): the audit path of leaf m, lowest level first. */
function auditPath(m: number, leaves: readonly Buffer[]): Buffer[] {
  if (leaves.length <= 1) return []
  const k = 2 ** Math.floor(Math.log2(leaves.length - 1))
  return m < k
    ? [...auditPath(m, leaves.slice(0, k)), treeHash(leaves.slice(k))]
    : [...auditPath(m - k, leaves.slice(k)), treeHash(leaves.slice(0, k))]
}

/** JSON with keys sorted at every level (Rekor's canonical form for these bodies). */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`
  if (value && typeof value === "object")
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`)
      .join(",")}}`
  return JSON.stringify(value)
}

export interface RunningRekor {
  readonly url: string
  readonly publicKey: KeyObject
  /** Entries logged. */
  readonly entries: number
  /** Requests answered (any outcome). */
  readonly requests: number
  stop(): Promise<void>
}

interface ProposedDsse {
  apiVersion?: string
  kind?: string
  spec?: { proposedContent?: { envelope?: string; verifiers?: string[] } }
}

/** Starts the stand-in on a free loopback port with a log key made here. */
export async function startRekor(): Promise<RunningRekor> {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" })
  const logId = sha256(publicKey.export({ type: "spki", format: "der" }))
  const leaves: Buffer[] = []
  const state = { requests: 0 }
  let origin = ""

  const log = (proposed: ProposedDsse) => {
    const content = proposed.spec?.proposedContent
    if (proposed.kind !== "dsse" || proposed.apiVersion !== "0.0.1" || !content?.envelope || !content.verifiers?.[0])
      throw new Error("only dsse v0.0.1 entries with an envelope and a verifier are accepted")
    const envelope = JSON.parse(content.envelope) as { payload: string; signatures: { sig: string }[] }
    if (envelope.signatures.length !== 1) throw new Error("the envelope must have exactly one signature")
    const body = Buffer.from(
      canonical({
        apiVersion: "0.0.1",
        kind: "dsse",
        spec: {
          envelopeHash: { algorithm: "sha256", value: sha256(Buffer.from(content.envelope)).toString("hex") },
          payloadHash: {
            algorithm: "sha256",
            value: sha256(Buffer.from(envelope.payload, "base64")).toString("hex"),
          },
          signatures: [{ signature: envelope.signatures[0]!.sig, verifier: content.verifiers[0] }],
        },
      }),
    )
    leaves.push(leafHash(body))
    const logIndex = leaves.length - 1
    const integratedTime = Math.floor(Date.now() / 1000)
    const set = sign(
      "sha256",
      Buffer.from(canonical({ body: body.toString("base64"), integratedTime, logID: logId.toString("hex"), logIndex })),
      privateKey,
    )
    const root = treeHash(leaves)
    const note = `${origin} - 1\n${leaves.length}\n${root.toString("base64")}\n`
    const noteSignature = Buffer.concat([logId.subarray(0, 4), sign("sha256", Buffer.from(note), privateKey)])
    return {
      [randomUUID().replace(/-/g, "")]: {
        body: body.toString("base64"),
        integratedTime,
        logID: logId.toString("hex"),
        logIndex,
        verification: {
          signedEntryTimestamp: set.toString("base64"),
          inclusionProof: {
            logIndex,
            treeSize: leaves.length,
            rootHash: root.toString("hex"),
            hashes: auditPath(logIndex, leaves).map((h) => h.toString("hex")),
            checkpoint: `${note}\n\u2014 ${origin} ${noteSignature.toString("base64")}\n`,
          },
        },
      },
    }
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
      if (req.method !== "POST" || req.url !== "/api/v1/log/entries") return answer(404, { message: "not found" })
      try {
        answer(201, log(JSON.parse(Buffer.concat(chunks).toString()) as ProposedDsse))
      } catch (error) {
        answer(400, { code: 400, message: (error as Error).message })
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address()
  const port = typeof address === "object" && address ? address.port : 0
  // The checkpoint's signer name must be found in the log's base URL (sigstore-js matches it so).
  origin = `127.0.0.1:${port}`
  return {
    url: `http://127.0.0.1:${port}`,
    publicKey,
    get entries() {
      return leaves.length
    },
    get requests() {
      return state.requests
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
