/**
 * The images the module runs its tools in, pinned to the versions the tests run: one place, for
 * every room that starts a container (delivery's kubectl and Helm, charts' packing and unpacking).
 */

/** kubectl 1.35.2, the version the tests run (registry.k8s.io's own image). */
export const KUBECTL_IMAGE = "registry.k8s.io/kubectl:v1.35.2"

/** Helm 4.1.4, the version the tests run (Alpine: it has the shell quiet commands and chart unpacking use). */
export const HELM_IMAGE = "alpine/helm:4.1.4"
