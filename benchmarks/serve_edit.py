"""Benchmark: `typeset serve` on the reference issue; how soon an edit of article 07 is on the board.

    .venv/bin/python benchmarks/serve_edit.py [--runs 5] [--issue ../shared/reference-issue]

The issue is copied to a temporary folder and served. Each run saves one edit to article 07,
alternately in a paragraph on its first page and on its last page, and times, from the save:
the board announcing the change (server-sent event), the changed page's new thumbnail served
(what the browser fetches next), and the whole build done. The next edit is saved once the
whole build is done, as an editor reads the page before changing the next one.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

# benchmarks/ is on the path when this runs as a script
from build_reference import writable_copy

REPO = Path(__file__).resolve().parent.parent
ARTICLE = "articles/07-xianji-shuiwuju-zhengzhi-jiguan.md"
EDITS = ("开展调研", "夯基垒石")  # on its first page, on its last page


def state(url: str) -> dict:
    return json.load(urllib.request.urlopen(url + "state"))


def wait_for(url: str, ready, timeout: float = 600) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        current = state(url)
        if ready(current):
            return current
        time.sleep(0.2)
    sys.exit("timed out waiting for the server")


def one_edit(url: str, article: Path, anchor: str, run: int) -> dict:
    before = {page["label"]: page["rev"] for page in state(url)["pages"]}
    host, port = re.match(r"http://([\d.]+):(\d+)/", url).groups()
    connection = http.client.HTTPConnection(host, int(port))
    connection.request("GET", "/events")
    events = connection.getresponse()
    events.readline()  # the current version, sent at once
    events.readline()
    text = article.read_text(encoding="utf-8")
    started = time.perf_counter()
    article.write_text(text.replace(anchor, f"{anchor}（第{run}次修改）", 1), encoding="utf-8")
    while True:
        if not events.readline().startswith(b"data:"):
            continue
        current = state(url)
        changed = [(i, p) for i, p in enumerate(current["pages"]) if p["rev"] != before.get(p["label"])]
        if changed:
            announced = time.perf_counter() - started
            index, page = changed[0] if anchor == EDITS[0] else changed[-1]
            urllib.request.urlopen(f"{url}thumb/{index}?r={page['rev']}").read()
            served = time.perf_counter() - started
            break
    connection.close()
    done = wait_for(url, lambda s: not s["building"] and s["status"].startswith("built") and s["warm"])
    return {"announced": announced, "served": served, "build": time.perf_counter() - started,
            "pages": [p["label"] for _, p in changed], "detail": current["status"], "final": done["status"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--issue", type=Path, default=REPO.parent / "shared" / "reference-issue")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        issue = writable_copy(args.issue, Path(temp) / "issue")
        server = subprocess.Popen([sys.executable, "-m", "typeset", "serve", str(issue), "--port", "0",
                                   "-o", str(Path(temp) / "out")], cwd=REPO, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True)
        try:
            url = re.search(r"http://\S+/", server.stdout.readline()).group(0)
            started = time.perf_counter()
            wait_for(url, lambda s: s["status"].startswith("built") and s["warm"])
            print(f"issue: {args.issue}; first build and warm-up {time.perf_counter() - started:.1f} s")
            results = []
            for run in range(1, args.runs + 1):
                anchor = EDITS[(run - 1) % 2]
                result = one_edit(url, issue / ARTICLE, anchor, run)
                results.append(result)
                print(f"  edit {run} ({'first' if anchor == EDITS[0] else 'last'} page): page image served "
                      f"{result['served']:.2f} s, pages {','.join(result['pages'])}; {result['detail']}")
        finally:
            server.terminate()
            server.wait(timeout=20)
    for name, key in (("board announces the change", "announced"), ("changed page image served", "served"),
                      ("whole build done", "build")):
        values = [r[key] for r in results]
        print(f"{name:28} median {statistics.median(values):6.2f} s  (min {min(values):.2f}, max {max(values):.2f})")


if __name__ == "__main__":
    main()
