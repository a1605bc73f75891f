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
};

module.exports = { Tokenizer, root, tokenizerFiles };
