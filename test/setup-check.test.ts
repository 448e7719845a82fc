/**
 * The setup check, against the GitHub API stand-in and this repository's own workflow templates:
 * what they need (read from the files), each need present, missing, wrong or unchecked in a
 * repository seeded as an organisation would set it up, the summary line, the actions, and that no
 * value ever shows.
 */
import { readFileSync } from "node:fs"

import { describe, expect, test } from "vitest"

import { InvalidArgumentError } from "../src/common/errors.js"
import { Steps } from "../src/common/steps.js"
import { parseSetupArgs, runSetupCheck, workflowTexts, type WorkflowDirectory } from "../src/setup/run.js"
import { workflowNeeds } from "../src/setup/needs.js"
import { setupRequirements } from "../src/setup/requirements.js"
import { startGitHubApi, type EnvironmentOptions, type FaultRule, type GitHubApi } from "./support/github-api.js"

/** The templates docs/operations.md has a service repository copy (ci.yml is this module's own CI). */
const TEMPLATES = ["cd.yml", "deploy.yml", "ghcr-retention.yml", "rehearse.yml"]
const WORKFLOWS = Object.fromEntries(TEMPLATES.map((f) => [f, readFileSync(`.github/workflows/${f}`, "utf8")]))
/** The module the templates call when MEETINITY_RELEASE_MODULE is unset: the commit they pin (test/workflows.test.ts checks it). */
const PINNED = /vars\.MEETINITY_RELEASE_MODULE \|\| '([^']+)'/.exec(WORKFLOWS["cd.yml"]!)![1]!

const REPO = "Meetinity/api-gateway"
/** A variable's value: GitHub's API returns it; the report must never show it. */
const PIN = "github.com/meetinity/meetinity-release@do-not-print-this-value"

const TOKENS = {
  classic: { login: "alice", scopes: ["repo"] },
  fine: {
    login: "alice",
    scopes: ["metadata:read", "actions:read", "environments:read", "secrets:read", "variables:read"],
  },
  "fine-no-secrets": {
    login: "alice",
    scopes: ["metadata:read", "actions:read", "environments:read", "variables:read"],
  },
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/** How a repository is set up: what the stand-in is seeded with. */
interface Seed {
  owner: "Meetinity" | "alice"
  environments: Record<string, Mutable<EnvironmentOptions> & { secrets: string[]; variables?: Record<string, string> }>
  orgSecrets: { name: string; repositories?: string[] }[]
  repoSecrets: string[]
  repoVariables: Record<string, string>
}

const tags = { tags: ["release/v*"] }
const main = { branches: ["main"] }

/** Everything docs/operations.md asks for. */
function complete(): Seed {
  return {
    owner: "Meetinity",
    environments: {
      "meetinity-dev": { refs: tags, secrets: ["KUBECONFIG"] },
      "meetinity-staging": { refs: tags, secrets: ["KUBECONFIG"] },
      "meetinity-prod": { refs: tags, reviewers: 2, preventSelfReview: true, secrets: ["KUBECONFIG"] },
      "ghcr-retention": { refs: main, secrets: ["GHCR_RETENTION_TOKEN"] },
      "ghcr-purge": { refs: main, reviewers: 1, preventSelfReview: true, secrets: ["GHCR_RETENTION_TOKEN"] },
    },
    orgSecrets: [{ name: "GHCR_READER_USERNAME" }, { name: "GHCR_READER_TOKEN", repositories: [REPO] }],
    repoSecrets: [],
    repoVariables: { MEETINITY_RELEASE_MODULE: PIN },
  }
}

function seed(api: GitHubApi, s: Seed): string {
  const repository = s.owner === "Meetinity" ? REPO : "alice/api-gateway"
  api.addRepository(repository)
  for (const [name, e] of Object.entries(s.environments)) {
    api.addEnvironment(repository, name, e)
    for (const secret of e.secrets) api.addSecret({ repository, environment: name }, secret)
    for (const [v, value] of Object.entries(e.variables ?? {}))
      api.addVariable({ repository, environment: name }, v, value)
  }
  for (const o of s.orgSecrets) api.addSecret({ organisation: "Meetinity", repositories: o.repositories }, o.name)
  for (const name of s.repoSecrets) api.addSecret({ repository }, name)
  for (const [name, value] of Object.entries(s.repoVariables)) api.addVariable({ repository }, name, value)
  return repository
}

interface Run {
  table: string
  json: { summary: Record<string, unknown>; items: { what: string; status: string; detail?: string; do?: string }[] }
  status: (what: string) => string | undefined
  item: (what: string) => { what: string; status: string; detail?: string; do?: string }
  api: GitHubApi
}

/** Seeds a fresh stand-in, runs the check twice (table and json), and stops the stand-in. */
async function check(
  s: Seed,
  options: { token?: keyof typeof TOKENS; faults?: FaultRule[]; workflows?: Record<string, string> } = {},
): Promise<Run> {
  const api = await startGitHubApi({ owners: { Meetinity: "Organization", alice: "User" }, tokens: TOKENS })
  try {
    const repository = seed(api, s)
    for (const fault of options.faults ?? []) api.addFault(fault)
    const run = (format: "table" | "json") =>
      runSetupCheck(
        parseSetupArgs({ repository, githubApiUrl: api.url, format }),
        options.workflows ?? WORKFLOWS,
        options.token ?? "classic",
        () => {},
        { msPerSecond: 1 },
      )
    const table = await run("table")
    const json = JSON.parse(await run("json")) as Run["json"]
    for (const text of [table, JSON.stringify(json)]) expect(text).not.toContain("do-not-print-this-value")
    const item = (what: string) => {
      const found = json.items.find((i) => i.what === what)
      if (!found) throw new Error(`no item ${what}; items: ${json.items.map((i) => i.what).join(", ")}`)
      return found
    }
    return { table, json, status: (what) => json.items.find((i) => i.what === what)?.status, item, api }
  } finally {
    await api.stop()
  }
}

/** Every item's status but those named, which must have the status given. */
function expectStatuses(run: Run, expected: Record<string, string>, others = "present") {
  const actual = Object.fromEntries(run.json.items.map((i) => [i.what, i.status]))
  const wanted = Object.fromEntries(run.json.items.map((i) => [i.what, expected[i.what] ?? others]))
  expect(actual).toEqual(wanted)
  for (const what of Object.keys(expected)) expect(actual, what).toHaveProperty([what])
}

const ALL = 20

describe("what the workflow templates need, read from the files", () => {
  const needs = workflowNeeds(WORKFLOWS)

  test("the five environments, deploy.yml's dispatch choice resolved to the three namespaces", () => {
    expect(needs.environments.map((e) => e.name)).toEqual([
      "meetinity-dev",
      "meetinity-staging",
      "meetinity-prod",
      "ghcr-retention",
      "ghcr-purge",
    ])
    const prod = needs.environments.find((e) => e.name === "meetinity-prod")!
    expect(prod.uses).toEqual([
      { file: "cd.yml", job: "deploy-prod" },
      { file: "deploy.yml", job: "deploy" },
    ])
    expect(prod.secrets).toEqual(["GHCR_READER_TOKEN", "GHCR_READER_USERNAME", "KUBECONFIG"])
    expect(needs.environments.find((e) => e.name === "ghcr-purge")!.secrets).toEqual(["GHCR_RETENTION_TOKEN"])
    expect(needs.notes).toEqual([])
  })

  test("secrets and variables: GITHUB_TOKEN is no need, a fallback after || makes one optional", () => {
    expect(needs.secrets.map((s) => [s.name, s.optional, s.fallback ?? null])).toEqual([
      ["GHCR_READER_TOKEN", false, null],
      ["GHCR_READER_USERNAME", false, null],
      ["GHCR_RETENTION_TOKEN", true, "secrets.GITHUB_TOKEN"],
      ["KUBECONFIG", false, null],
    ])
    const pin = needs.variables.find((v) => v.name === "MEETINITY_RELEASE_MODULE")!
    expect(pin).toMatchObject({
      optional: true,
      outside: true,
      fallback: PINNED,
    })
    expect(pin.uses.map((u) => u.file)).toEqual(TEMPLATES)
    expect(pin.purpose).toMatch(/module every workflow calls/)
  })

  test("the requirements: 5 environments, their rules and reviewers, one KUBECONFIG per namespace", () => {
    expect(setupRequirements(needs).requirements).toHaveLength(ALL)
  })

  test("index form, an if: without ${{ }}, an environment it cannot resolve and a file that is not YAML", () => {
    const odd = workflowNeeds({
      "a.yml": [
        "on: push",
        "jobs:",
        "  one:",
        "    if: vars.ENABLED == 'yes'",
        "    environment: ${{ github.ref_name }}",
        "    runs-on: ubuntu-latest",
        "    steps:",
        "      - run: echo ${{ secrets['DEPLOY_KEY'] }} ${{ secrets.other_key }}",
      ].join("\n"),
      "b.yml": "jobs: [unclosed",
    })
    expect(odd.variables.map((v) => v.name)).toEqual(["ENABLED"])
    expect(odd.secrets.map((s) => [s.name, s.outside, s.optional])).toEqual([
      ["DEPLOY_KEY", true, false],
      ["OTHER_KEY", true, false],
    ])
    expect(odd.notes).toEqual([
      expect.stringMatching(
        /^job one of a\.yml runs in environment "\$\{\{ github\.ref_name \}\}", which this check cannot resolve/,
      ),
      expect.stringMatching(/^b\.yml is not valid YAML/),
    ])
  })

  test.each([
    // cd.yml's way: the first job hands a namespace of the env block on; the deploy job's environment reads it.
    ["an env value handed on as a job output", "${{ env.NAMESPACE_DEV }}", ["meetinity-dev"], []],
    ["an output of a step: not resolved, said so", "${{ steps.pick.outputs.namespace }}", [], [/cannot resolve/]],
    ["an env value that is itself an expression: not resolved", "${{ env.FROM_VARS }}", [], [/cannot resolve/]],
  ])("environment from a job's output: %s", (_, output, environments, notes) => {
    const found = workflowNeeds({
      "c.yml": [
        "on: push",
        "env:",
        "  NAMESPACE_DEV: meetinity-dev",
        "  FROM_VARS: ${{ vars.NAMESPACE }}",
        "jobs:",
        "  first:",
        "    runs-on: ubuntu-latest",
        `    outputs: { namespace: "${output}" }`,
        "    steps: [{ run: 'true' }]",
        "  deploy:",
        "    needs: first",
        "    environment: ${{ needs.first.outputs.namespace }}",
        "    runs-on: ubuntu-latest",
        "    steps:",
        "      - run: echo ${{ secrets.KUBECONFIG }}",
      ].join("\n"),
    })
    expect(found.environments.map((e) => e.name)).toEqual(environments)
    expect(found.secrets.find((s) => s.name === "KUBECONFIG")!.environments).toEqual(environments)
    expect(found.notes).toEqual(notes.map((n) => expect.stringMatching(n)))
  })
})

describe("a repository checked against the templates' needs", () => {
  test("set up as docs/operations.md says: nothing missing", async () => {
    const run = await check(complete())
    expectStatuses(run, {})
    expect(run.table.split("\n")[0]).toBe(`0 of ${ALL} missing (${REPO})`)
    expect(run.json.summary).toMatchObject({ total: ALL, present: ALL, missing: 0 })
    expect(run.table).toContain("ok        organisation secret GHCR_READER_TOKEN")
  })

  /** One way a repository differs from a complete setup, and what the check must say of it. */
  interface Case {
    case: string
    change: (s: Seed) => unknown
    expected: Record<string, string>
    summary: string
    shows: string[]
  }

  test.each<Case>([
    {
      case: "an environment missing: it, its rules and its KUBECONFIG",
      change: (s: Seed) => delete s.environments["meetinity-staging"],
      expected: {
        "environment meetinity-staging": "missing",
        "deployment rules of meetinity-staging": "missing",
        "environment secret KUBECONFIG in meetinity-staging": "missing",
      },
      summary: `3 of ${ALL} missing`,
      shows: [
        `do:      Settings → Environments → New environment "meetinity-staging", or: gh api -X PUT repos/${REPO}/environments/meetinity-staging`,
      ],
    },
    {
      case: "KUBECONFIG missing in meetinity-prod",
      change: (s: Seed) => (s.environments["meetinity-prod"]!.secrets = []),
      expected: { "environment secret KUBECONFIG in meetinity-prod": "missing" },
      summary: `1 of ${ALL} missing`,
      shows: [
        `gh secret set KUBECONFIG --env meetinity-prod --repo ${REPO} < kubeconfig.yaml`,
        "used by: cd.yml (deploy-prod), deploy.yml (deploy)",
      ],
    },
    {
      case: "the organisation secret GHCR_READER_TOKEN missing",
      change: (s: Seed) => (s.orgSecrets = s.orgSecrets.filter((o) => o.name !== "GHCR_READER_TOKEN")),
      expected: { "organisation secret GHCR_READER_TOKEN": "missing" },
      summary: `1 of ${ALL} missing`,
      shows: ["gh secret set GHCR_READER_TOKEN --org Meetinity --visibility selected --repos api-gateway"],
    },
    {
      case: "GHCR_READER_TOKEN shared with other repositories only",
      change: (s: Seed) => (s.orgSecrets[1]!.repositories = ["Meetinity/event-service"]),
      expected: { "organisation secret GHCR_READER_TOKEN": "missing" },
      summary: `1 of ${ALL} missing`,
      shows: ["Repository access"],
    },
    {
      case: "wrong deployment rules: every ref, protected branches, a branch besides the default",
      change: (s: Seed) => {
        s.environments["meetinity-prod"]!.refs = "all"
        s.environments["meetinity-dev"]!.refs = "protected"
        s.environments["ghcr-retention"]!.refs = { branches: ["main", "develop"] }
        s.environments["meetinity-staging"]!.refs = { tags: ["release/v*"], branches: ["release/*"] }
      },
      expected: {
        "deployment rules of meetinity-prod": "wrong",
        "deployment rules of meetinity-dev": "wrong",
        "deployment rules of ghcr-retention": "wrong",
        "deployment rules of meetinity-staging": "wrong",
      },
      summary: `0 of ${ALL} missing, 4 wrong`,
      shows: [
        "why:     every branch and tag may deploy to it; expected only tag release/v*",
        "why:     any protected branch may deploy to it; expected only tag release/v*",
        "why:     it allows branch develop, branch main; expected only branch main",
        "why:     it allows branch release/*, tag release/v*; expected only tag release/v*",
      ],
    },
    {
      case: "reviewers: none on ghcr-purge, self-review allowed on meetinity-prod",
      change: (s: Seed) => {
        s.environments["ghcr-purge"]!.reviewers = 0
        s.environments["meetinity-prod"]!.preventSelfReview = false
      },
      expected: { "required reviewers of ghcr-purge": "missing", "required reviewers of meetinity-prod": "wrong" },
      summary: `1 of ${ALL} missing, 1 wrong`,
      shows: ["prevent self-review is off", 'tick "Prevent self-review"'],
    },
    {
      case: "GHCR_RETENTION_TOKEN as a repository secret (docs forbid it) and not in its environments",
      change: (s: Seed) => {
        s.environments["ghcr-retention"]!.secrets = []
        s.environments["ghcr-purge"]!.secrets = []
        s.repoSecrets = ["GHCR_RETENTION_TOKEN"]
      },
      expected: {
        "environment secret GHCR_RETENTION_TOKEN in ghcr-retention": "wrong",
        "environment secret GHCR_RETENTION_TOKEN in ghcr-purge": "wrong",
      },
      summary: `0 of ${ALL} missing, 2 wrong`,
      shows: [`gh secret delete GHCR_RETENTION_TOKEN --repo ${REPO}`, "on any branch, can read it"],
    },
    {
      case: "KUBECONFIG only as a repository secret: every namespace would share it",
      change: (s: Seed) => {
        for (const n of ["meetinity-dev", "meetinity-staging", "meetinity-prod"]) s.environments[n]!.secrets = []
        s.repoSecrets = ["KUBECONFIG"]
      },
      expected: {
        "environment secret KUBECONFIG in meetinity-dev": "wrong",
        "environment secret KUBECONFIG in meetinity-staging": "wrong",
        "environment secret KUBECONFIG in meetinity-prod": "wrong",
      },
      summary: `0 of ${ALL} missing, 3 wrong`,
      shows: [
        "every environment would share: meetinity-prod needs its own environment secret",
        `gh secret delete KUBECONFIG --repo ${REPO}`,
      ],
    },
    {
      case: "no GHCR_RETENTION_TOKEN in an organisation: GITHUB_TOKEN cannot list its packages",
      change: (s: Seed) => {
        s.environments["ghcr-retention"]!.secrets = []
        s.environments["ghcr-purge"]!.secrets = []
      },
      expected: {
        "environment secret GHCR_RETENTION_TOKEN in ghcr-retention": "missing",
        "environment secret GHCR_RETENTION_TOKEN in ghcr-purge": "missing",
      },
      summary: `2 of ${ALL} missing`,
      shows: ["cannot list an organisation's packages"],
    },
    {
      case: "no MEETINITY_RELEASE_MODULE: optional, the pinned default is used",
      change: (s: Seed) => (s.repoVariables = {}),
      expected: { "repository variable MEETINITY_RELEASE_MODULE": "optional" },
      summary: `0 of ${ALL} missing, 1 optional not set`,
      shows: [`why:     the workflows use ${PINNED} without it`],
    },
  ])("$case", async ({ change, expected, summary, shows }) => {
    const s = complete()
    change(s)
    const run = await check(s)
    expectStatuses(run, expected)
    expect(run.table.split("\n")[0]).toBe(`${summary} (${REPO})`)
    for (const text of shows) expect(run.table).toContain(text)
  })

  test("a user's repository without GHCR_RETENTION_TOKEN: optional; the reader secrets as repository secrets", async () => {
    const s = complete()
    s.owner = "alice"
    s.orgSecrets = []
    s.environments["ghcr-retention"]!.secrets = []
    s.environments["ghcr-purge"]!.secrets = []
    s.repoSecrets = ["GHCR_READER_USERNAME", "GHCR_READER_TOKEN"]
    const run = await check(s)
    expectStatuses(run, {
      "environment secret GHCR_RETENTION_TOKEN in ghcr-retention": "optional",
      "environment secret GHCR_RETENTION_TOKEN in ghcr-purge": "optional",
    })
    expect(run.item("organisation secret GHCR_READER_TOKEN").detail).toBe(
      "as a repository secret (docs/operations.md: an organisation secret)",
    )
    // A user has no organisation secrets to list.
    expect(run.api.counts.get("GET org secrets")).toBeUndefined()
  })
})

describe("what the token may not read is reported, not fatal", () => {
  test("a fine-grained token without Secrets: read: every secret could not be checked, the rest is", async () => {
    const run = await check(complete(), { token: "fine-no-secrets" })
    const secrets = [
      "organisation secret GHCR_READER_TOKEN",
      "organisation secret GHCR_READER_USERNAME",
      "environment secret GHCR_RETENTION_TOKEN in ghcr-retention",
      "environment secret GHCR_RETENTION_TOKEN in ghcr-purge",
      "environment secret KUBECONFIG in meetinity-dev",
      "environment secret KUBECONFIG in meetinity-staging",
      "environment secret KUBECONFIG in meetinity-prod",
    ]
    expectStatuses(run, Object.fromEntries(secrets.map((w) => [w, "unchecked"])))
    expect(run.table.split("\n")[0]).toBe(`0 of ${ALL} missing, 7 could not be checked (${REPO})`)
    expect(run.item("environment secret KUBECONFIG in meetinity-prod").detail).toBe(
      "could not check: GitHub answered 403 (Resource not accessible by personal access token): the token needs the repo scope (a classic token), or Environments: read and Secrets: read on the repository (a fine-grained token); GitHub accepts environments=read,secrets=read",
    )
  })

  test("each read is a step (a span and a record): a refused listing ends as 'could not read', not failed", async () => {
    const api = await startGitHubApi({ owners: { Meetinity: "Organization" }, tokens: TOKENS })
    try {
      const repository = seed(api, complete())
      const steps = new Steps()
      const args = parseSetupArgs({ repository, githubApiUrl: api.url, format: "table" })
      await runSetupCheck(args, WORKFLOWS, "fine-no-secrets", () => {}, { msPerSecond: 1, steps })
      const records = Object.fromEntries(steps.records.map((r) => [r.step, `${r.state}: ${r.detail ?? ""}`]))
      expect(records).toMatchObject({
        "read repository": "done: ",
        "list environments": "done: 5 listed",
        "list deployment rules of meetinity-prod": "done: 1 listed",
        "list secrets of meetinity-prod": "done: could not read",
        "list repository secrets": "done: could not read",
        "list organisation secrets": "done: could not read",
        "list repository variables": "done: 1 listed",
        "list organisation variables": "done: 0 listed",
      })
      // Nothing is read that no requirement needs: no environment's variables.
      expect(Object.keys(records).filter((s) => s.startsWith("list variables of"))).toEqual([])
    } finally {
      await api.stop()
    }
  })

  test("one listing refused (the organisation's secrets): only what it would tell is unchecked", async () => {
    const run = await check(complete(), {
      token: "fine",
      faults: [{ path: /\/actions\/organization-secrets$/, times: 5, fault: { kind: "forbidden" } }],
    })
    expectStatuses(run, {
      "organisation secret GHCR_READER_TOKEN": "unchecked",
      "organisation secret GHCR_READER_USERNAME": "unchecked",
    })
    expect(run.table).toContain("UNCHECKED organisation secret GHCR_READER_TOKEN")
  })

  test("an environment's secrets refused: a repository secret of the name does not make it wrong, only unchecked", async () => {
    const s = complete()
    s.repoSecrets = ["KUBECONFIG"]
    const run = await check(s, {
      faults: [{ path: /\/environments\/meetinity-prod\/secrets$/, times: 5, fault: { kind: "forbidden" } }],
    })
    expectStatuses(run, { "environment secret KUBECONFIG in meetinity-prod": "unchecked" })
  })

  test("a repository the token cannot see, or a bad token, fails the check with what to do", async () => {
    const api = await startGitHubApi({ owners: { Meetinity: "Organization" }, tokens: TOKENS })
    try {
      const args = parseSetupArgs({ repository: "Meetinity/nowhere", githubApiUrl: api.url, format: "table" })
      await expect(runSetupCheck(args, WORKFLOWS, "classic", () => {}, { msPerSecond: 1 })).rejects.toThrow(
        /repository Meetinity\/nowhere was not found, or the token cannot see it/,
      )
      await expect(runSetupCheck(args, WORKFLOWS, "no-such-token", () => {}, { msPerSecond: 1 })).rejects.toThrow(
        /401 \(bad credentials\)/,
      )
    } finally {
      await api.stop()
    }
  })
})

describe("every page is read", () => {
  test("150 repository secrets and 40 repository variables: the ones needed are on the second page", async () => {
    const s = complete()
    s.orgSecrets = []
    // Sorted by name, the reader secrets come after 150 others: page 2 of 100.
    s.repoSecrets = [
      ...Array.from({ length: 150 }, (_, i) => `A_SECRET_${String(i).padStart(3, "0")}`),
      "GHCR_READER_USERNAME",
      "GHCR_READER_TOKEN",
    ]
    s.repoVariables = {
      ...Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`A_VAR_${String(i).padStart(2, "0")}`, "x"])),
      MEETINITY_RELEASE_MODULE: PIN,
    }
    const run = await check(s)
    expectStatuses(run, {})
    // Twice over (the table and the JSON run): two pages of secrets (100 a page), two of variables (30 a page).
    expect(run.api.counts.get("GET repo secrets")).toBe(4)
    expect(run.api.counts.get("GET repo variables")).toBe(4)
  })
})

describe("a variable read inside an environment's job", () => {
  const workflow = {
    "w.yml": [
      "on: push",
      "jobs:",
      "  a:",
      "    runs-on: ubuntu-latest",
      "    environment: one",
      "    steps: [{ run: 'echo ${{ vars.REGION }}' }]",
      "  b:",
      "    runs-on: ubuntu-latest",
      "    environment: { name: two }",
      "    steps: [{ run: 'echo ${{ vars.REGION }}' }]",
    ].join("\n"),
  }
  const seeded = (twoHasIt: boolean): Seed => ({
    ...complete(),
    environments: {
      one: { secrets: [], variables: { REGION: "eu" } },
      two: { secrets: [], variables: twoHasIt ? { REGION: "us" } : {} },
    },
  })

  test("is there when every such environment has it", async () => {
    const run = await check(seeded(true), { workflows: workflow })
    expect(run.status("repository variable REGION")).toBe("present")
  })

  test("is missing when one lacks it and neither the repository nor the organisation has it", async () => {
    const run = await check(seeded(false), { workflows: workflow })
    expect(run.status("repository variable REGION")).toBe("missing")
    expect(run.item("repository variable REGION").do).toBe(`gh variable set REGION --repo ${REPO} --body <value>`)
  })
})

describe("arguments and files", () => {
  test.each([
    {
      raw: { repository: "meetinity", format: "table" },
      error: 'repository "meetinity" is not a repository: expected owner/name',
    },
    {
      raw: { repository: "-x/y", format: "table" },
      error: 'repository "-x" is not a GitHub user or organisation name',
    },
    {
      raw: { repository: "a/b", format: "yaml" },
      error: 'format "yaml" is not a report format: expected table or json',
    },
  ])("refuses $raw", ({ raw, error }) => {
    const parse = () => parseSetupArgs({ githubApiUrl: "https://api.github.com", ...raw })
    expect(parse).toThrow(InvalidArgumentError)
    expect(parse).toThrow(error)
  })

  test("reads a repository's root through .github/workflows, and refuses a directory without workflows", async () => {
    const files: Record<string, string> = { "cd.yml": "a", "notes.md": "b", "deploy.yaml": "c" }
    const workflows: WorkflowDirectory = {
      entries: () => Promise.resolve(Object.keys(files)),
      file: (path) => ({ contents: () => Promise.resolve(files[path]!) }),
      directory: () => workflows,
    }
    const root: WorkflowDirectory = {
      entries: () => Promise.resolve([".github/", "Dockerfile"]),
      file: () => ({ contents: () => Promise.reject(new Error("not a file")) }),
      directory: (path) => (path === ".github/workflows" ? workflows : root),
    }
    expect(await workflowTexts(root)).toEqual({ "cd.yml": "a", "deploy.yaml": "c" })
    const empty: WorkflowDirectory = { ...workflows, entries: () => Promise.resolve(["README.md"]) }
    await expect(workflowTexts(empty)).rejects.toThrow('workflows ["README.md"] has no workflow file')
  })
})
