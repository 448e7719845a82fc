/**
 * Kubernetes delivery, the pure part: the pull-secret manifest, the Helm argument list, the
 * checks on every name and value, and the reading of Helm's report. No I/O here; the Dagger
 * containers that run kubectl and helm live in deploy.ts.
 */
import semver from "semver"
import { parseDocument } from "yaml"

import { check, InvalidArgumentError } from "./errors.js"
import { parseUsername, parseVersionTag } from "./naming.js"
import { parseDigest, parsePlatform, type Platform } from "./preflight.js"

/** The namespaces a release rolls through, in order. */
export const DEFAULT_NAMESPACES = ["meetinity-dev", "meetinity-staging", "meetinity-prod"]

/** Where a deploy puts its image in the chart's values unless told otherwise: one image for the whole chart. */
export const DEFAULT_IMAGE_VALUES = "global.image"

/** The chart value of the image pull secret, the same for every service of the chart. */
export const PULL_SECRET_KEY = "global.imagePullSecrets[0].name"

/** The chart values one deploy sets: its image at `<imageValues>.repository`, `.tag`, `.digest`, and the pull secret. */
export interface ValueKeys {
  readonly repository: string
  readonly tag: string
  readonly digest: string
  readonly pullSecret: string
}

export function valueKeys(imageValues: string): ValueKeys {
  return {
    repository: `${imageValues}.repository`,
    tag: `${imageValues}.tag`,
    digest: `${imageValues}.digest`,
    pullSecret: PULL_SECRET_KEY,
  }
}

/** The chart values helmDeploy sets with the default --image-values (what a chart with one image for all its services reads). */
export const VALUE_KEYS = valueKeys(DEFAULT_IMAGE_VALUES)

const VALUE_KEY = "[A-Za-z0-9_][A-Za-z0-9_-]*"

/**
 * Where in the chart's values this service's image goes: a dotted path of value keys such as
 * `global.image` or `api-gateway.image` (a subchart's values sit under its name). The deploy sets
 * `<path>.repository`, `.tag` and `.digest` there. Not under `global.imagePullSecrets`, which
 * the deploy sets itself.
 */
export function parseImageValues(value: string, argument = "imageValues"): string {
  check(
    value.length <= 200 && new RegExp(`^${VALUE_KEY}(?:\\.${VALUE_KEY})*$`).test(value),
    argument,
    value,
    "is not a chart values path: expected value keys (letters, digits, '_' and '-') joined by dots, at most 200 characters, where this service's image goes (e.g. global.image, api-gateway.image)",
  )
  check(
    value !== "global.imagePullSecrets" && !value.startsWith("global.imagePullSecrets."),
    argument,
    value,
    "is where helmDeploy puts the pull secrets (global.imagePullSecrets): expected the place of this service's image (e.g. api-gateway.image)",
  )
  return value
}

const DNS_LABEL = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/

/** A Kubernetes namespace: a DNS-1123 label (lower-case letters, digits, '-', at most 63). */
export function parseNamespace(value: string, argument = "namespace"): string {
  check(
    DNS_LABEL.test(value),
    argument,
    value,
    "is not a Kubernetes namespace: expected a DNS-1123 label, lower-case letters, digits and '-', starting and ending with a letter or digit, at most 63 characters (e.g. meetinity-dev)",
  )
  return value
}

/** An ordered list of distinct namespaces, at least one. */
export function parseNamespaces(values: readonly string[], argument = "namespaces"): string[] {
  check(
    values.length > 0,
    argument,
    values,
    "is empty: expected at least one namespace (e.g. meetinity-dev,meetinity-staging,meetinity-prod)",
  )
  const seen = new Set<string>()
  for (const value of values) {
    parseNamespace(value, argument)
    check(!seen.has(value), argument, value, "is listed twice: expected each namespace once, in rollout order")
    seen.add(value)
  }
  return [...values]
}

/** A Kubernetes object name (Secret): a DNS-1123 subdomain. */
export function parseObjectName(value: string, argument = "name"): string {
  check(
    DNS_SUBDOMAIN.test(value),
    argument,
    value,
    "is not a Kubernetes object name: expected a DNS-1123 subdomain, lower-case letters, digits, '-' and '.', at most 253 characters (e.g. ghcr-pull-secret)",
  )
  return value
}

/** A Helm release name: a DNS-1123 label of at most 53 characters (Helm's own limit). */
export function parseReleaseName(value: string, argument = "release"): string {
  check(
    DNS_LABEL.test(value) && value.length <= 53,
    argument,
    value,
    "is not a Helm release name: expected lower-case letters, digits and '-', starting and ending with a letter or digit, at most 53 characters (e.g. meetinity)",
  )
  return value
}

/** The registry server a pull secret is for: `ghcr.io`, `host:port`, or a URL. */
export function parseServer(value: string, argument = "server"): string {
  check(
    /^(?:https?:\/\/)?[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:\/\S*)?$/.test(value),
    argument,
    value,
    "is not a registry server: expected a host with an optional port (e.g. ghcr.io)",
  )
  return value
}

/** A Go duration as Helm's --timeout takes it: `10m`, `90s`, `1h30m`. */
export function parseTimeout(value: string, argument = "timeout"): string {
  check(
    /^(?:[0-9]+(?:\.[0-9]+)?(?:ns|us|µs|ms|s|m|h))+$/.test(value) && !/^0+(?:\.0+)?[a-zµ]+$/.test(value),
    argument,
    value,
    "is not a duration: expected a positive Go duration such as 10m, 90s or 1h30m",
  )
  return value
}

/** Where an image lives, and how to speak to its registry when that was said. */
export interface ImageLocation {
  /** `ghcr.io/meetinity/api-gateway`: what pods pull, never with a scheme. */
  readonly address: string
  /** Given as `http://…` or `https://…`; undefined: https, or http for localhost and 127.0.0.1. */
  readonly scheme?: "http" | "https"
}

/**
 * An image repository without tag or digest: `ghcr.io/meetinity/api-gateway`, optionally with the
 * scheme to reach its registry (`http://10.0.0.5:5000/meetinity/api-gateway` for a plain-http
 * registry that is not on localhost). Lower-cased, as `publish` lower-cases the owner (GitHub
 * owners often have capitals; registries refuse them).
 */
export function parseImageLocation(value: string, argument = "image"): ImageLocation {
  const scheme = /^(https?):\/\//i.exec(value)?.[1]?.toLowerCase() as "http" | "https" | undefined
  const address = parseImageRepositoryRef(scheme ? value.slice(scheme.length + 3) : value, argument, value)
  return scheme ? { address, scheme } : { address }
}

/** The address part of parseImageLocation (no scheme allowed). */
export function parseImageRepositoryRef(value: string, argument = "image", shown = value): string {
  const component = "[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*"
  const lower = value.toLowerCase()
  const ok = lower.length <= 255 && new RegExp(`^[a-z0-9.-]+(?::[0-9]{1,5})?(?:/${component})+$`).test(lower)
  const hint =
    value.includes("@") || /:[^/]*$/.test(value.replace(/^[^/]*\//, ""))
      ? "; leave the tag off, the version is set from --version"
      : value.length > 255
        ? `; it is ${value.length} characters long`
        : ""
  check(
    ok,
    argument,
    shown,
    `is not an image repository: expected registry/owner/name, without tag or digest, at most 255 characters, optionally after http:// or https:// (e.g. ghcr.io/meetinity/api-gateway)${hint}`,
  )
  // As Docker reads a reference: the first part is a registry host only when it has a '.' or a
  // ':' or is localhost; anything else would be read as a host it is not (https://meetinity/).
  const host = lower.slice(0, lower.indexOf("/"))
  check(
    host.includes(".") || host.includes(":") || host === "localhost",
    argument,
    shown,
    `names no registry host: ${JSON.stringify(host)} would be read as one. Expected registry/owner/name (e.g. ghcr.io/${lower})`,
  )
  return lower
}

/**
 * Extra chart values, each `key=value` as `helm --set` takes them. Keys that helmDeploy sets
 * itself are refused (this service's `<imageValues>.repository`, `.tag`, `.digest`, the block
 * itself or any key above it, and `global.imagePullSecrets`): the version must be the one that
 * rolls through every namespace.
 */
export function parseSetValues(
  values: readonly string[],
  imageValues = DEFAULT_IMAGE_VALUES,
  argument = "set",
): string[] {
  const keys = valueKeys(imageValues)
  const parts = imageValues.split(".")
  const reserved = new Set<string>([
    keys.repository,
    keys.tag,
    keys.digest,
    ...parts.map((_, i) => parts.slice(0, i + 1).join(".")),
  ])
  for (const value of values) {
    const match = /^([A-Za-z0-9_.\-[\]\\/]+)=(.*)$/s.exec(value)
    check(
      match !== null,
      argument,
      value,
      "is not a chart value: expected key=value (e.g. api-gateway.replicaCount=3). dagger call splits list flags on commas: for a value with a comma, quote the element and escape the comma for Helm ('\"key=a\\,b\"'), or put it in a values file (--values)",
    )
    const key = match![1]!
    if (reserved.has(key) || key.startsWith("global.imagePullSecrets")) {
      throw new InvalidArgumentError(
        argument,
        value,
        `sets ${key}, which helmDeploy sets itself from --image, --version, --digest and --pull-secret-name (this service's image goes to ${imageValues}, --image-values): use those instead`,
      )
    }
  }
  return [...values]
}

/**
 * Values files, paths inside the chart directory, passed to Helm with --values in order. A file
 * is the way to pass values that contain commas (dagger call splits list flags on commas).
 */
export function parseValuesFiles(values: readonly string[], argument = "values"): string[] {
  for (const value of values) {
    check(
      value.trim() !== "" && !value.startsWith("/") && !value.split("/").includes(".."),
      argument,
      value,
      "is not a values file: expected a path inside the chart directory, without a leading / or .. (e.g. values-prod.yaml, env/prod.yaml)",
    )
  }
  return [...values]
}

/** The per-namespace values file used automatically when the chart has it: `values-<namespace>.yaml`. */
export const namespaceValuesFile = (namespace: string) => `values-${namespace}.yaml`

/**
 * The values files of one deploy, in the order Helm reads them (later ones win):
 * `values-<namespace>.yaml` when the chart has it and it is not listed explicitly, then the
 * explicit ones in the order given.
 */
export function valuesFilesFor(namespace: string, explicit: readonly string[], namespaceFileExists: boolean): string[] {
  const conventional = namespaceValuesFile(namespace)
  return [...(namespaceFileExists && !explicit.includes(conventional) ? [conventional] : []), ...explicit]
}

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

/** The Secret `kubectl create secret docker-registry` makes, as an object to apply. */
export interface PullSecretManifest {
  apiVersion: "v1"
  kind: "Secret"
  metadata: { name: string; namespace: string; labels: Record<string, string> }
  type: "kubernetes.io/dockerconfigjson"
  data: { ".dockerconfigjson": string }
}

/**
 * The pull secret for `server`: `.dockerconfigjson` holds `auths.<server>` with `username`,
 * `password` and `auth` (base64 of `username:password`), byte for byte as kubectl writes it.
 */
export function pullSecretManifest(input: {
  name: string
  namespace: string
  server: string
  username: string
  token: string
}): PullSecretManifest {
  const dockerConfig = {
    auths: {
      [input.server]: {
        username: input.username,
        password: input.token,
        auth: Buffer.from(`${input.username}:${input.token}`).toString("base64"),
      },
    },
  }
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: input.name,
      namespace: input.namespace,
      labels: { "app.kubernetes.io/managed-by": "meetinity-release" },
    },
    type: "kubernetes.io/dockerconfigjson",
    data: { ".dockerconfigjson": Buffer.from(JSON.stringify(dockerConfig)).toString("base64") },
  }
}

/** Checked arguments of a pull-secret refresh (everything but the secrets themselves). */
export interface PullSecretPlan {
  readonly namespace: string
  readonly name: string
  readonly server: string
  readonly username: string
}

export function planPullSecret(
  args: { namespace: string; name: string; server: string; username: string },
  names: { username?: string } = {},
): PullSecretPlan {
  return {
    namespace: parseNamespace(args.namespace),
    name: parseObjectName(args.name),
    server: parseServer(args.server),
    username: parseUsername(args.username, names.username ?? "username"),
  }
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

/** The kubectl command that applies the manifest file: server-side, so no copy of the data lands in an annotation. */
export function kubectlApplyArgs(manifestPath: string): string[] {
  return [
    "kubectl",
    "apply",
    "--server-side",
    "--force-conflicts",
    "--field-manager=meetinity-release",
    "-f",
    manifestPath,
  ]
}

/** Checked arguments of a Helm deploy. */
export interface HelmPlan {
  readonly release: string
  readonly namespace: string
  /** What pods pull, without a scheme. */
  readonly image: string
  /** How the preflight reaches the registry, when --image said so. */
  readonly imageScheme?: "http" | "https"
  readonly version: string
  readonly pullSecretName: string
  readonly timeout: string
  readonly historyMax: number
  readonly set: string[]
  /** Values files inside the chart, as given (the per-namespace one is added when the chart has it). */
  readonly values: string[]
  /** The digest the version tag must name; undefined: whatever it names now. */
  readonly digest?: string
  /** The platform the cluster's nodes run; the image must have a manifest for it. */
  readonly platform: Platform
  /** Deploy even when the namespace runs a newer version (a deliberate rollback). */
  readonly allowDowngrade: boolean
  /** Where this service's image goes in the chart's values (`global.image`, `api-gateway.image`). */
  readonly imageValues: string
}

export interface HelmArgs {
  release: string
  namespace: string
  image: string
  version: string
  pullSecretName: string
  timeout: string
  set: string[]
  historyMax?: number
  values?: string[]
  digest?: string
  platform?: string
  allowDowngrade?: boolean
  imageValues?: string
}

export function planHelm(args: HelmArgs, names: { release?: string } = {}): HelmPlan {
  const historyMax = args.historyMax ?? 10
  check(
    Number.isInteger(historyMax) && historyMax >= 0,
    "historyMax",
    historyMax,
    "is not a revision count: expected a whole number, 0 for no limit",
  )
  const digest = parseDigest(args.digest ?? "")
  const image = parseImageLocation(args.image)
  const imageValues = parseImageValues(args.imageValues ?? DEFAULT_IMAGE_VALUES)
  return {
    release: parseReleaseName(args.release, names.release ?? "release"),
    namespace: parseNamespace(args.namespace),
    image: image.address,
    ...(image.scheme ? { imageScheme: image.scheme } : {}),
    version: parseVersionTag(args.version).tag,
    pullSecretName: parseObjectName(args.pullSecretName, "pullSecretName"),
    timeout: parseTimeout(args.timeout),
    historyMax,
    set: parseSetValues(args.set, imageValues),
    values: parseValuesFiles(args.values ?? []),
    ...(digest ? { digest } : {}),
    platform: parsePlatform(args.platform ?? "linux/amd64"),
    allowDowngrade: args.allowDowngrade ?? false,
    imageValues,
  }
}

/** What the preflight settled for one deploy: the digest to pin and the values files to pass. */
export interface DeployInputs {
  readonly digest: string
  readonly valuesFiles: readonly string[]
}

/**
 * `helm upgrade --install` for a plan, into a namespace that exists (see ensureNamespace: Helm's
 * --create-namespace would patch an existing namespace, which a deployer bound to it may not
 * do): waits for the rollout (watcher), rolls back and cleans up on failure, prints the release
 * as JSON. It starts from the chart's defaults and the values of the release's last revision
 * (`--reset-then-reuse-values`), so what other services' deploys set in the same release stays.
 * The values files come next, then the user's values; this service's image, version and digest
 * and the pull-secret value last, so they win.
 */
export function helmUpgradeArgs(plan: HelmPlan, chartPath: string, inputs: DeployInputs): string[] {
  const keys = valueKeys(plan.imageValues)
  return [
    "helm",
    "upgrade",
    "--install",
    plan.release,
    chartPath,
    "--namespace",
    plan.namespace,
    "--wait=watcher",
    "--rollback-on-failure",
    "--cleanup-on-fail",
    "--timeout",
    plan.timeout,
    "--history-max",
    String(plan.historyMax),
    "--output",
    "json",
    "--reset-then-reuse-values",
    ...inputs.valuesFiles.flatMap((file) => ["--values", `${chartPath}/${file}`]),
    ...plan.set.flatMap((value) => ["--set", value]),
    "--set",
    `${keys.repository}=${plan.image}`,
    "--set",
    `${keys.tag}=${plan.version}`,
    "--set",
    `${keys.digest}=${inputs.digest}`,
    "--set",
    `${keys.pullSecret}=${plan.pullSecretName}`,
  ]
}

/**
 * `helm get values --all` of the release: every value it runs with, the chart's own defaults
 * included, so a version named only in the chart's values (a release installed by hand, without
 * the values helmDeploy sets) is seen too.
 */
export function helmGetValuesArgs(plan: HelmPlan): string[] {
  return ["helm", "get", "values", plan.release, "--namespace", plan.namespace, "--all", "--output", "json"]
}

/** What the namespace runs now, from `helm get values`: nothing yet, a tag (or a release that does not say), or Helm's error. */
export type DeployedVersion =
  | { readonly state: "none" }
  | { readonly state: "deployed"; readonly tag?: string }
  | { readonly state: "error"; readonly message: string }

/**
 * Reads `helm get values <release> --all -o json` (the computed values: a release installed by
 * hand may carry its version only in the chart's own values): exit 0 with the values (this
 * service's tag at `<imageValues>.tag`, e.g. `api-gateway.image.tag`; empty or absent: the
 * release runs no version of this service yet), or "release: not found" for a first install.
 * Anything else is an error: the upgrade could not have worked either.
 */
export function readDeployedVersion(
  exitCode: number,
  stdout: string,
  stderr: string,
  imageValues = DEFAULT_IMAGE_VALUES,
): DeployedVersion {
  if (exitCode !== 0)
    return /release: not found/.test(stderr)
      ? { state: "none" }
      : { state: "error", message: stderr.trim() || stdout.trim() }
  try {
    const values = JSON.parse(stdout.trim() || "null") as unknown
    const tag = valueKeys(imageValues)
      .tag.split(".")
      .reduce<unknown>(
        (node, key) =>
          node !== null && typeof node === "object" && !Array.isArray(node)
            ? (node as Record<string, unknown>)[key]
            : undefined,
        values,
      )
    return typeof tag === "string" && tag !== "" ? { state: "deployed", tag } : { state: "deployed" }
  } catch {
    return { state: "error", message: `helm get values printed no JSON: ${JSON.stringify(stdout.slice(0, 200))}` }
  }
}

/**
 * Never an older version after a newer one: refuses (with what to do) when the namespace runs
 * a semantically newer version tag than `plan.version`, unless `allowDowngrade`. A release
 * that queued behind a newer one is stopped here instead of rolling production backwards.
 */
export function checkNotOlder(plan: HelmPlan, deployed: DeployedVersion): string | undefined {
  if (deployed.state !== "deployed" || !deployed.tag || plan.allowDowngrade) return undefined
  const running = semver.valid(deployed.tag.replace(/^v/, ""))
  const wanted = semver.valid(plan.version.replace(/^v/, ""))
  if (!running || !wanted || !semver.gt(running, wanted)) return undefined
  return (
    `release ${plan.release} in namespace ${plan.namespace} runs ${deployed.tag}, newer than ${plan.version}: refusing to deploy an older version ` +
    `(a release that queued behind a newer one?); the version deployed was read at ${valueKeys(plan.imageValues).tag}. Nothing was changed. To roll back on purpose, pass --allow-downgrade.`
  )
}

/** What Helm reported about a release, from `--output json`. */
export interface HelmReport {
  readonly release: string
  readonly namespace: string
  readonly revision: number
  readonly status: string
  readonly chart: string
  readonly manifest: string
}

export function parseHelmReport(stdout: string): HelmReport {
  const start = stdout.indexOf("{")
  let parsed: {
    name?: string
    namespace?: string
    version?: number
    info?: { status?: string }
    chart?: { metadata?: { name?: string; version?: string } }
    manifest?: string
  }
  try {
    parsed = JSON.parse(stdout.slice(start)) as typeof parsed
  } catch {
    throw new Error(`helm printed no release JSON; its output began: ${JSON.stringify(stdout.slice(0, 200))}`)
  }
  return {
    release: parsed.name ?? "",
    namespace: parsed.namespace ?? "",
    revision: parsed.version ?? 0,
    status: parsed.info?.status ?? "unknown",
    chart: `${parsed.chart?.metadata?.name ?? "?"}-${parsed.chart?.metadata?.version ?? "?"}`,
    manifest: parsed.manifest ?? "",
  }
}

/**
 * Did the chart use the image it was given? Helm's manifest must name this digest, or
 * `<image>:<version>`; otherwise the chart does not read `<imageValues>` (a typo in
 * --image-values, or a chart that reads another place) and the service was not deployed, even
 * though Helm succeeded. Returns the problem in words, or undefined.
 */
export function unusedImageProblem(report: HelmReport, plan: HelmPlan, digest: string): string | undefined {
  if (report.manifest.includes(digest) || report.manifest.includes(`${plan.image}:${plan.version}`)) return undefined
  return (
    `Helm upgraded release ${report.release} in ${report.namespace} to revision ${report.revision} (${report.status}), but nothing it rendered uses ${plan.image}:${plan.version}@${digest}: ` +
    `the chart does not read ${plan.imageValues}.repository, .tag and .digest, so this service was not deployed. Check --image-values against the chart's values (e.g. api-gateway.image for the api-gateway subchart), then deploy again.`
  )
}

/** One line a person reads: `release meetinity in meetinity-dev: revision 3, deployed (chart meetinity-0.2.0, image ...:v1.4.2@sha256:... at api-gateway.image)`. */
export function formatHelmReport(report: HelmReport, plan: HelmPlan, digest: string): string {
  return `release ${report.release} in ${report.namespace}: revision ${report.revision}, ${report.status} (chart ${report.chart}, image ${plan.image}:${plan.version}@${digest} at ${plan.imageValues})`
}

/** Helm's refusal to touch a release an earlier run left pending-install, pending-upgrade or pending-rollback. */
export const isReleaseLocked = (said: string) =>
  /another operation \(install\/upgrade\/rollback\) is in progress/.test(said)

/** `helm history` of the release, as JSON: read after Helm refused a locked release, to say which revision to go back to. */
export function helmHistoryArgs(plan: HelmPlan): string[] {
  return ["helm", "history", plan.release, "--namespace", plan.namespace, "--max", "20", "--output", "json"]
}

/** One revision of `helm history -o json`. */
export interface HelmRevision {
  readonly revision: number
  readonly status: string
}

/** Reads `helm history -o json`; undefined when it printed something else. */
export function parseHelmHistory(stdout: string): HelmRevision[] | undefined {
  try {
    const parsed = JSON.parse(stdout) as unknown
    if (!Array.isArray(parsed)) return undefined
    return parsed
      .filter((r: unknown): r is HelmRevision => {
        const entry = r as Partial<HelmRevision> | null
        return typeof entry?.revision === "number" && typeof entry?.status === "string"
      })
      .map((r) => ({ revision: r.revision, status: r.status }))
      .sort((a, b) => a.revision - b.revision)
  } catch {
    return undefined
  }
}

/**
 * What to look at after `helm upgrade --install` failed, from what Helm said: a rollout that
 * Helm rolled back, a release locked by an earlier run that was cut off, or anything else. For
 * a locked release, `history` (from helmHistoryArgs) names the pending revision and the one to
 * roll back to. The module never unlocks a release itself: a pending revision may belong to a
 * deploy that is still running.
 */
export function helmUpgradeAdvice(plan: HelmPlan, said: string, history?: readonly HelmRevision[]): string {
  const where = `-n ${plan.namespace}`
  if (isReleaseLocked(said)) {
    const pending = [...(history ?? [])].reverse().find((r) => r.status.startsWith("pending-"))
    const wait = "The module does not unlock it itself: it cannot tell a run that was cut off from one still running."
    if (pending) {
      const good = [...history!]
        .reverse()
        .find((r) => r.revision < pending.revision && (r.status === "deployed" || r.status === "superseded"))
      return good
        ? `An earlier Helm run was cut off and left the release ${pending.status} at revision ${pending.revision}; the last deployed revision is ${good.revision}. ${wait} If no other deploy is running: helm rollback ${plan.release} ${good.revision} ${where}, then deploy again.`
        : `An earlier Helm run was cut off and left the release ${pending.status} at revision ${pending.revision}; it was never deployed. ${wait} If no other deploy is running: helm uninstall ${plan.release} ${where}, then deploy again.`
    }
    return `An earlier Helm run was cut off and left the release pending. ${wait} helm history ${plan.release} ${where} shows it; helm rollback ${plan.release} <last deployed revision> ${where} (or helm uninstall for a first install that never finished) frees it, then deploy again.`
  }
  const rolledBack = /rolled back|rollback-on-failure/i.test(said)
    ? "Helm rolled the release back to its last good revision. "
    : ""
  return `${rolledBack}Look at: helm history ${plan.release} ${where}; kubectl get events ${where} --sort-by=.lastTimestamp; kubectl describe pods ${where}.`
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
