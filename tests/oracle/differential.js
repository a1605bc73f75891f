// Checks convgen's output against Hugging Face's own tokenizer (npm
// tokenizers@0.23.2): re-encodes every message of `convgen generate --format
// jsonl-ids` files with encode(content, add_special_tokens=False) and checks,
// per message:
//   invalid_utf8        the raw bytes of the output line are not valid UTF-8
//   lone_surrogate      the content holds a lone surrogate (a "\udXXX" escape)
//   replacement_char    the content holds U+FFFD but the corpus has none (a
//                       cut inside a character, repaired by someone)
//   ids_mismatch        valid text, but HF's ids != token_ids (first
//                       differing position, tokens and context shown)
//   count_mismatch      valid text, but HF's count != num_tokens
//   len_mismatch        len(token_ids) != num_tokens
//   max_tokens_mismatch an assistant message whose num_tokens != max_tokens
//   target_mismatch     an assistant max_tokens other than the config's
//                       constant (when the manifest gives one)
//   malformed           a line that is not a message object
// and per output file (`structure`): conversations 0..N-1 all present, turns
// numbered from 0 without gaps, roles alternating user/assistant, an even
// number of turns within the config's range.
//
//   node tests/oracle/differential.js --tokenizer llama3=PATH [--corpus CORPUS.txt] OUT.jsonl...
//   node tests/oracle/differential.js --manifest MANIFEST.json [--json SUMMARY.json]
//
// A manifest is {"tokenizer": {"name", "path"}, "runs": [{"kind", "config",
// "output", "corpus", "expect": {"num_conversations", "min_turns",
// "max_turns", "assistant_tokens"}}]} (expect and its fields optional). The
// summary (stdout, or --json FILE) is {"tokenizer", "load_ms", "runs":
// [{"kind", "config", "output", "messages", "exact", "failures": {CLASS:
// {"count", "examples": [...up to 5]}}}]}. Exit 0 when every message of every
// run is exact and every structure check passes, 1 otherwise, 2 on bad usage.
"use strict";

const fs = require("fs");
const path = require("path");

const dataDir = process.env.CONVGEN_TEST_DATA || path.join(process.env.HOME, ".cache/convgen/test-data");
const MAX_EXAMPLES = 5;
const CONTEXT_CHARS = 40;  // code points shown either side of a mismatch
const WINDOW_IDS = 6;      // ids shown either side of the first differing one

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const lenientUtf8 = new TextDecoder("utf-8");

class RunResult {
  constructor(run) {
    this.kind = run.kind || "";
    this.config = run.config || "";
    this.output = run.output;
    this.messages = 0;
    this.exact = 0;
    this.failures = {};
  }
  fail(cls, example) {
    const entry = (this.failures[cls] ||= { count: 0, examples: [] });
    entry.count++;
    if (entry.examples.length < MAX_EXAMPLES) entry.examples.push(example);
  }
}

// Content around code point `at`, escaped so that invisible characters show.
function context(codePoints, at) {
  const before = codePoints.slice(Math.max(0, at - CONTEXT_CHARS), at).join("");
  const after = codePoints.slice(at, at + CONTEXT_CHARS).join("");
  return `${JSON.stringify(before).slice(0, -1)}⟦HERE⟧${JSON.stringify(after).slice(1)}`;
}

function firstDifference(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

async function idsExample(tokenizer, message, hfEncoding, hfIds, ourIds) {
  const k = firstDifference(hfIds, ourIds);
  const codePoints = Array.from(message.content);
  const offsets = hfEncoding.getOffsets();  // code points of the original text
  const at = k < offsets.length ? offsets[k][0] : codePoints.length;
  const lo = Math.max(0, k - WINDOW_IDS);
  const tokens = (ids) => ids.map((id) => tokenizer.idToToken(id) ?? `<bad id ${id}>`);
  const decode = async (ids) => {
    try { return await tokenizer.decode(ids, false); } catch (e) { return `<decode failed: ${e.message}>`; }
  };
  const hfWindow = hfIds.slice(lo, k + WINDOW_IDS);
  const ourWindow = ourIds.slice(lo, k + WINDOW_IDS);
  return {
    ...where(message),
    num_tokens: message.num_tokens,
    hf_count: hfIds.length,
    our_count: ourIds.length,
    first_diff: k,
    window_start: lo,
    hf_ids: hfWindow,
    our_ids: ourWindow,
    hf_tokens: tokens(hfWindow),
    our_tokens: tokens(ourWindow),
    hf_text: await decode(hfWindow),
    our_text: await decode(ourWindow),
    context: context(codePoints, at),
  };
}

function where(message) {
  return {
    conversation_id: message.conversation_id,
    turn_index: message.turn_index,
    role: message.role,
  };
}

function corpusHasReplacement(file, cache) {
  if (!file) return false;
  if (!cache.has(file)) cache.set(file, fs.existsSync(file) && fs.readFileSync(file, "utf8").includes("\ufffd"));
  return cache.get(file);
}

// Checks one message; returns true when it is exact. `validUtf8` is the raw
// line's check (the content was then decoded with U+FFFD for bad bytes).
async function checkMessage(tokenizer, message, result, run, validUtf8, corpusFffd) {
  if (typeof message.content !== "string" || !Array.isArray(message.token_ids) ||
      !Number.isInteger(message.num_tokens) || (message.role !== "user" && message.role !== "assistant")) {
    result.fail("malformed", { ...where(message), line: JSON.stringify(message).slice(0, 300) });
    return false;
  }
  let exact = true;
  const content = message.content;
  const codePoints = Array.from(content);
  let textProblem = null;
  let badAt = -1;
  if (!validUtf8) {
    textProblem = "invalid_utf8";
    badAt = codePoints.indexOf("\ufffd");
  } else if (!content.isWellFormed()) {
    textProblem = "lone_surrogate";
    badAt = codePoints.findIndex((c) => c.length === 1 && /[\ud800-\udfff]/.test(c));
  } else if (!corpusFffd && content.includes("\ufffd")) {
    textProblem = "replacement_char";
    badAt = codePoints.indexOf("\ufffd");
  }
  const encoding = await tokenizer.encode(content, null, { addSpecialTokens: false });
  const hfIds = encoding.getIds();
  const ourIds = message.token_ids;
  const idsDiffer = firstDifference(hfIds, ourIds) !== -1;
  if (textProblem) {
    // HF never sees these bytes (it encodes the U+FFFD-repaired text), so its
    // ids are shown for context only, not counted as a tokenizer mismatch.
    const example = idsDiffer ? await idsExample(tokenizer, message, encoding, hfIds, ourIds)
      : { ...where(message), num_tokens: message.num_tokens, hf_count: hfIds.length };
    example.context = context(codePoints, badAt);
    result.fail(textProblem, example);
    exact = false;
  } else {
    if (idsDiffer) {
      result.fail("ids_mismatch", await idsExample(tokenizer, message, encoding, hfIds, ourIds));
      exact = false;
    }
    if (hfIds.length !== message.num_tokens) {
      result.fail("count_mismatch", { ...where(message), num_tokens: message.num_tokens, hf_count: hfIds.length,
        token_ids_length: ourIds.length, max_tokens: message.max_tokens, content_chars: codePoints.length });
      exact = false;
    }
  }
  if (ourIds.length !== message.num_tokens) {
    result.fail("len_mismatch", { ...where(message), num_tokens: message.num_tokens, token_ids_length: ourIds.length });
    exact = false;
  }
  if (message.role === "assistant") {
    if (message.max_tokens !== message.num_tokens) {
      result.fail("max_tokens_mismatch", { ...where(message), num_tokens: message.num_tokens, max_tokens: message.max_tokens });
      exact = false;
    }
    const want = run.expect && run.expect.assistant_tokens;
    if (Number.isInteger(want) && message.max_tokens !== want) {
      result.fail("target_mismatch", { ...where(message), expected: want, max_tokens: message.max_tokens });
      exact = false;
    }
  }
  return exact;
}

// Conversations complete and well formed; only meaningful for a run whose
// client succeeded (the driver leaves `expect` out otherwise).
function checkStructure(conversations, run, result) {
  const expect = run.expect || {};
  const problem = (text) => result.fail("structure", { problem: text });
  if (Number.isInteger(expect.num_conversations)) {
    for (let i = 0; i < expect.num_conversations; i++) {
      if (!conversations.has(i)) problem(`conversation ${i} missing`);
    }
    for (const i of conversations.keys()) {
      if (i < 0 || i >= expect.num_conversations) problem(`unexpected conversation index ${i}`);
    }
  }
  // vLLM's rule, as convgen applies it: at least 2 turns, rounded up to even.
  const even = (n) => Math.max(2, n + (n % 2));
  for (const [index, turns] of conversations) {
    const n = turns.length;
    turns.forEach((m, k) => {
      if (m.turn_index !== k) problem(`CONV ${index}: turn ${k} has turn_index ${m.turn_index}`);
      if (m.role !== (k % 2 === 0 ? "user" : "assistant")) problem(`CONV ${index}: turn ${k} has role ${m.role}`);
      if (m.conversation_id !== `CONV_ID_${index}`) problem(`CONV ${index}: conversation_id ${m.conversation_id}`);
    });
    if (n % 2 !== 0) problem(`CONV ${index}: odd number of turns ${n}`);
    if (Number.isInteger(expect.min_turns) && n < even(expect.min_turns)) problem(`CONV ${index}: ${n} turns < ${even(expect.min_turns)}`);
    if (Number.isInteger(expect.max_turns) && n > even(expect.max_turns)) problem(`CONV ${index}: ${n} turns > ${even(expect.max_turns)}`);
  }
}

async function checkRun(tokenizer, run, fffdCache) {
  const result = new RunResult(run);
  if (!fs.existsSync(run.output)) {
    // No output at all: the driver reports the client's failure; here it
    // only means zero messages were checked.
    return result;
  }
  const corpusFffd = corpusHasReplacement(run.corpus, fffdCache);
  const raw = fs.readFileSync(run.output);
  const conversations = new Map();
  let start = 0;
  let lineNo = 0;
  while (start < raw.length) {
    let end = raw.indexOf(0x0a, start);
    if (end < 0) end = raw.length;
    const bytes = raw.subarray(start, end);
    start = end + 1;
    lineNo++;
    if (bytes.length === 0) continue;
    result.messages++;
    let text;
    let validUtf8 = true;
    try {
      text = strictUtf8.decode(bytes);
    } catch (e) {
      validUtf8 = false;
      text = lenientUtf8.decode(bytes);
    }
    let message;
    try {
      message = JSON.parse(text);
    } catch (e) {
      result.fail("malformed", { line: lineNo, error: e.message, text: text.slice(0, 300) });
      continue;
    }
    const exact = await checkMessage(tokenizer, message, result, run, validUtf8, corpusFffd);
    if (exact) result.exact++;
    if (Number.isInteger(message.conversation_index)) {
      if (!conversations.has(message.conversation_index)) conversations.set(message.conversation_index, []);
      conversations.get(message.conversation_index).push(message);
    }
  }
  checkStructure(conversations, run, result);
  return result;
}

function usage(text) {
  console.error(`differential.js: ${text}\nusage: node differential.js --tokenizer NAME=PATH [--corpus FILE] OUT.jsonl...\n` +
    "       node differential.js --manifest MANIFEST.json [--json SUMMARY.json]");
  process.exit(2);
}

function parseArgs(argv) {
  const args = { tokenizer: null, manifest: null, corpus: null, json: null, files: [] };
  for (let i = 0; i < argv.length; i++) {
    const value = () => (i + 1 < argv.length ? argv[++i] : usage(`${argv[i]} needs a value`));
    switch (argv[i]) {
      case "--tokenizer": args.tokenizer = value(); break;
      case "--manifest": args.manifest = value(); break;
      case "--corpus": args.corpus = value(); break;
      case "--json": args.json = value(); break;
      default:
        if (argv[i].startsWith("--")) usage(`unknown argument ${argv[i]}`);
        args.files.push(argv[i]);
    }
  }
  if (args.manifest) return { manifest: JSON.parse(fs.readFileSync(args.manifest, "utf8")), json: args.json };
  if (!args.tokenizer || !args.tokenizer.includes("=") || !args.files.length) usage("need --tokenizer NAME=PATH and output files");
  const eq = args.tokenizer.indexOf("=");
  const manifest = {
    tokenizer: { name: args.tokenizer.slice(0, eq), path: args.tokenizer.slice(eq + 1) },
    runs: args.files.map((f) => ({ kind: "", config: path.basename(f), output: f, corpus: args.corpus })),
  };
  return { manifest, json: args.json };
}

async function main() {
  const { manifest, json: jsonOut } = parseArgs(process.argv.slice(2));
  const { Tokenizer } = require(path.join(dataDir, "node_modules/tokenizers"));
  const started = Date.now();
  const summary = { tokenizer: manifest.tokenizer.name, path: manifest.tokenizer.path, load_ms: 0, runs: [] };
  let tokenizer;
  try {
    tokenizer = Tokenizer.fromFile(manifest.tokenizer.path);
  } catch (e) {
    // The reference itself cannot read the file: nothing can be checked.
    summary.error = `Hugging Face cannot load ${manifest.tokenizer.path}: ${e.message}`;
  }
  summary.load_ms = Date.now() - started;
  const fffdCache = new Map();
  let allExact = !summary.error;
  if (tokenizer) {
    for (const run of manifest.runs) {
      const result = await checkRun(tokenizer, run, fffdCache);
      summary.runs.push(result);
      const failed = Object.entries(result.failures).map(([c, f]) => `${c}=${f.count}`).join(" ");
      console.error(`${summary.tokenizer} ${result.kind} ${result.config}: ${result.exact}/${result.messages} exact${failed ? " " + failed : ""}`);
      if (failed || result.exact !== result.messages) allExact = false;
    }
  }
  const text = JSON.stringify(summary, null, 1) + "\n";
  if (jsonOut) fs.writeFileSync(jsonOut, text);
  else process.stdout.write(text);
  process.exit(allExact ? 0 : 1);
}

main().catch((e) => { console.error(e); process.exit(2); });
