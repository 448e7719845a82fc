#!/usr/bin/env zx
// Builds the Kubernetes control plane the cluster tests run, from the Go module proxy only, into
// .cache/kube/ (ignored): kube-apiserver, kube-controller-manager and kube-scheduler
// (k8s.io/kubernetes v1.35.4, through the wrapper module ci/kube), etcd v3.6.16 (wrapper module
// ci/etcd) and kwok v0.8.0 (a fake node: pods are marked Running and Ready, nothing runs). Copies
// kwok's own stages (node-fast, node heartbeat with lease, pod-fast) from its module source to
// .cache/kube/stages/. Builds only what is missing or reports another version.
//
// And the real node's (test/support/node.ts): the kubelet (same wrapper module), containerd and
// containerd-shim-runc-v2 v2.2.10 (`go install`, without btrfs), and Kubernetes' own pause
// (build/pause/linux/pause.c from the k8s.io/kubernetes module source, compiled static with gcc:
// the sandbox image's only file). runc and the CNI plugins are Debian's (.ci/run installs them).
// The node's part, each alone with an empty build cache (modules downloaded) on 2 cores: the kubelet
// 5.5 minutes, containerd 2.7; pause, a second. Beside a cold control-plane build on a machine
// loaded with other builds, they took 20 and 17.5 minutes. With everything built, a run takes
// 0.2 s more than before (four more --version checks).
//
// Needs Go (PATH, or /usr/local/go/bin). GOFLAGS=-trimpath -buildvcs=false; GOCACHE and GOMODCACHE are Go's own
// defaults unless set. A cold build took 28.6 minutes on 2 cores shared with other builds (CPU time: a
// third of that); a warm run, seconds.
import { $, fs, path } from "zx"

export const KUBERNETES_VERSION = "v1.35.4"
export const ETCD_VERSION = "v3.6.16"
export const KWOK_VERSION = "v0.8.0"
export const CONTAINERD_VERSION = "v2.2.10"
// The pause that k8s.io/kubernetes KUBERNETES_VERSION's build/pause/Makefile tags (checked when built).
export const PAUSE_VERSION = "v3.10.1"

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..")
const out = path.join(root, ".cache", "kube")
const bin = path.join(out, "bin")
$.quiet = true

function goBinary() {
  for (const dir of (process.env.PATH ?? "").split(":").filter(Boolean).concat("/usr/local/go/bin")) {
    if (fs.existsSync(path.join(dir, "go"))) return path.join(dir, "go")
  }
  throw new Error(
    "cluster-tools: go is not installed (looked on PATH and in /usr/local/go/bin); install Go 1.26 or newer",
  )
}

/** The version a built binary reports, or undefined when it is missing or does not run. */
async function reported(name) {
  const file = path.join(bin, name)
  if (!fs.existsSync(file)) return undefined
  const ran = await (
    ["pause", "containerd-shim-runc-v2"].includes(name) ? $`${file} -v` : $`${file} --version`
  ).nothrow()
  const text = `${ran.stdout}${ran.stderr}`
  if (name === "pause") return /pause\.c (\S+)/.exec(text)?.[1]
  if (name === "etcd") return /etcd Version: (\S+)/.exec(text)?.[1]?.replace(/^/, "v")
  if (name === "kwok") return /kwok version (v\S+)/.exec(text)?.[1]
  if (name === "containerd") return /^containerd \S+ (v\S+)/.exec(text)?.[1]
  if (name === "containerd-shim-runc-v2") return /Version:\s+(v\S+)/.exec(text)?.[1]
  return /Kubernetes (v\S+)/.exec(text)?.[1]
}

const KUBE = ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet"]
const CONTAINERD = ["containerd", "containerd-shim-runc-v2"]
const wanted = {
  "kube-apiserver": KUBERNETES_VERSION,
  "kube-controller-manager": KUBERNETES_VERSION,
  "kube-scheduler": KUBERNETES_VERSION,
  kubelet: KUBERNETES_VERSION,
  etcd: ETCD_VERSION,
  kwok: KWOK_VERSION,
  containerd: CONTAINERD_VERSION,
  "containerd-shim-runc-v2": CONTAINERD_VERSION,
  pause: PAUSE_VERSION,
}

const missing = []
for (const [name, version] of Object.entries(wanted)) {
  const has = await reported(name)
  if (has !== version) missing.push(name)
}

const stages = path.join(out, "stages")
const stageFiles = {
  "node-initialize.yaml": "kustomize/stage/node/fast/node-initialize.yaml",
  "node-heartbeat-with-lease.yaml": "kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
  "pod-ready.yaml": "kustomize/stage/pod/fast/pod-ready.yaml",
  "pod-complete.yaml": "kustomize/stage/pod/fast/pod-complete.yaml",
  "pod-delete.yaml": "kustomize/stage/pod/fast/pod-delete.yaml",
}
const summary = `kube-apiserver, kube-controller-manager, kube-scheduler, kubelet ${KUBERNETES_VERSION}, etcd ${ETCD_VERSION}, kwok ${KWOK_VERSION}, containerd ${CONTAINERD_VERSION}, pause ${PAUSE_VERSION} in ${path.relative(root, out)}`
if (missing.length === 0 && Object.keys(stageFiles).every((name) => fs.existsSync(path.join(stages, name)))) {
  console.log(`cluster-tools: ${summary}`)
  process.exit(0)
}

const go = goBinary()
const env = { ...process.env, GOFLAGS: "-trimpath -buildvcs=false", GOTOOLCHAIN: "local" }
const started = Date.now()
await fs.mkdirp(bin)

if (missing.some((name) => KUBE.includes(name))) {
  // The version the binaries report (and /version answers): stamped as Kubernetes' own build does.
  const [major, minor] = KUBERNETES_VERSION.slice(1).split(".")
  const stamp = ["k8s.io/component-base/version", "k8s.io/client-go/pkg/version"].flatMap((pkg) => [
    `-X ${pkg}.gitVersion=${KUBERNETES_VERSION}`,
    `-X ${pkg}.gitMajor=${major}`,
    `-X ${pkg}.gitMinor=${minor}`,
    `-X ${pkg}.gitTreeState=clean`,
  ])
  const targets = KUBE.filter((name) => missing.includes(name)).map((name) => `k8s.io/kubernetes/cmd/${name}`)
  console.log(
    `cluster-tools: building ${targets.map((t) => t.split("/").pop()).join(", ")} ${KUBERNETES_VERSION} (cold: up to 30 minutes on 2 cores, depending on load)`,
  )
  await $({
    cwd: path.join(root, "ci", "kube"),
    env,
    quiet: false,
  })`nice -n 10 ${go} build -ldflags ${["-s -w", ...stamp].join(" ")} -o ${bin}/ ${targets}`
}
if (missing.includes("etcd")) {
  console.log(`cluster-tools: building etcd ${ETCD_VERSION}`)
  await $({
    cwd: path.join(root, "ci", "etcd"),
    env,
    quiet: false,
  })`nice -n 10 ${go} build -ldflags ${"-s -w"} -o ${path.join(bin, "etcd")} go.etcd.io/etcd/server/v3`
}
if (missing.includes("kwok")) {
  console.log(`cluster-tools: building kwok ${KWOK_VERSION}`)
  await $({
    env: { ...env, GOBIN: bin },
    quiet: false,
  })`nice -n 10 ${go} install -ldflags ${"-s -w"} sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}`
}

if (missing.some((name) => CONTAINERD.includes(name))) {
  console.log(`cluster-tools: building containerd, containerd-shim-runc-v2 ${CONTAINERD_VERSION}`)
  // Stamped as containerd's own release build does; btrfs left out (it needs its C headers).
  const ldflags = `-s -w -X github.com/containerd/containerd/v2/version.Version=${CONTAINERD_VERSION}`
  const targets = CONTAINERD.map((name) => `github.com/containerd/containerd/v2/cmd/${name}@${CONTAINERD_VERSION}`)
  await $({
    env: { ...env, GOBIN: bin },
    quiet: false,
  })`nice -n 10 ${go} install -tags no_btrfs -ldflags ${ldflags} ${targets}`
}
if (missing.includes("pause")) {
  // Kubernetes' own pause, from the module source of the version built above: no registry.k8s.io here.
  const kubernetes = JSON.parse(
    (await $({ env })`${go} mod download -json k8s.io/kubernetes@${KUBERNETES_VERSION}`).stdout,
  ).Dir
  const makefile = await fs.readFile(path.join(kubernetes, "build", "pause", "Makefile"), "utf8")
  const tag = /^TAG \?= (\S+)/m.exec(makefile)?.[1]
  if (`v${tag}` !== PAUSE_VERSION)
    throw new Error(
      `cluster-tools: k8s.io/kubernetes ${KUBERNETES_VERSION} tags pause ${tag}, expected ${PAUSE_VERSION}`,
    )
  if ((await $`command -v gcc`.nothrow()).exitCode !== 0)
    throw new Error("cluster-tools: gcc is not installed (Debian's gcc and libc6-dev; .ci/run installs them)")
  console.log(`cluster-tools: compiling pause ${PAUSE_VERSION}`)
  await $`nice -n 10 gcc -Os -Wall -Werror -static -s -DVERSION=${PAUSE_VERSION} -o ${path.join(bin, "pause")} ${path.join(kubernetes, "build", "pause", "linux", "pause.c")}`
}

// kwok's stages, from its module source (the same files `kwokctl` embeds).
const kwokSource = (await $({ env })`${go} mod download -json sigs.k8s.io/kwok@${KWOK_VERSION}`).stdout
const dir = JSON.parse(kwokSource).Dir
await fs.mkdirp(stages)
for (const [name, from] of Object.entries(stageFiles))
  await fs.copy(path.join(dir, from), path.join(stages, name), { overwrite: true })

for (const [name, version] of Object.entries(wanted)) {
  const has = await reported(name)
  if (has !== version)
    throw new Error(`cluster-tools: ${name} reports ${has ?? "nothing"} after the build, expected ${version}`)
}
const took =
  missing.length > 0 ? ` (built ${missing.join(", ")} in ${Math.round((Date.now() - started) / 1000)} s)` : ""
console.log(`cluster-tools: ${summary}${took}`)
