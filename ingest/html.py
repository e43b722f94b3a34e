"""HTML to structured plain text: headings become markdown headings so the chunker sees them."""

from __future__ import annotations

import re

from .loaders import normalize_date

BLOCKS = {"p", "div", "li", "section", "article", "blockquote", "pre", "tr", "br", "dd", "dt", "td"}
DROP = ["script", "style", "noscript", "template", "svg", "head", "nav", "footer", "form", "iframe"]


def html_to_text(html: str) -> tuple[str, str, str]:
    """Return (text, title, date). Deeply nested pages fall back to tag stripping."""
    try:
        return _with_soup(html)
    except RecursionError:
        text = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", html)
        text = re.sub(r"<[^>]+>", " ", text)
        import html as htmllib

        return re.sub(r"[ \t]+", " ", htmllib.unescape(text)).strip(), "", ""


def _with_soup(html: str) -> tuple[str, str, str]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    date = ""
    for meta in soup.find_all("meta"):
        name = str(meta.get("property") or meta.get("name") or "").lower()
        if "date" in name or "published" in name:
            date = normalize_date(str(meta.get("content", "")))
            if date:
                break
    if not date and (tag := soup.find("time")) is not None:
        date = normalize_date(str(tag.get("datetime", "")) or tag.get_text())
    for tag in soup(DROP):
        tag.decompose()
    parts: list[str] = []
    for el in soup.find_all(True):
        name = el.name or ""
        if re.fullmatch(r"h[1-6]", name):
            parts.append("#" * int(name[1]) + " " + el.get_text(" ", strip=True))
        elif name in BLOCKS and not el.find(list(BLOCKS) + ["h1", "h2", "h3", "h4", "h5", "h6"]):
            text = el.get_text(" ", strip=True)
            if text:
                parts.append(text)
    if not parts:
        parts = [soup.get_text(" ", strip=True)]
    h1 = next((p.lstrip("# ") for p in parts if p.startswith("# ")), "")
    return "\n\n".join(parts), h1 or title, date
