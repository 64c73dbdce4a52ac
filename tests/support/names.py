"""Made-up Japanese people's names shared by the benchmark corpora and the held-apart set.

Surnames in order of how common they are, so the first twelve are the twelve most common; the
short corpus and the held-apart set take a slice, the realistic corpus takes all of them. Keep
the order: the corpora index into these lists, so reordering changes every generated document.
"""

from __future__ import annotations

SURNAMES = [
    "佐藤",
    "鈴木",
    "高橋",
    "田中",
    "伊藤",
    "渡辺",
    "山本",
    "中村",
    "小林",
    "加藤",
    "吉田",
    "山田",
    "佐々木",
    "山口",
    "松本",
    "井上",
    "木村",
    "林",
    "斎藤",
    "清水",
    "山崎",
    "森",
    "池田",
    "橋本",
    "阿部",
    "石川",
    "前田",
    "藤田",
    "小川",
    "岡田",
    "後藤",
    "長谷川",
    "村上",
    "近藤",
    "石井",
    "坂本",
]
GIVEN = [
    "太郎",
    "花子",
    "健一",
    "美咲",
    "翔太",
    "由美",
    "大輔",
    "愛",
    "誠",
    "直子",
    "拓也",
    "恵",
    "浩二",
    "千尋",
    "雄一",
    "彩",
    "隆",
    "真理子",
]
