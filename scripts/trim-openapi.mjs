#!/usr/bin/env node
// Trims GitHub's REST OpenAPI description down to the operations ci-medic calls,
// plus every component (schema, parameter, response, header, example) that those
// operations reference, directly or transitively.
//
// Usage:
//   node scripts/trim-openapi.mjs <path/to/api.github.com.json> [output.json]
//
// The input is `generated/api.github.com.json` from the npm package
// `@octokit/openapi`. The output defaults to `openapi/github-rest.json` next to this
// script's parent directory. See `openapi/README.md` for the full procedure.
//
// The script is deterministic: the same input gives byte-identical output, so a
// regeneration shows up in review as a plain diff.

import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

// Every operation ci-medic calls, as "METHOD path" exactly as spelt in the spec.
// Keep this list in sync with the client in `src/github/`.
const OPERATIONS = [
  "GET /rate_limit",
  "GET /repos/{owner}/{repo}",
  "GET /repos/{owner}/{repo}/contents/{path}",
  // Actions: runs, jobs, logs, re-runs, workflows.
  "GET /repos/{owner}/{repo}/actions/runs",
  "GET /repos/{owner}/{repo}/actions/runs/{run_id}",
  "GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs",
  "GET /repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt_number}/jobs",
  "GET /repos/{owner}/{repo}/actions/runs/{run_id}/logs",
  "POST /repos/{owner}/{repo}/actions/runs/{run_id}/rerun-failed-jobs",
  "GET /repos/{owner}/{repo}/actions/jobs/{job_id}",
  "GET /repos/{owner}/{repo}/actions/jobs/{job_id}/logs",
  "POST /repos/{owner}/{repo}/actions/jobs/{job_id}/rerun",
  "GET /repos/{owner}/{repo}/actions/workflows",
  "GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs",
  "POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches",
  // Issues, comments, labels, events.
  "GET /repos/{owner}/{repo}/issues",
  "POST /repos/{owner}/{repo}/issues",
  "GET /repos/{owner}/{repo}/issues/{issue_number}",
  "PATCH /repos/{owner}/{repo}/issues/{issue_number}",
  "GET /repos/{owner}/{repo}/issues/{issue_number}/comments",
  "POST /repos/{owner}/{repo}/issues/{issue_number}/comments",
  "PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}",
  "POST /repos/{owner}/{repo}/issues/{issue_number}/labels",
  "DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}",
  "GET /repos/{owner}/{repo}/issues/{issue_number}/events",
  "GET /repos/{owner}/{repo}/labels/{name}",
  "POST /repos/{owner}/{repo}/labels",
  "GET /repos/{owner}/{repo}/collaborators/{username}/permission",
  // Git database.
  "GET /repos/{owner}/{repo}/git/ref/{ref}",
  "POST /repos/{owner}/{repo}/git/refs",
  "PATCH /repos/{owner}/{repo}/git/refs/{ref}",
  "DELETE /repos/{owner}/{repo}/git/refs/{ref}",
  "GET /repos/{owner}/{repo}/git/commits/{commit_sha}",
  "POST /repos/{owner}/{repo}/git/commits",
  "GET /repos/{owner}/{repo}/git/trees/{tree_sha}",
  "POST /repos/{owner}/{repo}/git/trees",
  "POST /repos/{owner}/{repo}/git/blobs",
  // Commits and pull requests.
  "GET /repos/{owner}/{repo}/commits",
  "GET /repos/{owner}/{repo}/commits/{ref}",
  "GET /repos/{owner}/{repo}/commits/{commit_sha}/pulls",
  "GET /repos/{owner}/{repo}/pulls",
  "POST /repos/{owner}/{repo}/pulls",
  "GET /repos/{owner}/{repo}/pulls/{pull_number}",
  "PATCH /repos/{owner}/{repo}/pulls/{pull_number}",
  // Dr. CI: the merge base, and check runs.
  "GET /repos/{owner}/{repo}/compare/{basehead}",
  "POST /repos/{owner}/{repo}/check-runs",
  "PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}",
  "GET /repos/{owner}/{repo}/commits/{ref}/check-runs",
  // Pull-request automations: files, repository labels, comment deletion, run cancel.
  "GET /repos/{owner}/{repo}/pulls/{pull_number}/files",
  "GET /repos/{owner}/{repo}/labels",
  "DELETE /repos/{owner}/{repo}/issues/comments/{comment_id}",
  "POST /repos/{owner}/{repo}/actions/runs/{run_id}/cancel",
  // Comment commands: reactions, reviews, merging, updating a branch.
  "POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions",
  "GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews",
  "PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge",
  "PUT /repos/{owner}/{repo}/pulls/{pull_number}/update-branch",
  // Stale approvals: dismissing a review.
  "PUT /repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}/dismissals",
  // Downstream CI: repository_dispatch across repositories.
  "POST /repos/{owner}/{repo}/dispatches",
];

const HTTP_METHODS = new Set(["get", "put", "post", "delete", "options", "head", "patch", "trace"]);

function usage(message) {
  if (message) console.error(`error: ${message}`);
  console.error("usage: node scripts/trim-openapi.mjs <api.github.com.json> [output.json]");
  process.exit(2);
}

const [input, outputArg] = process.argv.slice(2);
if (!input) usage("missing the path of the full description");
const here = dirname(fileURLToPath(import.meta.url));
const output = outputArg ? resolve(outputArg) : join(here, "..", "openapi", "github-rest.json");

const full = JSON.parse(readFileSync(input, "utf8"));
if (typeof full.openapi !== "string" || !full.paths || !full.components) {
  usage(`${input} does not look like an OpenAPI description`);
}

// 1. Pick the operations, keeping the spec's own order of paths and methods.
const wanted = new Map(); // path -> Set(method)
for (const op of OPERATIONS) {
  const [method, path] = op.split(" ");
  if (!wanted.has(path)) wanted.set(path, new Set());
  wanted.get(path).add(method.toLowerCase());
}
const paths = {};
const missing = [];
for (const [path, methods] of wanted) {
  const item = full.paths[path];
  if (!item) {
    for (const m of methods) missing.push(`${m.toUpperCase()} ${path}`);
    continue;
  }
  const kept = {};
  for (const [key, value] of Object.entries(item)) {
    // Path-level fields that are not operations (parameters, summary...) stay.
    if (!HTTP_METHODS.has(key) || methods.has(key)) kept[key] = value;
  }
  for (const m of methods) if (!item[m]) missing.push(`${m.toUpperCase()} ${path}`);
  paths[path] = kept;
}
if (missing.length > 0) {
  console.error("error: operations not found in the description:");
  for (const m of missing) console.error(`  ${m}`);
  process.exit(1);
}
const orderedPaths = {};
for (const path of Object.keys(full.paths)) if (paths[path]) orderedPaths[path] = paths[path];

// 2. Follow `$ref`s to a fixed point.
const REF = /^#\/components\/([^/]+)\/([^/]+)$/;
const needed = new Map(); // kind -> Set(name)
const queue = [];
function collect(node) {
  if (Array.isArray(node)) {
    for (const item of node) collect(item);
  } else if (node && typeof node === "object") {
    for (const [key, value] of Object.entries(node)) {
      if (key === "$ref" && typeof value === "string") {
        const m = REF.exec(value);
        if (!m) throw new Error(`unsupported reference ${value}`);
        const [, kind, rawName] = m;
        const name = rawName.replace(/~1/g, "/").replace(/~0/g, "~");
        if (!needed.has(kind)) needed.set(kind, new Set());
        if (!needed.get(kind).has(name)) {
          needed.get(kind).add(name);
          queue.push([kind, name]);
        }
      } else {
        collect(value);
      }
    }
  }
}
collect(orderedPaths);
while (queue.length > 0) {
  const [kind, name] = queue.shift();
  const target = full.components[kind]?.[name];
  if (target === undefined) throw new Error(`dangling reference #/components/${kind}/${name}`);
  collect(target);
}

// 3. Copy the referenced components, in the spec's own order.
const components = {};
for (const [kind, entries] of Object.entries(full.components)) {
  const names = needed.get(kind);
  if (!names) continue;
  components[kind] = {};
  for (const [name, value] of Object.entries(entries)) {
    if (names.has(name)) components[kind][name] = value;
  }
}

// 4. Keep only the tags in use.
const usedTags = new Set();
for (const item of Object.values(orderedPaths)) {
  for (const [key, op] of Object.entries(item)) {
    if (HTTP_METHODS.has(key)) for (const t of op.tags ?? []) usedTags.add(t);
  }
}

const trimmed = {
  openapi: full.openapi,
  info: {
    ...full.info,
    "x-ci-medic-trimmed": {
      note: "Trimmed by scripts/trim-openapi.mjs to the operations ci-medic calls and the components they reference.",
      source: "npm package @octokit/openapi, file generated/api.github.com.json",
      "source-version": full.info?.version ?? "unknown",
      operations: OPERATIONS.length,
    },
  },
  servers: full.servers,
  tags: (full.tags ?? []).filter((t) => usedTags.has(t.name)),
  externalDocs: full.externalDocs,
  paths: orderedPaths,
  components,
};

writeFileSync(output, JSON.stringify(trimmed, null, 2) + "\n");
const counts = Object.entries(components)
  .map(([kind, entries]) => `${Object.keys(entries).length} ${kind}`)
  .join(", ");
console.log(`wrote ${output}: ${OPERATIONS.length} operations, ${counts}`);
