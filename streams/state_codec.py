"""The conversation table's value codec: the table keeps live ``ConversationState`` objects
in memory and serializes them (orjson) only for its changelog, so an event costs one encode,
not a decode and an encode."""

from __future__ import annotations

from typing import Any

import orjson
from faust.serializers import codecs

from botbill.billing_rules.incremental import ConversationState, state_from_dict, state_to_dict

__all__ = ["STATE_CODEC"]

STATE_CODEC = "botbill-conversation-state"


class _StateCodec(codecs.Codec):
    def _dumps(self, obj: Any) -> bytes:
        if isinstance(obj, ConversationState):
            return orjson.dumps(state_to_dict(obj))
        return orjson.dumps(obj)

    def _loads(self, s: bytes) -> Any:
        return state_from_dict(orjson.loads(s))


codecs.register(STATE_CODEC, _StateCodec())
