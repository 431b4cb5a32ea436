"""Which strings are one emoji, for reactions: the `emoji` package follows the Unicode emoji data (skin tones,
families, flags, keycaps), which a hand-written pattern would get wrong or let go stale."""

from __future__ import annotations

import emoji as emoji_data  # the PyPI package "emoji"


def spelled_emoji(text: str) -> str | None:
    """`text` as one fully-qualified emoji ('❤' becomes '❤️'), or None if it is not exactly one emoji."""
    if not emoji_data.is_emoji(text):
        return None
    qualified = emoji_data.emojize(emoji_data.demojize(text), variant=None)
    return qualified if emoji_data.is_emoji(qualified) else text
