"""JSON answers are indented by four spaces byte for byte as the original's encoder wrote them,
whatever encoder teller uses (http/responses.py: orjson, re-indented)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from teller.http.responses import indented_json

LEAVES = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text()
DOCUMENTS = st.recursive(
    LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=30,
)


def _reference(document: Any) -> bytes:
    return json.dumps(document, indent=4, ensure_ascii=False).encode("utf-8")


@given(DOCUMENTS)
def test_any_document_is_written_as_json_dumps_indent_4_writes_it(document: Any) -> None:
    try:
        expected = _reference(document)
    except UnicodeEncodeError:  # a lone surrogate: not encodable either way
        return
    assert indented_json(document) == expected


def test_a_status_answer_of_thousands_of_entries() -> None:
    entries = [
        {"seq": i, "updated_at": 1_700_000_000 + i, "status": "waiting_deposit", "coin_type": "BTC"}
        for i in range(1, 3_001)
    ]
    assert indented_json({"statuses": entries}) == _reference({"statuses": entries})
    assert indented_json({"statuses": []}) == b'{\n    "statuses": []\n}'
