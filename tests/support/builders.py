"""Makers of real test files (good and bad) for the extraction step and end-to-end tests.

Each maker writes to `path`, creates missing parent folders and returns `path`, so calls
compose: `truncate(make_pdf(tmp / "a.pdf", ["本文"]))`. Names may be Japanese or NFD.
"""

from __future__ import annotations

import io
import random
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reportlab.pdfgen.canvas import Canvas

# A docx body block: a paragraph's text, or a table as rows of cell texts.
Block = str | Sequence[Sequence[str]]

JAPANESE_FONT = "HeiseiKakuGo-W5"

_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_TEXTBOX_XML = """<w:p xmlns:w="{w}"
 xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"
 xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"
 xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"
 xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape"
 xmlns:v="urn:schemas-microsoft-com:vml"><w:r><mc:AlternateContent>
<mc:Choice Requires="wps"><w:drawing><wp:anchor><a:graphic>
<a:graphicData uri="http://schemas.microsoft.com/office/word/2010/wordprocessingShape">
<wps:wsp><wps:txbx><w:txbxContent><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:txbxContent>
</wps:txbx></wps:wsp></a:graphicData></a:graphic></wp:anchor></w:drawing></mc:Choice>
<mc:Fallback><w:pict><v:shape><v:textbox><w:txbxContent><w:p><w:r><w:t>{text}</w:t></w:r>
</w:p></w:txbxContent></v:textbox></v:shape></w:pict></mc:Fallback>
</mc:AlternateContent></w:r></w:p>"""


def _prepare(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def make_docx(
    path: Path,
    blocks: Sequence[Block],
    *,
    header: str | None = None,
    footer: str | None = None,
    textboxes: Sequence[str] = (),
) -> Path:
    """A real .docx: `blocks` in order (str = paragraph, rows of cells = table).

    `textboxes` are appended as floating text boxes the way Word writes them: DrawingML
    with a VML fallback, so the same text is stored twice and a reader must not repeat it.
    """
    from xml.sax.saxutils import escape

    import docx
    from docx.oxml import parse_xml

    doc = docx.Document()
    for block in blocks:
        if isinstance(block, str):
            doc.add_paragraph(block)
        else:
            rows = [list(r) for r in block]
            table = doc.add_table(rows=len(rows), cols=max(len(r) for r in rows))
            for r, row in enumerate(rows):
                for c, cell in enumerate(row):
                    table.cell(r, c).text = cell
    for text in textboxes:
        el = parse_xml(_TEXTBOX_XML.format(w=_W_NS, text=escape(text)))
        body = doc.element.body
        body.insert(len(body) - 1, el)  # before the final w:sectPr
    section = doc.sections[0]
    if header is not None:
        section.header.paragraphs[0].text = header
    if footer is not None:
        section.footer.paragraphs[0].text = footer
    doc.save(str(_prepare(path)))
    return path


def _japanese_canvas(path: Path) -> Canvas:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    if JAPANESE_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(JAPANESE_FONT))
    return canvas.Canvas(str(_prepare(path)))


def make_pdf(path: Path, pages: Sequence[str], *, font_size: float = 11) -> Path:
    """A PDF with one page per string, in a Japanese CID font pypdf extracts correctly.

    Newlines in a page string become lines; long lines are not wrapped.
    """
    c = _japanese_canvas(path)
    for page in pages:
        c.setFont(JAPANESE_FONT, font_size)
        y = 800.0
        for line in page.split("\n"):
            c.drawString(50, y, line)
            y -= font_size * 1.6
        c.showPage()
    c.save()
    return path


def make_long_pdf(path: Path, n_pages: int = 300, lines_per_page: int = 40) -> Path:
    """A PDF of `n_pages` full pages; page i (1-based) carries the marker `MARKER-i-END`."""
    pages = [
        "\n".join(
            f"第{i}ページ {j}行目 議事録の本文です。①㈱髙 MARKER-{i}-END"
            for j in range(lines_per_page)
        )
        for i in range(1, n_pages + 1)
    ]
    return make_pdf(path, pages)


def make_encrypted_pdf(
    path: Path,
    pages: Sequence[str],
    *,
    user_password: str = "secret",
    owner_password: str | None = "owner-secret",
    algorithm: str = "AES-256",
) -> Path:
    """A PDF encrypted with pypdf. `user_password=""` gives one that opens without a password."""
    from pypdf import PdfReader, PdfWriter

    buf = io.BytesIO()
    make_pdf(path, pages)
    writer = PdfWriter(clone_from=PdfReader(str(path)))
    writer.encrypt(user_password, owner_password, algorithm=algorithm)
    writer.write(buf)
    path.write_bytes(buf.getvalue())
    return path


def make_scanned_pdf(path: Path, n_pages: int = 1, *, caption: str = "") -> Path:
    """A PDF whose pages hold only a grey noise image (like a scan), plus an optional caption."""
    from PIL import Image
    from reportlab.lib.utils import ImageReader

    rng = random.Random(42)
    img = Image.frombytes("L", (120, 160), bytes(rng.randrange(256) for _ in range(120 * 160)))
    c = _japanese_canvas(path)
    for _ in range(n_pages):
        c.drawImage(ImageReader(img), 50, 100, width=480, height=640)
        if caption:
            c.setFont(JAPANESE_FONT, 9)
            c.drawString(50, 80, caption)
        c.showPage()
    c.save()
    return path


def write_raw_pdf(path: Path, objects: Sequence[bytes]) -> Path:
    """A hand-made PDF: `objects[i]` is the body of object i+1; object 1 must be the catalog."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    _prepare(path).write_bytes(bytes(out))
    return path


def _stream(data: bytes, extra: bytes = b"", *, compress: bool = False) -> bytes:
    if compress:
        data = zlib.compress(data, 6)
        extra += b" /Filter /FlateDecode"
    return b"<< /Length %d%s >>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def _one_page_pdf(path: Path, content: bytes, font: bytes, extra: Sequence[bytes] = ()) -> Path:
    return write_raw_pdf(
        path,
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842]"
            b" /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
            font,
            content,
            *extra,
        ],
    )


def make_garbled_pdf(path: Path, n_chars: int = 400) -> Path:
    """A PDF whose text layer maps every glyph to private-use code points (a broken CMap)."""
    cmap = (
        b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
        b"/CMapName /Broken def 1 begincodespacerange <00> <FF> endcodespacerange\n"
        b"1 beginbfrange <20> <7E> <E000> endbfrange\n"
        b"endcmap CMapName currentdict /CMap defineresource pop end end"
    )
    rng = random.Random(7)
    lines = []
    for row in range(max(1, n_chars // 60)):
        chunk = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(60))
        lines.append(b"BT /F1 10 Tf 40 %d Td (%s) Tj ET" % (800 - row * 14, chunk.encode()))
    return _one_page_pdf(
        path,
        _stream(b"\n".join(lines)),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 6 0 R >>",
        [_stream(cmap)],
    )


def make_heavy_pdf(path: Path, content_mb: int = 40) -> Path:
    """A one-page PDF whose compressed content stream expands to `content_mb` MB of text ops.

    Small on disk, but parsing it needs far more memory than the file size suggests.
    """
    op = b"BT /F1 9 Tf 40 400 Td (heavy) Tj ET\n"
    content = op * (content_mb * 1024 * 1024 // len(op))
    return _one_page_pdf(
        path,
        _stream(content, compress=True),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    )


def make_zip_bomb_docx(path: Path, uncompressed_mb: int = 200) -> Path:
    """A .docx-shaped zip whose word/document.xml is `uncompressed_mb` MB of zeros.

    Written in streamed 1 MiB chunks so building it takes about a second, not 200 MB of RAM.
    """
    import zipfile

    chunk = b"\0" * (1024 * 1024)
    with zipfile.ZipFile(_prepare(path), "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        with zf.open("word/document.xml", "w", force_zip64=True) as member:
            for _ in range(uncompressed_mb):
                member.write(chunk)
    return path


def make_encrypted_docx(path: Path, size: int = 8192) -> Path:
    """What Word writes for a password-protected .docx: an OLE compound file, not a zip.

    Only the signature and the stream names readers sniff for are real; the rest is noise.
    """
    rng = random.Random(3)
    body = bytearray(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    for name in ("EncryptionInfo", "EncryptedPackage", "\x06DataSpaces"):
        body += name.encode("utf-16-le").ljust(128, b"\0")
    body += bytes(rng.randrange(256) for _ in range(max(0, size - len(body))))
    _prepare(path).write_bytes(bytes(body))
    return path


def make_text(path: Path, text: str, encoding: str = "utf-8", *, bom: bool = False) -> Path:
    """A text file in `encoding` ("utf-8", "cp932", "euc-jp", "utf-16-le", ...).

    `bom=True` prefixes the BOM for UTF-8/16; CRLF is kept as given, so pass "\\r\\n" to test it.
    """
    boms = {"utf-8": b"\xef\xbb\xbf", "utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}
    data = text.encode(encoding)
    if bom:
        data = boms[encoding.lower()] + data
    _prepare(path).write_bytes(data)
    return path


def make_binary(path: Path, data: bytes | None = None, *, size: int = 4096, seed: int = 0) -> Path:
    """Random bytes (or `data`) under any name: corrupt documents, binary renamed .txt."""
    if data is None:
        data = random.Random(seed).randbytes(size)
    _prepare(path).write_bytes(data)
    return path


def make_exe(path: Path) -> Path:
    """A file that starts like a Windows executable (MZ header, NUL padding)."""
    header = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(48)
    return make_binary(path, header + b"This program cannot be run in DOS mode.\r\n" + bytes(64))


def truncate(path: Path, fraction: float = 0.5, *, dest: Path | None = None) -> Path:
    """Keep the first `fraction` of the bytes (a cut copy), in place or into `dest`."""
    data = path.read_bytes()
    target = _prepare(dest) if dest is not None else path
    target.write_bytes(data[: int(len(data) * fraction)])
    return target
