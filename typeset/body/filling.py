"""Full pages: an article whose last page would end short is loosened until it reaches the foot,
and the space loosening cannot close takes 补白 (fillers) set across the columns under its text.

Loosening is copyfitting the other way: up the same ladder of settings (`copyfit.ladder`), the
smallest step that brings the article nearest the foot of its last planned page without
running over, or the step a model of the text's length guessed when its layout ends within a
line of the foot (or is the loosest). Where even the loosest setting leaves more than
`TOLERANCE` lines, fillers that reach that far are chosen from the issue's pool (each printed
once), set under the text at the house setting, and the article loosened again to close what
is left. Fillers are laid out at
the foot of the page; what is left above them, less than a filler takes, is the balanced
columns' (the space between lines and paragraphs inside the text never grows).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import combinations
from typing import Callable

from ..inputs.articles import Article
from ..inputs.copyfit import Ranges, Setting, first_reaching, ladder, model_guess, narrow, relative_length
from ..inputs.fillers import Filler, FillerPool
from .layoutcache import Trial

TOLERANCE = 4  # body lines a column may end short of the foot of an article's last page
MAX_FILLERS = 3  # under one article
CLOSE_ENOUGH = 1  # body lines a column: a guessed step whose layout ends this near the foot is taken
OVER_FOR_CERTAIN = 0.5  # lines a column fillers take beyond the space under a text: they run over when set


@dataclass
class _Need:
    """An article that loosening alone leaves short: as it stands, and as near the foot as
    loosening takes it (`loosest`)."""

    base: Article
    base_trial: Trial
    loosest: tuple[Article, Trial]


class Filling:
    """Fills the articles of an issue. `laid_out_alone(article)` is its trial from its planned
    folio; `measure_fillers(fillers)` the height each filler takes (CSS px); `keep(article)` is
    told of an article as it will be printed, while its layout is at hand."""

    def __init__(self, ranges: Ranges, pool: FillerPool, available: dict[str, int],
                 laid_out_alone: Callable[[Article], Trial], measure_fillers: Callable[[list], dict[str, float]],
                 keep: Callable[[Article], None] = lambda article: None):
        self.ranges, self.pool, self.available = ranges, pool, available
        self.laid_out_alone, self.measure_fillers, self.keep = laid_out_alone, measure_fillers, keep
        self.heights: dict[str, float] = {}  # of the fillers in the pool, once measured

    def fill(self, articles: list[Article], skip: set[str], run=None) -> tuple[list[Article], list[str]]:
        """The articles with their loosening and fillers; the slugs of those changed. `run(work,
        items)` maps `work` over `items` (the planner's worker processes): articles are loosened
        independently; the fillers, one pool for the issue, are then chosen one article after another."""
        run = run or (lambda work, items: [work(item) for item in items])
        by_slug = {a.slug: a for a in articles}
        eligible = [a for a in articles if a.slug not in skip and a.slug in self.available]
        needs: list[_Need] = []
        for settled, need in run(self.settle_and_keep, eligible):
            by_slug[settled.slug] = settled
            if need is not None:
                needs.append(need)
        if needs:
            self._set_fillers(needs, by_slug, run)
        filled = [self._at_foot(by_slug[a.slug]) for a in articles]
        return filled, [a.slug for a, b in zip(articles, filled) if a != b]

    def settle_and_keep(self, article: Article) -> tuple[Article, _Need | None]:
        """The article loosened as near the foot as loosening takes it (the printed article told to
        `keep` when it needs no fillers), and what it needs of fillers."""
        settled, need = self._settle(article)
        if need is None:
            settled = self._at_foot(settled)
            self.keep(settled)
        return settled, need

    def _settle(self, article: Article) -> tuple[Article, _Need | None]:
        """The article loosened as near the foot as loosening takes it, and what it needs of
        fillers (None: nothing, or none may be set under it)."""
        base, trial = self._with_pinned(article)
        if not self.fits(base, trial) or self.deficit(base, trial) <= TOLERANCE:
            return base, None
        nearest = _Search(self, base, trial).nearest_foot()
        if self.deficit(*nearest) > TOLERANCE and not base.fillers and article.entry.file not in self.pool.off \
                and self.pool.free:
            return nearest[0], _Need(base, trial, nearest)  # as near as loosening goes: fillers close the rest
        return nearest[0], None

    def deficit(self, article: Article, trial: Trial) -> int:
        """How far the article ends from the foot of its last planned page, in body lines."""
        return (self.available[article.slug] - trial.pages) * trial.page_lines + trial.short

    def fits(self, article: Article, trial: Trial) -> bool:
        return trial.pages <= self.available[article.slug]

    def excess(self, article: Article, trial: Trial) -> float:
        """Lines per column beyond the foot of the last planned page; negative: short of it."""
        return trial.beyond(self.available[article.slug])

    def _with_pinned(self, article: Article) -> tuple[Article, Trial]:
        pinned = self.pool.pinned.get(article.entry.file, [])
        article = replace(article, fillers=list(pinned)) if pinned else article
        return article, self.laid_out_alone(article)

    def _set_fillers(self, needs: list[_Need], by_slug: dict[str, Article], run) -> None:
        """Fillers for the articles loosening leaves short, the longest first (they leave the largest
        spaces), else in reading order: an order no edit of the text changes, so an edit changes the
        choice of the articles after it only when its own choice changes. Each filler once.
        An article no filler helps is loosened as near the foot as it goes.

        The choices are made in order, each from what the ones before left; their layouts run
        side by side, and whatever an article gives back (a filler that did not fit) makes the
        articles after it choose again: the outcome is the one-after-another outcome."""
        heights = self.heights = self.measure_fillers(self.pool.free)
        pool = [f for f in self.pool.free if heights.get(f.slug)]
        pending = sorted(needs, key=lambda need: -self.available[need.base.slug])  # longest first, else in order
        while pending:
            planned, left = [], list(pool)
            for need in pending:
                chosen = self._choose(need, left, heights)
                planned.append((need, chosen))
                left = [f for f in left if f not in chosen]
            outcomes = run(self._fill_with, planned)
            for done, ((need, chosen), filled) in enumerate(zip(planned, outcomes), start=1):
                if filled is None:
                    by_slug[need.base.slug] = _Search(self, need.base, need.base_trial).nearest_foot()[0]
                else:
                    by_slug[need.base.slug] = filled
                    pool = [f for f in pool if f not in filled.fillers]
                if filled is None and chosen or filled is not None and filled.fillers != chosen:
                    break  # fillers came back to the pool: the articles after this one choose again
            pending = pending[done:]

    def _choose(self, need: _Need, pool: list[Filler], heights: dict[str, float]) -> list[Filler]:
        room = need.base_trial.space_under - 2  # px: a filler's height is measured to a fraction
        closed_by_loosening = need.base_trial.space_under - need.loosest[1].space_under
        return choose_fillers(pool, heights, room, room - closed_by_loosening + need.base_trial.pitch)

    def _fill_with(self, planned: tuple[_Need, list[Filler]]) -> Article | None:
        """The article with the fillers chosen (one fewer while they do not fit), loosened to close the
        rest; None when they leave it further from the foot than loosening alone.

        The article with the fillers at its own setting is laid out only when the search comes
        down to it: where a looser setting fits, so does it (the ladder only lengthens)."""
        need, chosen = planned
        # the model starts from the text as loosening left it, the fillers in the space under it
        loosened, loosened_trial = need.loosest
        pages_left = (self.available[need.base.slug] - loosened_trial.pages) * loosened_trial.page_lines
        at_its_loosest = at_loosest(self.ranges, need.base) == loosened
        while chosen:
            with_fillers = replace(need.base, fillers=chosen)
            filler_height = sum(self.heights.get(f.slug, 0.0) for f in chosen)
            over = (filler_height - loosened_trial.space_under) / loosened_trial.pitch - pages_left
            search = _Search(self, with_fillers, None, anchor=(loosened.fit, over, loosened_trial.page_lines),
                             # the fillers take more than the loosest setting leaves under its text
                             loosest_overruns=over >= OVER_FOR_CERTAIN and at_its_loosest)
            filled = search.nearest_foot()
            if self.fits(*filled):
                # as near as loosening alone is better: the space left is shared out above the
                # fillers (_at_foot), where loosening alone leaves it as a hole under the text
                if self.deficit(*filled) > self.deficit(*need.loosest):
                    return None
                at_foot = self._at_foot(filled[0])
                self.keep(at_foot)
                return at_foot
            chosen = chosen[:-1]  # the measure was off by a line: one filler fewer
        return None

    def _at_foot(self, article: Article) -> Article:
        """Fillers moved down to the foot of the page: the space left is shared out above each."""
        if not article.fillers or article.filler_drop:
            return article
        space = self.laid_out_alone(article).space_under
        return replace(article, filler_drop=round(max(0.0, space - 0.5), 2)) if space > 1 else article


class _Search:
    """Loosening one article: the settings above its own, each laid out at most once.

    The step `relative_length` puts nearest the foot is laid out first, and taken when the
    layout confirms it (`_confirmed`): one layout where the guess is right. Otherwise the
    search settles what trying every step would choose; its first probes too go where the
    model, corrected by what each layout measured, says the boundary is. Without its `trial`,
    the article at its own setting is laid out only when the search comes down to it;
    `estimate` (its lines a column beyond the foot) stands in for it, and `anchor` (a setting,
    the lines a column beyond the foot set so, the body lines a column of a page) is where the
    model starts from."""

    def __init__(self, filling: Filling, article: Article, trial: Trial | None, estimate: float = 0.0,
                 anchor: tuple[Setting | None, float, int] | None = None, loosest_overruns: bool = False):
        self.filling, self.article, self._trial, self.estimate = filling, article, trial, estimate
        self.loosest_overruns = loosest_overruns
        self.steps = _looser_settings(filling.ranges, article)
        self.tried: dict[int, tuple[Article, Trial]] = {}
        if anchor is None and trial is not None:
            anchor = (article.fit, filling.excess(article, trial), trial.page_lines)
        self.anchor = anchor

    def at(self, index: int) -> tuple[Article, Trial]:
        if index < 0:
            if self._trial is None:
                self._trial = self.filling.laid_out_alone(self.article)
            return self.article, self._trial
        if index not in self.tried:
            setting = self.steps[index]
            loosened = replace(self.article, fit=None if setting == Setting() else setting)
            self.tried[index] = (loosened, self.filling.laid_out_alone(loosened))
        return self.tried[index]

    def nearest_foot(self) -> tuple[Article, Trial]:
        """The smallest step that brings the article nearest the foot without running over, or a
        step the model guessed and a layout confirmed (`_confirmed`)."""
        last = len(self.steps) - 1
        if last < 0:
            return self.at(-1)
        confirmed = self._confirmed()
        if confirmed is not None:
            return confirmed
        filling = self.filling
        if not self.loosest_overruns and filling.fits(*self.at(last)):
            target = filling.deficit(*self.at(last))
            if self._trial is not None and target >= filling.deficit(self.article, self._trial):
                return self.at(-1)  # loosening does not bring it nearer
            step = self._first(lambda i: -filling.deficit(*self.at(i)), -target, last)
            if step == 0 and filling.deficit(*self.at(-1)) <= target:
                return self.at(-1)
            return self.at(step)
        return self.at(self._first(lambda i: filling.excess(*self.at(i)), 1e-9, last) - 1)

    def _confirmed(self) -> tuple[Article, Trial] | None:
        """The loosest step the model says fits, laid out, when the layout confirms it: it fits and
        ends within `CLOSE_ENOUGH` lines of the foot, or it is the loosest step (nothing reaches
        nearer). Where the model is right (most articles) that is the one layout loosening costs;
        it may take a larger step than needed to reach the foot, never one that runs over."""
        if self.anchor is None:
            return None
        model = self._model(*self.anchor)
        fitting = [step for step in range(len(self.steps)) if model(step) <= 0]
        if not fitting:
            return None
        article, trial = self.at(fitting[-1])
        filling = self.filling
        if not filling.fits(article, trial):
            return None
        if self._trial is not None and filling.deficit(article, trial) >= filling.deficit(self.article, self._trial):
            return None  # not nearer than the article as it stands: the search decides
        last = len(self.steps) - 1
        if filling.deficit(article, trial) <= CLOSE_ENOUGH or fitting[-1] == last \
                or (fitting[-1] == last - 1 and self.loosest_overruns):  # nothing looser fits
            return article, trial
        return None

    def _model(self, setting: Setting | None, excess: float, page_lines: int):
        """Lines a column beyond the foot (negative: short of it) at each step, for a text that
        grows as `relative_length` says from `excess` at `setting`."""
        capacity = self.filling.available[self.article.slug] * page_lines
        start = relative_length(setting)
        return lambda step: excess + (capacity + excess) * (relative_length(self.steps[step]) / start - 1)

    def _first(self, value, threshold: float, high: int) -> int:
        """The first step whose `value` (growing up the ladder) reaches `threshold`; `high` does,
        the article as it stands (step -1) does not. The first probes go where `relative_length`,
        corrected by the last step laid out, says the boundary is (two layouts when it is right);
        bisection from there."""
        measured = {step: value(step) for step in self.tried}  # the loosest at least, to correct the model

        def reaches(step: int) -> bool:
            measured[step] = value(step)
            return measured[step] >= threshold

        return first_reaching(reaches, -1, high, model_guess(self._estimate(value), lambda v: v >= threshold, measured))

    def _estimate(self, value):
        """The `value` (lines a column beyond the foot; negative: short of it) of each step for a
        text that grows as `relative_length` says, from the article as it stands (or the anchor)."""
        if self._trial is not None:
            return self._model(self.article.fit, value(-1), self._trial.page_lines)
        if self.anchor is not None:
            return self._model(*self.anchor)
        return self._model(self.article.fit, self.estimate, self.at(len(self.steps) - 1)[1].page_lines)


def at_loosest(ranges: Ranges, article: Article) -> Article | None:
    """The article at the loosest setting loosening may give it: what filling lays out first of an
    article that ends short (None: no setting is looser than its own)."""
    steps = _looser_settings(ranges, article)
    return replace(article, fit=steps[-1]) if steps else None


def _looser_settings(ranges: Ranges, article: Article) -> list[Setting]:
    """The settings looser than the article's own, from the nearest on."""
    ranges = narrow(ranges, article.fit_limits)
    current = article.fit or Setting()
    for has_photo in (bool(article.figures), False):
        settings = ladder(ranges, has_photo)
        if current in settings:
            return settings[settings.index(current) + 1:]
    settings = ladder(ranges, bool(article.figures))
    return settings[settings.index(Setting()) + 1:]


def choose_fillers(pool: list[Filler], heights: dict[str, float], room: float, wanted: float) -> list[Filler]:
    """Up to `MAX_FILLERS` fillers of different kinds (a quotation, a poem, a note: never two
    alike under one article) that together take at most `room`: the fewest that take `wanted`
    or more (of those the shortest, which leaves the pool most for other articles), else the
    fullest of all; tallest first."""
    best: tuple | None = None
    for count in range(1, MAX_FILLERS + 1):
        for combo in combinations(pool, count):
            if len({f.kind for f in combo}) < count:
                continue
            total = sum(heights[f.slug] for f in combo)
            if total > room:
                continue
            reaches = total >= wanted
            rank = (reaches, -count, -total) if reaches else (reaches, 0, total)
            if best is None or rank > best[0]:
                best = (rank, combo)
    if best is None:
        return []
    return sorted(best[1], key=lambda f: -heights[f.slug])
