"""Turn knowledge files (.txt, .md, .html, .pdf, .docx) into a ParsedDocument.

Each loader reduces its format to blocks — ("h", heading) or ("p", paragraph) — and
``_sections`` groups them: text before the first heading is the section "", paragraphs
are joined with "\\n\\n", empty sections and empty headings are dropped. Section text
keeps the document's own words; only navigation chrome is removed.

Decisions a caller should know:
- The title is never section text. A heading that *is* the title (the Markdown H1 equal
  to the title; the first HTML h1 when ``<title>`` equals it or is it plus a site suffix
  such as "Page - NORA Online") does not start a section: text under it belongs to "".
  Any other h1 starts a section. HTML title = ``<title>`` text as-is, else first h1.
- Plain text and PDF: a heading is a short line standing alone between blank lines
  (``_is_heading``). PDF text comes from pypdf's layout mode, so vertical gaps become
  blank lines; runs of spaces in a PDF line are collapsed. PDF title = metadata /Title,
  else first line (a first line equal to the metadata title is dropped).
- Chrome lines (``CHROME_LINES``) are dropped anywhere; breadcrumb lines ("< Parent")
  only before the first content line, so content like "< 18 jaar" survives.
- Table rows (HTML, DOCX) become one line each, cells joined by a single space; the
  whole table is one paragraph, like the table in the NORA text file.
- Unreadable files and unsupported suffixes raise ``LoadError``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import docx
import pypdf
import yaml
from bs4 import BeautifulSoup, Comment, Declaration, Doctype, ProcessingInstruction, Tag
from docx.table import Table, _Row
from docx.text.paragraph import Paragraph

from bot.ingest.model import ParsedDocument, Section

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")

# Whole lines that are wiki navigation chrome, compared case-insensitively.
CHROME_LINES = (
    "uit nora online", "naar navigatie springen naar zoeken springen",
    "naar navigatie springen", "naar zoeken springen",
    "jump to navigation jump to search",
    "jump to navigation", "jump to search", "from wikipedia, the free encyclopedia",
)
BREADCRUMB_RE = re.compile(r"^< \S")
HTML_DROP_TAGS = (
    "script", "style", "nav", "header", "footer", "aside", "form", "noscript",
)
HTML_CHROME_NAMES = frozenset({  # MediaWiki ids/classes
    "mw-navigation", "mw-head", "mw-panel", "catlinks", "printfooter", "mw-jump-link",
    "toc", "mw-editsection", "siteSub", "contentSub", "jump-to-nav", "footer",
    "mw-footer", "mw-hidden-catlinks", "mw-indicators",
})
HTML_CHROME_ROLES = ("navigation", "banner", "contentinfo", "search")
HTML_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
HTML_BLOCKS = frozenset({
    "html", "body", "main", "article", "section", "div", "p", "ul", "ol", "li", "dl",
    "dt", "dd", "blockquote", "figure", "figcaption", "address", "details", "summary",
    "center", "table", "pre", "hr", "caption", *HTML_HEADINGS,
})
SKIPPED_STRINGS = (Comment, Declaration, Doctype, ProcessingInstruction)
_BR = "\ue000"  # stands in for <br> while HTML whitespace is collapsed
FRONT_MATTER_KEYS = {
    "title": "title", "url": "url", "licence": "licence", "license": "licence",
    "licence_url": "licence_url", "license_url": "licence_url",
    "attribution": "attribution", "section_anchors": "section_anchors",
}
FRONT_MATTER_RE = re.compile(
    r"^---[ \t]*\r?\n(.*?)^(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL | re.MULTILINE
)
ATX_RE = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
SETEXT_RE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
FENCE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})")

Block = tuple[str, str]  # ("h", heading text) or ("p", paragraph text)


class LoadError(Exception):
    """A knowledge file could not be read or parsed."""


def load_document(path: Path, relpath: str) -> ParsedDocument:
    """Parse ``path`` by its suffix (any case); ``relpath`` becomes ``.path``."""
    loaders: dict[str, Callable[[Path, str], ParsedDocument]] = {
        ".txt": _load_text, ".md": _load_markdown, ".markdown": _load_markdown,
        ".html": _load_html, ".htm": _load_html, ".pdf": _load_pdf, ".docx": _load_docx,
    }
    loader = loaders.get(path.suffix.lower())
    if loader is None:
        raise LoadError(f"{relpath}: unsupported file type {path.suffix!r}")
    try:
        return loader(path, relpath)
    except OSError as exc:
        raise LoadError(f"{relpath}: cannot read file: {exc}") from exc


def is_chrome_line(line: str) -> bool:
    """True for a line that is wiki navigation chrome (breadcrumbs not included)."""
    return " ".join(line.split()).lower() in CHROME_LINES


def _sections(blocks: Iterable[Block]) -> list[Section]:
    """Group heading/paragraph blocks into non-empty sections."""
    sections: list[Section] = []
    heading, paragraphs = "", []

    def flush() -> None:
        text = "\n\n".join(p.strip() for p in paragraphs if p.strip())
        if text:
            sections.append(Section(heading=heading, text=text))

    for kind, text in blocks:
        if kind == "p":
            paragraphs.append(text)
        elif text:
            flush()
            heading, paragraphs = text, []
    flush()
    return sections


def _decode(path: Path, relpath: str) -> str:
    """Read text as UTF-8 (BOM tolerated), falling back to cp1252."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise LoadError(f"{relpath}: neither UTF-8 nor cp1252 text: {exc}") from exc


# --- plain text (and PDF text) ------------------------------------------------

def _is_heading(line: str) -> bool:
    """Short, no closing punctuation, starts with an uppercase letter or a digit."""
    line = line.strip()
    return (0 < len(line) <= 80 and not line.endswith((".", ":", ";", ",", "?", "!"))
            and (line[0].isupper() or line[0].isdigit()))


def _plain_document(text: str, relpath: str, title: str = "") -> ParsedDocument:
    """Section plain text; without ``title`` the first non-empty line is the title.

    Removed lines (title, chrome) become blank, so the next line counts as preceded by
    a blank line.
    """
    lines = [line.rstrip() for line in text.splitlines()]
    in_lead = True
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        if is_chrome_line(line) or (
            in_lead and (stripped == title or BREADCRUMB_RE.match(stripped))
        ):
            lines[i] = ""
        elif in_lead and not title:
            title, lines[i] = stripped, ""
        else:
            in_lead = False
    sections = _sections(_plain_blocks(lines))
    title = title or Path(relpath).stem  # an empty file has no title line
    return ParsedDocument(path=relpath, title=title, sections=sections)


def _plain_blocks(lines: list[str]) -> Iterator[Block]:
    """Split lines at blank lines; a lone heading-like line is a heading."""
    paragraph: list[str] = []
    for line in [*lines, ""]:
        if line.strip():
            paragraph.append(line)
        elif paragraph:
            if len(paragraph) == 1 and _is_heading(paragraph[0]):
                yield "h", paragraph[0].strip()
            else:
                yield "p", "\n".join(paragraph)
            paragraph = []


def _load_text(path: Path, relpath: str) -> ParsedDocument:
    return _plain_document(_decode(path, relpath), relpath)


def _load_pdf(path: Path, relpath: str) -> ParsedDocument:
    """Extract text page by page (layout mode keeps blank lines), then as plain text."""
    try:
        reader = pypdf.PdfReader(io.BytesIO(path.read_bytes()))
        pages = [page.extract_text(extraction_mode="layout") for page in reader.pages]
        title = ((reader.metadata.title if reader.metadata else "") or "").strip()
    except Exception as exc:  # pypdf raises many types on damaged files
        raise LoadError(f"{relpath}: cannot parse PDF: {exc}") from exc
    text = "\n\n".join(
        "\n".join(" ".join(line.split()) for line in (page or "").splitlines())
        for page in pages
    )
    if not text.strip():
        raise LoadError(f"{relpath}: no text layer (scanned PDF?)")
    return _plain_document(text, relpath, title=title)


# --- Markdown -----------------------------------------------------------------

def _front_matter(text: str, relpath: str) -> tuple[dict[str, str], str]:
    """Split leading YAML front matter off ``text``; returns (meta, body)."""
    match = FRONT_MATTER_RE.match(text)
    if not match:
        return {}, text
    try:
        data = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise LoadError(f"{relpath}: invalid YAML front matter: {exc}") from exc
    if not isinstance(data, dict):
        raise LoadError(f"{relpath}: front matter is not a mapping")
    meta = {FRONT_MATTER_KEYS[k]: str(v).strip() for k, v in data.items()
            if k in FRONT_MATTER_KEYS and v is not None}
    return meta, text[match.end():]


def _markdown_blocks(text: str) -> Iterator[tuple[str, str, int]]:
    """Yield (kind, text, level): headings (level 1-6) and paragraphs (level 0).

    A fenced code block is one paragraph, fences included; nothing in it is a heading.
    """
    paragraph: list[str] = []
    fence = ""
    for line in [*text.splitlines(), ""]:
        stripped = line.strip()
        if fence:
            paragraph.append(line.rstrip())
            if stripped.startswith(fence) and not stripped.strip(fence[0]):
                yield "p", "\n".join(paragraph), 0
                fence, paragraph = "", []
            continue
        if paragraph and SETEXT_RE.match(line):
            level = 1 if "=" in line else 2
            yield "h", " ".join(part.strip() for part in paragraph), level
            paragraph = []
            continue
        atx, fence_match = ATX_RE.match(line), FENCE_RE.match(line)
        if paragraph and (atx or fence_match or not stripped):
            yield "p", "\n".join(paragraph), 0
            paragraph = []
        if atx:
            yield "h", (atx.group(2) or "").strip(), len(atx.group(1))
        elif stripped:
            fence = fence_match.group(1) if fence_match else ""
            paragraph.append(line.rstrip())
    if paragraph:  # an unclosed fence runs to the end of the document
        yield "p", "\n".join(paragraph), 0


def _load_markdown(path: Path, relpath: str) -> ParsedDocument:
    meta, body = _front_matter(_decode(path, relpath), relpath)
    blocks = list(_markdown_blocks(body))
    h1s = [text for kind, text, level in blocks if kind == "h" and level == 1]
    title = meta.get("title") or next(iter(h1s), "") or path.stem
    kept = [(kind, text) for kind, text, level in blocks]
    if title in h1s:  # the title's H1 does not start a section
        del kept[blocks.index(("h", title, 1))]
    sections = _sections(kept)
    return ParsedDocument(path=relpath, title=title, sections=sections, meta=meta)


# --- HTML ---------------------------------------------------------------------

def _html_text(raw: str) -> str:
    """Collapse whitespace, turn _BR into line breaks, drop chrome lines."""
    lines = (" ".join(part.split()) for part in raw.split(_BR))
    return "\n".join(line for line in lines if line and not is_chrome_line(line))


def _html_blocks(node: Tag) -> Iterator[Block]:
    """Walk the tree: headings, tables (line per row), pre, runs of inline text."""
    if node.name in HTML_HEADINGS:
        yield "h", _html_text(node.get_text()).replace("\n", " ")
    elif node.name == "table":
        rows = []
        for tr in node.find_all("tr"):
            cells = (_html_text(cell.get_text()) for cell in tr.find_all(("td", "th")))
            rows.append(" ".join(cell.replace("\n", " ") for cell in cells if cell))
        yield "p", "\n".join(row for row in rows if row)
    elif node.name == "pre":
        yield "p", node.get_text().replace(_BR, "\n").strip("\n")
    else:
        inline: list[str] = []
        for child in node.children:
            if isinstance(child, Tag) and child.name in HTML_BLOCKS:
                yield "p", _html_text("".join(inline))
                inline = []
                yield from _html_blocks(child)
            elif isinstance(child, Tag):
                inline.append(child.get_text())
            elif not isinstance(child, SKIPPED_STRINGS):
                inline.append(str(child))
        yield "p", _html_text("".join(inline))


def _html_meta(soup: BeautifulSoup) -> dict[str, str]:
    """url: canonical link / og:url; licence: <meta name=license>, rel=license."""
    meta: dict[str, str] = {}
    for link in soup.find_all("link", href=True):
        rels = [rel.lower() for rel in link.get("rel") or []]
        if "canonical" in rels:
            meta.setdefault("url", link["href"].strip())
        if "license" in rels:
            meta.setdefault("licence_url", link["href"].strip())
    for tag in soup.find_all("meta", content=True):
        if (tag.get("property") or "").lower() == "og:url":
            meta.setdefault("url", tag["content"].strip())
        if (tag.get("name") or "").lower() in ("license", "licence", "dc.rights"):
            meta.setdefault("licence", tag["content"].strip())
    return meta


def _strip_html_chrome(soup: BeautifulSoup) -> None:
    """Remove non-content elements in place."""
    doomed = soup.find_all(HTML_DROP_TAGS)
    for tag in soup.find_all(True):
        names = {tag.get("id") or "", *(tag.get("class") or [])}
        if names & HTML_CHROME_NAMES or tag.get("role") in HTML_CHROME_ROLES:
            doomed.append(tag)
    for tag in doomed:
        if not tag.decomposed:
            tag.decompose()


def _is_page_title(h1_text: str, title: str) -> bool:
    """True if ``title`` is the h1 itself or the h1 plus a site suffix ("X - Site")."""
    rest = title.removeprefix(h1_text)
    separators = ("-", "|", "–", "—", ":")
    return rest != title and (not rest or rest.lstrip()[:1] in separators)


def _load_html(path: Path, relpath: str) -> ParsedDocument:
    soup = BeautifulSoup(_decode(path, relpath), "html.parser")
    meta = _html_meta(soup)
    _strip_html_chrome(soup)
    for br in soup.find_all("br"):
        br.replace_with(_BR)
    first_h1 = soup.find("h1")
    h1_text = _html_text(first_h1.get_text()).replace("\n", " ") if first_h1 else ""
    title = _html_text(soup.title.get_text()) if soup.title else ""
    title = title or h1_text or path.stem
    for tag in (soup.head, soup.title):  # a fragment may have <title> but no <head>
        if tag is not None and not tag.decomposed:
            tag.decompose()
    blocks = list(_html_blocks(soup.body or soup))
    if ("h", h1_text) in blocks and _is_page_title(h1_text, title):
        blocks.remove(("h", h1_text))  # the page-title h1 does not start a section
    sections = _sections(blocks)
    return ParsedDocument(path=relpath, title=title, sections=sections, meta=meta)


# --- DOCX ---------------------------------------------------------------------

def _docx_row_text(row: _Row) -> str:
    """One table row as a line: cell texts (merged cells once) joined by a space."""
    cells, seen = [], set()
    for cell in row.cells:
        if id(cell._tc) not in seen:
            seen.add(id(cell._tc))
            cells.append(" ".join(cell.text.split()))
    return " ".join(cell for cell in cells if cell)


def _load_docx(path: Path, relpath: str) -> ParsedDocument:
    """Heading/Kop styles start sections, Title/Titel is the title, tables in order."""
    try:
        document = docx.Document(str(path))
        items = list(document.iter_inner_content())
        core_title = (document.core_properties.title or "").strip()
    except Exception as exc:  # zipfile/lxml/python-docx errors on damaged files
        raise LoadError(f"{relpath}: cannot parse DOCX: {exc}") from exc
    title, blocks = "", []
    for item in items:
        if isinstance(item, Table):
            rows = (_docx_row_text(row) for row in item.rows)
            blocks.append(("p", "\n".join(row for row in rows if row)))
        elif isinstance(item, Paragraph) and item.text.strip():
            style = (item.style.name if item.style is not None else "").lower()
            text = item.text.strip()
            if style in ("title", "titel") and title in ("", text):
                title = text
            elif style.startswith(("heading", "kop")):
                blocks.append(("h", text))
            elif not is_chrome_line(text):
                blocks.append(("p", item.text))
    title = title or core_title or path.stem
    return ParsedDocument(path=relpath, title=title, sections=_sections(blocks))
