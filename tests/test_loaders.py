"""Tests for bot.ingest.loaders: every supported format, chrome removal, error cases."""

from __future__ import annotations

import random
from pathlib import Path

import docx
import pypdf
import pytest

from bot.ingest.loaders import SUPPORTED_SUFFIXES, LoadError, load_document
from bot.ingest.model import ParsedDocument

KNOWLEDGE = Path(__file__).resolve().parents[1] / "knowledge"
NORA = KNOWLEDGE / "nora-implementatie-van-ketensturing.txt"
NORA_HEADINGS = [
    "De opstart",
    "Initiële ketenconferentie",
    "Sturen op kwaliteit en continuïteit bij ketenmedewerkers",
    "Stap voor stap vormgeven van het besturingsmodel",
    "Omgaan met weerbarstige cultuurinvloeden",
    "Gebruik 'vreemde ogen'",
    "Ontwikkelstadia van ketens",
    "Geduld",
]
NORA_CHROME = (
    "Uit NORA Online", "< Ketensturing", "Naar navigatie springen",
    "Naar zoeken springen",
)


def _norm(text: str) -> str:
    return " ".join(text.split())


def _pairs(doc: ParsedDocument) -> list[tuple[str, str]]:
    return [(section.heading, section.text) for section in doc.sections]


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


# --- NORA plain text -------------------------------------------------------------

@pytest.fixture(scope="module")
def nora() -> ParsedDocument:
    return load_document(NORA, "nora-implementatie-van-ketensturing.txt")


def test_nora_title_and_path(nora: ParsedDocument) -> None:
    assert nora.title == "Ketensturing/Implementatie van ketensturing"
    assert nora.path == "nora-implementatie-van-ketensturing.txt"
    assert nora.meta == {}


def test_nora_headings_in_order(nora: ParsedDocument) -> None:
    assert [s.heading for s in nora.sections] == ["", *NORA_HEADINGS]


def test_nora_intro_section(nora: ParsedDocument) -> None:
    intro = nora.sections[0].text
    assert intro.startswith("Machiavelli: Niets is lastiger om aan te pakken")
    assert "\n\nDe implementatie van ketensturing zal bij geen enkele keten" in intro
    assert intro.endswith("rondom ketensturing centraal.")
    assert nora.title not in intro


def test_nora_has_no_chrome(nora: ParsedDocument) -> None:
    for section in nora.sections:
        for line in section.text.splitlines():
            assert not line.startswith("< ")
            assert not any(chrome in line for chrome in NORA_CHROME), line


def test_nora_table_stays_in_its_section(nora: ParsedDocument) -> None:
    text = dict(_pairs(nora))["Ontwikkelstadia van ketens"]
    lines = text.splitlines()
    start = lines.index("Tabel 'Ontwikkelstadia van ketens'")
    stages = "Opportunisme Procedure geörienteerd Culturele verankering"
    assert lines[start + 1] == stages
    assert lines[start + 2].startswith("Strategische focus Van geval tot geval")
    assert lines[start + 3].startswith("Operationeel model Ad hoc;")
    assert lines[start + 4].startswith("Zichtbaarheid in organisatie Samenwerking")
    assert len(lines) == start + 5  # the table ends the section


def test_nora_text_is_verbatim(nora: ParsedDocument) -> None:
    original = _norm(NORA.read_text(encoding="utf-8"))
    for section in nora.sections:
        assert section.text == section.text.strip()
        for paragraph in section.text.split("\n\n"):
            assert paragraph.strip()
            assert _norm(paragraph) in original, paragraph[:80]
    # Nothing but the title and the chrome is lost.
    kept = [nora.title, *NORA_HEADINGS, *(s.text for s in nora.sections)]
    dropped = set(original.split()) - set(_norm(" ".join(kept)).split())
    chrome_words = {"Uit", "NORA", "Online", "<", "Naar", "navigatie", "zoeken"}
    chrome_words.add("springen")
    assert dropped <= chrome_words


# --- other plain text ------------------------------------------------------------

def test_cp1252_text_decodes(tmp_path: Path) -> None:
    body = "Ketenoverleg\n\nSamenwerking – café “keten” geïmplementeerd.\n"
    path = _write(tmp_path, "oud.TXT", body.encode("cp1252"))
    doc = load_document(path, "oud.TXT")
    assert doc.title == "Ketenoverleg"
    assert _pairs(doc) == [("", "Samenwerking – café “keten” geïmplementeerd.")]


def test_utf8_bom_chrome_and_heading_rules(tmp_path: Path) -> None:
    body = (
        "\ufeffTitel\n\nJump to navigation Jump to search\n< Ouder\nIntro regel.\n\n"
        "Kop zonder punt\n\nTekst.\n\nniet een kop\n\nGeen kop:\n\n"
        "2. Genummerde kop\n\nMeer tekst.\n< 18 jaar blijft staan\n"
    )
    doc = load_document(_write(tmp_path, "a.txt", body), "a.txt")
    assert doc.title == "Titel"
    assert _pairs(doc) == [
        ("", "Intro regel."),
        ("Kop zonder punt", "Tekst.\n\nniet een kop\n\nGeen kop:"),
        ("2. Genummerde kop", "Meer tekst.\n< 18 jaar blijft staan"),
    ]


# --- Markdown --------------------------------------------------------------------

MARKDOWN = """---
title: Ketenhandboek
url: https://example.org/handboek
license: CC BY 4.0
licence_url: https://creativecommons.org/licenses/by/4.0/
attribution: Ketenbureau
section_anchors: mediawiki
ignored: yes
---
Intro met *nadruk* blijft letterlijk.

# Ketenhandboek

Meer intro.

Eerste deel
===========

Tekst van het eerste deel,
over twee regels.

Tweede deel
-----------

```python
# not a heading

x = 1
```

### Derde deel ###
Tekst na de ATX-kop.
"""


def test_markdown_front_matter_and_headings(tmp_path: Path) -> None:
    doc = load_document(_write(tmp_path, "handboek.md", MARKDOWN), "docs/handboek.md")
    assert doc.path == "docs/handboek.md"
    assert doc.title == "Ketenhandboek"
    assert doc.meta == {
        "title": "Ketenhandboek",
        "url": "https://example.org/handboek",
        "licence": "CC BY 4.0",
        "licence_url": "https://creativecommons.org/licenses/by/4.0/",
        "attribution": "Ketenbureau",
        "section_anchors": "mediawiki",
    }
    assert _pairs(doc) == [
        ("", "Intro met *nadruk* blijft letterlijk.\n\nMeer intro."),
        ("Eerste deel", "Tekst van het eerste deel,\nover twee regels."),
        ("Tweede deel", "```python\n# not a heading\n\nx = 1\n```"),
        ("Derde deel", "Tekst na de ATX-kop."),
    ]


def test_markdown_title_fallbacks(tmp_path: Path) -> None:
    path = _write(tmp_path, "x.markdown", "# Hoofdtitel\n\nTekst.\n\n# Bijlage\n\nB.\n")
    doc = load_document(path, "x.markdown")
    assert doc.title == "Hoofdtitel"
    assert doc.meta == {}
    assert _pairs(doc) == [("", "Tekst."), ("Bijlage", "B.")]
    path = _write(tmp_path, "notities.md", "## Sub\n\nTekst.\n")
    doc = load_document(path, "notities.md")
    assert doc.title == "notities"
    assert _pairs(doc) == [("Sub", "Tekst.")]


def test_markdown_bad_front_matter(tmp_path: Path) -> None:
    path = _write(tmp_path, "bad.md", "---\ntitle: [unclosed\n---\nx\n")
    with pytest.raises(LoadError, match="front matter"):
        load_document(path, "bad.md")


# --- HTML ------------------------------------------------------------------------

HTML = """<!DOCTYPE html>
<html><head>
<title>Ketensturing/Implementatie - NORA Online</title>
<link rel="canonical" href="https://www.noraonline.nl/wiki/Ketensturing/Implementatie">
<link rel="license" href="https://creativecommons.org/licenses/by-nd/3.0/nl/">
<meta name="license" content="CC BY-ND 3.0">
<style>.x { color: red }</style>
<script>var chrome = "Naar navigatie springen";</script>
</head><body>
<header>Site header</header>
<nav>Hoofdmenu</nav>
<div id="mw-navigation"><a>Persoonlijke hulpmiddelen</a></div>
<div role="navigation">Rolmenu</div>
<div id="content">
<h1 id="firstHeading">Ketensturing/Implementatie</h1>
<div id="siteSub">Uit NORA Online</div>
<div id="contentSub">&lt; Ketensturing</div>
<a class="mw-jump-link" href="#mw-head">Naar navigatie springen</a>
<p>Jump to navigation</p>
<p>Intro <b>vet</b> tekst.<br>Tweede regel.</p>
<div id="toc">Inhoud 1 De opstart</div>
<h2><span class="mw-headline">De opstart</span>
<span class="mw-editsection">[bewerken]</span></h2>
<p>Opstart tekst.</p>
<ul><li>Punt een</li><li>Punt twee</li></ul>
<div>Losse div tekst</div>
<h3>Ontwikkelstadia</h3>
<table><tr><th></th><th>Opportunisme</th><th>Procedure</th></tr>
<tr><td>Strategische focus</td><td>Van geval tot geval</td><td>Routine</td></tr></table>
<!-- a comment -->
<div class="catlinks">Categorie: Ketens</div>
<div class="printfooter">Opgehaald van</div>
</div>
<aside>Zijbalk</aside>
<form><input value="Zoeken"></form>
<div id="footer">Deze pagina is bewerkt</div>
<footer>Privacybeleid</footer>
</body></html>
"""


def test_html_sections_and_meta(tmp_path: Path) -> None:
    doc = load_document(_write(tmp_path, "page.HTML", HTML), "page.HTML")
    assert doc.title == "Ketensturing/Implementatie - NORA Online"
    assert doc.meta == {
        "url": "https://www.noraonline.nl/wiki/Ketensturing/Implementatie",
        "licence": "CC BY-ND 3.0",
        "licence_url": "https://creativecommons.org/licenses/by-nd/3.0/nl/",
    }
    assert _pairs(doc) == [
        ("", "Intro vet tekst.\nTweede regel."),
        ("De opstart", "Opstart tekst.\n\nPunt een\n\nPunt twee\n\nLosse div tekst"),
        ("Ontwikkelstadia",
         "Opportunisme Procedure\nStrategische focus Van geval tot geval Routine"),
    ]


def test_html_chrome_removed(tmp_path: Path) -> None:
    doc = load_document(_write(tmp_path, "page.htm", HTML), "page.htm")
    everything = " ".join(s.heading + " " + s.text for s in doc.sections)
    for chrome in ("Site header", "Hoofdmenu", "Persoonlijke", "Rolmenu", "Uit NORA",
                   "Ketensturing", "navigatie", "Jump to", "Inhoud", "bewerken",
                   "color", "var chrome", "Categorie", "Opgehaald", "Zijbalk", "Zoeken",
                   "bewerkt", "Privacybeleid", "comment"):
        assert chrome not in everything, chrome


def test_html_title_from_h1_and_og_url(tmp_path: Path) -> None:
    html = (
        '<html><head><meta property="og:url" content="https://example.org/p"></head>'
        "<body><h1>Pagina</h1><p>Tekst.</p><h1>Tweede</h1><p>Meer.</p></body></html>"
    )
    doc = load_document(_write(tmp_path, "p.html", html), "p.html")
    assert doc.title == "Pagina"
    assert doc.meta == {"url": "https://example.org/p"}
    assert _pairs(doc) == [("", "Tekst."), ("Tweede", "Meer.")]


def test_html_h1_that_is_not_the_title_starts_a_section(tmp_path: Path) -> None:
    html = (
        "<title>Ketens de baas</title><p>Voorwoord.</p>"
        "<h1>Ketens</h1><p>Over ketens.</p>"
    )
    doc = load_document(_write(tmp_path, "k.html", html), "k.html")
    assert doc.title == "Ketens de baas"
    assert _pairs(doc) == [("", "Voorwoord."), ("Ketens", "Over ketens.")]


# --- DOCX ------------------------------------------------------------------------

def test_docx_headings_and_table_in_order(tmp_path: Path) -> None:
    document = docx.Document()
    document.core_properties.title = "Kerntitel"
    document.add_paragraph("Ketenplan", style="Title")
    document.add_paragraph("Inleiding van het plan.")
    document.add_heading("Aanpak", level=1)
    document.add_paragraph("Eerste alinea.")
    table = document.add_table(rows=2, cols=3)
    cells = [("Fase", "Duur", "Eigenaar"), ("Opstart", "3 maanden", "Keten")]
    for r, row in enumerate(cells):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_paragraph("Na de tabel.")
    document.add_heading("Details", level=2)
    document.add_paragraph("Detailtekst.")
    path = tmp_path / "plan.docx"
    document.save(str(path))

    doc = load_document(path, "plan.docx")
    assert doc.title == "Ketenplan"
    table_text = "Fase Duur Eigenaar\nOpstart 3 maanden Keten"
    assert _pairs(doc) == [
        ("", "Inleiding van het plan."),
        ("Aanpak", f"Eerste alinea.\n\n{table_text}\n\nNa de tabel."),
        ("Details", "Detailtekst."),
    ]


def test_docx_core_title_fallback(tmp_path: Path) -> None:
    document = docx.Document()
    document.core_properties.title = "Kerntitel"
    document.add_paragraph("Alleen tekst.")
    path = tmp_path / "k.docx"
    document.save(str(path))
    doc = load_document(path, "k.docx")
    assert doc.title == "Kerntitel"
    assert _pairs(doc) == [("", "Alleen tekst.")]


# --- PDF -------------------------------------------------------------------------

def build_pdf(lines: list[tuple[int, int, str]], title: str = "") -> bytes:
    """A one-page PDF with Helvetica text; ``lines`` holds (y, font size, text)."""
    ops = []
    for y, size, text in lines:
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(f"BT /F1 {size} Tf 72 {y} Td ({escaped}) Tj ET")
    content = "\n".join(ops).encode("cp1252")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792]"
            b" /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>"
        ),
        (
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica"
            b" /Encoding /WinAnsiEncoding >>"
        ),
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
    ]
    if title:
        objects.append(b"<< /Title (" + title.encode("cp1252") + b") >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    trailer = b"<< /Size %d /Root 1 0 R" % (len(objects) + 1)
    if title:
        trailer += b" /Info %d 0 R" % len(objects)
    out += b"trailer\n" + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


PDF_LINES = [
    (740, 18, "Handleiding ketens"),
    (700, 14, "De opstart"),
    (670, 11, "Eerste regel van de tekst (met haakjes)."),
    (656, 11, "Tweede regel met geïmplementeerd."),
    (620, 14, "Geduld"),
    (590, 11, "Slottekst over geduld."),
]


def test_pdf_builder_is_valid(tmp_path: Path) -> None:
    path = _write(tmp_path, "gids.pdf", build_pdf(PDF_LINES, title="Metatitel"))
    reader = pypdf.PdfReader(path, strict=True)  # strict: a wrong xref offset raises
    assert len(reader.pages) == 1
    assert reader.metadata is not None
    assert reader.metadata.title == "Metatitel"


def test_pdf_text_and_headings(tmp_path: Path) -> None:
    doc = load_document(_write(tmp_path, "gids.PDF", build_pdf(PDF_LINES)), "gids.PDF")
    assert doc.title == "Handleiding ketens"
    assert _pairs(doc) == [
        ("De opstart",
         "Eerste regel van de tekst (met haakjes).\nTweede regel met geïmplementeerd."),
        ("Geduld", "Slottekst over geduld."),
    ]


def test_pdf_metadata_title(tmp_path: Path) -> None:
    path = _write(tmp_path, "gids.pdf", build_pdf(PDF_LINES[1:], title="Metatitel"))
    doc = load_document(path, "gids.pdf")
    assert doc.title == "Metatitel"
    assert [s.heading for s in doc.sections] == ["De opstart", "Geduld"]


def test_pdf_without_text_layer(tmp_path: Path) -> None:
    path = _write(tmp_path, "scan.pdf", build_pdf([]))
    with pytest.raises(LoadError, match=r"no text layer \(scanned PDF\?\)"):
        load_document(path, "scan.pdf")


# --- errors ----------------------------------------------------------------------

@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("kapot.pdf", "kapot.pdf: cannot parse PDF"),
        ("kapot.docx", "kapot.docx: cannot parse DOCX"),
    ],
)
def test_corrupt_binary_files(tmp_path: Path, name: str, message: str) -> None:
    path = _write(tmp_path, name, random.Random(42).randbytes(4096))
    with pytest.raises(LoadError, match=message):
        load_document(path, name)


def test_truncated_docx(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("Tekst.")
    good = tmp_path / "goed.docx"
    document.save(str(good))
    path = _write(tmp_path, "half.docx", good.read_bytes()[:2000])
    with pytest.raises(LoadError, match="cannot parse DOCX"):
        load_document(path, "half.docx")


def test_undecodable_text(tmp_path: Path) -> None:
    path = _write(tmp_path, "bin.txt", b"\x81\x8d\x8f\x90\x9d")  # undefined in cp1252
    with pytest.raises(LoadError, match="neither UTF-8 nor cp1252"):
        load_document(path, "bin.txt")


def test_unsupported_suffix_raises_load_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "data.csv", "a,b\n")
    assert ".csv" not in SUPPORTED_SUFFIXES
    with pytest.raises(LoadError, match="unsupported file type '.csv'"):
        load_document(path, "data.csv")


def test_missing_file_raises_load_error(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="cannot read"):
        load_document(tmp_path / "weg.txt", "weg.txt")
