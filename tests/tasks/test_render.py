from __future__ import annotations

import io
import unicodedata
import zipfile
from datetime import UTC, datetime, timedelta, timezone

import pytest
from docx import Document
from docx.oxml.ns import qn

from core.errors import ConfigError
from core.models import DraftMeta
from core.specs import PromptSpec
from tasks.render import (
    BANNER,
    EMPTY,
    NOTES_HEADING,
    OFFLINE_NOTICE,
    clean_text,
    render_draft,
)

JST = timezone(timedelta(hours=9))

TEMPLATE = """\
## 概要
{{ out.summary }}

## 決定事項
{% for d in out.decisions %}
- {{ d }}
{% endfor %}

## 宿題
| 担当 | 内容 | 期限 |
|---|---|---|
{% for a in out.actions %}
| {{ a.owner }} | {{ a.task }} | {{ a.due }} |
{% endfor %}
"""


def make_spec(**overrides) -> PromptSpec:
    raw = {
        "id": "sales/minutes",
        "version": 3,
        "department": "sales",
        "department_name": "営業部",
        "document_name": "商談議事録",
        "title": "商談議事録の下書き",
        "purpose": "商談メモから議事録の下書きを作る",
        "inputs": {"description": "商談メモ（Word / PDF / テキスト）"},
        "system_prompt": "あなたは営業部のアシスタントです。",
        "user_template": "{{ document_text }}",
        "output": [
            {"name": "summary", "title": "概要", "kind": "text", "description": "要約"},
            {"name": "decisions", "title": "決定事項", "kind": "list", "description": "決定"},
            {
                "name": "actions",
                "title": "宿題",
                "kind": "table",
                "description": "宿題",
                "columns": [
                    {"name": "owner", "title": "担当"},
                    {"name": "task", "title": "内容"},
                    {"name": "due", "title": "期限"},
                ],
            },
        ],
        "render_template": TEMPLATE,
        "baseline_minutes": 30,
        "review_minutes": 5,
        "baseline_source": "営業部ヒアリング 2024",
        "rules": {
            "forbidden_inputs": ["個人の健康情報", "未公表の決算数値"],
            "review_duty": "担当営業が数値と社名を確認してから送付すること。",
            "owner": "営業企画課",
        },
    }
    raw.update(overrides)
    return PromptSpec.model_validate(raw)


def make_meta(**overrides) -> DraftMeta:
    raw = {
        "source_name": "2024-05-01_北斗精機様_商談メモ.docx",
        "spec_id": "sales/minutes",
        "spec_version": 3,
        "spec_title": "商談議事録の下書き",
        "department_name": "営業部",
        "engine": "openai",
        "model": "gpt-4o-mini",
        "created_at": datetime(2024, 5, 1, 10, 30, tzinfo=JST),
    }
    raw.update(overrides)
    return DraftMeta(**raw)


OUTPUT = {
    "summary": "北斗精機様と新型センサーの導入について協議した。\n\n次回は見積りを提示する。",
    "decisions": ["試験導入は6月開始", "価格は据え置き"],
    "actions": [
        {"owner": "山田", "task": "見積書の作成", "due": "5/10"},
        {"owner": "佐藤", "task": "技術資料の送付", "due": "5/8"},
    ],
}


def open_docx(data: bytes):
    return Document(io.BytesIO(data))


def all_text(doc) -> str:
    parts = [p.text for p in doc.paragraphs]
    for t in doc.tables:
        for row in t.rows:
            parts += [c.text for c in row.cells]
    return "\n".join(parts)


# --- clean_text ---------------------------------------------------------------------------


def test_clean_text_removes_controls_keeps_newline_and_tab():
    s = "a\x00b\x01c\x1bd\x7fe\x85f\x9fg\th\r\ni\rj\x0ck\ud800l\ufffe"
    assert clean_text(s) == "abcde\nfg\th\ni\nj\nkl"


def test_clean_text_keeps_japanese_and_emoji():
    s = "議事録①㈱髙橋～ 🙇‍♂️"
    assert clean_text(s) == s


# --- markdown -----------------------------------------------------------------------------


def test_markdown_has_banner_header_body_and_rules():
    d = render_draft(make_spec(), OUTPUT, make_meta(), stem="x")
    md = d.markdown
    assert d.stem == "x"
    assert md.splitlines()[0] == f"**{BANNER}**"
    for line in (
        "元ファイル: 2024-05-01_北斗精機様_商談メモ.docx",
        "仕様: sales/minutes v3（商談議事録の下書き）",
        "部署: 営業部",
        "エンジン/モデル: openai / gpt-4o-mini",
        "作成日時: 2024-05-01 10:30",
    ):
        assert line in md
    assert "## 決定事項" in md and "- 試験導入は6月開始" in md
    assert "| 山田 | 見積書の作成 | 5/10 |" in md
    assert "## 利用上の注意" in md
    assert "担当営業が数値と社名を確認してから送付すること。" in md
    assert "未公表の決算数値" in md and "営業企画課" in md
    assert OFFLINE_NOTICE not in md
    assert md.index(BANNER) < md.index("北斗精機様と") < md.index("利用上の注意")


def test_markdown_offline_warnings_and_review_reason():
    meta = make_meta(
        engine="offline",
        model="extractive-v1",
        offline=True,
        warnings=["PDFの3ページ目は読み取れませんでした。"],
        needs_review_reason="出力の一部を解析できませんでした。",
    )
    md = render_draft(make_spec(), OUTPUT, meta, stem="x").markdown
    assert OFFLINE_NOTICE in md
    assert "オフライン抽出エンジン" in md
    assert "PDFの3ページ目は読み取れませんでした。" in md
    assert "出力の一部を解析できませんでした。" in md


def test_markdown_template_gets_meta_and_spec():
    spec = make_spec(
        render_template="{{ spec.department_name }}|{{ meta.source_name }}|{{ out.summary }}"
    )
    md = render_draft(spec, OUTPUT, make_meta(), stem="x").markdown
    assert "営業部|2024-05-01_北斗精機様_商談メモ.docx|北斗精機様と" in md


def test_broken_template_is_a_config_error():
    spec = make_spec(render_template="{{ out.no_such_field }}")
    with pytest.raises(ConfigError, match="sales/minutes"):
        render_draft(spec, OUTPUT, make_meta(), stem="x")


# --- docx ---------------------------------------------------------------------------------


def test_docx_structure_banner_headings_table():
    d = render_draft(make_spec(), OUTPUT, make_meta(), stem="x")
    doc = open_docx(d.docx_bytes)
    paras = doc.paragraphs

    # The banner is in the page header (every page), not in the body the person hands in.
    header = doc.sections[0].header
    assert not header.is_linked_to_previous
    banner = next(p for p in header.paragraphs if BANNER in p.text)
    run = banner.runs[0]
    assert run.bold
    assert run.font.color.rgb is not None and str(run.font.color.rgb) == "C00000"
    assert not any(BANNER in p.text for p in paras)

    headings = [p.text for p in paras if p.style.name.startswith("Heading")]
    assert headings == ["概要", "決定事項", "宿題", NOTES_HEADING, "利用上の注意"]
    # No subject field and no source heading: the title is the file's name, not the spec's.
    titles = [p.text for p in paras if p.style.name == "Title"]
    assert titles == ["2024-05-01_北斗精機様_商談メモ"]

    # Provenance and the spec's title are on the 確認用メモ page, after the draft.
    notes_at = [p.text for p in paras].index(NOTES_HEADING)
    notes = "\n".join(p.text for p in paras[notes_at:])
    for s in ("元ファイル", "2024-05-01_北斗精機様_商談メモ.docx", "sales/minutes v3", "営業部"):
        assert s in notes
    assert "商談議事録の下書き" in notes
    assert "gpt-4o-mini" in notes and "2024-05-01 10:30" in notes
    assert paras[notes_at].paragraph_format.page_break_before

    # text field: blank line splits paragraphs
    assert "北斗精機様と新型センサーの導入について協議した。" in [p.text for p in paras]
    assert "次回は見積りを提示する。" in [p.text for p in paras]
    bullets = [p.text for p in paras if p.style.name == "List Bullet"]
    assert bullets[:2] == ["試験導入は6月開始", "価格は据え置き"]
    assert "未公表の決算数値" in bullets

    assert len(doc.tables) == 1
    rows = [[c.text for c in r.cells] for r in doc.tables[0].rows]
    assert rows == [
        ["担当", "内容", "期限"],
        ["山田", "見積書の作成", "5/10"],
        ["佐藤", "技術資料の送付", "5/8"],
    ]

    # section order follows spec.output, the notes and rules last
    order = [p.text for p in paras]
    assert (
        order.index("概要")
        < order.index("決定事項")
        < order.index("宿題")
        < order.index(NOTES_HEADING)
        < order.index("利用上の注意")
    )


def test_docx_east_asian_font_on_styles():
    doc = open_docx(render_draft(make_spec(), OUTPUT, make_meta(), stem="x").docx_bytes)
    for name in ("Normal", "Heading 1"):
        rfonts = doc.styles[name].element.rPr.find(qn("w:rFonts"))
        assert rfonts.get(qn("w:eastAsia")) in ("Yu Gothic", "MS Gothic", "游ゴシック")
        assert rfonts.get(qn("w:ascii"))
        assert rfonts.get(qn("w:asciiTheme")) is None
    # and it is really in styles.xml, not only in python-docx's view of it
    with zipfile.ZipFile(
        io.BytesIO(render_draft(make_spec(), OUTPUT, make_meta(), stem="x").docx_bytes)
    ) as z:
        assert b'w:eastAsia="Yu Gothic"' in z.read("word/styles.xml")


def test_docx_core_properties():
    doc = open_docx(render_draft(make_spec(), OUTPUT, make_meta(), stem="x").docx_bytes)
    cp = doc.core_properties
    assert cp.author == "teichaku"
    assert cp.title == "2024-05-01_北斗精機様_商談メモ"  # the document's title, as in the body
    assert "商談議事録の下書き" in cp.comments
    assert "sales/minutes" in cp.comments and "v3" in cp.comments
    assert cp.created == datetime(2024, 5, 1, 1, 30, tzinfo=UTC)  # 10:30 JST


def test_docx_empty_fields_say_kisai_nashi():
    out = {"summary": "  ", "decisions": [], "actions": []}
    spec = make_spec(render_template="{{ out.summary }}")
    doc = open_docx(render_draft(spec, out, make_meta(), stem="x").docx_bytes)
    assert [p.text for p in doc.paragraphs].count(EMPTY) == 3
    assert doc.tables == []


def test_docx_missing_fields_do_not_crash():
    spec = make_spec(render_template="empty")
    doc = open_docx(render_draft(spec, {}, make_meta(), stem="x").docx_bytes)
    assert [p.text for p in doc.paragraphs].count(EMPTY) == 3


def test_offline_docx_says_so():
    meta = make_meta(engine="offline", model="extractive", offline=True)
    doc = open_docx(render_draft(make_spec(), OUTPUT, meta, stem="x").docx_bytes)
    assert OFFLINE_NOTICE in all_text(doc)


def test_control_characters_do_not_crash_rendering():
    dirty = {
        "summary": "前半\x00後半\x01\x1b[31m赤\x7f\x9b\r\n次の行\ud83d",
        "decisions": ["項目\x00一", "\x0b\x0c", None],
        "actions": [{"owner": "山\x00田", "task": "見積\x08", "due": "5/10\x1f"}],
    }
    meta = make_meta(source_name="メモ\x07.docx", warnings=["警告\x00あり"])
    d = render_draft(make_spec(), dirty, meta, stem="x")
    for bad in ("\x00", "\x01", "\x1b", "\x7f", "\x9b", "\r", "\ud83d"):
        assert bad not in d.markdown
    doc = open_docx(d.docx_bytes)
    text = all_text(doc)
    assert "前半後半" in text and "山田" in text and "項目一" in text and "警告あり" in text
    assert [c.text for c in doc.tables[0].rows[1].cells] == ["山田", "見積", "5/10"]


def test_nfd_source_name_is_shown_as_nfc():
    meta = make_meta(source_name=unicodedata.normalize("NFD", "パンフレット.pdf"))
    md = render_draft(make_spec(), OUTPUT, meta, stem="x").markdown
    assert "元ファイル: パンフレット.pdf" in md
