/**
 * A real Kubernetes control plane for the tests: etcd, kube-apiserver (TLS, RBAC), kube-controller-
 * manager, kube-scheduler and kwok (one fake node) on 127.0.0.1 free ports, each cluster in its
 * own temporary directory, so several test files can run one side by side. The binaries come
 * from ci/cluster-tools.mjs (.cache/kube). Pods never really run: kwok marks them Running and
 * Ready (images, probes and pull secrets are never exercised), except pods whose image contains
 * NEVER_READY, which it keeps Running but never Ready, so a rollout can fail on purpose.
 *
 * `startCluster({ realNode: true })` runs a real node instead of kwok's (support/node.ts): the
 * kubelet and containerd in a network namespace of their own, so pods really pull, run and pass or
 * fail their probes. The API server then listens on the host's end of that namespace's veth pair
 * (the kubelet cannot reach the host's loopback), and `server` names that address.
 */
import { spawn, spawnSync, execFileSync, type ChildProcess } from "node:child_process"
import { randomBytes } from "node:crypto"
import { existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync, closeSync } from "node:fs"
import { request } from "node:https"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"

import { createNodeNetwork, NODE_BINARIES, NODE_NAME, startNode, type NodeNetwork, type RealNode } from "./node.js"
import { helmPath, kubectlPath } from "./tools.js"

const KUBE = resolve(".cache", "kube")
const BIN = join(KUBE, "bin")

/** Pods whose image contains this are kept Running but never Ready by the cluster's fake node. */
export const NEVER_READY = "never-ready"

/** The stage of our own: pods whose image contains NEVER_READY run, but never get Ready. */
const NEVER_READY_STAGE = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-running-never-ready
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.phase'
      operator: 'In'
      values:
      - 'Pending'
    - key: '.spec.containers.[].image | contains("${NEVER_READY}")'
      operator: 'In'
      values:
      - 'true'
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Initialized
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        reason: ContainersNotReady
        type: Ready
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        reason: ContainersNotReady
        type: ContainersReady
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        started: true
        restartCount: 0
        state:
          running:
            startedAt: {{ $now | Quote }}
      {{ end }}
      phase: Running
      startTime: {{ $now | Quote }}
`

/** Builds the binaries when missing (a cold build takes minutes, once). */
export function clusterBinaries(realNode = false): string {
  const names = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"]
  if (realNode) names.push(...NODE_BINARIES)
  if (!names.every((name) => existsSync(join(BIN, name))) || !existsSync(join(KUBE, "stages"))) {
    execFileSync("npx", ["zx", "ci/cluster-tools.mjs"], { stdio: "inherit" })
  }
  return BIN
}

/** kwok's configuration: its own fast stages, with pod-ready leaving NEVER_READY pods to our stage. */
function kwokConfig(): string {
  const stages = join(KUBE, "stages")
  const docs = readdirSync(stages)
    .sort()
    .map((file) => {
      const text = readFileSync(join(stages, file), "utf8")
      if (file !== "pod-ready.yaml") return text
      const anchor = "    matchExpressions:\n"
      if (!text.includes(anchor)) throw new Error("cluster: kwok's pod-ready stage has no matchExpressions to extend")
      return text.replace(
        anchor,
        `${anchor}    - key: '.spec.containers.[].image | contains("${NEVER_READY}")'\n      operator: 'NotIn'\n      values:\n      - 'true'\n`,
      )
    })
  return [...docs, NEVER_READY_STAGE].map((doc) => doc.trim()).join("\n---\n") + "\n"
}

async function freePort(host = "127.0.0.1"): Promise<number> {
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

function openssl(args: string[], cwd: string): void {
  const ran = spawnSync("openssl", args, { cwd, encoding: "utf8" })
  if (ran.status !== 0) throw new Error(`cluster: openssl ${args.join(" ")} failed: ${ran.stderr}`)
}

/** A P-256 key and a certificate signed by the cluster's CA. */
function issue(cwd: string, name: string, subject: string, extensions: string): void {
  writeFileSync(join(cwd, `${name}.ext`), extensions)
  openssl(
    [
      "req",
      "-new",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      "-subj",
      subject,
    ],
    cwd,
  )
  openssl(
    [
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-set_serial",
      `0x${randomBytes(8).toString("hex")}`,
      "-days",
      "2",
      "-out",
      `${name}.crt`,
      "-extfile",
      `${name}.ext`,
    ],
    cwd,
  )
}

const CLIENT_EXT =
  "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n"
const b64 = (file: string) => readFileSync(file).toString("base64")

/** A self-contained kubeconfig (certificates inline), as a deployer's KUBECONFIG secret holds one. */
function kubeconfigText(server: string, caFile: string, user: string, certFile: string, keyFile: string): string {
  return [
    "apiVersion: v1",
    "kind: Config",
    `current-context: ${user}`,
    "clusters:",
    "- name: test",
    "  cluster:",
    `    server: ${server}`,
    `    certificate-authority-data: ${b64(caFile)}`,
    "contexts:",
    `- name: ${user}`,
    "  context:",
    "    cluster: test",
    `    user: ${user}`,
    "users:",
    `- name: ${user}`,
    "  user:",
    `    client-certificate-data: ${b64(certFile)}`,
    `    client-key-data: ${b64(keyFile)}`,
    "",
  ].join("\n")
}

export interface KubectlResult {
  status: number
  stdout: string
  stderr: string
}

export interface Cluster {
  /** Its temporary directory (certificates, etcd's data, each component's log). */
  readonly dir: string
  /** https://127.0.0.1:<port> */
  readonly server: string
  /** The admin kubeconfig (system:masters): text, and the file holding it. */
  readonly adminKubeconfig: string
  readonly adminKubeconfigFile: string
  /** The real node (support/node.ts), with `startCluster({ realNode: true })`; kwok's fake node otherwise. */
  readonly node?: RealNode
  /** kubectl as the admin (or as `kubeconfigFile`), without blocking the event loop. */
  kubectl(args: string[], options?: { kubeconfigFile?: string; input?: string }): Promise<KubectlResult>
  /** kubectl as the admin; fails the test on a non-zero exit. */
  kubectlOk(args: string[], input?: string): Promise<string>
  /** helm as the admin (reading back what the module did, or doing what an operator would by hand). */
  helm(args: string[]): Promise<KubectlResult>
  /**
   * A user of its own (client certificate, no group) bound by a RoleBinding to a Role in one
   * namespace only; returns its self-contained kubeconfig text. The namespace must exist.
   */
  restrictedUser(name: string, namespace: string, rules: RbacRule[]): Promise<string>
  /** The last lines each component logged (for a failure message). */
  logs(lines?: number): string
  stop(): Promise<void>
}

export interface RbacRule {
  apiGroups: string[]
  resources: string[]
  verbs: string[]
}

/** What a namespaced deployer needs for Helm and the pull secret (no namespaces, no cluster scope). */
export const DEPLOYER_RULES: RbacRule[] = [
  {
    apiGroups: [""],
    resources: ["secrets", "configmaps", "services", "serviceaccounts", "pods", "events"],
    verbs: ["get", "list", "watch", "create", "update", "patch", "delete"],
  },
  {
    apiGroups: ["apps"],
    resources: ["deployments", "replicasets", "statefulsets"],
    verbs: ["get", "list", "watch", "create", "update", "patch", "delete"],
  },
]

function runKubectl(
  args: string[],
  kubeconfigFile: string,
  input?: string,
  program = kubectlPath(),
): Promise<KubectlResult> {
  return new Promise((done) => {
    const home = mkdtempSync(join(tmpdir(), "kube-client-"))
    const child = spawn(program, args, {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, KUBECONFIG: kubeconfigFile },
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.on("close", (code) => {
      rmSync(home, { recursive: true, force: true })
      done({ status: code ?? -1, stdout, stderr })
    })
    child.stdin.end(input ?? "")
  })
}

/** GET over the cluster's TLS with a client certificate: the status code, or 0 when it does not answer. */
function probe(url: string, dir: string): Promise<number> {
  return new Promise((done) => {
    const req = request(
      url,
      {
        ca: readFileSync(join(dir, "ca.crt")),
        cert: readFileSync(join(dir, "admin.crt")),
        key: readFileSync(join(dir, "admin.key")),
        timeout: 2000,
      },
      (res) => {
        res.resume()
        done(res.statusCode ?? 0)
      },
    )
    req.on("error", () => done(0))
    req.on("timeout", () => req.destroy())
    req.end()
  })
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export interface ClusterOptions {
  /**
   * A real node (kubelet and containerd, support/node.ts) instead of kwok's fake one: pods really
   * run. The API server then listens on the node network's host address instead of 127.0.0.1.
   */
  realNode?: boolean
}

/** Starts a cluster and waits until its node is Ready and the default namespace has its service account. */
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const bin = clusterBinaries(options.realNode)
  const dir = mkdtempSync(join(tmpdir(), "cluster-"))
  const children: { name: string; child: ChildProcess }[] = []
  // A real node runs in a network namespace of its own: the API server listens where it reaches.
  const network: NodeNetwork | undefined = options.realNode ? createNodeNetwork() : undefined
  let node: RealNode | undefined
  const apiHost = network?.hostIP ?? "127.0.0.1"
  const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort(apiHost)]
  const server = `https://${apiHost}:${apiPort}`

  const stop = async () => {
    // The node first (its processes, mounts, namespace), while the API server still answers it.
    if (node) await node.stop()
    else network?.remove()
    node = undefined
    for (const { child } of [...children].reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue
      const exited = new Promise<void>((r) => child.once("exit", () => r()))
      child.kill("SIGTERM")
      await Promise.race([exited, sleep(5000).then(() => child.kill("SIGKILL"))])
      await exited
    }
    children.length = 0
    process.off("exit", killAll)
    rmSync(dir, { recursive: true, force: true })
  }
  const killAll = () => {
    for (const { child } of children) child.kill("SIGKILL")
  }
  process.on("exit", killAll)

  const logs = (lines = 15) =>
    children
      .map(({ name }) => {
        const file = join(dir, `${name}.log`)
        const text = existsSync(file) ? readFileSync(file, "utf8").trim().split("\n").slice(-lines).join("\n") : ""
        return `--- ${name}\n${text}`
      })
      .join("\n")
      .concat(node ? `\n${node.logs(lines)}` : "")

  const launch = (name: string, args: string[]) => {
    const log = openSync(join(dir, `${name}.log`), "a")
    const child = spawn(join(bin, name), args, {
      cwd: dir,
      stdio: ["ignore", log, log],
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir },
    })
    closeSync(log)
    children.push({ name, child })
  }

  try {
    // Certificates: a CA, the API server's serving certificate, the admin and the components.
    writeFileSync(
      join(dir, "ca.cnf"),
      "[req]\ndistinguished_name=dn\n[dn]\n[v3_ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\nsubjectKeyIdentifier=hash\n",
    )
    openssl(
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=meetinity-test-ca",
        "-config",
        "ca.cnf",
        "-extensions",
        "v3_ca",
      ],
      dir,
    )
    issue(
      dir,
      "apiserver",
      "/CN=kube-apiserver",
      `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.96.0.1${network ? `,IP:${network.hostIP}` : ""}\n`,
    )
    issue(dir, "admin", "/O=system:masters/CN=admin", CLIENT_EXT)
    // The components run as system:masters: RBAC is on for every user the tests create.
    for (const component of ["controller-manager", "scheduler", "kwok"])
      issue(dir, component, `/O=system:masters/CN=test:${component}`, CLIENT_EXT)
    openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "sa.key"], dir)
    openssl(["ec", "-in", "sa.key", "-pubout", "-out", "sa.pub"], dir)
    for (const name of ["admin", "controller-manager", "scheduler", "kwok"]) {
      writeFileSync(
        join(dir, `${name}.kubeconfig`),
        kubeconfigText(server, join(dir, "ca.crt"), name, join(dir, `${name}.crt`), join(dir, `${name}.key`)),
      )
    }
    writeFileSync(join(dir, "kwok.yaml"), kwokConfig())
    if (network) {
      // The real node's credentials: the kubelet as system:node:<name> in system:nodes (the Node
      // authorizer then lets it read the secrets and service account tokens of its own pods only),
      // its serving certificate for its IP, and the API server's client certificate towards it
      // (`kubectl logs`).
      issue(dir, "node", `/O=system:nodes/CN=system:node:${NODE_NAME}`, CLIENT_EXT)
      issue(
        dir,
        "node-serving",
        `/CN=${NODE_NAME}`,
        `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:${network.nodeIP},DNS:${NODE_NAME}\n`,
      )
      issue(dir, "apiserver-kubelet-client", "/O=system:masters/CN=kube-apiserver-kubelet-client", CLIENT_EXT)
      writeFileSync(
        join(dir, "node.kubeconfig"),
        kubeconfigText(server, join(dir, "ca.crt"), NODE_NAME, join(dir, "node.crt"), join(dir, "node.key")),
      )
    }

    launch("etcd", [
      "--name=test",
      `--data-dir=${join(dir, "etcd")}`,
      `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=test=http://127.0.0.1:${peerPort}`,
      "--unsafe-no-fsync",
      "--log-level=warn",
    ])
    launch("kube-apiserver", [
      `--etcd-servers=http://127.0.0.1:${etcdPort}`,
      `--bind-address=${apiHost}`,
      `--advertise-address=${apiHost}`,
      `--secure-port=${apiPort}`,
      "--tls-cert-file=apiserver.crt",
      "--tls-private-key-file=apiserver.key",
      "--client-ca-file=ca.crt",
      "--authorization-mode=Node,RBAC",
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      "--service-account-key-file=sa.pub",
      "--service-account-signing-key-file=sa.key",
      "--service-cluster-ip-range=10.96.0.0/16",
      `--cert-dir=${join(dir, "apiserver-certs")}`,
      "--profiling=false",
      "--v=0",
      ...(network
        ? [
            // The kubelet is reached at its InternalIP (no DNS for its hostname here), with a
            // client certificate, and its serving certificate is checked against the cluster's CA.
            "--kubelet-preferred-address-types=InternalIP,Hostname",
            "--kubelet-client-certificate=apiserver-kubelet-client.crt",
            "--kubelet-client-key=apiserver-kubelet-client.key",
            "--kubelet-certificate-authority=ca.crt",
          ]
        : []),
    ])
    const deadline = Date.now() + 60_000
    while ((await probe(`${server}/readyz`, dir)) !== 200) {
      if (Date.now() > deadline) throw new Error("kube-apiserver did not get ready in 60 s")
      if (children.some(({ child }) => child.exitCode !== null)) throw new Error("a component exited")
      await sleep(200)
    }
    launch("kube-controller-manager", [
      "--kubeconfig=controller-manager.kubeconfig",
      "--leader-elect=false",
      "--bind-address=127.0.0.1",
      `--secure-port=${await freePort()}`,
      "--service-account-private-key-file=sa.key",
      "--root-ca-file=ca.crt",
      "--use-service-account-credentials=false",
      "--profiling=false",
      "--v=0",
    ])
    launch("kube-scheduler", [
      "--kubeconfig=scheduler.kubeconfig",
      "--leader-elect=false",
      "--bind-address=127.0.0.1",
      `--secure-port=${await freePort()}`,
      "--profiling=false",
      "--v=0",
    ])
    const adminKubeconfigFile = join(dir, "admin.kubeconfig")
    const kubectl = (args: string[], options: { kubeconfigFile?: string; input?: string } = {}) =>
      runKubectl(args, options.kubeconfigFile ?? adminKubeconfigFile, options.input)
    const kubectlOk = async (args: string[], input?: string) => {
      const ran = await kubectl(args, { input })
      if (ran.status !== 0) throw new Error(`kubectl ${args.join(" ")} failed (${ran.status}): ${ran.stderr}`)
      return ran.stdout
    }
    let nodeDeadline = deadline
    if (network) {
      node = await startNode({
        network,
        dir: join(dir, "node"),
        server,
        caFile: join(dir, "ca.crt"),
        kubeconfigFile: join(dir, "node.kubeconfig"),
        servingCertFile: join(dir, "node-serving.crt"),
        servingKeyFile: join(dir, "node-serving.key"),
      })
      nodeDeadline = Date.now() + 60_000
    } else {
      // kwok's fake kubelet endpoint, on loopback too (it listens on 0.0.0.0 unless told).
      const nodePort = await freePort()
      launch("kwok", [
        "--kubeconfig=kwok.kubeconfig",
        "--config=kwok.yaml",
        "--manage-all-nodes=false",
        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        "--node-ip=127.0.0.1",
        `--node-port=${nodePort}`,
        `--server-address=127.0.0.1:${nodePort}`,
        "--cidr=10.0.0.1/24",
        // kwok renews the node's Lease only when given a duration: without it the node-lifecycle
        // controller marks the node (and every pod on it) not Ready after its grace period (~50 s).
        "--node-lease-duration-seconds=40",
      ])

      await kubectlOk(
        ["apply", "-f", "-"],
        JSON.stringify({
          apiVersion: "v1",
          kind: "Node",
          metadata: {
            name: "kwok-node-0",
            annotations: { "kwok.x-k8s.io/node": "fake" },
            labels: {
              "kubernetes.io/hostname": "kwok-node-0",
              "kubernetes.io/os": "linux",
              "kubernetes.io/arch": "amd64",
              type: "kwok",
            },
          },
          status: {
            allocatable: { cpu: "32", memory: "256Gi", pods: "110" },
            capacity: { cpu: "32", memory: "256Gi", pods: "110" },
          },
        }),
      )
    }
    // Ready: the node is Ready (kwok or the kubelet runs) and the default service account exists (the controller-manager runs).
    const nodeName = node ? node.name : "kwok-node-0"
    while (true) {
      const ready = await kubectl([
        "get",
        "node",
        nodeName,
        "-o",
        'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
      ])
      const account = await kubectl(["get", "serviceaccount", "default", "-n", "default", "-o", "name"])
      if (ready.stdout === "True" && account.status === 0) break
      if (Date.now() > nodeDeadline)
        throw new Error(`the cluster did not get ready in 60 s (node Ready: ${ready.stdout || ready.stderr.trim()})`)
      if (children.some(({ child }) => child.exitCode !== null)) throw new Error("a component exited")
      await sleep(200)
    }

    let users = 0
    return {
      dir,
      server,
      adminKubeconfigFile,
      adminKubeconfig: readFileSync(adminKubeconfigFile, "utf8"),
      node,
      kubectl,
      kubectlOk,
      logs,
      stop,
      helm: (args) => runKubectl(args, adminKubeconfigFile, undefined, helmPath()),
      async restrictedUser(name, namespace, rules) {
        const file = `user-${++users}`
        issue(dir, file, `/CN=${name}`, CLIENT_EXT)
        const role = { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name, namespace }, rules }
        const binding = {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "RoleBinding",
          metadata: { name, namespace },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
          subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name }],
        }
        await kubectlOk(
          ["apply", "-f", "-"],
          JSON.stringify({ apiVersion: "v1", kind: "List", items: [role, binding] }),
        )
        return kubeconfigText(server, join(dir, "ca.crt"), name, join(dir, `${file}.crt`), join(dir, `${file}.key`))
      },
    }
  } catch (error) {
    const message = `cluster: ${(error as Error).message}\n${logs()}`
    await stop()
    throw new Error(message)
  }
}
