/**
 * Publishing, carried out: read both tags and decide (decision.ts), then reuse what is there,
 * refuse, or build each platform with Dagger, push the build tag and write the version tag by
 * copying manifest bytes. No tag ever moves.
 */
import { type Container, dag, type Directory, type Platform, type Secret } from "@dagger.io/dagger"

import { say } from "../common/redact.js"
import { Steps, STEP } from "../common/steps.js"
import { DIRECT, type ServiceNetwork } from "../engine/network.js"
import { RegistryClient } from "../oci/client.js"
import { RegistryError } from "../oci/manifest.js"
import { type ImageRepository } from "../oci/reference.js"
import {
  decidePublish,
  missingPlatforms,
  singlePlatformProblem,
  type PublishDecision,
  type PublishTarget,
  type RegistryState,
  type ReleaseTag,
} from "./decision.js"
import { type PublishPlan } from "./inputs.js"
import { promoteVersionTag, PublishRefusedError, readRegistryState, readTag, writeImmutableTag } from "./registry.js"

/** `docker build` of one platform through Dagger. */
export function buildPlatform(
  source: Directory,
  dockerfile: string,
  platform: string,
  buildArgs: { name: string; value: string }[],
): Container {
  return source.dockerBuild({ dockerfile, platform: platform as Platform, buildArgs })
}

/** The platform images of a plan, labelled. Nothing is sent to the engine yet. */
export function platformImages(source: Directory, plan: PublishPlan): Container[] {
  return plan.platforms.map((platform) =>
    Object.entries(plan.labels).reduce(
      (image, [name, value]) => image.withLabel(name, value),
      buildPlatform(source, plan.dockerfile, platform, plan.buildArgs),
    ),
  )
}

/**
 * Pushes the images under `tag` with registry auth from the Secret: one manifest for one
 * platform, an image index for several. Returns the digest the engine reports. With a registry
 * service, the engine's push goes to that service (the reference keeps its address).
 */
export async function pushImages(
  images: Container[],
  repository: ImageRepository,
  tag: string,
  username: string,
  password: Secret,
  network: ServiceNetwork = DIRECT,
): Promise<string> {
  const [first, ...rest] = images
  const publisher = rest.length === 0 ? first! : dag.container()
  const route = network.registry ? { registryService: network.registry.service } : {}
  const reference = await publisher
    .withRegistryAuth(repository.host, username, password)
    .publish(`${repository.address}:${tag}`, rest.length === 0 ? route : { platformVariants: images, ...route })
  return digestOf(reference)
}

/** The digest part of `host/repo:tag@sha256:...`. */
export function digestOf(reference: string): string {
  const match = /@(sha256:[0-9a-f]{64})$/.exec(reference)
  if (!match)
    throw new RegistryError(
      `the engine reported ${JSON.stringify(reference)} for a push: expected a reference ending in @sha256:<64 hex>`,
    )
  return match[1]!
}

/** The release as `decidePublish` sees it. */
export function publishTarget(plan: PublishPlan): PublishTarget {
  return {
    address: plan.repository.address,
    versionTag: plan.version.tag,
    buildTag: plan.buildTag,
    sha: plan.sha,
    platforms: plan.platforms,
  }
}

/** What the registry read found, in one line. */
const describeState = (state: RegistryState) => ({
  detail: [
    `version tag ${state.version ? `at ${state.version.digest}` : "missing"}`,
    `build tag ${state.build ? `at ${state.build.digest}` : "missing"}`,
  ].join(", "),
})

/** Both references of a release at one digest, version first. */
export const references = (plan: PublishPlan, digest: string): [string, string] => [
  `${plan.repository.address}:${plan.version.tag}@${digest}`,
  `${plan.repository.address}:${plan.buildTag}@${digest}`,
]

/** Carries out a `reuse`: writes the missing tags at the digest; builds and pushes no image. */
async function reuse(
  client: RegistryClient,
  plan: PublishPlan,
  decision: Extract<PublishDecision, { action: "reuse" }>,
): Promise<[string, string]> {
  const tags: Record<ReleaseTag, string> = { version: plan.version.tag, build: plan.buildTag }
  for (const which of decision.write) {
    await writeImmutableTag(
      client,
      plan.repository.path,
      tags[which],
      decision.digest,
      (existing) =>
        `${plan.repository.address}:${tags[which]} was written by another run at ${existing} since publish read the registry; it is left there, and this run stops.`,
    )
  }
  return references(plan, decision.digest)
}

/**
 * Publishes a planned release without ever moving a tag. Reads both tags and decides
 * (`decidePublish`): reuse what is there, refuse, or build. A build runs first, then the
 * registry is read and decided again (another run may have published meanwhile), and only then
 * is the build tag pushed; the pushed image must hold every platform built; the version tag is
 * written last, after one more read, and read back. Returns both references, version first.
 */
export async function publishPlanned(
  source: Directory,
  plan: PublishPlan,
  password: Secret,
  options: { readonly network?: ServiceNetwork; readonly steps?: Steps; readonly log?: (line: string) => void } = {},
): Promise<[string, string]> {
  const network = options.network ?? DIRECT
  const steps = options.steps ?? new Steps()
  const log = options.log ?? say
  // With a registry service (a rehearsal), the module's own process reaches it at its endpoint.
  const client = new RegistryClient(network.registry?.endpoint ?? plan.repository, {
    username: plan.username,
    password: await password.plaintext(),
  })
  const target = publishTarget(plan)
  const read = () =>
    steps.run(
      STEP.readRegistry,
      {
        attributes: {
          "oci.repository": plan.repository.address,
          "container.image.tags": `${plan.version.tag},${plan.buildTag}`,
        },
        result: describeState,
      },
      () => readRegistryState(client, plan),
    )
  let decision = decidePublish(target, await read())
  let done = "Nothing was built or pushed."
  if (decision.action === "build") {
    const images = platformImages(source, plan)
    await Promise.all(
      images.map((image, i) =>
        steps.run(
          STEP.build,
          {
            attributes: { "container.image.platform": plan.platforms[i]! },
            result: () => ({ detail: plan.platforms[i]! }),
          },
          () => image.sync(),
        ),
      ),
    )
    decision = decidePublish(target, await read())
    if (decision.action === "build") return buildTagThenVersionTag(client, plan, images, password, { network, steps })
    done = "Another run published while this one built: this run's build was not pushed."
    log(`publish: ${done}`)
  }
  if (decision.action === "refuse") throw new PublishRefusedError(`${decision.reason} ${done}`)
  log(`publish: ${decision.reason}`)
  return reuse(client, plan, decision)
}

/** Pushes the build tag, checks it holds every platform built, then writes the version tag. */
async function buildTagThenVersionTag(
  client: RegistryClient,
  plan: PublishPlan,
  images: Container[],
  password: Secret,
  { network, steps }: { readonly network: ServiceNetwork; readonly steps: Steps },
): Promise<[string, string]> {
  const digest = await steps.run(
    STEP.push,
    {
      attributes: { "container.image.tags": plan.buildTag },
      result: (pushed) => ({ detail: `${plan.buildTag} at ${pushed}`, attributes: { "oci.manifest.digest": pushed } }),
    },
    () => pushImages(images, plan.repository, plan.buildTag, plan.username, password, network),
  )
  // What was pushed must be what was asked for: an index of every platform, or the one platform
  // itself (a base image with only another platform gives an image of that platform).
  const problem =
    plan.platforms.length > 1
      ? missingPlatforms(await client.manifest(plan.repository.path, digest), plan.platforms)
      : singlePlatformProblem(digest, await readTag(client, plan.repository.path, digest), plan.platforms[0]!)
  if (problem) {
    throw new RegistryError(
      `${plan.repository.address}:${plan.buildTag} was ${problem}: does every base image of the Dockerfile exist for each platform? ` +
        `The version tag ${plan.version.tag} was not written. ${plan.buildTag} is left at that image (a build tag never moves): ` +
        `delete that package version before publishing this commit again.`,
    )
  }
  try {
    await steps.run(
      STEP.tag,
      {
        attributes: { "container.image.tags": plan.version.tag, "oci.manifest.digest": digest },
        result: (written) => ({ detail: `${plan.version.tag} ${written}` }),
      },
      () => promoteVersionTag(client, plan.repository.path, digest, plan.version.tag),
    )
  } catch (error) {
    // The build tag is pushed; the version tag is not (or not known to be): say so, and that a re-run is safe.
    if (error instanceof PublishRefusedError || !(error instanceof RegistryError)) throw error
    throw new RegistryError(
      `${error.message}\n${plan.repository.address}:${plan.buildTag} was pushed at ${digest}; the version tag ${plan.version.tag} was not written. ` +
        `Publishing again is safe: it finds this commit's build under ${plan.buildTag}, builds nothing, and writes ${plan.version.tag} there.`,
      error.status,
    )
  }
  return references(plan, digest)
}
