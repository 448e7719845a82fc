/**
 * A real Kubernetes node for the test cluster (support/cluster.ts, `startCluster({ realNode: true })`):
 * the kubelet v1.35.4 and containerd v2.2.10 that ci/cluster-tools.mjs builds, with Debian's runc
 * and CNI plugins (`.ci/run` installs them). Pods really pull their images, start, pass or fail
 * their probes, crash and restart.
 *
 * Each node is isolated so that test files can each run one side by side and leave nothing behind:
 * - network: a network namespace of its own (`kn<slot>`), joined to the host by a veth pair on a
 *   /30 of 10.254.0.0/16 and nothing else (no default route: the node reaches only the host's end).
 *   The API server and the node's registries listen on the host's end (`hostIP`), the kubelet on
 *   the node's (`ip`, its InternalIP). Pods get 10.88.0.0/24 on a bridge inside the namespace.
 * - mounts: containerd and the kubelet share a private mount namespace (`unshare --mount`), with a
 *   tmpfs on each fixed host path they write to (PRIVATE_MOUNTS); every overlay, shm, pod netns
 *   and volume mount lives and vanishes there. Everything else is under the node's directory.
 * - processes: a cgroup of its own (`/kn<slot>` in every hierarchy; the kubelet's cgroupRoot) holds
 *   containerd, the kubelet, the node's registries, the shims and every container; stop kills all
 *   that is in it.
 * Both are entered with `nsenter`, not `ip netns exec`, which remounts /sys and so hides the cgroup
 * hierarchies from the kubelet. A node left behind by a test process that died (its veth's alias
 * names a dead pid) is removed the next time a node starts.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process"
import { randomInt } from "node:crypto"
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from "node:fs"
import { connect, createServer } from "node:net"
import { join, resolve } from "node:path"

import { KUBELET_TUNING } from "../../src/rehearsal/node.js"
import { pauseImage, pushImage, type ImageSpec, type PushedImage } from "./node-images.js"

const BIN = resolve(".cache", "kube", "bin")

/** The binaries a real node needs from ci/cluster-tools.mjs. */
export const NODE_BINARIES = ["kubelet", "containerd", "containerd-shim-runc-v2", "pause"]
/** The node's name (each cluster has its own API server, so one name serves them all). */
export const NODE_NAME = "real-node-0"
/** The pod network inside the node's namespace. */
export const POD_SUBNET = "10.88.0.0/24"
const OWNER = "meetinity-test-node"
/**
 * Host paths containerd and the kubelet write to whatever they are told, each covered by a tmpfs
 * in the node's private mount namespace (the host keeps only the empty directories): shim sockets
 * and runc's state, the kubelet's log links, and its device-plugin socket.
 */
const PRIVATE_MOUNTS = ["/run/containerd", "/var/log/containers", "/var/lib/kubelet"]
const PATH = `${BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)

function run(command: string, args: string[]): string {
  const ran = spawnSync(command, args, { encoding: "utf8", env: { PATH } })
  if (ran.status !== 0) throw new Error(`node: ${command} ${args.join(" ")} failed: ${ran.stderr || ran.error}`)
  return ran.stdout
}
const attempt = (command: string, args: string[]) => spawnSync(command, args, { env: { PATH } }).status === 0

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

// ---------------------------------------------------------------------------------------------
// Network namespace and veth pair

export interface NodeNetwork {
  /** `kn<slot>`: the namespace, the prefix of the veth pair's names, the cgroup. */
  readonly id: string
  /** The host's end of the veth pair. */
  readonly hostIP: string
  /** The node's end, inside its namespace: the kubelet's address. */
  readonly nodeIP: string
  /** /run/netns/<id>, for `nsenter --net`. */
  readonly netns: string
  /** Deletes the namespace (and with it the veth pair) and the cgroup. Synchronous. */
  remove(): void
}

function slotAddresses(slot: number): { hostIP: string; nodeIP: string } {
  const base = slot * 4
  const prefix = `10.254.${base >> 8}`
  return { hostIP: `${prefix}.${(base & 255) + 1}`, nodeIP: `${prefix}.${(base & 255) + 2}` }
}

/** Removes everything of a node: its processes, cgroups, namespace and veth pair. */
function removeNodeResources(id: string): void {
  killCgroupSync(id)
  removeCgroupsSync(id)
  attempt("ip", ["netns", "delete", id])
  attempt("ip", ["link", "delete", `${id}h`])
}

/** Nodes whose test process died: their veth's alias names a pid that no longer runs. */
function reapStale(): void {
  const links = run("ip", ["-o", "link", "show"])
  for (const line of links.split("\n")) {
    const match = new RegExp(`^\\d+: (kn\\d+)h@\\S+ .*alias ${OWNER} pid=(\\d+)`).exec(line)
    if (match && !alive(Number(match[2]))) removeNodeResources(match[1]!)
  }
}

/** A network namespace for a node, joined to the host by a veth pair on a /30 of its own. */
export function createNodeNetwork(): NodeNetwork {
  reapStale()
  for (let tries = 0; tries < 32; tries++) {
    const slot = randomInt(16384)
    const id = `kn${slot}`
    // Creating the namespace is the lock on the slot: it fails when another node holds it.
    if (!attempt("ip", ["netns", "add", id])) continue
    const { hostIP, nodeIP } = slotAddresses(slot)
    const remove = () => removeNodeResources(id)
    try {
      run("ip", ["link", "add", `${id}h`, "type", "veth", "peer", "name", `${id}n`, "netns", id])
      run("ip", ["link", "set", "dev", `${id}h`, "alias", `${OWNER} pid=${process.pid}`])
      run("ip", ["addr", "add", `${hostIP}/30`, "dev", `${id}h`])
      run("ip", ["link", "set", `${id}h`, "up"])
      run("ip", ["-n", id, "addr", "add", `${nodeIP}/30`, "dev", `${id}n`])
      run("ip", ["-n", id, "link", "set", `${id}n`, "up"])
      run("ip", ["-n", id, "link", "set", "lo", "up"])
    } catch (error) {
      remove()
      throw error
    }
    return { id, hostIP, nodeIP, netns: `/run/netns/${id}`, remove }
  }
  throw new Error("node: no free slot for a network namespace after 32 tries")
}

// ---------------------------------------------------------------------------------------------
// cgroups: /<id> in every hierarchy; containerd and the kubelet in /<id>/node, pods in /<id>/kubepods

/** The cgroup hierarchies mounted here (v1 controllers, the named systemd one, the unified one). */
function hierarchies(): string[] {
  const mounts: string[] = []
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const [before, after] = line.split(" - ")
    const fstype = after?.split(" ")[0]
    if (fstype === "cgroup" || fstype === "cgroup2") mounts.push(before!.split(" ")[4]!)
  }
  return mounts
}

function createCgroups(id: string): string[] {
  const procs: string[] = []
  for (const hierarchy of hierarchies()) {
    for (const dir of [join(hierarchy, id), join(hierarchy, id, "node")]) {
      mkdirSync(dir, { recursive: true })
      // cgroup v1's cpuset starts empty: a cgroup with no cpus or mems cannot hold a process.
      for (const file of ["cpuset.cpus", "cpuset.mems"]) {
        const parent = join(dir, "..", file)
        if (existsSync(parent) && readFileSync(join(dir, file), "utf8").trim() === "")
          writeFileSync(join(dir, file), readFileSync(parent, "utf8").trim())
      }
    }
    // cgroup v2 (a unified-only machine): the node's cgroup hands its controllers down to the pods.
    const controllers = join(hierarchy, id, "cgroup.controllers")
    if (existsSync(controllers)) {
      const wanted = readFileSync(controllers, "utf8").trim().split(/\s+/).filter(Boolean)
      if (wanted.length > 0) {
        try {
          writeFileSync(join(hierarchy, id, "cgroup.subtree_control"), wanted.map((c) => `+${c}`).join(" "))
        } catch {
          // a controller that cannot be delegated here: the kubelet says so itself
        }
      }
    }
    procs.push(join(hierarchy, id, "node", "cgroup.procs"))
  }
  return procs
}

/** Every cgroup directory under /<id> in a hierarchy, deepest first. */
function cgroupDirs(root: string): string[] {
  if (!existsSync(root)) return []
  const dirs: string[] = []
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) walk(join(dir, entry.name))
    dirs.push(dir)
  }
  walk(root)
  return dirs
}

function pidsIn(id: string): number[] {
  const pids = new Set<number>()
  for (const hierarchy of hierarchies()) {
    for (const dir of cgroupDirs(join(hierarchy, id))) {
      try {
        for (const pid of readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean))
          pids.add(Number(pid))
      } catch {
        // removed meanwhile
      }
    }
  }
  return [...pids]
}

/** SIGKILLs every process in the node's cgroups (containerd, kubelet, shims, containers) until none is left. */
function killCgroupSync(id: string): void {
  for (let pass = 0; pass < 100; pass++) {
    const pids = pidsIn(id)
    if (pids.length === 0) return
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL")
      } catch {
        // gone already
      }
    }
    sleepSync(50)
  }
}

function removeCgroupsSync(id: string): void {
  for (const hierarchy of hierarchies()) {
    for (const dir of cgroupDirs(join(hierarchy, id))) {
      for (let tries = 0; tries < 40; tries++) {
        try {
          rmdirSync(dir)
          break
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code
          if (code === "ENOENT") break
          // EBUSY: a process that was killed is still leaving it
          sleepSync(50)
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Registries the node pulls from

export interface NodeRegistry {
  /** `<hostIP>:<port>`: where the node pulls from, and so what a pod's image names. */
  readonly host: string
  /** `http://<hostIP>:<port>` */
  readonly url: string
  /** The htpasswd user and password, when it has one. */
  readonly credentials?: { username: string; password: string }
  /** Pushes a one-layer image (support/node-images.ts) as repository:tag, with the registry's credentials. */
  push(repository: string, tag: string, spec: ImageSpec): Promise<PushedImage>
  stop(): Promise<void>
}

async function freePortOn(host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, host, () => {
      const address = server.address()
      const port = typeof address === "object" && address ? address.port : 0
      server.close(() => resolvePort(port))
    })
  })
}

/**
 * Debian's docker-registry on the host's end of the node's veth pair, with its own storage; with
 * `credentials`, htpasswd authentication (bcrypt, by `htpasswd` from apache2-utils), so nothing is
 * pulled without them. `hostsDir`: containerd's certs.d, which gets a hosts.toml saying the
 * registry speaks plain HTTP.
 */
async function startNodeRegistry(
  hostIP: string,
  dir: string,
  hostsDir: string,
  procs: string[],
  credentials?: { username: string; password: string },
  others: readonly { username: string; password: string }[] = [],
): Promise<NodeRegistry> {
  mkdirSync(dir, { recursive: true })
  const port = await freePortOn(hostIP)
  const host = `${hostIP}:${port}`
  const url = `http://${host}`
  const config = [
    "version: 0.1",
    "log:",
    "  level: warn",
    "  accesslog:",
    "    disabled: true",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${join(dir, "data")}`,
    "  delete:",
    "    enabled: true",
    "http:",
    `  addr: ${host}`,
  ]
  if (credentials) {
    const lines = [credentials, ...others].map((user) =>
      run("htpasswd", ["-nbB", "-C", "4", user.username, user.password]).trim(),
    )
    writeFileSync(join(dir, "htpasswd"), `${lines.join("\n")}\n`)
    config.push("auth:", "  htpasswd:", "    realm: meetinity-test", `    path: ${join(dir, "htpasswd")}`)
  }
  writeFileSync(join(dir, "config.yml"), config.join("\n") + "\n")
  const log = openSync(join(dir, "registry.log"), "a")
  // In the node's cgroup too: a test process that dies leaves nothing the next node cannot reap.
  const child = spawn("sh", ["-c", inCgroup(procs, `docker-registry serve ${join(dir, "config.yml")}`)], {
    stdio: ["ignore", log, log],
    env: { PATH },
  })
  closeSync(log)
  const deadline = Date.now() + 15_000
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(
        `docker-registry exited with ${child.exitCode}: ${readFileSync(join(dir, "registry.log"), "utf8")}`,
      )
    try {
      const answer = await fetch(`${url}/v2/`)
      if (answer.status === 200 || answer.status === 401) break
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL")
      throw new Error(`docker-registry did not answer on ${url} within 15 s`)
    }
    await sleep(50)
  }
  // containerd: this registry speaks plain HTTP.
  mkdirSync(join(hostsDir, host), { recursive: true })
  writeFileSync(
    join(hostsDir, host, "hosts.toml"),
    `server = "${url}"\n\n[host."${url}"]\n  capabilities = ["pull", "resolve"]\n`,
  )
  const headers: Record<string, string> = credentials
    ? {
        authorization: `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64")}`,
      }
    : {}
  return {
    host,
    url,
    credentials,
    push: (repository, tag, spec) => pushImage(url, repository, tag, spec, headers),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r))
        child.kill("SIGTERM")
        await Promise.race([exited, sleep(5000).then(() => child.kill("SIGKILL"))])
        await exited
      }
      rmSync(join(hostsDir, host), { recursive: true, force: true })
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

// ---------------------------------------------------------------------------------------------
// The node

export interface NodeOptions {
  network: NodeNetwork
  /** The node's own directory (created; removed by stop). Keep it short: it holds unix sockets. */
  dir: string
  /** The API server, as the node reaches it (on the network's hostIP). */
  server: string
  /** The cluster's CA: the kubelet trusts client certificates it signed. */
  caFile: string
  /** The kubelet's credentials: a client certificate for system:node:<name> in system:nodes. */
  kubeconfigFile: string
  /** The kubelet's serving certificate (signed by the cluster's CA, for the node's IP). */
  servingCertFile: string
  servingKeyFile: string
}

export interface RealNode {
  readonly name: string
  /** `kn<slot>`: its network namespace, the prefix of its veth pair, its cgroup. */
  readonly id: string
  /** The node's InternalIP, inside its namespace. */
  readonly ip: string
  /** The host's end of its veth pair: where the API server and the node's registries listen. */
  readonly hostIP: string
  readonly dir: string
  /** The sandbox ("pause") image containerd pins, from the node's own anonymous registry. */
  readonly pauseImage: string
  /**
   * A registry the node pulls from: docker-registry on hostIP, htpasswd-protected with
   * `credentials` (and `others`: more users, each with every right, as htpasswd gives them). Pods
   * name its images `${registry.host}/<repository>:<tag>`. Stopped with the node.
   */
  startRegistry(
    credentials?: { username: string; password: string },
    others?: readonly { username: string; password: string }[],
  ): Promise<NodeRegistry>
  /** The last lines containerd and the kubelet logged (for a failure message). */
  logs(lines?: number): string
  /** Kills every process of the node, removes its cgroups, namespaces, mounts and directory. */
  stop(): Promise<void>
}

/** A shell script that moves itself into the node's cgroups, then runs `command` in its place. */
function inCgroup(procs: string[], command: string): string {
  return `set -e\nfor f in ${procs.join(" ")}; do echo $$ > "$f"; done\nexec ${command}`
}

function waitForSocket(path: string): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(path)
    socket.once("connect", () => {
      socket.destroy()
      done(true)
    })
    socket.once("error", () => done(false))
  })
}

/** Mounts under `dir` in this process's mount namespace, deepest first (none, unless something leaked). */
function mountsUnder(dir: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[4] ?? "")
    .filter((point) => point === dir || point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length)
}

function containerdConfig(dir: string, pause: string): string {
  return `version = 3
root = "${dir}/containerd/root"
state = "${dir}/containerd/state"
disabled_plugins = [
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.blockfile",
  "io.containerd.snapshotter.v1.erofs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
  # NRI's socket is a fixed host path (/var/run/nri/nri.sock): nodes side by side would share it.
  "io.containerd.nri.v1.nri",
  # The "opt" plugin makes /opt/containerd on the host; nothing here installs into it.
  "io.containerd.internal.v1.opt",
]

[grpc]
  address = "${dir}/containerd.sock"

[ttrpc]
  address = "${dir}/containerd.sock.ttrpc"

[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"

  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "${pause}"

  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = "${dir}/certs.d"

[plugins.'io.containerd.cri.v1.runtime']
  # No CAP_SYS_RESOURCE here: containers may not get a lower oom_score_adj than containerd's.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_cdi = false

  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["/usr/lib/cni", "/opt/cni/bin"]
    conf_dir = "${dir}/cni"

  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"

    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
      SystemdCgroup = false
`
}

function cniConfig(dir: string): string {
  return JSON.stringify(
    {
      cniVersion: "1.0.0",
      name: "test-pods",
      plugins: [
        {
          type: "bridge",
          bridge: "cni0",
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: { type: "host-local", ranges: [[{ subnet: POD_SUBNET }]], dataDir: join(dir, "cni-ipam") },
        },
      ],
    },
    null,
    2,
  )
}

function kubeletConfig(id: string, dir: string, options: NodeOptions): string {
  return JSON.stringify(
    {
      apiVersion: "kubelet.config.k8s.io/v1beta1",
      kind: "KubeletConfiguration",
      // This machine has cgroup v1 (hybrid): the kubelet 1.35 refuses it unless told.
      failCgroupV1: false,
      cgroupDriver: "cgroupfs",
      cgroupRoot: `/${id}`,
      cgroupsPerQOS: true,
      // No CAP_SYS_RESOURCE: the kubelet's default -999 cannot be set.
      oomScoreAdj: 0,
      containerRuntimeEndpoint: `unix://${dir}/containerd.sock`,
      address: options.network.nodeIP,
      port: 10250,
      readOnlyPort: 0,
      healthzBindAddress: "127.0.0.1",
      healthzPort: 10248,
      tlsCertFile: options.servingCertFile,
      tlsPrivateKeyFile: options.servingKeyFile,
      authentication: {
        anonymous: { enabled: false },
        webhook: { enabled: true },
        x509: { clientCAFile: options.caFile },
      },
      authorization: { mode: "Webhook" },
      podLogsDir: join(dir, "pod-logs"),
      volumePluginDir: join(dir, "volume-plugins"),
      // The rehearsal's node runs the same way (src/rehearsal/node.ts): generous eviction
      // thresholds (a shared CI disk must not evict the tests' pods), states within seconds.
      ...KUBELET_TUNING,
    },
    null,
    2,
  )
}

/**
 * Starts containerd, then the kubelet, in the node's namespaces; returns once the kubelet runs
 * (the caller waits for the Node to be Ready). The node's anonymous registry holds the pause image.
 */
export async function startNode(options: NodeOptions): Promise<RealNode> {
  for (const name of NODE_BINARIES) {
    if (!existsSync(join(BIN, name)))
      throw new Error(`node: ${join(BIN, name)} is missing; run npx zx ci/cluster-tools.mjs`)
  }
  const { network, dir } = options
  const id = network.id
  // containerd's root must not be on overlayfs (its overlay snapshots cannot stack on one).
  mkdirSync(dir, { recursive: true })
  const fsType = run("stat", ["-f", "-c", "%T", dir]).trim()
  if (fsType === "overlayfs")
    throw new Error(`node: ${dir} is on overlayfs; containerd's snapshots need another filesystem`)
  for (const sub of ["certs.d", "cni", "kubelet", "pod-logs"]) mkdirSync(join(dir, sub), { recursive: true })

  const children: { name: string; child: ChildProcess }[] = []
  const registries: NodeRegistry[] = []
  let stopped = false
  const killAll = () => removeNodeResources(id)
  process.on("exit", killAll)

  const logs = (lines = 20) =>
    ["containerd", "kubelet"]
      .map((name) => {
        const file = join(dir, `${name}.log`)
        const text = existsSync(file) ? readFileSync(file, "utf8").trim().split("\n").slice(-lines).join("\n") : ""
        return `--- ${name}\n${text}`
      })
      .join("\n")

  const stop = async () => {
    if (stopped) return
    stopped = true
    for (const registry of registries.splice(0)) await registry.stop()
    const exits = children
      .filter(({ child }) => child.exitCode === null && child.signalCode === null)
      .map(({ child }) => new Promise<void>((r) => child.once("exit", () => r())))
    killCgroupSync(id)
    await Promise.all(exits)
    removeCgroupsSync(id)
    // The mounts lived in the node's private mount namespace, gone with its last process; this
    // process's namespace holds none unless something leaked into it.
    for (const point of mountsUnder(dir)) attempt("umount", ["-l", point])
    network.remove()
    process.off("exit", killAll)
    rmSync(dir, { recursive: true, force: true })
  }

  const procs = createCgroups(id)
  const startRegistry = async (
    credentials?: { username: string; password: string },
    others: readonly { username: string; password: string }[] = [],
  ) => {
    const registry = await startNodeRegistry(
      network.hostIP,
      join(dir, `registry-${registries.length}`),
      join(dir, "certs.d"),
      procs,
      credentials,
      others,
    )
    registries.push(registry)
    return registry
  }

  /** Runs a command in the node's cgroup (/<id>/node), through a shell that moves itself there first. */
  const launch = (name: string, command: string) => {
    const log = openSync(join(dir, `${name}.log`), "a")
    const child = spawn("sh", ["-c", inCgroup(procs, command)], {
      cwd: dir,
      stdio: ["ignore", log, log],
      env: { PATH, HOME: dir },
    })
    closeSync(log)
    children.push({ name, child })
    return child
  }

  try {
    // The pause image, from an anonymous registry of the node's own: the test registries want
    // credentials that containerd, pulling the sandbox image, does not have.
    const infra = await startRegistry()
    await infra.push("pause", "3.10.1", pauseImage(BIN))
    const pause = `${infra.host}/pause:3.10.1`

    writeFileSync(join(dir, "containerd.toml"), containerdConfig(dir, pause))
    writeFileSync(join(dir, "cni", "10-test-pods.conflist"), cniConfig(dir))
    writeFileSync(join(dir, "kubelet.json"), kubeletConfig(id, dir, options))
    // Mount points for the private tmpfs mounts (left empty on the host).
    for (const point of PRIVATE_MOUNTS) mkdirSync(point, { recursive: true })

    const privateMounts = PRIVATE_MOUNTS.map((point) => `mount -t tmpfs -o mode=0755 node-private ${point}`).join(
      " && ",
    )
    const containerd = launch(
      "containerd",
      `unshare --mount --propagation private -- sh -c '${privateMounts} && exec nsenter --net=${network.netns} -- containerd --config ${join(dir, "containerd.toml")}'`,
    )
    const socket = join(dir, "containerd.sock")
    const deadline = Date.now() + 30_000
    while (!(existsSync(socket) && (await waitForSocket(socket)))) {
      if (containerd.exitCode !== null) throw new Error(`containerd exited with ${containerd.exitCode}`)
      if (Date.now() > deadline) throw new Error("containerd did not answer on its socket in 30 s")
      await sleep(50)
    }
    const kubeletArgs = [
      `--config=${join(dir, "kubelet.json")}`,
      `--kubeconfig=${options.kubeconfigFile}`,
      `--root-dir=${join(dir, "kubelet")}`,
      `--hostname-override=${NODE_NAME}`,
      `--node-ip=${network.nodeIP}`,
      "--v=1",
    ]
    launch(
      "kubelet",
      `nsenter --mount=/proc/${containerd.pid}/ns/mnt --net=${network.netns} -- kubelet ${kubeletArgs.join(" ")}`,
    )
    return {
      name: NODE_NAME,
      id,
      ip: network.nodeIP,
      hostIP: network.hostIP,
      dir,
      pauseImage: pause,
      startRegistry,
      logs,
      stop,
    }
  } catch (error) {
    const message = `node: ${(error as Error).message}\n${logs()}`
    await stop()
    throw new Error(message)
  }
}

/** What a stopped node may have left behind (for a test that checks it left nothing). */
export function leftovers({ id, dir }: { id: string; dir: string }): string[] {
  const found: string[] = []
  if (existsSync(`/run/netns/${id}`)) found.push(`netns ${id}`)
  if (attempt("ip", ["link", "show", `${id}h`])) found.push(`link ${id}h`)
  for (const hierarchy of hierarchies()) if (existsSync(join(hierarchy, id))) found.push(join(hierarchy, id))
  for (const point of mountsUnder(dir)) found.push(`mount ${point}`)
  if (existsSync(dir)) found.push(dir)
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim()
      if (args.includes(dir)) found.push(`process ${pid}: ${args}`)
    } catch {
      // exited meanwhile
    }
  }
  return found
}
