"""Small documents written by tests: an HTML page with navigation and a footer around its article, and
a PDF made with fpdf2 (a dev dependency), so the document readers meet real files."""

from __future__ import annotations

from pathlib import Path

ARTICLE = ("Composting turns kitchen scraps and garden waste into a dark, crumbly soil improver that gardeners spread "
           "on their beds every spring.")
HTML = f"""<!DOCTYPE html><html><head><title>Composting | Green Weekly</title></head><body>
<nav><a href="/">Home</a> <a href="/shop">Shop our catalogue</a> <a href="/login">Log in to your account</a></nav>
<main><article><h1>Composting at home</h1><p>{ARTICLE}</p>
<p>Turn the heap every week or two so air reaches the microbes, and keep it as damp as a wrung-out sponge.</p>
</article></main>
<footer><p>Copyright 2026 Green Weekly Ltd. All rights reserved.</p><p><a href="/privacy">Privacy policy</a></p></footer>
</body></html>"""
PAGES = ["Honey bees live in colonies with one queen, thousands of workers and a few drones.",
         "A beekeeper opens the hive every week in spring to see that the queen is laying."]


def write_html(folder: Path, name: str = "page.html", html: str = HTML) -> Path:
    """An HTML page (default: :data:`HTML`) written to ``folder/name``."""
    path = Path(folder) / name
    path.write_text(html, encoding="utf-8")
    return path


def write_pdf(folder: Path, name: str = "notes.pdf", pages: list[str] | None = None, title: str | None = "Bee notes",
              password: str | None = None) -> Path:
    """A PDF with one page per text of ``pages`` (default :data:`PAGES`), a ``/Title`` and optionally a user password."""
    from fpdf import FPDF

    pdf = FPDF()
    if title:
        pdf.set_title(title)
    if password:
        pdf.set_encryption(owner_password="owner", user_password=password)
    for body in PAGES if pages is None else pages:
        pdf.add_page()
        pdf.set_font("Helvetica", size=12)
        pdf.multi_cell(0, 10, body)
    path = Path(folder) / name
    pdf.output(str(path))
    return path
