/**
 * A front for a real registry that demands a bearer token the way ghcr.io does: an
 * unauthenticated request gets `401` with `WWW-Authenticate: Bearer realm=...,service=...,
 * scope=repository:<name>:<actions>`; `GET <realm>?service=...&scope=...` with basic auth
 * `<user>:<password>` answers `{"token": ...}`; requests with that bearer are passed through.
 * Anonymous token requests get pull-only tokens when `anonymousPull` is set (public images).
 */
import { randomBytes } from "node:crypto"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"

export interface TokenRegistry {
  readonly url: string
  readonly host: string
  /** Every request the front saw: method, path, and the Authorization scheme used. */
  readonly log: { method: string; path: string; auth: string }[]
  /** Answers the next `times` matching requests (after authentication) with a fault instead of passing them on. */
  addFault(rule: RegistryFault): void
  stop(): Promise<void>
}

/** A fault of the kind a registry or the proxy in front of it gives: a 5xx or 429 (with `Retry-After`), a reset connection, or a 404 from a replica that lags. */
export interface RegistryFault {
  method?: string
  path?: RegExp
  times: number
  fault: { status: 404 | 429 | 500 | 502 | 503 | 504; retryAfter?: string } | { reset: true }
}

export async function startTokenRegistry(
  backendUrl: string,
  options: { username: string; password: string; anonymousPull?: boolean; latencyMs?: number; tagPageSize?: number },
): Promise<TokenRegistry> {
  const tokens = new Map<string, string>() // token -> granted scope
  const log: TokenRegistry["log"] = []
  const faults: RegistryFault[] = []
  let url = ""
  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const path = request.url ?? "/"
    const authorization = request.headers.authorization ?? ""
    log.push({ method: request.method ?? "", path, auth: authorization.split(" ")[0] ?? "" })
    if (options.latencyMs) await new Promise((r) => setTimeout(r, options.latencyMs))
    if (path.startsWith("/token")) {
      const query = new URL(path, url).searchParams
      const scope = query.get("scope") ?? ""
      let granted: string | undefined
      if (authorization.startsWith("Basic ")) {
        const [user, ...rest] = Buffer.from(authorization.slice(6), "base64").toString().split(":")
        if (user === options.username && rest.join(":") === options.password) granted = scope
      } else if (options.anonymousPull && scope.endsWith(":pull")) {
        granted = scope
      }
      if (!granted || query.get("service") !== "test-registry") {
        response.writeHead(401, { "content-type": "application/json" })
        response.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }))
        return
      }
      const token = randomBytes(16).toString("hex")
      tokens.set(token, granted)
      response.writeHead(200, { "content-type": "application/json" })
      response.end(JSON.stringify({ token }))
      return
    }
    const match = /^\/v2\/(.+?)\/(manifests|blobs|tags)\//.exec(path)
    const repository = match?.[1] ?? ""
    const needs = request.method === "GET" || request.method === "HEAD" ? "pull" : "pull,push"
    const bearer = authorization.startsWith("Bearer ") ? tokens.get(authorization.slice(7)) : undefined
    const scope = `repository:${repository}:${needs}`
    if (path !== "/v2/" && bearer !== scope && !(needs === "pull" && bearer === `repository:${repository}:pull,push`)) {
      response.writeHead(401, {
        "content-type": "application/json",
        "www-authenticate": `Bearer realm="${url}/token",service="test-registry",scope="${scope}"`,
      })
      response.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }))
      return
    }
    const body = await readBody(request)
    const fault = faults.find(
      (f) => f.times > 0 && (!f.method || f.method === request.method) && (!f.path || f.path.test(path)),
    )
    if (fault) {
      fault.times--
      if ("reset" in fault.fault) {
        request.socket.destroy()
        return
      }
      response.writeHead(fault.fault.status, {
        "content-type": "application/json",
        ...(fault.fault.retryAfter !== undefined ? { "retry-after": fault.fault.retryAfter } : {}),
      })
      response.end(
        JSON.stringify({ errors: [{ code: "UNAVAILABLE", message: "the registry is briefly unavailable" }] }),
      )
      return
    }
    const tagList = /^\/v2\/(.+?)\/tags\/list(?:\?|$)/.exec(path)
    if (tagList && options.tagPageSize && request.method === "GET") {
      // The distribution spec's pagination, which distribution 2.8 itself does not do: tags in
      // lexical order, at most n (and at most tagPageSize) per page, after `last`, with a Link
      // header naming the next page.
      const query = new URL(path, url).searchParams
      const upstream = await fetch(`${backendUrl}/v2/${tagList[1]}/tags/list`)
      if (upstream.status !== 200) {
        response.writeHead(upstream.status, { "content-type": "application/json" })
        response.end(Buffer.from(await upstream.arrayBuffer()))
        return
      }
      const all = (((await upstream.json()) as { tags?: string[] | null }).tags ?? []).sort()
      const n = Math.min(options.tagPageSize, Number(query.get("n") ?? options.tagPageSize))
      const last = query.get("last")
      const rest = last === null ? all : all.filter((t) => t > last)
      const page = rest.slice(0, n)
      const headers: Record<string, string> = { "content-type": "application/json" }
      if (rest.length > n)
        headers.link = `</v2/${tagList[1]}/tags/list?n=${n}&last=${encodeURIComponent(page.at(-1)!)}>; rel="next"`
      response.writeHead(200, headers)
      response.end(JSON.stringify({ name: tagList[1], tags: page }))
      return
    }
    const headers: Record<string, string> = {}
    for (const name of ["accept", "content-type"])
      if (request.headers[name]) headers[name] = String(request.headers[name])
    const upstream = await fetch(`${backendUrl}${path}`, {
      method: request.method,
      headers,
      body: body.length > 0 ? new Uint8Array(body) : undefined,
    })
    const out: Record<string, string> = {}
    upstream.headers.forEach((value, name) => (out[name] = value))
    delete out["content-encoding"]
    delete out["transfer-encoding"]
    response.writeHead(upstream.status, out)
    response.end(Buffer.from(await upstream.arrayBuffer()))
  }
  const server: Server = createServer((request, response) => {
    void handle(request, response).catch((error: unknown) => {
      response.writeHead(502)
      response.end(String(error))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address()
  const host = `127.0.0.1:${typeof address === "object" && address ? address.port : 0}`
  url = `http://${host}`
  return {
    url,
    host,
    log,
    addFault: (rule) => faults.push(rule),
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  }
}

/** The whole body of a request (the fronts in test/support pass it on to the registry). */
export function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => resolve(Buffer.concat(chunks)))
    request.on("error", reject)
  })
}
