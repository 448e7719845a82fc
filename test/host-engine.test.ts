/**
 * The host executor the cluster tests rely on: it runs a recorded container's command with the
 * real binary, its mounted secrets as files at the mapped paths, and refuses what it does not
 * reproduce (so a module change it cannot follow fails loudly instead of running something else).
 */
import { describe, expect, test } from "vitest"

import { HELM_IMAGE, KUBECTL_IMAGE } from "../src/engine/images.js"
import { parseQuery } from "./support/dagger.js"
import { hostEngine } from "./support/host-engine.js"

const container = (image: string, fields: string, args: string[], leaf = "exitCode") =>
  parseQuery(
    `{ container { from (address: ${JSON.stringify(image)}) { ${fields} withExec (args: ${JSON.stringify(args)}, expect: ANY) { ${leaf} } } } }`,
  )

describe("host engine", () => {
  test("a mounted secret is a file at its mapped path, KUBECONFIG points at it, and the real kubectl's output comes back", async () => {
    const kubeconfig = [
      "apiVersion: v1",
      "kind: Config",
      "current-context: c",
      "clusters:",
      "- name: k",
      "  cluster:",
      "    server: https://127.0.0.1:1",
      "contexts:",
      "- name: c",
      "  context:",
      "    cluster: k",
      "    user: u",
      "users:",
      "- name: u",
      "  user:",
      "    token: t",
      "",
    ].join("\n")
    const engine = hostEngine({ secrets: { "id-kc": kubeconfig }, directories: {} })
    const fields =
      'withMountedSecret (path: "/run/secrets/kubeconfig", source: "id-kc", mode: 292) { withEnvVariable (name: "KUBECONFIG", value: "/run/secrets/kubeconfig") {'
    const args = ["kubectl", "config", "view", "--raw", "-o", "jsonpath={.clusters[0].cluster.server}"]
    expect(await engine.answer(container(KUBECTL_IMAGE, fields, args))).toBe(0)
    expect(await engine.answer(container(KUBECTL_IMAGE, fields, args, "stdout"))).toBe("https://127.0.0.1:1")
    // The exit code and the output of one container come from one run.
    expect(engine.runs).toHaveLength(1)
  })

  test.each([
    [
      "a container field it does not reproduce",
      container(HELM_IMAGE, 'withWorkdir (path: "/x") {', ["helm", "version"]),
      /uses withWorkdir, which this executor does not reproduce/,
    ],
    [
      "a command in another image than its program's",
      container("alpine:3", "", ["helm", "version"]),
      /helm ran in alpine:3, expected alpine\/helm/,
    ],
    [
      "a program that is neither kubectl nor helm",
      container(HELM_IMAGE, "", ["sh", "-c", "true"]),
      /sh is neither kubectl nor helm/,
    ],
  ])("refuses %s", async (_name, query, message) => {
    const engine = hostEngine({ secrets: {}, directories: {} })
    await expect(engine.answer(query)).rejects.toThrow(message)
    expect(engine.runs).toEqual([])
  })
})
