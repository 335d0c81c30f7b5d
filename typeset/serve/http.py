"""The board over HTTP on 127.0.0.1: the page, its state as JSON, page images, and server-sent events."""

from __future__ import annotations

import http.server
import json
import threading
from urllib.parse import urlparse

from ..i18n import lang_of
from .board import Board, board_html


def make_handler(board: Board, stop: threading.Event):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):  # the board is the log
            pass

        def send(self, body: bytes, content_type: str, status: int = 200) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store" if content_type.startswith(("application", "text")) else
                             "max-age=3600")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            path = urlparse(self.path).path
            lang = lang_of(self.headers.get("Accept-Language"))
            if path == "/":
                self.send(board_html(lang), "text/html; charset=utf-8")
            elif path == "/state":
                self.send(json.dumps(board.snapshot(lang), ensure_ascii=False).encode(), "application/json")
            elif path == "/events":
                self.events()
            elif path.startswith(("/thumb/", "/page/")) and path.rsplit("/", 1)[1].isdigit():
                index = int(path.rsplit("/", 1)[1])
                image = board.thumbs.get(index) if path.startswith("/thumb/") else board.large_image(index)
                if image is None:
                    self.send(b"no such page", "text/plain", 404)
                else:
                    self.send(image, "image/png")
            else:
                self.send(b"not found", "text/plain", 404)

        def events(self):
            """Server-sent events: the board's version whenever it changes, a comment every 15 s."""
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            seen = -1
            try:
                while not stop.is_set():
                    with board.changed:
                        board.changed.wait_for(lambda: board.version != seen or stop.is_set(), timeout=15)
                        version = board.version
                    if version != seen:
                        seen = version
                        self.wfile.write(f"data: {version}\n\n".encode())
                    else:
                        self.wfile.write(b": still here\n\n")
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass

    return Handler
