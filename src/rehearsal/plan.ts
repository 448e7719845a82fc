/**
 * A rehearsal, decided: the whole release against a registry and a Kubernetes control plane that
 * run inside the engine for the length of one call. Everything here is pure: the release plan
 * (built by the same planRelease as a real release, so the same checks hold), the pinned service
 * images, the kubeconfig that names the cluster service and the fake node to register.
 */
import { check } from "../common/errors.js"
import { parsePlatform, type Platform } from "../oci/platform.js"
import { planRelease, type ReleasePlan } from "../release/plan.js"

/** The OCI registry that runs as a service: CNCF distribution 3.0.0 (Docker Hub's official image, pinned by tag). */
export const REGISTRY_IMAGE = "docker.io/library/registry:3.0.0"
export const REGISTRY_PORT = 5000
/**
 * The address the rehearsal's image references use. The engine speaks plain http to localhost
 * registries, and Container.publish's registryService routes `localhost` to the registry
 * service, so no engine configuration is needed; pods would pull the same address (they never
 * do: the node is fake).
 */
export const REHEARSAL_REGISTRY = `localhost:${REGISTRY_PORT}`

/**
 * kwok's all-in-one control plane (etcd, kube-apiserver, controller-manager, scheduler and the
 * kwok controller, which plays every node): kwok v0.8.0 with Kubernetes v1.35.5, the 1.35 build
 * of the six Kubernetes releases kwok v0.8.0 publishes (`<kwok>-k8s.<kubernetes>`). It serves the
 * API over plain http, without authentication, on port 8080 (a `kubectl proxy` in the image).
 */
export const CLUSTER_IMAGE = "registry.k8s.io/kwok/cluster:v0.8.0-k8s.v1.35.5"
export const CLUSTER_PORT = 8080
/** The host name the cluster service is bound under in every kubectl and helm container. */
export const CLUSTER_ALIAS = "kwok"
/** The fake node the kwok controller plays: pods scheduled there become Running and Ready without running. */
export const NODE_NAME = "rehearsal-node"

/** Who owns the rehearsal's image, and the version and user names it publishes and deploys with. */
export const REHEARSAL_OWNER = "rehearsal"
export const REHEARSAL_REF = "release/v0.0.0-rehearsal"
export const REHEARSAL_USER = "rehearsal"

export interface RehearsalArgs {
  image: string
  /** Where this service's image goes in the chart's values (release's imageValues). */
  imageValues: string
  namespaces: string[]
  values: string[]
  set: string[]
  platforms: string[]
  helmRelease: string
  timeout: string
  dockerfile?: string
  buildArgs?: string[]
  pullSecretName?: string
  /** A commit-like SHA for the build tag: the rehearsal derives it from the source's content. */
  sha: string
}

export interface RehearsalPlan {
  readonly release: ReleasePlan
  /** The platform of the fake node (and the platform the preflight checks). */
  readonly nodePlatform: Platform
}

/**
 * Checks every argument of a rehearsal through planRelease (the same checks as `release`) with
 * the rehearsal's registry, owner, version and user. The node runs linux/amd64 when it is among
 * the platforms built, else the first one.
 */
export function planRehearsal(args: RehearsalArgs): RehearsalPlan {
  const [first] = args.platforms
  check(first !== undefined, "platforms", args.platforms, "is empty: expected at least one platform (e.g. linux/amd64)")
  const platform = args.platforms.includes("linux/amd64") ? "linux/amd64" : first!
  const release = planRelease({
    ref: REHEARSAL_REF,
    sha: args.sha,
    owner: REHEARSAL_OWNER,
    username: REHEARSAL_USER,
    image: args.image,
    registry: `http://${REHEARSAL_REGISTRY}`,
    dockerfile: args.dockerfile ?? "Dockerfile",
    platforms: args.platforms,
    buildArgs: args.buildArgs ?? [],
    readerUsername: REHEARSAL_USER,
    namespaces: args.namespaces,
    helmRelease: args.helmRelease,
    timeout: args.timeout,
    set: args.set,
    values: args.values,
    platform,
    imageValues: args.imageValues,
    pullSecretName: args.pullSecretName,
  })
  return { release, nodePlatform: parsePlatform(platform, "platforms") }
}

/**
 * The kubeconfig kubectl and helm use to reach the cluster service: its plain-http API, no user
 * credentials (kwok's proxy has the cluster's admin rights). Nothing in it is secret; it still
 * travels as a Secret because that is how the release path takes a kubeconfig.
 */
export function rehearsalKubeconfig(alias = CLUSTER_ALIAS, port = CLUSTER_PORT): string {
  return plainHttpKubeconfig(`http://${alias}:${port}`, "rehearsal")
}

/** A kubeconfig for a plain-http API server that asks for no credentials, its context and user named `user`. */
export function plainHttpKubeconfig(server: string, user: string): string {
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: rehearsal",
    "  cluster:",
    `    server: ${server}`,
    "contexts:",
    `- name: ${user}`,
    "  context:",
    "    cluster: rehearsal",
    `    user: ${user}`,
    `current-context: ${user}`,
    "users:",
    `- name: ${user}`,
    "  user: {}",
    "",
  ].join("\n")
}

/**
 * The fake node: labelled for its platform, with room for the chart's pods, and no taint, so
 * the chart schedules there as on a real node. The kwok controller (which manages every node in
 * this image) makes it Ready and plays the pods on it.
 */
export function nodeManifest(platform: Platform, name = NODE_NAME): object {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      annotations: { "node.alpha.kubernetes.io/ttl": "0", "kwok.x-k8s.io/node": "fake" },
      labels: {
        "kubernetes.io/arch": platform.architecture,
        "kubernetes.io/os": platform.os,
        "kubernetes.io/hostname": name,
        "kubernetes.io/role": "agent",
        "node-role.kubernetes.io/agent": "",
        type: "kwok",
      },
    },
    status: {
      allocatable: { cpu: "32", memory: "256Gi", pods: "110" },
      capacity: { cpu: "32", memory: "256Gi", pods: "110" },
      nodeInfo: {
        architecture: platform.architecture,
        operatingSystem: platform.os,
        kubeletVersion: "fake",
        kubeProxyVersion: "fake",
      },
      phase: "Running",
    },
  }
}
