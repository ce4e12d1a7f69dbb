"""The search page: ``GET /`` with its script and style (not in the OpenAPI schema)."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

router = APIRouter(include_in_schema=False)


def asset(name: str) -> str:
    """The text of one file of the page (``m3search/serve/page/``).

    >>> "<html" in asset("index.html")
    True
    """
    return (resources.files("m3search.serve") / "page" / name).read_text(encoding="utf-8")


@router.get("/", response_class=HTMLResponse)
async def page() -> HTMLResponse:
    return HTMLResponse(asset("index.html"))


@router.get("/page.js")
async def page_js() -> Response:
    return Response(asset("page.js"), media_type="text/javascript")


@router.get("/page.css")
async def page_css() -> Response:
    return Response(asset("page.css"), media_type="text/css")
