/** skopeo, a real OCI client, as an independent witness of what a registry holds. */
import { execFileSync } from "node:child_process"
import { createHash } from "node:crypto"

/** The digest `host/repository:reference` resolves to according to skopeo, or undefined when missing. */
export function skopeoDigest(host: string, repository: string, reference: string): string | undefined {
  const separator = reference.startsWith("sha256:") ? "@" : ":"
  try {
    const raw = execFileSync(
      "skopeo",
      ["inspect", "--raw", "--tls-verify=false", `docker://${host}/${repository}${separator}${reference}`],
      { stdio: ["ignore", "pipe", "pipe"] },
    )
    return `sha256:${createHash("sha256").update(raw).digest("hex")}`
  } catch (error) {
    const stderr = String((error as { stderr?: Buffer }).stderr ?? "")
    if (/manifest unknown|not found|name unknown/i.test(stderr)) return undefined
    throw error
  }
}

export function skopeoTags(host: string, repository: string): string[] {
  const out = execFileSync("skopeo", ["list-tags", "--tls-verify=false", `docker://${host}/${repository}`], {
    encoding: "utf8",
  })
  return ((JSON.parse(out) as { Tags: string[] | null }).Tags ?? []).sort()
}
