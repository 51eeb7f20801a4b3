"""What the browser tests share: Debian's Chromium, a watched page, logging in, API calls as a user."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import APIRequestContext, APIResponse, ConsoleMessage, Page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).parent / "artifacts"
READY = 'body[data-ready="1"]'
FAILED_LOAD = "Failed to load resource: the server responded with a status of "


def _expected_auth_answer(msg: ConsoleMessage) -> bool:
    """Chromium logs every 4xx fetch as a console error. The 401 of /auth/me before logging in
    and the 401 of a deliberately wrong password are answers the page handles, not faults."""
    path = urlsplit(msg.location.get("url", "")).path
    return msg.text.startswith(f"{FAILED_LOAD}401") and path in {"/api/v1/auth/me", "/api/v1/auth/login"}


class Watched:
    """A page and what it did: every request URL and every console error or uncaught exception."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.allowed: set[tuple[int, str]] = set()
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

    def allow(self, status: int, path: str) -> None:
        """Expect an error answer (a test provoking a 422, say): Chromium's log line of it is no fault."""
        self.allowed.add((status, path))

    def _answer_allowed(self, msg: ConsoleMessage) -> bool:
        path = urlsplit(msg.location.get("url", "")).path
        return any(msg.text.startswith(f"{FAILED_LOAD}{s}") and path == p for s, p in self.allowed)

    def _console(self, msg: ConsoleMessage) -> None:
        if msg.type == "error" and not _expected_auth_answer(msg) and not self._answer_allowed(msg):
            self.errors.append(f"console: {msg.text} @ {msg.location.get('url')}")

    def foreign_requests(self) -> list[str]:
        """Requests over the network to anywhere but 127.0.0.1 (data: and blob: URLs never leave the page)."""
        return [
            u
            for u in self.requests
            if urlsplit(u).scheme in {"http", "https", "ws", "wss"} and urlsplit(u).hostname != "127.0.0.1"
        ]


def log_in(page: Page, username: str, password: str) -> None:
    """Fill in and send the login form."""
    page.fill("#gm-username", username)
    page.fill("#gm-password", password)
    page.click("#gm-login-submit")


class UserApi:
    """JSON calls as one user, through a browser context's request client (cookie session + CSRF)."""

    def __init__(self, request: APIRequestContext, base: str, username: str, password: str) -> None:
        self.request = request
        self.base = base
        answer = request.post(f"{base}/api/v1/auth/login", data={"username": username, "password": password})
        assert answer.ok, (username, answer.status, answer.text())
        self.headers = {"X-CSRF-Token": answer.json()["csrf_token"]}

    def get(self, path: str, **params: str | int) -> Any:
        answer = self.request.get(f"{self.base}{path}", params=params or None)
        assert answer.ok, (path, answer.status, answer.text())
        return answer.json()

    def send(self, method: str, path: str, body: dict[str, Any] | None = None) -> APIResponse:
        return self.request.fetch(f"{self.base}{path}", method=method, data=body, headers=self.headers)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        answer = self.send("POST", path, body)
        assert answer.status == 201, (path, body, answer.status, answer.text())
        return answer.json()
