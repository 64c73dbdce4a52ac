"""Errors with a Japanese reason for the person who dropped the file, and a technical detail for IT."""

from __future__ import annotations

from core.models import RefusalKind

# What the employee reads in quarantine/<name>.error.txt. Short, polite, and says what to do.
REASONS_JA: dict[RefusalKind, str] = {
    RefusalKind.EMPTY: "ファイルが空です（0バイト、または文字がありません）。内容を保存してから入れ直してください。",
    RefusalKind.CORRUPT: "ファイルが壊れているため読み取れません。元のアプリで開けるか確認し、保存し直してから入れ直してください。",
    RefusalKind.TRUNCATED: "ファイルが途中で切れています（コピーやダウンロードが完了していない可能性があります）。もう一度コピーしてください。",
    RefusalKind.ENCRYPTED: "パスワードで保護されているため読み取れません。保護を解除したコピーを入れてください（機密文書はAIに入れないでください）。",
    RefusalKind.SCANNED: "スキャン・写真から文字を読み取れませんでした（OCR（文字認識）で文字がほとんど見つかりません）。300dpi 程度ではっきり読み取り直すか、文字を含むPDFかWord文書を入れてください。",
    RefusalKind.UNSUPPORTED_TYPE: "対応していないファイル形式です。対応形式は Word（.docx）、Excel（.xlsx / .xlsm）、PowerPoint（.pptx）、PDF（.pdf）、メール（.eml / .msg）、画像（.png / .jpg / .tif）、テキスト（.txt / .md）です。",
    RefusalKind.ENCODING: "文字コードを判別できないか、テキストではない内容です。UTF-8 か Shift_JIS のテキストとして保存し直してください。",
    RefusalKind.TOO_LARGE: "ファイルが大きすぎます。上限を超えない大きさに分割してから入れてください。",
    RefusalKind.ZIP_BOMB: "ファイルの圧縮内容が異常に大きく、安全のため読み取りを中止しました。元のアプリで保存し直してください。",
    RefusalKind.TIMEOUT: "読み取りに時間またはメモリがかかりすぎたため中止しました。ページ数を減らすか、保存し直してから入れてください。",
    RefusalKind.LINK_OUTSIDE: "ワークスペースの外を指すリンク（ショートカット）は安全のため処理しません。ファイル本体をコピーして入れてください。",
    RefusalKind.CONFIDENTIAL: "機密区分の表示（社外秘など）があるため、この部署の規則により AI 処理を行いません。",
    RefusalKind.NAME_TOO_LONG: "ファイル名が長すぎるため処理できません。短い名前に変更してから入れてください。",
}


class Refusal(Exception):
    """A file that must go to quarantine. `kind` picks the Japanese reason; `detail` is technical."""

    def __init__(self, kind: RefusalKind, detail: str = "", reason_ja: str | None = None) -> None:
        self.kind = kind
        self.detail = detail
        self.reason_ja = reason_ja or REASONS_JA[kind]
        super().__init__(f"{kind.value}: {detail}" if detail else kind.value)

    def __reduce__(self) -> tuple[type[Refusal], tuple[RefusalKind, str, str]]:
        # Raised in worker processes too: rebuild from the fields, not from the message.
        return (Refusal, (self.kind, self.detail, self.reason_ja))


class ConfigError(Exception):
    """Bad configuration or spec: the CLI prints the message and exits non-zero."""


class EngineUnavailable(Exception):
    """The model endpoint could not produce an answer now (outage, quota, circuit open).

    The document stays pending for the next run; it is never quarantined for this.
    """

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        self.permanent = permanent  # e.g. insufficient_quota: stop the batch, tell the operator
        super().__init__(message)


class ReaderUnavailable(EngineUnavailable):
    """A reader this file needs is not installed (the OCR engine): the file waits, pending.

    `reason_ja` tells the employee why it waits and the operator what to install.
    """

    def __init__(self, message: str, reason_ja: str) -> None:
        self.reason_ja = reason_ja
        super().__init__(message)

    def __reduce__(self) -> tuple[type[ReaderUnavailable], tuple[str, str]]:
        # Raised in worker processes too: rebuild from the fields.
        return (ReaderUnavailable, (str(self), self.reason_ja))
