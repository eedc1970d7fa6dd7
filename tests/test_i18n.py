"""Tests of planner.i18n: every label in both languages, with the same placeholders."""

from __future__ import annotations

import re
import string

import pytest

from planner._errors import InputError
from planner.i18n import LABELS, column_label, label, service_label, speed_label

CJK = re.compile(r"[\u4e00-\u9fff]")


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("key", sorted(LABELS))
def test_every_label_exists_in_both_languages(key):
    zh, en = LABELS[key]
    assert zh.strip() and en.strip()
    assert _fields(zh) == _fields(en)
    if CJK.search(en) is None and not zh.startswith("{"):
        assert CJK.search(zh), f"{key}: the Chinese label has no Chinese: {zh!r}"


def test_services_and_columns_read_well():
    assert service_label("station:basic", "zh") == "社区养老服务站：基本服务（全部现有站点）"
    assert service_label("centre:new", "en") == "centre (new sites)"
    assert column_label("share_plan:centre:new|change", "zh") == "区域性居家养老服务中心：规划覆盖率（变化）"
    assert column_label("covered_share:station:upgraded|frail", "en").endswith("(frail adults (0.64 m/s))")
    assert speed_label("older_winter", "zh").startswith("老年人冬季")
    assert label("not a key", "zh") == "not a key"
    with pytest.raises(InputError, match="lang"):
        label("title", "fr")
