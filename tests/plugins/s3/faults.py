"""Servers for failure tests: a TCP link to the S3 server that can be cut, and a server answering one S3 error."""

from __future__ import annotations

import contextlib
import http.server
import socket
import threading
from typing import Any


class CuttableLink:
    """A TCP proxy on 127.0.0.1 in front of the S3 server that goes dead once a byte budget is spent.

    ``cut_after(up=..., down=...)`` counts the bytes sent to the server (``up``) or back (``down``) from now
    on; when one budget is exceeded every connection is dropped and the port refuses new ones, as when the
    server goes away, while the server itself (and what it stored) stays there to be inspected.
    """

    def __init__(self, target_port: int) -> None:
        self._target = ("127.0.0.1", target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._budget: dict[str, int | None] = {"up": None, "down": None}
        self.is_cut = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut_after(self, up: int | None = None, down: int | None = None) -> None:
        """Cut the link once ``up`` more bytes went to the server or ``down`` more came back."""
        with self._lock:
            self._budget = {"up": up, "down": down}

    def cut(self) -> None:
        """Drop every connection and refuse new ones."""
        with self._lock:
            self.is_cut = True
            sockets, self._sockets = self._sockets, []
        with contextlib.suppress(OSError):
            self._listener.close()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self) -> None:
        while not self.is_cut:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._target)
            with self._lock:
                if self.is_cut:
                    client.close()
                    upstream.close()
                    return
                self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, "up"), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, "down"), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, direction: str) -> None:
        try:
            while data := source.recv(65536):
                with self._lock:
                    budget = self._budget[direction]
                    if budget is not None:
                        self._budget[direction] = budget - len(data)
                exhausted = budget is not None and budget - len(data) < 0
                if exhausted:
                    target.sendall(data[: max(budget, 0)])
                    self.cut()
                    return
                target.sendall(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)


class ErrorServer:
    """An HTTP server on 127.0.0.1 answering every request with one S3 error document; it counts the requests."""

    def __init__(self, status: int, code: str, message: str = "") -> None:
        self.requests = 0
        outer = self
        body = f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{message}</Message></Error>"

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                outer.requests += 1
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                payload = b"" if self.command == "HEAD" else body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _answer  # noqa: N815 (http.server names)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
