"""RFC 9457 problem details (application/problem+json) for the API."""

from __future__ import annotations

import json
from http import HTTPStatus

from flask import Response

PROBLEM_TYPE_BASE = "https://stocksense.invalid/problems/"  # identifiers only, never fetched

PROBLEM_JSON = "application/problem+json"


def problem(
    status: int,
    detail: str | None = None,
    *,
    title: str | None = None,
    type_: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions,
) -> Response:
    if title is None:
        try:
            title = HTTPStatus(status).phrase
        except ValueError:
            title = "Error"
    body: dict = {
        "type": PROBLEM_TYPE_BASE + type_ if type_ else "about:blank",
        "title": title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    body.update(extensions)
    resp = Response(json.dumps(body, separators=(",", ":")), status=status, mimetype=PROBLEM_JSON)
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


class ApiProblem(Exception):
    """Raise inside API views to answer with a problem response."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        type_: str | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extensions,
    ):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.type_ = type_
        self.title = title
        self.headers = headers
        self.extensions = extensions

    def response(self) -> Response:
        return problem(
            self.status,
            self.detail,
            title=self.title,
            type_=self.type_,
            headers=self.headers,
            **self.extensions,
        )
