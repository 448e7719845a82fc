/**
 * Answers that stand in for the engine's own work in recording tests: `publish` really pushes
 * an image (an index when platform variants are given) into a real registry and reports its
 * digest, as the engine would.
 */
import { argValue, type Query } from "./dagger.js"
import type { OciPusher } from "./oci.js"

export async function publishAnswer(push: OciPusher, seed: string, query: Query): Promise<string> {
  const call = query.chain.at(-1)!
  const address = argValue(call.args, "address") as string
  const tag = address.slice(address.lastIndexOf(":") + 1)
  const hostAndRepo = address.slice(0, address.lastIndexOf(":"))
  const repository = hostAndRepo.slice(hostAndRepo.indexOf("/") + 1)
  const variants = (argValue(call.args, "platformVariants") as string[] | undefined)?.length ?? 0
  const pushed = variants > 0
    ? (await push.multiArch(repository, seed, Array.from({ length: variants }, (_, i) => `linux/arch${i}`), { tag })).index
    : await push.image(repository, seed, { tag })
  return `${address}@${pushed.digest}`
}
