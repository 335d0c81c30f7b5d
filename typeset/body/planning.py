"""Stage 4: lay the body out with WeasyPrint on the page plan and measure the fit.

Planning lays out each article from its planned folio (or finds the layout in the cache),
places the articles on the plan, fits continuations and overruns (copyfitting) and fills
short pages. The layout each article settles on is printed as it is, from its PDF part
(`engine.write_part`, linked by `pdf.link` with each font embedded once), or for callers that
read the boxes, laid out again as one document. Pages beyond an article's last planned page
are dropped (overset) and measured.
"""

from __future__ import annotations

import math
import multiprocessing
import multiprocessing.util
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Callable

import weasyprint

from ..diagnostics import Diagnostics, OutputError
from ..i18n import _
from ..inputs.articles import Article
from ..inputs.copyfit import Ranges, Setting, first_reaching, load_ranges, model_guess, narrow, relative_length, tightening
from ..inputs.fillers import FillerPool
from ..inputs.fonts import FontSet
from ..inputs.house import House
from ..inputs.manifest import Manifest
from ..pdf.link import face_files, link
from ..processes import few_collections, forked_steps, frozen_for_fork, workers
from ..progress import current, silence
from ..store import Inputs, digest, note, take_notices
from .continuation import split_article
from .engine import Engine, font_folders, know_faces, remove_font_folders, write_part
from .filling import CLOSE_ENOUGH, TOLERANCE, Filling, at_loosest
from .html import columns_of
from .layoutcache import LayoutCache, Trial
from .measure import ArticleFit, drop_fillers, measure, trial


@dataclass
class Slot:
    """One page of the body in folio order: an article page, or a page without text."""

    folio: int
    kind: str  # "article"; or "reserved" (the contents), "underfill", "unplanned": no text
    page: int | None = None  # index into BodyLayout.document.pages for article pages


@dataclass
class BodyLayout:
    """The body laid out: its pages as one WeasyPrint document (`lay_out(parts=False)`), or as
    each article's PDF part and the number of its pages kept, to be linked (`write_pdf`)."""

    document: weasyprint.Document | None  # the article pages that are kept, in folio order
    slots: list[Slot]
    fits: list[ArticleFit]
    passes: int
    planned_anew: list[str] = field(default_factory=list)  # slugs laid out for planning, not found in the cache
    # (PDF part, or a function that waits for one being written; pages kept), in folio order
    parts: list[tuple[bytes | Callable[[], bytes], int]] = field(default_factory=list)
    faces: dict[str, Path] = field(default_factory=dict)  # the faces the parts name: digest -> file
    cache: LayoutCache | None = None  # where the parts came from: the linker's subsets are kept there too

    def write_pdf(self) -> bytes:
        """The kept pages, in folio order, each font embedded once."""
        if self.document is not None:
            return self.document.write_pdf()
        return link(self.parts, self.faces, self.cache.subset if self.cache is not None else None)

    @property
    def folios(self) -> list[int]:
        return [slot.folio for slot in self.slots]

    @property
    def blank_pages(self) -> list[tuple[int, str]]:
        return [(slot.folio, slot.kind) for slot in self.slots if slot.kind != "article"]


@few_collections()  # also in the worker processes it forks
def lay_out(manifest: Manifest, articles: list[Article], house: House, fonts: FontSet,
            diagnostics: Diagnostics, cache: LayoutCache | None = None, fitting: bool = True,
            fillers: FillerPool | None = None, jobs: int | None = None, parts: bool = False,
            printed_before: dict[str, Setting | None] | None = None) -> BodyLayout:
    """Lay the articles out, each from its planned folio.

    Every article starts on a page of the side (left/right) its planned folio asks for, so
    dropping overset pages or adding blank ones later never moves a page to the wrong side;
    pages without text are added when the PDF is assembled. Articles without planned pages
    start where the text before them ends, which only a second pass can number right.

    Planning (the pages each article needs, copyfitting trials) reads what `cache` knows and
    lays out only the articles it does not.
    Articles that end short of the foot of their last planned page are then loosened, and given
    fillers from `fillers` where loosening is not enough (`filling.Filling`). Without `fitting`
    the articles are set as they come (their `fit` and fillers as given), none fitted or filled.
    Layouts that do not depend on each other run on `jobs` processes (default: `workers()`);
    the result is the same whatever their number.

    With `parts` the pages are not laid out again as one document: each article keeps the PDF
    part of the layout planning settled on (from the cache, or laid out once more where planning
    kept none), and `BodyLayout.write_pdf` links the parts. Without, the body is one document,
    whose boxes the caller reads (previews, tests). `printed_before`: the setting the last build
    printed each article at (by file, as the report names it; articles printed without fillers),
    laid out ahead of need after an edit.
    """
    cache = cache if cache is not None else LayoutCache(None)
    cache.use_fonts(fonts)
    faces = face_files(list(fonts.files()))
    know_faces(faces)  # before the worker processes are forked
    planner = _Planner(Engine(manifest, articles, house, fonts, diagnostics), cache,
                       remember=cache.folder is not None or fitting,  # else nothing is looked up again
                       jobs=jobs if jobs is not None else workers())
    starts = {a.slug: a.entry.pages.first if a.entry.pages else None for a in articles}
    ranges = load_ranges(house, diagnostics) if fitting else {}
    first, document = planner.first_trials(articles, starts,
                                           partial(_likely_next, ranges, fillers, printed_before or {}))
    needed = {a.slug: max(1, first[a.slug].pages) for a in articles}
    articles, plan, fitted = _fit_and_fill(planner, manifest, articles, first, needed, ranges, fillers, fitting)
    planned_starts = {slug: start for slug, (start, _kept) in plan.articles.items()}
    passes = 1
    if parts:
        printed = planner.printed(articles, planned_starts)
        laid_out = {a.slug: found for a, (found, _part) in zip(articles, printed)}
    else:
        if document is None or planned_starts != starts or fitted:
            with current().step("final", total=len(articles)):
                document = planner.engine.render(articles, planned_starts)
            passes = 2
        indexes = {a.slug: planner.engine.pages_of(document, a) for a in articles}
        laid_out = {a.slug: trial(document, indexes[a.slug], columns_of(a)) for a in articles}
    needed = {a.slug: max(1, laid_out[a.slug].pages) for a in articles}
    plan = _plan(manifest, articles, needed)
    fits = _measure_all(articles, laid_out, plan, needed)
    _measure_continuations(laid_out, fits)
    anew = [a.slug for a in articles if a.slug in planner.planned_anew]
    if parts:
        return BodyLayout(None, plan.slots, fits, passes, anew,
                          parts=[(part, fit.pages_kept) for (_trial, part), fit in zip(printed, fits)],
                          faces=faces, cache=cache)
    final = document.copy([document.pages[i] for a, fit in zip(articles, fits) for i in indexes[a.slug][:fit.pages_kept]])
    return BodyLayout(final, plan.slots, fits, passes, anew)


def _fit_and_fill(planner: _Planner, manifest: Manifest, articles: list[Article], first: dict[str, Trial],
                  needed: dict[str, int], ranges: Ranges, fillers: FillerPool | None, filling: bool):
    """Copyfitting, then (with `filling`) loosening and fillers: (the articles as they are to be
    printed, the plan, the slugs changed); `needed` updated."""
    plan = _plan(manifest, articles, needed)
    # loosening the articles copyfitting leaves alone needs nothing of it: done beside it, it fills
    # the processes copyfitting's longest searches would leave idle, and filling finds it in the cache
    ahead = _filling(planner, articles, plan, ranges, fillers) if filling else None
    articles, fitted = _fit(articles, plan, needed, ranges,
                            lambda a, pages=None: planner.alone(a, plan.articles[a.slug][0], pages=pages),
                            first, partial(planner.in_parallel, stage="fit"),
                            lambda a: planner.keep(a, plan.articles[a.slug][0], "fit"), ahead)
    plan = _plan(manifest, articles, needed)
    planner.held.clear()  # what copyfitting settled on has its part
    if filling:
        articles, filled = _fill(planner, articles, plan, needed, ranges, fillers, fitted)
        fitted += filled
        plan = _plan(manifest, articles, needed)
        planner.held.clear()
    return articles, plan, fitted


def _likely_next(ranges: Ranges, fillers: FillerPool | None, printed_before: dict[str, Setting | None],
                 article: Article) -> list[tuple[Article, bool]]:
    """The article as the trial planning most often asks for next sets it, with whether it is
    likely printed so: at the setting the last build printed it at (an edit seldom changes the
    setting that fits, and the model guesses it again), else at its loosest (what filling
    settles on for an article that ends far short: 8 of the reference issue's 25). Nothing where
    planning starts elsewhere (fillers pinned under it, a continuation cut at the foot)."""
    if article.entry.pages is None or article.entry.continued_on is not None \
            or (fillers is not None and fillers.pinned.get(article.entry.file)):
        return []
    if article.entry.rel in printed_before:
        printed = replace(article, fit=printed_before[article.entry.rel])
        if printed != article:
            return [(printed, True)]
    loosest = at_loosest(ranges, article) if ranges else None
    return [(loosest, True)] if loosest is not None else []


def _fill(planner: _Planner, articles: list[Article], plan: _Plan, needed: dict[str, int], ranges: Ranges,
          fillers: FillerPool | None, fitted: list[str]) -> tuple[list[Article], list[str]]:
    """Loosening and fillers for the articles that end short; `needed` updated to their pages.
    Articles cut for a continuation end at the foot already."""
    cut = {a.slug for a in articles if a.slug in fitted and a.entry.continued_on is not None}
    filling = _filling(planner, articles, plan, ranges, fillers)
    if filling is None:
        return articles, []
    articles, filled = filling.fill(articles, cut, partial(planner.in_parallel, stage="fill"))
    for article in articles:
        if article.slug in filled:
            needed[article.slug] = filling.laid_out_alone(article).pages
    return articles, filled


def _filling(planner: _Planner, articles: list[Article], plan: _Plan, ranges: Ranges,
             fillers: FillerPool | None) -> Filling | None:
    """The filling of the articles on `plan` (None: nothing to loosen them by, no fillers)."""
    pool = fillers if fillers is not None else FillerPool([], {}, set())
    if not ranges and not pool.all:
        return None

    def alone(article: Article) -> Trial:
        return planner.alone(article, plan.articles[article.slug][0], stage="fill")

    def keep(article: Article) -> None:
        planner.keep(article, plan.articles[article.slug][0], "fill")

    available = {a.slug: _available(a, plan) for a in articles if a.entry.pages}
    return Filling(ranges, pool, available, alone, planner.filler_heights, keep)


HELD_PER_ARTICLE = 3
class _Planner:
    """Layouts for planning: each article's trial from the cache, or laid out and remembered.

    Work on articles that do not depend on each other goes to `jobs` worker processes forked
    from this one (`in_parallel`): they start with everything this process has loaded (fonts,
    house style, the trials so far) and send back their results and the trials they laid out."""

    def __init__(self, engine: Engine, cache: LayoutCache, remember: bool, jobs: int = 1):
        self.engine, self.cache, self.remember, self.jobs = engine, cache, remember, max(1, jobs)
        self.planned_anew: set[str] = set()  # slugs laid out for planning, not found in the cache
        self.held: dict[str, tuple] = {}  # key -> (document, page indexes) laid out by the work in hand
        self.keys: dict[tuple[str, int | None], str] = {}  # (article, start) -> its layout's cache key
        self.cache_only = False  # while work is tried on the cache alone (`_from_cache`)

    def in_parallel(self, work, items: list, stage: str = "layout") -> list:
        """`[work(item) for item in items]`, on the worker processes when there are several.
        The documents a piece of work lays out are held until it ends (`keep`, `_release`).
        Work the cache has every layout for is done here first: after an edit that is all of it
        but the edited article's, and forking processes to look it up costs more than looking."""
        if self.jobs == 1 or len(items) < 2 or not self.remember:
            return [self._release(work(item)) for item in items]
        done = {index: found for index, item in enumerate(items)
                if (found := self._from_cache(work, item)) is not _LAYOUT_NEEDED}
        rest = [index for index in range(len(items)) if index not in done]
        if len(rest) < 2:
            done.update({index: self._release(work(items[index])) for index in rest})
            return [done[index] for index in range(len(items))]
        self.cache.written()  # a part still being written is not the workers' to wait for
        global _forked_work
        _forked_work = (self, work, items)
        count = min(self.jobs, len(rest))
        # the longest first, so no process is left alone with a long one at the end; work done ahead
        # of need (`_Ahead`) after the rest, to fill what the rest leaves idle
        order = sorted(rest, key=lambda index: (isinstance(items[index], _Ahead),
                                                -sum(len(a.body_html) for a in _articles_of(items[index]))))
        back: dict[int, tuple] = {}
        try:
            with current().step(stage, total=len(items)), frozen_for_fork():
                current().doing(_shown([items[i] for i in order[:count]]), done=len(done))
                # an executor, not a multiprocessing pool: a pool whose process dies (killed, a
                # crash in a library) forks another and waits for ever for the work that was lost
                pool = ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("fork"),
                                           initializer=_start_worker, initargs=(font_folders(),))
                try:
                    # the items go out in that order, one to each free process: those after the
                    # ones back are the ones being worked on (what the progress line shows)
                    for index, result in zip(order, pool.map(_work_in_worker, order)):
                        back[index] = result
                        current().doing(_shown([items[i] for i in order[len(back):len(back) + count]]),
                                        done=len(done) + len(back))
                except BrokenProcessPool:
                    self.engine.diagnostics.error(
                        _("a layout process ended before its work was done (killed, or crashed in a library)"),
                        hint=_("build again; with -j 1 the layouts run in the command's own process"))
                    raise OutputError(self.engine.diagnostics) from None
                finally:
                    # the workers end as processes do, so their finalizers remove their font folders
                    pool.shutdown(cancel_futures=True)
        finally:
            _forked_work = None
        for index in rest:  # merged in the items' order: the same cache whatever the timing
            result, trials, parts, used, anew, notices = back[index]
            self._take(trials, parts, used, anew, notices)
            done[index] = result
        return [done[index] for index in range(len(items))]

    def _take(self, trials: dict, parts: dict, used: set, anew: set, notices: list) -> None:
        """What another process laid out and looked up (`_Known.since`), made this one's."""
        note(notices)  # a damaged cache entry it found
        self.cache.new.update(trials)
        self.cache.new_parts.update(parts)
        self.cache.used |= used
        self.planned_anew |= anew

    def _from_cache(self, work, item):
        """`work(item)` done with the layouts in the cache alone; `_LAYOUT_NEEDED` when it needs
        another (it is then done on a worker process, from the start: it changed nothing here)."""
        self.cache_only = True
        try:
            return self._release(work(item))
        except _LayoutNeeded:
            self.held.clear()
            return _LAYOUT_NEEDED
        finally:
            self.cache_only = False

    def _laying_out(self) -> None:
        """Called before every layout: work tried on the cache alone (`_from_cache`) ends here."""
        if self.cache_only:
            raise _LayoutNeeded

    def _release(self, result):
        """After a piece of work: the documents it laid out are let go (their parts kept by `keep`)."""
        self.held.clear()
        return result

    def keep(self, article: Article, start: int, stage: str) -> None:
        """`article` will be printed as it is: the PDF part of its layout from `start` is written
        while the layout is at hand (it is laid out now if it was not)."""
        self.alone(article, start, stage)
        self._write_part(self.key(article, start))

    def _hold(self, key: str, slug: str, document, indexes: list[int]) -> None:
        """Hold a layout's document for `keep`: the last few of each article (a search settles on
        one of its last probes), so memory stays bounded however long the search."""
        self.held[key] = (document, indexes, slug)
        same = [held for held, (_d, _i, held_slug) in self.held.items() if held_slug == slug]
        for older in same[:-HELD_PER_ARTICLE]:
            del self.held[older]

    def _write_part(self, key: str) -> None:
        if key in self.held and self.cache.part(key) is None:
            document, indexes, _slug = self.held[key]
            self.cache.put_part(key, write_part(document, indexes))

    def _lay_out_beside(self, article: Article, start: int | None, printed: bool) -> Callable[[], None]:
        """`alone(article, start)` by a child process forked now, and with `printed` its part,
        which it writes once it has sent the layout: the function returned takes the layout
        (planning goes on while the part is written, and takes it when it needs it:
        `LayoutCache.put_part_later`). Where the child gave no layout, it is laid out here;
        where no part, planning lays the article out again if it prints it."""
        key = self.key(article, start)
        if self.cache.get(key) is not None:  # laid out before: planning finds it, and its part if kept
            return lambda: None
        before = _Known.of(self)

        def lay_out() -> tuple:
            silence()
            take_notices()  # the parent's, inherited: it has them
            self.alone(article, start, "layout")
            return before.since(self)

        def part() -> bytes:
            document, indexes, _slug = self.held[key]
            return write_part(document, indexes)

        with frozen_for_fork():
            steps = forked_steps(lay_out, part) if printed else forked_steps(lay_out)

        def take() -> None:
            try:
                trials, _parts, used, anew, notices = steps[0]()
            except ChildProcessError:
                self.alone(article, start, "layout")  # here, where whatever went wrong shows
                if printed:
                    self._write_part(key)
                return
            self._take(trials, {}, used, anew, notices)
            if printed:
                self.cache.put_part_later(key, partial(_part_or_none, steps[1]))

        return take

    def filler_heights(self, fillers: list) -> dict[str, float]:
        """The height (CSS px) each filler takes under an article: laid out once per fillers, house
        style, fonts and code, kept in the cache as a trial of the fillers alone."""
        if not fillers:
            return {}
        html = self.engine.filler_html(fillers)
        key = self.cache.key(html)
        found = self.cache.get(key) if self.remember else None
        if found is None:
            self._laying_out()
            found = Trial(0, [], fillers=self.engine.filler_heights(html))
            if self.remember:
                self.cache.put(key, found)
        return found.fillers

    def key(self, article: Article, start: int | None) -> str:
        # planning asks for the same layouts again and again (an article, a setting, a start):
        # the HTML is made once for each (its fields in full, repr of dataclasses, say which)
        known = (repr(article), start)
        if known not in self.keys:
            self.keys[known] = self.cache.key(self.engine.html([article], {article.slug: start}), article)
        return self.keys[known]

    def first_trials(self, articles: list[Article], starts: dict[str, int | None], guess_next=None):
        """Every article from its planned folio: (trial by slug, the document when all were laid out
        in it together, else None). `guess_next(article)`: the article as the next trials planning
        will likely ask for set it (with whether it is likely printed so: its part is written
        too), laid out on processes that would wait."""
        keys = {a.slug: self.key(a, starts[a.slug]) if self.remember else "" for a in articles}
        first = {a.slug: self.cache.get(keys[a.slug]) if self.remember else None for a in articles}
        missing = [a for a in articles if first[a.slug] is None]
        self.planned_anew |= {a.slug for a in missing}
        if not missing:
            return first, None

        def lay_out_together(group: list[Article]):
            self._laying_out()
            with current().step("layout", total=len(group)):
                laid_out = self.engine.render(group, starts)
            for article in group:
                indexes = self.engine.pages_of(laid_out, article)
                first[article.slug] = trial(laid_out, indexes, columns_of(article)) if self.remember \
                    else Trial(len(indexes), [])
                if self.remember:
                    self.cache.put(keys[article.slug], first[article.slug])
                    if self.likely_kept(article, first[article.slug]):
                        self._hold(keys[article.slug], article.slug, laid_out, indexes)
                        self._write_part(keys[article.slug])
            self.held.clear()
            return laid_out

        # each article on its own, the longest first (`in_parallel`): the processes end together
        groups = [[article] for article in missing] if self.remember and self.jobs > 1 else [missing]
        ahead = [guess for article in missing for guess in guess_next(article)] \
            if len(groups) == 1 and self.jobs > 1 and self.remember and guess_next is not None else []
        if ahead:
            # one process would lay out what changed while the others wait: beside it, child
            # processes lay out what planning will likely ask of that article next (`guess_next`)
            taken = [self._lay_out_beside(article, starts[article.slug], printed) for article, printed in ahead]
            lay_out_together(missing)
            for take in taken:
                take()
            # kept only if planning asks for them: the cache holds what a cold build would
            self.cache.used -= {self.key(a, starts[a.slug]) for a, _printed in ahead}
        elif len(groups) == 1:
            laid_out = lay_out_together(missing)
            return first, laid_out if len(missing) == len(articles) else None
        else:
            if not self.engine.warm:
                # the shortest here first: the processes forked now and for later work inherit the
                # fonts it loads, instead of each loading them for its first layout
                shortest = min(groups, key=lambda group: sum(len(a.body_html) for a in group))
                lay_out_together(shortest)
                groups.remove(shortest)
            self.in_parallel(lambda group: lay_out_together(group) and None, groups)  # the trials come back in the cache
        for article in missing:
            first[article.slug] = self.cache.get(keys[article.slug])
        return first, None

    def likely_kept(self, article: Article, laid_out: Trial) -> bool:
        """Whether an article's first layout is likely the one printed: it ends on the last page
        planned for it, near enough the foot to need neither copyfitting nor fillers."""
        planned = article.entry.pages
        return planned is None or (laid_out.pages == planned.last - planned.first + 1
                                   and laid_out.short <= TOLERANCE and article.entry.continued_on is None)

    def alone(self, article: Article, start: int, stage: str = "fit", pages: int | None = None) -> Trial:
        """`article` laid out alone from `start`: a copyfitting (or filling) trial; with `pages`,
        its first `pages` pages only (what a continuation's source keeps: the rest is cut)."""
        trial_key = self.key(article, start)
        if pages is not None:
            trial_key = digest(Inputs(values=(trial_key, f"the first {pages} pages")))[:32]
        found = self.cache.get(trial_key)
        if found is None:
            found = self._lay_out_alone(article, start, trial_key, stage, pages)
        return found

    def _lay_out_alone(self, article: Article, start: int, trial_key: str, stage: str,
                       pages: int | None = None) -> Trial:
        undropped = self.key(replace(article, filler_drop=0.0), start) if article.filler_drop else None
        if undropped in self.held:
            # the fillers moved down to the foot: the layout without the drop, its fillers moved
            document, indexes, _slug = self.held.pop(undropped)
            drop_fillers(document.pages[indexes[-1]]._page_box, article.filler_drop, len(article.fillers))
        else:
            self._laying_out()
            with current().step(stage):
                current().doing(article.slug)
                document = self.engine.render([article], {article.slug: start}, pages)
            indexes = self.engine.pages_of(document, article)
        found = trial(document, indexes, columns_of(article))
        self.cache.put(trial_key, found)
        self.planned_anew.add(article.slug)
        self._hold(trial_key, article.slug, document, indexes)
        return found

    def printed(self, articles: list[Article], starts: dict[str, int]) -> list[tuple[Trial, bytes | Callable]]:
        """Each article's layout from its planned folio with its PDF part: from the cache, or
        laid out now (on the worker processes) where planning kept no part of it."""
        keys = {a.slug: self.key(a, starts[a.slug]) for a in articles}
        # a part still being written (`_lay_out_beside`) is taken when the link comes to it
        later = {a.slug for a in articles if keys[a.slug] in self.cache.later}
        parts = {a.slug: self.cache.part(keys[a.slug]) for a in articles if a.slug not in later}
        missing = [a for a in articles if a.slug not in later and parts[a.slug] is None]

        def lay_out(article: Article) -> None:
            self._lay_out_alone(article, starts[article.slug], keys[article.slug], "final")
            self._write_part(keys[article.slug])

        def part_of(article: Article) -> bytes | Callable[[], bytes]:
            if article.slug in later:
                return partial(self._part_when_written, article, starts[article.slug], keys[article.slug])
            return parts[article.slug] or self.cache.new_parts[keys[article.slug]]

        self.in_parallel(lay_out, missing, stage="final")
        self.cache.printed = set(keys.values())
        return [(self.cache.get(keys[a.slug]), part_of(a)) for a in articles]

    def _part_when_written(self, article: Article, start: int, key: str) -> bytes:
        """A part being written, once it is: laid out and written here where none came."""
        part = self.cache.part(key)
        if part is None:
            self._lay_out_alone(article, start, key, "final")
            self._write_part(key)
            part = self.cache.new_parts[key]
        return part


class _FillingBeside:
    """Filling's work that needs nothing of copyfitting, done beside it (`_fit`) by `filling`
    (None: nothing)."""

    def __init__(self, filling: Filling | None):
        self.filling = filling

    def loosens(self, article: Article) -> bool:
        """Whether filling loosens `article` (it is not cut for a continuation)."""
        return self.filling is not None and article.slug in self.filling.available \
            and article.entry.continued_on is None

    def items(self, articles: list[Article], fitting: set[str]) -> list[_Ahead]:
        """The articles copyfitting leaves alone, `fitting` the ones it sets; the fillers measured."""
        if self.filling is None:
            return []
        items = [_Ahead(a) for a in articles if a.slug in self.filling.available and a.slug not in fitting]
        return items + [_Ahead(None)] if self.filling.pool.free else items

    def do(self, item: _Ahead) -> None:
        """The article loosened (and kept when it needs no fillers), or the fillers measured."""
        if item.base is None:
            self.filling.measure_fillers(self.filling.pool.free)
        else:
            self.filling.settle_and_keep(item.base)


@dataclass(frozen=True)
class _Ahead:
    """Filling's work done while copyfitting runs (`_fit`): an article loosened (`base`, as
    filling's needs name theirs), or with None the fillers of the pool measured."""

    base: Article | None


class _LayoutNeeded(BaseException):
    """Work tried on the cache alone (`_Planner._from_cache`) needs a layout; a BaseException, so
    no handler for errors in the work takes it for one."""


_LAYOUT_NEEDED = object()


def _articles_of(item) -> list[Article]:
    """The articles a piece of work sets: an article, a group of them, pairs of them, filling's
    need of one (with the fillers chosen)."""
    item = getattr(item, "base", item)
    if isinstance(item, Article):
        return [item]
    if isinstance(item, (list, tuple)):
        return [article for part in item for article in _articles_of(part)]
    return []


def _shown(items: list) -> str:
    """Pieces of work as the progress line shows them: the article each sets (the first of a
    group), by file and title when there is one, by file when there are several."""
    articles = [found[0] for item in items if (found := _articles_of(item))]
    if len(articles) == 1:
        return f"{articles[0].slug} {articles[0].title}"
    return ", ".join(article.slug for article in articles)


# (planner, work, items) while worker processes are forked: they inherit it, so nothing is pickled on the way in
_forked_work: tuple | None = None


def _start_worker(inherited_font_folders: frozenset[str]) -> None:
    silence()
    multiprocessing.util.Finalize(None, remove_font_folders, args=(inherited_font_folders,), exitpriority=0)


def _work_in_worker(index: int):
    """In a worker: one item's work, with the trials it laid out or looked up."""
    planner, work, items = _forked_work
    before = _Known.of(planner)
    take_notices()  # the parent's, inherited: it has them
    result = planner._release(work(items[index]))
    return (result, *before.since(planner))


@dataclass
class _Known:
    """What a planner knew when a process was forked from it, to send back what that process
    learned since (`_Planner._take`)."""

    trials: set[str]
    parts: set[str]
    used: set[str]
    anew: set[str]

    @classmethod
    def of(cls, planner: _Planner) -> _Known:
        return cls(set(planner.cache.new), set(planner.cache.new_parts), set(planner.cache.used),
                   set(planner.planned_anew))

    def since(self, planner: _Planner) -> tuple:
        """(trials, parts, used, anew, notices) learned since."""
        parts = {key: part for key, part in planner.cache.new_parts.items() if key not in self.parts}
        trials = {key: trial for key, trial in planner.cache.new.items() if key not in self.trials or key in parts}
        return trials, parts, planner.cache.used - self.used, planner.planned_anew - self.anew, take_notices()


def _part_or_none(step: Callable[[], bytes]) -> bytes | None:
    """A part a child process writes, or None where it gave none (planning lays it out again)."""
    try:
        return step()
    except ChildProcessError:
        return None


def _measure_all(articles: list[Article], laid_out: dict[str, Trial], plan: _Plan, needed: dict[str, int]):
    """Each article's fit, its kept pages placed in the plan's slots (numbered in the order kept)."""
    kept = 0
    fits: list[ArticleFit] = []
    for article in articles:
        start, _pages = plan.articles[article.slug]
        fit = measure(article, laid_out[article.slug], needed[article.slug], start)
        for offset in range(fit.pages_kept):
            slot = next(s for s in plan.slots if s.folio == start + offset and s.kind == "article")
            slot.page = kept
            kept += 1
        if fit.planned:
            fit.blank_folios = [s.folio for s in plan.slots if s.kind == "underfill" and s.folio in fit.planned]
            fit.underfill_lines += len(fit.blank_folios) * fit.lines_per_page
        fits.append(fit)
    return fits


def _measure_continuations(laid_out: dict[str, Trial], fits: list[ArticleFit]) -> None:
    """Where each continuation was set, and how long it is."""
    by_slug = {fit.article.slug: fit for fit in fits}
    for fit in fits:
        for continuation in fit.article.continued_here:
            pages = laid_out[fit.article.slug].continued.get(continuation.source.slug, [])[: fit.pages_kept]
            by_slug[continuation.source.slug].continuation = {
                "page": continuation.page, "lines": sum(lines for lines, _chars in pages),
                "chars": sum(chars for _lines, chars in pages)}


def _fit(articles: list[Article], plan: _Plan, needed: dict[str, int], ranges: Ranges, laid_out_alone,
         first: dict[str, Trial], run, keep, ahead: Filling | None = None) -> tuple[list[Article], list[str]]:
    """Continuations and copyfitting: the articles as they are to be laid out, and those changed.

    An article with `continued_on` whose text overran its pages is cut where its last planned
    page ends, the rest set after the article planned on the continuation page (the host).
    When the host cannot take it, both are tightened together, step by step, which moves more
    of the text onto the source's pages. Any other article that overruns its pages is tightened
    until it fits. Sources and hosts that share an article are fitted one after the other, the
    rest each on its own (`run` maps the work over them, on the worker processes; `keep` is
    told of the settings chosen). `needed` is updated to the pages each article then takes.
    `ahead` loosens the articles meanwhile, on the same processes: those none of this changes
    (`_Ahead`), and those it changes, but cuts none, after it; and it measures the fillers (what
    filling will lay out first, kept in the cache).
    """
    by_slug = {a.slug: a for a in articles}
    groups = _continuation_groups(articles, plan, needed)
    in_groups = {article.slug for group in groups for pair in group for article in pair}
    beside = _FillingBeside(ahead)

    def keep_fitted(article: Article) -> None:
        # what `ahead` settles right after the search is kept there, as it will be printed (a host
        # filling loosens would have one part written for nothing)
        if not beside.loosens(article):
            keep(article)

    def overruns(article: Article) -> bool:
        return bool(article.entry.pages and ranges and needed[article.slug] > _available(article, plan))

    def tighten(article: Article) -> dict[str, tuple[Article, int]]:
        return _tightened(article, _available(article, plan), needed[article.slug], ranges, laid_out_alone,
                          first[article.slug], keep_fitted)

    def continue_group(group: list[tuple[Article, Article]]) -> dict[str, tuple[Article, int]]:
        fitted = _fit_continuations(group, dict(by_slug), plan, dict(needed), ranges, laid_out_alone, first,
                                    keep_fitted)
        for source, host in group:  # a continuation that could not be set: each tightened alone
            for article in (source, host):
                if article.slug not in fitted and overruns(article):
                    fitted.update(tighten(article))
        return fitted

    items = [*groups, *(a for a in articles if a.slug not in in_groups and overruns(a))]

    def work(item) -> dict[str, tuple[Article, int]]:
        if isinstance(item, _Ahead):
            beside.do(item)
            return {}
        fitted = continue_group(item) if isinstance(item, list) else tighten(item)
        for article, _pages in fitted.values():  # a host, or an article tightened too far
            if beside.loosens(article):
                beside.do(_Ahead(article))
        return fitted

    changed: list[str] = []
    for fitted in run(work, items + beside.items(articles, {a.slug for a in _articles_of(items)})):
        for slug, (article, pages) in fitted.items():
            by_slug[slug], needed[slug] = article, pages
            changed.append(slug)
    return [by_slug[a.slug] for a in articles], changed


def _tightened(article: Article, available: int, needed: int, ranges: Ranges, laid_out_alone, first: Trial,
               keep) -> dict[str, tuple[Article, int]]:
    """The article tightened until it fits its `available` pages (laid out as `first` as it
    stands), with the pages it then takes; as it stands, taking `needed` pages, if nothing fits."""
    candidates = tightening(narrow(ranges, article.fit_limits), bool(article.figures))

    def attempt(setting):
        tried = replace(article, fit=setting)
        laid_out = laid_out_alone(tried)
        return laid_out.pages <= available, laid_out.beyond(available), (tried, laid_out.pages)

    chosen = _first_fitting(candidates, attempt, _estimate(candidates, first, article.fit, available))
    if chosen is None:
        return {article.slug: (article, needed)}
    keep(chosen[0])
    return {article.slug: chosen}


def _available(article: Article, plan: _Plan) -> int:
    """Pages from where the article starts to its last planned page."""
    return article.entry.pages.last - plan.articles[article.slug][0] + 1


def _continuation_groups(articles: list[Article], plan: _Plan, needed: dict[str, int]) -> list[list[tuple]]:
    """(source, host) of each article with `continued_on` that overruns its pages, in reading
    order, grouped where they share an article (a host taking two continuations, a host that is
    a source too): a group is fitted in order, the groups each on its own."""
    by_page = {folio: a for a in articles if a.entry.pages
               for folio in range(a.entry.pages.first, a.entry.pages.last + 1)}
    groups: list[list[tuple]] = []
    for article in articles:
        host = by_page.get(article.entry.continued_on)
        if host is None or needed[article.slug] <= plan.articles[article.slug][1]:
            continue
        joined = [g for g in groups if {article.slug, host.slug} & {a.slug for pair in g for a in pair}]
        merged = [pair for g in joined for pair in g] + [(article, host)]
        groups = [g for g in groups if g not in joined] + [sorted(merged, key=lambda pair: articles.index(pair[0]))]
    return sorted(groups, key=lambda g: articles.index(g[0][0]))


def _fit_continuations(group: list[tuple[Article, Article]], by_slug: dict[str, Article], plan: _Plan,
                       needed: dict[str, int], ranges: Ranges, laid_out_alone, first: dict[str, Trial],
                       keep) -> dict[str, tuple[Article, int]]:
    """Each source of `group` cut and its rest set after its host, both tightened together until
    the host takes it: what changed, slug -> (article, pages it takes)."""
    fitted: dict[str, tuple[Article, int]] = {}
    for source_entry, host_entry in group:
        target = source_entry.entry.continued_on
        start, kept = plan.articles[source_entry.slug]
        source, host = by_slug[source_entry.slug], by_slug[host_entry.slug]
        limits = narrow(narrow(ranges, source.fit_limits), host.fit_limits)

        available = _available(host, plan)

        def attempt(setting, source=source, host=host, start=start, kept=kept, target=target, available=available):
            trial_source = replace(source, fit=setting) if setting else source
            # only the lines on the pages it keeps count: the rest is laid out after the host's text
            source_trial = first[source.slug] if setting is None else laid_out_alone(trial_source, kept)
            result = split_article(trial_source, source_trial.lines_on(kept), target, start + kept - 1)
            if result is None:
                return False, None, None
            shortened, continuation = result
            trial_host = replace(host, continued_here=[*host.continued_here, continuation],
                                 fit=setting if setting else host.fit)
            host_trial = laid_out_alone(trial_host)
            return host_trial.pages <= available, host_trial.beyond(available), (shortened, trial_host, host_trial.pages)

        candidates = [None, *tightening(limits, False)] if ranges else [None]
        estimate = _continuation_estimate(candidates, (source, first[source.slug], kept),
                                          (host, first[host.slug], available))
        chosen = _first_fitting(candidates, attempt, estimate)
        if chosen is None:
            continue
        by_slug[source.slug], by_slug[host.slug], needed[host.slug] = chosen
        keep(by_slug[host.slug])  # laid out by the attempt
        keep(by_slug[source.slug])  # the source, cut, laid out here beside the other work, not after it
        needed[source.slug] = kept
        fitted[source.slug] = (by_slug[source.slug], kept)
        fitted[host.slug] = (by_slug[host.slug], needed[host.slug])
    return fitted


def _first_fitting(candidates: list, attempt, estimate):
    """The payload of the first candidate that fits, the candidates running from the smallest
    change to the largest, or of one the model guessed and a layout confirmed; the tightest
    one's when none fits. `attempt(candidate)` lays it out: (whether it fits, its lines a column
    beyond the foot (None when it cannot be set), its payload).

    The first candidate `estimate(index)` (the lines beyond the foot `relative_length` predicts)
    says fits is laid out first, and taken when it fits and ends within `CLOSE_ENOUGH` lines of
    the foot: one layout where the guess is right, and the page within a line of full (it may be
    a step tighter than the first that fits). Otherwise the search settles exactly what trying
    the candidates in order would: each is at least as tight as the one before it, so what fits
    is a suffix of the list, and the probes go where the model, corrected by what each probe
    measured, puts the boundary (`first_reaching`); it bisects from there.
    """
    if not candidates:
        return None
    tried: dict[int, tuple[bool, object]] = {}
    measured: dict[int, float] = {}

    def fits(index: int) -> bool:
        if index not in tried:
            fitting, beyond, payload = attempt(candidates[index])
            if beyond is not None:
                measured[index] = beyond
            tried[index] = (fitting, payload)
        return tried[index][0]

    guess = next((index for index in range(len(candidates)) if estimate(index) <= 0), None)
    if guess is not None and fits(guess) and (guess == 0 or measured.get(guess, float("-inf")) >= -CLOSE_ENOUGH):
        return tried[guess][1]
    first = first_reaching(fits, -1, len(candidates), model_guess(estimate, lambda beyond: beyond <= 0, measured))
    return tried[min(first, len(candidates) - 1)][1]  # none fits: the tightest's


def _estimate(candidates: list, laid_out: Trial, current, available: int):
    """Lines a column the article, laid out as `laid_out` with the setting `current`, would set
    beyond the foot of its `available` pages with each of `candidates` (settings): its text as
    `relative_length` has it, its photos as `_photo_lines`."""
    text = _length(laid_out, available) - _photo_lines(laid_out, current, current)
    capacity = available * laid_out.page_lines
    return lambda index: text * relative_length(candidates[index]) / relative_length(current) \
        + _photo_lines(laid_out, current, candidates[index]) - capacity


def _photo_lines(laid_out: Trial, measured_with: Setting | None, setting: Setting | None) -> float:
    """Body lines a column the photos of `laid_out` (laid out with `measured_with`) take with
    `setting`: photo_scale scales a photo's max-height, so a photo shorter than its max-height
    shrinks only once the scaled max-height is below it (one across the columns takes its height
    from each; one in a column, from that one)."""
    measured, wanted = (measured_with or Setting()).photo_scale, (setting or Setting()).photo_scale
    total = 0.0
    for height, cap, share in laid_out.photos:
        natural = height if height < cap - 0.5 else math.inf  # held at its max-height: at least that
        total += min(natural, cap / measured * wanted) * share
    return total / laid_out.pitch


def _continuation_estimate(candidates: list, source: tuple[Article, Trial, int], host: tuple[Article, Trial, int]):
    """Lines a column the host (article, layout, pages available) would set beyond the foot of
    its pages with each of `candidates` (settings of both, None: each as it is), taking what the
    source (article, layout, pages kept) sets beyond its pages, as `relative_length` has it."""
    (source_article, source_trial, kept), (host_article, host_trial, available) = source, host

    def ratio(article: Article, setting) -> float:
        return relative_length(setting or article.fit) / relative_length(article.fit)

    def estimate(index: int) -> float:
        setting = candidates[index]
        beyond = _length(source_trial, kept) * ratio(source_article, setting) - kept * source_trial.page_lines
        return _length(host_trial, available) * ratio(host_article, setting) + max(0.0, beyond) \
            - available * host_trial.page_lines
    return estimate


def _length(laid_out: Trial, available: int) -> float:
    """How long an article laid out as `laid_out` is, in body lines a column, `available` pages
    being planned for it."""
    return available * laid_out.page_lines + laid_out.beyond(available)


@dataclass
class _Plan:
    slots: list[Slot]
    articles: dict[str, tuple[int, int]]  # slug -> (first folio, pages kept)


def _plan(manifest: Manifest, articles: list[Article], needed: dict[str, int]) -> _Plan:
    """The body's pages in folio order: the contents pages, each article from its planned folio
    on as many pages as its text needs within its range, blank pages where the plan has no text."""
    contents = manifest.contents_pages
    slots: list[Slot] = []
    placed: dict[str, tuple[int, int]] = {}
    folio = 1

    def blank(kind: str, first: int, last: int) -> None:
        slots.extend(Slot(f, kind) for f in range(first, last + 1))

    def place_contents() -> None:
        nonlocal folio, contents
        blank("unplanned", folio, contents.first - 1)
        start = max(folio, contents.first)
        blank("reserved", start, start + contents.count - 1)
        folio = start + contents.count
        contents = None

    if contents and not any(a.entry.pages and a.entry.pages.first > contents.last for a in articles):
        place_contents()
    for article in articles:
        planned = article.entry.pages
        if contents and planned and planned.first > contents.last:
            place_contents()
        if planned:
            blank("unplanned", folio, planned.first - 1)
            start = max(folio, planned.first)
            available = max(planned.last - start + 1, 1)
            kept = min(needed[article.slug], available)
            blank("article", start, start + kept - 1)
            blank("underfill", start + kept, start + available - 1)
            folio = start + available
        else:
            start, kept = folio, needed[article.slug]
            blank("article", start, start + kept - 1)
            folio += kept
        placed[article.slug] = (start, kept)
    if contents:
        place_contents()
    return _Plan(slots, placed)


