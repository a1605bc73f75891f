// Seeded generator of hostile corpus text for the differential test
// (tests/oracle/differential_test.py): text that stresses every place where a
// tokenizer re-implementation can drift from Hugging Face's, and every place
// where cutting a corpus at token boundaries can break UTF-8.
//
// Kinds (each a few KB to ~100 KB, always valid UTF-8, never U+FFFD):
//   licence       licence-like prose with every Unicode White_Space and Cf
//                 character, NBSP/ZWJ/ZWNJ/BOM mid-text, U+2028/U+2029, CRLF,
//                 lone CR, tabs, form feeds, double and trailing spaces
//   multilingual  UI strings in 25+ scripts, emoji ZWJ sequences, skin tones,
//                 flags, keycaps, variation selectors, combining marks, NFD
//                 text, fullwidth and compatibility characters (NFKC changes)
//   code          C / Python / JSON / shell with tab and space indentation,
//                 long digit runs, hex, escapes, unicode escapes
//   specials      prose with the tokenizer's own added tokens between and
//                 inside words, chat-template strings, literal "▁", "<0x41>",
//                 long runs of one character, mixed with the other kinds
//
// The output is a pure function of (kind, seed, bytes, added tokens): only
// this file's PRNG is used, so a failing corpus can be regenerated exactly.
//
//   node tests/oracle/hostile_text.js --kind licence --seed 1 --bytes 32768 --out corpus.txt
//   node tests/oracle/hostile_text.js --kinds licence,code,specials --seed 7 \
//       --tokenizer ~/.cache/convgen/test-data/llama3/tokenizer.json --out-dir DIR
//
// Library use: require("./hostile_text").generate(kind, seed, bytes, tokenizerJsonPath?)
"use strict";

const fs = require("fs");
const path = require("path");

const KINDS = ["licence", "multilingual", "code", "specials"];

// ---------------------------------------------------------------------------
// Randomness: mulberry32, seeded by FNV-1a of "kind:seed" so that every kind
// (and every nested use of another kind) gets an independent stream.

function fnv1a(text) {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(text, "utf8")) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

class Rng {
  constructor(label) {
    this.state = fnv1a(String(label)) >>> 0;
  }
  // mulberry32: 32 bits of state, good enough to drive text choices.
  next() {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n) { return Math.floor(this.next() * n); }  // [0, n)
  range(lo, hi) { return lo + this.int(hi - lo + 1); }  // [lo, hi]
  chance(p) { return this.next() < p; }
  pick(items) { return items[this.int(items.length)]; }
  // Mostly short, sometimes long: lengths of runs and snippets.
  skewed(lo, hi) { return lo + Math.floor((hi - lo) * Math.pow(this.next(), 3)); }
  shuffle(items) {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }
}

function range(lo, hi) {
  const out = [];
  for (let c = lo; c <= hi; c++) out.push(String.fromCodePoint(c));
  return out;
}

// Every Unicode White_Space code point (PropList.txt, Unicode 15).
const WHITE_SPACE = [
  ...range(0x09, 0x0d), " ", "\u0085", "\u00a0", "\u1680", ...range(0x2000, 0x200a),
  "\u2028", "\u2029", "\u202f", "\u205f", "\u3000",
];

// Every General_Category=Cf code point (Unicode 15), astral ones included.
const FORMAT_CHARS = [
  "\u00ad", ...range(0x0600, 0x0605), "\u061c", "\u06dd", "\u070f", "\u0890", "\u0891",
  "\u08e2", "\u180e", ...range(0x200b, 0x200f), ...range(0x202a, 0x202e),
  ...range(0x2060, 0x2064), ...range(0x2066, 0x206f), "\ufeff", ...range(0xfff9, 0xfffb),
  "\u{110bd}", "\u{110cd}", ...range(0x13430, 0x1343f), ...range(0x1bca0, 0x1bca3),
  ...range(0x1d173, 0x1d17a), "\u{e0001}", ...range(0xe0020, 0xe007f),
];

// Hands out every character of a set once (in a seeded order) before
// repeating any, so a corpus of a few KB still holds all of them.
class Sprinkler {
  constructor(rng, chars) {
    this.rng = rng;
    this.pending = rng.shuffle(chars);
    this.all = chars;
  }
  next() { return this.pending.length ? this.pending.pop() : this.rng.pick(this.all); }
}

// Appends blocks until the text holds at least `bytes` bytes of UTF-8.
function fill(bytes, makeBlock) {
  const parts = [];
  let size = 0;
  while (size < bytes) {
    const block = makeBlock();
    parts.push(block);
    size += Buffer.byteLength(block, "utf8");
  }
  return parts.join("");
}

// ---------------------------------------------------------------------------
// licence

const LICENCE_SUBJECTS = [
  "the Licensor", "You", "each Contributor", "the Software", "the Work", "any Derivative Works",
  "the copyright holders", "the Original Author", "such Contributor", "the Recipient",
  "this License", "the Source form", "the Object form", "a third party",
];
const LICENCE_VERBS = [
  "shall not be liable for", "hereby grants to", "may redistribute", "must retain",
  "is provided \"AS IS\", without warranty of", "agrees to indemnify", "may not use",
  "shall include a copy of", "disclaims all warranties regarding", "is licensed under",
  "may charge a fee for", "shall cause any modified files to carry",
];
const LICENCE_OBJECTS = [
  "any damages arising from the use of the Software", "a perpetual, worldwide, non-exclusive, " +
  "no-charge, royalty-free, irrevocable copyright license", "all copyright, patent, trademark, " +
  "and attribution notices", "the names of its contributors", "prominent notices stating that " +
  "You changed the files", "MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE",
  "the NOTICE text file distributed as part of the Derivative Works", "any Contribution " +
  "intentionally submitted for inclusion", "warranty, support, indemnity, or other liability " +
  "obligations", "the terms and conditions of this License", "Covered Code (as defined in § 2.1)",
];
const LICENCE_TAILS = [
  ".", "; provided, however, that", ", including but not limited to", " (the \u201cLicense\u201d).",
  "\u2014 except as required by applicable law.", ", whether in an action of contract, tort or otherwise.",
  " \u2026 and/or", ": (a) ", "; (ii) ", ", i.e. \u2018as is\u2019.", "!", "?",
];
const LICENCE_HEADINGS = [
  "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION", "1. Definitions.",
  "2. Grant of Copyright License.", "3. Grant of Patent License.", "4. Redistribution.",
  "§ 5 \u2014 Submission of Contributions", "6. Trademarks.", "7. Disclaimer of Warranty.",
  "8. Limitation of Liability.", "END OF TERMS AND CONDITIONS", "APPENDIX: How to apply",
  "Copyright \u00a9 2004\u20132024 The Apache Software Foundation\u00ae. All rights reserved\u2122.",
  "SPDX-License-Identifier: Apache-2.0 OR MIT", "http://www.apache.org/licenses/LICENSE-2.0",
  "Contact: legal@example.org <legal@example.org>",
];
// Line ends a hand-edited licence file can carry, CRLF and lone CR included.
const LINE_ENDS = ["\n", "\n", "\n", "\r\n", "\r\n", "\r", "\n\n", "\r\n\r\n", "\u2028", "\u2029",
  "\f\n", "\u0085", "\n\r", "\v"];

// Between two words: mostly a space, often something a tokenizer treats
// differently from a space.
function licenceGap(rng, sprinkle) {
  const r = rng.next();
  if (r < 0.80) return " ";
  if (r < 0.84) return "  ";
  if (r < 0.87) return "\u00a0";
  if (r < 0.89) return "\t";
  if (r < 0.91) return " \u200d";
  if (r < 0.93) return "\u200c ";
  if (r < 0.95) return " " + sprinkle.next() + " ";
  if (r < 0.97) return sprinkle.next();
  if (r < 0.98) return " \ufeff";
  return "   ";
}

function licenceParagraph(rng, ws, cf) {
  const words = [];
  const sentences = rng.range(1, 5);
  for (let s = 0; s < sentences; s++) {
    let sentence = `${rng.pick(LICENCE_SUBJECTS)} ${rng.pick(LICENCE_VERBS)} ${rng.pick(LICENCE_OBJECTS)}${rng.pick(LICENCE_TAILS)}`;
    if (rng.chance(0.2)) sentence = sentence.toUpperCase();
    words.push(...sentence.split(" "));
  }
  // Format characters inside words (ZWJ, ZWNJ, soft hyphen, BOM, tags...).
  for (let i = 0; i < words.length; i++) {
    if (rng.chance(0.06) && words[i].length > 2) {
      const chars = Array.from(words[i]);
      const at = rng.range(1, chars.length - 1);
      chars.splice(at, 0, cf.next());
      words[i] = chars.join("");
    }
  }
  // Hard-wrapped at ~72 columns like a licence file, with trailing spaces
  // before some line ends and indentation on some lines.
  let out = rng.chance(0.3) ? rng.pick(["    ", "\t", "   ", " \t"]) : "";
  let column = out.length;
  for (let i = 0; i < words.length; i++) {
    out += words[i];
    column += words[i].length;
    if (i + 1 === words.length) break;
    if (column > rng.range(60, 80)) {
      if (rng.chance(0.3)) out += rng.pick([" ", "  ", "\t", " \u00a0", "\u3000"]);
      out += rng.pick(LINE_ENDS);
      const indent = rng.chance(0.4) ? rng.pick(["   ", "\t", "      ", "\u2003"]) : "";
      out += indent;
      column = indent.length;
    } else {
      const gap = rng.chance(0.9) ? licenceGap(rng, cf) : ws.next();
      out += gap;
      column += gap.length;
    }
  }
  return out;
}

function generateLicence(rng, bytes) {
  const ws = new Sprinkler(rng, WHITE_SPACE);
  const cf = new Sprinkler(rng, FORMAT_CHARS);
  // The first block holds every White_Space and Cf character once, between
  // words, so even the smallest corpus has all of them.
  const intro = [];
  for (const c of rng.shuffle([...WHITE_SPACE, ...FORMAT_CHARS])) intro.push(`x${c}y`);
  ws.pending = [];
  cf.pending = [];
  const head = "Licence\u00a0text " + intro.join(" ") + "\n";
  return head + fill(bytes - Buffer.byteLength(head), () => {
    const r = rng.next();
    let block;
    if (r < 0.15) block = rng.pick(LICENCE_HEADINGS);
    else if (r < 0.2) block = "=".repeat(rng.range(3, 78));
    else block = licenceParagraph(rng, ws, cf);
    return block + rng.pick(LINE_ENDS) + (rng.chance(0.5) ? rng.pick(LINE_ENDS) : "");
  });
}

// ---------------------------------------------------------------------------
// multilingual

// UI strings per language; the scripts were chosen for what tokenizers do
// with them: no spaces (Thai, Khmer, CJK), joiners inside words (Persian,
// Sinhala, Bengali, Telugu), case folding traps (Turkish, Greek final sigma,
// Cherokee), combining marks (Hebrew niqqud, Devanagari), astral CJK.
const UI_STRINGS = {
  fr: ["Paramètres", "Enregistrer les modifications", "Fichier introuvable", "Êtes-vous sûr de vouloir supprimer « %s » ?", "Déconnexion réussie", "Œuvre façonnée à l’été"],
  de: ["Größe ändern", "Schließen", "Übernehmen", "Straße · STRASSE · ẞ", "Änderungen gespeichert"],
  vi: ["Cài đặt", "Lưu thay đổi", "Không tìm thấy tệp", "Tiếng Việt có dấu"],
  pl: ["Zażółć gęślą jaźń", "Ustawienia", "Zapisz zmiany"],
  tr: ["İptal", "Kaydet", "Dosya bulunamadı", "ıi İI ğüşöç"],
  el: ["Ρυθμίσεις", "Αποθήκευση αλλαγών", "Το αρχείο δεν βρέθηκε", "ΣΊΣΥΦΟΣ και Σίσυφος", "ΐΰ ᾯ"],
  ru: ["Настройки", "Сохранить изменения", "Файл не найден", "Ёлка и ёжик", "Выход"],
  uk: ["Налаштування", "Ґанок, їжак, євро"],
  hy: ["Կարգավորումներ", "Պահպանել փոփոխությունները", "Ֆայլը չի գտնվել"],
  ka: ["პარამეტრები", "ცვლილებების შენახვა", "ფაილი ვერ მოიძებნა", "ᲥᲐᲠᲗᲣᲚᲘ"],
  he: ["הגדרות", "שמור שינויים", "הקובץ לא נמצא", "שָׁלוֹם עֲלֵיכֶם"],
  ar: ["الإعدادات", "حفظ التغييرات", "لم يتم العثور على الملف", "مـــرحـــبا\u200f بكم", "٠١٢٣٤٥٦٧٨٩"],
  fa: ["تنظیمات", "می\u200cخواهم ذخیره کنم", "۱۲۳۴۵۶۷۸۹۰"],
  hi: ["सेटिंग्स", "परिवर्तन सहेजें", "फ़ाइल नहीं मिली", "हिन्दी में क्\u200dष", "०१२३४५६७८९"],
  bn: ["সেটিংস", "পরিবর্তন সংরক্ষণ করুন", "র\u200d্যাব", "ফাইল পাওয়া যায়নি"],
  ta: ["அமைப்புகள்", "மாற்றங்களைச் சேமி", "கோப்பு கிடைக்கவில்லை"],
  te: ["సెట్టింగ్\u200cలు", "మార్పులను సేవ్ చేయండి"],
  ml: ["ക്രമീകരണങ്ങൾ", "മാറ്റങ്ങൾ സംരക്ഷിക്കുക"],
  gu: ["સેટિંગ્સ", "ફેરફારો સાચવો"],
  th: ["การตั้งค่า", "บันทึกการเปลี่ยนแปลง", "ไม่พบไฟล์", "ภาษาไทยไม่มีช่องว่างระหว่างคำ"],
  lo: ["ການຕັ້ງຄ່າ", "ບັນທຶກການປ່ຽນແປງ"],
  km: ["ការកំណត់", "រក្សាទុកការផ្លាស់ប្តូរ", "រកមិនឃើញឯកសារ"],
  my: ["ဆက်တင်များ", "အပြောင်းအလဲများကို သိမ်းဆည်းပါ"],
  bo: ["སྒྲིག་འགོད།", "བོད་ཡིག་", "ཡིག་ཆ་མ་རྙེད།"],
  si: ["සැකසුම්", "ශ්\u200dරී ලංකා", "වෙනස්කම් සුරකින්න"],
  mn: ["ᠮᠣᠩᠭᠣᠯ ᠪᠢᠴᠢᠭ", "ᠠ\u180eᠡ ᠨᠠ\u180eᠢ", "ᠭ\u180b ᠭ\u180c"],
  am: ["ቅንብሮች", "ለውጦችን አስቀምጥ", "ፋይሉ አልተገኘም።"],
  chr: ["ᏣᎳᎩ ᎦᏬᏂᎯᏍᏗ", "ꮳꮃꭹ ᏣᎳᎩ"],
  ko: ["설정", "변경 사항 저장", "파일을 찾을 수 없습니다"],
  ja: ["設定", "変更を保存", "ファイルが見つかりません", "ひらがなとカタカナ", "ｶﾀｶﾅ ﾊﾝｶｸ"],
  zh: ["设置", "保存更改", "找不到文件", "繁體中文：設定", "𠀋𡈽𪚲𰻞"],
};

const EMOJI = [
  "\u{1F468}\u200D\u{1F469}\u200D\u{1F467}\u200D\u{1F466}",  // family
  "\u{1F469}\u200D\u{1F4BB}", "\u{1F469}\u{1F3FD}\u200D\u{1F4BB}",  // technologist
  "\u{1F9D1}\u{1F3FF}\u200D\u{1F680}", "\u{1F468}\u200D\u2695\uFE0F",  // astronaut, health worker
  "\u{1F469}\u200D\u2764\uFE0F\u200D\u{1F48B}\u200D\u{1F468}",
  "\u{1F44D}", "\u{1F44D}\u{1F3FB}", "\u{1F44D}\u{1F3FC}", "\u{1F44D}\u{1F3FD}", "\u{1F44D}\u{1F3FE}",
  "\u{1F44D}\u{1F3FF}", "\u{1F3FF}",  // a lone skin-tone modifier
  "\u{1F1EF}\u{1F1F5}", "\u{1F1E9}\u{1F1EA}", "\u{1F1FA}\u{1F1F3}", "\u{1F1E6}",  // flags, lone RI
  "\u{1F1FA}\u{1F1F8}\u{1F1EC}",  // odd run of regional indicators
  "\u{1F3F4}\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}",  // Scotland (tags)
  "\u{1F3F3}\uFE0F\u200D\u{1F308}", "\u{1F3F4}\u200D\u2620\uFE0F",
  "1\uFE0F\u20E3", "#\uFE0F\u20E3", "*\u20E3", "\u{1F51F}",  // keycaps
  "\u2764\uFE0F", "\u2764\uFE0E", "\u263A\uFE0E", "\u263A\uFE0F", "\u845B\u{E0100}",  // VS, IVS
  "\u{1F600}\u{1F602}\u{1F923}", "\u{1FAE0}", "\u{1F9D1}\u200D\u{1F91D}\u200D\u{1F9D1}",
];

const COMBINING = [
  "e\u0301", "a\u0308", "n\u0303", "o\u0302\u0323", "Z\u0351\u0307\u0346a\u0352\u0316l\u035Bg\u0334o\u0338",
  "1\u20DD", " \u0301", "\u0301start", "x\u0300\u0301\u0302\u0303\u0304\u0305\u0306\u0307",
  "Tie\u0302\u0301ng Vie\u0323\u0302t", "caf\u0065\u0301 na\u0131\u0308ve", "\u1100\u1161\u11A8",
];

const COMPAT = [
  "\uFB01nance \uFB02ow \uFB00", "\u2460\u2461\u2462 \u2474", "\u338F \u339E \u33A1", "x\u00B2 + y\u00B3 = z\u2074",
  "H\u2082O", "\u00BD \u00BC \u2153", "\u2122 \u2120", "\u216B \u2171", "\u337B \u3231", "\uFF76\uFF80\uFF76\uFF85",
  "\u{1D401}\u{1D428}\u{1D425}\u{1D41D} \u{1D56F}\u{1D594}\u{1D59A}\u{1D587}", "\u01C5 \u01C4 \u01C6", "\u017F",
  "\u212B \u2126 \u00B5 \u212A", "\u2026", "\uFDFA", "\uFDFB", "\uFF26\uFF35\uFF2C\uFF2C\u3000\uFF57\uFF49\uFF44\uFF54\uFF48\uFF01\uFF1F\uFF11\uFF12",
  "\u2160\u2161", "\u3392", "\u00A8\u00AF\u00B4", "\u2002en\u2003em\u2009thin", "\u1E9B\u0323",
];

// Precomposed text and its NFD form side by side: the builder must not cut
// between a base and its marks in a way HF would count differently.
const NFD_PAIRS = ["Tiếng Việt", "한국어 텍스트", "Ångström", "Crème brûlée", "ḱṷṓn", "Ελληνικά ᾆ"];

const SCRIPT_PUNCT = [". ", "。", "、", "，", "؟ ", "। ", "။ ", "። ", "། ", "! ", " — ", "; ", "・"];

function multilingualLine(rng) {
  const langs = Object.keys(UI_STRINGS);
  const lang = rng.pick(langs);
  const value = () => rng.pick(UI_STRINGS[rng.chance(0.8) ? lang : rng.pick(langs)]);
  const key = `ui.${rng.pick(["menu", "dialog", "error", "toolbar", "status"])}.${rng.range(0, 999)}`;
  const r = rng.next();
  if (r < 0.15) return `${key} = ${value()}`;
  if (r < 0.27) return `  "${key}": "${value()}",`;
  if (r < 0.35) return `msgid "${rng.pick(UI_STRINGS.fr)}"\nmsgstr "${value()}"`;
  if (r < 0.42) return `<string name="${key.replace(/\./g, "_")}">${value()}</string>`;
  if (r < 0.50) return `[${lang}] ${value()}${rng.pick(SCRIPT_PUNCT)}${value()} ${rng.pick(EMOJI)}`;
  if (r < 0.60) {  // emoji crowd, with and without spaces
    const n = rng.range(2, 12);
    const sep = rng.pick(["", " ", "\u200d", " \ufe0f", "\u3000"]);
    return Array.from({ length: n }, () => rng.pick(EMOJI)).join(sep);
  }
  if (r < 0.68) return `${value()}${rng.pick(COMBINING)}${value()} ${rng.pick(COMBINING)}`;
  if (r < 0.76) return `${rng.pick(COMPAT)} ${value()} ${rng.pick(COMPAT)}${rng.pick(COMPAT)}`;
  if (r < 0.82) {
    const s = rng.pick(NFD_PAIRS);
    return `${s} / ${s.normalize("NFD")} / ${s.normalize("NFKD")}`;
  }
  // A sentence run-on of several strings, in scripts with and without spaces.
  const n = rng.range(2, 6);
  const sep = rng.pick(["", " ", "  ", "\u00a0", "\u200b", rng.pick(SCRIPT_PUNCT)]);
  return Array.from({ length: n }, value).join(sep);
}

function generateMultilingual(rng, bytes) {
  // Every script, emoji and compatibility sample once up front.
  const head = [].concat(...Object.values(UI_STRINGS), EMOJI, COMBINING, COMPAT, NFD_PAIRS).join(" ") + "\n";
  return head + fill(bytes - Buffer.byteLength(head), () =>
    multilingualLine(rng) + rng.pick(["\n", "\n", "\n", "\r\n", "\n\n", " ", "\u2028"]));
}

// ---------------------------------------------------------------------------
// code

const IDENTS = ["buffer", "count", "i", "j", "node", "tmp", "kMaxLen", "parse_header", "HttpClient",
  "__init__", "_private", "x0", "data_2", "utf8_len", "π", "é", "数据", "ключ", "camelCaseName"];

function digits(rng, n) {
  let s = String(rng.range(1, 9));
  while (s.length < n) s += String(rng.int(10));
  return s;
}
function hex(rng, n) {
  let s = "";
  for (let i = 0; i < n; i++) s += "0123456789abcdefABCDEF"[rng.int(22)];
  return s;
}

// Indentation unit of one snippet: tabs, spaces, or a mix of both.
function indenter(rng) {
  const unit = rng.pick(["\t", "    ", "  ", "        ", " \t", "\t  "]);
  return (depth) => unit.repeat(depth);
}

function cSnippet(rng) {
  const ind = indenter(rng);
  const name = rng.pick(IDENTS.slice(0, 15));
  const lines = [
    "#include <stdio.h>", "#include <stdint.h>", "",
    `/* ${rng.pick(["TODO", "FIXME", "XXX"])}: handle \\r\\n and \\t\\t here */`,
    `static const uint64_t kTable_${rng.range(0, 99)}[] = {0x${hex(rng, 16)}ULL, 0X${hex(rng, 8)}, ${digits(rng, rng.range(10, 20))}ULL};`,
    `int ${name}(const char *s, size_t n) {`,
    `${ind(1)}char esc[] = "\\x41\\101\\n\\t\\\\\\"\\u00e9\\U0001F600\\0";`,
    `${ind(1)}for (size_t i = 0; i < n; ++i) {`,
    `${ind(2)}if (s[i] == '\\'' || s[i] == '\\\\') continue;  // quote or backslash`,
    `${ind(2)}printf("%s:%zu: 0x%08x\\n", __FILE__, i, (unsigned)s[i]);${rng.chance(0.3) ? "   \t" : ""}`,
    `${ind(1)}}`,
    `${ind(1)}return ${digits(rng, rng.range(1, 40))} % ${rng.range(2, 97)} ${rng.pick(["<<", ">>", "&&", "||", "!=", "->", "::", "+="])} 0x${hex(rng, 4)};`,
    "}",
  ];
  return lines.join(rng.chance(0.2) ? "\r\n" : "\n");
}

function pythonSnippet(rng) {
  const ind = indenter(rng);
  const fn = rng.pick(["parse", "main", "_helper", "compute_π", "__call__", "naïve_sum"]);
  return [
    `def ${fn}(self, data: bytes = b"\\x00\\xff", *args, **kwargs) -> dict[str, int]:`,
    `${ind(1)}"""Docstring with \\N{GREEK SMALL LETTER ALPHA} and \\u00e9 and a tab:\t."""`,
    `${ind(1)}total = ${digits(rng, rng.range(1, 3))}_000_000 + 0b1010_1010 + 0o777 + 0x${hex(rng, 12)}`,
    `${ind(1)}big = ${digits(rng, rng.range(30, 200))}`,
    `${ind(1)}pattern = re.compile(r"^\\s*(\\d{1,3})(?:,\\d{3})*\\.?\\d*$", re.UNICODE)`,
    `${ind(1)}for i, (k, v) in enumerate(sorted(kwargs.items())):`,
    `${ind(2)}if not v:${rng.chance(0.5) ? "  " : ""}`,
    `${ind(3)}continue`,
    `${ind(2)}print(f"{i:>8d} {k!r:<20} {v=}\\n", end="\\r\\n")`,
    `${ind(1)}return {"π": 3.14159265358979323846, "é": 1e-308, 'x': -0.0, "emoji": "\\U0001F600"}`,
  ].join("\n");
}

function jsonSnippet(rng) {
  const depth = rng.range(1, 12);
  let nested = `"${digits(rng, rng.range(5, 60))}"`;
  for (let d = 0; d < depth; d++) nested = rng.chance(0.5) ? `[${nested}]` : `{"k${d}":${nested}}`;
  const ind = indenter(rng);
  return [
    "{",
    `${ind(1)}"name": "caf\\u00e9 \\ud83d\\ude00 \\"quoted\\" \\\\ back\\/slash",`,
    `${ind(1)}"numbers": [0, -1, 1.5e+300, 1E-7, ${digits(rng, rng.range(15, 40))}, ${Array.from({ length: rng.range(3, 30) }, () => rng.range(0, 99999)).join(",")}],`,
    `${ind(1)}"hash": "${hex(rng, 64)}",`,
    `${ind(1)}"uuid": "${hex(rng, 8)}-${hex(rng, 4)}-${hex(rng, 4)}-${hex(rng, 4)}-${hex(rng, 12)}",`,
    `${ind(1)}"nested": ${nested},`,
    `${ind(1)}"empty": {}, "nil": null, "t": true, "tab":"\\t", "ctl": "\\u0000\\u001f"`,
    "}",
  ].join("\n");
}

function shellSnippet(rng) {
  return [
    "#!/bin/sh",
    "set -eu",
    `for f in *.txt; do`,
    `\techo "$f" | sed -e 's/\\t/    /g' -e 's/[[:space:]]*$//' >> "\${OUT:-/dev/null}" 2>&1`,
    `done`,
    `printf '\\x1b[31m%s\\x1b[0m\\n' "$(date +%s%N)"  # ANSI colours`,
    `awk -F'\\t' '{ sum += $${rng.range(1, 9)} } END { printf "%.${rng.range(1, 9)}f\\n", sum }' data.tsv`,
    `echo $((1 << 62)) $(( 0x${hex(rng, 6)} ^ ${digits(rng, 12)} ))`,
    "cat <<'EOF'",
    `  literal \\$HOME \\\\ \`backticks\` ${"~".repeat(rng.range(1, 30))}`,
    "EOF",
    `[ -n "\${VAR:-}" ] && exit ${rng.range(0, 255)} || true`,
  ].join("\n");
}

function dataSnippet(rng) {
  const r = rng.next();
  if (r < 0.3) {  // hexdump
    const rows = [];
    for (let i = 0; i < rng.range(2, 8); i++) {
      rows.push(`${(i * 16).toString(16).padStart(8, "0")}: ${Array.from({ length: 8 }, () => hex(rng, 4)).join(" ")}  ................`);
    }
    return rows.join("\n");
  }
  if (r < 0.55) return digits(rng, rng.skewed(50, 1500));  // digit runs: \p{N}{1,3} grouping
  if (r < 0.75) {  // base64, one long line
    const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let s = "";
    for (let i = rng.range(40, 800); i > 0; i--) s += b64[rng.int(64)];
    return s + "==";
  }
  return `0x${hex(rng, rng.range(8, 64))} ${digits(rng, 4)}.${digits(rng, 8)}e-${rng.range(1, 308)} ١٢٣ ４５６ ⁷⁸⁹ 𝟘𝟙𝟚`;
}

function generateCode(rng, bytes) {
  return fill(bytes, () => {
    const make = rng.pick([cSnippet, pythonSnippet, jsonSnippet, shellSnippet, dataSnippet]);
    return make(rng) + rng.pick(["\n\n", "\n", "\n\n\n", "\r\n\r\n", "\n\t\n", "\n    \n"]);
  });
}

// ---------------------------------------------------------------------------
// specials

// Strings that look like chat templates of many model families; for a given
// tokenizer only some are added tokens, the rest are plain text lookalikes.
const CHAT_TEMPLATE_STRINGS = [
  "<s>", "</s>", "<unk>", "<pad>", "<|im_start|>", "<|im_end|>", "<|im_start|>user\n", "<|im_start|>assistant\n",
  "<|endoftext|>", "<|begin_of_text|>", "<|start_header_id|>user<|end_header_id|>\n\n", "<|eot_id|>",
  "[INST]", "[/INST]", "<<SYS>>\n", "\n<</SYS>>\n\n", "<start_of_turn>user\n", "<end_of_turn>\n",
  "<｜begin▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>", "<｜end▁of▁sentence｜>", "<|User|>",
  "<|start|>assistant<|channel|>final<|message|>", "<|return|>", "<bos>", "<eos>", "<|system|>",
  "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<think>", "</think>", "<tool_call>",
  "<|START_OF_TURN_TOKEN|><|USER_TOKEN|>", "<|END_OF_TURN_TOKEN|>", "[gMASK]<sop>", "<|user|>",
  // Near misses: a tokenizer must not treat these as added tokens.
  "<s >", "< s>", "<|im_start|", "<|im_start", "|im_end|>", "<<s>>", "<s><s>", "</s></s>", "<S>",
  "<unk", "<0x41>", "<0xE2><0x96><0x81>", "<0x0A>", "<0xFF>", "<0x00>", "<0x>",
];

const METASPACE = [
  "▁", "▁▁", " ▁ ", "▁ ", " ▁", "\n▁", "▁\n", "▁▁▁▁▁▁", "word▁word", "▁the", "the▁", "\t▁", "▁<s>▁",
  "\u00a0▁", "▁\u3000",
];

// Characters whose long runs stress pre-tokenizers (one huge pre-token) and
// the builder's cut search (few valid cut points).
const RUN_CHARS = [" ", "▁", "!", "-", "=", "0", "7", "\n", "\t", "a", ".", "\r\n", "_", "\u00a0", "*", "#", "▁ "];

const PROSE_WORDS = ("the of and to in is was that for it with as his on be at by had not are but from " +
  "or have an they which one you were all we her she there would their will when who him been has more " +
  "if no out so said what up its about into than them can only other new some could time these two may " +
  "first then do any like my now over such our man me even most made after also did many before must " +
  "through back years where much your way well down should because each just those people how too little " +
  "state good very make world still own see men work long get here between both life being under never").split(" ");

function addedTokens(tokenizerJsonPath) {
  if (!tokenizerJsonPath) return [];
  const json = JSON.parse(fs.readFileSync(tokenizerJsonPath, "utf8"));
  return (json.added_tokens || []).map((t) => t.content).filter((c) => c.length > 0);
}

function specialsSentence(rng, tokens) {
  const words = [];
  for (let i = rng.range(4, 18); i > 0; i--) words.push(rng.pick(PROSE_WORDS));
  words[0] = words[0][0].toUpperCase() + words[0].slice(1);
  let out = "";
  for (let i = 0; i < words.length; i++) {
    let word = words[i];
    const r = rng.next();
    if (r < 0.12) {  // inside a word
      const at = rng.range(1, Math.max(1, word.length - 1));
      word = word.slice(0, at) + rng.pick(tokens) + word.slice(at);
    } else if (r < 0.24) {  // glued before / after a word
      word = rng.chance(0.5) ? rng.pick(tokens) + word : word + rng.pick(tokens);
    } else if (r < 0.34) {  // a free-standing token, sometimes several in a row
      word = Array.from({ length: rng.range(1, 3) }, () => rng.pick(tokens)).join(rng.pick(["", " ", "\n"])) +
        " " + word;
    } else if (r < 0.42) {
      word = rng.chance(0.5) ? rng.pick(METASPACE) + word : word + rng.pick(METASPACE);
    }
    out += (i ? rng.pick([" ", " ", " ", "  ", "\n", ""]) : "") + word;
  }
  return out + rng.pick([".", "!", "?", ":", "", "..."]);
}

function generateSpecials(rng, bytes, tokenizerJsonPath, seed) {
  const own = addedTokens(tokenizerJsonPath);
  // Tokenizers with thousands of added tokens (Gemma 3) get a seeded sample,
  // always including the first ones (the real control tokens).
  const sample = own.length > 200 ? own.slice(0, 40).concat(rng.shuffle(own).slice(0, 160)) : own;
  // As many template strings and near misses as own tokens, whatever their
  // number (so that 200 "<unusedN>" tokens do not crowd out the rest).
  const copies = Math.max(1, Math.round(sample.length / CHAT_TEMPLATE_STRINGS.length));
  const tokens = sample.concat(...Array(copies).fill(CHAT_TEMPLATE_STRINGS));
  // Added tokens glued to and apart from words, one per line, in at most a
  // quarter of the corpus (Llama 3 alone has 256): the first ones (the real
  // control tokens) always, then the rest of the sample in seeded order.
  let head = "";
  for (const t of sample.slice(0, 20).concat(rng.shuffle(sample.slice(20)))) {
    const line = `${t}x ${t} y${t}\n`;
    if (Buffer.byteLength(head + line) > bytes / 4) break;
    head += line;
  }
  let part = 0;
  return head + fill(bytes - Buffer.byteLength(head), () => {
    const r = rng.next();
    let block;
    if (r < 0.50) {
      block = Array.from({ length: rng.range(1, 5) }, () => specialsSentence(rng, tokens)).join(" ");
    } else if (r < 0.65) {  // a long run of one character, sometimes glued to a token
      const c = rng.pick(RUN_CHARS);
      block = (rng.chance(0.3) ? rng.pick(tokens) : "") + c.repeat(rng.skewed(8, 2000)) +
        (rng.chance(0.3) ? rng.pick(tokens) : "");
    } else if (r < 0.75) {  // a chat transcript
      block = `${rng.pick(tokens)}system\nYou are helpful.${rng.pick(tokens)}\n${rng.pick(tokens)}user\n` +
        `${specialsSentence(rng, tokens)}${rng.pick(tokens)}\n${rng.pick(tokens)}assistant\n`;
    } else if (r < 0.83) {  // byte-fallback lookalikes and metaspace clusters
      block = Array.from({ length: rng.range(3, 20) }, () =>
        rng.pick([...METASPACE, "<0x41>", "<0x0A>", "<0xE2><0x96><0x81>", "<0xFF>"])).join(rng.pick(["", " "]));
    } else {  // a piece of another kind, with its own seeded stream
      const kind = rng.pick(["licence", "multilingual", "code"]);
      block = generate(kind, `${seed}/specials/${part++}`, rng.range(200, 1500));
    }
    return block + rng.pick(["\n", "\n", " ", "\n\n", "\r\n", "", "▁\n"]);
  });
}

// ---------------------------------------------------------------------------

// generate(kind, seed, bytes, tokenizerJsonPath?) -> string of at least
// `bytes` UTF-8 bytes (a little more: whole blocks are kept).
function generate(kind, seed, bytes, tokenizerJsonPath) {
  const rng = new Rng(`${kind}:${seed}`);
  let text;
  switch (kind) {
    case "licence": text = generateLicence(rng, bytes); break;
    case "multilingual": text = generateMultilingual(rng, bytes); break;
    case "code": text = generateCode(rng, bytes); break;
    case "specials": text = generateSpecials(rng, bytes, tokenizerJsonPath, seed); break;
    default: throw new Error(`unknown kind "${kind}" (kinds: ${KINDS.join(", ")})`);
  }
  // The contract the differential test relies on: valid UTF-8 and no U+FFFD,
  // so any U+FFFD or bad byte in generated messages is convgen's.
  if (!text.isWellFormed()) throw new Error(`${kind}: lone surrogate generated`);
  if (text.includes("\ufffd")) throw new Error(`${kind}: U+FFFD generated`);
  return text;
}

function parseArgs(argv) {
  const args = { seed: "1", bytes: 32768, kinds: [], tokenizer: null, out: null, outDir: null };
  for (let i = 0; i < argv.length; i++) {
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${argv[i]} needs a value`);
      return argv[++i];
    };
    switch (argv[i]) {
      case "--kind": args.kinds.push(value()); break;
      case "--kinds": args.kinds.push(...value().split(",").filter(Boolean)); break;
      case "--seed": args.seed = value(); break;
      case "--bytes": args.bytes = Number(value()); break;
      case "--tokenizer": args.tokenizer = value(); break;
      case "--out": args.out = value(); break;
      case "--out-dir": args.outDir = value(); break;
      default: throw new Error(`unknown argument ${argv[i]}`);
    }
  }
  if (!args.kinds.length) throw new Error("--kind or --kinds is required");
  if (!(args.bytes > 0)) throw new Error("--bytes must be > 0");
  if (args.kinds.length > 1 && !args.outDir) throw new Error("several kinds need --out-dir");
  return args;
}

function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`hostile_text.js: ${e.message}\nusage: node hostile_text.js (--kind K | --kinds K1,K2 --out-dir DIR) ` +
      `[--seed S] [--bytes N] [--tokenizer tokenizer.json] [--out FILE]\nkinds: ${KINDS.join(", ")}`);
    process.exit(2);
  }
  for (const kind of args.kinds) {
    const text = generate(kind, args.seed, args.bytes, args.tokenizer);
    const out = args.outDir ? path.join(args.outDir, `${kind}.txt`) : args.out;
    if (out) {
      fs.writeFileSync(out, text);
      console.error(`${kind}: ${Buffer.byteLength(text)} bytes -> ${out}`);
    } else {
      process.stdout.write(text);
    }
  }
}

module.exports = { generate, KINDS, WHITE_SPACE, FORMAT_CHARS };

if (require.main === module) main();
