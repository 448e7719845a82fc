/**
 * `publish` without an engine: the test answers the SDK's GraphQL queries. Its `publish`
 * answer really pushes an image (an index when platform variants are given) into a real
 * registry behind a ghcr-style token front, so the module's own version-tag step runs for real.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest"
import { dag, type DirectoryID, type SecretID } from "@dagger.io/dagger"

import { MeetinityRelease } from "../src/index.js"
import { argValue, recordDagger, type Query, type Recorder } from "./support/dagger.js"
import { publishAnswer } from "./support/engine.js"
import { OciPusher } from "./support/oci.js"
import { startRegistry, type RunningRegistry } from "./support/registry.js"
import { skopeoDigest } from "./support/skopeo.js"
import { startTokenRegistry, type TokenRegistry } from "./support/token-registry.js"

const TOKEN = "ghp_Pl41nText-Never-In-A-Query"
let registry: RunningRegistry
let front: TokenRegistry
let push: OciPusher
let recorder: Recorder | undefined

beforeAll(async () => {
  registry = await startRegistry()
  front = await startTokenRegistry(registry.url, { username: "ci-bot", password: TOKEN })
  push = new OciPusher(registry.url)
})
afterAll(async () => {
  await front?.stop()
  await registry?.stop()
})
afterEach(() => recorder?.restore())

/**
 * The engine's side: IDs for objects, the secret's plaintext on request, a real push on publish
 * of the platforms that were built (or, with `published`, of other platforms: what the real
 * engine did when the base image had only one).
 */
function engine(seed: string, published?: string[]) {
  return async (query: Query) => {
    if (query.leaf === "plaintext") return TOKEN
    if (query.leaf === "publish") {
      const built = [...new Set(recorder!.calls("dockerBuild").map((b) => /platform: "([^"]+)"/.exec(b.args)![1]!))]
      return publishAnswer(push, seed, query, published ?? built)
    }
    return undefined
  }
}

const source = () => dag.loadDirectoryFromID("DirectoryID-source" as DirectoryID)
const password = () => dag.loadSecretFromID("SecretID-ghcr-token" as SecretID)
const args = (overrides: Partial<Record<string, unknown>> = {}) => ({
  ref: "refs/tags/release/v1.4.2", sha: "0123ABCdef4567", owner: "Meetinity", username: "ci-bot",
  image: "api-gateway", dockerfile: "build/Dockerfile", platforms: ["linux/amd64", "linux/arm64"],
  buildArgs: ["NODE_ENV=production", "EMPTY="], ...overrides,
})
async function publish(overrides: Partial<Record<string, unknown>> = {}) {
  const a = args(overrides) as ReturnType<typeof args>
  return new MeetinityRelease().publish(source(), a.ref, a.sha, a.owner, a.username, password(), a.image,
    (overrides.registry as string | undefined) ?? front.url, a.dockerfile, a.platforms, a.buildArgs, (overrides.sourceUrl as string | undefined) ?? "")
}

describe("build", () => {
  test("one dockerBuild for the platform, with the Dockerfile and build args; nothing runs until asked", async () => {
    recorder = await recordDagger(() => undefined)
    const container = new MeetinityRelease().build(source(), "ops/Dockerfile", "linux/arm64", ["A=1"])
    expect(recorder.queries).toEqual([])
    await container.id()
    const builds = recorder.calls("dockerBuild")
    expect(builds).toHaveLength(1)
    expect(argValue(builds[0]!.args, "dockerfile")).toBe("ops/Dockerfile")
    expect(argValue(builds[0]!.args, "platform")).toBe("linux/arm64")
    expect(builds[0]!.args).toContain('buildArgs: [{name:"A",value:"1"}]')
  })

  test.each([
    ["platform", () => new MeetinityRelease().build(source(), "Dockerfile", "arm64"), /platform "arm64" is not a platform/],
    ["dockerfile", () => new MeetinityRelease().build(source(), "/Dockerfile"), /dockerfile "\/Dockerfile" is not a Dockerfile path/],
    ["build arg", () => new MeetinityRelease().build(source(), "Dockerfile", "linux/amd64", ["=x"]), /buildArgs "=x" is not a build argument/],
  ])("bad %s: refused before anything is sent", async (_name, run, message) => {
    recorder = await recordDagger(() => undefined)
    expect(run).toThrow(message)
    expect(recorder.queries).toEqual([])
  })
})

describe("publish", () => {
  test.each([
    ["a single manifest for two platforms (the base image had only amd64)", ["linux/amd64"], /pushed as sha256:[0-9a-f]{64}, which is a single image, not an index of linux\/amd64, linux\/arm64/],
    ["an index without one of the platforms built", ["linux/amd64", "linux/s390x"], /pushed as sha256:[0-9a-f]{64}, an index without linux\/arm64 \(it has linux\/amd64, linux\/s390x\)/],
  ])("%s: refused before the version tag is written", async (_name, published, message) => {
    recorder = await recordDagger(engine("short", published))
    await expect(publish({ image: `short-${published.length}` })).rejects.toThrow(message)
    await expect(publish({ image: `short-${published.length}` })).rejects.toThrow(/The version tag v1\.4\.2 was not written/)
    expect(skopeoDigest(registry.host, `meetinity/short-${published.length}`, "sha-0123abc")).toMatch(/^sha256:/)
    expect(skopeoDigest(registry.host, `meetinity/short-${published.length}`, "v1.4.2")).toBeUndefined()
  })

  test("one dockerBuild per platform, labelled, pushed once under the build tag, then the version tag at the same digest", async () => {
    recorder = await recordDagger(engine("multi"))
    const refs = await publish()
    const repo = "meetinity/api-gateway"
    const digest = skopeoDigest(registry.host, repo, "sha-0123abc")!
    expect(refs).toEqual([`${front.host}/${repo}:v1.4.2@${digest}`, `${front.host}/${repo}:sha-0123abc@${digest}`])
    expect(skopeoDigest(registry.host, repo, "v1.4.2")).toBe(digest)

    const builds = recorder.calls("dockerBuild")
    expect(builds.map((b) => /platform: "([^"]+)"/.exec(b.args)?.[1])).toEqual(["linux/amd64", "linux/arm64"])
    for (const build of builds) {
      expect(build.args).toContain('dockerfile: "build/Dockerfile"')
      expect(build.args).toContain('{name:"NODE_ENV",value:"production"}')
      expect(build.args).toContain('{name:"EMPTY",value:""}')
    }
    const labels = recorder.calls("withLabel").map((c) => c.args)
    expect(labels).toContain('(name: "org.opencontainers.image.version",value: "v1.4.2")')
    expect(labels).toContain('(name: "org.opencontainers.image.revision",value: "0123abcdef4567")')
    expect(labels).toHaveLength(4)

    const publishes = recorder.calls("publish")
    expect(publishes).toHaveLength(1)
    expect(publishes[0]!.args).toContain(`address: "${front.host}/${repo}:sha-0123abc"`)
    expect(publishes[0]!.args).toMatch(/platformVariants: \["[^"]+","[^"]+"\]/)
    const auth = recorder.calls("withRegistryAuth")
    expect(auth).toHaveLength(1)
    expect(auth[0]!.args).toMatch(new RegExp(`address: "${front.host}",\\s*username: "ci-bot",\\s*secret: "SecretID-ghcr-token"`))

    for (const query of recorder.queries) expect(query.text).not.toContain(TOKEN)
  })

  test("sourceUrl adds the org.opencontainers.image.source label to every platform image", async () => {
    recorder = await recordDagger(engine("labelled"))
    await publish({ image: "labelled", sourceUrl: "https://github.com/meetinity/api-gateway" })
    const sources = recorder.calls("withLabel").filter((c) => argValue(c.args, "name") === "org.opencontainers.image.source")
    expect(sources.map((c) => argValue(c.args, "value"))).toEqual(["https://github.com/meetinity/api-gateway", "https://github.com/meetinity/api-gateway"])
  })

  test("one platform: a single manifest, no platform variants", async () => {
    recorder = await recordDagger(engine("single"))
    const refs = await publish({ image: "single", platforms: ["linux/amd64"] })
    expect(recorder.calls("dockerBuild")).toHaveLength(1)
    expect(recorder.calls("publish")[0]!.args).not.toContain("platformVariants")
    expect(refs[0]).toMatch(/:v1\.4\.2@sha256:[0-9a-f]{64}$/)
    expect(refs[0]!.split("@")[1]).toBe(refs[1]!.split("@")[1])
  })

  test("a re-run of the same build succeeds; a different build never moves the version tag", async () => {
    recorder = await recordDagger(engine("same"))
    const first = await publish({ image: "rerun" })
    expect(await publish({ image: "rerun" })).toEqual(first)
    recorder.restore()
    recorder = await recordDagger(engine("different"))
    const attempt = publish({ image: "rerun", sha: "fedcba9" })
    await expect(attempt).rejects.toThrow(/meetinity\/rerun:v1\.4\.2 already exists at sha256:[0-9a-f]{64}; this build is sha256:[0-9a-f]{64}/)
    expect(skopeoDigest(registry.host, "meetinity/rerun", "v1.4.2")).toBe(first[0]!.split("@")[1])
    expect(skopeoDigest(registry.host, "meetinity/rerun", "sha-fedcba9")).not.toBe(first[0]!.split("@")[1])
  })

  test.each([
    ["bad ref", { ref: "release/1.4.2" }, /ref "release\/1.4.2" is not a release ref/],
    ["bad sha", { sha: "xyz" }, /sha "xyz" is not a commit SHA/],
    ["upper-case image", { image: "Api" }, /image "Api" is not an image name/],
    ["bad owner", { owner: "-meetinity" }, /owner "-meetinity"/],
    ["bad platform", { platforms: ["amd64"] }, /platforms "amd64" is not a platform/],
    ["bad build arg", { buildArgs: ["X"] }, /buildArgs "X" is not a build argument/],
    ["bad registry", { registry: "ghcr.io/x" }, /registry "ghcr.io\/x" is not a registry/],
    ["empty username", { username: "" }, /username "" is not a user name/],
    ["source URL without https", { sourceUrl: "github.com/meetinity" }, /sourceUrl "github.com\/meetinity" is not a URL/],
  ])("%s: fails before anything is built or sent", async (_name, overrides, message) => {
    recorder = await recordDagger(engine("never"))
    await expect(publish(overrides)).rejects.toThrow(message)
    expect(recorder.queries).toEqual([])
  })
})
