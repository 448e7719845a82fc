/**
 * Nothing secret in any message: a credential pasted into the wrong argument, a wrong file given
 * where a report was expected, a URL with user info, a Helm or kubectl answer that quotes what it
 * was given: no message the module prints carries it. And the retention summary, which a job
 * summary renders, shows every value from its file as text, covered by the file's fingerprints.
 */
import { afterEach, describe, expect, test } from "vitest"
import { dag, type FileID, type SecretID } from "@dagger.io/dagger"
import { micromark } from "micromark"
import { gfm, gfmHtml } from "micromark-extension-gfm"

import { quote } from "../src/common/errors.js"
import { redact, redacting } from "../src/common/redact.js"
import { kubeconfigProblem } from "../src/delivery/kubeconfig.js"
import { MeetinityRelease } from "../src/index.js"
import { fingerprint, REPORT_FORMAT, reportFingerprint } from "../src/retention/fingerprint.js"
import { summarizePlanFile } from "../src/retention/summary.js"
import { recordDagger, type Recorder } from "./support/dagger.js"

const TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
const PAT = "github_pat_" + "11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ"
const JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOm1lZXRpbml0eSJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"
const PEM = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB2Wc0xY\n-----END EC PRIVATE KEY-----"
const base64 = (text: string) => Buffer.from(text).toString("base64")

describe("the redactor", () => {
  test.each([
    ["a classic token", `token is ${TOKEN}`, TOKEN],
    ["a fine-grained token", `x ${PAT} y`, PAT],
    ["an OIDC token (a JWT)", `id_token ${JWT}`, JWT],
    ["a private key", `key:\n${PEM}\nend`, "MHcCAQEEIB2Wc0xY"],
    ["user info in a URL", "https://ci-bot:hunter2hunter2@ghcr.io/v2/", "hunter2hunter2"],
    ["a token as user info", `https://${TOKEN}@github.com/meetinity/api`, TOKEN],
    ["password=", "password=correct-horse-battery", "correct-horse-battery"],
    ["a token that starts like a word", "authorization: authorization-8f3e2a1b9c", "authorization-8f3e2a1b9c"],
    ["a JSON token field", '{"token": "sk-live-0123456789abcdef"}', "sk-live-0123456789abcdef"],
    ["a Bearer header echoed back", "Authorization: Bearer abcdefghijklmnop0123", "abcdefghijklmnop0123"],
    ["the base64 of a token", `auth ${base64(`ci-bot:${TOKEN}`)}`, base64(`ci-bot:${TOKEN}`)],
    ["the base64 of user info", `x ${base64("https://u:secretsecret@host")} y`, base64("https://u:secretsecret@host")],
  ])("%s is removed", (_name, text, secret) => {
    const out = redact(text)
    expect(out).not.toContain(secret)
    expect(out).toContain("[redacted]")
  })

  test.each([
    ["a digest", `sha256:${"ab".repeat(32)}`],
    ["an image reference", "ghcr.io/meetinity/api-gateway:v1.4.2@sha256:" + "0f".repeat(32)],
    ["a kubectl message", "secret/ghcr-pull-secret serverside-applied; the token has read:packages"],
    ["a long plain word", "packageversionsforpackageownedbyorganisation"],
    [
      "containerd's answer to a pull without credentials (a word like authorization after authorization:)",
      'failed to pull and unpack image "10.254.0.1:5000/meetinity/api-gateway:v1.0.0": failed to resolve image: pull access denied, repository does not exist or may require authorization: authorization failed: no basic auth credentials',
    ],
  ])("%s is left as it is", (_name, text) => {
    expect(redact(text)).toBe(text)
  })

  test("what the front door throws leaves redacted, whatever threw it (Helm quoting a value, say)", async () => {
    const thrown = await redacting(() => {
      throw new Error(`helm upgrade failed: Error: values: global.registryToken=${TOKEN}`)
    }).catch((e: unknown) => e as Error)
    expect(thrown.message).not.toContain(TOKEN)
    expect(thrown.stack).not.toContain(TOKEN)
  })
})

let recorder: Recorder | undefined
afterEach(() => recorder?.restore())
const secret = (id: string) => dag.loadSecretFromID(id as SecretID)
const file = (id: string) => dag.loadFileFromID(id as FileID)

/** The message a front-door call fails with, after checking it sent nothing to the engine. */
async function refusal(call: (m: MeetinityRelease) => Promise<unknown> | unknown): Promise<string> {
  recorder = await recordDagger(() => undefined)
  let message = ""
  try {
    await call(new MeetinityRelease())
  } catch (error) {
    message = (error as Error).message
  }
  expect(message, "the call should have been refused").not.toBe("")
  expect(recorder.queries.map((q) => q.leaf)).toEqual([])
  return message
}

describe("a credential pasted into the wrong argument is refused without being quoted", () => {
  const source = () => dag.loadDirectoryFromID("DirectoryID-src" as never)
  test.each([
    ["--ref", (m: MeetinityRelease) => m.version(TOKEN), TOKEN, /^ref "\[redacted\]" is not a release ref/],
    ["--ref (a JWT)", (m: MeetinityRelease) => m.version(`release/${JWT}`), JWT, /^ref "release\/\[redacted\]"/],
    ["--sha", (m: MeetinityRelease) => m.tags("release/v1.0.0", PAT), PAT, /^sha "\[redacted\]" is not a commit SHA/],
    [
      "a build argument",
      (m: MeetinityRelease) =>
        m.publish(
          source(),
          "release/v1.0.0",
          "0123abc",
          "meetinity",
          "ci",
          secret("SecretID-p"),
          "api",
          "ghcr.io",
          "Dockerfile",
          ["linux/amd64"],
          [`NPM_TOKEN=${TOKEN}`],
        ),
      TOKEN,
      /buildArgs "NPM_TOKEN=\[redacted\]" holds what looks like a credential: build arguments are recorded in the image's history/,
    ],
    [
      "--registry with user info",
      (m: MeetinityRelease) =>
        m.publish(
          source(),
          "release/v1.0.0",
          "0123abc",
          "meetinity",
          "ci",
          secret("SecretID-p"),
          "api",
          "https://ci:hunter2hunter2@ghcr.io",
        ),
      "hunter2hunter2",
      /registry "https:\/\/\[redacted\]@ghcr\.io" carries user info/,
    ],
    [
      "--source-url with a token",
      (m: MeetinityRelease) =>
        m.publish(
          source(),
          "release/v1.0.0",
          "0123abc",
          "meetinity",
          "ci",
          secret("SecretID-p"),
          "api",
          "ghcr.io",
          "Dockerfile",
          ["linux/amd64"],
          [],
          `https://${TOKEN}@github.com/meetinity/api`,
        ),
      TOKEN,
      /sourceUrl "https:\/\/\[redacted\]@github\.com\/meetinity\/api" carries user info/,
    ],
    [
      "--source-url with a token in its query",
      (m: MeetinityRelease) =>
        m.publish(
          source(),
          "release/v1.0.0",
          "0123abc",
          "meetinity",
          "ci",
          secret("SecretID-p"),
          "api",
          "ghcr.io",
          "Dockerfile",
          ["linux/amd64"],
          [],
          `https://github.com/meetinity/api?token=${TOKEN}`,
        ),
      TOKEN,
      /sourceUrl ".*" is not a repository URL: expected https:\/\/<host>\/<path>, without user info, query or fragment/,
    ],
    [
      "--image with user info",
      (m: MeetinityRelease) => m.imageUri(`http://ci:${TOKEN}@10.0.0.5:5000/meetinity/api`, "v1.0.0"),
      TOKEN,
      /image "http:\/\/\[redacted\]@10\.0\.0\.5:5000\/meetinity\/api" carries user info/,
    ],
    [
      "--github-api-url with user info",
      (m: MeetinityRelease) =>
        m.retain("meetinity", secret("SecretID-t"), "api", 30, true, 1000, `https://x:${TOKEN}@github.example/api/v3`),
      TOKEN,
      /githubApiUrl "https:\/\/\[redacted\]@github\.example\/api\/v3" carries user info/,
    ],
    [
      "--set with a JWT",
      (m: MeetinityRelease) =>
        m.helmDeploy(
          file("x") as never,
          secret("SecretID-k"),
          "meetinity-dev",
          "v1.0.0",
          "ghcr.io/meetinity/api",
          "meetinity",
          "ghcr-pull-secret",
          "10m",
          [JWT],
        ),
      JWT,
      /set "\[redacted\]" is not a chart value/,
    ],
    [
      "--version with a private key",
      (m: MeetinityRelease) => m.imageUri("ghcr.io/meetinity/api", PEM),
      "MHcCAQEEIB2Wc0xY",
      /^version "\[redacted\]/,
    ],
  ])("%s", async (_name, call, pasted, message) => {
    const text = await refusal(call as (m: MeetinityRelease) => Promise<unknown>)
    expect(text).not.toContain(pasted)
    expect(text).toMatch(message)
  })

  test("quote() never quotes one, even cut short or in a list", () => {
    expect(quote(`${"x".repeat(70)}${TOKEN}${"y".repeat(500)}`)).not.toContain(TOKEN.slice(0, 20))
    expect(quote([`a=${TOKEN}`, "b"])).not.toContain(TOKEN)
  })
})

describe("a wrong file given where a report or plan was expected is not quoted", () => {
  test.each([
    [
      "a .env file",
      `DATABASE_URL=postgres://app:s3cr3t-pa55@db/app\nAPI_KEY=abc123abc123abc123\n`,
      ["s3cr3t-pa55", "abc123abc123abc123"],
    ],
    [
      "a docker config.json",
      JSON.stringify({ auths: { "ghcr.io": { auth: base64("ci:plain-password-1") } } }),
      ["plain-password-1", base64("ci:plain-password-1")],
    ],
    [
      "a kubeconfig",
      "apiVersion: v1\nusers:\n- name: u\n  user:\n    token: kube-sa-token-value-0123\n",
      ["kube-sa-token-value-0123"],
    ],
  ])("%s to retention-summary --report", (_name, contents, secrets) => {
    let message = ""
    try {
      summarizePlanFile(contents, { rows: 10 })
    } catch (error) {
      message = (error as Error).message
    }
    expect(message).toMatch(/^report/)
    for (const s of secrets) expect(message).not.toContain(s)
  })
})

describe("URL arguments and kubeconfig servers with user info", () => {
  test("a kubeconfig whose server carries user info is refused without showing it", () => {
    const problem = kubeconfigProblem(
      `apiVersion: v1\nclusters:\n- name: c\n  cluster:\n    server: https://admin:${TOKEN}@k8s.example:6443\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\nusers:\n- name: u\n  user: {token: abc}\n`,
    )
    expect(problem).toMatch(/cluster server carries user info/)
    expect(problem).not.toContain(TOKEN)
  })
})

describe("the retention summary renders as text what its file holds", () => {
  /** A real-run report whose versions carry tags meant to inject Markdown, with valid fingerprints. */
  function hostileReport(): string {
    const hostile = [
      "# Heading",
      "[click](https://evil.example)",
      "![img](https://evil.example/x.png)",
      "<img src=x onerror=alert(1)>",
      "www.evil.example",
      "a|b",
      "`code`",
      "**bold**",
    ]
    const versions = hostile.map((tag, i) => ({
      id: i + 1,
      digest: `sha256:${String(i).padStart(2, "0").repeat(32)}`,
      tags: [tag],
      decision: "delete" as const,
      reason: `reason with ${tag}`,
      outcome: "deleted",
    }))
    const section = {
      owner: "evil<b>org</b>",
      packageName: "pkg](https://evil.example)",
      policy: { keep: 1, graceMinutes: 0 },
      versions,
    }
    const print = fingerprint(section)
    return JSON.stringify({
      format: REPORT_FORMAT,
      owner: section.owner,
      package: section.packageName,
      dryRun: false,
      policy: section.policy,
      fingerprint: print,
      reportFingerprint: reportFingerprint({ fingerprint: print, versions, stopped: "## stopped <script>x</script>" }),
      stopped: "## stopped <script>x</script>",
      versions,
    })
  }

  test("no heading, link, image, emphasis or HTML comes from the file, as a GFM renderer reads it", () => {
    const markdown = summarizePlanFile(hostileReport(), { rows: 100 })
    const html = micromark(markdown, { extensions: [gfm()], htmlExtensions: [gfmHtml()] })
    // The summary's own structure only: its two headings and its table.
    expect(html.match(/<h[1-6]>/g)).toEqual(["<h2>", "<h3>"])
    expect(html).not.toMatch(/<a |<img|<script|<strong>|<em>|<b>/)
    expect(html).toContain("&lt;img src=x onerror=alert(1)&gt;")
    // Every version is one table row: a pipe in a value does not add a cell.
    expect(html.match(/<tr>/g)).toHaveLength(9)
    for (const row of html.split("<tr>").slice(2)) expect(row.match(/<td>/g)).toHaveLength(5)
  })

  test.each([
    [
      "a reason",
      (r: Record<string, unknown>) => ((r.versions as { reason: string }[])[0]!.reason = "looks harmless"),
      /fingerprint .* does not match the plan's content/,
    ],
    [
      "an outcome",
      (r: Record<string, unknown>) => ((r.versions as { outcome: string }[])[0]!.outcome = "failed"),
      /reportFingerprint .* does not match the report's outcomes/,
    ],
    [
      "why it stopped",
      (r: Record<string, unknown>) => (r.stopped = "nothing to see"),
      /reportFingerprint .* does not match the report's outcomes/,
    ],
  ])("a report with %s edited after the run is refused", (_name, edit, message) => {
    const report = JSON.parse(hostileReport()) as Record<string, unknown>
    edit(report)
    expect(() => summarizePlanFile(JSON.stringify(report), { rows: 10 })).toThrow(message)
  })
})
