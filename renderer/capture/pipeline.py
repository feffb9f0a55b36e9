"""The capture pipeline: real terminal pixels paired with our symbolic screens, as a dataset.

    capture_dataset(CaptureConfig(terminal="xterm", out=DIR))

1. start Xvfb and the terminal (`TerminalSession`) at the reference size;
2. calibrate: measure the cell grid, learn the terminal's glyph templates, measure its colours, and
   tune our rasterizer's font to it (all recorded in DIR/manifest.json and DIR/templates.npz);
3. for each selected item (round-robin over sources, so a small --screens still covers every
   kind): show its bytes, wait until drawn, grab the window, crop the cell grid, feed the *same*
   bytes to the emulator for the symbolic screen, and check the pair (`PairChecker`);
4. write kept pairs to DIR/items/ and discarded ones to DIR/rejected/ (with the reason), one
   PNG + JSON each, so an interrupted run resumes where it stopped (`resume=True`);
5. build the Hugging Face dataset DIR/dataset (train/test DatasetDict) and DIR/summary.json.

The symbolic side is `terminal.screen_from_bytes` unless another emulator
(`(bytes, cols, rows) -> ScreenState`) is given, e.g. to compare emulators.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image

from terminal import ScreenState, screen_from_bytes

from ..ocr import BASE_CHARS, CellOCR
from .calibrate import (
    ColourFacts,
    Grid,
    TemplateAtlas,
    calibration_entries,
    checker_bytes,
    glyph_sheets,
    learn_templates,
    load_templates,
    measure_grid,
    measure_theme,
    save_templates,
    swatch_bytes,
)
from .pairing import PairCheck, PairChecker
from .sources import Item, Source, all_sources, unicode_chars
from .terminals import TerminalName, TerminalProfile, TerminalSession
from .tune import raster_for, spec_from_json, tune_font
from .xserver import CaptureError, VirtualDisplay

Emulator = Callable[[bytes, int, int], ScreenState]
Sample = tuple[np.ndarray, ScreenState]  # (capture crop, symbolic screen)
MANIFEST_VERSION = 1
REF_COLS, REF_ROWS = 80, 24


@dataclass(frozen=True)
class CaptureConfig:
    """What to capture and where.

    Args:
        terminal: "xterm" or "urxvt".
        out: the dataset folder.
        screens: at most this many items (None: every item of every source).
        resume: continue a capture already in `out` (otherwise `out` must be new or empty).
        split: capture only the "train" or "test" sources, or "all".
        shared_data: ../shared/data (casts, conformance suites); None: generated and recorded
            sources only.
        profile: font/size/theme overrides (default: the terminal's standard profile).
        tune_sizes: coarse font sizes for tuning our rasterizer (None: 10 to 16 px by 0.5).
        tune_fine: refine the best size in eighth pixels (off only to save time in tests).
    """

    terminal: TerminalName = "xterm"
    out: Path = Path("captures")
    screens: int | None = None
    resume: bool = False
    split: Literal["all", "train", "test"] = "all"
    shared_data: Path | None = None
    profile: TerminalProfile | None = None
    tune_sizes: tuple[float, ...] | None = None
    tune_fine: bool = True

    def terminal_profile(self) -> TerminalProfile:
        return self.profile or TerminalProfile(name=self.terminal)


@dataclass
class CaptureSummary:
    """Counts of one run (and of the whole folder after it)."""

    captured: int = 0
    skipped: int = 0
    kept: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    total_kept: dict[str, int] = field(default_factory=dict)
    total_rejected: dict[str, int] = field(default_factory=dict)
    tune_psnr: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"this_run": {"captured": self.captured, "skipped_done": self.skipped,
                             "kept": self.kept, "rejected": dict(self.rejected)},
                "folder": {"kept": self.total_kept, "rejected": self.total_rejected},
                "raster_tune_psnr": round(self.tune_psnr, 3)}


# -- the folder ----------------------------------------------------------------------------------
class CaptureStore:
    """DIR's layout: manifest.json, templates.npz, items/ (kept), rejected/, dataset/."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.items = self.root / "items"
        self.rejected = self.root / "rejected"
        self.manifest_path = self.root / "manifest.json"
        self.templates_path = self.root / "templates.npz"
        self.sources_path = self.root / "sources.json"

    def prepare(self, resume: bool) -> dict[str, Any] | None:
        """Create the folder, or check it may be resumed; returns the old manifest if any."""
        if self.manifest_path.exists():
            if not resume:
                raise CaptureError(f"{self.root} already holds a capture: pass --resume to "
                                   "continue it, or choose another --out")
            return json.loads(self.manifest_path.read_text())
        if self.root.exists() and any(self.root.iterdir()):
            raise CaptureError(f"{self.root} is not empty and holds no capture manifest")
        self.items.mkdir(parents=True, exist_ok=True)
        self.rejected.mkdir(parents=True, exist_ok=True)
        return None

    def done(self, item_id: str) -> bool:
        return (self.items / f"{item_id}.json").exists() or (
            self.rejected / f"{item_id}.json").exists()

    def write(self, record: dict[str, Any], crop: np.ndarray, kept: bool) -> None:
        """PNG first, JSON last: an item counts as done only once both are complete."""
        folder = self.items if kept else self.rejected
        png = folder / f"{record['id']}.png"
        Image.fromarray(crop).save(png.with_suffix(".png.tmp"), format="PNG")
        png.with_suffix(".png.tmp").replace(png)
        tmp = folder / f"{record['id']}.json.tmp"
        tmp.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(folder / f"{record['id']}.json")

    def source_counts(self) -> dict[str, int]:
        if self.sources_path.exists():
            return json.loads(self.sources_path.read_text())
        return {}

    def save_source_counts(self, counts: dict[str, int]) -> None:
        self.sources_path.write_text(json.dumps(counts, indent=1, sort_keys=True) + "\n")

    def records(self, kept: bool = True) -> list[dict[str, Any]]:
        folder = self.items if kept else self.rejected
        return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]


# -- selecting items ---------------------------------------------------------------------------
def _category_order(sources: list[Source]) -> list[Source]:
    """Interleave categories (1st cast, 1st suite, 1st session, ..., 2nd cast, ...)."""
    by_cat: dict[str, list[Source]] = {}
    for s in sources:
        by_cat.setdefault(s.category, []).append(s)
    out: list[Source] = []
    depth = max((len(v) for v in by_cat.values()), default=0)
    for i in range(depth):
        out += [v[i] for v in by_cat.values() if i < len(v)]
    return out


def select_items(sources: list[Source], limit: int | None, split: str, store: CaptureStore,
                 counts: dict[str, int]) -> Iterator[Item | str]:
    """Round-robin over sources, up to `limit` items; yields an Item to capture or the id of
    an item already done. A source whose items are all done is not run again."""
    active = [s for s in _category_order(sources) if split in ("all", s.split)]
    gens: dict[str, Iterator[Item] | None] = {}
    taken = 0
    k = 0
    while active and (limit is None or taken < limit):
        still = []
        for src in active:
            if limit is not None and taken >= limit:
                break
            known = counts.get(src.name)
            if known is not None and k >= known:
                continue
            probe = Item(src.name, k, b"", 0, 0, src.split, src.category)
            if known is not None and all(
                    store.done(Item(src.name, j, b"", 0, 0, "", "").id) for j in range(known)):
                taken += 1
                still.append(src)
                yield probe.id
                continue
            gen = gens.get(src.name)
            if src.name not in gens:
                gen = gens[src.name] = src.items()
            item = next(gen, None) if gen is not None else None
            if item is None:
                counts[src.name] = k
                gens[src.name] = None
                continue
            taken += 1
            still.append(src)
            yield item.id if store.done(item.id) else item
        active = still
        k += 1


# -- the run -----------------------------------------------------------------------------------
class Capturer:
    """Holds the display, the calibration and the checker for one terminal during a run."""

    def __init__(self, config: CaptureConfig, emulator: Emulator, store: CaptureStore) -> None:
        self.config, self.emulator, self.store = config, emulator, store
        self.profile = config.terminal_profile()
        self.display = VirtualDisplay()
        self.grids: dict[tuple[int, int], Grid] = {}
        self.manifest: dict[str, Any] = {}
        self.checker: PairChecker | None = None
        self.session: TerminalSession | None = None
        self.entries = calibration_entries([c for c in BASE_CHARS if c > "\x7f"]
                                           + unicode_chars())

    # 1. sessions and grids
    def open(self, cols: int, rows: int) -> TerminalSession:
        """A running terminal of this size with a measured grid (reuses the current one)."""
        s = self.session
        if s is not None and s.alive and (s.cols, s.rows) == (cols, rows):
            return s
        self.close_session()
        s = TerminalSession(self.display, self.profile, cols, rows)
        s.start()
        self.session = s
        s.show(checker_bytes(cols, rows))
        image, _ = s.grab()
        grid = measure_grid(image, cols, rows, self.profile_theme())
        ref = self.manifest.get("cell")
        if ref and [grid.cell_w, grid.cell_h] != ref:
            raise CaptureError(f"{self.profile.name} now draws {grid.cell_w}x{grid.cell_h} cells, "
                               f"the capture in {self.store.root} used {ref[0]}x{ref[1]}")
        self.grids[(cols, rows)] = grid
        self._warm_up(s, cols, rows)
        return s

    def _warm_up(self, session: TerminalSession, cols: int, rows: int) -> None:
        """Draw every calibration glyph once. xterm's fallback-font lookups change how it draws
        some characters afterwards (a private-use glyph is a box in a fresh xterm, nothing once
        the emoji fonts are loaded), so every session is brought to the same warm state before
        anything is captured or learned."""
        for data, _ in glyph_sheets(self.entries, cols, rows):
            session.show(data)

    def close_session(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None

    def profile_theme(self):  # noqa: ANN201 - a Theme
        from terminal.themes import get_theme

        return get_theme(self.profile.theme)

    # 2. calibration
    def calibrate(self, old: dict[str, Any] | None) -> None:
        """Measure (or, when resuming, reload) grid, templates, colours and the tuned font."""
        session = self.open(REF_COLS, REF_ROWS)
        grid = self.grids[(REF_COLS, REF_ROWS)]
        if old is not None:
            if old.get("profile") != self.profile.key():
                raise CaptureError(f"{self.store.root} was captured with other settings "
                                   f"({old.get('profile')}); choose another --out")
            self.manifest = old
            if [grid.cell_w, grid.cell_h] != old["cell"]:
                raise CaptureError(f"{self.profile.name} now draws {grid.cell_w}x{grid.cell_h} "
                                   f"cells, the capture used {old['cell'][0]}x{old['cell'][1]}")
            templates = load_templates(str(self.store.templates_path))
        else:
            t0 = time.monotonic()
            templates, samples = self._learn(session, grid)
            facts = self._colours(session, grid, samples)
            t1 = time.monotonic()
            sizes = list(self.config.tune_sizes) if self.config.tune_sizes else None
            tuned = tune_font(samples, facts.theme, grid.cell_w, grid.cell_h, sizes=sizes,
                              fine=self.config.tune_fine)
            self.manifest = {
                "version": MANIFEST_VERSION, "profile": self.profile.key(),
                "cell": [grid.cell_w, grid.cell_h], "grid": grid.to_json(),
                "colours": facts.to_json(), "raster": tuned.to_json(),
                "templates": len(templates),
                "seconds": {"calibrate": round(t1 - t0, 2),
                            "tune": round(time.monotonic() - t1, 2)},
            }
            save_templates(str(self.store.templates_path), templates)
            self.store.manifest_path.write_text(json.dumps(self.manifest, indent=1) + "\n")
        self.checker = make_checker(self.manifest, templates)

    def _learn(self, session: TerminalSession, grid: Grid
               ) -> tuple[dict[tuple[str, int, int], np.ndarray], list[Sample]]:
        theme = self.profile_theme()
        templates: dict[tuple[str, int, int], np.ndarray] = {}
        samples = []
        sheets = glyph_sheets(self.entries, grid.cols, grid.rows)
        for i, (data, placed) in enumerate(sheets):
            crop, screen, cursor, stable = self._show(session, grid, data)
            if not stable:
                raise CaptureError("calibration failed: the glyph sheet kept changing")
            templates.update(learn_templates(crop, grid, placed, theme))
            samples.append((crop, screen))
            self._record_calibration(f"sheet-{i:02d}", data, crop, screen, cursor)
        return templates, samples

    def _colours(self, session: TerminalSession, grid: Grid,
                 samples: list[tuple[np.ndarray, ScreenState]]) -> ColourFacts:
        data = swatch_bytes(grid.cols)
        crop, screen, cursor, _ = self._show(session, grid, data)
        samples.append((crop, screen))
        self._record_calibration("swatch", data, crop, screen, cursor)
        return measure_theme(crop, grid, f"{self.profile.name}-measured")

    def _record_calibration(self, name: str, data: bytes, crop: np.ndarray,
                            screen: ScreenState, cursor: tuple[int, int]) -> None:
        item = Item(f"calibration:{name}", 0, data, screen.cols, screen.rows, "train",
                    "calibration")
        record = self._record(item, screen, PairCheck(True, "", cursor_reported=cursor))
        self.store.write(record, crop, kept=True)

    def _show(self, session: TerminalSession, grid: Grid, data: bytes
              ) -> tuple[np.ndarray, ScreenState, tuple[int, int], bool]:
        cursor = session.show(data)
        image, stable = session.grab()
        return grid.crop(image), self.emulator(data, grid.cols, grid.rows), cursor, stable

    # 3. items
    def capture(self, item: Item) -> tuple[dict[str, Any], np.ndarray, bool]:
        """Show, grab, pair and check one item; a terminal that stops answering is restarted
        and the item is recorded as rejected ("sync")."""
        session = self.open(item.cols, item.rows)
        grid = self.grids[(item.cols, item.rows)]
        screen = self.emulator(item.data, item.cols, item.rows)
        try:
            crop, _, cursor, stable = self._show(session, grid, item.data)
        except CaptureError:
            self.close_session()
            h, w = grid.rows * grid.cell_h, grid.cols * grid.cell_w
            return (self._record(item, screen, PairCheck(False, "sync")),
                    np.zeros((h, w, 3), np.uint8), False)
        assert self.checker is not None
        check = self.checker.check(crop, screen, cursor, stable)
        return self._record(item, screen, check), crop, check.ok

    def _record(self, item: Item, screen: ScreenState, check: PairCheck) -> dict[str, Any]:
        return {"id": item.id, "source": item.source, "index": item.index,
                "category": item.category, "split": item.split, "terminal": self.profile.name,
                "cols": item.cols, "rows": item.rows, "bytes": len(item.data),
                "bytes_sha256": hashlib.sha256(item.data).hexdigest(),
                "screen": screen.to_json(), "check": check.to_json()}


def capture_dataset(config: CaptureConfig, emulator: Emulator = screen_from_bytes,
                    sources: list[Source] | None = None, progress: bool = True) -> CaptureSummary:
    """Run the whole pipeline (see the module docstring); returns the run's counts.

    Args:
        config: terminal, folder, limits.
        emulator: bytes -> symbolic screen (default `terminal.screen_from_bytes`).
        sources: what to show (default: `all_sources(config.shared_data)`).
        progress: draw tqdm progress bars on stderr.
    """
    from tqdm import tqdm

    store = CaptureStore(config.out)
    old = store.prepare(config.resume)
    if sources is None:
        sources = all_sources(config.shared_data)
    summary = CaptureSummary()
    capturer = Capturer(config, emulator, store)
    capturer.display.start()
    try:
        capturer.calibrate(old)
        counts = store.source_counts()
        todo: list[Item] = []
        picker = select_items(sources, config.screens, config.split, store, counts)
        for entry in tqdm(picker, desc="preparing", unit="item", disable=not progress,
                          total=config.screens):
            if isinstance(entry, str):
                summary.skipped += 1
            else:
                todo.append(entry)
        store.save_source_counts(counts)
        # capture grouped by terminal size: a size change restarts the terminal
        todo.sort(key=lambda it: ((it.cols, it.rows) != (REF_COLS, REF_ROWS), it.cols, it.rows))
        for item in tqdm(todo, desc=f"capturing {config.terminal}", unit="screen",
                         disable=not progress):
            record, crop, kept = capturer.capture(item)
            store.write(record, crop, kept)
            summary.captured += 1
            if kept:
                summary.kept += 1
            else:
                summary.rejected[record["check"]["reason"]] += 1
    finally:
        capturer.close_session()
        capturer.display.stop()
    summary.tune_psnr = float(capturer.manifest.get("raster", {}).get("psnr", 0.0))
    build_dataset(store)
    kept_records = store.records(True)
    rejected_records = store.records(False)
    summary.total_kept = dict(Counter(r["split"] for r in kept_records))
    summary.total_rejected = dict(Counter(r["check"]["reason"] for r in rejected_records))
    (store.root / "summary.json").write_text(json.dumps(summary.to_json(), indent=1) + "\n")
    return summary


def make_checker(manifest: dict[str, Any],
                 templates: dict[tuple[str, int, int], np.ndarray]) -> PairChecker:
    """The pair checker of a capture: OCR on the terminal's glyph templates, colours from its
    measured theme, our tuned font for glyphs it has no template for."""
    facts = ColourFacts.from_json(manifest["colours"], f"{manifest['profile']['terminal']}-measured")
    spec = spec_from_json(manifest["raster"]["font"])
    atlas = TemplateAtlas(spec, templates)
    raster = raster_for(spec, facts.theme)
    raster.atlas = atlas  # judge colours with the terminal's own glyph masks
    return PairChecker(CellOCR(atlas), raster)


def checker_from_folder(root: Path) -> PairChecker:
    """`make_checker` for a capture folder (manifest.json + templates.npz)."""
    store = CaptureStore(root)
    if not store.manifest_path.exists():
        raise CaptureError(f"{root} holds no capture (manifest.json is missing)")
    return make_checker(json.loads(store.manifest_path.read_text()),
                        load_templates(str(store.templates_path)))


# -- the dataset -------------------------------------------------------------------------------
def build_dataset(store: CaptureStore) -> Path:
    """DIR/dataset: a DatasetDict with "train" and "test" (whichever have rows) whose rows are
    id, image (the capture's cell grid), screen (SCREEN.json text), source, category, split,
    terminal, cols, rows. Rebuilt from items/ each time, so it is the same for the same items."""
    from datasets import Dataset, DatasetDict, Features, Value
    from datasets import Image as HFImage

    features = Features({
        "id": Value("string"), "image": HFImage(), "screen": Value("string"),
        "source": Value("string"), "category": Value("string"), "split": Value("string"),
        "terminal": Value("string"), "cols": Value("int32"), "rows": Value("int32"),
    })
    by_split: dict[str, dict[str, list[Any]]] = {}
    for rec in store.records(True):
        cols = by_split.setdefault(rec["split"], {k: [] for k in features})
        png = (store.items / f"{rec['id']}.png").read_bytes()
        cols["id"].append(rec["id"])
        cols["image"].append({"bytes": png, "path": None})
        cols["screen"].append(json.dumps(rec["screen"], ensure_ascii=False))
        for k in ("source", "category", "split", "terminal", "cols", "rows"):
            cols[k].append(rec[k])
    out = store.root / "dataset"
    tmp = store.root / "dataset.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    dd = DatasetDict({name: Dataset.from_dict(cols, features=features)
                      for name, cols in sorted(by_split.items())})
    dd.save_to_disk(str(tmp))
    if out.exists():
        shutil.rmtree(out)
    tmp.replace(out)
    return out


def load_pairs(root: Path, split: str | None = "test",
               categories: Iterable[str] | None = None
               ) -> list[tuple[np.ndarray, ScreenState, dict[str, Any]]]:
    """Kept pairs of a capture folder as (crop, screen, record), optionally one split only."""
    store = CaptureStore(root)
    if not store.items.is_dir():
        raise CaptureError(f"{root} holds no captures (items/ is missing)")
    cats = set(categories) if categories is not None else None
    out = []
    for rec in store.records(True):
        if (split is None or rec["split"] == split) and (cats is None or rec["category"] in cats):
            img = np.asarray(Image.open(io.BytesIO((store.items / f"{rec['id']}.png").read_bytes()))
                             .convert("RGB"))
            out.append((img, ScreenState.from_json(rec["screen"]), rec))
    return out
