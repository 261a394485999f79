"""Generate a synthetic knowledge folder of N pages for the indexing benchmarks.

    .venv/bin/python bench/make_corpus.py /tmp/corpus                 # 2,000 pages
    .venv/bin/python bench/make_corpus.py /tmp/corpus --pages 500 --per-file 25

A "page" is one section: a heading, then about 2,500-3,500 characters of prose in
paragraphs. Most files are plain text (a title line, then headings that follow the
plain-text rule: a short line alone between blank lines, starting with a capital or
digit, no closing punctuation); some are Markdown with YAML front matter and ``##``
headings, some are HTML with ``<h2>`` headings. The words come from the guidance in
knowledge/, shuffled into sentences, plus made-up Dutch-style compounds of two of those
words, so the vocabulary is larger than the guidance's own. Output is deterministic for
a given --seed. After writing, every file is parsed with the real loader and the total
section count must equal --pages.
"""

from __future__ import annotations

import argparse
import html
import random
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.ingest.loaders import load_document  # noqa: E402

SOURCE = ROOT / "knowledge" / "nora-implementatie-van-ketensturing.txt"
PAGE_CHARS = (2500, 3500)
COMPOUND_RATE = 0.08  # share of words that are a made-up compound of two source words
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def vocabulary(source: Path = SOURCE) -> tuple[list[str], list[str]]:
    """(all words as they occur, in order of first use; longer words for compounds)."""
    seen: dict[str, None] = {}
    for w in _WORD.findall(source.read_text(encoding="utf-8")):
        seen.setdefault(w.lower(), None)
    words = list(seen)
    return words, [w for w in words if len(w) >= 5]


class ProseMaker:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.words, self.long_words = vocabulary()

    def word(self) -> str:
        if self.rng.random() < COMPOUND_RATE:
            return self.rng.choice(self.long_words) + self.rng.choice(self.long_words)
        return self.rng.choice(self.words)

    def sentence(self) -> str:
        n = self.rng.randint(7, 22)
        ws = [self.word() for _ in range(n)]
        if n > 10 and self.rng.random() < 0.4:
            ws[self.rng.randint(3, n - 4)] += ","
        text = " ".join(ws)
        return text[0].upper() + text[1:] + self.rng.choice(".......?")

    def heading(self, number: str) -> str:
        """'3.12 Ketenoverleg en borging' style: starts with a digit, short, no end mark."""
        ws = [self.word() for _ in range(self.rng.randint(2, 5))]
        ws[0] = ws[0].capitalize()
        return f"{number} {' '.join(ws)}"[:80].rstrip(" ,")

    def page(self) -> list[str]:
        """Paragraphs (each one line) totalling 2,500-3,500 characters as the loader joins them."""
        target = self.rng.randint(PAGE_CHARS[0], PAGE_CHARS[1] - 400)
        paragraphs: list[str] = []
        total = -2  # paragraphs are joined with a blank line: 2 characters each
        while total < target:
            sentences: list[str] = []
            length = -1
            for _ in range(self.rng.randint(3, 7)):
                sentences.append(self.sentence())
                length += len(sentences[-1]) + 1
                if total + 2 + length >= target:
                    break
            paragraphs.append(" ".join(sentences))
            total += 2 + length
        return paragraphs

    def title(self, n: int) -> str:
        ws = [self.word() for _ in range(self.rng.randint(3, 6))]
        return f"Handreiking {n:03d}: " + " ".join(ws).capitalize()


def _txt(title: str, pages: list[tuple[str, list[str]]]) -> str:
    parts = [title, ""]
    for heading, paragraphs in pages:
        parts += ["", heading, ""]
        for p in paragraphs:
            parts += [p, ""]
    return "\n".join(parts)


def _md(title: str, n: int, pages: list[tuple[str, list[str]]]) -> str:
    parts = [
        "---",
        f'title: "{title}"',
        f"url: https://example.org/handreiking/{n:03d}",
        "licence: CC BY 4.0",
        "licence_url: https://creativecommons.org/licenses/by/4.0/",
        "---",
        "",
    ]
    for heading, paragraphs in pages:
        parts += [f"## {heading}", ""]
        for p in paragraphs:
            parts += [p, ""]
    return "\n".join(parts)


def _html(title: str, pages: list[tuple[str, list[str]]]) -> str:
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="nl"><head><meta charset="utf-8"><title>{e(title)} - Voorbeeldsite</title></head>',
        "<body><nav><a href='/'>Home</a></nav><main>",
        f"<h1>{e(title)}</h1>",
    ]
    for heading, paragraphs in pages:
        parts.append(f"<h2>{e(heading)}</h2>")
        parts += [f"<p>{e(p)}</p>" for p in paragraphs]
    parts.append("</main><footer>Voorbeeldsite</footer></body></html>")
    return "\n".join(parts)


def suffix_for(n: int) -> str:
    """File n's format: 1 in 8 Markdown, 1 in 12 HTML, the rest plain text."""
    if n % 8 == 3:
        return ".md"
    if n % 12 == 7:
        return ".html"
    return ".txt"


def generate(folder: Path, pages: int = 2000, per_file: int = 40, seed: int = 20240601) -> list[Path]:
    """Write ceil(pages / per_file) files with ``pages`` sections in all; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    maker = ProseMaker(seed)
    written, left, n = [], pages, 0
    while left > 0:
        n += 1
        count = min(per_file, left)
        left -= count
        title = maker.title(n)
        content = [(maker.heading(f"{n}.{k}"), maker.page()) for k in range(1, count + 1)]
        suffix = suffix_for(n)
        if suffix == ".md":
            text = _md(title, n, content)
        elif suffix == ".html":
            text = _html(title, content)
        else:
            text = _txt(title, content)
        path = folder / f"handreiking-{n:03d}{suffix}"
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def count_pages(folder: Path, paths: list[Path]) -> tuple[int, list[int]]:
    """Sections the real loaders find, in total and per file; also checks section sizes."""
    per_file, sizes = [], []
    for path in paths:
        doc = load_document(path, path.relative_to(folder).as_posix())
        per_file.append(len(doc.sections))
        sizes += [len(s.text) for s in doc.sections]
        if any(not s.heading for s in doc.sections):
            raise SystemExit(f"{path.name}: text outside any heading became a section")
    if sizes and not (PAGE_CHARS[0] <= min(sizes) and max(sizes) <= PAGE_CHARS[1]):
        raise SystemExit(f"section sizes {min(sizes)}..{max(sizes)} outside {PAGE_CHARS}")
    return sum(per_file), per_file


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path, help="where to write the files (created if missing)")
    ap.add_argument("--pages", type=int, default=2000, help="number of pages (sections)")
    ap.add_argument("--per-file", type=int, default=40, help="pages per file")
    ap.add_argument("--seed", type=int, default=20240601)
    args = ap.parse_args()
    t = time.perf_counter()
    paths = generate(args.folder, args.pages, args.per_file, args.seed)
    made = time.perf_counter() - t
    total, _ = count_pages(args.folder, paths)
    counts = {s: sum(p.suffix == s for p in paths) for s in (".txt", ".md", ".html")}
    size = sum(p.stat().st_size for p in paths)
    print(
        f"wrote {len(paths)} files ({', '.join(f'{v} {k}' for k, v in counts.items())}), "
        f"{size / 1e6:.1f} MB in {made:.1f} s; loaders find {total} pages"
    )
    if total != args.pages:
        raise SystemExit(f"expected {args.pages} pages, the loaders found {total}")


if __name__ == "__main__":
    main()
