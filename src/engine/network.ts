/**
 * Where the registry and the cluster are when they run inside the engine as Dagger services (a
 * rehearsal). A real release passes nothing here and reaches ghcr.io and its cluster directly;
 * a rehearsal passes the two services, and the same publish, preflight, pull-secret and Helm
 * code then reaches them. These are the only differences between the two.
 */
import { type Container, type Service } from "@dagger.io/dagger"

import { type RegistryEndpoint } from "../oci/manifest.js"

/** The cluster as a service: bound under `alias` (the host its kubeconfig's server names) in every kubectl and helm container. */
export interface ClusterService {
  readonly alias: string
  readonly service: Service
}

/**
 * The registry as a service. The image references keep their address (`localhost:5000/…`); the
 * engine's push is routed to `service` (Container.publish's registryService), and the module's own
 * process, which cannot dial the engine's localhost, reaches the same registry at `endpoint`
 * (the service's hostname and port).
 */
export interface RegistryService {
  readonly service: Service
  readonly endpoint: RegistryEndpoint
}

export interface ServiceNetwork {
  readonly cluster?: ClusterService
  readonly registry?: RegistryService
}

/** No services: a real release. */
export const DIRECT: ServiceNetwork = {}

/** Binds the cluster service into a kubectl or helm container, when there is one. */
export function withCluster(container: Container, network: ServiceNetwork): Container {
  return network.cluster ? container.withServiceBinding(network.cluster.alias, network.cluster.service) : container
}
