// Derives test-only tokenizer.json files from real ones, for tokenizer
// features no published model file we fetch uses in that combination, and
// writes them to $CONVGEN_TEST_DATA/variants/NAME/tokenizer.json, where
// differential_test.py picks them up. Each variant is loaded and run by
// Hugging Face's implementation (npm tokenizers) before it is kept, so a
// variant HF rejects is never used as a reference.
//
//   node tests/oracle/make_variants.js            # all variants
//   node tests/oracle/make_variants.js --list     # names only
//
// Variants (the base files are fetched by scripts/fetch-npm-files):
//   llama2_metaspace_{first,always,never}_{split,nosplit}
//       Llama 2's file ($CONVGEN_TEST_DATA/mistral) with its Prepend+Replace
//       normalizer removed and a Metaspace pre-tokenizer instead, every
//       prepend_scheme x split combination (what newer SentencePiece
//       conversions write).
//   qwen3_digits_individual, qwen3_digits_grouped
//       Qwen3 with a Digits pre-tokenizer (individual_digits true / false)
//       before its own Split + ByteLevel steps.
//   qwen3_nfkc, qwen3_nfkd, qwen3_nfd, qwen3_lowercase, qwen3_nfd_lowercase
//       Qwen3 with its NFC normalizer replaced.
"use strict";

const fs = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "../..");
const dataDir = process.env.CONVGEN_TEST_DATA || path.join(process.env.HOME, ".cache/convgen/test-data");
const variantsDir = path.join(dataDir, "variants");
const llama2File = path.join(dataDir, "mistral/tokenizer.json");  // Llama 2's file, under that name
const qwen3File = path.join(root, "data/tokenizers/qwen3/tokenizer.json");

// A sample with what each variant changes: leading and repeated spaces for
// Metaspace, digit runs for Digits, compatibility/decomposable/cased text
// for the normalizers, an added token for the split around added tokens.
const SAMPLE = "Hello  World    spaced 12345 ﬁnance ① Ｆｕｌｌ Crème ÅNGSTRÖM Σίσυφος <s>x</s> <|im_start|>▁ end";

function metaspaceVariant(base, prependScheme, split) {
  const json = structuredClone(base);
  json.normalizer = null;
  json.pre_tokenizer = { type: "Metaspace", replacement: "▁", prepend_scheme: prependScheme, split };
  // The Metaspace decoder turns "▁" back into spaces and drops the prepended
  // one. It must run per token, before Fuse: on its first token it drops
  // every "▁", so after Fuse it would drop all spaces.
  json.decoder = {
    type: "Sequence",
    decoders: [
      { type: "Metaspace", replacement: "▁", prepend_scheme: prependScheme, split },
      { type: "ByteFallback" },
      { type: "Fuse" },
    ],
  };
  return json;
}

function digitsVariant(base, individualDigits) {
  const json = structuredClone(base);
  const steps = json.pre_tokenizer.type === "Sequence" ? json.pre_tokenizer.pretokenizers : [json.pre_tokenizer];
  json.pre_tokenizer = {
    type: "Sequence",
    pretokenizers: [{ type: "Digits", individual_digits: individualDigits }, ...steps],
  };
  return json;
}

function normalizerVariant(base, normalizer) {
  const json = structuredClone(base);
  json.normalizer = normalizer;
  return json;
}

function variants() {
  const out = [];
  if (fs.existsSync(llama2File)) {
    const llama2 = JSON.parse(fs.readFileSync(llama2File, "utf8"));
    for (const scheme of ["first", "always", "never"]) {
      for (const split of [true, false]) {
        out.push([`llama2_metaspace_${scheme}_${split ? "split" : "nosplit"}`, () => metaspaceVariant(llama2, scheme, split)]);
      }
    }
  } else {
    console.log(`SKIP Metaspace variants: ${llama2File} is missing (scripts/fetch-npm-files test)`);
  }
  const qwen3 = JSON.parse(fs.readFileSync(qwen3File, "utf8"));
  out.push(["qwen3_digits_individual", () => digitsVariant(qwen3, true)]);
  out.push(["qwen3_digits_grouped", () => digitsVariant(qwen3, false)]);
  out.push(["qwen3_nfkc", () => normalizerVariant(qwen3, { type: "NFKC" })]);
  out.push(["qwen3_nfkd", () => normalizerVariant(qwen3, { type: "NFKD" })]);
  out.push(["qwen3_nfd", () => normalizerVariant(qwen3, { type: "NFD" })]);
  out.push(["qwen3_lowercase", () => normalizerVariant(qwen3, { type: "Lowercase" })]);
  out.push(["qwen3_nfd_lowercase", () => normalizerVariant(qwen3, {
    type: "Sequence", normalizers: [{ type: "NFD" }, { type: "Lowercase" }],
  })]);
  return out;
}

async function main() {
  const list = variants();
  if (process.argv.includes("--list")) {
    for (const [name] of list) console.log(name);
    return;
  }
  const { Tokenizer } = require(path.join(dataDir, "node_modules/tokenizers"));
  let failed = 0;
  for (const [name, make] of list) {
    const dir = path.join(variantsDir, name);
    const file = path.join(dir, "tokenizer.json");
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(file, JSON.stringify(make()));
    try {
      const tokenizer = Tokenizer.fromFile(file);
      const encoding = await tokenizer.encode(SAMPLE, null, { addSpecialTokens: false });
      const ids = encoding.getIds();
      const decoded = await tokenizer.decode(ids, false);
      console.log(`${name}: ${ids.length} ids, ${encoding.getTokens().slice(0, 12).map((t) => JSON.stringify(t)).join(" ")} ...` +
        `\n    decoded ${JSON.stringify(decoded)}\n    -> ${file}`);
    } catch (e) {
      // A file HF refuses would make every comparison meaningless: drop it.
      fs.rmSync(dir, { recursive: true, force: true });
      console.log(`${name}: Hugging Face refuses it (${e.message}); not written`);
      failed++;
    }
  }
  if (failed) process.exit(1);
}

main().catch((e) => { console.error(e); process.exit(1); });
