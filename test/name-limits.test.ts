/**
 * The name and tag limits in src/naming.ts are the ones real tools apply: the longest image
 * name the module accepts is stored by a real CNCF distribution registry and read back by
 * skopeo (whose reference parser is the one Docker and containerd use); one character more is
 * refused by skopeo or the registry, and by the module before anything runs.
 */
import { afterAll, beforeAll, expect, test } from "vitest"

import { LIMITS } from "../src/common/names.js"
import { parseReleaseRef } from "../src/common/version.js"
import { imageRepository } from "../src/oci/reference.js"
import { OciPusher } from "./support/oci.js"
import { startRegistry, type RunningRegistry } from "./support/registry.js"
import { skopeoDigest } from "./support/skopeo.js"

let registry: RunningRegistry
let push: OciPusher

beforeAll(async () => {
  registry = await startRegistry()
  push = new OciPusher(registry.url)
})
afterAll(async () => {
  await registry?.stop()
})

const owner = "meetinity"
/** An image name that makes `<registry>/<owner>/<image>` exactly `length` characters long. */
const image = (length: number) => "a".repeat(length - registry.host.length - owner.length - 2)

test("an image name of 255 characters with its registry is stored and read back; 256 is refused by skopeo and by the module", async () => {
  const longest = imageRepository(`http://${registry.host}`, owner, image(LIMITS.repository))
  expect(longest.address).toHaveLength(255)
  const pushed = await push.image(longest.path, "longest name", { tag: "v1.0.0" })
  expect(skopeoDigest(registry.host, longest.path, "v1.0.0")).toBe(pushed.digest)

  const path = `${owner}/${image(LIMITS.repository + 1)}`
  await push.image(path, "one more", { tag: "v1.0.0" }) // the registry checks only <owner>/<image>...
  expect(() => skopeoDigest(registry.host, path, "v1.0.0")).toThrow(
    /repository name must not be more than 255 characters/,
  ) // ...clients the whole name
  expect(() => imageRepository(`http://${registry.host}`, owner, image(LIMITS.repository + 1))).toThrow(
    /is too long: with the registry and owner, the image name <registry>\/<owner>\/<image> is 256 characters/,
  )
})

test("a repository path over 255 characters is refused by the registry itself", async () => {
  await expect(
    push.image(`${owner}/${"a".repeat(255 - owner.length)}`, "too long a path", { tag: "v1.0.0" }),
  ).rejects.toThrow(/blob upload start answered 500/)
})

test("a version tag of 128 characters is stored; 129 is refused by the registry and by the module", async () => {
  const longest = parseReleaseRef(`release/v1.0.0-${"r".repeat(LIMITS.tag - 7)}`).tag
  expect(longest).toHaveLength(128)
  const pushed = await push.image(`${owner}/tags`, "longest tag", { tag: longest })
  expect(skopeoDigest(registry.host, `${owner}/tags`, longest)).toBe(pushed.digest)

  const tooLong = `${longest}r`
  await expect(push.image(`${owner}/tags`, "one more", { tag: tooLong })).rejects.toThrow(
    /manifest PUT v1\.0\.0-r+ answered 404/,
  )
  expect(() => parseReleaseRef(`release/${tooLong}`)).toThrow(
    /is too long: its version is 129 characters, and an image tag is at most 128/,
  )
})
