/**
 * Runs module code without an engine. The SDK builds GraphQL queries lazily and sends them
 * through the global connection's client (`request(query)`); this helper swaps that client for
 * one that records every query and answers it from the test. It reaches into SDK internals
 * (the global connection module) and is pinned to @dagger.io/dagger 0.21.9.
 */
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { pathToFileURL } from "node:url"

const require = createRequire(import.meta.url)
const sdkDist = dirname(require.resolve("@dagger.io/dagger"))

/** One field of a query chain: `withExec (args: ["helm"])` -> { field: "withExec", args: '(args: ["helm"])' }. */
export interface Call {
  field: string
  args: string
}

/** A query as the engine would receive it, split into its chain of fields. */
export interface Query {
  text: string
  chain: Call[]
  /** The last field: what the query asks for (`id`, `publish`, `stdout`, ...). */
  leaf: string
}

/** Splits `{ a (x: "{") { b { c } } }` into its chain of fields, respecting strings and arguments. */
export function parseQuery(text: string): Query {
  const segments: string[] = []
  let current = ""
  let inString = false
  let parens = 0
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!
    if (inString) {
      current += ch
      if (ch === "\\") current += text[++i] ?? ""
      else if (ch === '"') inString = false
      continue
    }
    if (ch === '"') inString = true
    if (ch === "(") parens++
    if (ch === ")") parens--
    if (parens === 0 && (ch === "{" || ch === "}")) {
      if (current.trim()) segments.push(current.trim())
      current = ""
      continue
    }
    current += ch
  }
  const chain = segments.map((segment) => {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)\s*([\s\S]*)$/.exec(segment)
    return { field: match?.[1] ?? segment, args: match?.[2]?.trim() ?? "" }
  })
  return { text, chain, leaf: chain.at(-1)?.field ?? "" }
}

export type Answer = (query: Query) => unknown

/**
 * An answer the engine gives as a GraphQL error (`{ errors: [{ message }] }`), as a real engine
 * refuses a query: the SDK raises it as a GraphQLRequestError with the engine's message.
 */
export class EngineError extends Error {}

export interface Recorder {
  readonly queries: Query[]
  /** Every query whose chain contains a field with this name. */
  calls(field: string): Call[]
  restore(): void
}

interface ConnectionModule {
  globalConnection: { setGQLClient(client: unknown): void; resetClient(): void }
}

let counter = 0

/**
 * Installs a recording client. `answer` gives the leaf value for a query; returning
 * `undefined` falls back to a fresh ID for `id` and `sync` leaves and fails the query otherwise.
 */
export async function recordDagger(answer: Answer): Promise<Recorder> {
  const connection = (await import(
    pathToFileURL(join(sdkDist, "common", "graphql", "connection.js")).href
  )) as ConnectionModule
  const queries: Query[] = []
  connection.globalConnection.setGQLClient({
    async request(document: unknown) {
      const text =
        typeof document === "string"
          ? document
          : String((document as { loc?: { source: { body: string } } }).loc?.source.body ?? document)
      const query = parseQuery(text.trim())
      queries.push(query)
      let value = answer(query)
      if (value instanceof Promise) value = await value
      // Loading an object from its ID and asking for the ID gives the same ID back: loadXFromID(id:),
      // or node(id:) { ... on X }, which is how the SDK loads what start/stop/sync return.
      const loader = query.chain[0]!.field
      const loads =
        query.chain.length === 2
          ? /^load\w+FromID$/.test(loader)
          : query.chain.length === 3 && loader === "node" && query.chain[1]!.field.startsWith("... on ")
      const loaded = loads ? /id: "([^"]*)"/.exec(query.chain[0]!.args)?.[1] : undefined
      if (value === undefined && query.leaf === "id" && loaded) value = loaded
      // `sync` evaluates an object and answers its ID, as `id` does.
      if (value === undefined && (query.leaf === "id" || query.leaf === "sync"))
        value = `${query.chain.at(-2)?.field ?? "object"}-id-${++counter}`
      if (value === undefined) throw new Error(`recorder: no answer for ${query.leaf} in ${text}`)
      if (value instanceof EngineError) {
        // The SDK's own graphql-request (the module it checks errors against).
        const { ClientError } = (await import("graphql-request")) as {
          ClientError: new (response: object, request: object) => Error
        }
        throw new ClientError({ errors: [{ message: value.message }], status: 200, headers: {} }, { query: text })
      }
      if (value instanceof Error) throw value
      return { [query.leaf]: value }
    },
  })
  return {
    queries,
    calls: (field) => queries.flatMap((q) => q.chain.filter((c) => c.field === field)),
    restore: () => connection.globalConnection.resetClient(),
  }
}

/**
 * The value of one argument of a call, for strings, numbers and arrays of them:
 * `argValue('(args: ["a","b]"], expand: true)', "args")` -> ["a", "b]"].
 */
export function argValue(args: string, name: string): unknown {
  const start = args.search(new RegExp(`(?:^|[(,\\s])${name}: `))
  if (start < 0) return undefined
  let i = args.indexOf(`${name}: `, start) + name.length + 2
  const from = i
  let depth = 0
  let inString = false
  for (; i < args.length; i++) {
    const ch = args[i]!
    if (inString) {
      if (ch === "\\") i++
      else if (ch === '"') inString = false
      continue
    }
    if (ch === '"') inString = true
    else if (ch === "[" || ch === "{") depth++
    else if (ch === "]" || ch === "}") depth--
    else if ((ch === "," || ch === ")") && depth === 0) break
    if (depth < 0) break
  }
  return JSON.parse(args.slice(from, i)) as unknown
}
