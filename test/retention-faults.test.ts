/**
 * Retention's account of a run under ordinary faults: a DELETE GitHub carried out but answered
 * with a 5xx, a registry that fails for a moment while the run checks its work, a token whose
 * hourly quota other workflows share, and a run killed in the middle of a delete. In each case
 * the report, the restore advice and the journal say what really happened. Real docker-registry,
 * the GitHub API stand-in, time scaled.
 */
import { spawn } from "node:child_process"
import { writeFileSync } from "node:fs"
import { join } from "node:path"

import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest"

import { idsFromJournal } from "../src/retention/journal.js"
import { parseRetainArgs } from "../src/retention/inputs.js"
import { retainWithToken } from "../src/retention/packages.js"
import { idsFromPlan, parseRestoreArgs, restoreWithToken } from "../src/retention/restore.js"
import { runRetention, RetentionFailed } from "../src/retention/run.js"
import { compileForChild } from "./support/compiled.js"
import { NOW, startRetentionEnv, type RetentionEnv } from "./support/retention-env.js"

let env: RetentionEnv
beforeAll(async () => {
  env = await startRetentionEnv()
})
afterAll(async () => {
  await env?.stop()
})
afterEach(() => {
  env.logs.length = 0
})

const idOf = (name: string, digest: string, world = env) =>
  world.api.versions("Meetinity", name).find((v) => v.name === digest)!.id
const versionPath = (name: string, id: number) => new RegExp(`/packages/container/${name}/versions/${id}$`)
const retainArgs = (name: string, extra: Partial<Parameters<typeof parseRetainArgs>[0]> = {}) =>
  parseRetainArgs({
    owner: "Meetinity",
    image: name,
    keep: 30,
    dryRun: false,
    maxDeletions: 1000,
    githubApiUrl: env.api.url,
    registry: env.front.url,
    graceMinutes: 0,
    ...extra,
  })
const restoreArgs = (name: string) =>
  parseRestoreArgs({
    owner: "Meetinity",
    image: name,
    ids: [],
    githubApiUrl: env.api.url,
    dryRun: false,
    hasPlan: true,
    hasJournal: true,
  })

describe("a DELETE GitHub carried out but answered with a 5xx", () => {
  test("is this run's deletion: in the report, in restore --plan, and in the restore command of a later failure", async () => {
    const pkg = await env.seedSmall("five-hundred", { orphans: 3 })
    // The run deletes untagged versions newest first: the last orphan seeded goes first.
    const [first, second, third] = [...pkg.orphans].reverse().map((o) => idOf(pkg.name, o.digest))
    // The first orphan's DELETE is carried out, but its answer is lost behind a 502; the retry sees 404.
    env.api.addFault({
      method: "DELETE",
      path: versionPath(pkg.name, first!),
      times: 1,
      fault: { kind: "server-error", status: 502, carriedOut: true },
    })
    // Then GitHub refuses the third one for good (403): the run fails and prints its restore command.
    env.api.addFault({ method: "DELETE", path: versionPath(pkg.name, third!), times: 1, fault: { kind: "forbidden" } })
    const attempt = runRetention(env.deps("Meetinity", pkg.name), env.request("Meetinity", pkg.name))
    const failed = await attempt.then(
      () => undefined,
      (error: unknown) => error as RetentionFailed,
    )
    expect(failed).toBeInstanceOf(RetentionFailed)
    expect(failed!.result.outcomes.get(first!)).toBe("deleted")
    expect(failed!.result.outcomes.get(second!)).toBe("deleted")
    expect(failed!.message).toMatch(new RegExp(`This run deleted 2 versions; the command below restores them`))
    expect(failed!.message).toMatch(
      new RegExp(`restore --owner Meetinity --image ${pkg.name} .*--ids ${first},${second}\\b`),
    )
    // The journal says what GitHub answered on the way.
    expect(env.logs.join("\n")).toMatch(
      new RegExp(`retain journal: deleted Meetinity/${pkg.name} version ${first} .*\\(GitHub answered 502, then 404`),
    )
    await env.expectGone(pkg.repository, pkg.orphans.slice(1))
  })

  test("a report of a run that succeeds lists it as deleted, and restore --plan brings it back", async () => {
    const pkg = await env.seedSmall("five-hundred-report", { orphans: 2 })
    const first = idOf(pkg.name, pkg.orphans[0]!.digest)
    env.api.addFault({
      method: "DELETE",
      path: versionPath(pkg.name, first),
      times: 1,
      fault: { kind: "server-error", status: 503, carriedOut: true },
    })
    const report = await retainWithToken(retainArgs(pkg.name), "ghp_admin", (l) => env.logs.push(l), NOW, {
      json: true,
      msPerSecond: 10,
    })
    const parsed = JSON.parse(report) as { summary: { deleted: number; alreadyGone: number } }
    expect(parsed.summary).toMatchObject({ deleted: 2, alreadyGone: 0 })
    expect(idsFromPlan(report, restoreArgs(pkg.name))).toContain(first)
    await restoreWithToken(restoreArgs(pkg.name), { plan: report }, "ghp_admin", () => {}, { msPerSecond: 10 })
    await env.expectIntact(pkg.repository, pkg.orphans)
  })

  test("a DELETE that never gets an answer is unconfirmed: the run stops there and its restore command includes it", async () => {
    const pkg = await env.seedSmall("never-answered", { orphans: 2 })
    const first = idOf(pkg.name, pkg.orphans[0]!.digest)
    env.api.addFault({
      method: "DELETE",
      path: versionPath(pkg.name, first),
      times: 1,
      fault: { kind: "server-error", status: 502, carriedOut: true },
    })
    env.api.addFault({
      method: "DELETE",
      path: versionPath(pkg.name, first),
      times: 3,
      fault: { kind: "server-error", status: 504 },
    })
    const failed = (await runRetention(env.deps("Meetinity", pkg.name), env.request("Meetinity", pkg.name)).catch(
      (e: unknown) => e,
    )) as RetentionFailed
    expect(failed).toBeInstanceOf(RetentionFailed)
    expect(failed.result.outcomes.get(first)).toBe("unconfirmed")
    expect(failed.message).toMatch(
      /deleting stopped at version \d+ .*GitHub answered 502, then 504, then 504, then 504/,
    )
    expect(failed.message).toMatch(new RegExp(`--ids (\\d+,)*${first}(,\\d+)*$`, "m"))
    expect(failed.message).toContain("(its DELETE was sent; GitHub never said what became of it)")
  })
})

describe("a registry that fails for a moment while the run checks its work", () => {
  test("retried: a good run stays good", async () => {
    const pkg = await env.seedSmall("flaky-check", { orphans: 1, platforms: ["linux/amd64", "linux/arm64"] })
    // Every manifest HEAD of this package answers 503 twice, then the registry is back.
    env.front.addFault({
      method: "HEAD",
      path: new RegExp(`/v2/meetinity/${pkg.name}/manifests/`),
      times: 2,
      fault: { status: 503, retryAfter: "0" },
    })
    env.front.addFault({
      method: "GET",
      path: new RegExp(`/v2/meetinity/${pkg.name}/tags/list`),
      times: 1,
      fault: { reset: true },
    })
    const result = await runRetention(env.deps("Meetinity", pkg.name), env.request("Meetinity", pkg.name))
    expect(result.validation).toMatchObject({ broken: [], unverified: [] })
    await env.expectIntact(pkg.repository, [pkg.release])
  })

  test("a check that cannot finish says 'could not verify', never 'broken', and prints no restore command", async () => {
    const pkg = await env.seedSmall("down-check", { orphans: 1 })
    const run = runRetention(env.deps("Meetinity", pkg.name), env.request("Meetinity", pkg.name))
    // After the deletion, the release's tag cannot be read at all (the registry keeps answering 503).
    env.api.addFault({
      method: "DELETE",
      times: 1,
      fault: {
        kind: "hook",
        run: () =>
          env.front.addFault({
            method: "HEAD",
            path: new RegExp(`/v2/meetinity/${pkg.name}/manifests/v1\\.0\\.0$`),
            times: 1000,
            fault: { status: 503, retryAfter: "0" },
          }),
      },
    })
    const failed = (await run.catch((e: unknown) => e)) as RetentionFailed
    expect(failed).toBeInstanceOf(RetentionFailed)
    expect(failed.result.validation!.broken).toEqual([])
    expect(failed.result.validation!.unverified.map((u) => u.reference)).toContain("v1.0.0")
    expect(failed.message).toMatch(/could not be verified .*none is known to be missing/)
    expect(failed.message).toContain("none needs restoring")
    expect(failed.message).not.toMatch(/restore --owner/)
    expect(failed.message).not.toMatch(/missing from|Validation failed/)
    await env.expectIntact(pkg.repository, [pkg.release])
  })

  test("a tag missing once but there on a fresh read is not broken", async () => {
    const pkg = await env.seedSmall("missing-once", { orphans: 1 })
    const run = runRetention(env.deps("Meetinity", pkg.name), env.request("Meetinity", pkg.name))
    // After the deletion, the release's tag answers 404 once (a registry replica behind), then 200.
    env.api.addFault({
      method: "DELETE",
      times: 1,
      fault: {
        kind: "hook",
        run: () =>
          env.front.addFault({
            method: "HEAD",
            path: new RegExp(`/v2/meetinity/${pkg.name}/manifests/v1\\.0\\.0$`),
            times: 1,
            fault: { status: 404 },
          }),
      },
    })
    const result = await run
    expect(result.validation).toMatchObject({ broken: [], unverified: [] })
    expect(
      env.front.log.filter((r) => r.method === "HEAD" && r.path === `/v2/meetinity/${pkg.name}/manifests/v1.0.0`),
    ).toHaveLength(2)
  })
})

describe("a token whose hourly quota the repository's other workflows share", () => {
  let shared: RetentionEnv
  beforeAll(async () => {
    shared = await startRetentionEnv({ rateLimit: 1000 })
  })
  afterAll(async () => {
    await shared?.stop()
  })

  test("read first, planned within, a reserve kept: the run stops cleanly and green, the rest left for the next run", async () => {
    const pkg = await shared.seedSmall("shared-quota", { orphans: 6 })
    // Other workflows have used all but 105 of this hour's 1,000 requests.
    shared.api.consume(1000 - 105)
    const args = parseRetainArgs({
      owner: "Meetinity",
      image: pkg.name,
      keep: 30,
      dryRun: false,
      maxDeletions: 1000,
      githubApiUrl: shared.api.url,
      registry: shared.front.url,
      graceMinutes: 0,
    })
    const report = JSON.parse(
      await retainWithToken(args, "ghp_admin", (l) => shared.logs.push(l), NOW, { json: true, msPerSecond: 10 }),
    ) as {
      stopped: string
      summary: { deleted: number; deferred: number }
      quota: { reserve: number; start: { remaining: number } }
    }
    // 105 - 1 owner lookup = 104 when the run reads the quota; - 1 page = 103; two deletions leave
    // 101, and one more could cost two (a DELETE and, after a 404, a GET).
    expect(report.quota).toMatchObject({ reserve: 100, start: { remaining: 104 } })
    expect(report.summary).toMatchObject({ deleted: 2, deferred: 4 })
    expect(report.stopped).toMatch(
      /the token's hourly quota is down to its reserve for other workflows \(101 of 1000 left, 100 kept; it resets at .*\): 4 deletions left for the next run/,
    )
    expect(shared.api.rateLimit.refused).toBe(0)
  })

  test("spent by another workflow part-way: the refused DELETE is not counted, the run stops cleanly and green", async () => {
    const pkg = await shared.seedSmall("spent-quota", { orphans: 4 })
    // Newest first: the second orphan seeded is the third to go.
    const third = idOf(pkg.name, pkg.orphans[1]!.digest, shared)
    shared.api.addFault({
      method: "DELETE",
      path: versionPath(pkg.name, third),
      times: 1,
      fault: { kind: "primary", status: 403, resetInSeconds: 3600 },
    })
    const args = parseRetainArgs({
      owner: "Meetinity",
      image: pkg.name,
      keep: 30,
      dryRun: false,
      maxDeletions: 1000,
      githubApiUrl: shared.api.url,
      registry: shared.front.url,
      graceMinutes: 0,
      quotaReserve: 0,
    })
    const report = JSON.parse(
      await retainWithToken(args, "ghp_admin", (l) => shared.logs.push(l), NOW, { json: true, msPerSecond: 10 }),
    ) as {
      stopped: string
      summary: { deleted: number; deferred: number }
      versions: { id: number; outcome?: string }[]
    }
    expect(report.summary).toMatchObject({ deleted: 2, deferred: 2 })
    expect(report.versions.find((v) => v.id === third)?.outcome).toBe("deferred")
    expect(report.stopped).toMatch(/GitHub refused for the token's hourly quota .*: 2 deletions left for the next run/)
    expect(shared.logs.join("\n")).toMatch(
      new RegExp(`retain journal: not deleted Meetinity/${pkg.name} version ${third} .*quota is spent`),
    )
  })
})

describe("a run killed in the middle of a delete", () => {
  test("its log names every version whose DELETE was sent, the one in flight too; restore --journal brings them all back", async () => {
    const pkg = await env.seedSmall("killed", { orphans: 6 })
    // Every DELETE takes a while to be answered; the test kills the run once GitHub has received
    // the third, while it is in flight (GitHub carries it out all the same).
    let received = 0
    let thirdReceived!: () => void
    const third = new Promise<void>((resolve) => (thirdReceived = resolve))
    env.api.addFault({
      method: "DELETE",
      path: new RegExp(`/packages/container/${pkg.name}/versions/`),
      times: 100,
      fault: {
        kind: "hook",
        run: async () => {
          if (++received === 3) thirdReceived()
          await new Promise((r) => setTimeout(r, 400))
        },
      },
    })
    const dir = await compileForChild(["src/retention/packages.ts", "src/retention/inputs.ts"])
    const script = join(dir, "retain-child.mjs")
    writeFileSync(
      script,
      `import { parseRetainArgs } from "./src/retention/inputs.js"
import { retainWithToken } from "./src/retention/packages.js"
const args = parseRetainArgs(JSON.parse(process.argv[2]))
await retainWithToken(args, "ghp_admin", (line) => console.error(line), new Date(${NOW.getTime()}), { msPerSecond: 10 })
`,
    )
    const child = spawn(
      process.execPath,
      [
        script,
        JSON.stringify({
          owner: "Meetinity",
          image: pkg.name,
          keep: 30,
          dryRun: false,
          maxDeletions: 1000,
          githubApiUrl: env.api.url,
          registry: env.front.url,
          graceMinutes: 0,
        }),
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    )
    let journal = ""
    child.stderr.on("data", (chunk: Buffer) => (journal += chunk.toString()))
    await third
    child.kill("SIGKILL")
    await new Promise((r) => child.once("exit", r))
    // Let the server finish the DELETE the run had sent when it was killed.
    await new Promise((r) => setTimeout(r, 800))
    const deletedByServer = env.api
      .deletedVersions("Meetinity", pkg.name)
      .map((v) => v.id)
      .sort()
    expect(deletedByServer).toHaveLength(3)
    // The third DELETE was in flight: the journal says it was being deleted, and never that it was deleted.
    const ids = idsFromJournal(journal, `Meetinity/${pkg.name}`)
    expect([...ids].sort()).toEqual(deletedByServer)
    expect(journal.match(/retain journal: deleted /g)).toHaveLength(2)

    const report = await restoreWithToken(restoreArgs(pkg.name), { journal }, "ghp_admin", () => {}, {
      msPerSecond: 10,
    })
    expect(report).toMatch(/3 versions asked for: 3 restored/)
    expect(env.api.deletedVersions("Meetinity", pkg.name)).toEqual([])
    await env.expectIntact(pkg.repository, pkg.orphans)
  }, 120_000)
})
