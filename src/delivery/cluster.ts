/**
 * The containers that talk to the cluster: kubectl and helm pinned to the versions the tests use,
 * the kubeconfig mounted as a Secret (never in a command line, an environment variable or a
 * layer), a command's exit read without failing the query, and the namespace made sure of.
 */
import { randomUUID } from "node:crypto"
import { type Container, dag, ReturnType, type Secret } from "@dagger.io/dagger"

import { KUBECTL_IMAGE } from "../engine/images.js"
import { DIRECT, type ServiceNetwork, withCluster } from "../engine/network.js"

const KUBECONFIG = "/run/secrets/kubeconfig"

/**
 * A container that can reach the cluster: the kubeconfig mounted as a Secret (readable by the
 * image's user, only inside this container), and a run ID so the engine never serves a cached
 * kubectl or helm result instead of running it again. In a rehearsal, the cluster service is
 * bound in as well.
 */
export function clusterClient(image: string, kubeconfig: Secret, network: ServiceNetwork): Container {
  const container = dag
    .container()
    .from(image)
    .withMountedSecret(KUBECONFIG, kubeconfig, { mode: 0o444 })
    .withEnvVariable("KUBECONFIG", KUBECONFIG)
    .withEnvVariable("MEETINITY_RELEASE_RUN", randomUUID())
  return withCluster(container, network)
}

/** What one command printed, and how it ended. */
export interface Ran {
  readonly exitCode: number
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs `args` in `container` without failing the query on a non-zero exit, and reads how it
 * ended. The module's runtime bundles only the SDK's generated client and decorators (no
 * ExecError), so a failed command is read from its exit code, never caught as an exception.
 */
export async function exec(container: Container, args: string[]): Promise<Ran> {
  const ran = container.withExec(args, { expect: ReturnType.Any })
  const exitCode = await ran.exitCode()
  return { exitCode, stdout: await ran.stdout(), stderr: exitCode === 0 ? "" : await ran.stderr() }
}

/** Where a quiet command's stdout goes, inside its container. */
export const QUIET_STDOUT = "/tmp/meetinity-release.stdout"

/**
 * A command line whose stdout goes into a file instead of the call's log: `sh -c 'exec "$@" >FILE'
 * sh <args...>` (the arguments are passed as they are, never read by the shell). Dagger shows a
 * command's output in its log (the TUI, --progress=plain, Dagger Cloud) even with withExec's
 * redirectStdout, which copies it (tried on an engine: docs/engine-run.md); Helm's JSON of a
 * release holds every value it was given (`--set db.password=...`) and every rendered Secret.
 */
export function quietly(args: readonly string[]): string[] {
  return ["sh", "-c", `exec "$@" >${QUIET_STDOUT}`, "sh", ...args]
}

/**
 * `exec`, with the command's stdout kept out of every log: read from the file it went to (see
 * `quietly`). For Helm's commands that print values or manifests: upgrade --output json,
 * get values, get manifest, a dry run.
 */
export async function execQuietly(container: Container, args: string[]): Promise<Ran> {
  const ran = container.withExec(quietly(args), { expect: ReturnType.Any })
  const exitCode = await ran.exitCode()
  return {
    exitCode,
    stdout: await ran.file(QUIET_STDOUT).contents(),
    stderr: exitCode === 0 ? "" : await ran.stderr(),
  }
}

/**
 * Runs one kubectl command against the cluster, with `files` (path: contents, nothing secret)
 * written into the container, and reads how it ended without failing on its exit code: for a
 * rehearsal's setup and read-back, which decide themselves what a failure means.
 */
export async function kubectlRun(
  kubeconfig: Secret,
  args: string[],
  network: ServiceNetwork,
  files: Record<string, string> = {},
): Promise<Ran> {
  const container = Object.entries(files).reduce(
    (c, [path, contents]) => c.withNewFile(path, contents),
    clusterClient(KUBECTL_IMAGE, kubeconfig, network),
  )
  return exec(container, args)
}

/** Runs `args` and returns its stdout; a failure becomes an error a person can act on. */
export async function run(
  container: Container,
  args: string[],
  what: string,
  namespace: string,
  lookAt: string,
): Promise<string> {
  const ran = await exec(container, args)
  if (ran.exitCode !== 0) {
    const said = ran.stderr || ran.stdout
    throw new Error(describeFailure(what, namespace, ran.exitCode, said, lookAt))
  }
  return ran.stdout
}

/** What to do after `kubectl get namespace`, from its exit code and stderr. */
export type NamespaceCheck = "exists" | "create" | "unknown"

/**
 * Reads `kubectl get namespace <ns>`: found; not found (create it); or not allowed to look
 * (a namespace-scoped service account cannot read namespaces: go on, the apply will tell).
 */
export function namespaceCheck(exitCode: number, stderr: string): NamespaceCheck {
  if (exitCode === 0) return "exists"
  if (/\(NotFound\)|not found/i.test(stderr)) return "create"
  return "unknown"
}

/** A failed helm or kubectl run, in words: what ran, where, what it said, what to look at. */
export function describeFailure(
  what: string,
  namespace: string,
  exitCode: number | undefined,
  stderr: string,
  lookAt: string,
): string {
  const said = stderr.trim().split("\n").filter(Boolean).slice(-8).join("\n  ")
  return `${what} in namespace ${namespace} failed${exitCode === undefined ? "" : ` (exit code ${exitCode})`}${said ? `:\n  ${said}` : ""}\n${lookAt}`
}

/**
 * Makes sure the namespace exists before a Secret or a release goes into it. Creates it only
 * when kubectl says NotFound; a user who may not read namespaces (a deployer bound to its own
 * namespace) goes on, and what follows says whether the namespace is there. Helm's
 * --create-namespace is not used: Helm patches the namespace even when it exists, which such a
 * deployer may not do.
 */
export async function ensureNamespace(
  kubeconfig: Secret,
  namespace: string,
  network: ServiceNetwork = DIRECT,
): Promise<void> {
  const lookup = await exec(clusterClient(KUBECTL_IMAGE, kubeconfig, network), [
    "kubectl",
    "get",
    "namespace",
    namespace,
    "-o",
    "name",
  ])
  if (namespaceCheck(lookup.exitCode, lookup.stderr) !== "create") return
  await run(
    clusterClient(KUBECTL_IMAGE, kubeconfig, network),
    ["kubectl", "create", "namespace", namespace],
    `kubectl create namespace ${namespace}`,
    namespace,
    `The namespace does not exist and could not be created: create it, or let the kubeconfig's user create namespaces.`,
  )
}
