#!/usr/bin/env zx
// Retention benchmark: seeds a package of N versions (default 10,000, a realistic mix) on the
// local GitHub packages API server with a fixed latency per request (default 20 ms), puts the
// manifests of the kept images in a real docker-registry behind a token front with the same
// latency, runs a dry-run plan, and prints requests by kind, wall time and the ratio to the
// lower bound: ceil(N/100) list pages + the manifests the decision needs (+ deletions: 0 in a
// dry run). Usage: npm run bench:retention [-- --versions 10000 --latency 20]
import { $, argv, fs, path } from "zx"

const N = Number(argv.versions ?? 10_000)
const LATENCY = Number(argv.latency ?? 20)
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..")
const build = path.join(root, ".cache", "bench-build")

$.quiet = true
await fs.remove(build)
await $({ cwd: root })`npx tsc -p tsconfig.json --noEmit false --outDir ${build} --declaration false --sourceMap false`
const load = (p) => import(path.join(build, p))
const { createGitHubClient } = await load("src/github.js")
const { RegistryClient } = await load("src/registry.js")
const { runRetention } = await load("src/retention/run.js")
const { startGitHubApi } = await load("test/support/github-api.js")
const { startRegistry } = await load("test/support/registry.js")
const { startTokenRegistry } = await load("test/support/token-registry.js")
const { OciPusher } = await load("test/support/oci.js")
const { createHash } = await import("node:crypto")

const OWNER = "meetinity"
const NAME = "api-gateway"
const TOKEN = "ghp_bench"
const registry = await startRegistry()
const front = await startTokenRegistry(registry.url, { username: OWNER, password: TOKEN, latencyMs: LATENCY })
const push = new OciPusher(registry.url)
const repository = `${OWNER}/${NAME}`

// The mix, oldest first: every 20th image is a release (multi-arch index: 2 platforms + 2
// attestation manifests, a cosign signature); every 4th build is multi-arch the same way; one
// orphan for every 10 images. Only kept images get real manifests (a dry run reads nothing else).
const fake = (i) => `sha256:${createHash("sha256").update(`bench ${i}`).digest("hex")}`
const versions = []
let id = 0
let t = Date.parse("2024-01-01T00:00:00Z")
const add = (name, tags) => versions.push({ id: ++id, name, created_at: new Date((t += 60_000)).toISOString(), updated_at: new Date(t).toISOString(), tags })
const plannedImages = []
for (let i = 0; versions.length < N; i++) {
  const release = i % 20 === 19
  const multi = release || i % 4 === 0
  plannedImages.push({ i, release, multi, tags: release ? [`v1.${i}.0`, `sha-${(0x1000000 + i).toString(16)}`] : [`sha-${(0x1000000 + i).toString(16)}`] })
  const children = multi ? [fake(`${i}/amd`), fake(`${i}/arm`), fake(`${i}/att1`), fake(`${i}/att2`)] : []
  for (const child of children) add(child, [])
  add(fake(i), plannedImages.at(-1).tags)
  plannedImages.at(-1).versionIndex = versions.length - 1
  if (release) add(fake(`${i}/sig`), [`${fake(i).replace(":", "-")}.sig`])
  if (i % 10 === 3) add(fake(`${i}/orphan`), [])
}
versions.length = N
// Kept: releases and the newest 30 builds. Give them real manifests and use their real digests.
const builds = plannedImages.filter((p) => !p.release && p.versionIndex < N)
const kept = new Set([...plannedImages.filter((p) => p.release && p.versionIndex < N), ...builds.slice(-30)])
let seeded = 0
for (const image of kept) {
  const pushed = image.multi
    ? (await push.multiArch(repository, `bench ${image.i}`, ["linux/amd64", "linux/arm64"], { tag: image.tags[0], attestations: true }))
    : { index: await push.image(repository, `bench ${image.i}`, { tag: image.tags[0] }), children: [] }
  const version = versions[image.versionIndex]
  const old = version.name
  version.name = pushed.index.digest
  // Rename the untagged children and the signature to the real digests.
  pushed.children.forEach((child, k) => { versions[image.versionIndex - pushed.children.length + k].name = child.digest })
  const sig = versions[image.versionIndex + 1]
  if (sig && sig.tags[0]?.startsWith(old.replace(":", "-"))) {
    // A signature of a kept image is kept too, and its manifest read: push a real one.
    sig.tags = [`${version.name.replace(":", "-")}.sig`]
    sig.name = (await push.image(repository, `bench sig ${image.i}`, { tag: sig.tags[0] })).digest
  }
  seeded++
}

const api = await startGitHubApi({ owners: { [OWNER]: "Organization" }, tokens: { [TOKEN]: { login: "bench", scopes: ["read:packages", "delete:packages"] } }, latencyMs: LATENCY })
api.addPackage(OWNER, NAME, versions)

let result, wall
try {
const started = performance.now()
result = await runRetention(
  {
    github: createGitHubClient({ token: TOKEN, baseUrl: api.url, log: () => {} }),
    registry: new RegistryClient({ scheme: "http", host: front.host }, { username: OWNER, password: TOKEN }),
    repository,
    log: () => {},
  },
  { owner: OWNER, packageName: NAME, policy: { keep: 30, graceMinutes: 0 }, dryRun: true, maxDeletions: 100_000, now: new Date("2026-11-28T00:00:00Z") },
)
wall = performance.now() - started
} catch (error) {
  await api.stop()
  await front.stop()
  await registry.stop()
  throw error
}

const manifestGets = front.log.filter((e) => e.method === "GET" && e.path.includes("/manifests/")).length
const tokenGets = front.log.filter((e) => e.path.startsWith("/token")).length
const challenged = front.log.filter((e) => e.path.includes("/manifests/") && e.auth === "").length
const pages = api.counts.get("GET list") ?? 0
const keptTagged = result.plan.versions.filter((v) => v.decision === "keep" && v.tags.length > 0).length
const lowerBound = Math.ceil(N / 100) + keptTagged
const total = [...api.counts.values()].reduce((a, b) => a + b, 0) + manifestGets + tokenGets
const plannedDeletes = result.plan.deletions.length

console.log(`retention benchmark: ${N} versions, ${LATENCY} ms per request (API and registry), dry run`)
console.log(`  versions kept ${result.plan.versions.length - plannedDeletes}, to delete ${plannedDeletes}`)
console.log(`  requests by kind:`)
for (const [kind, n] of [...api.counts.entries()].sort()) console.log(`    API ${kind.padEnd(22)} ${n}`)
console.log(`    registry manifest GET      ${manifestGets} (of which ${challenged} answered 401 first, to learn the token scope)`)
console.log(`    registry token GET         ${tokenGets}`)
console.log(`  total requests              ${total}`)
console.log(`  lower bound                 ${lowerBound} = ${Math.ceil(N / 100)} list pages + ${keptTagged} manifests of kept tagged images + 0 deletions`)
console.log(`  ratio to lower bound        ${(total / lowerBound).toFixed(3)}`)
console.log(`  wall time                   ${(wall / 1000).toFixed(2)} s (all requests one after another: ${((total * LATENCY) / 1000).toFixed(2)} s)`)
console.log(`  manifests seeded            ${seeded} images in the registry`)

await api.stop()
await front.stop()
await registry.stop()
await fs.remove(build)
