/**
 * Answers that stand in for the engine's own work in recording tests: `publish` really pushes
 * an image (an index of the given platforms when there are several) into a real registry and
 * reports its digest, as the engine would; the labels the module set (`withLabel`) go into each
 * image's config, as the engine puts them.
 */
import { argValue, type Query } from "./dagger.js"
import type { OciPusher } from "./oci.js"

export async function publishAnswer(
  push: OciPusher,
  seed: string,
  query: Query,
  platforms?: string[],
  labels?: Record<string, string>,
): Promise<string> {
  const call = query.chain.at(-1)!
  const address = argValue(call.args, "address") as string
  const tag = address.slice(address.lastIndexOf(":") + 1)
  const hostAndRepo = address.slice(0, address.lastIndexOf(":"))
  const repository = hostAndRepo.slice(hostAndRepo.indexOf("/") + 1)
  const variants = (argValue(call.args, "platformVariants") as string[] | undefined)?.length ?? 0
  // The platforms built (the test passes the dockerBuild platforms it recorded), one manifest each.
  const built =
    platforms ?? Array.from({ length: Math.max(variants, 1) }, (_, i) => (i === 0 ? "linux/amd64" : `linux/arch${i}`))
  const pushed =
    built.length > 1
      ? (await push.multiArch(repository, seed, built, { tag, labels })).index
      : await push.image(repository, seed, { tag, platform: built[0], labels })
  return `${address}@${pushed.digest}`
}
