/**
 * The pure parts around a plan file, one row per scenario: its fingerprint, reading it (every
 * refusal names the field and quotes the value), matching it to a run, the ids restore takes
 * from it, and what validation expects the registry to still serve.
 */
import { createHash } from "node:crypto"

import { describe, expect, test } from "vitest"

import { type PackageVersion } from "../src/github/packages.js"
import { type ManifestJson } from "../src/oci/manifest.js"
import { planRetention } from "../src/retention/plan.js"
import { type RetentionPlan } from "../src/retention/versions.js"
import { reportObject, type RetentionResult } from "../src/retention/report.js"
import { idsFromPlan } from "../src/retention/restore.js"
import { fingerprint, REPORT_FORMAT } from "../src/retention/fingerprint.js"
import { matchPlan, parsePlanFile } from "../src/retention/reviewed.js"
import { describeBroken, expectations } from "../src/retention/validate.js"

const NOW = new Date("2026-11-28T12:00:00Z")
const digest = (name: string) => `sha256:${createHash("sha256").update(name).digest("hex")}`
let nextId = 1
const v = (name: string, daysAgo: number, tags: string[] = []): PackageVersion => ({
  id: nextId++,
  name: digest(name),
  created_at: new Date(NOW.getTime() - daysAgo * 86_400_000).toISOString(),
  metadata: { container: { tags } },
})

function planOf(versions: PackageVersion[], manifests: Record<string, ManifestJson>, keep = 1): RetentionPlan {
  const map = new Map(Object.entries(manifests).map(([name, m]) => [digest(name), m]))
  for (const version of versions)
    if (!map.has(version.name)) map.set(version.name, { mediaType: "application/vnd.oci.image.manifest.v1+json" })
  return planRetention(versions, map, { keep, graceMinutes: 0 }, NOW).plan!
}

const versions = [
  v("rel", 1, ["v1.0.0", "sha-1111111"]),
  v("amd", 1),
  v("arm", 1),
  v("sig", 1, [`sha256-${digest("rel").slice(7)}.sig`]),
  v("new", 2, ["sha-2222222"]),
  v("old", 5, ["sha-3333333"]),
  v("orphan", 6),
]
const manifests: Record<string, ManifestJson> = {
  rel: {
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [
      {
        digest: digest("amd"),
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        platform: { os: "linux", architecture: "amd64" },
      },
      { digest: digest("arm"), platform: { os: "linux", architecture: "arm64" } },
      { digest: digest("unlisted") },
    ],
  },
}
const plan = planOf(versions, manifests)

function report(overrides: Partial<RetentionResult> = {}, mutate?: (json: Record<string, unknown>) => void): string {
  const result: RetentionResult = {
    owner: { kind: "org", login: "Meetinity" },
    packageName: "api",
    dryRun: true,
    plan,
    outcomes: new Map(plan.deletions.map((d) => [d.id, "would-delete" as const])),
    manifestsRead: 0,
    manifestReads: { kept: 0, subjects: 0 },
    fingerprint: fingerprint({ owner: "Meetinity", packageName: "api", policy: plan.policy, versions: plan.versions }),
    ...overrides,
  }
  const json = reportObject(result) as unknown as Record<string, unknown>
  mutate?.(json)
  return JSON.stringify(json)
}

describe("fingerprint", () => {
  const base = { owner: "Meetinity", packageName: "api", policy: plan.policy, versions: plan.versions }
  test.each([
    ["the order versions are listed in", { versions: [...plan.versions].reverse() }, true],
    [
      "the order of a version's tags",
      { versions: plan.versions.map((x) => ({ ...x, tags: [...x.tags].reverse() })) },
      true,
    ],
    ["the owner's case", { owner: "meetinity" }, true],
    [
      "a decision",
      { versions: plan.versions.map((x, i) => (i === 0 ? { ...x, decision: "delete" as const } : x)) },
      false,
    ],
    ["a tag", { versions: plan.versions.map((x, i) => (i === 0 ? { ...x, tags: [...x.tags, "latest"] } : x)) }, false],
    ["the policy", { policy: { keep: 2, graceMinutes: 0 } }, false],
    ["the package", { packageName: "web" }, false],
  ])("%s: same fingerprint %s", (_name, change, same) => {
    expect(fingerprint({ ...base, ...change }) === fingerprint(base)).toBe(same)
  })

  test("is sha256 of the documented canonical form", () => {
    const canonical = JSON.stringify([
      "meetinity-release/retention-plan/v2",
      "meetinity",
      "api",
      1,
      0,
      [...plan.versions]
        .sort((a, b) => a.id - b.id)
        .map((x) => [x.id, x.digest, [...x.tags].sort(), x.decision, x.reason]),
    ])
    expect(fingerprint(base)).toBe(`sha256:${createHash("sha256").update(canonical).digest("hex")}`)
  })
})

describe("parsePlanFile", () => {
  test("reads back what the report writes", () => {
    const [section] = parsePlanFile(report())
    expect(section).toMatchObject({
      owner: "Meetinity",
      packageName: "api",
      dryRun: true,
      policy: { keep: 1, graceMinutes: 0 },
    })
    expect(
      section!.versions
        .filter((x) => x.decision === "delete")
        .map((x) => x.digest)
        .sort(),
    ).toEqual([digest("old"), digest("orphan")].sort())
    expect(parsePlanFile(JSON.stringify({ packages: [JSON.parse(report())] }))).toHaveLength(1)
  })

  test.each([
    [
      "not JSON",
      () => "DIGEST  TAGS",
      /^plan "DIGEST TAGS" is not JSON: expected the JSON that `retain --dry-run --format json` writes/,
    ],
    ["an array", () => "[]", /^plan "\[\]" is not a retention plan/],
    [
      "no format",
      () => report({}, (j) => delete j.format),
      /^plan format null is not "meetinity-release\/retention-report\/v2"/,
    ],
    ["another format", () => report({}, (j) => (j.format = "v0")), /^plan format "v0" is not/],
    ["no owner", () => report({}, (j) => (j.owner = "")), /^plan owner "" is not an owner/],
    [
      "a bad policy",
      () => report({}, (j) => (j.policy = { keep: "30" })),
      /^plan policy \{"keep":"30"\} is not a retention policy/,
    ],
    [
      "a bad id",
      () => report({}, (j) => ((j.versions as { id: unknown }[])[2]!.id = "12")),
      /^plan versions\[2\]\.id "12" is not a package version id/,
    ],
    [
      "a repeated id",
      () => report({}, (j) => ((j.versions as { id: unknown }[])[1]!.id = (j.versions as { id: unknown }[])[0]!.id)),
      /^plan versions\[1\]\.id \d+ is listed twice/,
    ],
    [
      "a bad digest",
      () => report({}, (j) => ((j.versions as { digest: unknown }[])[0]!.digest = "sha256:abc")),
      /^plan versions\[0\]\.digest "sha256:abc" is not a manifest digest/,
    ],
    [
      "a bad decision",
      () => report({}, (j) => ((j.versions as { decision: unknown }[])[0]!.decision = "drop")),
      /^plan versions\[0\]\.decision "drop" is not a decision: expected "keep" or "delete"/,
    ],
    [
      "an edit after review",
      () => report({}, (j) => ((j.versions as { decision: unknown }[])[0]!.decision = "delete")),
      /^plan fingerprint "sha256:[0-9a-f]{64}" does not match the plan's content/,
    ],
    ["an empty package list", () => JSON.stringify({ packages: [] }), /^plan packages \[\] lists no package/],
    [
      "a package twice",
      () => JSON.stringify({ packages: [JSON.parse(report()), JSON.parse(report())] }),
      /^plan packages "meetinity\/api" appears twice/,
    ],
  ])("refuses %s, naming the field and quoting the value", (_name, make, message) => {
    expect(() => parsePlanFile(make())).toThrow(message)
  })
})

describe("matchPlan", () => {
  const sections = parsePlanFile(report())
  test.each([
    [
      "the same owner in another case, the same package and policy",
      { owner: "meetinity", packages: ["api"], policy: { keep: 1, graceMinutes: 0 } },
      undefined,
    ],
    [
      "another owner",
      { owner: "Other", packages: ["api"], policy: { keep: 1, graceMinutes: 0 } },
      /plan "Meetinity\/api" is a plan for owner "Meetinity", not "Other": refusing to apply it/,
    ],
    [
      "another package",
      { owner: "Meetinity", packages: ["web"], policy: { keep: 1, graceMinutes: 0 } },
      /is a plan for package api, not for web/,
    ],
    [
      "more packages",
      { owner: "Meetinity", packages: ["api", "web"], policy: { keep: 1, graceMinutes: 0 } },
      /is a plan for package api, not for api, web/,
    ],
    [
      "another grace",
      { owner: "Meetinity", packages: ["api"], policy: { keep: 1, graceMinutes: 60 } },
      /was made with keep 1 and graceMinutes 0, but this run has keep 1 and graceMinutes 60/,
    ],
  ])("%s", (_name, run, message) => {
    if (message) expect(() => matchPlan(sections, run)).toThrow(message)
    else expect(matchPlan(sections, run).get("api")).toBe(sections[0])
  })
})

describe("idsFromPlan (restore)", () => {
  const args = {
    owner: "Meetinity",
    packageName: "api",
    ids: [],
    githubApiUrl: "https://api.github.com",
    dryRun: false,
  }
  const idOf = (name: string) => plan.versions.find((x) => x.digest === digest(name))!.id
  test("a dry-run plan: the versions it would delete", () => {
    expect(idsFromPlan(report(), args).sort()).toEqual([idOf("old"), idOf("orphan")].sort())
  })
  test("a report of a real run: only the versions it deleted", () => {
    const outcomes = new Map([
      [idOf("old"), "deleted" as const],
      [idOf("orphan"), "failed" as const],
    ])
    expect(idsFromPlan(report({ dryRun: false, outcomes }), args)).toEqual([idOf("old")])
  })
  test("a report for another owner or package is refused", () => {
    expect(() => idsFromPlan(report(), { ...args, owner: "Other" })).toThrow(
      /plan "Meetinity\/api" is a report for owner "Meetinity", not "Other"/,
    )
    expect(() => idsFromPlan(report(), { ...args, packageName: "web" })).toThrow(
      /plan \["api"\] has no section for package "web"/,
    )
  })
})

describe("expectations after a run", () => {
  const expected = expectations(plan, new Map(Object.entries(manifests).map(([k, m]) => [digest(k), m])))
  test("every kept tag, every kept untagged version, every unlisted child of a kept index; nothing deleted", () => {
    expect(expected.map((e) => e.reference).sort()).toEqual(
      [
        "v1.0.0",
        "sha-1111111",
        `sha256-${digest("rel").slice(7)}.sig`,
        digest("unlisted"),
        digest("amd"),
        digest("arm"),
        "sha-2222222",
      ].sort(),
    )
  })
  test("each names what breaks: its own tag, or the tags of the image it is kept for", () => {
    const byRef = new Map(expected.map((e) => [e.reference, e]))
    expect(byRef.get("v1.0.0")).toMatchObject({ what: "tag v1.0.0", breaks: ["v1.0.0"] })
    expect(byRef.get(`sha256-${digest("rel").slice(7)}.sig`)).toMatchObject({
      what: `tag sha256-${digest("rel").slice(7)}.sig (signature of kept v1.0.0)`,
      breaks: ["v1.0.0", "sha-1111111"],
    })
    expect(byRef.get(digest("arm"))).toMatchObject({
      what: `platform manifest (linux/arm64) of kept v1.0.0 (${digest("arm").slice(0, 19)})`,
      breaks: ["v1.0.0", "sha-1111111"],
    })
    expect(byRef.get(digest("unlisted"))).toMatchObject({
      what: `child ${digest("unlisted").slice(0, 19)} of kept v1.0.0, which GitHub does not list`,
      breaks: ["v1.0.0", "sha-1111111"],
    })
    expect(describeBroken({ ...byRef.get(digest("arm"))!, problem: "is missing from ghcr.io/meetinity/api" })).toBe(
      `platform manifest (linux/arm64) of kept v1.0.0 (${digest("arm").slice(0, 19)}) is missing from ghcr.io/meetinity/api: breaks v1.0.0, sha-1111111`,
    )
  })
})

test("the report carries what a plan needs", () => {
  const json = JSON.parse(report()) as Record<string, unknown>
  expect(json).toMatchObject({
    format: REPORT_FORMAT,
    owner: "Meetinity",
    package: "api",
    policy: { keep: 1, graceMinutes: 0 },
    fingerprint: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
  })
  for (const version of json.versions as Record<string, unknown>[])
    expect(Object.keys(version)).toEqual(expect.arrayContaining(["id", "digest", "tags", "decision", "reason"]))
})
