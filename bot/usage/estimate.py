"""Token estimates for when a server reports no usage (some compatible servers stream none).

Recorded events built from these are marked `estimated=True` in the ledger.
"""

from __future__ import annotations

import math
import re

# CJK ideographs and kana run about one token each; other text about four characters a token.
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f]")


def estimate_tokens(text: str) -> int:
    if not text:
        return 0
    cjk = len(_CJK.findall(text))
    return cjk + math.ceil((len(text) - cjk) / 4)
