"""The header's context badge: the Northflank CLI context's name in its own accent colour.

Someone with a prod and a staging account must see at a glance which one a screen shows: the
colour comes from the name (a hash, so it is the same every time and on every machine), on
its own background, the text black or white, whichever reads better. Without colour
(NO_COLOR) the badge is bold and reversed instead.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from textual.content import Content
from textual.style import Style

from .contexts import shown_name

if TYPE_CHECKING:
    from textual.app import App

# Well apart from one another (hue and lightness); the salt in `accent` was chosen so that
# the usual names (prod, staging, production, dev, test, default) all get different ones.
ACCENTS = ("#e8590c", "#f5c211", "#2ec27e", "#1c71d8", "#9141ac", "#e01b88", "#00a3a3",
           "#a0785a")
_SALT = "nf-runs:"


def accent(name: str) -> str:
    """The colour of a context's name: the same for the same name, everywhere."""
    digest = hashlib.sha256((_SALT + name).encode("utf-8", "replace")).digest()
    return ACCENTS[int.from_bytes(digest[:4], "big") % len(ACCENTS)]


def _text_on(background: str) -> str:
    """Black or white, whichever contrasts more with `background` (#rrggbb)."""
    red, green, blue = (int(background[i:i + 2], 16) / 255 for i in (1, 3, 5))
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    return "#000000" if luminance > 0.4 else "#ffffff"


def badge_style(name: str, *, no_color: bool) -> Style:
    if no_color:
        return Style(bold=True, reverse=True)
    colour = accent(name)
    return Style.parse(f"bold {_text_on(colour)} on {colour}")


def context_badge(name: str, *, no_color: bool) -> Content:
    """` name ` in the context's style (the name sanitised and cut)."""
    return Content.styled(f" {shown_name(name)} ", badge_style(name, no_color=no_color))


def with_context(title: Content, name: str | None, *, no_color: bool) -> Content:
    """The header's title with the context's badge first (a narrow header cuts the end)."""
    if not name:
        return title
    return Content.assemble(context_badge(name, no_color=no_color), " ", title)


def refresh_headers(app: App[Any]) -> None:
    """Repaint every header's title now (the context changed, not a title)."""
    from textual.widgets import Header
    from textual.widgets._header import HeaderTitle

    screens = [*app.screen_stack, *app._installed_screens.values()]
    for screen in screens:
        if not hasattr(screen, "query"):  # an installed screen not built yet (a callable)
            continue
        for header in screen.query(Header):
            for title in header.query(HeaderTitle):
                title.update(header.format_title())
