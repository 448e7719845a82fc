/**
 * The retention planner, one row per scenario. Versions and manifests are built here; the
 * clock is frozen (NOW) and passed in, as the planner takes it.
 */
import { createHash } from "node:crypto"

import { describe, expect, test } from "vitest"

import { type PackageVersion } from "../src/github/packages.js"
import { type ManifestJson } from "../src/oci/manifest.js"
import { planRetention } from "../src/retention/plan.js"
import { classify, referrerTag, type RetentionPlan, type RetentionPolicy } from "../src/retention/versions.js"

const NOW = new Date("2026-11-28T12:00:00Z")
const digest = (name: string) => `sha256:${createHash("sha256").update(name).digest("hex")}`
const hex = (name: string) => digest(name).slice(7)
const INDEX = "application/vnd.oci.image.index.v1+json"
const MANIFEST = "application/vnd.oci.image.manifest.v1+json"

let nextId = 1
/** A version `name`, `daysAgo` old, with tags. */
function v(name: string, daysAgo: number, tags: string[] = [], id = nextId++): PackageVersion {
  return {
    id,
    name: digest(name),
    created_at: new Date(NOW.getTime() - daysAgo * 86_400_000).toISOString(),
    metadata: { package_type: "container", container: { tags } },
  }
}
const index = (...children: { name: string; platform?: string; attestationOf?: string }[]): ManifestJson => ({
  mediaType: INDEX,
  manifests: children.map((c) => ({
    digest: digest(c.name),
    mediaType: MANIFEST,
    platform: c.attestationOf
      ? { os: "unknown", architecture: "unknown" }
      : { os: "linux", architecture: c.platform ?? "amd64" },
    ...(c.attestationOf
      ? {
          annotations: {
            "vnd.docker.reference.type": "attestation-manifest",
            "vnd.docker.reference.digest": digest(c.attestationOf),
          },
        }
      : {}),
  })),
})
const image: ManifestJson = { mediaType: MANIFEST }

const policy = (keep = 30, graceMinutes = 0): RetentionPolicy => ({ keep, graceMinutes })

/** Plans with every manifest available; fails the test if the planner asks for one we lack. */
function plan(versions: PackageVersion[], manifests: Record<string, ManifestJson>, p = policy()): RetentionPlan {
  const map = new Map(Object.entries(manifests).map(([name, m]) => [digest(name), m]))
  for (const version of versions) if (!map.has(version.name)) map.set(version.name, image)
  const result = planRetention(versions, map, p, NOW)
  expect(result.missing).toEqual([])
  return result.plan!
}
const decisions = (p: RetentionPlan) =>
  Object.fromEntries(p.versions.map((v) => [v.tags[0] ?? v.digest.slice(7, 19), v.decision]))
const decisionOf = (p: RetentionPlan, name: string) => p.versions.find((v) => v.digest === digest(name))!
const deleted = (p: RetentionPlan) => p.deletions.map((v) => v.digest)

interface Row {
  versions: PackageVersion[]
  manifests?: Record<string, ManifestJson>
  policy?: RetentionPolicy
  keep: string[]
  delete: string[]
  reasons?: Record<string, RegExp>
}

const scenarios: [string, () => Row][] = [
  [
    "multi-arch release index with buildx attestations: every child kept",
    () => ({
      versions: [
        v("idx", 3, ["v1.0.0", "sha-aaaaaaa"]),
        v("amd", 3),
        v("arm", 3),
        v("att-amd", 3),
        v("att-arm", 3),
        v("orphan", 5),
      ],
      manifests: {
        idx: index(
          { name: "amd" },
          { name: "arm", platform: "arm64" },
          { name: "att-amd", attestationOf: "amd" },
          { name: "att-arm", attestationOf: "arm" },
        ),
      },
      keep: ["idx", "amd", "arm", "att-amd", "att-arm"],
      delete: ["orphan"],
      reasons: {
        amd: /platform manifest \(linux\/amd64\) of kept v1\.0\.0/,
        "att-arm": /attestation manifest of kept v1\.0\.0/,
        orphan: /untagged, and no kept image refers to it/,
      },
    }),
  ],
  [
    "a child shared by a kept and a deleted index stays",
    () => ({
      versions: [v("new", 1, ["sha-1111111"]), v("old", 9, ["sha-2222222"]), v("shared", 9), v("only-old", 9)],
      manifests: {
        new: index({ name: "shared" }),
        old: index({ name: "shared" }, { name: "only-old", platform: "arm64" }),
      },
      policy: policy(1),
      keep: ["new", "shared"],
      delete: ["old", "only-old"],
      reasons: { shared: /of kept sha-1111111/, old: /build image beyond the newest 1/ },
    }),
  ],
  [
    "an index child that also carries a build tag beyond keep stays with its kept parent",
    () => ({
      versions: [v("parent", 1, ["v2.0.0"]), v("tagged-child", 2, ["sha-3333333"]), v("b1", 1.5, ["sha-4444444"])],
      manifests: { parent: index({ name: "tagged-child" }) },
      policy: policy(1),
      keep: ["parent", "tagged-child", "b1"],
      delete: [],
      reasons: { "tagged-child": /platform manifest \(linux\/amd64\) of kept v2\.0\.0/ },
    }),
  ],
  [
    "cosign .sig/.att/.sbom and sigstore sha256- tags follow their image",
    () => ({
      versions: [
        v("kept", 1, ["v1.0.0"]),
        v("gone", 9, ["sha-5555555"]),
        v("keepb", 2, ["sha-6666666"]),
        v("kept-sig", 1, [`sha256-${hex("kept")}.sig`]),
        v("kept-att", 1, [`sha256-${hex("kept")}.att`]),
        v("kept-sbom", 1, [`sha256-${hex("kept")}.sbom`]),
        v("kept-bundle", 1, [`sha256-${hex("kept")}`]),
        v("bundle-child", 1),
        v("gone-sig", 9, [`sha256-${hex("gone")}.sig`]),
        v("gone-bundle", 9, [`sha256-${hex("gone")}`]),
        v("stray-sig", 9, [`sha256-${hex("never-pushed")}.sig`]),
      ],
      manifests: { "kept-bundle": index({ name: "bundle-child" }) },
      policy: policy(1),
      keep: ["kept", "keepb", "kept-sig", "kept-att", "kept-sbom", "kept-bundle", "bundle-child"],
      delete: ["gone", "gone-sig", "gone-bundle", "stray-sig"],
      reasons: {
        "kept-sig": /signature of kept v1\.0\.0/,
        "kept-sbom": /SBOM of kept v1\.0\.0/,
        "kept-bundle": /referrers \(signatures, attestations\) of kept v1\.0\.0/,
        "bundle-child": /^referrer of kept v1\.0\.0, listed in its referrers index sha256-/,
        "gone-sig": /signature of deleted sha-5555555/,
        "stray-sig": /which is not in the package/,
      },
    }),
  ],
  [
    "a signature of a kept platform manifest stays (referrer of a child)",
    () => ({
      versions: [v("idx", 1, ["v1.0.0"]), v("plat", 1), v("plat-sig", 1, [`sha256-${hex("plat")}.sig`])],
      manifests: { idx: index({ name: "plat" }) },
      keep: ["idx", "plat", "plat-sig"],
      delete: [],
    }),
  ],
  [
    "latest beside a sha tag is kept and reported",
    () => ({
      versions: [v("a", 1, ["sha-7777777"]), v("b", 2, ["latest", "sha-8888888"])],
      policy: policy(1),
      keep: ["a", "b"],
      delete: [],
      reasons: { b: /carries tag latest, which is neither a version nor a build tag/ },
    }),
  ],
  [
    "a version tag beside a sha tag is a release, whatever keep says",
    () => ({
      versions: [
        v("a", 1, ["sha-9999999"]),
        v("rel", 400, ["sha-aaaaaa1", "v0.1.0"]),
        v("pre", 300, ["v0.2.0-rc.1"]),
        v("old", 500, ["sha-aaaaaa2"]),
      ],
      policy: policy(1),
      keep: ["a", "rel", "pre"],
      delete: ["old"],
      reasons: { rel: /carries version tag v0\.1\.0/, pre: /carries version tag v0\.2\.0-rc\.1/ },
    }),
  ],
  [
    "equal created_at: the higher id is the newer",
    () => ({
      versions: [v("low", 1, ["sha-b000001"], 10), v("high", 1, ["sha-b000002"], 11)],
      policy: policy(1),
      keep: ["high"],
      delete: ["low"],
    }),
  ],
  [
    "keep = 0: every build image goes, but never the package's last version",
    () => ({
      versions: [v("b1", 1, ["sha-c000001"]), v("b2", 2, ["sha-c000002"]), v("child", 1), v("orphan", 3)],
      manifests: { b1: index({ name: "child" }) },
      policy: policy(0),
      keep: ["b1", "child"],
      delete: ["b2", "orphan"],
      reasons: { b1: /the package's last version: GitHub refuses to delete it/, child: /of kept sha-c000001/ },
    }),
  ],
  [
    "keep = 0 with a release: builds and orphans go",
    () => ({
      versions: [v("rel", 5, ["v1.0.0"]), v("b1", 1, ["sha-d000001"]), v("orphan", 3)],
      policy: policy(0),
      keep: ["rel"],
      delete: ["b1", "orphan"],
    }),
  ],
  ["an empty package: nothing to do", () => ({ versions: [], keep: [], delete: [] })],
  [
    "grace: young untagged versions and what young images need are kept",
    () => ({
      versions: [
        v("young-orphan", 0.01),
        v("old-orphan", 2),
        v("young-build", 0.02, ["sha-e000001"]),
        v("young-child", 0.02),
      ],
      manifests: { "young-build": index({ name: "young-child" }) },
      policy: policy(0, 60),
      keep: ["young-orphan", "young-build", "young-child"],
      delete: ["old-orphan"],
      reasons: { "young-orphan": /younger than 60 min/ },
    }),
  ],
  [
    "a nested index inside a kept index: its children are kept too",
    () => ({
      versions: [v("top", 1, ["v3.0.0"]), v("inner", 1), v("leaf", 1), v("stray", 2)],
      manifests: {
        top: { mediaType: INDEX, manifests: [{ digest: digest("inner"), mediaType: INDEX }] },
        inner: index({ name: "leaf" }),
      },
      keep: ["top", "inner", "leaf"],
      delete: ["stray"],
    }),
  ],
  [
    "a referrers index under the sha256-<hex> fallback tag: what it lists are referrers of the image, not platforms",
    () => ({
      versions: [
        v("rel", 2, ["v1.0.0"]),
        v("refidx", 2, [`sha256-${hex("rel")}`]),
        v("sbom", 2),
        v("sig", 2),
        v("orphan", 3),
      ],
      manifests: {
        refidx: {
          mediaType: INDEX,
          manifests: [
            { digest: digest("sbom"), mediaType: MANIFEST, artifactType: "application/spdx+json" },
            { digest: digest("sig"), mediaType: MANIFEST },
          ],
        },
      },
      keep: ["rel", "refidx", "sbom", "sig"],
      delete: ["orphan"],
      reasons: {
        refidx: /^referrers \(signatures, attestations\) of kept v1\.0\.0$/,
        sbom: new RegExp(
          `^referrer \\(application/spdx\\+json\\) of kept v1\\.0\\.0, listed in its referrers index sha256-${hex("rel").slice(0, 12)}$`,
        ),
        sig: /^referrer of kept v1\.0\.0, listed in its referrers index sha256-/,
      },
    }),
  ],
  [
    "more build images than keep: the newest 30 stay",
    () => ({
      versions: Array.from({ length: 35 }, (_, i) => v(`build${i}`, i + 1, [`sha-${(0xf000000 + i).toString(16)}`])),
      keep: Array.from({ length: 30 }, (_, i) => `build${i}`),
      delete: Array.from({ length: 5 }, (_, i) => `build${30 + i}`),
      reasons: { build29: /build image 30 of the newest 30/, build30: /build image beyond the newest 30/ },
    }),
  ],
]

describe("planRetention", () => {
  test.each(scenarios)("%s", (_name, make) => {
    const row = make()
    const result = plan(row.versions, row.manifests ?? {}, row.policy ?? policy())
    expect(result.versions).toHaveLength(row.versions.length)
    const kept = result.versions
      .filter((x) => x.decision === "keep")
      .map((x) => x.digest)
      .sort()
    expect(kept).toEqual(row.keep.map(digest).sort())
    expect(deleted(result).sort()).toEqual(row.delete.map(digest).sort())
    for (const [name, reason] of Object.entries(row.reasons ?? {}))
      expect(decisionOf(result, name).reason, name).toMatch(reason)
    for (const version of result.versions) expect(version.reason).toMatch(/\S/)
  })

  test("deletion order: tagged parents before untagged children, newest first", () => {
    const versions = [
      v("old-idx", 10, ["sha-0000aa1"]),
      v("new-idx", 5, ["sha-0000aa2"]),
      v("kid-old", 10.001),
      v("kid-new", 5.001),
      v("keeper", 1, ["sha-0000aa3"]),
    ]
    const result = plan(
      versions,
      { "old-idx": index({ name: "kid-old" }), "new-idx": index({ name: "kid-new" }) },
      policy(1),
    )
    expect(deleted(result)).toEqual(["new-idx", "old-idx", "kid-new", "kid-old"].map(digest))
  })

  test("versions come back newest first, whatever order the API listed them in", () => {
    const versions = [v("c", 3, ["v1.0.0"]), v("a", 1, ["v1.0.2"]), v("b", 2, ["v1.0.1"])]
    expect(decisions(plan(versions, {}))).toEqual({ "v1.0.2": "keep", "v1.0.1": "keep", "v1.0.0": "keep" })
    expect(plan(versions, {}).versions.map((x) => x.tags[0])).toEqual(["v1.0.2", "v1.0.1", "v1.0.0"])
  })

  test("asks only for the manifests of kept tagged versions, and only when something could be deleted", () => {
    const versions = [v("rel", 1, ["v1.0.0"]), v("b1", 1, ["sha-0000bb1"]), v("b2", 2, ["sha-0000bb2"]), v("child", 1)]
    const first = planRetention(versions, new Map(), policy(1), NOW)
    expect(first.plan).toBeUndefined()
    expect([...first.missing].sort()).toEqual([digest("rel"), digest("b1")].sort())
    // Nothing deletable by tags: no manifest is needed at all.
    const none = planRetention([v("r2", 1, ["v2.0.0"]), v("r3", 2, ["latest"])], new Map(), policy(1), NOW)
    expect(none.missing).toEqual([])
    expect(none.plan!.deletions).toEqual([])
  })

  test("reads untagged deletion candidates only after what kept images need, and never a tagged version it deletes", () => {
    const versions = [
      v("rel", 1, ["v1.0.0"]),
      v("child", 1),
      v("old", 9, ["sha-0000cc1"]),
      v("new", 2, ["sha-0000cc2"]),
      v("sig", 1),
      v("orphan", 5),
    ]
    const manifests = new Map<string, ManifestJson>()
    const first = planRetention(versions, manifests, policy(1), NOW)
    expect(first).toMatchObject({ purpose: "kept" })
    expect([...first.missing].sort()).toEqual([digest("rel"), digest("new")].sort())
    manifests.set(digest("rel"), index({ name: "child" }))
    manifests.set(digest("new"), image)
    const second = planRetention(versions, manifests, policy(1), NOW)
    // The child is held by a kept index: not read. "old" is tagged and goes: not read.
    expect(second).toMatchObject({ purpose: "subjects" })
    expect([...second.missing].sort()).toEqual([digest("sig"), digest("orphan")].sort())
    manifests.set(digest("sig"), {
      mediaType: MANIFEST,
      artifactType: "application/vnd.dev.cosign.artifact.sig.v1+json",
      subject: { digest: digest("rel") },
    })
    manifests.set(digest("orphan"), { mediaType: MANIFEST, subject: { digest: digest("old") } })
    const done = planRetention(versions, manifests, policy(1), NOW)
    expect(done.plan!.versions.find((x) => x.digest === digest("sig"))).toMatchObject({
      decision: "keep",
      reason: "referrer (application/vnd.dev.cosign.artifact.sig.v1+json) of kept v1.0.0",
      parent: digest("rel"),
    })
    expect(done.plan!.versions.find((x) => x.digest === digest("orphan"))).toMatchObject({
      decision: "delete",
      reason: "referrer of deleted sha-0000cc1",
    })
  })

  test("a young untagged index (grace) is read, so its older children stay with it", () => {
    const versions = [v("young-idx", 0.001), v("old-child", 3), v("b", 1, ["v1.0.0"])]
    const result = plan(versions, { "young-idx": index({ name: "old-child" }) }, policy(30, 60))
    expect(decisionOf(result, "old-child")).toMatchObject({
      decision: "keep",
      reason: "platform manifest (linux/amd64) of kept young-idx".replace(
        "young-idx",
        digest("young-idx").slice(7, 19),
      ),
    })
  })

  test("an untagged version whose manifest names a kept subject stays with it", () => {
    const versions = [v("img", 1, ["v1.0.0"]), v("ref", 1)]
    const result = plan(versions, { ref: { mediaType: MANIFEST, subject: { digest: digest("img") } } })
    expect(decisionOf(result, "ref")).toMatchObject({ decision: "keep", reason: "referrer of kept v1.0.0" })
  })
})

describe("tag classes", () => {
  test.each([
    [[], "untagged"],
    [["v1.2.3"], "release"],
    [["sha-0123abc", "v1.2.3"], "release"],
    [["sha-0123abc"], "build"],
    [["sha-0123abcdef0123abcdef0123abcdef01234567"], "build"],
    [["sha-0123ab"], "tagged"],
    [["latest", "sha-0123abc"], "tagged"],
    [[`sha256-${hex("x")}.sig`], "referrer"],
    [[`sha256-${hex("x")}`], "referrer"],
    [["sha256-abc.sig"], "tagged"],
    [[`sha256-${hex("x")}.sig`, "v1.0.0"], "release"],
  ])("%j is %s", (tags, kind) => {
    expect(classify(tags as string[])).toBe(kind)
  })

  test("referrer tags name their subject", () => {
    expect(referrerTag(`sha256-${hex("x")}.att`)).toEqual({ subject: digest("x"), what: "attestation" })
    expect(referrerTag("sha256-short.sig")).toBeUndefined()
  })
})
