/**
 * Retention of a chart package (`<owner>/charts/<name>` on ghcr.io) against real programs: chart
 * versions pushed by real `helm push` into a real docker-registry (Helm's config media type, no
 * platforms), untagged ones made as a moved version tag leaves them (the same version pushed
 * again with other content), the GitHub packages API stand-in seeded with one package version per
 * manifest, then `runRetention`: every SemVer version kept, every untagged one deleted, and every
 * kept version still pulled by real Helm.
 */
import { mkdirSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, test } from "vitest"

import { runRetention } from "../src/retention/run.js"
import { formatReport } from "../src/retention/report.js"
import { classify } from "../src/retention/versions.js"
import { type ApiVersion } from "./support/github-api.js"
import { copyChart, EXAMPLE_CHART, helmHome, withVersion } from "./support/charts.js"
import { startRetentionEnv, type RetentionEnv } from "./support/retention-env.js"

let env: RetentionEnv
beforeAll(async () => {
  env = await startRetentionEnv()
})
afterAll(async () => {
  await env?.stop()
})

/** Pushes charts with real helm, and keeps the package versions ghcr.io would list for them. */
class ChartSeeder {
  readonly versions: ApiVersion[] = []
  readonly helm = helmHome()
  private clock = Date.parse("2026-01-01T00:00:00Z")
  private id = 5000
  private pushes = 0

  constructor(
    private readonly registryHost: string,
    private readonly owner: string,
  ) {}

  /** `helm package` + `helm push` of the example chart at `version`, its values.yaml changed by `seed`; returns the digest. */
  push(version: string, seed: string): string {
    const dir = withVersion(copyChart(EXAMPLE_CHART, { "templates/seed.txt": `${seed}\n` }), version)
    const out = join(this.helm.home, `push-${++this.pushes}`)
    this.helm.ok(["package", dir, "-d", out])
    const said = this.helm.said([
      "push",
      join(out, `meetinity-${version}.tgz`),
      `oci://${this.registryHost}/${this.owner.toLowerCase()}/charts`,
      "--plain-http",
    ])
    const digest = /Digest: (sha256:[0-9a-f]{64})/.exec(said)![1]!
    const tag = version.replace(/\+/g, "_")
    // The tag moves: the version that had it is left untagged, as on ghcr.io.
    for (const v of this.versions) v.tags = v.tags.filter((t) => t !== tag)
    this.clock += 60_000
    const at = new Date(this.clock).toISOString()
    this.versions.push({ id: ++this.id, name: digest, created_at: at, updated_at: at, tags: [tag] })
    return digest
  }
}

describe("retention of a chart package", () => {
  test("keeps every SemVer version, deletes the untagged ones a moved version left, breaks no kept chart", async () => {
    const owner = "Meetinity"
    const name = "charts/meetinity"
    const repository = `${owner.toLowerCase()}/${name}`
    const seeder = new ChartSeeder(env.registry.host, owner)
    const moved = [seeder.push("0.1.0", "first"), seeder.push("0.1.0", "second")]
    const kept = {
      "0.1.0": seeder.push("0.1.0", "third"),
      "0.2.0": seeder.push("0.2.0", "a"),
      "0.3.0-rc.1": seeder.push("0.3.0-rc.1", "b"),
      "1.0.0+build.5": seeder.push("1.0.0+build.5", "c"),
    }
    moved.push(seeder.push("2.0.0", "soon moved"))
    kept["2.0.0" as keyof typeof kept] = seeder.push("2.0.0", "kept")
    const untagged = seeder.versions.filter((v) => v.tags.length === 0).map((v) => v.name)
    expect(untagged.sort()).toEqual([...moved].sort())
    env.api.addPackage(owner, name, seeder.versions)

    const result = await runRetention(
      env.deps(owner, name),
      env.request(owner, name, { policy: { keep: 0, graceMinutes: 0 } }),
    )
    expect(result.plan.deletions.map((d) => d.digest).sort()).toEqual([...moved].sort())
    for (const version of result.plan.versions.filter((v) => v.decision === "keep"))
      expect(version.tags, version.reason).toHaveLength(1)
    expect(result.validation).toMatchObject({ broken: [], unverified: [] })
    for (const digest of moved) expect(await env.resolves(repository, digest), digest).toBe(false)
    for (const [version, digest] of Object.entries(kept)) {
      expect(await env.resolves(repository, digest), version).toBe(true)
      // Real Helm still pulls every kept version, at the digest it had.
      mkdirSync(join(seeder.helm.home, "pulled", version), { recursive: true })
      const said = seeder.helm.said([
        "pull",
        `oci://${env.registry.host}/${repository}`,
        "--version",
        version,
        "--plain-http",
        "-d",
        join(seeder.helm.home, "pulled", version),
      ])
      expect(said, version).toContain(`Digest: ${digest}`)
    }
    expect(
      env.api
        .versions(owner, name)
        .map((v) => v.name)
        .sort(),
    ).toEqual(Object.values(kept).sort())
    const report = formatReport(result)
    expect(report).toContain("3 of 3 deleted")
    expect(report).toMatch(/2\.0\.0 +\S+ +keep +carries version tag 2\.0\.0/)
    // A second run has nothing left to do.
    const again = await runRetention(
      env.deps(owner, name),
      env.request(owner, name, { policy: { keep: 0, graceMinutes: 0 } }),
    )
    expect(again.plan.deletions).toEqual([])
  })

  // Helm writes a version's build metadata with `_` in its tag (1.0.0+build.5 -> 1.0.0_build.5):
  // the planner keeps it as a release, with the reason a version tag gives (before, as "tagged",
  // "neither a version nor a build tag").
  test("a chart version with build metadata (tag 1.0.0_build.5) is a release to the planner", () => {
    expect(classify(["1.0.0_build.5"])).toBe("release")
  })
})
