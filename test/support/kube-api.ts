/**
 * Just enough of the Kubernetes API for `kubectl get namespace <name>`: legacy discovery
 * (`/api`, `/apis`, `/api/v1`) and namespaces that exist, are missing (404 Status) or are
 * forbidden (403 Status), so real kubectl prints its real error for each. `/version` and the
 * discovery are also all that Helm 4 asks of a cluster for `helm upgrade --dry-run=client` of a
 * release it already has (its storage is the in-memory driver).
 */
import { writeFileSync } from "node:fs"
import { createServer } from "node:http"
import { join } from "node:path"

export async function startKubeApi(
  namespaces: { existing: string[]; forbidden: string[] },
  dir: string,
): Promise<{ kubeconfig: string; stop(): Promise<void> }> {
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://x").pathname
    const send = (status: number, body: unknown) => {
      response.writeHead(status, { "content-type": "application/json" })
      response.end(JSON.stringify(body))
    }
    // What an API server answers at /version (Helm asks it before an upgrade, even with --dry-run=client).
    if (path === "/version") {
      return send(200, {
        major: "1",
        minor: "35",
        emulationMajor: "1",
        emulationMinor: "35",
        minCompatibilityMajor: "1",
        minCompatibilityMinor: "34",
        gitVersion: "v1.35.2",
        gitCommit: "0000000000000000000000000000000000000000",
        gitTreeState: "clean",
        buildDate: "2026-02-26T00:00:00Z",
        goVersion: "go1.25.7",
        compiler: "gc",
        platform: "linux/amd64",
      })
    }
    if (path === "/api")
      return send(200, {
        kind: "APIVersions",
        versions: ["v1"],
        serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: "127.0.0.1" }],
      })
    if (path === "/apis") return send(200, { kind: "APIGroupList", apiVersion: "v1", groups: [] })
    if (path === "/api/v1") {
      return send(200, {
        kind: "APIResourceList",
        groupVersion: "v1",
        resources: [
          {
            name: "namespaces",
            singularName: "namespace",
            namespaced: false,
            kind: "Namespace",
            verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
            shortNames: ["ns"],
          },
        ],
      })
    }
    const match = /^\/api\/v1\/namespaces\/([^/]+)$/.exec(path)
    if (match) {
      const name = match[1]!
      if (namespaces.forbidden.includes(name)) {
        return send(403, {
          kind: "Status",
          apiVersion: "v1",
          metadata: {},
          status: "Failure",
          message: `namespaces "${name}" is forbidden: User "system:serviceaccount:${name}:deployer" cannot get resource "namespaces" in API group "" in the namespace "${name}"`,
          reason: "Forbidden",
          details: { name, kind: "namespaces" },
          code: 403,
        })
      }
      if (namespaces.existing.includes(name))
        return send(200, { kind: "Namespace", apiVersion: "v1", metadata: { name }, status: { phase: "Active" } })
      return send(404, {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: `namespaces "${name}" not found`,
        reason: "NotFound",
        details: { name, kind: "namespaces" },
        code: 404,
      })
    }
    return send(404, {
      kind: "Status",
      apiVersion: "v1",
      status: "Failure",
      reason: "NotFound",
      code: 404,
      message: "the server could not find the requested resource",
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address()
  const port = typeof address === "object" && address ? address.port : 0
  const kubeconfig = join(dir, "kubeconfig")
  writeFileSync(
    kubeconfig,
    [
      "apiVersion: v1",
      "kind: Config",
      "current-context: test",
      "clusters:",
      "- name: test",
      "  cluster:",
      `    server: http://127.0.0.1:${port}`,
      "contexts:",
      "- name: test",
      "  context:",
      "    cluster: test",
      "    user: test",
      "users:",
      "- name: test",
      "  user:",
      "    token: not-a-real-token",
      "",
    ].join("\n"),
  )
  return { kubeconfig, stop: () => new Promise((resolve) => server.close(() => resolve())) }
}
