"""`typeset serve`: the issue as a flatplan board in the browser, rebuilt as files are saved.

Two speeds. An edit to an article's text is on the board in about a second (preview.py); the
whole build follows in a subprocess (builds.py), which a newer edit cancels, and replaces the
board when it is done. An input error is shown on the page; the server keeps running and picks
up the fix.
"""

from __future__ import annotations

import http.server
import threading
import time
from pathlib import Path

import watchfiles

from .. import install_weasyprint_extensions
from ..body.engine import reuse_font_subsets
from ..i18n import N_, _
from .board import Board, Message
from .builds import WholeBuild
from .http import make_handler
from .preview import Previewer


class Server:
    """Watches the issue folder; each save goes to the preview, then to the whole build."""

    def __init__(self, issue_dir: Path, out_dir: Path, log=lambda line: None):
        self.issue_dir, self.out_dir = issue_dir, out_dir
        self.board = Board()
        self.stop = threading.Event()
        self.previewer = Previewer(issue_dir, self.board, log)
        self.build = WholeBuild(issue_dir, out_dir, self.board, self._built, log)
        self.log = log

    def _built(self, report: dict) -> None:
        threading.Thread(target=self.previewer.warm_up, args=(report, self.stop), daemon=True).start()

    def relevant(self, _change, path: str) -> bool:
        """Saves of the issue's own files: not the outputs, hidden files or editors' temporary files."""
        resolved = Path(path).resolve()
        out = self.out_dir.resolve()
        if resolved == out or out in resolved.parents:
            return False
        relative = resolved.relative_to(self.issue_dir.resolve()).parts if \
            resolved.is_relative_to(self.issue_dir.resolve()) else resolved.parts
        if relative[:1] == ("build",) or any(part.startswith(".") for part in relative):
            return False
        return not resolved.name.endswith(("~", ".tmp", ".swp", ".swx"))

    def watch(self) -> None:
        for changes in watchfiles.watch(self.issue_dir, watch_filter=self.relevant, debounce=50, step=20,
                                        stop_event=self.stop, yield_on_timeout=False):
            self.on_change({Path(path) for _, path in changes if Path(path).is_file()})

    def on_change(self, changed: set[Path]) -> None:
        self.build.cancel()
        try:
            shown = self.previewer.preview(changed)
        except Exception as exc:  # a preview must never take the server down: the whole build decides
            shown = False
            self.board.publish(status=Message(N_("preview failed ({reason}); the whole build follows"),
                                              {"reason": str(exc)}))
        if not shown:
            self.previewer.forget(changed)
            self.log(_("{time} {files} changed: the whole build follows", time=time.strftime("%H:%M:%S"),
                       files=", ".join(sorted(_shown(self.issue_dir, path) for path in changed))))
        elif self.board.error:
            self.board.publish(building=False)  # the whole build would stop on the same error
            return
        self.build.start()


def _shown(issue_dir: Path, path: Path) -> str:
    return str(path.relative_to(issue_dir)) if path.is_relative_to(issue_dir) else str(path)


def serve(issue_dir: Path, out_dir: Path, port: int, announce, log=lambda line: None) -> None:
    """Serve the board on 127.0.0.1:`port` until interrupted; `announce(url)` once listening,
    `log(line)` once for each rebuild."""
    install_weasyprint_extensions()
    reuse_font_subsets()  # this process draws only previews
    server = Server(issue_dir, out_dir, log)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), make_handler(server.board, server.stop))
    httpd.daemon_threads = True
    announce(f"http://127.0.0.1:{httpd.server_address[1]}/")
    server.build.start()
    threading.Thread(target=server.watch, daemon=True).start()
    try:
        httpd.serve_forever(poll_interval=0.2)
    finally:
        server.stop.set()
        with server.board.changed:
            server.board.changed.notify_all()
        server.build.stop()
        httpd.server_close()
