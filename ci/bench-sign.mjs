#!/usr/bin/env zx
// Signing benchmark: what signing adds to a publish and what the verification gate adds to a
// deploy, in registry requests and wall time, with the module's own code (src/signing) against
// real registries on the loopback with a fixed latency per request (default 20 ms):
// - distribution 2.8 (Debian's docker-registry, no referrers API: the sha256-<hex> fallback
//   index) behind the token front GHCR's exchange is modelled on (test/support/token-registry.ts);
// - zot v1.4.3 (the referrers API) behind a plain forwarding proxy with the same latency.
// For each: publish's signing of a one-platform busybox image (a key signer; three bundles:
// signature, SLSA provenance, the SPDX SBOM syft made of the image), the same publish again (a
// re-run: nothing to add), and the gate (key policy requiring all three). Then keyless signing
// through the Fulcio and Rekor stand-ins (their requests), and syft's own time on the image.
// Requests are counted where the registry sees them: token exchanges and 401 challenges included.
// Usage: npm run bench:sign [-- --latency 20]
import { $, argv, fs, os, path } from "zx"

const LATENCY = Number(argv.latency ?? 20)
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..")
const build = path.join(root, ".cache", "bench-sign-build")

$.quiet = true
await fs.remove(build)
await $({ cwd: root })`npx tsc -p tsconfig.json --noEmit false --outDir ${build} --declaration false --sourceMap false`
const load = (p) => import(path.join(build, p))
const { RegistryClient } = await load("src/oci/client.js")
const { attachBundles } = await load("src/signing/attach.js")
const { PREDICATE } = await load("src/signing/constants.js")
const { parseVerificationPolicy } = await load("src/signing/policy.js")
const { keySigner, keylessSigner } = await load("src/signing/sign.js")
const { verifyRelease } = await load("src/signing/verify.js")
const { parseTrustedRoot, rootTrust } = await load("src/signing/trust.js")
const { buildBusyboxImage, pushImage } = await load("test/support/busybox-image.js")
const { startRegistry } = await load("test/support/registry.js")
const { startZot } = await load("test/support/zot.js")
const { startTokenRegistry } = await load("test/support/token-registry.js")
const { spdxOfArchive } = await load("test/support/syft.js")
const { statementsOf, RELEASE } = await load("test/support/signed-image.js")
const { startFulcio, trustedRoot } = await load("test/support/fulcio.js")
const { startRekor } = await load("test/support/rekor.js")
const { GITHUB_CLAIMS, testIssuer } = await load("test/support/oidc.js")
const { generateKeyPairSync } = await import("node:crypto")
const { createServer } = await import("node:http")

/** A forwarding proxy that waits LATENCY ms before each request and logs it. */
async function latencyProxy(backend) {
  const log = []
  const server = createServer((request, response) => {
    const chunks = []
    request.on("data", (c) => chunks.push(c))
    request.on("end", async () => {
      log.push({ method: request.method, path: request.url })
      await new Promise((r) => setTimeout(r, LATENCY))
      const headers = {}
      for (const name of ["accept", "content-type"]) if (request.headers[name]) headers[name] = request.headers[name]
      const body = Buffer.concat(chunks)
      const upstream = await fetch(`${backend}${request.url}`, {
        method: request.method,
        headers,
        body: body.length ? body : undefined,
      })
      const out = {}
      upstream.headers.forEach((value, name) => (out[name] = value))
      delete out["content-encoding"]
      delete out["transfer-encoding"]
      response.writeHead(upstream.status, out)
      response.end(Buffer.from(await upstream.arrayBuffer()))
    })
  })
  await new Promise((r) => server.listen(0, "127.0.0.1", r))
  const host = `127.0.0.1:${server.address().port}`
  return { host, log, stop: () => new Promise((r) => server.close(r)) }
}

/** Requests by kind, from a proxy's log. */
function kinds(entries) {
  const count = {}
  for (const { method, path: p } of entries) {
    const kind = p.startsWith("/token")
      ? "token"
      : /\/referrers\//.test(p)
        ? `${method} referrers`
        : /\/blobs\/uploads\//.test(p)
          ? `${method} upload`
          : /\/blobs\//.test(p)
            ? `${method} blob`
            : /\/manifests\//.test(p)
              ? `${method} manifest`
              : `${method} other`
    count[kind] = (count[kind] ?? 0) + 1
  }
  return Object.entries(count)
    .sort()
    .map(([k, n]) => `${n} ${k}`)
    .join(", ")
}

const work = await fs.mkdtemp(path.join(os.tmpdir(), "bench-sign-"))
const image = buildBusyboxImage(work)
const started = performance.now()
const sbom = await spdxOfArchive(image.archive, "meetinity/api-gateway")
const syftSeconds = (performance.now() - started) / 1000
const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" })
const signer = keySigner(privateKey.export({ type: "pkcs8", format: "pem" }))
const policy = parseVerificationPolicy({
  verify: "key",
  publicKey: publicKey.export({ type: "spki", format: "pem" }),
  require: ["signature", "provenance", "sbom"],
})
const OWNER = "meetinity"
const PASSWORD = "ghp_bench"
const repository = `${OWNER}/api-gateway`

// distribution 2.8 must answer relative upload Locations to be reached through a front.
process.env.REGISTRY_HTTP_RELATIVEURLS = "true"
const distribution = await startRegistry()
const zot = await startZot()
const fronts = [
  {
    name: "distribution 2.8, fallback index, token front",
    backend: distribution,
    front: await startTokenRegistry(distribution.url, { username: OWNER, password: PASSWORD, latencyMs: LATENCY }),
    credentials: { username: OWNER, password: PASSWORD },
  },
  { name: "zot v1.4.3, referrers API", backend: zot, front: await latencyProxy(zot.url) },
]

const rows = []
async function measure(label, front, run) {
  const before = front.log.length
  const t = performance.now()
  const result = await run()
  rows.push({
    label,
    requests: front.log.length - before,
    kinds: kinds(front.log.slice(before)),
    ms: performance.now() - t,
    result,
  })
  return result
}

try {
  console.log(`bench:sign: one-platform busybox image, ${LATENCY} ms per registry request`)
  for (const { name, backend, front, credentials } of fronts) {
    pushImage(image, backend.host, repository, RELEASE.version)
    const client = () => new RegistryClient({ scheme: "http", host: front.host }, credentials)
    const address = `ghcr.io/${repository}`
    const attach = () =>
      attachBundles({
        client: client(),
        repository,
        digest: image.digest,
        signer,
        statements: statementsOf(address, image.digest, sbom),
        expected: RELEASE,
      })
    const gate = () => verifyRelease({ client: client(), repository, address, digest: image.digest }, policy, RELEASE)
    console.log(`\n${name}`)
    const first = await measure("publish: sign + attach 3", front, attach)
    const again = await measure("publish re-run (nothing to add)", front, attach)
    const checked = await measure("deploy gate (3 required)", front, gate)
    for (const row of rows.splice(0)) {
      console.log(
        `  ${row.label.padEnd(34)} ${String(row.requests).padStart(3)} requests ${(row.ms / 1000).toFixed(2).padStart(6)} s   ${row.kinds}`,
      )
    }
    console.log(
      `  (the module's own count: publish ${first.requests}, re-run ${again.requests}, gate ${checked.requests}; the rest are token exchanges and 401 challenges)`,
    )
    if (first.added.length !== 3 || again.added.length !== 0 || !checked.ok) process.exitCode = 1
  }

  const issuer = testIssuer()
  const fulcio = await startFulcio([issuer])
  const rekor = await startRekor()
  try {
    const token = issuer.token(GITHUB_CLAIMS)
    const keyless = keylessSigner({ oidcToken: token, fulcioUrl: fulcio.url, rekorUrl: rekor.url })
    const t = performance.now()
    const report = await attachBundles({
      client: new RegistryClient({ scheme: "http", host: zot.host }),
      repository: `${OWNER}/keyless`,
      digest: (pushImage(image, zot.host, `${OWNER}/keyless`, RELEASE.version), image.digest),
      signer: keyless,
      statements: statementsOf(`ghcr.io/${OWNER}/keyless`, image.digest, sbom),
      expected: RELEASE,
      trust: rootTrust(parseTrustedRoot(trustedRoot(fulcio, rekor))),
    })
    console.log(
      `\nkeyless (Fulcio and Rekor stand-ins, no latency): ${report.added.length} bundles, ${fulcio.requests} Fulcio request(s), ${rekor.requests} Rekor request(s), ${((performance.now() - t) / 1000).toFixed(2)} s`,
    )
  } finally {
    await fulcio.stop()
    await rekor.stop()
  }
  console.log(
    `syft: the SPDX SBOM of the image's oci-archive in ${syftSeconds.toFixed(2)} s (the binary; publish runs it in a container)`,
  )
} finally {
  for (const { front } of fronts) await front.stop()
  await distribution.stop()
  await zot.stop()
  await fs.remove(work)
  await fs.remove(build)
}
