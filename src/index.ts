/**
 * meetinity-release: takes a service from a `release/vX.Y.Z` tag to production and keeps its
 * GitHub Container Registry package clean.
 *
 * This file is the front door only: each function parses its arguments through the core
 * (naming, publish, kubernetes, retention) and hands the result to Dagger.
 */
import { object, func, type Container, type Directory, type Secret } from "@dagger.io/dagger"

import { parseBuildArgs, parseDockerfile, parsePlatforms, parseReleaseRef, releaseTags } from "./naming.js"
import { buildPlatform, planPublish, platformImages, promoteVersionTag, pushImages } from "./publish.js"
import { RegistryClient } from "./registry.js"

/** Build, publish, deploy and retain Meetinity's container images on GHCR. */
@object()
export class MeetinityRelease {
  /**
   * The semantic version tag of a release ref: release/v1.4.2 gives v1.4.2.
   * Fails on anything that is not release/vX.Y.Z[-pre] (optionally under refs/tags/).
   *
   * Example: dagger call version --ref refs/tags/release/v1.4.2
   *
   * @param ref The git ref that triggered the release: release/vX.Y.Z or refs/tags/release/vX.Y.Z.
   */
  @func()
  version(ref: string): string {
    return parseReleaseRef(ref).tag
  }

  /**
   * The two image tags of a release, version tag first: ["v1.4.2", "sha-0123abc"].
   *
   * Example: dagger call tags --ref release/v1.4.2 --sha 0123abcdef
   *
   * @param ref The git ref that triggered the release: release/vX.Y.Z or refs/tags/release/vX.Y.Z.
   * @param sha The commit SHA, 7 to 40 hexadecimal characters; the build tag uses its first 7, lower-case.
   */
  @func()
  tags(ref: string, sha: string): string[] {
    return releaseTags(ref, sha)
  }

  /**
   * Build the service image from its Dockerfile for one platform. Returns the container, so
   * `terminal`, `export` or `publish` can follow.
   *
   * Example: dagger call build --source . --platform linux/arm64 --build-args NODE_ENV=production terminal
   *
   * @param source The service repository root (the Docker build context).
   * @param dockerfile Path of the Dockerfile inside source.
   * @param platform The platform to build, os/arch[/variant].
   * @param buildArgs Build arguments, each KEY=VALUE.
   */
  @func()
  build(source: Directory, dockerfile = "Dockerfile", platform = "linux/amd64", buildArgs: string[] = []): Container {
    const [checkedPlatform] = parsePlatforms([platform], "platform")
    return buildPlatform(source, parseDockerfile(dockerfile), checkedPlatform!, parseBuildArgs(buildArgs))
  }

  /**
   * Build once and publish the image under its build tag (sha-<7 hex>), then its version tag
   * (vX.Y.Z), both at the same digest. A version tag that already names another digest is left
   * where it is and the call fails naming both digests; the same digest again succeeds.
   * Returns the two references with their digest, version first.
   *
   * Example: dagger call publish --source . --ref release/v1.4.2 --sha $GITHUB_SHA --owner meetinity --username $GITHUB_ACTOR --password env://GITHUB_TOKEN
   *
   * @param source The service repository root (the Docker build context).
   * @param ref The git ref that triggered the release: release/vX.Y.Z or refs/tags/release/vX.Y.Z.
   * @param sha The commit SHA being released (7 to 40 hex characters).
   * @param owner The GitHub organisation or user that owns the package; lower-cased in the image address.
   * @param username The registry user name (for ghcr.io with GITHUB_TOKEN: the workflow's actor).
   * @param password The registry token with write access (packages: write).
   * @param image The image (package) name under the owner.
   * @param registry The registry host; a scheme is allowed for a local registry (http://127.0.0.1:5000).
   * @param dockerfile Path of the Dockerfile inside source.
   * @param platforms The platforms to build; several make a multi-platform image index.
   * @param buildArgs Build arguments, each KEY=VALUE.
   * @param sourceUrl Optional repository URL for the org.opencontainers.image.source label (GHCR links the package to it).
   */
  @func({ cache: "never" })
  async publish(
    source: Directory,
    ref: string,
    sha: string,
    owner: string,
    username: string,
    password: Secret,
    image = "api-gateway",
    registry = "ghcr.io",
    dockerfile = "Dockerfile",
    platforms: string[] = ["linux/amd64"],
    buildArgs: string[] = [],
    sourceUrl = "",
  ): Promise<string[]> {
    const plan = planPublish({ ref, sha, owner, username, image, registry, dockerfile, platforms, buildArgs, sourceUrl })
    const digest = await pushImages(platformImages(source, plan), plan.repository, plan.buildTag, plan.username, password)
    const client = new RegistryClient(plan.repository, { username: plan.username, password: await password.plaintext() })
    await promoteVersionTag(client, plan.repository.path, digest, plan.version.tag)
    return [`${plan.repository.address}:${plan.version.tag}@${digest}`, `${plan.repository.address}:${plan.buildTag}@${digest}`]
  }
}
