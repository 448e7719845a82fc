/**
 * A real Kubernetes node as a Dagger service: kind's node image (kindest/node) started without its
 * systemd init. The service runs containerd and the kubelet from the image (kind's paths) with
 * configs written here, joins the kwok control plane through kwok's plain-http `kubectl proxy`,
 * pulls `localhost:5000/...` from the registry service (containerd hosts.toml), and is reached by
 * the API server on its own IP for `kubectl logs`.
 *
 * Everything here is plain data (images, file contents, the start script): rehearsal/cluster.ts
 * starts the service.
 */

import { NODE_NAME, plainHttpKubeconfig } from "./plan.js"

/**
 * kind v0.32.0's node image for Kubernetes 1.35, pinned by tag like the module's other images
 * (kind's release lists it as `@sha256:ce977ae6d65918d0b58a5f8b5e940429c2ce42fa3a5619ec2bbc60b949c0ac95`;
 * the engine record ran a stand-in under this tag: docs/engine-run.md).
 */
export const NODE_IMAGE = "docker.io/kindest/node:v1.35.5"
/** The sandbox image kind's own containerd config pins; the engine pulls it, the node imports it (no pull by the node). */
export const PAUSE_IMAGE = "registry.k8s.io/pause:3.10"

/** The kubelet's HTTPS port: the API server reaches it there for logs; exposed so the service's start waits for it. */
export const KUBELET_PORT = 10250
/** Where the node's files go (none of kind's own paths is overwritten). */
export const NODE_DIR = "/kind-rehearsal"
/** The pod network on the node: host-local addresses on ptp links (what kindnetd configures, without kindnetd). */
export const POD_SUBNET = "10.244.0.0/24"

/**
 * containerd 2.x, config version 3: its own root on a tmpfs (the image's root filesystem is
 * overlayfs, on which containerd's overlay snapshots cannot be made), the pause image pinned,
 * registries from certs.d, cgroupfs (no systemd), and kind's CNI plugin directory.
 */
export function containerdConfig(pause = PAUSE_IMAGE): string {
  return `version = 3
root = "/var/lib/containerd"
state = "/run/containerd"
disabled_plugins = [
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.blockfile",
  "io.containerd.snapshotter.v1.erofs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = "/run/containerd/containerd.sock"

[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"

  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "${pause}"

  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = "/etc/containerd/certs.d"

[plugins.'io.containerd.cri.v1.runtime']
  # containers may not get a lower oom_score_adj than containerd's (needed where CAP_SYS_RESOURCE is missing)
  restrict_oom_score_adj = true
  enable_cdi = false

  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["/opt/cni/bin"]
    conf_dir = "/etc/cni/net.d"

  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"

    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
      SystemdCgroup = false
`
}

/**
 * containerd's hosts.toml for `localhost:5000`: the image references keep their address, and the
 * node pulls them from the registry service (bound as `registry`) over plain http.
 */
export function hostsToml(upstream: string): string {
  return `server = "http://${upstream}"

[host."http://${upstream}"]
  capabilities = ["pull", "resolve"]
`
}

/** The pod network: ptp + host-local + portmap, the plugins (and the shape) kind's kindnetd uses. */
export function cniConfig(subnet = POD_SUBNET): string {
  return JSON.stringify(
    {
      cniVersion: "1.0.0",
      name: "rehearsal",
      plugins: [
        {
          type: "ptp",
          ipMasq: false,
          ipam: {
            type: "host-local",
            dataDir: "/run/cni-ipam-state",
            routes: [{ dst: "0.0.0.0/0" }],
            ranges: [[{ subnet }]],
          },
          mtu: 1500,
        },
        { type: "portmap", capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  )
}

/**
 * What a short-lived single node needs of its kubelet: no swap check, parallel pulls, eviction
 * thresholds a shared disk cannot trip, no image garbage collection, and states reported within
 * seconds. The kubelet 1.35 requeues a pod whose restart it refused (crash-loop back-off) for when
 * the back-off runs out, at most syncFrequency later, and only then writes CrashLoopBackOff into
 * the pod's status: with the default 1m the reason shows for an instant; every 2 s, within 3 s.
 */
export const KUBELET_TUNING = {
  failSwapOn: false,
  serializeImagePulls: false,
  evictionHard: {
    "memory.available": "100Mi",
    "nodefs.available": "1%",
    "nodefs.inodesFree": "1%",
    "imagefs.available": "1%",
  },
  imageGCHighThresholdPercent: 100,
  imageGCLowThresholdPercent: 99,
  syncFrequency: "2s",
  nodeStatusUpdateFrequency: "2s",
  nodeStatusReportFrequency: "10s",
} as const

/**
 * The kubelet's configuration. Anonymous requests are allowed and authorized: the API server of
 * kwok's image has no kubelet client certificate, and the port is only reachable inside the engine
 * for the length of one call.
 */
export function kubeletConfig(): string {
  return JSON.stringify(
    {
      apiVersion: "kubelet.config.k8s.io/v1beta1",
      kind: "KubeletConfiguration",
      // cgroup v1 hosts: the kubelet 1.35 refuses them unless told
      failCgroupV1: false,
      cgroupDriver: "cgroupfs",
      // kind's own cgroup root for a nested node (the start script creates it)
      cgroupRoot: "/kubelet",
      cgroupsPerQOS: true,
      oomScoreAdj: 0,
      containerRuntimeEndpoint: "unix:///run/containerd/containerd.sock",
      address: "0.0.0.0",
      port: KUBELET_PORT,
      readOnlyPort: 0,
      healthzBindAddress: "127.0.0.1",
      healthzPort: 10248,
      authentication: { anonymous: { enabled: true }, webhook: { enabled: false } },
      authorization: { mode: "AlwaysAllow" },
      ...KUBELET_TUNING,
      // a single node: nothing to spread, no DNS service
      resolvConf: "/etc/resolv.conf",
    },
    null,
    2,
  )
}

/** The kubelet's kubeconfig: kwok's plain-http `kubectl proxy` (it has the cluster's admin rights), as kubectl's. */
export const kubeletKubeconfig = (server: string): string => plainHttpKubeconfig(server, "kubelet")

/**
 * What the node service runs instead of systemd: the mounts and cgroups kind's entrypoint and
 * systemd would set up, containerd, the pause image import, then the kubelet in the foreground.
 */
export function startScript(options: { nodeName?: string; pause?: string } = {}): string {
  const nodeName = options.nodeName ?? NODE_NAME
  const pause = options.pause ?? PAUSE_IMAGE
  return `#!/bin/bash
# The rehearsal's node: kind's node image without systemd.
set -euo pipefail
log() { echo "[node $(date +%T.%3N)] $*"; }
D=${NODE_DIR}

# mounts: shared propagation for the kubelet's volumes; containerd's root on a tmpfs (the image's
# root filesystem is overlayfs, which overlay snapshots cannot use as their upper directory)
mount --make-rshared /
mkdir -p /var/lib/containerd /run/containerd /etc/containerd/certs.d /etc/cni/net.d /var/lib/kubelet
mountpoint -q /var/lib/containerd || mount -t tmpfs -o mode=0711 containerd /var/lib/containerd

# cgroups: a /kubelet root for the pods, as kind does
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  log "cgroup v2"
  # the root of the namespace must hold no process before controllers are delegated
  mkdir -p /sys/fs/cgroup/init
  while read -r pid; do echo "$pid" > /sys/fs/cgroup/init/cgroup.procs 2>/dev/null || true; done < /sys/fs/cgroup/cgroup.procs
  sed -e 's/\\([a-z_][a-z_]*\\)/+\\1/g' /sys/fs/cgroup/cgroup.controllers > /sys/fs/cgroup/cgroup.subtree_control
  mkdir -p /sys/fs/cgroup/kubelet
else
  # cgroup v1, maybe without a cgroup namespace (kind's fix_cgroup): make the paths of
  # /proc/self/cgroup resolve inside, so cAdvisor finds the node's own cgroups
  current=$(grep -E '^[^:]*:([^:]*,)?cpu(,[^,:]*)?:' /proc/self/cgroup | cut -d: -f3)
  log "cgroup v1, own cgroup $current"
  for mnt in $(findmnt -lun -o target -t cgroup); do
    if [ "$current" != "/" ] && ! findmnt "$mnt$current" >/dev/null; then
      mkdir -p "$mnt$current" && mount --bind "$mnt" "$mnt$current"
    fi
  done
  mount --make-rprivate /sys/fs/cgroup
  for mnt in $(findmnt -lun -o target -t cgroup); do
    mkdir -p "$mnt/kubelet"
    if [ -f "$mnt/cpuset.cpus" ]; then
      cat "$mnt/cpuset.cpus" > "$mnt/kubelet/cpuset.cpus"
      cat "$mnt/cpuset.mems" > "$mnt/kubelet/cpuset.mems"
    fi
  done
fi

# configs (written by the module into $D)
cp "$D/cni.conflist" /etc/cni/net.d/10-rehearsal.conflist
for h in "$D"/hosts/*; do
  name=$(basename "$h" .toml); mkdir -p "/etc/containerd/certs.d/$name"; cp "$h" "/etc/containerd/certs.d/$name/hosts.toml"
done

node_ip=$(ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -n1)
log "node IP $node_ip"

containerd --config "$D/containerd.toml" > /var/log/containerd.log 2>&1 &
containerd_pid=$!
until ctr --address /run/containerd/containerd.sock version > /dev/null 2>&1; do
  kill -0 "$containerd_pid" 2> /dev/null || { cat /var/log/containerd.log; exit 1; }
  sleep 0.1
done
log "containerd $(containerd --version | awk '{print $3}') ready"

# the pinned pause image, from the tarball the engine pulled: no registry, no credentials
ctr -n k8s.io images import --all-platforms --digests --index-name "${pause}" "$D/pause.tar" > /dev/null
ctr -n k8s.io images label "${pause}" io.cri-containerd.pinned=pinned > /dev/null
log "pause imported: $(ctr -n k8s.io images ls -q | tr '\\n' ' ')"

log "kubelet $(kubelet --version)"
exec kubelet \\
  --config="$D/kubelet.json" \\
  --kubeconfig="$D/kubelet.kubeconfig" \\
  --hostname-override=${nodeName} \\
  --node-ip="$node_ip" \\
  --node-labels=rehearsal.meetinity.io/node=real \\
  --v=1
`
}
