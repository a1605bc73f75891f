"""The workload report (issue 17): `convgen generate --report R.html
--stats-json S.json` against a real server, on a config with think times and
prefix groups whose corpus file name is hostile HTML. Checks that the JSON's
numbers are --print-stats' numbers, that its histograms are the bins of the
values in the output (recomputed here from --format jsonl), that the page
renders in a real headless browser (Debian's chromium: every chart an <svg>
with bars, a screenshot with the bar colour in it) with the hostile text
escaped, and that a broken stream's report says it is incomplete.

The screenshot and the pages are kept in $CONVGEN_TEST_OUTPUT_DIR, by
default <build dir>/test-output/report/ (the build dir is the client's
grandparent, e.g. build/dev). Run by ctest like e2e_test.py; needs
/usr/bin/python3 and chromium (scripts/bootstrap).
"""
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import zlib

import numpy

sys.path.insert(0, os.path.dirname(__file__))
from e2e_test import CLIENT, SOURCE, WORK, Server  # noqa: E402

OUTPUT_DIR = os.environ.get("CONVGEN_TEST_OUTPUT_DIR") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(CLIENT))), "test-output", "report")
CHROMIUM = shutil.which("chromium")
HOSTILE = "a</script><svg onload=alert(1)>"
BAR_COLOUR = (0x3b, 0x6f, 0xb6)  # .bar in core/report/workload_report.cc
CHARTS = ["conversation_turns", "user_tokens_per_message", "assistant_tokens_per_message",
          "request_tokens", "think_time_ms", "prefix_groups"]
CONVERSATIONS = 80
STAT_NAMES = ["count", "mean", "std", "min", "p25", "p50", "p75", "p90", "p99", "max"]


def write_config(directory, conversations):
    """A config with think time and prefix groups whose text file sits in a
    directory named like markup (sent inline by the client)."""
    corpus_dir = os.path.join(directory, HOSTILE)
    os.makedirs(corpus_dir, exist_ok=True)
    shutil.copy(os.path.join(SOURCE, "tests", "fixtures", "corpus", "old-italic-mixed.txt"),
                os.path.join(corpus_dir, "corpus.txt"))
    config = {
        "filetype": "generate_conversations",
        "num_conversations": conversations,
        "text_files": [HOSTILE + "/corpus.txt"],
        "prompt_input": {
            "num_turns": {"distribution": "uniform", "min": 2, "max": 12},
            "prefix_groups": {"num_groups": 12, "popularity": "zipf", "alpha": 1.2,
                              "prefix_num_tokens": {"distribution": "constant", "value": 50}},
            "prefix_num_tokens": {"distribution": "uniform", "min": 10, "max": 60},
            "num_tokens": {"distribution": "lognormal", "average": 60, "max": 600},
            "think_time_ms": {"distribution": "lognormal", "average": 3000, "max": 30000},
        },
        "prompt_output": {"num_tokens": {"distribution": "uniform", "min": 10, "max": 150}},
    }
    path = os.path.join(directory, "config.json")
    with open(path, "w") as f:
        json.dump(config, f)
    return path


def bins_of(counts, lo, hi, max_bins=40):
    """The binning the README documents: the smallest width of 1, 2, 5, 10,
    20, 50, ... giving at most max_bins bins starting at multiples of it."""
    width, decade = None, 1
    while width is None:
        for step in (1, 2, 5):
            if hi // (step * decade) - lo // (step * decade) + 1 <= max_bins:
                width = step * decade
                break
        decade *= 10
    first = lo // width * width
    bins = [{"lo": b, "hi": b + width - 1, "count": 0} for b in range(first, hi + 1, width)]
    for value, count in counts.items():
        if lo <= value <= hi:
            bins[(value - first) // width]["count"] += count
    return bins


def count(values):
    out = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def parse_print_stats(stderr):
    """--print-stats' rows: name -> the ten printed fields, as printed."""
    rows = {}
    for line in stderr.splitlines():
        fields = line.split()
        if len(fields) == 11 and fields[0] in (
                "conversation_turns", "user_tokens", "assistant_tokens", "request_tokens"):
            rows[fields[0]] = fields[1:]
    return rows


def printed(stat):
    """A stats-json row as --print-stats formats it."""
    formats = ["%d", "%.2f", "%.2f", "%.0f", "%.2f", "%.2f", "%.2f", "%.2f", "%.2f", "%.0f"]
    return [f % stat[name] for f, name in zip(formats, STAT_NAMES)]


def unfilter_left(kind, line, up, bpp):
    """PNG's Average (3) or Paeth (4) filter undone (the hot loop: plain ints)."""
    row = bytearray(line)
    for i in range(bpp):
        row[i] = (row[i] + (up[i] >> 1 if kind == 3 else up[i])) & 0xFF
    for i in range(bpp, len(row)):
        a, b = row[i - bpp], up[i]
        if kind == 3:
            row[i] = (row[i] + ((a + b) >> 1)) & 0xFF
            continue
        c = up[i - bpp]
        pa = b - c if b > c else c - b
        pb = a - c if a > c else c - a
        pc = a + b - c - c
        if pc < 0:
            pc = -pc
        if pa <= pb and pa <= pc:
            p = a
        elif pb <= pc:
            p = b
        else:
            p = c
        row[i] = (row[i] + p) & 0xFF
    return row


def decode_png(path):
    """(width, height, pixels) of an 8-bit RGB or RGBA PNG; pixels is a numpy
    array of shape (height, width, 3 or 4)."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    at, idat = 8, b""
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
        elif kind == b"IDAT":
            idat += body
        at += 12 + length
    raw = numpy.frombuffer(zlib.decompress(idat), dtype=numpy.uint8)
    bpp = 3 if colour == 2 else 4
    stride = width * bpp
    raw = raw.reshape(height, stride + 1)
    out = numpy.zeros((height, stride), dtype=numpy.uint8)
    previous = numpy.zeros(stride, dtype=numpy.uint8)
    for y in range(height):
        kind, line = int(raw[y, 0]), raw[y, 1:]
        if kind == 0:
            row = line.copy()
        elif kind == 1:  # Sub: a running sum per channel
            row = (numpy.cumsum(line.reshape(width, bpp).astype(numpy.int64), axis=0) & 0xFF
                   ).astype(numpy.uint8).reshape(stride)
        elif kind == 2:  # Up
            row = line + previous
        else:  # Average and Paeth depend on the byte to the left: byte by byte
            row = numpy.frombuffer(bytes(unfilter_left(kind, line.tobytes(), previous.tobytes(),
                                                       bpp)), dtype=numpy.uint8)
        out[y] = row
        previous = out[y]
    return width, height, out.reshape(height, width, bpp)


def run_chromium(url, *args):
    profile = tempfile.mkdtemp(prefix="convgen-chromium-")
    try:
        # Root needs --no-sandbox; its own profile and HOME keep it out of $HOME.
        return subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--disable-extensions", "--hide-scrollbars",
             f"--user-data-dir={profile}", *args, url],
            capture_output=True, text=True, timeout=90, env={**os.environ, "HOME": profile})
    finally:
        shutil.rmtree(profile, ignore_errors=True)


SERVER = None  # one server for the module: a start takes seconds on a loaded machine


def setUpModule():
    global SERVER
    SERVER = Server()


def tearDownModule():
    SERVER.stop()


class ReportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(OUTPUT_DIR, exist_ok=True)
        cls.dir = os.path.join(WORK, "report")
        os.makedirs(cls.dir)
        cls.config = write_config(cls.dir, CONVERSATIONS)
        cls.report = os.path.join(OUTPUT_DIR, "report.html")
        cls.stats = os.path.join(OUTPUT_DIR, "stats.json")
        cls.output = os.path.join(cls.dir, "out.jsonl")
        started = time.monotonic()
        result = subprocess.run(
            [CLIENT, "generate", "--server", SERVER.address, "--input-file", cls.config,
             "--output", cls.output, "--format", "jsonl", "--seed", "11", "--print-stats",
             "--report", cls.report, "--stats-json", cls.stats],
            capture_output=True, text=True, timeout=120)
        cls.generate_seconds = time.monotonic() - started
        if result.returncode != 0:
            raise AssertionError(f"generate exited {result.returncode}: {result.stderr}")
        cls.stderr = result.stderr
        with open(cls.stats) as f:
            cls.json = json.load(f)
        with open(cls.output) as f:
            cls.lines = [json.loads(line) for line in f]

    def test_stats_json_is_what_print_stats_prints(self):
        table = parse_print_stats(self.stderr)
        self.assertEqual(set(table), {"conversation_turns", "user_tokens", "assistant_tokens",
                                      "request_tokens"}, self.stderr)
        for name, fields in table.items():
            self.assertEqual(printed(self.json["print_stats"][name]), fields, name)
        self.assertTrue(self.json["complete"])
        self.assertEqual(self.json["totals"]["conversations"], CONVERSATIONS)
        self.assertEqual(self.json["print_stats"]["conversation_turns"]["count"], CONVERSATIONS)

    def test_histograms_are_the_bins_of_the_generated_values(self):
        users = [m for m in self.lines if m["role"] == "user"]
        assistants = [m for m in self.lines if m["role"] == "assistant"]
        turns, requests, groups, history = {}, [], {}, {}
        for m in self.lines:
            i = m["conversation_index"]
            turns[i] = turns.get(i, 0) + 1
            history[i] = history.get(i, 0) + m["num_tokens"]
            if m["role"] == "user":
                requests.append(history[i])
            if m["turn_index"] == 0:
                groups[m["prefix_group"]] = groups.get(m["prefix_group"], 0) + 1
        expected = {
            "conversation_turns": count(turns.values()),
            "user_tokens_per_message": count(m["num_tokens"] for m in users),
            "assistant_tokens_per_message": count(m["num_tokens"] for m in assistants),
            "request_tokens": count(requests),
            "think_time_ms": count(m["think_time_ms"] for m in users),
        }
        histograms = self.json["histograms"]
        self.assertEqual(set(histograms), set(CHARTS))
        for name, counts in expected.items():
            chart = histograms[name]
            self.assertEqual(chart["total"], sum(counts.values()), name)
            self.assertEqual(sum(b["count"] for b in chart["bins"]), chart["total"], name)
            self.assertLessEqual(len(chart["bins"]), 40, name)
            self.assertEqual(chart["bins"], bins_of(counts, min(counts), max(counts)), name)
        # Groups over all 12, the unpicked ones as gaps; zipf favours group 0.
        self.assertEqual(histograms["prefix_groups"]["bins"], bins_of(groups, 0, 11))
        self.assertEqual(histograms["prefix_groups"]["total"], CONVERSATIONS)
        self.assertEqual(max(groups, key=groups.get), 0)
        self.assertEqual(self.json["per_message"]["think_time_ms"]["count"], len(users))
        self.assertEqual(self.json["per_message"]["conversations_per_prefix_group"]["count"], 12)
        self.assertEqual(self.json["run"]["seed"], 11)

    def test_the_page_is_self_contained_and_escapes_the_config(self):
        with open(self.report) as f:
            html = f.read()
        for network in ("http://", "https://", "src=", "href=", "url(", "<script", "<link",
                        "<img", "<iframe"):
            self.assertNotIn(network, html)
        self.assertNotIn("<svg onload", html)
        self.assertIn("a&lt;/script&gt;&lt;svg onload=alert(1)&gt;/corpus.txt", html)
        self.assertIn(f"Complete: {CONVERSATIONS} conversations", html)

    def test_the_charts_render_in_headless_chromium(self):
        # Not a skip: the acceptance is a real browser (scripts/bootstrap installs it).
        self.assertIsNotNone(CHROMIUM, "chromium is not installed: run scripts/bootstrap")
        png = os.path.join(OUTPUT_DIR, "report.png")
        if os.path.exists(png):
            os.remove(png)
        started = time.monotonic()
        # One browser start for both: the DOM as parsed, and the screenshot.
        result = run_chromium("file://" + os.path.abspath(self.report), "--dump-dom",
                              f"--screenshot={png}", "--window-size=1200,3000")
        browser_seconds = time.monotonic() - started
        self.assertEqual(result.returncode, 0, result.stderr[-2000:])
        dom = result.stdout
        with open(os.path.join(OUTPUT_DIR, "report.dom.html"), "w") as f:
            f.write(dom)
        # Every chart is an <svg> with bars, as the browser parsed it.
        svgs = re.findall(r'<svg role="img" aria-label="([^"]*)"[^>]*data-chart="([^"]+)">(.*?)</svg>',
                          dom, re.S)
        self.assertEqual([name for _, name, _ in svgs], CHARTS, dom[:3000])
        for label, name, body in svgs:
            self.assertGreater(body.count('<rect class="bar"'), 0, name)
            self.assertTrue(label.startswith("Histogram of "), label)
        # The hostile text stayed text: no element came of it.
        self.assertNotIn("<svg onload", dom)
        self.assertEqual(dom.count("<script"), 0)
        self.assertIn("a&lt;/script&gt;&lt;svg onload=alert(1)&gt;/corpus.txt", dom)

        started = time.monotonic()
        width, height, pixels = decode_png(png)
        decode_seconds = time.monotonic() - started
        self.assertEqual((width, height), (1200, 3000))
        rgb = pixels[:, :, :3]
        bar = (rgb == numpy.array(BAR_COLOUR, dtype=numpy.uint8)).all(axis=2).mean()
        white = (rgb == 255).all(axis=2).mean()
        other = 1 - bar - white
        print(f"\nreport: generate {self.generate_seconds:.1f} s, chromium {browser_seconds:.1f} s, "
              f"PNG decode {decode_seconds:.1f} s; {png}: {100 * bar:.2f}% bar pixels, "
              f"{100 * other:.2f}% other non-white", file=sys.stderr)
        # Six charts of bars: well over 1% of the page is bar blue; text,
        # axes and tables are the rest.
        self.assertGreater(bar, 0.01)
        self.assertGreater(other, 0.01)


class ReportFlagsTest(unittest.TestCase):
    def test_report_paths_are_checked_before_any_call(self):
        config = os.path.join(SOURCE, "examples", "generate_multi_turn.json")
        out = os.path.join(WORK, "flags-out.json")
        for args, message in [
                (["--report", "-"], "--report -: give a file name (stdout is --output's)"),
                (["--stats-json", out, "--output", out],
                 f"--stats-json {out} is also --output; give it a file of its own"),
                (["--report", config], f"--report {config} is also --input-file"),
                (["--report", out + ".x", "--stats-json", out + ".x"],
                 "--report and --stats-json are both"),
                # The same file by another spelling, not yet made.
                (["--report", out + ".y", "--stats-json",
                  os.path.join(os.path.dirname(out), ".", os.path.basename(out) + ".y")],
                 "--report and --stats-json are both"),
                # Written after the generation: said before it.
                (["--report", "/nonexistent-dir/r.html"],
                 "--report /nonexistent-dir/r.html: the directory /nonexistent-dir does not "
                 "exist"),
                (["--stats-json", WORK], f"--stats-json {WORK}: is a directory; give a file name"),
                (["--report", ""], "--report is empty: give a value, or leave the flag out"),
                (["--stats-json", ""], "--stats-json is empty"),
                (["--tokenizer-file", ""], "--tokenizer-file is empty"),
        ]:
            result = subprocess.run(
                [CLIENT, "generate", "--server", "127.0.0.1:1", "--input-file", config, *args],
                capture_output=True, text=True, timeout=30)
            self.assertEqual(result.returncode, 2, result.stderr)
            self.assertIn(message, result.stderr)
        # A local corpus the config names is not overwritten by either file.
        local = os.path.join(WORK, "local-corpus")
        os.makedirs(local, exist_ok=True)
        corpus = os.path.join(local, "corpus.txt")
        with open(corpus, "w") as f:
            f.write("Call me Ishmael. " * 50)
        with open(config) as f:
            local_config = dict(json.load(f), text_files=["corpus.txt"])
        local_config_path = os.path.join(local, "c.json")
        with open(local_config_path, "w") as f:
            json.dump(local_config, f)
        for flag in ("--report", "--stats-json"):
            result = subprocess.run(
                [CLIENT, "generate", "--server", "127.0.0.1:1", "--input-file", local_config_path,
                 "--output", os.path.join(local, "o.json"), flag, corpus],
                capture_output=True, text=True, timeout=30)
            self.assertEqual(result.returncode, 2, result.stderr)
            self.assertIn(f'{flag} {corpus} is text_files[0] "corpus.txt": writing would destroy '
                          f"the corpus; choose another {flag}", result.stderr)
            with open(corpus) as f:
                self.assertEqual(f.read(), "Call me Ishmael. " * 50)
        result = subprocess.run([CLIENT, "validate", "--server", "127.0.0.1:1", "--input-file",
                                 config, "--report", out], capture_output=True, text=True,
                                timeout=30)
        self.assertEqual(result.returncode, 2)
        self.assertIn("--report is not a flag of validate", result.stderr)


class BrokenStreamReportTest(unittest.TestCase):
    def test_a_broken_stream_reports_the_conversations_received(self):
        directory = os.path.join(WORK, "report-broken")
        os.makedirs(directory)
        report = os.path.join(directory, "report.html")
        stats = os.path.join(directory, "stats.json")
        output = os.path.join(directory, "out.json")
        # The first request prepares the corpus; then a deadline breaks the stream.
        subprocess.run([CLIENT, "generate", "--server", SERVER.address, "--input-file",
                        write_config(directory, 1), "--output", os.devnull],
                       check=True, capture_output=True, timeout=60)
        config = write_config(directory, 100000)
        result = subprocess.run(
            [CLIENT, "generate", "--server", SERVER.address, "--input-file", config,
             "--output", output, "--timeout", "2", "--report", report, "--stats-json", stats],
            capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("DEADLINE_EXCEEDED", result.stderr)
        match = re.search(r"resume with --start-index (\d+)", result.stderr)
        self.assertIsNotNone(match, result.stderr)
        received = int(match.group(1))
        self.assertGreater(received, 0)
        with open(stats) as f:
            numbers = json.load(f)
        self.assertFalse(numbers["complete"])
        self.assertIn("DEADLINE_EXCEEDED", numbers["incomplete_reason"])
        # Exactly the conversations the partial output holds.
        self.assertEqual(numbers["totals"]["conversations"], received)
        with open(f"{output}.0-{received}.partial") as f:
            self.assertEqual(len(json.load(f)), received)
        self.assertEqual(numbers["histograms"]["conversation_turns"]["total"], received)
        with open(report) as f:
            html = f.read()
        self.assertIn("Incomplete: the stream broke (server error DEADLINE_EXCEEDED", html)
        self.assertIn(f"covers the {received} conversations", html)
        self.assertFalse(os.path.exists(report + ".partial"))


if __name__ == "__main__":
    unittest.main()
