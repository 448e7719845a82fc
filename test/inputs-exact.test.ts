/**
 * Arguments that were accepted and should not have been: absurd timeouts, ports above 65535, user
 * names with control characters, a Dockerfile path with a NUL; kubeconfigs kubectl could not use
 * (base64-encoded, null, a list, certificates in files), while an exec plugin of a user the
 * current context does not use is no reason to refuse.
 */
import { describe, expect, test } from "vitest"

import { parseUsername } from "../src/common/names.js"
import { kubeconfigProblem } from "../src/delivery/kubeconfig.js"
import { parseServer, parseTimeout } from "../src/delivery/inputs.js"
import { parseImageLocation, parseRegistry } from "../src/oci/reference.js"
import { parseDockerfile } from "../src/publish/inputs.js"

describe("refused now", () => {
  test.each([
    [
      "an absurd timeout",
      () => parseTimeout("99999999999h"),
      /timeout "99999999999h" is longer than a deploy may wait/,
    ],
    ["a timeout just over a day", () => parseTimeout("24h1s"), /is longer than a deploy may wait/],
    [
      "a registry port above 65535",
      () => parseRegistry("http://127.0.0.1:99999"),
      /registry "http:\/\/127\.0\.0\.1:99999" has port 99999: expected a TCP port from 1 to 65535/,
    ],
    ["port 0", () => parseRegistry("localhost:0"), /has port 0/],
    [
      "an image on a port above 65535",
      () => parseImageLocation("localhost:70000/meetinity/api"),
      /image "localhost:70000\/meetinity\/api" has port 70000/,
    ],
    [
      "a pull-secret server on a port above 65535",
      () => parseServer("ghcr.io:65536"),
      /server "ghcr\.io:65536" has port 65536/,
    ],
    [
      "a user name with a bell",
      () => parseUsername("ci\u0007bot"),
      /username "ci\\u0007bot" is not a user name: .*control characters/,
    ],
    ["a user name with a right-to-left override", () => parseUsername("ci\u202ebot"), /is not a user name/],
    [
      "a Dockerfile path with a NUL",
      () => parseDockerfile("Dockerfile\u0000.bak"),
      /dockerfile "Dockerfile\\u0000\.bak" has a control character/,
    ],
  ])("%s", (_name, parse, message) => {
    expect(parse).toThrow(message)
  })

  test.each([
    ["a day is fine", "24h"],
    ["ninety minutes", "1h30m"],
  ])("a timeout: %s", (_name, value) => {
    expect(parseTimeout(value)).toBe(value)
  })
})

const kubeconfig = (user: string, extra = "") =>
  `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://k8s.example:6443\n    certificate-authority-data: AAAA\n${extra}contexts:\n- name: ci\n  context: {cluster: c, user: ci}\ncurrent-context: ci\nusers:\n- name: ci\n  user:\n${user}`

describe("kubeconfigs kubectl and helm could not use", () => {
  test.each([
    [
      "base64-encoded (a slip when storing it as a secret)",
      Buffer.from(kubeconfig("    token: abc\n")).toString("base64"),
      /^kubeconfig is base64-encoded: kubectl and helm read the kubeconfig itself/,
    ],
    [
      "null",
      "null\n",
      /^kubeconfig is not a kubeconfig: expected a mapping with clusters, contexts and users .*found nothing \(null\)/,
    ],
    ["an empty list", "[]\n", /^kubeconfig is not a kubeconfig: .*found a list of 0 items/],
    ["a single string", "hello\n", /^kubeconfig is not a kubeconfig: .*found a single string/],
    [
      "a client certificate in a file",
      kubeconfig("    client-certificate: /home/me/.kube/cert.pem\n    client-key-data: AAAA\n"),
      /client-certificate names a file, which the kubectl and helm containers do not have: inline it \(client-certificate-data/,
    ],
    [
      "a token in a file",
      kubeconfig("    tokenFile: /var/run/secrets/token\n"),
      /tokenFile names a file.*inline it \(token;/,
    ],
    [
      "a certificate authority in a file",
      `apiVersion: v1\nclusters:\n- name: c\n  cluster:\n    server: https://k8s.example\n    certificate-authority: /etc/ca.pem\ncontexts:\n- name: ci\n  context: {cluster: c, user: ci}\ncurrent-context: ci\nusers:\n- name: ci\n  user: {token: abc}\n`,
      /certificate-authority names a file/,
    ],
    [
      "a current-context that is not there",
      kubeconfig("    token: abc\n").replace("current-context: ci", "current-context: prod"),
      /current-context "prod" is not among its contexts/,
    ],
    [
      "the current context's user uses an exec plugin",
      kubeconfig("    exec: {command: aws}\n"),
      /exec plugin \(aws\) for user "ci"/,
    ],
  ])("%s is refused", (_name, text, problem) => {
    expect(kubeconfigProblem(text)).toMatch(problem)
  })

  test("an exec plugin of a user the current context does not use is no reason to refuse", () => {
    const text = `${kubeconfig("    token: abc\n")}- name: laptop\n  user:\n    exec: {command: gke-gcloud-auth-plugin}\n`
    expect(kubeconfigProblem(text)).toBeUndefined()
  })

  test("the same kubeconfig with that user current is refused", () => {
    const text =
      `${kubeconfig("    token: abc\n")}- name: laptop\n  user:\n    exec: {command: gke-gcloud-auth-plugin}\n`.replace(
        "context: {cluster: c, user: ci}",
        "context: {cluster: c, user: laptop}",
      )
    expect(kubeconfigProblem(text)).toMatch(/exec plugin \(gke-gcloud-auth-plugin\) for user "laptop"/)
  })
})
