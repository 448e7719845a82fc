/**
 * Reviewed purges and restore, end to end: a real docker-registry behind the ghcr-style token
 * front, and the local GitHub packages API (which keeps deleted versions 30 days and restores
 * them). A plan is written by a dry run, the package changes, and the plan is applied: only what
 * is unchanged and still deleted by the policy goes. Restore brings deleted versions back.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest"
import { dag, type FileID, type SecretID } from "@dagger.io/dagger"

import { MeetinityRelease } from "../src/index.js"
import { RegistryClient } from "../src/oci/client.js"
import { parseRestoreArgs, restoreWithToken } from "../src/retention/restore.js"
import { parseRetainArgs, parseRetainPlan, type RetainInput } from "../src/retention/inputs.js"
import { retainWithToken } from "../src/retention/packages.js"
import { recordDagger, type Recorder } from "./support/dagger.js"
import { startGitHubApi, type GitHubApi, type TokenInfo } from "./support/github-api.js"
import { OciPusher } from "./support/oci.js"
import { startRegistry, type RunningRegistry } from "./support/registry.js"
import { PackageSeeder, type Seeded } from "./support/seed.js"
import { startTokenRegistry, type TokenRegistry } from "./support/token-registry.js"

const NOW = new Date("2026-06-01T00:00:00Z")
const TOKENS: Record<string, TokenInfo> = {
  ghp_admin: { login: "alice", scopes: ["read:packages", "write:packages", "delete:packages"] },
  ghp_delete_only: { login: "alice", scopes: ["read:packages", "delete:packages"] },
}
const DAY = 86_400_000

let registry: RunningRegistry
let front: TokenRegistry
let push: OciPusher
let api: GitHubApi
let counter = 0
/** Moves the API server's clock (the 30-day restore window). */
let clockOffset = 0
const logs: string[] = []
let recorder: Recorder | undefined

beforeAll(async () => {
  registry = await startRegistry()
  front = await startTokenRegistry(registry.url, { username: "Meetinity", password: "ghp_admin" })
  push = new OciPusher(registry.url)
  api = await startGitHubApi({
    owners: { Meetinity: "Organization", Other: "Organization" },
    tokens: TOKENS,
    registry: { url: registry.url, repository: (owner, name) => `${owner.toLowerCase()}/${name}` },
    clock: () => Date.now() + clockOffset,
  })
})
afterAll(async () => {
  await api?.stop()
  await front?.stop()
  await registry?.stop()
})
afterEach(() => {
  logs.length = 0
  clockOffset = 0
  recorder?.restore()
  recorder = undefined
})

const log = (line: string) => logs.push(line)
const fresh = (base: string) => `${base}-${++counter}`
const retainArgs = (overrides: Partial<RetainInput>) =>
  parseRetainArgs({
    owner: "Meetinity",
    image: "api-gateway",
    keep: 2,
    dryRun: false,
    maxDeletions: 1000,
    githubApiUrl: api.url,
    registry: front.url,
    graceMinutes: 0,
    ...overrides,
  })

async function resolves(repository: string, reference: string): Promise<boolean> {
  return (
    (await new RegistryClient({ scheme: "http", host: registry.host }).resolve(repository, reference)) !== undefined
  )
}
const idOf = (name: string, digest: string) =>
  (api.versions("Meetinity", name).find((v) => v.name === digest) ??
    api.deletedVersions("Meetinity", name).find((v) => v.name === digest))!.id

interface Report {
  fingerprint: string
  summary: { deleted: number; skipped: number; planned: number }
  reviewedPlan: { fingerprint: string; notApplied: { id: number; reason: string }[] } | null
  versions: { id: number; digest: string; tags: string[]; decision: string; outcome?: string; skipped?: string }[]
}

/** A release, five build images (keep 2; the second one multi-platform), two orphans: 10 versions, 7 to delete. */
async function seedBuilds(base: string) {
  const name = fresh(base)
  const repository = `meetinity/${name}`
  const seeder = new PackageSeeder(push, repository)
  const release = await seeder.image(`p rel ${name}`, ["v1.0.0"])
  const builds: Seeded[] = []
  for (let i = 0; i < 5; i++)
    builds.push(
      await seeder.image(
        `p build ${name} ${i}`,
        [`sha-a00000${i}`],
        i === 1 ? { platforms: ["linux/amd64", "linux/arm64"] } : {},
      ),
    )
  const orphans = [await seeder.orphan(`${name} 1`), await seeder.orphan(`${name} 2`)]
  seeder.publish(api, "Meetinity", name)
  return { name, repository, seeder, release, builds, orphans }
}

describe("retain --plan: apply exactly the reviewed plan", () => {
  test("after the package changed, only what is unchanged and still deleted goes; nothing outside the plan", async () => {
    const pkg = await seedBuilds("reviewed")
    const [b0, b1, b2] = pkg.builds as [Seeded, Seeded, Seeded]
    const planText = await retainWithToken(retainArgs({ image: pkg.name, dryRun: true }), "ghp_admin", log, NOW, {
      json: true,
      msPerSecond: 10,
    })
    const plan = JSON.parse(planText) as Report
    expect(
      plan.versions
        .filter((v) => v.decision === "delete")
        .map((v) => v.digest)
        .sort(),
    ).toEqual([b0.digest, b1.digest, ...b1.children, b2.digest, ...pkg.orphans.map((o) => o.digest)].sort())

    // Meanwhile: someone deletes orphan 1, tags b0 `latest` (now kept), adds a tag to b2
    // (still a build, but not as reviewed), and a new orphan appears (never reviewed).
    const live = pkg.seeder.versions // the API server's own list (the seeder published it)
    live.splice(
      live.findIndex((v) => v.name === pkg.orphans[0]!.digest),
      1,
    )
    await fetch(`${registry.url}/v2/${pkg.repository}/manifests/${pkg.orphans[0]!.digest}`, { method: "DELETE" })
    await push.tag(pkg.repository, "latest", {
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      digest: b0.digest,
      size: 0,
    })
    live.find((v) => v.name === b0.digest)!.tags.push("latest")
    await push.tag(pkg.repository, "sha-b000002", {
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      digest: b2.digest,
      size: 0,
    })
    live.find((v) => v.name === b2.digest)!.tags.push("sha-b000002")
    const late = await pkg.seeder.orphan(`${pkg.name} late`)

    // A dry run of the reviewed plan says what applying it would do, and deletes nothing.
    const dryArgs = retainArgs({ image: pkg.name, dryRun: true })
    const preview = await retainWithToken(dryArgs, "ghp_admin", log, NOW, {
      plans: parseRetainPlan(planText, dryArgs),
      msPerSecond: 10,
    })
    expect(preview.split("\n").at(-1)).toMatch(
      new RegExp(
        `^Meetinity/${pkg.name}: 10 versions, 4 kept, 4 would be deleted, 2 skipped \\(not in the reviewed plan as they are now\\) \\(dry run: nothing was deleted`,
      ),
    )
    expect(api.deletedVersions("Meetinity", pkg.name)).toEqual([])

    const args = retainArgs({ image: pkg.name })
    const out = JSON.parse(
      await retainWithToken(args, "ghp_admin", log, NOW, {
        json: true,
        plans: parseRetainPlan(planText, args),
        msPerSecond: 10,
      }),
    ) as Report

    // Deleted: b1 with its two platform manifests, and orphan 2. Nothing else.
    const deleted = api
      .deletedVersions("Meetinity", pkg.name)
      .map((v) => v.name)
      .sort()
    expect(deleted).toEqual([b1.digest, ...b1.children, pkg.orphans[1]!.digest].sort())
    expect(await resolves(pkg.repository, b0.digest)).toBe(true)
    expect(await resolves(pkg.repository, b2.digest)).toBe(true)
    expect(await resolves(pkg.repository, late.digest)).toBe(true)
    expect(await resolves(pkg.repository, b1.digest)).toBe(false)

    expect(out.reviewedPlan!.fingerprint).toBe(plan.fingerprint)
    expect(out.fingerprint).not.toBe(plan.fingerprint)
    const skipped = Object.fromEntries(out.versions.filter((v) => v.skipped).map((v) => [v.digest, v.skipped]))
    expect(skipped).toEqual({
      [b2.digest]: "its tags changed since the reviewed plan (then: sha-a000002; now: sha-a000002,sha-b000002)",
      [late.digest]: "not in the reviewed plan (pushed or listed after it was made)",
    })
    const notApplied = Object.fromEntries(out.reviewedPlan!.notApplied.map((n) => [n.id, n.reason]))
    expect(notApplied).toEqual({
      [idOf(pkg.name, b0.digest)]: expect.stringMatching(/^the current policy keeps it now: carries tag latest/),
      [idOf(pkg.name, b2.digest)]: expect.stringMatching(/^its tags changed since the reviewed plan/),
      [plan.versions.find((v) => v.digest === pkg.orphans[0]!.digest)!.id]:
        "no longer in the package (deleted since the plan was made)",
    })
    expect(out.summary).toMatchObject({ deleted: 4, skipped: 2 })
  })

  test("an unchanged package: the plan applied is the plan reviewed, fingerprint for fingerprint", async () => {
    const pkg = await seedBuilds("reviewed-same")
    const planText = await retainWithToken(retainArgs({ image: pkg.name, dryRun: true }), "ghp_admin", log, NOW, {
      msPerSecond: 10,
      json: true,
    })
    const args = retainArgs({ image: pkg.name })
    const text = await retainWithToken(args, "ghp_admin", log, NOW, {
      plans: parseRetainPlan(planText, args),
      msPerSecond: 10,
    })
    const fingerprint = (JSON.parse(planText) as Report).fingerprint
    expect(text).toContain(
      `plan ${fingerprint} (owner, package, policy, and every version's id, digest, tags and decision)`,
    )
    expect(text).toContain(`applied the reviewed plan ${fingerprint} (the package is as it was when the plan was made)`)
    expect(text.split("\n").at(-1)).toBe(`Meetinity/${pkg.name}: 10 versions, 3 kept, 7 of 7 deleted`)
  })

  test("two packages: the plan of each is applied to it", async () => {
    const a = await seedBuilds("reviewed-a")
    const b = await seedBuilds("reviewed-b")
    const planText = await retainWithToken(
      retainArgs({ images: [a.name, b.name], dryRun: true }),
      "ghp_admin",
      log,
      NOW,
      { json: true, msPerSecond: 10 },
    )
    const parsed = JSON.parse(planText) as { packages: Report[] }
    expect(parsed.packages).toHaveLength(2)
    // Only b changes: a new orphan, never reviewed.
    const late = await b.seeder.orphan(`${b.name} late`)
    const args = retainArgs({ images: [a.name, b.name] })
    await retainWithToken(args, "ghp_admin", log, NOW, { plans: parseRetainPlan(planText, args), msPerSecond: 10 })
    expect(api.deletedVersions("Meetinity", a.name)).toHaveLength(7)
    expect(api.deletedVersions("Meetinity", b.name)).toHaveLength(7)
    expect(await resolves(b.repository, late.digest)).toBe(true)
  })

  test.each([
    [
      "another owner",
      (p: Report & { owner: string }) => ({ ...p, owner: "Other" }),
      /plan "Other\/[^"]+" is a plan for owner "Other", not "Meetinity": refusing to apply it/,
    ],
    [
      "another package",
      (p: Report & { package: string }) => ({ ...p, package: "api-gateway" }),
      /is a plan for package api-gateway, not for reviewed-refused-\d+: refusing to apply it/,
    ],
    [
      "another policy",
      (p: Report & { policy: object }) => ({ ...p, policy: { keep: 5, graceMinutes: 0 } }),
      /was made with keep 5 and graceMinutes 0, but this run has keep 2 and graceMinutes 0: pass --keep 5 --grace-minutes 0/,
    ],
    [
      "an edited plan",
      (p: Report) => ({ ...p, versions: p.versions.map((v) => ({ ...v, decision: "delete" })) }),
      /plan fingerprint "sha256:[0-9a-f]{64}" does not match the plan's content \(sha256:[0-9a-f]{64}\): the file was changed after it was written/,
    ],
    ["not a plan", () => ({ hello: "world" }), /plan format null is not "meetinity-release\/retention-report\/v2"/],
  ])("a plan for %s is refused before any request", async (_name, change, message) => {
    const pkg = await seedBuilds("reviewed-refused")
    const planText = await retainWithToken(retainArgs({ image: pkg.name, dryRun: true }), "ghp_admin", log, NOW, {
      json: true,
      msPerSecond: 10,
    })
    let changed = change(JSON.parse(planText) as never) as { fingerprint?: string }
    // A consistent fingerprint for the owner, package and policy rows: only the match is refused.
    if (!/edited|not a plan/.test(_name)) {
      const { fingerprint } = await import("../src/retention/fingerprint.js")
      const c = changed as unknown as Parameters<typeof fingerprint>[0] & { package: string }
      changed = { ...changed, fingerprint: fingerprint({ ...c, packageName: c.package }) }
    }
    recorder = await recordDagger((q) =>
      q.leaf === "contents" ? JSON.stringify(changed) : q.leaf === "plaintext" ? "ghp_admin" : undefined,
    )
    const before = api.log.length
    await expect(
      new MeetinityRelease().retain(
        "Meetinity",
        dag.loadSecretFromID("SecretID-t" as SecretID),
        pkg.name,
        2,
        false,
        1000,
        api.url,
        front.url,
        "table",
        0,
        "",
        dag.loadFileFromID("FileID-plan" as FileID),
      ),
    ).rejects.toThrow(message)
    expect(api.log.length).toBe(before)
    expect(recorder.queries.map((q) => q.leaf)).toEqual(["contents"])
  })

  test("the Dagger function reads the plan from its File and applies it", async () => {
    const pkg = await seedBuilds("reviewed-fn")
    const planText = await retainWithToken(retainArgs({ image: pkg.name, dryRun: true }), "ghp_admin", log, NOW, {
      json: true,
      msPerSecond: 10,
    })
    recorder = await recordDagger((q) =>
      q.leaf === "contents" ? planText : q.leaf === "plaintext" ? "ghp_admin" : undefined,
    )
    const out = await new MeetinityRelease().retain(
      "Meetinity",
      dag.loadSecretFromID("SecretID-t" as SecretID),
      pkg.name,
      2,
      false,
      1000,
      api.url,
      front.url,
      "table",
      0,
      "",
      dag.loadFileFromID("FileID-plan" as FileID),
    )
    expect(out).toContain(`applied the reviewed plan ${(JSON.parse(planText) as Report).fingerprint}`)
    expect(api.deletedVersions("Meetinity", pkg.name)).toHaveLength(7)
  })
})

describe("restore", () => {
  test("restores what a real run deleted (from its JSON report); a version still there is already present", async () => {
    const pkg = await seedBuilds("restore")
    const report = await retainWithToken(retainArgs({ image: pkg.name }), "ghp_admin", log, NOW, {
      json: true,
      msPerSecond: 10,
    })
    expect(api.deletedVersions("Meetinity", pkg.name)).toHaveLength(7)
    expect(await resolves(pkg.repository, "sha-a000001")).toBe(false)

    const keptId = idOf(pkg.name, pkg.release.digest)
    const args = parseRestoreArgs({
      owner: "Meetinity",
      image: pkg.name,
      ids: [String(keptId)],
      githubApiUrl: api.url,
      dryRun: false,
      hasPlan: true,
    })
    const out = await restoreWithToken(args, { plan: report }, "ghp_admin", log, { msPerSecond: 10 })
    expect(out.split("\n").at(-1)).toBe(`Meetinity/${pkg.name}: 8 versions asked for: 7 restored, 1 already present`)
    expect(out).toMatch(new RegExp(`${keptId}\\s+sha256:[0-9a-f]{12}\\s+v1\\.0\\.0\\s+already-present`))
    expect(api.deletedVersions("Meetinity", pkg.name)).toEqual([])
    expect(api.versions("Meetinity", pkg.name)).toHaveLength(10)
    // The registry serves them again, tags included; platform manifests were restored before their index.
    for (const build of pkg.builds) expect(await resolves(pkg.repository, build.digest)).toBe(true)
    expect(await resolves(pkg.repository, "sha-a000001")).toBe(true)
    const restores = api.log
      .filter((e) => e.method === "POST" && e.path.includes(pkg.name))
      .map((e) => Number(/versions\/(\d+)\/restore/.exec(e.path)![1]))
    expect(restores.indexOf(idOf(pkg.name, pkg.builds[1]!.children[0]!))).toBeLessThan(
      restores.indexOf(idOf(pkg.name, pkg.builds[1]!.digest)),
    )
  })

  test("refused: a version deleted more than 30 days ago, and a token without write:packages, each with GitHub's reason; the run fails", async () => {
    const pkg = await seedBuilds("restore-refused")
    await retainWithToken(retainArgs({ image: pkg.name }), "ghp_admin", log, NOW, { msPerSecond: 10 })
    const [old, recent] = [idOf(pkg.name, pkg.builds[0]!.digest), idOf(pkg.name, pkg.orphans[0]!.digest)]

    clockOffset = 31 * DAY
    const expired = restoreWithToken(
      parseRestoreArgs({
        owner: "Meetinity",
        image: pkg.name,
        ids: [String(old)],
        githubApiUrl: api.url,
        dryRun: false,
        hasPlan: false,
      }),
      {},
      "ghp_admin",
      log,
      { msPerSecond: 10 },
    )
    await expect(expired).rejects.toThrow(
      new RegExp(
        `${old}\\s+-\\s+-\\s+refused\\s+GitHub answered 404 \\(Not Found[^)]*\\): it is not a deleted version of this package, or it was deleted more than 30 days ago`,
      ),
    )
    await expect(expired).rejects.toThrow(/1 of 1 version could not be restored/)
    clockOffset = 0

    const scopes = restoreWithToken(
      parseRestoreArgs({
        owner: "Meetinity",
        image: pkg.name,
        ids: [String(recent), String(old)],
        githubApiUrl: api.url,
        dryRun: false,
        hasPlan: false,
      }),
      {},
      "ghp_delete_only",
      log,
      { msPerSecond: 10 },
    )
    await expect(scopes).rejects.toThrow(
      /refused\s+GitHub answered 403 \(You need at least write:packages and read:packages scopes to restore a package version\.[^)]*\)\. Restoring needs read:packages and write:packages/,
    )
    await expect(scopes).rejects.toThrow(
      /not-attempted\s+not attempted after version \d+ was refused for the token's rights/,
    )
    expect(api.deletedVersions("Meetinity", pkg.name)).toHaveLength(7)
    expect(api.log.filter((e) => e.method === "POST" && e.path.includes(pkg.name)).map((e) => e.status)).toEqual([
      404, 403,
    ])
  })

  test("a dry run says what would be restored and restores nothing", async () => {
    const pkg = await seedBuilds("restore-dry")
    await retainWithToken(retainArgs({ image: pkg.name }), "ghp_admin", log, NOW, { msPerSecond: 10 })
    const id = idOf(pkg.name, pkg.orphans[1]!.digest)
    const out = await restoreWithToken(
      parseRestoreArgs({
        owner: "Meetinity",
        image: pkg.name,
        ids: [String(id)],
        githubApiUrl: api.url,
        dryRun: true,
        hasPlan: false,
      }),
      {},
      "ghp_admin",
      log,
    )
    expect(out).toMatch(new RegExp(`${id}\\s+sha256:[0-9a-f]{12}\\s+-\\s+would-restore\\s+deleted 20\\d\\d-`))
    expect(out.split("\n").at(-1)).toBe(
      `Meetinity/${pkg.name}: 1 version asked for: 1 would be restored (dry run: nothing was restored)`,
    )
    expect(api.log.filter((e) => e.method === "POST" && e.path.includes(pkg.name))).toEqual([])
  })

  test.each([
    ["an id that is not digits", { ids: ["12a"] }, /ids\[0\] "12a" is not a package version id: expected digits/],
    ["a zero id", { ids: ["0"] }, /ids\[0\] "0" is not a package version id/],
    ["nothing to restore", { ids: [] }, /ids \[\] is empty and no plan or journal was given: expected version ids/],
    ["an image name", { ids: ["1"], image: "Bad" }, /image "Bad" is not an image name/],
    ["an API URL", { ids: ["1"], githubApiUrl: "api.github.com" }, /githubApiUrl "api.github.com" is not a URL/],
  ])("the function refuses %s before any request", async (_name, overrides, message) => {
    recorder = await recordDagger(() => undefined)
    const a = { image: "api-gateway", githubApiUrl: api.url, ...overrides }
    const before = api.log.length
    await expect(
      new MeetinityRelease().restore(
        "Meetinity",
        dag.loadSecretFromID("SecretID-t" as SecretID),
        a.image,
        a.ids,
        undefined,
        a.githubApiUrl,
      ),
    ).rejects.toThrow(message)
    expect(recorder.queries).toEqual([])
    expect(api.log.length).toBe(before)
  })

  test("the function restores from a report File; a report of another package is refused", async () => {
    const pkg = await seedBuilds("restore-fn")
    const report = await retainWithToken(retainArgs({ image: pkg.name }), "ghp_admin", log, NOW, {
      json: true,
      msPerSecond: 10,
    })
    recorder = await recordDagger((q) =>
      q.leaf === "contents" ? report : q.leaf === "plaintext" ? "ghp_admin" : undefined,
    )
    await expect(
      new MeetinityRelease().restore(
        "Meetinity",
        dag.loadSecretFromID("SecretID-t" as SecretID),
        "api-gateway",
        [],
        dag.loadFileFromID("FileID-r" as FileID),
        api.url,
      ),
    ).rejects.toThrow(new RegExp(`plan \\["${pkg.name}"\\] has no section for package "api-gateway"`))
    const out = await new MeetinityRelease().restore(
      "Meetinity",
      dag.loadSecretFromID("SecretID-t" as SecretID),
      pkg.name,
      [],
      dag.loadFileFromID("FileID-r" as FileID),
      api.url,
    )
    expect(out.split("\n").at(-1)).toBe(`Meetinity/${pkg.name}: 7 versions asked for: 7 restored`)
    for (const query of recorder.queries) expect(query.text).not.toContain("ghp_admin")
  })
})

describe("retentionSummary", () => {
  test("summarizes a plan for a reviewer: fingerprint, policy, counts, the versions to delete", async () => {
    const pkg = await seedBuilds("summary")
    const planText = await retainWithToken(retainArgs({ image: pkg.name, dryRun: true }), "ghp_admin", log, NOW, {
      json: true,
      msPerSecond: 10,
    })
    recorder = await recordDagger((q) => (q.leaf === "contents" ? planText : undefined))
    const out = await new MeetinityRelease().retentionSummary(dag.loadFileFromID("FileID-p" as FileID), 2)
    const plan = JSON.parse(planText) as Report
    expect(out).toContain("## GHCR retention plan")
    expect(out).toContain(`### \`Meetinity\`/\`${pkg.name}\``)
    expect(out).toContain(`Plan fingerprint: \`${plan.fingerprint}\``)
    expect(out).toContain(
      "Policy: keep the newest 2 build images; nothing younger than 0 min. 10 versions, 3 kept. Dry run: nothing was deleted. 7 versions would be deleted.",
    )
    expect(out.split("\n").filter((l) => /^\| \d+ \|/.test(l))).toHaveLength(2)
    expect(out).toContain("…and 5 more: the plan file lists them all.")
  })

  test("a negative row count is refused", async () => {
    recorder = await recordDagger(() => undefined)
    await expect(new MeetinityRelease().retentionSummary(dag.loadFileFromID("FileID-p" as FileID), -1)).rejects.toThrow(
      /rows -1 is not a count/,
    )
    expect(recorder.queries).toEqual([])
  })
})
