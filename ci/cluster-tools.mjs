#!/usr/bin/env zx
// Builds the Kubernetes control plane the cluster tests run, from the Go module proxy only, into
// .cache/kube/ (ignored): kube-apiserver, kube-controller-manager and kube-scheduler
// (k8s.io/kubernetes v1.35.4, through the wrapper module ci/kube), etcd v3.6.16 (wrapper module
// ci/etcd) and kwok v0.8.0 (a fake node: pods are marked Running and Ready, nothing runs). Copies
// kwok's own stages (node-fast, node heartbeat with lease, pod-fast) from its module source to
// .cache/kube/stages/. Builds only what is missing or reports another version.
//
// Needs Go (PATH, or /usr/local/go/bin). GOFLAGS=-trimpath -buildvcs=false; GOCACHE and GOMODCACHE are Go's own
// defaults unless set. A cold build took 28.6 minutes on 2 cores shared with other builds (CPU time: a
// third of that); a warm run, seconds.
import { $, fs, path } from "zx"

export const KUBERNETES_VERSION = "v1.35.4"
export const ETCD_VERSION = "v3.6.16"
export const KWOK_VERSION = "v0.8.0"

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
  const ran = await $`${file} --version`.nothrow()
  const text = `${ran.stdout}${ran.stderr}`
  if (name === "etcd") return /etcd Version: (\S+)/.exec(text)?.[1]?.replace(/^/, "v")
  if (name === "kwok") return /kwok version (v\S+)/.exec(text)?.[1]
  return /Kubernetes (v\S+)/.exec(text)?.[1]
}

const KUBE = ["kube-apiserver", "kube-controller-manager", "kube-scheduler"]
const wanted = {
  "kube-apiserver": KUBERNETES_VERSION,
  "kube-controller-manager": KUBERNETES_VERSION,
  "kube-scheduler": KUBERNETES_VERSION,
  etcd: ETCD_VERSION,
  kwok: KWOK_VERSION,
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
const summary = `kube-apiserver, kube-controller-manager, kube-scheduler ${KUBERNETES_VERSION}, etcd ${ETCD_VERSION}, kwok ${KWOK_VERSION} in ${path.relative(root, out)}`
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
