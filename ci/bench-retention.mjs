#!/usr/bin/env zx
// Retention benchmark: seeds a package of N versions (default 10,000, a realistic mix) on the
// local GitHub packages API server with a fixed latency per request (default 20 ms), puts the
// manifests the plan reads in a real docker-registry behind a token front with the same latency,
// runs a dry-run plan, and prints requests by kind, wall time and the ratio to the lower bound:
// ceil(N/100) list pages + the manifests of kept tagged images + the manifests of untagged
// versions no kept index holds (each may be an OCI 1.1 referrer of a kept image: only its own
// manifest says so) + deletions (0 in a dry run).
//
// Then the drain: the same backlog worked down for real by the daily scheduled run, as a
// repository's GITHUB_TOKEN allows it (1,000 API requests an hour, enforced by the API server
// with GitHub's headers; the run passes --max-requests 900 and keeps the default
// --max-deletions 1000) on a compressed clock (a day between runs; GitHub's one-second pause
// between writes shrunk to a millisecond). It prints how many runs it takes until nothing is
// left to delete, the requests of each run, and the rate-limit refusals (there must be none).
// Usage: npm run bench:retention [-- --versions 10000 --latency 20 --drain-rate-limit 1000 --drain-budget 900]
import { $, argv, fs, path } from "zx"

const N = Number(argv.versions ?? 10_000)
const LATENCY = Number(argv.latency ?? 20)
const RATE_LIMIT = Number(argv["drain-rate-limit"] ?? 1000)
const BUDGET = Number(argv["drain-budget"] ?? 900)
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..")
const build = path.join(root, ".cache", "bench-build")

$.quiet = true
await fs.remove(build)
await $({ cwd: root })`npx tsc -p tsconfig.json --noEmit false --outDir ${build} --declaration false --sourceMap false`
const load = (p) => import(path.join(build, p))
const { createGitHubClient } = await load("src/github/client.js")
const { RegistryClient } = await load("src/oci/client.js")
const { runRetention } = await load("src/retention/run.js")
const { startGitHubApi } = await load("test/support/github-api.js")
const { startRegistry } = await load("test/support/registry.js")
const { startTokenRegistry } = await load("test/support/token-registry.js")
const { OciPusher, OCI_MANIFEST } = await load("test/support/oci.js")
const { mapLimit } = await load("src/common/concurrency.js")
const { createHash } = await import("node:crypto")

const OWNER = "meetinity"
const NAME = "api-gateway"
const TOKEN = "ghp_bench"
const registry = await startRegistry()
const front = await startTokenRegistry(registry.url, { username: OWNER, password: TOKEN, latencyMs: LATENCY })
const push = new OciPusher(registry.url)
const repository = `${OWNER}/${NAME}`
const sha256 = (text) => `sha256:${createHash("sha256").update(text).digest("hex")}`

// The mix, oldest first: every 20th image is a release (multi-arch index: 2 platforms + 2
// attestation manifests, a cosign signature, an untagged OCI 1.1 referrer naming it); every 4th
// build is multi-arch the same way, and every 8th build an untagged referrer too; one orphan for
// every 10 images.
const fake = (i) => sha256(`bench ${i}`)
const versions = []
let id = 0
let t = Date.parse("2024-01-01T00:00:00Z")
const add = (name, tags, role, image) => {
  versions.push({
    id: ++id,
    name,
    created_at: new Date((t += 60_000)).toISOString(),
    updated_at: new Date(t).toISOString(),
    tags,
    role,
    image,
  })
  return versions.length - 1
}
const images = []
for (let i = 0; versions.length < N; i++) {
  const release = i % 20 === 19
  const multi = release || i % 4 === 0
  const image = {
    i,
    release,
    multi,
    tags: release ? [`v1.${i}.0`, `sha-${(0x1000000 + i).toString(16)}`] : [`sha-${(0x1000000 + i).toString(16)}`],
    children: [],
  }
  images.push(image)
  if (multi)
    for (const k of ["amd", "arm", "att1", "att2"]) image.children.push(add(fake(`${i}/${k}`), [], "child", image))
  image.at = add(fake(i), image.tags, "image", image)
  if (release) image.sig = add(fake(`${i}/sig`), [`${fake(i).replace(":", "-")}.sig`], "sig", image)
  if (release || (multi && i % 8 === 0)) image.referrer = add(fake(`${i}/ref`), [], "referrer", image)
  if (i % 10 === 3) add(fake(`${i}/orphan`), [], "orphan")
}
versions.length = N
const present = (index) => index !== undefined && index < N

// Kept: releases and the newest 30 builds (what the policy says; the plan must agree).
const builds = images.filter((m) => !m.release && present(m.at))
const kept = new Set([...images.filter((m) => m.release && present(m.at)), ...builds.slice(-30)])
const keptVersions = new Set()
for (const image of kept)
  for (const index of [image.at, image.sig, image.referrer, ...image.children])
    if (present(index)) keptVersions.add(index)

// Real manifests for everything the plan reads: kept images (with their children and
// signatures) pushed as real images; every other untagged version as a small manifest of its own.
const config = await push.blob(
  repository,
  JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } }),
)
const layer = await push.blob(repository, "bench layer")
async function small(seed, subject) {
  const body = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    ...(subject ? { artifactType: "application/vnd.dev.sigstore.bundle.v0.3+json" } : {}),
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: config.digest, size: config.size },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: layer.digest, size: layer.size }],
    annotations: { "org.example.bench": seed },
    ...(subject ? { subject: { mediaType: OCI_MANIFEST, digest: subject, size: 1 } } : {}),
  }
  return (await push.manifest(repository, sha256(JSON.stringify(body)), body)).digest
}
for (const image of kept) {
  const pushed = image.multi
    ? await push.multiArch(repository, `bench ${image.i}`, ["linux/amd64", "linux/arm64"], {
        tag: image.tags[0],
        attestations: true,
      })
    : { index: await push.image(repository, `bench ${image.i}`, { tag: image.tags[0] }), children: [] }
  versions[image.at].name = pushed.index.digest
  for (const tag of image.tags.slice(1)) await push.tag(repository, tag, pushed.index)
  pushed.children.forEach((child, k) => {
    if (present(image.children[k])) versions[image.children[k]].name = child.digest
  })
  if (present(image.sig)) {
    versions[image.sig].tags = [`${pushed.index.digest.replace(":", "-")}.sig`]
    versions[image.sig].name = (
      await push.image(repository, `bench sig ${image.i}`, { tag: versions[image.sig].tags[0] })
    ).digest
  }
  if (present(image.referrer)) versions[image.referrer].name = await small(`referrer ${image.i}`, pushed.index.digest)
}
const others = versions.filter((v, index) => v.tags.length === 0 && !keptVersions.has(index))
await mapLimit(others, 16, async (v) => {
  v.name = await small(`${v.role} ${v.id}`, v.role === "referrer" ? fake(v.image.i) : undefined)
})

const api = await startGitHubApi({
  owners: { [OWNER]: "Organization" },
  tokens: { [TOKEN]: { login: "bench", scopes: ["read:packages", "delete:packages"] } },
  latencyMs: LATENCY,
})
api.addPackage(
  OWNER,
  NAME,
  versions.map(({ role: _role, image: _image, ...v }) => v),
)

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
    {
      owner: OWNER,
      packageName: NAME,
      policy: { keep: 30, graceMinutes: 0 },
      dryRun: true,
      maxDeletions: 100_000,
      now: new Date("2026-11-28T00:00:00Z"),
    },
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
const tagListGets = front.log.filter((e) => e.method === "GET" && e.path.includes("/tags/list")).length
const challenged = front.log.filter(
  (e) => (e.path.includes("/manifests/") || e.path.includes("/tags/list")) && e.auth === "",
).length
const pages = Math.ceil(N / 100)
const keptTagged = [...keptVersions].filter((index) => versions[index].tags.length > 0).length
const keptChildren = new Set([...kept].flatMap((image) => image.children.filter(present)))
const untaggedCandidates = versions.filter((v, index) => v.tags.length === 0 && !keptChildren.has(index)).length
const lowerBound = pages + keptTagged + untaggedCandidates
const total = [...api.counts.values()].reduce((a, b) => a + b, 0) + manifestGets + tagListGets + tokenGets
const plannedDeletes = result.plan.deletions.length
const planKept = result.plan.versions.length - plannedDeletes
if (planKept !== keptVersions.size)
  throw new Error(`the plan keeps ${planKept} versions, the policy ${keptVersions.size}`)

console.log(`retention benchmark: ${N} versions, ${LATENCY} ms per request (API and registry), dry run`)
console.log(`  versions kept ${planKept}, to delete ${plannedDeletes}`)
console.log(`  requests by kind:`)
for (const [kind, n] of [...api.counts.entries()].sort()) console.log(`    API ${kind.padEnd(22)} ${n}`)
console.log(
  `    registry manifest GET      ${manifestGets} (${result.manifestReads.kept} of kept images, ${result.manifestReads.subjects} of untagged versions for a subject)`,
)
console.log(
  `    registry tag list GET      ${tagListGets} (the registry's tags, checked against the listing; ${challenged} of all registry requests answered 401 first, to learn the token scope)`,
)
console.log(`    registry token GET         ${tokenGets}`)
console.log(`  total requests              ${total}`)
console.log(
  `  lower bound                 ${lowerBound} = ${pages} list pages + ${keptTagged} manifests of kept tagged images + ${untaggedCandidates} manifests of untagged versions no kept index holds + 0 deletions`,
)
console.log(`  ratio to lower bound        ${(total / lowerBound).toFixed(3)}`)
console.log(
  `  wall time                   ${(wall / 1000).toFixed(2)} s (all requests one after another: ${((total * LATENCY) / 1000).toFixed(2)} s)`,
)
console.log(
  `  manifests seeded            ${kept.size} kept images and ${others.length} other untagged manifests in the registry`,
)

await api.stop()
await front.stop()

// The drain. A fresh API server on the same package, deleting for real (manifests leave the
// registry too), behind the same kind of token front without added latency.
let clock = Date.parse("2026-12-01T03:00:00Z")
const drainApi = await startGitHubApi({
  owners: { [OWNER]: "Organization" },
  tokens: {
    [TOKEN]: {
      login: "github-actions[bot]",
      scopes: ["read:packages", "write:packages", "delete:packages"],
      integration: true,
    },
  },
  registry: { url: registry.url, repository: () => repository },
  rateLimit: RATE_LIMIT,
  clock: () => clock,
})
drainApi.addPackage(
  OWNER,
  NAME,
  versions.map(({ role: _role, image: _image, ...v }) => ({ ...v, tags: [...v.tags] })),
)
const drainFront = await startTokenRegistry(registry.url, { username: OWNER, password: TOKEN })
const runs = []
const row = (r) =>
  console.log(
    `  ${String(r.day).padStart(3)}  ${String(r.planned).padStart(7)}  ${String(r.deleted).padStart(7)}  ${String(r.left).padStart(5)}  ${String(r.requests).padStart(12)}  ${String(r.refused).padStart(19)}  ${`${r.manifestGets}/${r.heads}`.padStart(17)}  ${String(r.broken).padStart(6)}  ${r.seconds.toFixed(1)} s`,
  )
console.log(
  `drain: the ${plannedDeletes}-deletion backlog, daily runs with a GITHUB_TOKEN (${RATE_LIMIT} API requests an hour, enforced), --max-requests ${BUDGET}, --max-deletions 1000, compressed clock`,
)
console.log(`  run  planned  deleted  left   API requests  rate-limit refusals  registry GET/HEAD  broken  wall`)
try {
  for (let day = 1; day <= 60; day++) {
    const counter = { requests: 0 }
    const refusedBefore = drainApi.rateLimit.refused
    const registryBefore = drainFront.log.length
    const started = performance.now()
    let run
    try {
      run = await runRetention(
        {
          github: createGitHubClient({ token: TOKEN, baseUrl: drainApi.url, log: () => {}, counter, msPerSecond: 1 }),
          registry: new RegistryClient({ scheme: "http", host: drainFront.host }, { username: OWNER, password: TOKEN }),
          repository,
          log: () => {},
          counter,
        },
        {
          owner: OWNER,
          packageName: NAME,
          policy: { keep: 30, graceMinutes: 60 },
          dryRun: false,
          maxDeletions: 1000,
          maxRequests: BUDGET,
          now: new Date(clock),
        },
      )
    } catch (error) {
      console.log(`drain: run ${day} failed: ${String(error.message).split("\n")[0]}`)
      runs.push({
        day,
        failed: true,
        planned: NaN,
        deleted: 0,
        left: NaN,
        requests: counter.requests,
        refused: drainApi.rateLimit.refused - refusedBefore,
        manifestGets: 0,
        heads: 0,
        broken: NaN,
        seconds: (performance.now() - started) / 1000,
      })
      break
    }
    const outcomes = [...run.outcomes.values()]
    const registryLog = drainFront.log.slice(registryBefore)
    runs.push({
      day,
      planned: run.plan.deletions.length,
      deleted: outcomes.filter((o) => o === "deleted" || o === "already-gone").length,
      left: outcomes.filter((o) => o === "deferred").length,
      requests: counter.requests,
      refused: drainApi.rateLimit.refused - refusedBefore,
      manifestGets: registryLog.filter((e) => e.method === "GET" && e.path.includes("/manifests/")).length,
      heads: registryLog.filter((e) => e.method === "HEAD").length,
      broken: run.validation?.broken.length ?? 0,
      seconds: (performance.now() - started) / 1000,
    })
    row(runs.at(-1))
    if (run.plan.deletions.length === 0) break
    clock += 86_400_000 // the next day's scheduled run
  }
} finally {
  await drainApi.stop()
  await drainFront.stop()
  await registry.stop()
  await fs.remove(build)
}
const working = runs.filter((r) => r.planned > 0)
const clean = runs.at(-1)?.planned === 0
console.log(
  `  scheduled runs until clean   ${clean ? working.length : `not clean after ${runs.length}`} (then a run with nothing to delete: ${runs.at(-1)?.requests} API requests)`,
)
console.log(
  `  API requests per run         max ${Math.max(...runs.map((r) => r.requests))}, mean ${(working.reduce((n, r) => n + r.requests, 0) / Math.max(1, working.length)).toFixed(0)} (limit ${RATE_LIMIT} an hour)`,
)
console.log(`  rate-limit refusals          ${runs.reduce((n, r) => n + r.refused, 0)}`)
console.log(`  broken images after any run  ${runs.reduce((n, r) => n + r.broken, 0)}`)
if (!clean || runs.some((r) => r.failed || r.refused > 0 || r.broken > 0)) process.exitCode = 1
