/**
 * The kubeconfig, checked before any container runs: what kubectl and helm would make of it.
 * Its text never leaves this file.
 */
import { type Secret } from "@dagger.io/dagger"
import { parseDocument } from "yaml"

/**
 * What kubectl and helm would make of the kubeconfig, checked before any container runs: an
 * empty one (in a workflow: the environment's KUBECONFIG secret is missing) would send them to
 * localhost:8080; one that is not YAML they could not read; an exec credential plugin or an auth
 * provider needs a program the kubectl and helm images do not have. The kubeconfig is parsed as
 * YAML (JSON, flow and block style alike), so the plugin is found whatever the style. Returns
 * the problem in words, or undefined. The text never leaves this function: a parse error is
 * reported by its code and position only (the parser's own message quotes the line).
 */
export function kubeconfigProblem(text: string): string | undefined {
  if (text.trim() === "") {
    return "kubeconfig is empty: kubectl and helm would fall back to localhost:8080. In a workflow, the GitHub environment of this namespace has no KUBECONFIG secret (or the job does not run in that environment)"
  }
  if (isBase64Kubeconfig(text)) {
    return "kubeconfig is base64-encoded: kubectl and helm read the kubeconfig itself. Store the decoded file as the secret (kubectl config view --flatten --minify), not its base64"
  }
  const notYaml = (where: string) =>
    `kubeconfig is not valid YAML (${where}): kubectl and helm could not read it. Check the secret's content (a kubeconfig file, as kubectl config view --flatten --minify prints it)`
  const document = parseDocument(text, { uniqueKeys: false, prettyErrors: true })
  const [error] = document.errors
  if (error) {
    const at = error.linePos?.[0]
    return notYaml(`${error.code}${at ? ` at line ${at.line}, column ${at.col}` : ""}`)
  }
  let config: unknown
  try {
    config = document.toJS({ maxAliasCount: 100 })
  } catch {
    return notYaml("an alias that cannot be resolved")
  }
  if (!isMap(config) || !(Array.isArray(config.clusters) || Array.isArray(config.users))) {
    return `kubeconfig is not a kubeconfig: expected a mapping with clusters, contexts and users (a kubeconfig file, as kubectl config view --flatten --minify prints it), found ${describeShape(config)}`
  }
  const named = (list: unknown, key: string, name: unknown): Record<string, unknown> | undefined => {
    for (const entry of Array.isArray(list) ? (list as unknown[]) : []) {
      if (isMap(entry) && entry.name === name && isMap(entry[key])) return entry[key]
    }
    return undefined
  }
  // What kubectl and helm will use: the current context's cluster and user. Without a current
  // context, every user and cluster is checked.
  const current = config["current-context"]
  const context = current === undefined || current === "" ? undefined : named(config.contexts, "context", current)
  if (current !== undefined && current !== "" && !context) {
    return `kubeconfig's current-context ${JSON.stringify(current)} is not among its contexts: kubectl and helm would not know which cluster to use`
  }
  const list = (value: unknown) => (Array.isArray(value) ? (value as unknown[]) : [])
  const clusters = context
    ? [named(config.clusters, "cluster", context.cluster)]
    : list(config.clusters).map((e) => (isMap(e) ? e.cluster : undefined))
  const users = context
    ? [{ name: context.user, user: named(config.users, "user", context.user) }]
    : list(config.users).map((e) => (isMap(e) ? { name: e.name, user: e.user } : { name: undefined, user: undefined }))
  for (const cluster of clusters) {
    if (!isMap(cluster)) continue
    if (typeof cluster.server === "string" && /^[a-z][a-z0-9+.-]*:\/\/[^/?#\s]*@/i.test(cluster.server)) {
      return "kubeconfig's cluster server carries user info (user:password@ before the host): a credential in an address ends up in logs; use a token or a client certificate in the user entry instead"
    }
    if (typeof cluster["certificate-authority"] === "string") return fileProblem("certificate-authority")
  }
  for (const { name, user } of users) {
    if (!isMap(user)) continue
    const who = typeof name === "string" ? ` for user ${JSON.stringify(name)}` : ""
    if (user.exec != null) {
      const command =
        isMap(user.exec) && typeof user.exec.command === "string" ? user.exec.command.split("/").pop() : undefined
      return `kubeconfig gets its credentials from an exec plugin${command ? ` (${command})` : ""}${who}, which the kubectl and helm containers do not have: use a self-contained kubeconfig with a service-account token or a client certificate`
    }
    if (user["auth-provider"] != null) {
      return `kubeconfig uses an auth-provider plugin${who}, which the kubectl and helm containers do not have: use a self-contained kubeconfig with a service-account token or a client certificate`
    }
    for (const field of ["client-certificate", "client-key", "tokenFile"])
      if (typeof user[field] === "string") return fileProblem(field)
  }
  return undefined
}

/** A kubeconfig that names a file: the kubectl and helm containers have only the kubeconfig itself. */
const fileProblem = (field: string) =>
  `kubeconfig's ${field} names a file, which the kubectl and helm containers do not have: inline it (${field === "tokenFile" ? "token" : `${field}-data`}; kubectl config view --flatten --minify does it)`

/** A kubeconfig given as its base64 (a common slip when storing it as a secret): one run of base64 that decodes to one. */
function isBase64Kubeconfig(text: string): boolean {
  const flat = text.replace(/\s+/g, "")
  if (!/^[A-Za-z0-9+/]{40,}={0,2}$/.test(flat)) return false
  const decoded = Buffer.from(flat, "base64").toString("utf8")
  return /\b(apiVersion|clusters|current-context)\b/.test(decoded)
}

/** What a parsed kubeconfig is instead, in a word (never its content). */
function describeShape(value: unknown): string {
  if (value === null || value === undefined) return "nothing (null)"
  if (Array.isArray(value)) return `a list of ${value.length} items`
  if (isMap(value))
    return `a mapping without ${["clusters", "users"].filter((k) => !Array.isArray(value[k])).join(" and ")}`
  return `a single ${typeof value}`
}

const isMap = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === "object" && !Array.isArray(value)

/** Refuses a kubeconfig kubectl and helm could not use (empty, exec plugin), before any container runs. */
export async function checkKubeconfig(kubeconfig: Secret): Promise<void> {
  const problem = kubeconfigProblem(await kubeconfig.plaintext())
  if (problem) throw new Error(`${problem}. Nothing was changed.`)
}
