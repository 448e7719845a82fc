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
  const users = isMap(config) && Array.isArray(config.users) ? config.users : []
  for (const entry of users) {
    const user = isMap(entry) && isMap(entry.user) ? entry.user : undefined
    const name = isMap(entry) && typeof entry.name === "string" ? ` for user ${JSON.stringify(entry.name)}` : ""
    if (user && user.exec != null) {
      const command =
        isMap(user.exec) && typeof user.exec.command === "string" ? user.exec.command.split("/").pop() : undefined
      return `kubeconfig gets its credentials from an exec plugin${command ? ` (${command})` : ""}${name}, which the kubectl and helm containers do not have: use a self-contained kubeconfig with a service-account token or a client certificate`
    }
    if (user && user["auth-provider"] != null) {
      return `kubeconfig uses an auth-provider plugin${name}, which the kubectl and helm containers do not have: use a self-contained kubeconfig with a service-account token or a client certificate`
    }
  }
  return undefined
}

const isMap = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === "object" && !Array.isArray(value)

/** Refuses a kubeconfig kubectl and helm could not use (empty, exec plugin), before any container runs. */
export async function checkKubeconfig(kubeconfig: Secret): Promise<void> {
  const problem = kubeconfigProblem(await kubeconfig.plaintext())
  if (problem) throw new Error(`${problem}. Nothing was changed.`)
}
