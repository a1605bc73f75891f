// Regenerates tests/fixtures/tokenizer/*.json with Hugging Face's own
// tokenizer implementation (npm tokenizers@0.23.2, the Rust library):
// encode(text, add_special_tokens=False) ids of every hard string, and the
// token count of the default corpus.
//
//   scripts/fetch-npm-files oracle
//   node tests/oracle/generate_fixtures.js
//
// The fixtures are committed; the C++ tests compare against them.
const fs = require("fs");
const path = require("path");
const { Tokenizer, root, tokenizerFiles } = require("./oracle");

async function main() {
  const strings = JSON.parse(fs.readFileSync(path.join(__dirname, "hard_strings.json"), "utf8"));
  const corpus = fs.readFileSync(path.join(root, "data/corpus/moby-dick.txt"), "utf8");
  for (const [name, file] of Object.entries(tokenizerFiles)) {
    const tokenizer = Tokenizer.fromFile(file);
    const cases = [];
    for (const text of strings) {
      const encoding = await tokenizer.encode(text, null, { addSpecialTokens: false });
      cases.push({ text, ids: encoding.getIds() });
    }
    const corpusIds = (await tokenizer.encode(corpus, null, { addSpecialTokens: false })).getIds();
    const fixture = {
      tokenizer: name,
      oracle: "npm tokenizers@0.23.2, encode(text, add_special_tokens=False)",
      corpus: "data/corpus/moby-dick.txt",
      corpus_count: corpusIds.length,
      cases,
    };
    const out = path.join(root, "tests/fixtures/tokenizer", `${name.replace("/", "_")}.json`);
    fs.writeFileSync(out, JSON.stringify(fixture, null, 0) + "\n");
    console.log(`${name}: ${cases.length} strings, corpus ${corpusIds.length} tokens -> ${out}`);
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
