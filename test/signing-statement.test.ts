/**
 * The statements publish signs, pure: cosign v3's signature statement, SLSA provenance v1 in the
 * shape of GitHub's attest-build-provenance (from a GitHub Actions OIDC token's claims, decoded
 * without the network), and syft's SPDX document as is.
 */
import { describe, expect, test } from "vitest"
import { InvalidArgumentError } from "../src/common/errors.js"
import { fallbackTag, PREDICATE } from "../src/signing/constants.js"
import { decodeJwtClaims, githubActionsIdentity, githubCertificateIdentity } from "../src/signing/oidc.js"
import {
  baseImageUri,
  buildFactsOf,
  dockerfileBaseImages,
  MODULE_BUILDER_ID,
  provenanceStatement,
  PUBLISH_BUILD_TYPE,
  runFromGithub,
  sbomStatement,
  signatureStatement,
} from "../src/signing/statement.js"
import { COMMIT, fakeJwt, GITHUB_CLAIMS } from "./support/oidc.js"

const DIGEST = `sha256:${"ab".repeat(32)}`
const REPOSITORY = "ghcr.io/meetinity/api-gateway"

describe("the signature statement", () => {
  test("in-toto v1, cosign v3's predicate type and empty predicate, subject the repository at the digest", () => {
    expect(signatureStatement(REPOSITORY, DIGEST)).toEqual({
      _type: "https://in-toto.io/Statement/v1",
      subject: [{ name: REPOSITORY, digest: { sha256: "ab".repeat(32) } }],
      predicateType: "https://sigstore.dev/cosign/sign/v1",
      predicate: {},
    })
  })

  test("a digest or repository that is not one is refused, naming the argument", () => {
    expect(() => signatureStatement(REPOSITORY, "sha256:abc")).toThrow(
      'digest "sha256:abc" is not a manifest digest: expected sha256:<64 hex>',
    )
    expect(() => signatureStatement("ghcr.io/meetinity/api:v1", DIGEST)).toThrow(
      /^repository "ghcr.io\/meetinity\/api:v1"/,
    )
  })

  test("the fallback tag of a digest", () => {
    expect(fallbackTag(DIGEST)).toBe(`sha256-${"ab".repeat(32)}`)
  })
})

describe("SLSA provenance v1", () => {
  const facts = {
    ref: "release/v1.2.3",
    commit: COMMIT,
    sourceRepository: "https://github.com/meetinity/api-gateway",
    dockerfile: "Dockerfile",
    platforms: ["linux/amd64", "linux/arm64"],
    buildArgNames: ["NODE_ENV", "API_TOKEN"],
    baseImages: [{ reference: "docker.io/library/node:22-alpine", digest: `sha256:${"cd".repeat(32)}` }],
  }

  test("in GitHub Actions: builder and run from the token's claims, in GitHub's own shape", () => {
    const identity = githubActionsIdentity(decodeJwtClaims(fakeJwt(GITHUB_CLAIMS)))
    expect(githubCertificateIdentity(identity)).toBe(
      "https://github.com/meetinity/api-gateway/.github/workflows/cd.yml@refs/tags/release/v1.2.3",
    )
    const statement = provenanceStatement(REPOSITORY, DIGEST, facts, runFromGithub(identity))
    expect(statement.predicateType).toBe(PREDICATE.provenance)
    expect(statement.subject).toEqual([{ name: REPOSITORY, digest: { sha256: "ab".repeat(32) } }])
    expect(statement.predicate).toEqual({
      buildDefinition: {
        buildType: PUBLISH_BUILD_TYPE,
        externalParameters: {
          workflow: {
            ref: "refs/tags/release/v1.2.3",
            repository: "https://github.com/meetinity/api-gateway",
            path: ".github/workflows/cd.yml",
          },
          repository: "https://github.com/meetinity/api-gateway",
          ref: "refs/tags/release/v1.2.3",
          commit: COMMIT,
          dockerfile: "Dockerfile",
          platforms: ["linux/amd64", "linux/arm64"],
          buildArgs: ["NODE_ENV", "API_TOKEN"],
        },
        internalParameters: {
          github: {
            event_name: "push",
            repository_id: "123456",
            repository_owner_id: "654321",
            runner_environment: "github-hosted",
          },
        },
        resolvedDependencies: [
          {
            uri: "git+https://github.com/meetinity/api-gateway@refs/tags/release/v1.2.3",
            digest: { gitCommit: COMMIT },
          },
          { uri: "pkg:docker/docker.io/library/node@22-alpine", digest: { sha256: "cd".repeat(32) } },
        ],
      },
      runDetails: {
        builder: { id: "https://github.com/actions/runner/github-hosted" },
        metadata: { invocationId: "https://github.com/meetinity/api-gateway/actions/runs/987/attempts/2" },
      },
    })
  })

  test("outside Actions: the given builder, no workflow, the source named by its commit when its URL is unknown", () => {
    const { sourceRepository: _, ...local } = facts
    const statement = provenanceStatement(
      REPOSITORY,
      DIGEST,
      { ...local, baseImages: [] },
      {
        builderId: MODULE_BUILDER_ID,
      },
    )
    const predicate = statement.predicate as { buildDefinition: Record<string, unknown>; runDetails: object }
    expect(predicate.buildDefinition.externalParameters).not.toHaveProperty("workflow")
    expect(predicate.buildDefinition).not.toHaveProperty("internalParameters")
    expect(predicate.buildDefinition.resolvedDependencies).toEqual([
      { name: "source", digest: { gitCommit: COMMIT }, annotations: { ref: "refs/tags/release/v1.2.3" } },
    ])
    expect(predicate.runDetails).toEqual({ builder: { id: MODULE_BUILDER_ID } })
  })

  test("from publish's plan: the release tag's ref, the source label, build argument names and never their values", () => {
    const plan = {
      version: { tag: "v1.2.3" },
      sha: COMMIT,
      dockerfile: "build/Dockerfile",
      platforms: ["linux/amd64"],
      buildArgs: [
        { name: "NODE_ENV", value: "production" },
        { name: "API_TOKEN", value: "s3cr3t-value" },
      ],
      labels: { "org.opencontainers.image.source": "https://github.com/meetinity/api-gateway" },
    }
    const built = buildFactsOf(plan)
    expect(built).toEqual({
      ref: "refs/tags/release/v1.2.3",
      commit: COMMIT,
      sourceRepository: "https://github.com/meetinity/api-gateway",
      dockerfile: "build/Dockerfile",
      platforms: ["linux/amd64"],
      buildArgNames: ["NODE_ENV", "API_TOKEN"],
      baseImages: [],
    })
    const text = JSON.stringify(provenanceStatement(REPOSITORY, DIGEST, built, { builderId: MODULE_BUILDER_ID }))
    expect(text).toContain('"buildArgs":["NODE_ENV","API_TOKEN"]')
    expect(text).not.toContain("s3cr3t-value")
    expect(text).not.toContain("production")
  })

  test("a ref that is not a release ref, or a commit that is not one, is refused", () => {
    expect(() => provenanceStatement(REPOSITORY, DIGEST, { ...facts, ref: "main" }, { builderId: "b" })).toThrow(
      /^ref "main" is not a release ref/,
    )
    expect(() => provenanceStatement(REPOSITORY, DIGEST, { ...facts, commit: "xyz" }, { builderId: "b" })).toThrow(
      /^commit "xyz" is not a commit SHA/,
    )
  })

  test("base images: the Dockerfile's FROM lines, without stages, scratch or build-argument references", () => {
    const dockerfile = [
      "ARG BASE=node:22",
      "FROM --platform=$BUILDPLATFORM golang:1.26@sha256:" + "ef".repeat(32) + " AS build",
      "FROM build AS test",
      "FROM $BASE",
      "FROM scratch",
      "from gcr.io/distroless/static:nonroot",
    ].join("\n")
    expect(dockerfileBaseImages(dockerfile)).toEqual([
      `golang:1.26@sha256:${"ef".repeat(32)}`,
      "gcr.io/distroless/static:nonroot",
    ])
    expect(baseImageUri(`golang:1.26@sha256:${"ef".repeat(32)}`)).toBe("pkg:docker/golang@1.26")
    expect(baseImageUri("127.0.0.1:5000/base")).toBe("pkg:docker/127.0.0.1:5000/base@latest")
  })
})

describe("the SBOM statement", () => {
  test("syft's SPDX 2.3 document is the predicate, unchanged", () => {
    const spdx = { spdxVersion: "SPDX-2.3", name: "x", packages: [{ name: "busybox" }] }
    expect(sbomStatement(REPOSITORY, DIGEST, spdx).predicate).toBe(spdx)
    expect(sbomStatement(REPOSITORY, DIGEST, spdx).predicateType).toBe("https://spdx.dev/Document/v2.3")
  })

  test("anything else is refused", () => {
    expect(() => sbomStatement(REPOSITORY, DIGEST, { spdxVersion: "SPDX-2.2" })).toThrow(
      'sbom {"spdxVersion":"SPDX-2.2"} is not an SPDX 2.3 JSON document',
    )
  })
})

describe("OIDC tokens", () => {
  test("a token that is not a JWT is refused without quoting it", () => {
    const secret = "ghs_notajwt_secretvalue"
    try {
      decodeJwtClaims(secret)
      expect.unreachable()
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidArgumentError)
      expect((error as Error).message).toBe(
        'oidcToken "<a token of 23 characters in 1 part(s)>" is not a JWT: expected three base64url parts separated by dots (an OIDC identity token for audience sigstore)',
      )
    }
  })

  test("a token without the GitHub Actions claims is refused, naming the claim", () => {
    const { job_workflow_ref: _, ...claims } = GITHUB_CLAIMS
    const token = fakeJwt(claims)
    expect(() => githubActionsIdentity(decodeJwtClaims(token))).toThrow(/"job_workflow_ref" claim is missing/)
    try {
      githubActionsIdentity(decodeJwtClaims(token))
    } catch (error) {
      expect((error as Error).message).not.toContain(token.split(".")[1])
    }
  })

  test("GHE.com and GitHub Enterprise Server issuers give their own server URL", () => {
    const ghe = githubActionsIdentity({ ...GITHUB_CLAIMS, iss: "https://token.actions.octo.ghe.com" })
    expect(ghe.serverUrl).toBe("https://octo.ghe.com")
    const ghes = githubActionsIdentity({ ...GITHUB_CLAIMS, iss: "https://git.example.com/_services/token" })
    expect(ghes.serverUrl).toBe("https://git.example.com")
  })
})
