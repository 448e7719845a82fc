import { describe, expect, test } from "vitest"

import { InvalidArgumentError } from "../src/common/errors.js"
import { parseOwner, parseUsername } from "../src/common/names.js"
import { isVersionTag, parseReleaseRef, parseSha, parseVersionTag, releaseTags } from "../src/common/version.js"
import { parsePlatforms } from "../src/oci/platform.js"
import { imageRepository, parseImageName, parseRegistry } from "../src/oci/reference.js"
import { parseBuildArgs, parseDockerfile } from "../src/publish/inputs.js"

describe("release refs", () => {
  test.each([
    ["plain release ref", "release/v1.4.2", "v1.4.2"],
    ["full tag ref", "refs/tags/release/v1.4.2", "v1.4.2"],
    ["zero version", "release/v0.0.0", "v0.0.0"],
    ["large numbers", "release/v10.200.3000", "v10.200.3000"],
    ["release candidate", "release/v2.0.0-rc.1", "v2.0.0-rc.1"],
    ["alpha pre-release", "refs/tags/release/v2.0.0-alpha", "v2.0.0-alpha"],
    ["dotted pre-release", "release/v1.0.0-beta.2.x-y", "v1.0.0-beta.2.x-y"],
  ])("%s: %s -> %s", (_name, ref, version) => {
    expect(parseReleaseRef(ref).tag).toBe(version)
  })

  test.each([
    ["missing v", "release/1.2.3"],
    ["two components", "release/v1.2"],
    ["one component", "release/v1"],
    ["build metadata", "release/v1.2.3+build.5"],
    ["branch name", "main"],
    ["empty", ""],
    ["branch ref", "refs/heads/release/v1.2.3"],
    ["leading zero", "release/v01.2.3"],
    ["four components", "release/v1.2.3.4"],
    ["upper-case V", "release/V1.2.3"],
    ["trailing space", "release/v1.2.3 "],
    ["trailing slash", "release/v1.2.3/"],
    ["bare version", "v1.2.3"],
    ["other prefix", "releases/v1.2.3"],
    ["empty pre-release", "release/v1.2.3-"],
    ["wildcard", "release/v*"],
  ])("%s: %j is refused, quoting the value", (_name, ref) => {
    expect(() => parseReleaseRef(ref)).toThrow(InvalidArgumentError)
    expect(() => parseReleaseRef(ref)).toThrow(
      `ref ${JSON.stringify(ref)} is not a release ref: expected release/vX.Y.Z`,
    )
  })
})

describe("build tags", () => {
  test.each([
    ["7 hex", "0123abc", "sha-0123abc"],
    ["40 hex", "0123abcdef0123abcdef0123abcdef0123abcdef", "sha-0123abc"],
    ["upper case", "0123ABCDEF", "sha-0123abc"],
    ["12 hex", "deadbeefcafe", "sha-deadbee"],
  ])("%s: %s -> %s", (_name, sha, tag) => {
    expect(parseSha(sha)).toBe(tag)
  })

  test.each([
    ["6 hex", "0123ab"],
    ["41 hex", "0123abcdef0123abcdef0123abcdef0123abcdef0"],
    ["non-hex", "0123abg"],
    ["empty", ""],
    ["prefixed", "sha-0123abc"],
    ["spaces", " 0123abc"],
  ])("%s: %j is refused, quoting the value", (_name, sha) => {
    expect(() => parseSha(sha)).toThrow(
      `sha ${JSON.stringify(sha)} is not a commit SHA: expected 7 to 40 hexadecimal characters`,
    )
  })

  test("tags: version first, then the build tag", () => {
    expect(releaseTags("refs/tags/release/v1.4.2", "0123ABCDEF")).toEqual(["v1.4.2", "sha-0123abc"])
  })

  test("tags: a bad ref fails before the sha is looked at", () => {
    expect(() => releaseTags("release/1.2.3", "zz")).toThrow(/ref "release\/1.2.3"/)
  })
})

describe("version tags and tag classes", () => {
  test.each([
    ["v1.2.3", true],
    ["1.2.3", true],
    ["v2.0.0-rc.1", true],
    ["latest", false],
    ["sha-0123abc", false],
    ["v1.2", false],
    ["v1.2.3+meta", false],
    ["sha256-abc.sig", false],
  ])("isVersionTag(%s) = %s", (tag, expected) => {
    expect(isVersionTag(tag)).toBe(expected)
  })

  test.each(["1.2.3", "v1.2", "latest", ""])("parseVersionTag refuses %j", (value) => {
    expect(() => parseVersionTag(value)).toThrow(
      `version ${JSON.stringify(value)} is not a version tag: expected vX.Y.Z`,
    )
  })
})

describe("image addresses", () => {
  test.each([
    [
      "ghcr default",
      "ghcr.io",
      "meetinity",
      "api-gateway",
      { scheme: "https", address: "ghcr.io/meetinity/api-gateway" },
    ],
    [
      "owner lower-cased",
      "ghcr.io",
      "Meetinity-Org",
      "api-gateway",
      { scheme: "https", address: "ghcr.io/meetinity-org/api-gateway" },
    ],
    [
      "local http registry",
      "http://127.0.0.1:5000",
      "meetinity",
      "api",
      { scheme: "http", address: "127.0.0.1:5000/meetinity/api" },
    ],
    [
      "nested image",
      "https://registry.example.com",
      "org",
      "team/api",
      { scheme: "https", address: "registry.example.com/org/team/api" },
    ],
  ])("%s", (_name, registry, owner, image, expected) => {
    expect(imageRepository(registry, owner, image)).toMatchObject(expected)
  })

  test.each([
    [
      "upper-case image",
      () => parseImageName("Api-Gateway"),
      /image "Api-Gateway" is not an image name.*use "api-gateway"/,
    ],
    ["image with tag", () => parseImageName("api:latest"), /image "api:latest" is not an image name/],
    ["empty image", () => parseImageName(""), /image "" is not an image name/],
    ["registry with path", () => parseRegistry("ghcr.io/meetinity"), /registry "ghcr.io\/meetinity" is not a registry/],
    ["registry with ftp scheme", () => parseRegistry("ftp://ghcr.io"), /registry "ftp:\/\/ghcr.io" is not a registry/],
    [
      "owner with underscore",
      () => imageRepository("ghcr.io", "meet_inity", "api"),
      /owner "meet_inity" is not a GitHub user or organisation name/,
    ],
    ["owner with double hyphen", () => imageRepository("ghcr.io", "a--b", "api"), /owner "a--b"/],
    ["bad platform", () => parsePlatforms(["amd64"]), /platforms "amd64" is not a platform: expected os\/arch/],
    ["no platform", () => parsePlatforms([]), /platforms \[\] is empty/],
    [
      "duplicate platform",
      () => parsePlatforms(["linux/amd64", "linux/amd64"]),
      /platforms "linux\/amd64" is listed twice/,
    ],
    [
      "build arg without =",
      () => parseBuildArgs(["NODE_ENV"]),
      /buildArgs "NODE_ENV" is not a build argument: expected KEY=VALUE/,
    ],
    [
      "absolute dockerfile",
      () => parseDockerfile("/etc/passwd"),
      /dockerfile "\/etc\/passwd" is not a Dockerfile path/,
    ],
    ["escaping dockerfile", () => parseDockerfile("../Dockerfile"), /dockerfile "..\/Dockerfile"/],
  ])("%s is refused", (_name, run, message) => {
    expect(run).toThrow(message)
  })

  test("build args split at the first =", () => {
    expect(parseBuildArgs(["A=b=c", "EMPTY="])).toEqual([
      { name: "A", value: "b=c" },
      { name: "EMPTY", value: "" },
    ])
  })
})

describe("length limits: checked before the pattern, the error says how long the value is", () => {
  const long = (n: number, c = "a") => c.repeat(n)
  /** A host name of `n` characters, in DNS labels of at most 63. */
  const host = (n: number) => [long(63, "r"), long(63, "r"), long(63, "r"), long(n - 3 * 64, "r")].join(".")
  test.each([
    [
      "image name",
      () => parseImageName(long(255)),
      () => parseImageName(long(256)),
      /^image "a{80}…" \(256 characters\) is too long: 256 characters, expected an image name of at most 255$/,
    ],
    [
      "registry + owner + image",
      () => imageRepository("ghcr.io", "meetinity", long(237)),
      () => imageRepository("https://ghcr.io", "meetinity", long(238)),
      /^image "a{80}…" \(238 characters\) is too long: with the registry and owner, the image name <registry>\/<owner>\/<image> is 256 characters, and image references allow at most 255$/,
    ],
    [
      "owner",
      () => parseOwner(long(39, "m")),
      () => parseOwner(long(40, "m")),
      /^owner "m{40}" is too long: 40 characters, expected a GitHub user or organisation name of at most 39$/,
    ],
    [
      "registry host",
      () => parseRegistry(`${host(253)}:5000`),
      () => parseRegistry(`http://${host(254)}`),
      /^registry "http:\/\/r{63}\.r{9}…" \(261 characters\) is too long: its host name is 254 characters, and DNS allows at most 253$/,
    ],
    [
      "registry host label",
      () => parseRegistry(`${long(63, "r")}.io:5000`),
      () => parseRegistry(`https://${long(64, "r")}.io`),
      /^registry "https:\/\/r{64}\.io" has a host name part of 64 characters: DNS allows at most 63 between dots$/,
    ],
    [
      "Dockerfile path",
      () => parseDockerfile(long(4096, "d")),
      () => parseDockerfile(long(4097, "d")),
      /^dockerfile "d{80}…" \(4097 characters\) is too long: 4097 characters, expected a Dockerfile path of at most 4096$/,
    ],
    [
      "build argument (bytes, not characters)",
      () => parseBuildArgs([`A=${long(131_069)}`]),
      () => parseBuildArgs([`A=${long(65_535, "é")}`]),
      /^buildArgs "A=é{78}…" \(65537 characters\) is too long: 131072 bytes, expected a KEY=VALUE of at most 131071 bytes/,
    ],
    [
      "number of build arguments",
      () => parseBuildArgs(Array.from({ length: 256 }, (_, i) => `A${i}=`)),
      () => parseBuildArgs(Array.from({ length: 257 }, (_, i) => `A${i}=`)),
      /^buildArgs \[257 items, the first "A0="\] has 257 build arguments: expected at most 256$/,
    ],
    [
      "platform",
      () => parsePlatforms([`linux/${long(58)}`]),
      () => parsePlatforms([`linux/${long(59)}`]),
      /^platforms "linux\/a{59}" is too long: 65 characters, expected a platform of at most 64$/,
    ],
    [
      "number of platforms",
      () => parsePlatforms(Array.from({ length: 16 }, (_, i) => `linux/a${i}`)),
      () => parsePlatforms(Array.from({ length: 17 }, (_, i) => `linux/a${i}`)),
      /^platforms \["linux\/a0",.*,"linux\/a16"\] has 17 platforms: expected at most 16$/,
    ],
    [
      "user name",
      () => parseUsername(long(255, "u")),
      () => parseUsername(long(256, "u")),
      /^username "u{80}…" \(256 characters\) is too long: 256 characters, expected a user name of at most 255$/,
    ],
    [
      "version tag",
      () => parseVersionTag(`v1.0.0-${long(121)}`),
      () => parseVersionTag(`v1.0.0-${long(122)}`),
      /^version "v1\.0\.0-a{122}" is too long: 129 characters, expected an image tag of at most 128$/,
    ],
    [
      "release ref",
      () => parseReleaseRef(`refs/tags/release/v1.0.0-${long(121)}`),
      () => parseReleaseRef(`release/v1.0.0-${long(122)}`),
      /^ref "release\/v1\.0\.0-a{122}" is too long: its version is 129 characters, and an image tag is at most 128$/,
    ],
  ])("%s: the longest accepted, one more refused", (_name, accepted, refused, message) => {
    expect(accepted).not.toThrow()
    expect(refused).toThrow(InvalidArgumentError)
    expect(refused).toThrow(message)
  })

  test("a 10,000-character name that also breaks the pattern is refused for its length, in a message of under 200 characters", () => {
    for (const [run, argument] of [
      [() => parseImageName(`${"A-".repeat(5_000)}`), "image"],
      [() => parseOwner(`${"-".repeat(10_000)}`), "owner"],
      [() => parseDockerfile(`/${"../".repeat(3_333)}`), "dockerfile"],
    ] as const) {
      expect(run).toThrow(
        new RegExp(`^${argument} ".{80}…" \\(\\d+ characters\\) is too long: \\d+ characters, expected .{1,60}$`),
      )
    }
  })
})
