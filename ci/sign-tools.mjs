#!/usr/bin/env zx
// Builds the signing and SBOM tools the signing tests run, from the Go module proxy only, into
// .cache/sign/bin/ (ignored):
// - cosign v3.1.3 (github.com/sigstore/cosign/v3/cmd/cosign, `go install`);
// - syft v1.57.1 (github.com/anchore/syft/cmd/syft, `go install`, its version stamped as its own
//   release build does);
// - zot v1.4.3, a registry that answers the OCI referrers API, minimal build (no extensions),
//   through the wrapper module ci/zot. zot's own module paths (zotregistry.dev/zot,
//   zotregistry.io/zot) are not served by the module proxy this project can reach; the one zot
//   it serves is the v1.4.3 tag under github.com/project-zot/zot, whose go.mod names itself
//   zotregistry.io/zot, hence the wrapper's replace directive.
// Builds only what is missing or reports another version.
//
// Needs Go (PATH, or /usr/local/go/bin). GOFLAGS=-trimpath -buildvcs=false; GOCACHE and GOMODCACHE are Go's own
// defaults unless set. Cold builds (each with an empty build cache) on 2 cores shared with other builds
// (load average 20-34): cosign 22 minutes (7.1 min of CPU; its modules downloaded during the build),
// syft 17.5 minutes (6.9 min of CPU; modules downloaded during the build, some already there from
// cosign), zot 11.4 minutes (2.7 min of CPU; modules already downloaded). With the build cache warm:
// 3 to 7 s a tool; with all three built, 1.5 s.
import { $, fs, path } from "zx"

export const COSIGN_VERSION = "v3.1.3"
export const SYFT_VERSION = "v1.57.1"
export const ZOT_VERSION = "v1.4.3"
// The commit of zot's v1.4.3 tag (the module proxy's .info Origin), stamped as zot's Makefile does.
const ZOT_COMMIT = "v1.4.3-0-g69f0cf6"

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..")
const out = path.join(root, ".cache", "sign")
const bin = path.join(out, "bin")
$.quiet = true

function goBinary() {
  for (const dir of (process.env.PATH ?? "").split(":").filter(Boolean).concat("/usr/local/go/bin")) {
    if (fs.existsSync(path.join(dir, "go"))) return path.join(dir, "go")
  }
  throw new Error("sign-tools: go is not installed (looked on PATH and in /usr/local/go/bin); install Go 1.26 or newer")
}

/** The version a built binary reports, or undefined when it is missing or does not run. */
async function reported(name) {
  const file = path.join(bin, name)
  if (!fs.existsSync(file)) return undefined
  if (name === "zot") {
    // zot logs its version as a JSON line: {"commit":"v1.4.3-0-g69f0cf6",...}
    const ran = await $`${file} --version`.nothrow()
    return /"commit":"(v[^-"]+)/.exec(`${ran.stdout}${ran.stderr}`)?.[1]
  }
  const ran = await $`${file} version`.nothrow()
  const text = `${ran.stdout}${ran.stderr}`
  if (name === "cosign") return /GitVersion:\s+(v\S+)/.exec(text)?.[1]
  return /^Version:\s+(v\S+)/m.exec(text)?.[1]
}

const wanted = { cosign: COSIGN_VERSION, syft: SYFT_VERSION, zot: ZOT_VERSION }

const missing = []
for (const [name, version] of Object.entries(wanted)) {
  const has = await reported(name)
  if (has !== version) missing.push(name)
}

const summary = `cosign ${COSIGN_VERSION}, syft ${SYFT_VERSION}, zot ${ZOT_VERSION} in ${path.relative(root, bin)}`
if (missing.length === 0) {
  console.log(`sign-tools: ${summary}`)
  process.exit(0)
}

const go = goBinary()
const env = { ...process.env, GOFLAGS: "-trimpath -buildvcs=false", GOTOOLCHAIN: "local" }
const took = []
await fs.mkdirp(bin)

async function timed(name, build) {
  const started = Date.now()
  await build()
  took.push(`${name} in ${Math.round((Date.now() - started) / 1000)} s`)
}

if (missing.includes("cosign")) {
  console.log(`sign-tools: building cosign ${COSIGN_VERSION} (cold: 7 min of CPU, up to 25 minutes on 2 busy cores)`)
  await timed("cosign", async () => {
    await $({
      env: { ...env, GOBIN: bin },
      quiet: false,
    })`nice -n 10 ${go} install -ldflags ${"-s -w"} github.com/sigstore/cosign/v3/cmd/cosign@${COSIGN_VERSION}`
  })
}
if (missing.includes("syft")) {
  console.log(`sign-tools: building syft ${SYFT_VERSION} (cold: 7 min of CPU, up to 20 minutes on 2 busy cores)`)
  await timed("syft", async () => {
    await $({
      env: { ...env, GOBIN: bin },
      quiet: false,
    })`nice -n 10 ${go} install -ldflags ${`-s -w -X main.version=${SYFT_VERSION}`} github.com/anchore/syft/cmd/syft@${SYFT_VERSION}`
  })
}
if (missing.includes("zot")) {
  console.log(`sign-tools: building zot ${ZOT_VERSION} (minimal; cold: 3 min of CPU, up to 12 minutes on 2 busy cores)`)
  const config = "zotregistry.io/zot/pkg/api/config"
  const stamp = [
    `-X ${config}.ReleaseTag=${ZOT_VERSION}`,
    `-X ${config}.Commit=${ZOT_COMMIT}`,
    `-X ${config}.BinaryType=minimal`,
    `-X ${config}.GoVersion=${(await $`${go} env GOVERSION`).stdout.trim()}`,
  ]
  await timed("zot", async () => {
    await $({
      cwd: path.join(root, "ci", "zot"),
      env: { ...env, CGO_ENABLED: "0" },
      quiet: false,
    })`nice -n 10 ${go} build -tags containers_image_openpgp -ldflags ${["-s -w", ...stamp].join(" ")} -o ${path.join(bin, "zot")} zotregistry.io/zot/cmd/zot`
  })
}

for (const [name, version] of Object.entries(wanted)) {
  const has = await reported(name)
  if (has !== version)
    throw new Error(`sign-tools: ${name} reports ${has ?? "nothing"} after the build, expected ${version}`)
}
console.log(`sign-tools: ${summary} (built ${took.join(", ")})`)
