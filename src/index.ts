/**
 * meetinity-release: takes a service from a `release/vX.Y.Z` tag to production and keeps its
 * GitHub Container Registry package clean.
 *
 * This file is the front door only: each function parses its arguments through the core
 * (naming, publish, kubernetes, retention) and hands the result to Dagger.
 */
import { argument, object, func, type Container, type Directory, type File, type Secret } from "@dagger.io/dagger"

import { parseChartPublishArgs, publishChartDirectory } from "./charts/run.js"
import { check } from "./common/errors.js"
import { redacting, say } from "./common/redact.js"
import { parseReleaseRef, parseVersionTag, releaseTags } from "./common/version.js"
import { parseReaderCredentials, planHelm, planPullSecret } from "./delivery/inputs.js"
import { parseChartSource } from "./delivery/chart.js"
import { gateImage, parseGate } from "./delivery/gate.js"
import { checkKubeconfig } from "./delivery/kubeconfig.js"
import { deploy } from "./delivery/run.js"
import { githubOutputLines, imageTarget, preflightImage } from "./delivery/preflight.js"
import { applyPullSecret } from "./delivery/pull-secret.js"
import { parsePlatform, parsePlatforms } from "./oci/platform.js"
import { parseDigest, parseImageLocation } from "./oci/reference.js"
import { parseBuildArgs, parseDockerfile, parseSigning, planPublish } from "./publish/inputs.js"
import { publishSigned, readSigning } from "./publish/attest.js"
import { buildPlatform } from "./publish/run.js"
import { planRelease } from "./release/plan.js"
import { runRelease } from "./release/run.js"
import { parseNodeChoice } from "./rehearsal/cluster.js"
import { runRehearsal } from "./rehearsal/run.js"
import { parseRestoreArgs, restoreWithToken } from "./retention/restore.js"
import { parseRetainArgs, parseRetainPlan, withTokenUri } from "./retention/inputs.js"
import { retainWithToken } from "./retention/packages.js"
import { parseSummaryArgs, summarizePlanFile } from "./retention/summary.js"
import { parseSetupArgs, runSetupCheck, workflowTexts } from "./setup/run.js"

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
   * (vX.Y.Z), both at the same digest. Neither tag ever moves. Before anything is built, both
   * tags are read in the registry: when vX.Y.Z already names this commit's image (its
   * org.opencontainers.image.revision label, or sha-<7> at the same digest), nothing is built or
   * pushed and the references are returned (a missing sha-<7> is written there); vX.Y.Z from
   * another commit is refused, naming its digest and commit; a sha-<7> left without vX.Y.Z is
   * reused when it holds every platform asked for, else refused. The registry is read again after
   * the build and before the version tag is written, which is read back: a run that loses a race
   * for the version tag fails. Returns the two references with their digest, version first.
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
   * @param signingKey Sign what is published with this PEM private key: ECDSA P-256, unencrypted PKCS#8 or SEC1 (e.g. openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256; cosign generate-key-pair's cosign.key is encrypted even with an empty password and is refused), checked before anything is built: a signature, SLSA provenance and an SPDX SBOM, each a Sigstore bundle attached to the digest as an OCI 1.1 referrer (cosign verify --key and policy engines read them).
   * @param oidcToken Sign keyless instead: an OIDC identity token for audience sigstore (in GitHub Actions, with id-token: write); Fulcio certifies it, Rekor and/or a timestamp authority witness it.
   * @param fulcioUrl Keyless: the Fulcio that certifies the token (https://fulcio.githubapp.com for GitHub's instance, for private repositories).
   * @param rekorUrl Keyless: the transparency log (empty for GitHub's instance, which uses a timestamp authority instead).
   * @param timestampUrl Keyless: an RFC 3161 timestamp authority (https://timestamp.githubapp.com/api/v1/timestamp for GitHub's instance); empty: none.
   * @param trustedRoot Keyless: the Sigstore trusted root JSON the bundles verify against (gh attestation trusted-root for GitHub's instance); absent: Sigstore's public-good instance.
   * @param oidcRequestUrl Keyless in GitHub Actions: $ACTIONS_ID_TOKEN_REQUEST_URL; the token (audience sigstore) is requested when signing, so a long build cannot outlive it.
   * @param oidcRequestToken Keyless in GitHub Actions: env://ACTIONS_ID_TOKEN_REQUEST_TOKEN (the job needs permissions id-token: write).
   * @param syftImage The syft image the SBOM is made with, pinned by digest; change it only to a mirror of it (an air-gapped registry).
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
    signingKey?: Secret,
    oidcToken?: Secret,
    fulcioUrl = "https://fulcio.sigstore.dev",
    rekorUrl = "https://rekor.sigstore.dev",
    timestampUrl = "",
    trustedRoot?: File,
    oidcRequestUrl = "",
    oidcRequestToken?: Secret,
    syftImage = "docker.io/anchore/syft:v1.54.1@sha256:3eb5379ba7b409c3f4069b686110527af0c47df993fa5c10d13e7cf34f49b1aa",
  ): Promise<string[]> {
    return redacting(async () => {
      const signing = await readSigning({
        signingKey,
        oidcToken,
        oidcRequestUrl,
        oidcRequestToken,
        syftImage,
        fulcioUrl,
        rekorUrl,
        timestampUrl,
        trustedRoot,
      })
      const plan = planPublish({
        ref,
        sha,
        owner,
        username,
        image,
        registry,
        dockerfile,
        platforms,
        buildArgs,
        sourceUrl,
      })
      return publishSigned(source, plan, password, signing)
    })
  }

  /**
   * Publish a Helm chart directory to an OCI registry as <registry>/<owner>/charts/<name>:<version>
   * (name and version from its Chart.yaml), as `helm push` does, so that every service deploys the
   * one published umbrella chart by reference (helm-deploy --chart-ref) instead of a copy. A
   * version never moves: when it exists with the same chart (whoever pushed it), nothing is
   * written and its digest is returned; with other content, the publish is refused naming both
   * digests. Returns the chart's reference, pinned: oci://...:<version>@sha256:...
   *
   * Example: dagger call publish-chart --chart ./charts/meetinity --owner meetinity --username $GITHUB_ACTOR --password env://GITHUB_TOKEN
   *
   * @param chart The chart directory (Chart.yaml at its root; subcharts under charts/, as directories or .tgz).
   * @param owner The GitHub organisation or user that owns the chart package; lower-cased in its address.
   * @param username The registry user name (for ghcr.io with GITHUB_TOKEN: the workflow's actor).
   * @param password The registry token with write access (packages: write).
   * @param registry The registry host; a scheme is allowed for a local registry (http://127.0.0.1:5000).
   * @param created The package's creation time, RFC 3339 in UTC (e.g. the commit's); empty: 1970-01-01T00:00:00Z, so the same chart always has the same digest.
   */
  @func({ cache: "never" })
  async publishChart(
    chart: Directory,
    owner: string,
    username: string,
    password: Secret,
    registry = "ghcr.io",
    created = "",
  ): Promise<string> {
    return redacting(async () => {
      const args = parseChartPublishArgs({ owner, username, registry, created })
      return publishChartDirectory(chart, args, await password.plaintext())
    })
  }

  /**
   * Create or update the image pull secret (kubernetes.io/dockerconfigjson, the same content as
   * `kubectl create secret docker-registry`) in one namespace, with `kubectl apply --server-side`.
   * The token reaches kubectl only inside a mounted Secret file. Re-running it is harmless.
   *
   * Example: dagger call pull-secret --kubeconfig file://$HOME/.kube/config --namespace meetinity-dev --reader-username $GHCR_READER_USERNAME --reader-token env://GHCR_READER_TOKEN
   *
   * @param kubeconfig The kubeconfig of the cluster (a self-contained one: token or client certificate, no exec plugin).
   * @param namespace The namespace to create the secret in (a DNS-1123 label); created first when kubectl says it does not exist.
   * @param readerUsername The registry user the cluster pulls as (org secret GHCR_READER_USERNAME).
   * @param readerToken The registry token with read:packages (org secret GHCR_READER_TOKEN).
   * @param pullSecretName The name of the Secret.
   * @param server The registry the secret is for.
   */
  @func({ cache: "never" })
  async pullSecret(
    kubeconfig: Secret,
    namespace: string,
    readerUsername: string,
    readerToken: Secret,
    pullSecretName = "ghcr-pull-secret",
    server = "ghcr.io",
  ): Promise<string> {
    return redacting(async () => {
      const plan = planPullSecret(
        { namespace, name: pullSecretName, server, username: readerUsername },
        { username: "readerUsername", name: "pullSecretName" },
      )
      await checkKubeconfig(kubeconfig)
      return applyPullSecret(kubeconfig, plan, readerToken)
    })
  }

  /**
   * Deploy the umbrella chart with `helm upgrade --install` into one namespace (created when
   * missing), waiting for the rollout and rolling back on failure. First, before any container
   * runs, the image is resolved in the registry: a missing tag, a tag naming another digest than
   * --digest, or an image without a manifest for --platform fails in seconds. The release is then
   * pinned to that digest: sets the chart values <image-values>.repository, .tag and .digest
   * (default global.image; api-gateway.image for the api-gateway service of an umbrella chart) and
   * global.imagePullSecrets[0].name. Everything else the release's last revision had (other
   * services' images) is kept (helm --reset-then-reuse-values). values-<namespace>.yaml in the
   * chart is used when it exists, then --values in order. Refuses to put an older version over a
   * newer one (read at <image-values>.tag) unless --allow-downgrade, and fails when nothing the
   * chart rendered uses the image. Returns what Helm reported: release, namespace, revision,
   * status and the image deployed.
   *
   * Example: dagger call helm-deploy --chart ./infra/helm/meetinity --kubeconfig file://$HOME/.kube/config --namespace meetinity-dev --version v1.4.2 --image ghcr.io/meetinity/api-gateway --image-values api-gateway.image --reader-username $GHCR_READER_USERNAME --reader-token env://GHCR_READER_TOKEN
   *
   * @param chart The chart directory (a copy in the service repository, e.g. infra/helm/meetinity, subcharts vendored under charts/); or give --chart-ref instead.
   * @param kubeconfig The kubeconfig of the cluster (a self-contained one: token or client certificate, no exec plugin).
   * @param namespace The namespace to deploy into (a DNS-1123 label).
   * @param version The version tag to deploy, vX.Y.Z or vX.Y.Z-pre.
   * @param image The image repository without tag, starting with the registry host, e.g. ghcr.io/meetinity/api-gateway. Read over https, or plain http for localhost and 127.0.0.1; an http:// prefix (http://10.0.0.5:5000/meetinity/api-gateway) reads another plain-http registry, and is left out of what pods pull.
   * @param helmRelease The Helm release name (the umbrella chart's release in the namespace).
   * @param pullSecretName The image pull secret the pods use.
   * @param timeout How long Helm waits for the rollout, a Go duration.
   * @param set Extra chart values, each key=value as helm --set takes them (dagger splits the list on commas unless an element is in double quotes, and Helm splits on unescaped commas: '"key=a\,b"', or a values file).
   * @param historyMax How many revisions Helm keeps (0: no limit).
   * @param digest The digest the version tag must name (sha256:..., what publish printed); empty: whatever the tag names now.
   * @param readerUsername The registry user to resolve the image as (GHCR_READER_USERNAME); empty with no token: anonymous (public package).
   * @param readerToken The read:packages token of that user (GHCR_READER_TOKEN).
   * @param values Values files inside the chart directory, passed to Helm in order after values-<namespace>.yaml.
   * @param platform The platform of the cluster's nodes; the image must have a manifest for it.
   * @param allowDowngrade Deploy even when the namespace runs a newer version (a deliberate rollback).
   * @param imageValues Where this service's image goes in the chart's values: a dotted path of value keys (e.g. api-gateway.image); the deploy sets its .repository, .tag and .digest.
   * @param allowRemoval Deploy even when the release would lose objects another service runs (another subchart's, or the umbrella chart's own: a stale chart copy?); without it such a deploy is refused before any change. The report lists what was removed.
   * @param chartRef The umbrella chart by reference instead of --chart: oci://<registry>/<owner>/charts/<name>:<version>, optionally pinned @sha256:... (what publish-chart printed); pulled by digest with the reader credentials, and named pinned in the report.
   * @param valuesDir Where the values files are read (values-<namespace>.yaml and --values), e.g. the service repository's infra/helm/values; default: the chart itself.
   * @param verify The verification gate before any change: off, key (--verify-key) or keyless (--verify-issuer, --verify-identity): the digest must carry --require-predicates signed by whom the policy trusts, provenance naming this release; else nothing is deployed.
   * @param verifyKey key: the PEM public key (cosign.pub) the bundles must verify with.
   * @param verifyIssuer keyless: the OIDC issuer, exactly (https://token.actions.githubusercontent.com).
   * @param verifyIdentity keyless: the certificate identity as a regular expression the whole identity must match (e.g. https://github\.com/meetinity/api-gateway/\.github/workflows/cd\.yml@refs/tags/release/v.*).
   * @param requirePredicates What must be attached and verified: signature, provenance, sbom or predicate type URIs; empty: signature and provenance.
   * @param trustedRoot keyless: the Sigstore trusted root JSON (gh attestation trusted-root for GitHub's instance); absent: Sigstore's public-good instance.
   */
  @func({ cache: "never" })
  async helmDeploy(
    chart: Directory | null,
    kubeconfig: Secret,
    namespace: string,
    version: string,
    image: string,
    helmRelease = "meetinity",
    pullSecretName = "ghcr-pull-secret",
    timeout = "10m",
    set: string[] = [],
    historyMax = 10,
    digest = "",
    readerUsername = "",
    readerToken?: Secret,
    values: string[] = [],
    platform = "linux/amd64",
    allowDowngrade = false,
    imageValues = "global.image",
    allowRemoval = false,
    chartRef = "",
    valuesDir?: Directory,
    verify = "off",
    verifyKey?: File,
    verifyIssuer = "",
    verifyIdentity = "",
    requirePredicates: string[] = [],
    trustedRoot?: File,
  ): Promise<string> {
    return redacting(async () => {
      const source = parseChartSource(chart, chartRef)
      const policy = await parseGate({
        verify,
        verifyKey,
        verifyIssuer,
        verifyIdentity,
        requirePredicates,
        trustedRoot,
      })
      const plan = planHelm({
        release: helmRelease,
        namespace,
        image,
        version,
        pullSecretName,
        timeout,
        set,
        historyMax,
        values,
        platform,
        allowDowngrade,
        imageValues,
        allowRemoval,
      })
      const reader = parseReaderCredentials(readerUsername, readerToken)
      return deploy({ chart: source, values: valuesDir, kubeconfig, reader, policy }, plan, parseDigest(digest))
    })
  }

  /**
   * The IMAGE_URI of a published version: resolves <image>:<version> in the registry and checks
   * it as helmDeploy's preflight does (the tag exists, names --digest when given, and has a
   * manifest for --platform). Returns <image>:<version>@sha256:...; with --github-output, the
   * lines version=, digest= and image_uri= for $GITHUB_OUTPUT.
   *
   * Example: dagger call image-uri --image ghcr.io/meetinity/api-gateway --version v1.4.2
   *
   * @param image The image repository without tag, e.g. ghcr.io/meetinity/api-gateway. Read over https, or plain http for localhost and 127.0.0.1; an http:// prefix (http://10.0.0.5:5000/meetinity/api-gateway) reads another plain-http registry, and is left out of what pods pull.
   * @param version The version tag, vX.Y.Z or vX.Y.Z-pre.
   * @param digest The digest the tag must name; empty: whatever it names now.
   * @param readerUsername The registry user to read as; empty with no token: anonymous (public package).
   * @param readerToken The token of that user, with read:packages.
   * @param platform The platform the image must have a manifest for.
   * @param githubOutput Print version=, digest= and image_uri= lines instead of the bare reference.
   * @param verify The verification gate before any change: off, key (--verify-key) or keyless (--verify-issuer, --verify-identity): the digest must carry --require-predicates signed by whom the policy trusts, provenance naming this release; else nothing is deployed.
   * @param verifyKey key: the PEM public key (cosign.pub) the bundles must verify with.
   * @param verifyIssuer keyless: the OIDC issuer, exactly (https://token.actions.githubusercontent.com).
   * @param verifyIdentity keyless: the certificate identity as a regular expression the whole identity must match (e.g. https://github\.com/meetinity/api-gateway/\.github/workflows/cd\.yml@refs/tags/release/v.*).
   * @param requirePredicates What must be attached and verified: signature, provenance, sbom or predicate type URIs; empty: signature and provenance.
   * @param trustedRoot keyless: the Sigstore trusted root JSON (gh attestation trusted-root for GitHub's instance); absent: Sigstore's public-good instance.
   */
  @func({ cache: "never" })
  async imageUri(
    image: string,
    version: string,
    digest = "",
    readerUsername = "",
    readerToken?: Secret,
    platform = "linux/amd64",
    githubOutput = false,
    verify = "off",
    verifyKey?: File,
    verifyIssuer = "",
    verifyIdentity = "",
    requirePredicates: string[] = [],
    trustedRoot?: File,
  ): Promise<string> {
    return redacting(async () => {
      const location = parseImageLocation(image)
      const policy = await parseGate({
        verify,
        verifyKey,
        verifyIssuer,
        verifyIdentity,
        requirePredicates,
        trustedRoot,
      })
      const target = imageTarget(location.address, parseVersionTag(version).tag, parsePlatform(platform), location)
      const expected = parseDigest(digest)
      const reader = parseReaderCredentials(readerUsername, readerToken)
      const credentials = reader ? { username: reader.username, password: await reader.token.plaintext() } : undefined
      const resolved = await preflightImage(target, expected, credentials)
      await gateImage(target, resolved, policy, { version: target.version }, credentials)
      return githubOutput ? githubOutputLines(resolved) : resolved.uri
    })
  }

  /**
   * The whole release: publish once, check the published image with the reader credentials,
   * then for each namespace in order refresh the pull secret and deploy the same digest with
   * Helm, at <image-values> in the chart's values, keeping what other services' deploys set (as
   * helmDeploy does). Stops at the first namespace that fails, names it, and leaves the later
   * ones untouched. Returns the published references, the digest deployed and, per namespace,
   * the Helm revision.
   *
   * Example: dagger call release --source . --ref $GITHUB_REF --sha $GITHUB_SHA --owner meetinity --username $GITHUB_ACTOR --password env://GITHUB_TOKEN --chart ./infra/helm/meetinity --kubeconfig env://KUBECONFIG_DATA --reader-username $GHCR_READER_USERNAME --reader-token env://GHCR_READER_TOKEN
   *
   * @param source The service repository root (the Docker build context).
   * @param ref The git ref that triggered the release: release/vX.Y.Z or refs/tags/release/vX.Y.Z.
   * @param sha The commit SHA being released (7 to 40 hex characters).
   * @param owner The GitHub organisation or user that owns the package; lower-cased in the image address.
   * @param username The registry user name for pushing.
   * @param password The registry token with write access (packages: write).
   * @param chart The umbrella chart directory (infra/helm/meetinity).
   * @param kubeconfig The kubeconfig of the cluster that holds every namespace.
   * @param readerUsername The registry user the cluster pulls as (GHCR_READER_USERNAME).
   * @param readerToken The read-only registry token for the pull secret (GHCR_READER_TOKEN).
   * @param image The image (package) name under the owner.
   * @param registry The registry host; a scheme is allowed for a local registry.
   * @param dockerfile Path of the Dockerfile inside source.
   * @param platforms The platforms to build; several make a multi-platform image index.
   * @param buildArgs Build arguments, each KEY=VALUE.
   * @param namespaces The namespaces to deploy to, in order.
   * @param helmRelease The Helm release name.
   * @param timeout How long Helm waits for each rollout, a Go duration.
   * @param set Extra chart values for every namespace, each key=value.
   * @param values Values files inside the chart directory for every namespace, after each namespace's values-<namespace>.yaml.
   * @param platform The platform of the cluster's nodes: must be among --platforms; the published image is checked for it.
   * @param allowDowngrade Deploy even when a namespace runs a newer version (a deliberate rollback).
   * @param imageValues Where this service's image goes in the chart's values: a dotted path of value keys (e.g. api-gateway.image); each deploy sets its .repository, .tag and .digest.
   * @param pullSecretName The image pull secret the release refreshes in every namespace and the pods use.
   * @param allowRemoval Deploy even when a release would lose objects another service runs (another subchart's, or the umbrella chart's own); without it the release stops before that namespace changes. The report lists what was removed.
   * @param chartRef The umbrella chart by reference instead of --chart: oci://<registry>/<owner>/charts/<name>:<version>, optionally pinned @sha256:...; pulled once, by digest, with the reader credentials, before anything is built.
   * @param valuesDir Where the values files are read (values-<namespace>.yaml and --values), e.g. the service repository's infra/helm/values; default: the chart itself.
   * @param signingKey Sign what is published with this PEM private key: ECDSA P-256, unencrypted PKCS#8 or SEC1 (e.g. openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256; cosign generate-key-pair's cosign.key is encrypted even with an empty password and is refused), checked before anything is built: a signature, SLSA provenance and an SPDX SBOM, each a Sigstore bundle attached to the digest as an OCI 1.1 referrer (cosign verify --key and policy engines read them).
   * @param oidcToken Sign keyless instead: an OIDC identity token for audience sigstore (in GitHub Actions, with id-token: write); Fulcio certifies it, Rekor and/or a timestamp authority witness it.
   * @param fulcioUrl Keyless: the Fulcio that certifies the token (https://fulcio.githubapp.com for GitHub's instance, for private repositories).
   * @param rekorUrl Keyless: the transparency log (empty for GitHub's instance, which uses a timestamp authority instead).
   * @param timestampUrl Keyless: an RFC 3161 timestamp authority (https://timestamp.githubapp.com/api/v1/timestamp for GitHub's instance); empty: none.
   * @param trustedRoot Keyless: the Sigstore trusted root JSON the bundles verify against (gh attestation trusted-root for GitHub's instance); absent: Sigstore's public-good instance.
   * @param oidcRequestUrl Keyless in GitHub Actions: $ACTIONS_ID_TOKEN_REQUEST_URL; the token (audience sigstore) is requested when signing, so a long build cannot outlive it.
   * @param oidcRequestToken Keyless in GitHub Actions: env://ACTIONS_ID_TOKEN_REQUEST_TOKEN (the job needs permissions id-token: write).
   * @param syftImage The syft image the SBOM is made with, pinned by digest; change it only to a mirror of it (an air-gapped registry).
   * @param verify The verification gate, once on the published digest before the first namespace: off, key (--verify-key) or keyless (--verify-issuer, --verify-identity).
   * @param verifyKey key: the PEM public key (cosign.pub) the bundles must verify with.
   * @param verifyIssuer keyless: the OIDC issuer, exactly (https://token.actions.githubusercontent.com).
   * @param verifyIdentity keyless: the certificate identity as a regular expression the whole identity must match.
   * @param requirePredicates What must be attached and verified: signature, provenance, sbom or predicate type URIs; empty: signature and provenance.
   */
  @func({ cache: "never" })
  async release(
    source: Directory,
    ref: string,
    sha: string,
    owner: string,
    username: string,
    password: Secret,
    chart: Directory | null,
    kubeconfig: Secret,
    readerUsername: string,
    readerToken: Secret,
    image = "api-gateway",
    registry = "ghcr.io",
    dockerfile = "Dockerfile",
    platforms: string[] = ["linux/amd64"],
    buildArgs: string[] = [],
    namespaces: string[] = ["meetinity-dev", "meetinity-staging", "meetinity-prod"],
    helmRelease = "meetinity",
    timeout = "10m",
    set: string[] = [],
    values: string[] = [],
    platform = "linux/amd64",
    allowDowngrade = false,
    imageValues = "global.image",
    pullSecretName = "ghcr-pull-secret",
    allowRemoval = false,
    chartRef = "",
    valuesDir?: Directory,
    signingKey?: Secret,
    oidcToken?: Secret,
    fulcioUrl = "https://fulcio.sigstore.dev",
    rekorUrl = "https://rekor.sigstore.dev",
    timestampUrl = "",
    trustedRoot?: File,
    verify = "off",
    verifyKey?: File,
    verifyIssuer = "",
    verifyIdentity = "",
    requirePredicates: string[] = [],
    oidcRequestUrl = "",
    oidcRequestToken?: Secret,
    syftImage = "docker.io/anchore/syft:v1.54.1@sha256:3eb5379ba7b409c3f4069b686110527af0c47df993fa5c10d13e7cf34f49b1aa",
  ): Promise<string> {
    return redacting(async () => {
      const chartSource = parseChartSource(chart, chartRef)
      const signing = await readSigning({
        signingKey,
        oidcToken,
        oidcRequestUrl,
        oidcRequestToken,
        syftImage,
        fulcioUrl,
        rekorUrl,
        timestampUrl,
        trustedRoot,
      })
      const policy = await parseGate({
        verify,
        verifyKey,
        verifyIssuer,
        verifyIdentity,
        requirePredicates,
        trustedRoot,
      })
      const plan = planRelease({
        ref,
        sha,
        owner,
        username,
        image,
        registry,
        dockerfile,
        platforms,
        buildArgs,
        readerUsername,
        namespaces,
        helmRelease,
        timeout,
        set,
        values,
        platform,
        allowDowngrade,
        imageValues,
        pullSecretName,
        allowRemoval,
      })
      return runRelease(plan, {
        source,
        password,
        chart: chartSource,
        ...(valuesDir ? { values: valuesDir } : {}),
        kubeconfig,
        readerToken,
        signing,
        policy,
      })
    })
  }

  /**
   * The whole release, rehearsed inside the engine with nothing but Dagger: starts an OCI
   * registry that requires credentials, a Kubernetes control plane and a real node (kind's node
   * image as a privileged service) as Dagger services, then runs the same code as release against
   * them: publish vX.Y.Z and sha-<7> at one digest, signed with a key made for the rehearsal; the
   * chart published to the registry and deployed from there by reference; the preflight and the
   * verification gate; then the pull secret, the guards and helm upgrade --install per namespace,
   * in order. Reads back from the cluster what runs where, and on the real node what the kubelet
   * pulled (each container's imageID). Needs no credentials and touches nothing outside the engine.
   * With --node auto (the default), an engine that refuses privileged services rehearses on kwok's
   * fake node instead (pods scheduled and made Ready, never run), and the report says so. Returns
   * each step with its time and the final state; a failure names the step and the namespace.
   *
   * Example: dagger call rehearse --source . --chart ./infra/helm/meetinity
   *
   * @param source The service repository root (the Docker build context); default: this module's examples/api-gateway.
   * @param chart The umbrella chart directory (infra/helm/meetinity); default: this module's examples/meetinity. The rehearsal publishes it to its registry and deploys it from there by reference.
   * @param imageValues Where this service's image goes in the chart's values: a dotted path of value keys; each deploy sets its .repository, .tag and .digest. The default fits the example chart's api-gateway.
   * @param namespaces The namespaces to deploy to, in order.
   * @param values Values files inside the chart directory for every namespace, after each namespace's values-<namespace>.yaml.
   * @param set Extra chart values for every namespace, each key=value.
   * @param platforms The platforms to build; the fake node runs linux/amd64 when it is among them, else the first.
   * @param image The image (package) name the rehearsal publishes under rehearsal/ in its registry.
   * @param timeout How long Helm waits for each rollout, a Go duration.
   * @param dockerfile Path of the Dockerfile inside source.
   * @param buildArgs Build arguments, each KEY=VALUE.
   * @param helmRelease The Helm release name.
   * @param pullSecretName The image pull secret the rehearsal makes in every namespace.
   * @param chartRef A published chart to rehearse instead of --chart: oci://<registry>/<owner>/charts/<name>:<version>, read anonymously (a public chart), then published to the rehearsal's registry like a directory.
   * @param valuesDir Where the values files are read (values-<namespace>.yaml and --values), e.g. the service repository's infra/helm/values; default: the chart itself.
   * @param syftImage The syft image the SBOM is made with, pinned by digest; change it only to a mirror of it.
   * @param node The node pods run on: auto (a real node, or kwok's fake node when the engine refuses privileged services), real, or kwok.
   * @param sign Sign what the rehearsal publishes (a signature, provenance and an SBOM, with a key made for the rehearsal) and deploy only past the verification gate with its public key, as a release with --signing-key and --verify key does.
   */
  @func({ cache: "never" })
  async rehearse(
    @argument({ defaultPath: "examples/api-gateway" }) source: Directory,
    @argument({ defaultPath: "examples/meetinity" }) chart: Directory,
    imageValues = "api-gateway.image",
    namespaces: string[] = ["meetinity-dev", "meetinity-staging", "meetinity-prod"],
    values: string[] = [],
    set: string[] = [],
    platforms: string[] = ["linux/amd64"],
    image = "api-gateway",
    timeout = "5m",
    dockerfile = "Dockerfile",
    buildArgs: string[] = [],
    helmRelease = "meetinity",
    pullSecretName = "ghcr-pull-secret",
    chartRef = "",
    valuesDir?: Directory,
    sign = true,
    node = "auto",
    syftImage = "docker.io/anchore/syft:v1.54.1@sha256:3eb5379ba7b409c3f4069b686110527af0c47df993fa5c10d13e7cf34f49b1aa",
  ): Promise<string> {
    return redacting(async () => {
      const nodeChoice = parseNodeChoice(node)
      // Checked like publish's: pinned by digest.
      parseSigning({ fulcioUrl: "", rekorUrl: "", timestampUrl: "", syftImage })
      // The chart directory always has its default here: a reference given takes its place.
      const chartSource = chartRef === "" ? parseChartSource(chart, "") : parseChartSource(null, chartRef)
      return runRehearsal(
        {
          image,
          imageValues,
          namespaces,
          values,
          set,
          platforms,
          helmRelease,
          timeout,
          dockerfile,
          buildArgs,
          pullSecretName,
          node: nodeChoice,
        },
        { source, chart: chartSource, ...(valuesDir ? { values: valuesDir } : {}), sign, syftImage },
      )
    })
  }

  /**
   * Keep the GHCR package tidy: keep the newest `keep` images whose tags are all sha-<hex>, every
   * image with a version tag or any other tag, and everything a kept image needs (platform
   * manifests, attestations, signatures, untagged referrers whose subject names it); delete the
   * rest, untagged orphans included. Fails closed: if any listing page, the registry's tag list
   * or a needed manifest cannot be read, nothing is deleted; a tag the registry serves that
   * GitHub's listing did not show is kept with all it needs. After a real run every kept tag,
   * every tag the registry lists, their index children and referrers are checked in the
   * registry; anything missing fails the run. A failed real run's error starts with what
   * happened, every version it deleted (id and digest) and the restore command. Returns a report
   * of every version with its decision and the reason, and the plan's fingerprint.
   *
   * Example: dagger call retain --owner meetinity --image api-gateway --token env://GHCR_RETENTION_TOKEN --dry-run
   *
   * @param owner The GitHub organisation or user that owns the package (found out which).
   * @param token A token with read:packages and delete:packages (or GITHUB_TOKEN with admin access to the package).
   * @param image The container package (image) name to clean up; required (no default: a function that deletes names what it deletes), unless --images is given.
   * @param keep How many of the newest build images (only sha-<hex> tags) to keep.
   * @param dryRun Plan and report only; delete nothing.
   * @param maxDeletions Delete at most this many versions in this run, oldest first, each together with every planned deletion that holds it (an index with its platform manifests, an image with its signatures); the rest is reported as left for the next runs and the run succeeds. (Up to v0.2.0, more planned deletions than this refused the run and deleted nothing.)
   * @param githubApiUrl The GitHub REST API; https://<host>/api/v3 for GitHub Enterprise Server.
   * @param registry The registry that serves the package's manifests; a scheme is allowed (http://127.0.0.1:5000).
   * @param format The report's format: table, or json (the same data as JSON; with --dry-run, the plan file --plan applies). Not called `json`: `dagger call` has its own --json flag, and an argument of that name makes every `dagger call retain` fail.
   * @param graceMinutes Never delete versions younger than this many minutes (a push may be under way).
   * @param registryUsername The user name for the registry's token exchange; empty means the owner (in a workflow: $GITHUB_ACTOR).
   * @param plan A reviewed plan (the JSON of an earlier --dry-run --format json): delete only the versions it lists as deletions that are unchanged and still deleted by the policy; skip and report the rest.
   * @param maxRequests A budget of GitHub API requests for the whole run (0: no limit): deleting stops before it is spent, the rest is reported and left for the next run, and the run succeeds.
   * @param images Several packages to run on, each listed, planned, applied and validated on its own (used instead of image when given).
   * @param moduleRef The module as this run was called (dagger call -m <ref>), for the restore command a failure prints; empty: this release of the module.
   * @param quotaReserve Requests of the token's hourly API quota to leave to the repository's other workflows (GITHUB_TOKEN's quota is shared by all of them; at most a tenth of the quota is kept): a real run reads the quota first, stops deleting before it falls below this, and reports the rest as left for the next run; the run succeeds.
   */
  @func({ cache: "never" })
  async retain(
    owner: string,
    token: Secret,
    image = "",
    keep = 30,
    dryRun = false,
    maxDeletions = 1000,
    githubApiUrl = "https://api.github.com",
    registry = "ghcr.io",
    format = "table",
    graceMinutes = 0,
    registryUsername = "",
    plan?: File,
    maxRequests = 0,
    images: string[] = [],
    quotaReserve = 100,
    moduleRef = "",
  ): Promise<string> {
    return redacting(async () => {
      check(format === "table" || format === "json", "format", format, "is not a report format: expected table or json")
      const args = parseRetainArgs({
        owner,
        image,
        keep,
        dryRun,
        maxDeletions,
        githubApiUrl,
        registry,
        graceMinutes,
        registryUsername,
        maxRequests,
        images,
        quotaReserve,
        moduleRef,
      })
      const plans = plan ? parseRetainPlan(await plan.contents(), args) : undefined
      // The token as the run was given it (env://NAME), for the restore command a failure prints.
      const named = withTokenUri(args, await token.uri().catch(() => ""))
      return retainWithToken(named, await token.plaintext(), say, new Date(), {
        plans,
        json: format === "json",
      })
    })
  }

  /**
   * Restore deleted versions of a GHCR package (GitHub keeps them 30 days): the ids given, the
   * versions a retain report lists as deleted (or a reviewed plan lists as deletions), and the
   * versions a retain run's log says it sent a DELETE for (a run that was killed or cancelled
   * writes no report: its journal lines name every one, the one in flight included). Reports each
   * version restored, already present, or refused with GitHub's reason; fails when any could not
   * be restored.
   *
   * Example: dagger call restore --owner meetinity --token env://GHCR_RETENTION_TOKEN --plan ./retention-result.json
   *
   * @param owner The GitHub organisation or user that owns the package (found out which).
   * @param token A token with read:packages and write:packages (and admin rights on the package).
   * @param image The container package (image) name.
   * @param ids Package version ids to restore, as digits (the "id" of each version in a retain --format json report).
   * @param plan A retain --format json report (or plan): restore the versions it lists as deleted.
   * @param githubApiUrl The GitHub REST API; https://<host>/api/v3 for GitHub Enterprise Server.
   * @param dryRun Report what would be restored; restore nothing.
   * @param journal The log of a retain run (the retention-journal artifact the workflow uploads, or the job's log): restore every version of this package it sent a DELETE for that GitHub did not refuse.
   */
  @func({ cache: "never" })
  async restore(
    owner: string,
    token: Secret,
    image = "api-gateway",
    ids: string[] = [],
    plan?: File,
    githubApiUrl = "https://api.github.com",
    dryRun = false,
    journal?: File,
  ): Promise<string> {
    return redacting(async () => {
      const args = parseRestoreArgs({
        owner,
        image,
        ids,
        githubApiUrl,
        dryRun,
        hasPlan: plan !== undefined,
        hasJournal: journal !== undefined,
      })
      const files = {
        ...(plan ? { plan: await plan.contents() } : {}),
        ...(journal ? { journal: await journal.contents() } : {}),
      }
      return restoreWithToken(args, files, await token.plaintext(), say)
    })
  }

  /**
   * A Markdown summary of a retain --format json report or plan, for a pull request or a workflow's
   * job summary: per package the fingerprint, the counts, and the versions to delete (the first
   * `rows` of them). Reads only the file.
   *
   * Example: dagger call retention-summary --report ./retention-plan.json
   *
   * @param report The JSON that retain --format json wrote (a dry-run plan, or the report of a real run).
   * @param rows How many versions to list per package, at most.
   */
  @func()
  async retentionSummary(report: File, rows = 200): Promise<string> {
    return redacting(async () => {
      const args = parseSummaryArgs({ rows })
      return summarizePlanFile(await report.contents(), args)
    })
  }

  /**
   * Check a service repository's GitHub setup before its first release: every environment,
   * environment secret, organisation or repository secret and variable its workflows need (read
   * from the workflow files), and the environments' deployment rules and reviewers that
   * docs/operations.md asks for. Each is reported present, missing, wrong (a rule that lets any
   * branch deploy, GHCR_RETENTION_TOKEN as a repository secret, one KUBECONFIG shared by every
   * namespace) or not checkable with this token, with what it is for, which file and job use it,
   * and the gh command or settings page that sets it right. Reads names only (GitHub never returns
   * a secret's value; variables' values are dropped unread) and changes nothing.
   *
   * Example: dagger call setup-check --repository acme/payments --token env://GH_TOKEN --workflows ./.github/workflows
   *
   * @param repository The service repository, owner/name (e.g. meetinity/api-gateway).
   * @param token A token that may read the repository's Actions settings: a classic token with the repo scope, or a fine-grained one with Actions, Environments, Secrets and Variables: read on the repository (GITHUB_TOKEN cannot list secrets).
   * @param workflows The service repository's .github/workflows directory (or its root); by default, the workflow templates of this module's release.
   * @param githubApiUrl The GitHub REST API; https://<host>/api/v3 for GitHub Enterprise Server.
   * @param format The report's format: table, or json.
   */
  @func({ cache: "never" })
  async setupCheck(
    repository: string,
    token: Secret,
    @argument({ defaultPath: "/.github/workflows", ignore: ["ci.yml"] }) workflows: Directory,
    githubApiUrl = "https://api.github.com",
    format = "table",
  ): Promise<string> {
    return redacting(async () => {
      const args = parseSetupArgs({ repository, githubApiUrl, format })
      const texts = await workflowTexts(workflows)
      return runSetupCheck(args, texts, await token.plaintext(), say)
    })
  }
}
