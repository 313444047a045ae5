"""The page's routes beside ``/metrics`` and ``/healthz``: ``/`` (whole or its live part) and ``/action``.

``?lang=en`` or ``?lang=zh-CN`` shows the page in the other language; the
station's ``locale`` is the default. A posted action answers with a redirect
back to the page (post/redirect/get), which then shows what became of it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from gateway.i18n import LOCALES, Locale, Translator
from gateway.service.local_http import HttpRequest, Response
from gateway.station_page.actions import Operator, Submit
from gateway.station_page.render import live, page
from gateway.station_page.state import StationParts, read_state
from gateway.station_page.trend import Trends
from gateway.station_page.walk import WalkMode

HTML = "text/html; charset=utf-8"
NOTICES = 5  # the latest action outcomes the page shows
NOTICE_FOR = 300.0  # seconds an outcome stays on the page


class StationPage:
    """Answers the page's requests from the running gateway's parts, read at each request."""

    def __init__(
        self,
        parts: Callable[[], StationParts],
        trends: Trends,
        operator: Callable[[], Operator],
        submit: Submit,
        walk: WalkMode,
    ) -> None:
        self._parts = parts
        self._trends = trends
        self._operator = operator
        self._submit = submit
        self._walk = walk
        self._notices: deque[tuple[float, str]] = deque(maxlen=NOTICES)

    async def respond(self, request: HttpRequest) -> Response | None:
        """The page's answer, or None for a path that is not the page's."""
        url = urlsplit(request.path)
        query = {k: v[0] for k, v in parse_qs(url.query, max_num_fields=4).items()}
        t = Translator(self._locale(query.get("lang")))
        if url.path == "/action":
            if request.method != "POST":
                return Response("405 Method Not Allowed", "text/plain", b"POST only\n", (("Allow", "POST"),))
            notice = await self._operator().act(request.body, self._submit, self._walk, t)
            self._notices.append((time.monotonic(), notice))
            return Response("303 See Other", HTML, b"", (("Location", f"/?lang={t.locale}"),))
        if url.path != "/":
            return None
        state = read_state(self._parts(), self._trends, self._walk.test)
        operate = self._operator().enabled
        if query.get("part") == "live":
            body = live(state, t, operate=operate)
        else:
            body = page(state, t, operate=operate, notices=self._recent())
        return Response("200 OK", HTML, body.encode(), (("Cache-Control", "no-store"),))

    def _locale(self, asked: str | None) -> Locale:
        for locale in LOCALES:
            if asked == locale:
                return locale
        return self._parts().config.station.station.locale

    def _recent(self) -> list[str]:
        since = time.monotonic() - NOTICE_FOR
        return [text for at, text in reversed(self._notices) if at >= since]
