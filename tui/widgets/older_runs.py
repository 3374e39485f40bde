"""What the run list knows about older runs: when to ask for them, and what its last line says.

The feed tells whether the API has more runs and whether a page is on its way; the list asks
for the next page (`RunList.NeedMore`) once, when the cursor or the scroll comes near the end.
G asks for every page to the oldest run (`RunList.WalkToEnd`): the feed walks them, and the
cursor follows the last row until the walk ends (or the user moves it, or stops the walk).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MAX_FILTERED_PAGES", "OlderRuns"]

# With a filter on, older pages load by themselves to fill the screen, but at most this many
# after each key press or filter change: a filter matching nothing must not walk every page
# of a 100k-run job (and spend the hourly API quota in seconds).
MAX_FILTERED_PAGES = 4


@dataclass
class OlderRuns:
    """The paging state of one list of runs (a new one for each job shown)."""

    has_more: bool = False  # the API has older runs than those loaded
    loading: bool = False  # a next page is being fetched
    asked: bool = False  # the list asked for the next page, which has not come yet
    filtered_pages: int = 0  # pages appended under a filter since the last key press
    walking: bool = False  # the feed walks every older page, to the oldest run (G)
    walk_asked: bool = False  # G was pressed; the screen has not said whether it walks
    follow: bool = False  # the cursor stays on the last row as pages come (after G)
    answered: bool = True  # the API has answered for this job (False: its first page is due)

    def ask_walk(self) -> bool:
        """G: whether to ask the feed to walk to the oldest run (not past the end, nor when
        it walks already)."""
        self.walk_asked = self.walk_asked or (self.has_more and not self.walking)
        return self.walk_asked

    def walk_state(self, walking: bool, answer: bool = False) -> bool:
        """What the feed says of its walk (`answer`: the screen's answer to G, after which a
        walk not under way has ended; before it, a state from before G is not news). Returns
        whether the footer changed."""
        if answer:
            self.walk_asked = False
        elif self.walk_asked and not walking:
            return False
        if not walking:
            self.follow = False
        changed = walking != self.walking
        self.walking = walking
        return changed

    def held(self, filtered: bool) -> bool:
        """Older pages stopped loading by themselves under a filter (see MAX_FILTERED_PAGES)."""
        return (
            filtered and self.has_more and not self.loading
            and self.filtered_pages >= MAX_FILTERED_PAGES
        )

    def key_pressed(self, filtered: bool) -> bool:
        """A key moved the cursor: a filter may search older pages again. Returns whether the
        search was held (the footer said so)."""
        held = self.held(filtered)
        self.filtered_pages = 0
        return held

    def may_ask(self, filtered: bool) -> bool:
        """Whether the list may ask for the next page now (when near the end)."""
        if self.asked or not self.has_more or self.loading:
            return False
        return not (filtered and self.filtered_pages >= MAX_FILTERED_PAGES)  # until a key press

    def footer(self, shown: int, loaded: int, filtered: bool, oldest: str = "") -> str:
        """The line after the last row ("" for none), with `shown` of `loaded` runs shown;
        `oldest`: when the oldest loaded run started ("2d 4h ago")."""
        if self.walking and self.has_more:
            back = f", the oldest from {oldest}" if oldest else ""
            return f"loading older runs: {loaded:,} loaded{back}\u2026 Esc to stop"
        held = f" in {loaded:,} loaded \u2014 End searches older runs"
        if not shown:
            if filtered and loaded:
                if self.held(filtered):
                    return "No runs match the filter" + held
                return "No runs match the filter" + (" (loading more\u2026)" * self.loading)
            return "loading runs\u2026" if self.loading or not self.answered else "No runs yet"
        if self.loading:
            return "loading more\u2026"
        if not self.has_more:
            return f"end of runs \u2014 {loaded:,} loaded"
        if self.held(filtered):
            return "no more matches" + held
        return ""
