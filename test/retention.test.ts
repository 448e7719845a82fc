/**
 * Retention end to end: a real docker-registry holding real manifests (behind a ghcr-style
 * token front), and a local server speaking GitHub's packages API. After each run, every kept
 * image and each of its children must still resolve in the registry, and every deleted one
 * must not. Time is scaled (msPerSecond) so waits GitHub asks for stay short in tests.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest"
import { dag, type SecretID } from "@dagger.io/dagger"

import { createGitHubClient, type RequestCounter } from "../src/github/client.js"
import { resolveOwner } from "../src/github/packages.js"
import { RegistryClient } from "../src/oci/client.js"
import { MeetinityRelease } from "../src/index.js"
import { formatReport } from "../src/retention/report.js"
import { RETENTION_STEP } from "../src/retention/read.js"
import { parseRetainArgs } from "../src/retention/inputs.js"
import { retainWithToken } from "../src/retention/packages.js"
import { type RetentionRequest } from "../src/retention/inputs.js"
import { runRetention, RetentionFailed } from "../src/retention/run.js"
import { daggerListFlag } from "./support/dagger-cli.js"
import { recordDagger, type Recorder } from "./support/dagger.js"
import { startGitHubApi, type GitHubApi } from "./support/github-api.js"
import { NOW, startRetentionEnv, TOKENS, type RetentionEnv } from "./support/retention-env.js"
import { OciPusher } from "./support/oci.js"
import { freePort, type RunningRegistry } from "./support/registry.js"
import { PackageSeeder, type Seeded } from "./support/seed.js"
import { attachBundles } from "../src/signing/attach.js"
import { fallbackTag, PREDICATE } from "../src/signing/constants.js"
import { readAttached } from "../src/signing/referrers.js"
import { keySigner, newSigningKey } from "../src/signing/sign.js"
import { sbomStatement, signatureStatement } from "../src/signing/statement.js"
import { parsePublicKey } from "../src/signing/trust.js"
import { verifyRelease } from "../src/signing/verify.js"
import { startTokenRegistry, type TokenRegistry } from "./support/token-registry.js"
import { catchSpans } from "./support/spans.js"

const spans = catchSpans()
let env: RetentionEnv
let registry: RunningRegistry
let front: TokenRegistry
let push: OciPusher
let api: GitHubApi
let logs: string[]
const popular = new Set<number>()

beforeAll(async () => {
  env = await startRetentionEnv({ popular })
  ;({ registry, front, push, api, logs } = env)
})
afterAll(async () => {
  await env?.stop()
})

const freshName = (base = "svc") => env.freshName(base)
const deps = (owner: string, name: string, token = "ghp_admin", registryHost?: string) =>
  env.deps(owner, name, { token, ...(registryHost ? { registryHost } : {}) })
const request = (owner: string, name: string, overrides: Partial<RetentionRequest> = {}) =>
  env.request(owner, name, overrides)
const resolves = (repository: string, digest: string) => env.resolves(repository, digest)
const expectIntact = (repository: string, images: Seeded[]) => env.expectIntact(repository, images)
const expectGone = (repository: string, images: Seeded[]) => env.expectGone(repository, images)
const seedSmall = (base: string, options: Parameters<RetentionEnv["seedSmall"]>[1] = {}) => env.seedSmall(base, options)

/** Every tag the registry lists resolves, and so does every child of its index: no broken image. */
async function expectNoBrokenImage(repository: string) {
  const client = new RegistryClient({ scheme: "http", host: registry.host })
  for (const tag of await client.tags(repository)) {
    const manifest = await client.manifest(repository, tag)
    for (const child of manifest.json.manifests ?? [])
      expect(await resolves(repository, child.digest), `child ${child.digest} of ${tag}`).toBe(true)
  }
}

interface Mixed {
  name: string
  repository: string
  releases: Seeded[]
  keptBuilds: Seeded[]
  oldBuilds: Seeded[]
  keptSignatures: Seeded[]
  oldSignatures: Seeded[]
  orphans: Seeded[]
  latest: Seeded
}

/** A realistic package: releases (multi-arch, attested, signed), 34 build images, orphans, latest. */
async function seedMixed(owner = "Meetinity", base = "api"): Promise<Mixed> {
  const name = freshName(base)
  const repository = `${owner.toLowerCase()}/${name}`
  const seeder = new PackageSeeder(push, repository)
  const oldBuilds: Seeded[] = []
  const keptBuilds: Seeded[] = []
  const orphans: Seeded[] = []
  const releases: Seeded[] = []
  const oldSignatures: Seeded[] = []
  const keptSignatures: Seeded[] = []
  for (let i = 0; i < 34; i++) {
    const multi = i % 3 === 0
    const build = await seeder.image(
      `build ${name} ${i}`,
      [`sha-${(0xa000000 + i).toString(16)}`],
      multi ? { platforms: ["linux/amd64", "linux/arm64"], attestations: true } : {},
    )
    ;(i < 4 ? oldBuilds : keptBuilds).push(build)
    if (i === 1) oldSignatures.push(await seeder.referrer(build.digest, ".sig"))
    if (i === 20) keptSignatures.push(await seeder.referrer(build.digest, ".sig"))
    if (i % 10 === 5) {
      releases.push(
        await seeder.image(`release ${name} ${i}`, [`v1.${i}.0`, `sha-${(0xb000000 + i).toString(16)}`], {
          platforms: ["linux/amd64", "linux/arm64"],
          attestations: true,
        }),
      )
      keptSignatures.push(
        await seeder.referrer(releases.at(-1)!.digest, ".sig"),
        await seeder.referrer(releases.at(-1)!.digest, ""),
      )
    }
    if (i % 8 === 2) orphans.push(await seeder.orphan(`${name} ${i}`))
  }
  const latest = await seeder.image(`latest ${name}`, ["latest"])
  seeder.publish(api, owner, name)
  return { name, repository, releases, keptBuilds, oldBuilds, keptSignatures, oldSignatures, orphans, latest }
}

afterEach(() => {
  logs.length = 0
  // Version ids repeat across packages (each seeder counts from 1001): never let one test's
  // popular version refuse another test's deletion.
  popular.clear()
})

describe("retain against a real registry and GitHub's packages API", () => {
  test("keeps releases, the newest 30 builds, latest and all they need; deletes the rest, through rate limits and 5xx", async () => {
    const pkg = await seedMixed()
    const total = api.versions("Meetinity", pkg.name).length
    api.addFault({
      method: "GET",
      path: new RegExp(`/versions$`),
      after: 2,
      times: 1,
      fault: { kind: "secondary", status: 403, retryAfter: 2 },
    })
    api.addFault({
      method: "GET",
      path: new RegExp(`/versions$`),
      after: 1,
      times: 1,
      fault: { kind: "server-error", status: 502 },
    })
    api.addFault({ method: "DELETE", after: 2, times: 1, fault: { kind: "secondary", status: 429, retryAfter: 3 } })
    api.addFault({ method: "DELETE", after: 4, times: 1, fault: { kind: "primary", status: 403, resetInSeconds: 1 } })
    api.addFault({ method: "DELETE", after: 6, times: 1, fault: { kind: "server-error", status: 503 } })

    const result = await runRetention(deps("Meetinity", pkg.name), request("Meetinity", pkg.name))

    await expectIntact(pkg.repository, [...pkg.releases, ...pkg.keptBuilds, ...pkg.keptSignatures, pkg.latest])
    await expectGone(pkg.repository, [...pkg.oldBuilds, ...pkg.oldSignatures, ...pkg.orphans])
    const left = api
      .versions("Meetinity", pkg.name)
      .map((v) => v.name)
      .sort()
    expect(left).toEqual(
      result.plan.versions
        .filter((v) => v.decision === "keep")
        .map((v) => v.digest)
        .sort(),
    )
    const oldChildren = pkg.oldBuilds.reduce((n, b) => n + b.children.length, 0)
    expect(result.plan.deletions).toHaveLength(
      pkg.oldBuilds.length + oldChildren + pkg.oldSignatures.length + pkg.orphans.length,
    )
    expect(total - left.length).toBe(result.plan.deletions.length)
    expect([...result.outcomes.values()].every((o) => o === "deleted")).toBe(true)
    expect(logs.some((l) => /secondary rate limit .* waiting 2s/.test(l))).toBe(true)
    expect(logs.some((l) => /secondary rate limit on DELETE .* waiting 3s/.test(l))).toBe(true)
    expect(logs.some((l) => /primary rate limit on DELETE/.test(l))).toBe(true)
  })

  test("honours retry-after and paces writes: no DELETE sooner than GitHub asked", async () => {
    const { name } = await seedSmall("paced", { orphans: 4 })
    api.addFault({
      method: "DELETE",
      path: new RegExp(name),
      after: 2,
      times: 1,
      fault: { kind: "secondary", status: 429, retryAfter: 5 },
    })
    const start = api.log.length
    await runRetention(deps("Meetinity", name), request("Meetinity", name))
    const deletes = api.log.slice(start).filter((e) => e.method === "DELETE")
    expect(deletes.map((d) => d.status)).toEqual([204, 429, 204, 204, 204])
    const gaps = deletes.slice(1).map((d, i) => d.at - deletes[i]!.at)
    // msPerSecond = 10: writes at least 10 ms apart, and 50 ms after the 429's retry-after: 5.
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(9)
    expect(gaps[1]).toBeGreaterThanOrEqual(49)
  })

  test("dry run: the plan is reported and nothing is deleted", async () => {
    const pkg = await seedMixed()
    const before = api.versions("Meetinity", pkg.name).length
    const result = await runRetention(deps("Meetinity", pkg.name), request("Meetinity", pkg.name, { dryRun: true }))
    expect(api.versions("Meetinity", pkg.name)).toHaveLength(before)
    await expectIntact(pkg.repository, [...pkg.oldBuilds, ...pkg.orphans, ...pkg.releases])
    expect(result.plan.deletions.length).toBeGreaterThan(0)
    expect([...result.outcomes.values()].every((o) => o === "would-delete")).toBe(true)
  })

  test("fail closed: a listing page that keeps failing means nothing is deleted", async () => {
    const pkg = await seedMixed()
    const before = api.versions("Meetinity", pkg.name).length
    api.addFault({
      method: "GET",
      path: new RegExp(`${pkg.name}/versions$`),
      after: 2,
      times: 50,
      fault: { kind: "server-error", status: 500 },
    })
    await expect(runRetention(deps("Meetinity", pkg.name), request("Meetinity", pkg.name))).rejects.toThrow(
      /listing page \d of container package Meetinity\/api-\d+[\s\S]*answered 500[\s\S]*Nothing was deleted/,
    )
    expect(api.versions("Meetinity", pkg.name)).toHaveLength(before)
    expect(api.log.filter((e) => e.method === "DELETE" && e.path.includes(pkg.name))).toEqual([])
  })

  test("fail closed: a rate limit that does not clear means nothing is deleted", async () => {
    const pkg = await seedMixed()
    const before = api.versions("Meetinity", pkg.name).length
    api.addFault({
      method: "GET",
      path: new RegExp(`${pkg.name}/versions$`),
      times: 50,
      fault: { kind: "secondary", status: 429, retryAfter: 1 },
    })
    await expect(runRetention(deps("Meetinity", pkg.name), request("Meetinity", pkg.name))).rejects.toThrow(
      /rate limit was still exhausted[\s\S]*Nothing was deleted/,
    )
    expect(api.versions("Meetinity", pkg.name)).toHaveLength(before)
  })

  test("fail closed: a kept image's manifest that cannot be read means nothing is deleted", async () => {
    const pkg = await seedMixed()
    const before = api.versions("Meetinity", pkg.name).length
    // Someone removed a release's manifest from the registry behind GitHub's back.
    await fetch(`${registry.url}/v2/${pkg.repository}/manifests/${pkg.releases[0]!.digest}`, { method: "DELETE" })
    await expect(runRetention(deps("Meetinity", pkg.name), request("Meetinity", pkg.name))).rejects.toThrow(
      new RegExp(`cannot read manifest ${pkg.releases[0]!.digest}[\\s\\S]*Nothing was deleted`),
    )
    expect(api.versions("Meetinity", pkg.name)).toHaveLength(before)
  })

  test("a token without delete:packages: GitHub's 404 is not taken for success; it stops and explains the scopes", async () => {
    const pkg = await seedMixed()
    const before = api.versions("Meetinity", pkg.name).length
    const attempt = runRetention(
      deps("Meetinity", pkg.name, "ghp_readonly", registry.host),
      request("Meetinity", pkg.name),
    )
    await expect(attempt).rejects.toThrow(
      /answered 404, yet the version is still listed: the token cannot delete it\. A personal access token \(classic\) needs read:packages and delete:packages/,
    )
    expect(api.versions("Meetinity", pkg.name)).toHaveLength(before)
    expect(api.log.filter((e) => e.method === "DELETE" && e.path.includes(pkg.name))).toHaveLength(1)
  })

  test("a version deleted by someone else meanwhile counts as already gone", async () => {
    const { name, orphans } = await seedSmall("vanish", { orphans: 2 })
    api.addFault({ method: "DELETE", path: new RegExp(name), times: 1, fault: { kind: "vanish" } })
    const result = await runRetention(deps("Meetinity", name), request("Meetinity", name))
    expect([...result.outcomes.values()].sort()).toEqual(["already-gone", "deleted"])
    expect(api.versions("Meetinity", name).map((v) => v.tags)).toEqual([["v1.0.0"]])
    expect(orphans).toHaveLength(2)
  })

  test("GitHub refusing one deletion (400: a popular public version) does not stop the others; the run fails and says which", async () => {
    const { name, orphans } = await seedSmall("popular", { orphans: 3 })
    popular.add(api.versions("Meetinity", name).find((v) => v.name === orphans[1]!.digest)!.id)
    const attempt = runRetention(deps("Meetinity", name), request("Meetinity", name))
    await expect(attempt).rejects.toThrow(/1 deletion refused by GitHub/)
    await expect(attempt).rejects.toThrow(new RegExp(`${orphans[1]!.digest.slice(0, 19)}\\s+-\\s+\\S+\\s+failed`))
    expect(await resolves(`meetinity/${name}`, orphans[0]!.digest)).toBe(false)
    expect(await resolves(`meetinity/${name}`, orphans[1]!.digest)).toBe(true)
    expect(await resolves(`meetinity/${name}`, orphans[2]!.digest)).toBe(false)
    expect(
      logs.some((l) =>
        /could not delete sha256:[0-9a-f]{64}: .*answered 400 \(Publicly visible package versions with more than 5000 downloads cannot be deleted/.test(
          l,
        ),
      ),
    ).toBe(true)
  })

  test("GitHub refusing to delete an index keeps its platform manifests: no broken image is left behind", async () => {
    const name = freshName("refused")
    const repository = `meetinity/${name}`
    const seeder = new PackageSeeder(push, repository)
    const old = await seeder.image(`r old ${name}`, ["sha-d000001"], {
      platforms: ["linux/amd64", "linux/arm64"],
      attestations: true,
    })
    const older = await seeder.image(`r older ${name}`, ["sha-d000000"], { platforms: ["linux/amd64", "linux/arm64"] })
    const orphan = await seeder.orphan(name)
    const kept = await seeder.image(`r new ${name}`, ["sha-d000002"])
    seeder.publish(api, "Meetinity", name)
    popular.add(api.versions("Meetinity", name).find((v) => v.name === old.digest)!.id)
    await expect(
      runRetention(deps("Meetinity", name), request("Meetinity", name, { policy: { keep: 1, graceMinutes: 0 } })),
    ).rejects.toThrow(/1 deletion refused by GitHub/)
    await expectIntact(repository, [old, kept])
    await expectGone(repository, [older, orphan])
  })

  test.each([
    ["the token's own user: /user/packages", "alice", "ghp_admin", "/user/packages/container/"],
    ["another user: /users/{login}/packages", "bob", "ghp_admin", "/users/bob/packages/container/"],
    [
      "GITHUB_TOKEN (cannot read /user): /users/{login}/packages",
      "alice",
      "ghs_actions",
      "/users/alice/packages/container/",
    ],
  ])("user-owned package, %s", async (_name, owner, token, prefix) => {
    const { name, repository, release, orphan } = await seedSmall("user", {
      owner,
      platforms: ["linux/amd64", "linux/arm64"],
    })
    const start = api.log.length
    const result = await runRetention({ ...deps(owner, name, token, registry.host) }, request(owner, name))
    expect(result.owner.kind).toBe(prefix.startsWith("/user/") ? "authenticated-user" : "user")
    const calls = api.log.slice(start).filter((e) => e.path.includes("/packages/"))
    expect(calls.every((e) => e.path.startsWith(prefix))).toBe(true)
    await expectIntact(repository, [release])
    await expectGone(repository, [orphan])
  })

  test("an unknown package: a clear error, nothing deleted", async () => {
    await expect(
      runRetention(deps("Meetinity", "no-such-package"), request("Meetinity", "no-such-package")),
    ).rejects.toThrow(
      /container package Meetinity\/no-such-package \(organisation Meetinity\) was not found: check the owner and image names, and that the token can see the package \(read:packages\)[\s\S]*Nothing was deleted/,
    )
  })

  test("an unknown owner: a clear error", async () => {
    await expect(runRetention(deps("nobody", "x"), request("nobody", "x"))).rejects.toThrow(
      /owner "nobody" is not a GitHub user or organisation \(GET \/users\/nobody answered 404\)/,
    )
  })

  test("a nested package name is URL-encoded in API paths, with / in the registry path", async () => {
    const { name, release, orphan } = await seedSmall("nested", {
      name: `team/${freshName("nested")}`,
      platforms: ["linux/amd64", "linux/arm64"],
    })
    const start = api.log.length
    await runRetention(deps("Meetinity", name), request("Meetinity", name))
    const calls = api.log.slice(start).filter((e) => e.path.includes("/packages/"))
    expect(calls.length).toBeGreaterThan(0)
    expect(calls.every((e) => e.path.includes(`/packages/container/${encodeURIComponent(name)}/`))).toBe(true)
    await expectIntact(`meetinity/${name}`, [release])
    await expectGone(`meetinity/${name}`, [orphan])
  })

  test("pages: more than 100 versions are listed in full, pages after the first fetched concurrently", async () => {
    const name = freshName("paged")
    const seeder = new PackageSeeder(push, `meetinity/${name}`)
    const builds: Seeded[] = []
    for (let i = 0; i < 130; i++)
      builds.push(await seeder.image(`p ${name} ${i}`, [`sha-${(0xc000000 + i).toString(16)}`]))
    seeder.publish(api, "Meetinity", name)
    const start = api.log.length
    const result = await runRetention(
      deps("Meetinity", name),
      request("Meetinity", name, { dryRun: true, policy: { keep: 100, graceMinutes: 0 } }),
    )
    expect(result.plan.versions).toHaveLength(130)
    expect(result.plan.deletions.map((d) => d.digest).sort()).toEqual(
      builds
        .slice(0, 30)
        .map((b) => b.digest)
        .sort(),
    )
    const pages = api.log
      .slice(start)
      .filter((e) => /\/versions\?/.test(e.path))
      .map((e) => new URL(e.path, api.url).searchParams)
    expect(pages.map((p) => [p.get("page"), p.get("per_page")])).toEqual([
      ["1", "100"],
      ["2", "100"],
    ])
    // What the TUI shows of it: the listing with a span per page under it, then the plan with its counts.
    const ofPackage = spans.spans().filter((s) => s.attributes["github.package"] === `Meetinity/${name}`)
    const list = ofPackage.find((s) => s.name === RETENTION_STEP.list)!
    expect(list.attributes["github.versions"]).toBe(130)
    expect(
      spans
        .spans()
        .filter((s) => s.name === "list page" && s.parentSpanContext?.spanId === list.spanContext().spanId)
        .map((s) => [
          s.attributes["github.page"],
          s.attributes["github.package.state"],
          s.attributes["github.versions"],
        ])
        .sort(),
    ).toEqual([
      [1, "active", 100],
      [2, "active", 30],
    ])
    expect(ofPackage.find((s) => s.name === RETENTION_STEP.plan)!.attributes).toMatchObject({
      "retention.versions": 130,
      "retention.kept": 100,
      "retention.deletions": 30,
      "retention.keep": 100,
    })
  })
})

describe("images publish signed (Sigstore bundles as OCI 1.1 referrers, the sha256-<hex> fallback index)", () => {
  test("a kept release keeps its bundles and fallback index, and still passes the gate; a deleted build's go with it", async () => {
    const name = freshName("signed")
    const repository = `meetinity/${name}`
    const seeder = new PackageSeeder(push, repository)
    const old = await seeder.image(`g old ${name}`, ["sha-f000001"])
    const release = await seeder.image(`g rel ${name}`, ["v1.0.0"], { platforms: ["linux/amd64", "linux/arm64"] })
    const newest = await seeder.image(`g new ${name}`, ["sha-f000002"])
    // Signed as publish signs: the module's own attach code, on a registry without the referrers API.
    const key = newSigningKey()
    const client = new RegistryClient({ scheme: "http", host: registry.host })
    const address = `${registry.host}/${repository}`
    const signed: Record<string, Seeded[]> = {}
    for (const image of [old, release]) {
      await attachBundles({
        client,
        repository,
        digest: image.digest,
        signer: keySigner(key.privateKey),
        statements: {
          [PREDICATE.signature]: () => signatureStatement(address, image.digest),
          [PREDICATE.sbom]: () => sbomStatement(address, image.digest, { spdxVersion: "SPDX-2.3", packages: [] }),
        },
        expected: { version: "v1.0.0" },
      })
      const attached = await readAttached(client, repository, image.digest)
      const index = (await client.resolve(repository, fallbackTag(image.digest)))!.digest
      for (const bundle of attached.bundles) seeder.record(bundle.descriptor.digest)
      seeder.record(index, [fallbackTag(image.digest)])
      signed[image.digest] = [
        ...attached.bundles.map((b) => ({ digest: b.descriptor.digest, children: [], tags: [] })),
        { digest: index, children: [], tags: [fallbackTag(image.digest)] },
      ]
      expect(attached.bundles).toHaveLength(2)
    }
    seeder.publish(api, "Meetinity", name)

    const result = await runRetention(
      deps("Meetinity", name),
      request("Meetinity", name, { policy: { keep: 1, graceMinutes: 0 } }),
    )

    await expectIntact(repository, [release, newest, ...signed[release.digest]!])
    await expectGone(repository, [old, ...signed[old.digest]!])
    expect(result.validation).toMatchObject({ broken: [] })
    // The kept release passes the gate as before: every bundle it needs is there.
    const gate = await verifyRelease(
      { client, repository, address, digest: release.digest },
      { mode: "key", publicKey: parsePublicKey(key.publicKey), require: [PREDICATE.signature, PREDICATE.sbom] },
      { version: "v1.0.0" },
    )
    expect(gate.accepted).toEqual([PREDICATE.signature, PREDICATE.sbom])
  })
})

describe("untagged referrers: an OCI 1.1 subject names the image", () => {
  test("a referrer of a kept image is kept (and its own referrers, and one of a kept platform manifest); one of a deleted image goes", async () => {
    const name = freshName("subject")
    const repository = `meetinity/${name}`
    const seeder = new PackageSeeder(push, repository)
    const old = await seeder.image(`s old ${name}`, ["sha-e000001"], { platforms: ["linux/amd64", "linux/arm64"] })
    const oldSignature = await seeder.subjectReferrer(old.digest)
    const release = await seeder.image(`s rel ${name}`, ["v1.0.0"], {
      platforms: ["linux/amd64", "linux/arm64"],
      attestations: true,
    })
    const releaseSignature = await seeder.subjectReferrer(release.digest)
    const signatureOfSignature = await seeder.subjectReferrer(
      releaseSignature.digest,
      "application/vnd.cncf.notary.signature",
    )
    const platformSbom = await seeder.subjectReferrer(release.children[1]!, "application/spdx+json")
    // A referrer whose subject left the package (deleted by hand, manifest and version) goes too.
    const strayOf = await seeder.image(`s gone ${name}`, ["sha-e000000"])
    const stray = await seeder.subjectReferrer(strayOf.digest)
    seeder.versions.splice(
      seeder.versions.findIndex((v) => v.name === strayOf.digest),
      1,
    )
    await fetch(`${registry.url}/v2/${repository}/manifests/${strayOf.digest}`, { method: "DELETE" })
    const orphan = await seeder.orphan(name)
    const newest = await seeder.image(`s new ${name}`, ["sha-e000002"])
    seeder.publish(api, "Meetinity", name)

    const result = await runRetention(
      deps("Meetinity", name),
      request("Meetinity", name, { policy: { keep: 1, graceMinutes: 0 } }),
    )

    await expectIntact(repository, [release, releaseSignature, signatureOfSignature, platformSbom, newest])
    await expectGone(repository, [old, oldSignature, stray, orphan])
    const reason = (digest: string) => result.plan.versions.find((v) => v.digest === digest)!.reason
    expect(reason(releaseSignature.digest)).toBe(
      "referrer (application/vnd.dev.sigstore.bundle.v0.3+json) of kept v1.0.0",
    )
    expect(reason(signatureOfSignature.digest)).toBe(
      `referrer (application/vnd.cncf.notary.signature) of kept ${releaseSignature.digest.slice(7, 19)}`,
    )
    expect(reason(platformSbom.digest)).toBe(
      `referrer (application/spdx+json) of kept ${release.children[1]!.slice(7, 19)}`,
    )
    expect(reason(oldSignature.digest)).toBe(
      "referrer (application/vnd.dev.sigstore.bundle.v0.3+json) of deleted sha-e000001",
    )
    expect(reason(stray.digest)).toBe(
      `referrer (application/vnd.dev.sigstore.bundle.v0.3+json) of ${strayOf.digest.slice(7, 19)}, which is not in the package`,
    )
    // Read to see what kept images need: v1.0.0 and sha-e000002. Read for a subject: every
    // untagged version not held by a kept index: old's 2 platform manifests, 5 referrers, the orphan.
    expect(result.manifestReads).toEqual({ kept: 2, subjects: 8 })
    expect(result.validation).toMatchObject({ broken: [] })
  })

  test("an untagged version whose manifest cannot be read: nothing is deleted", async () => {
    const { name, orphans } = await seedSmall("subject-unreadable", { orphans: 2 })
    await fetch(`${registry.url}/v2/meetinity/${name}/manifests/${orphans[1]!.digest}`, { method: "DELETE" })
    await expect(runRetention(deps("Meetinity", name), request("Meetinity", name))).rejects.toThrow(
      new RegExp(
        `cannot read manifest ${orphans[1]!.digest} [^\\n]*an untagged version that may refer to a kept image[\\s\\S]*Nothing was deleted`,
      ),
    )
    expect(api.versions("Meetinity", name)).toHaveLength(3)
  })
})

describe("validation after a real run", () => {
  test("a manifest removed behind the run's back fails the run, naming what is broken and the tag it breaks; the deletions done stay reported", async () => {
    const name = freshName("broken")
    const repository = `meetinity/${name}`
    const seeder = new PackageSeeder(push, repository)
    const release = await seeder.image(`b rel ${name}`, ["v1.0.0", "sha-f000001"], {
      platforms: ["linux/amd64", "linux/arm64"],
    })
    const other = await seeder.image(`b other ${name}`, ["v2.0.0"])
    const orphan = await seeder.orphan(name)
    seeder.publish(api, "Meetinity", name)
    // While the run deletes the orphan, someone removes the arm64 manifest of v1.0.0 and v2.0.0 itself.
    api.addFault({
      method: "DELETE",
      path: new RegExp(name),
      times: 1,
      fault: {
        kind: "hook",
        run: async () => {
          await fetch(`${registry.url}/v2/${repository}/manifests/${release.children[1]}`, { method: "DELETE" })
          await fetch(`${registry.url}/v2/${repository}/manifests/${other.digest}`, { method: "DELETE" })
        },
      },
    })

    const attempt = runRetention(deps("Meetinity", name), request("Meetinity", name))
    await expect(attempt).rejects.toThrow(RetentionFailed)
    const error = (await attempt.catch((e: unknown) => e)) as RetentionFailed
    expect(error.message).toMatch(
      new RegExp(`sha256:[0-9a-f]{12}\\s+-\\s+\\S+\\s+deleted\\s+untagged, and no kept image refers to it`),
    )
    expect(error.message).toContain(
      "Validation failed: 2 missing in the registry after this run (the deletions done are reported above):",
    )
    expect(error.message).toContain(
      `- platform manifest (linux/arm64) of kept v1.0.0 (${release.children[1]!.slice(0, 19)}) is missing from ${front.host}/${repository}: breaks v1.0.0, sha-f000001`,
    )
    expect(error.message).toContain(`- tag v2.0.0 is missing from ${front.host}/${repository}: breaks v2.0.0`)
    expect(error.result.outcomes.get(api.deletedVersions("Meetinity", name)[0]!.id)).toBe("deleted")
    expect(await resolves(repository, orphan.digest)).toBe(false)
  })

  test("a clean run checks every kept tag and digest; a dry run checks nothing", async () => {
    const { name } = await seedSmall("clean", { platforms: ["linux/amd64", "linux/arm64"] })
    const dry = await runRetention(deps("Meetinity", name), request("Meetinity", name, { dryRun: true }))
    expect(dry.validation).toBeUndefined()
    const real = await runRetention(deps("Meetinity", name), request("Meetinity", name))
    // v1.0.0 and its two platform manifests.
    expect(real.validation).toEqual({ checked: 3, broken: [], unverified: [] })
  })
})

describe("a request budget (maxRequests)", () => {
  test("stops deleting before the budget is spent, reports what is left and succeeds; a second run finishes", async () => {
    const { name, repository, release, orphans } = await seedSmall("budget", { orphans: 6 })
    const args = parseRetainArgs({
      owner: "Meetinity",
      image: name,
      keep: 30,
      dryRun: false,
      maxDeletions: 1000,
      githubApiUrl: api.url,
      registry: front.url,
      graceMinutes: 0,
      maxRequests: 5,
    })
    const start = api.log.length
    const first = JSON.parse(
      await retainWithToken(args, "ghp_admin", (l) => logs.push(l), NOW, { json: true, msPerSecond: 10 }),
    ) as {
      stopped: string
      budget: { maxRequests: number; used: number }
      summary: { deleted: number; deferred: number }
    }
    // 1 owner lookup + 1 listing page + 3 deletions = 5; and the quota read first, which GitHub does not count.
    const sent = api.log.slice(start)
    expect(sent.filter((r) => r.path !== "/rate_limit")).toHaveLength(5)
    expect(sent.filter((r) => r.path === "/rate_limit")).toHaveLength(1)
    expect(first.summary).toMatchObject({ deleted: 3, deferred: 3 })
    expect(first.stopped).toBe(
      "the budget of 5 GitHub API requests is reached (5 used): 3 deletions left for the next run",
    )
    expect(first.budget).toEqual({ maxRequests: 5, used: 5 })
    expect(api.versions("Meetinity", name)).toHaveLength(4)

    const second = JSON.parse(
      await retainWithToken(args, "ghp_admin", (l) => logs.push(l), NOW, { json: true, msPerSecond: 10 }),
    ) as { stopped: string | null; summary: { deleted: number; deferred: number } }
    expect(second.summary).toMatchObject({ deleted: 3, deferred: 0 })
    expect(second.stopped).toBeNull()
    await expectIntact(repository, [release])
    await expectGone(repository, orphans)
  })

  test("the budget counts retries: a rate-limited listing leaves less for deletions", async () => {
    const { name } = await seedSmall("budget-retry", { orphans: 3 })
    api.addFault({
      method: "GET",
      path: new RegExp(`${name}/versions$`),
      times: 1,
      fault: { kind: "secondary", status: 429, retryAfter: 1 },
    })
    const counter: RequestCounter = { requests: 0 }
    const github = createGitHubClient({
      token: "ghp_admin",
      baseUrl: api.url,
      log: (l) => logs.push(l),
      msPerSecond: 10,
      counter,
    })
    const result = await runRetention(
      { ...deps("Meetinity", name), github, counter },
      request("Meetinity", name, { maxRequests: 4 }),
    )
    // owner + 429 + listing = 3, one deletion fits.
    expect([...result.outcomes.values()].sort()).toEqual(["deferred", "deferred", "deleted"])
    expect(counter.requests).toBe(4)
  })
})

describe("several packages in one run (images)", () => {
  test("each package is planned, applied and validated on its own, one report section each", async () => {
    const a = await seedSmall("multi-a", { orphans: 2 })
    const b = await seedSmall("multi-b", { orphans: 1, platforms: ["linux/amd64", "linux/arm64"] })
    const args = parseRetainArgs({
      owner: "Meetinity",
      image: "ignored",
      keep: 30,
      dryRun: false,
      maxDeletions: 1000,
      githubApiUrl: api.url,
      registry: front.url,
      graceMinutes: 0,
      images: [a.name, b.name],
    })
    const text = await retainWithToken(args, "ghp_admin", (l) => logs.push(l), NOW, { msPerSecond: 10 })
    expect(text).toMatch(new RegExp(`^== Meetinity/${a.name} ==\\n`))
    expect(text).toContain(`\n\n== Meetinity/${b.name} ==\n`)
    expect(text).toContain(`Meetinity/${a.name}: 3 versions, 1 kept, 2 of 2 deleted`)
    expect(text).toContain(`Meetinity/${b.name}: 4 versions, 3 kept, 1 of 1 deleted`)
    await expectIntact(a.repository, [a.release])
    await expectIntact(b.repository, [b.release])
    await expectGone(a.repository, a.orphans)
    await expectGone(b.repository, b.orphans)
    // One owner lookup for the run.
    expect(api.log.filter((e) => e.path === "/users/Meetinity").length).toBeGreaterThan(0)
  })

  test("a failure in one package stops deletions in none of the others, and fails the run naming it", async () => {
    const a = await seedSmall("multi-bad", { orphans: 1 })
    const b = await seedSmall("multi-good", { orphans: 2 })
    api.addFault({
      method: "GET",
      path: new RegExp(`${a.name}/versions$`),
      times: 50,
      fault: { kind: "server-error", status: 500 },
    })
    const args = parseRetainArgs({
      owner: "Meetinity",
      image: "api-gateway",
      keep: 30,
      dryRun: false,
      maxDeletions: 1000,
      githubApiUrl: api.url,
      registry: front.url,
      graceMinutes: 0,
      images: [a.name, b.name],
    })
    const attempt = retainWithToken(args, "ghp_admin", (l) => logs.push(l), NOW, { json: true, msPerSecond: 10 })
    await expect(attempt).rejects.toThrow(
      new RegExp(
        `== Meetinity/${a.name} ==\\nFAILED\\nlisting page 1 of container package Meetinity/${a.name}[\\s\\S]*Nothing was deleted`,
      ),
    )
    await expect(attempt).rejects.toThrow(
      new RegExp(
        `Meetinity/${b.name}: 3 versions, 1 kept, 2 of 2 deleted[\\s\\S]*1 of 2 packages failed: ${a.name} \\(the others ran to the end\\)`,
      ),
    )
    await expectIntact(a.repository, [a.release, ...a.orphans])
    await expectGone(b.repository, b.orphans)
  })
})

describe("retain, the Dagger function", () => {
  let recorder: Recorder | undefined
  afterEach(() => recorder?.restore())

  test("reads the token only from its Secret and reports as JSON; a dry run deletes nothing", async () => {
    const { name, orphan } = await seedSmall("fn")
    recorder = await recordDagger((q) => (q.leaf === "plaintext" ? "ghp_admin" : undefined))
    const out = await new MeetinityRelease().retain(
      "Meetinity",
      dag.loadSecretFromID("SecretID-token" as SecretID),
      name,
      30,
      true,
      1000,
      api.url,
      front.url,
      "json",
    )
    const report = JSON.parse(out) as {
      dryRun: boolean
      summary: { versions: number; planned: number }
      versions: { digest: string; decision: string; reason: string; outcome?: string }[]
    }
    expect(report).toMatchObject({ dryRun: true, summary: { versions: 2, planned: 1 } })
    expect(report.versions.find((v) => v.digest === orphan.digest)).toMatchObject({
      decision: "delete",
      outcome: "would-delete",
      reason: "untagged, and no kept image refers to it",
    })
    expect(await resolves(`meetinity/${name}`, orphan.digest)).toBe(true)
    for (const query of recorder.queries) expect(query.text).not.toContain("ghp_admin")
  })

  test("a GitHub API nobody answers at: said as such (after the retries), not as a status GitHub never sent", async () => {
    const lines: string[] = []
    const github = createGitHubClient({
      token: "ghp_admin",
      baseUrl: `http://127.0.0.1:${await freePort()}`,
      log: (l) => lines.push(l),
      msPerSecond: 10,
      retries: 3,
    })
    const attempt = resolveOwner(github, "Meetinity")
    await expect(attempt).rejects.toThrow(
      /^GET \/users\/Meetinity: could not reach the GitHub API \(ECONNREFUSED\): check --github-api-url/,
    )
    await expect(attempt).rejects.not.toThrow(/answered 500/)
    // Each attempt (the first and its 3 retries) is logged as what it was: no answer.
    expect(lines).toEqual(Array(4).fill("GitHub: GET /users/Meetinity - no answer (ECONNREFUSED)"))
  })

  test("a real run prints the table and the summary", async () => {
    const { name, orphan } = await seedSmall("table")
    recorder = await recordDagger((q) => (q.leaf === "plaintext" ? "ghp_admin" : undefined))
    const out = await new MeetinityRelease().retain(
      "Meetinity",
      dag.loadSecretFromID("SecretID-token" as SecretID),
      name,
      30,
      false,
      1000,
      api.url,
      front.url,
    )
    const lines = out.split("\n")
    expect(lines[0]).toMatch(/^DIGEST\s+TAGS\s+CREATED\s+DECISION\s+REASON$/)
    expect(out).toMatch(/sha256:[0-9a-f]{12}\s+v1\.0\.0\s+2026-\S+\s+keep\s+carries version tag v1\.0\.0/)
    expect(out).toMatch(/sha256:[0-9a-f]{12}\s+-\s+2026-\S+\s+deleted\s+untagged, and no kept image refers to it/)
    expect(lines.at(-1)).toBe(`Meetinity/${name}: 2 versions, 1 kept, 1 of 1 deleted`)
    expect(await resolves(`meetinity/${name}`, orphan.digest)).toBe(false)
  })

  test("a failure's restore command names the module and the token this run was given, not constants", async () => {
    const { name, orphans } = await seedSmall("named", { orphans: 2 })
    // Newest first: the second orphan goes, then GitHub refuses the first for good, and the run
    // fails and prints the restore command for the one it deleted.
    const id = api.versions("Meetinity", name).find((v) => v.name === orphans[0]!.digest)!.id
    api.addFault({
      method: "DELETE",
      path: new RegExp(`/packages/container/${name}/versions/${id}$`),
      times: 1,
      fault: { kind: "forbidden" },
    })
    // The engine answers the Secret's URI as `dagger call --token env://ACME_PACKAGES_TOKEN` made it.
    recorder = await recordDagger((q) =>
      q.leaf === "plaintext" ? "ghp_admin" : q.leaf === "uri" ? "env://ACME_PACKAGES_TOKEN" : undefined,
    )
    const call = (moduleRef: string) =>
      new MeetinityRelease().retain(
        "Meetinity",
        dag.loadSecretFromID("SecretID-token" as SecretID),
        name,
        30,
        false,
        1000,
        api.url,
        front.url,
        "table",
        0,
        "",
        undefined,
        0,
        [],
        100,
        moduleRef,
      )
    const failed = await call("github.com/acme/release-tools@0123456789abcdef0123456789abcdef01234567").then(
      () => undefined,
      (e: unknown) => e as Error,
    )
    expect(failed?.message).toMatch(/refused|forbidden|403/)
    expect(failed?.message).toContain(
      `dagger call -m github.com/acme/release-tools@0123456789abcdef0123456789abcdef01234567 restore --owner Meetinity --image ${name} --token env://ACME_PACKAGES_TOKEN`,
    )
    expect(failed?.message).not.toContain("GHCR_RETENTION_TOKEN")
    expect(failed?.message).not.toContain("meetinity/meetinity-release")
  })

  test("a module reference that is not one is refused before any request", async () => {
    recorder = await recordDagger(() => undefined)
    const before = api.log.length
    await expect(
      new MeetinityRelease().retain(
        "Meetinity",
        dag.loadSecretFromID("SecretID-token" as SecretID),
        "api-gateway",
        30,
        false,
        1000,
        api.url,
        front.url,
        "table",
        0,
        "",
        undefined,
        0,
        [],
        100,
        "github.com/acme/x@v1; rm -rf /",
      ),
    ).rejects.toThrow(
      /moduleRef "github.com\/acme\/x@v1; rm -rf \/" is not a module reference: expected github.com\/<owner>/,
    )
    expect(recorder.queries).toEqual([])
    expect(api.log.length).toBe(before)
  })

  test("registryUsername is the user the registry's token exchange sees (a wrong one: refused, nothing deleted)", async () => {
    const { name, orphan } = await seedSmall("regusr")
    recorder = await recordDagger((q) => (q.leaf === "plaintext" ? "ghp_admin" : undefined))
    const tokenRequests = () => front.log.filter((e) => e.path.startsWith("/token")).length
    const before = tokenRequests()
    await expect(
      new MeetinityRelease().retain(
        "Meetinity",
        dag.loadSecretFromID("SecretID-token" as SecretID),
        name,
        30,
        false,
        1000,
        api.url,
        front.url,
        "table",
        0,
        "someone-else",
      ),
    ).rejects.toThrow(/cannot read the tag list of [^\n]*refused the user name or token[\s\S]*Nothing was deleted/)
    expect(tokenRequests()).toBeGreaterThan(before)
    expect(await resolves(`meetinity/${name}`, orphan.digest)).toBe(true)
  })

  test.each([
    ["keep", { keep: -1 }, /keep -1 is not a count/],
    ["keep (fraction)", { keep: 2.5 }, /keep 2.5 is not a count/],
    ["maxDeletions", { maxDeletions: -5 }, /maxDeletions -5 is not a count/],
    ["githubApiUrl", { githubApiUrl: "api.github.com" }, /githubApiUrl "api.github.com" is not a URL/],
    ["registry", { registry: "ghcr.io/meetinity" }, /registry "ghcr.io\/meetinity" is not a registry/],
    ["owner", { owner: "meet inity" }, /owner "meet inity"/],
    ["image", { image: "API" }, /image "API" is not an image name/],
    [
      "image (none: a deleting function has no default package)",
      { image: "" },
      /image "" is empty: retain deletes package versions, so it names its package; expected --image <package>/,
    ],
    ["registryUsername", { registryUsername: "a b" }, /registryUsername "a b" is not a user name/],
    [
      "maxRequests",
      { maxRequests: -1 },
      /maxRequests -1 is not a request budget: expected a whole number of GitHub API requests, or 0 for no limit/,
    ],
    ["images (a bad name)", { images: ["web", "Worker"] }, /images\[1\] "Worker" is not an image name/],
    [
      "images (twice)",
      { images: ["web", "web"] },
      /images \["web","web"\] names "web" twice: expected each package once/,
    ],
  ])("bad %s: refused before any request", async (_name, overrides, message) => {
    recorder = await recordDagger(() => undefined)
    const a = {
      owner: "Meetinity",
      image: "api-gateway",
      keep: 30,
      maxDeletions: 1000,
      githubApiUrl: api.url,
      registry: front.url,
      registryUsername: "",
      maxRequests: 0,
      images: [] as string[],
      ...overrides,
    }
    const before = api.log.length
    await expect(
      new MeetinityRelease().retain(
        a.owner,
        dag.loadSecretFromID("SecretID-token" as SecretID),
        a.image,
        a.keep,
        false,
        a.maxDeletions,
        a.githubApiUrl,
        a.registry,
        "table",
        0,
        a.registryUsername,
        undefined,
        a.maxRequests,
        a.images,
      ),
    ).rejects.toThrow(message)
    expect(recorder.queries).toEqual([])
    expect(api.log.length).toBe(before)
  })
})

describe("someone else changes the package while retain runs", () => {
  /**
   * The issue's scenario: a release v1.0.0 (an index, two platforms, an attestation) is the oldest
   * of 101 versions; after page 1 is served, someone deletes a build on it, every later version
   * moves up one place, and the first of page 2 (v1.0.0's index) is served on neither page.
   * GitHub does not document its order; here the index is listed last.
   */
  async function seedShifted() {
    const name = freshName("shift")
    const repository = `meetinity/${name}`
    const amd = await push.image(repository, `shift ${name} amd`, { platform: "linux/amd64" })
    const arm = await push.image(repository, `shift ${name} arm`, { platform: "linux/arm64" })
    const att = await push.image(repository, `shift ${name} att`, { platform: "unknown/unknown" })
    const index = await push.manifest(repository, "v1.0.0", {
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [
        amd,
        arm,
        {
          ...att,
          platform: { os: "unknown", architecture: "unknown" },
          annotations: {
            "vnd.docker.reference.type": "attestation-manifest",
            "vnd.docker.reference.digest": amd.digest,
          },
        },
      ],
    })
    const at = (minutes: number) => new Date(Date.parse("2026-01-01T00:00:00Z") + minutes * 60_000).toISOString()
    const versions = [
      { id: 500, name: index.digest, created_at: at(0), updated_at: at(0), tags: ["v1.0.0"] },
      { id: 501, name: amd.digest, created_at: at(1), updated_at: at(1), tags: [] },
      { id: 502, name: arm.digest, created_at: at(1), updated_at: at(1), tags: [] },
      { id: 503, name: att.digest, created_at: at(1), updated_at: at(1), tags: [] },
    ]
    const builds: { id: number; digest: string; tag: string }[] = []
    for (let i = 0; i < 97; i++) {
      const tag = `sha-${(0x5000000 + i).toString(16)}`
      const image = await push.image(repository, `shift ${name} build ${i}`, { tag })
      builds.push({ id: 600 + i, digest: image.digest, tag })
      versions.push({ id: 600 + i, name: image.digest, created_at: at(10 + i), updated_at: at(10 + i), tags: [tag] })
    }
    api.addPackage("Meetinity", name, versions)
    // Between page 1 and page 2, someone deletes an old build that page 1 listed.
    api.addFault({
      method: "GET",
      path: new RegExp(`${name}/versions$`),
      query: /[?&]page=2(&|$)/,
      times: 1,
      fault: { kind: "hook", run: () => api.deleteVersion("Meetinity", name, builds[5]!.id) },
    })
    return { name, repository, index, parts: [amd, arm, att], builds }
  }

  test("a version served on no page (offset pagination shifted by a deletion): the registry's tags keep it, with its platforms and attestation", async () => {
    const { name, repository, index, parts } = await seedShifted()
    const result = await runRetention(deps("Meetinity", name), request("Meetinity", name))
    // v1.0.0 still pulls: its platform manifests and attestation are all there.
    for (const part of parts) expect(await resolves(repository, part.digest), part.digest).toBe(true)
    // The listing really missed v1.0.0's index; the registry's tags showed it.
    expect(result.plan.versions.map((v) => v.digest)).not.toContain(index.digest)
    expect(result.plan.unlisted).toEqual([{ tag: "v1.0.0", digest: index.digest }])
    for (const part of parts)
      expect(result.plan.versions.find((v) => v.digest === part.digest)).toMatchObject({ decision: "keep" })
    expect(result.plan.versions.find((v) => v.digest === parts[1]!.digest)!.reason).toBe(
      "platform manifest (linux/arm64) of kept v1.0.0",
    )
    expect(result.plan.versions.find((v) => v.digest === parts[2]!.digest)!.reason).toBe(
      "attestation manifest of kept v1.0.0",
    )
    // The other old builds went; the one deleted by someone else counts as already gone.
    expect(result.plan.deletions).toHaveLength(97 - 30)
    expect([...result.outcomes.values()].filter((o) => o === "already-gone")).toHaveLength(1)
    expect(result.validation?.broken).toEqual([])
    await expectNoBrokenImage(repository)
    expect(formatReport(result)).toContain(
      `kept: tag v1.0.0 (${index.digest}) is in the registry but was not in GitHub's listing`,
    )
  })

  test("the registry's tag list is read across pages (the distribution spec's n and Link), so a tag on a later page still counts", async () => {
    const paged = await startTokenRegistry(registry.url, {
      username: "Meetinity",
      password: "ghp_admin",
      tagPageSize: 7,
    })
    try {
      const { name, repository, parts } = await seedShifted()
      const start = paged.log.length
      const result = await runRetention(deps("Meetinity", name, "ghp_admin", paged.host), request("Meetinity", name))
      expect(result.plan.unlisted?.map((u) => u.tag)).toEqual(["v1.0.0"])
      for (const part of parts) expect(await resolves(repository, part.digest)).toBe(true)
      // 98 tags before the run, 7 a page: 14 pages; 31 after it: 5 pages.
      const tagPages = paged.log.slice(start).filter((e) => e.path.includes("/tags/list") && e.auth === "Bearer")
      expect(tagPages).toHaveLength(14 + 5)
      expect(tagPages[1]!.path).toMatch(/tags\/list\?n=7&last=sha-5000007$/)
    } finally {
      await paged.stop()
    }
  })

  test("validation does not trust the plan: a tag the run never knew of, pushed meanwhile onto a version it deleted, fails the run naming the tag", async () => {
    const { name, repository, orphans } = await seedSmall("late-tag", { orphans: 2 })
    // While the run deletes, someone tags a new index whose child is an orphan the plan deletes.
    let index = ""
    api.addFault({
      method: "DELETE",
      path: new RegExp(name),
      times: 1,
      fault: {
        kind: "hook",
        run: async () => {
          const child = await push.describe(repository, orphans[0]!.digest)
          index = (
            await push.manifest(repository, "v9.0.0", {
              schemaVersion: 2,
              mediaType: "application/vnd.oci.image.index.v1+json",
              manifests: [{ ...child, platform: { os: "linux", architecture: "amd64" } }],
            })
          ).digest
        },
      },
    })
    const attempt = runRetention(deps("Meetinity", name), request("Meetinity", name))
    const error = (await attempt.catch((e: unknown) => e)) as RetentionFailed
    expect(error).toBeInstanceOf(RetentionFailed)
    expect(index).not.toBe("")
    expect(error.message.split("\n")[0]).toMatch(
      new RegExp(
        `^retain failed for Meetinity/${name}: after the run 1 tag or manifest a kept image needs is missing from ${front.host}/${repository} \\(${orphans[0]!.digest.slice(0, 19)}\\)\\. This run deleted 2 versions`,
      ),
    )
    expect(error.message).toContain(
      `- child ${orphans[0]!.digest.slice(0, 19)} (linux/amd64) of v9.0.0, which the registry lists, is missing from ${front.host}/${repository}: breaks v9.0.0`,
    )
  })

  test("the registry's tag list cannot be read: nothing is deleted", async () => {
    const { name } = await seedSmall("no-tags", { orphans: 1 })
    const host = `127.0.0.1:${await freePort()}`
    await expect(runRetention(deps("Meetinity", name, "ghp_admin", host), request("Meetinity", name))).rejects.toThrow(
      new RegExp(
        `cannot read the tag list of ${host}/meetinity/${name}, which GitHub's listing is checked against: GET http://${host}/v2/meetinity/${name}/tags/list\\?n=1000: could not reach the registry: nothing answers at http://${host} \\(ECONNREFUSED[\\s\\S]*Nothing was deleted`,
      ),
    )
    expect(api.versions("Meetinity", name)).toHaveLength(2)
  })
})

describe("maxDeletions: a run deletes at most that many, oldest first, never leaving a broken image", () => {
  test("a backlog larger than one run drains over several runs, each succeeding and saying what is left", async () => {
    const name = freshName("drain")
    const repository = `meetinity/${name}`
    const seeder = new PackageSeeder(push, repository)
    const old1 = await seeder.image(`d old1 ${name}`, ["sha-d100001"], {
      platforms: ["linux/amd64", "linux/arm64"],
      attestations: true,
    })
    const orphan1 = await seeder.orphan(`${name} 1`)
    const old2 = await seeder.image(`d old2 ${name}`, ["sha-d100002"])
    const old2sig = await seeder.subjectReferrer(old2.digest)
    const orphan2 = await seeder.orphan(`${name} 2`)
    const kept = await seeder.image(`d kept ${name}`, ["sha-d100003"])
    seeder.publish(api, "Meetinity", name)
    const id = (digest: string) => api.versions("Meetinity", name).find((v) => v.name === digest)!.id
    const ids = {
      old1: id(old1.digest),
      children: old1.children.map(id),
      orphan1: id(orphan1.digest),
      old2: id(old2.digest),
      old2sig: id(old2sig.digest),
    }
    const args = parseRetainArgs({
      owner: "Meetinity",
      image: name,
      keep: 1,
      dryRun: false,
      maxDeletions: 3,
      githubApiUrl: api.url,
      registry: front.url,
      graceMinutes: 0,
    })
    type Report = {
      stopped: string | null
      summary: { planned: number; deleted: number; deferred: number }
      versions: { id: number; outcome?: string }[]
    }
    const run = async () => {
      const start = api.log.length
      const report = JSON.parse(
        await retainWithToken(args, "ghp_admin", (l) => logs.push(l), NOW, { json: true, msPerSecond: 10 }),
      ) as Report
      await expectNoBrokenImage(repository)
      return {
        report,
        deletes: api.log
          .slice(start)
          .filter((e) => e.method === "DELETE")
          .map((e) => Number(/\/versions\/(\d+)/.exec(e.path)![1])),
      }
    }

    // 9 to delete. Run 1: the oldest is old1's amd64 manifest, which goes only with old1 itself;
    // then its arm64 manifest; its attestations wait. The index goes first.
    const first = await run()
    expect(first.report.summary).toMatchObject({ planned: 9, deleted: 3, deferred: 6 })
    expect(first.report.stopped).toBe("maxDeletions (3) reached: 6 deletions left for the next runs")
    expect(first.deletes[0]).toBe(ids.old1)
    expect(first.deletes.slice(1).sort()).toEqual([ids.children[0], ids.children[1]].sort())
    expect(await resolves(repository, old1.digest)).toBe(false)

    // Run 2: the two attestation manifests (now plain orphans) and orphan1, oldest first.
    const second = await run()
    expect(second.report.summary).toMatchObject({ planned: 6, deleted: 3, deferred: 3 })
    expect([...second.deletes].sort()).toEqual([ids.children[2], ids.children[3], ids.orphan1].sort())

    // Run 3: old2 before its signature, then orphan2. Clean.
    const third = await run()
    expect(third.report.summary).toMatchObject({ planned: 3, deleted: 3, deferred: 0 })
    expect(third.report.stopped).toBeNull()
    expect(third.deletes).toContain(ids.old2)
    expect(third.deletes.indexOf(ids.old2)).toBeLessThan(third.deletes.indexOf(ids.old2sig))
    const fourth = await run()
    expect(fourth.report.summary).toMatchObject({ planned: 0, deleted: 0 })
    await expectIntact(repository, [kept])
    await expectGone(repository, [old1, old2, old2sig, orphan1, orphan2])
  })

  test("a cut never splits an image from what holds it: the index goes with its oldest platform manifest, the other waits whole", async () => {
    const name = freshName("cut")
    const repository = `meetinity/${name}`
    const seeder = new PackageSeeder(push, repository)
    const image = await seeder.image(`c img ${name}`, ["sha-c100001"], { platforms: ["linux/amd64", "linux/arm64"] })
    const kept = await seeder.image(`c kept ${name}`, ["sha-c100002"])
    seeder.publish(api, "Meetinity", name)
    // The index and its two platform manifests: 3 to delete, room for 2.
    const result = await runRetention(
      deps("Meetinity", name),
      request("Meetinity", name, { policy: { keep: 1, graceMinutes: 0 }, maxDeletions: 2 }),
    )
    expect([...result.outcomes.values()].sort()).toEqual(["deferred", "deleted", "deleted"])
    // The index went with its oldest child; the other child waits (an orphan now, whole).
    expect(await resolves(repository, image.digest)).toBe(false)
    expect(await resolves(repository, image.children[0]!)).toBe(false)
    expect(await resolves(repository, image.children[1]!)).toBe(true)
    await expectNoBrokenImage(repository)
    await expectIntact(repository, [kept])
    expect(result.capped).toBe("maxDeletions (2) reached: 1 deletion left for the next runs")
  })
})

describe("a failed real run can be undone from its log", () => {
  test("GitHub refuses the fifth deletion for good: the failure says what happened, names every id deleted, and restore with those ids brings them back", async () => {
    const { name, repository, release, orphans } = await seedSmall("undo", { orphans: 7 })
    api.addFault({
      method: "DELETE",
      path: new RegExp(`${name}/versions/`),
      after: 5,
      times: 1,
      fault: { kind: "forbidden" },
    })
    const args = parseRetainArgs({
      owner: "Meetinity",
      image: name,
      keep: 30,
      dryRun: false,
      maxDeletions: 1000,
      githubApiUrl: api.url,
      registry: front.url,
      graceMinutes: 0,
    })
    const message = await retainWithToken(args, "ghp_admin", (l) => logs.push(l), NOW, { msPerSecond: 10 }).then(
      () => "",
      (error: Error) => error.message,
    )
    const lines = message.split("\n")
    const gone = api.deletedVersions("Meetinity", name)
    expect(gone).toHaveLength(4)
    // 1. What happened, in words.
    expect(lines[0]).toMatch(
      new RegExp(
        `^retain failed for Meetinity/${name}: deleting stopped at version \\d+ \\(sha256:[0-9a-f]{64}\\): deleting version \\d+ \\(sha256:[0-9a-f]{64}\\): GitHub answered 403 \\(Resource not accessible by personal access token\\)[^\\n]*\\. This run deleted 4 versions; the command below restores them\\.$`,
      ),
    )
    // 2. Every version deleted, with its id and full digest.
    expect(lines[1]).toBe("deleted by this run (package version id, digest, tags):")
    const listed = lines.slice(2, 6).map((l) => /^ {2}(\d+) (sha256:[0-9a-f]{64}) \(untagged\)$/.exec(l)!)
    expect(listed.map((m) => [Number(m[1]), m[2]]).sort()).toEqual(gone.map((v) => [v.id, v.name]).sort())
    // 3. The exact restore command.
    expect(lines[6]).toBe("to restore them (within 30 days; the token needs write:packages):")
    const command = lines[7]!.trim()
    expect(command).toMatch(
      new RegExp(
        `^dagger call -m github\\.com/meetinity/meetinity-release@v\\d+\\.\\d+\\.\\d+ restore --owner Meetinity --image ${name} --token env://GHCR_RETENTION_TOKEN --github-api-url ${api.url.replace(/[.]/g, "\\.")} --ids \\d+(,\\d+){3}$`,
      ),
    )
    // Then the table.
    expect(lines[8]).toBe("")
    expect(lines[9]).toMatch(/^DIGEST\s+TAGS\s+CREATED\s+DECISION\s+REASON$/)

    // The command, as dagger call hands it to the function: --ids is one CSV list flag.
    const words = command.split(" ")
    const flag = (name: string) => words[words.indexOf(`--${name}`) + 1]!
    recorder = await recordDagger((q) => (q.leaf === "plaintext" ? "ghp_admin" : undefined))
    const out = await new MeetinityRelease().restore(
      flag("owner"),
      dag.loadSecretFromID("SecretID-token" as SecretID),
      flag("image"),
      daggerListFlag(flag("ids")),
      undefined,
      flag("github-api-url"),
    )
    expect(out).toContain(`Meetinity/${name}: 4 versions asked for: 4 restored`)
    expect(api.deletedVersions("Meetinity", name)).toEqual([])
    for (const v of gone) expect(await resolves(repository, v.name), v.name).toBe(true)
    await expectIntact(repository, [release])
    expect(orphans).toHaveLength(7)
  })

  let recorder: Recorder | undefined
  afterEach(() => recorder?.restore())
})

describe("the packages API stand-in enforces GitHub's primary rate limit", () => {
  test("announced on every answer; beyond the limit 403 with remaining 0 until the window's reset; a new window starts after an hour", async () => {
    let now = Date.parse("2026-06-01T00:00:00Z")
    const limited = await startGitHubApi({
      owners: { Meetinity: "Organization" },
      tokens: TOKENS,
      rateLimit: 3,
      clock: () => now,
    })
    try {
      const get = () => fetch(`${limited.url}/users/Meetinity`, { headers: { authorization: "token ghp_admin" } })
      const answers = []
      for (let i = 0; i < 4; i++) answers.push(await get())
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 403])
      expect(answers.map((a) => a.headers.get("x-ratelimit-remaining"))).toEqual(["2", "1", "0", "0"])
      expect(
        answers.every(
          (a) => a.headers.get("x-ratelimit-limit") === "3" && a.headers.get("x-ratelimit-resource") === "core",
        ),
      ).toBe(true)
      expect(answers[3]!.headers.get("x-ratelimit-reset")).toBe(
        String((Date.parse("2026-06-01T00:00:00Z") + 3_600_000) / 1000),
      )
      expect(((await answers[3]!.json()) as { message: string }).message).toMatch(/^API rate limit exceeded/)
      expect(limited.rateLimit).toMatchObject({ used: 3, refused: 1 })
      now += 3_600_000
      expect((await get()).status).toBe(200)
      expect(limited.rateLimit).toMatchObject({ used: 1, refused: 1 })
    } finally {
      await limited.stop()
    }
  })
})
