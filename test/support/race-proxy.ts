/**
 * A plain-http front for a real registry that lets a test act as a second run at an exact
 * moment: after the registry has stored a manifest PUT to a given tag and before the client
 * hears the answer. Everything else is passed through unchanged.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"

import { readBody } from "./token-registry.js"

export interface RaceProxy {
  readonly host: string
  readonly url: string
  stop(): Promise<void>
}

/** `onPut(path)` runs after each manifest PUT the registry accepted, before its answer is sent on. */
export async function startRaceProxy(backendUrl: string, onPut: (path: string) => Promise<void>): Promise<RaceProxy> {
  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const path = request.url ?? "/"
    const body = await readBody(request)
    const headers: Record<string, string> = {}
    for (const name of ["accept", "content-type"])
      if (request.headers[name]) headers[name] = String(request.headers[name])
    const upstream = await fetch(`${backendUrl}${path}`, {
      method: request.method,
      headers,
      body: body.length > 0 ? new Uint8Array(body) : undefined,
    })
    const answer = Buffer.from(await upstream.arrayBuffer())
    if (request.method === "PUT" && /\/manifests\//.test(path) && upstream.ok) await onPut(path)
    const out: Record<string, string> = {}
    upstream.headers.forEach((value, name) => (out[name] = value))
    delete out["content-encoding"]
    delete out["transfer-encoding"]
    response.writeHead(upstream.status, out)
    response.end(answer)
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
  return { host, url: `http://${host}`, stop: () => new Promise((resolve) => server.close(() => resolve())) }
}
