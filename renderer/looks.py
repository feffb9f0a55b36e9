"""Renderer "looks": the neural renderer trained to draw like one real terminal, and the "neural"
registry factory that picks between the plain neural renderer and a look.

A look is a checkpoint folder (renderer/checkpoints/<name>/) holding, beside the CellDiT weights,
what a capture of that terminal measured (renderer/capture): `look.json` (cell size, the colours
it showed, our rasterizer's best-matching font) and `templates.npz` (its own glyph masks, learned
from the calibration glyph sheets). The look's caption tokens are built from those masks and
colours, so a cell is specified by how *that* terminal shapes the glyph; the model draws the real
terminal's pixels: with `x0_base = "templates"` it predicts a correction over the template
composite (bg + mask * (fg - bg)), learning what a lookup gets wrong - glyphs spilling into their
neighbours, the cursor, colours, wide glyphs.

    renderer = create_look("xterm")                          # or registry.create("neural", look="xterm")
    renderer = create()                                      # the shipped checkpoint, no look
    hybrid-nc render --renderer neural --look xterm --screen s.json --out f.png
    Session(renderer="neural", renderer_options={"look": "xterm"})
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from terminal.themes import Theme

from .fonts import FontSpec
from .neural import DEFAULT_CHECKPOINT, CellCaption, CheckpointError, NeuralRenderer, load_model
from .palette import PaletteConfig
from .raster import RasterConfig, RasterRenderer

CHECKPOINTS = Path(__file__).resolve().parent / "checkpoints"
LOOK_FILE = "look.json"
TEMPLATES_FILE = "templates.npz"
X0_BASES = ("none", "templates")
# A look's model corrects its terminal's glyph lookup, which is pixel-exact on plain text: on
# held-out xterm captures its corrections under 16 levels were noise (plain text, colour and box
# drawing all at least as close to xterm with them dropped, benchmarks/results/palette.md), and
# snapping to the lookup is safe even for nearly equal colours.
LOOK_PALETTE = PaletteConfig(anchor="glyph", snap=16.0, min_contrast=0.0)


class LookError(CheckpointError):
    """An unknown look name, or a look folder that is incomplete or asked for what it cannot do."""


def available_looks() -> list[str]:
    """Names of the looks shipped in renderer/checkpoints/ (folders with a look.json)."""
    return sorted(p.parent.name for p in CHECKPOINTS.glob(f"*/{LOOK_FILE}"))


def look_path(look: str | Path) -> Path:
    """A look's folder: a shipped look's name, or a path to a folder holding a look.json."""
    path = Path(look)
    if (path / LOOK_FILE).is_file():
        return path
    if "/" not in str(look) and (CHECKPOINTS / str(look) / LOOK_FILE).is_file():
        return CHECKPOINTS / str(look)
    names = ", ".join(available_looks()) or "none shipped"
    raise LookError(f"unknown look {str(look)!r} (available: {names})")


@dataclass(frozen=True)
class Look:
    """What a capture measured about one terminal, enough to caption and judge its frames.

    name: the look's name (the terminal's); theme: the colours the terminal showed; font: our
    rasterizer's font tuned to it (its cell size is the terminal's); templates: (text, style,
    half) -> the terminal's own alpha mask; x0_base: "templates" when the model predicts a
    correction over the template composite, "none" when it predicts pixels outright;
    base_theme: the theme name the terminal was configured with (the only one the look draws).
    """

    name: str
    theme: Theme
    font: FontSpec
    templates: dict[tuple[str, int, int], np.ndarray]
    x0_base: str = "templates"
    base_theme: str = "dark"
    source: dict[str, Any] | None = None

    @classmethod
    def from_capture(cls, folder: str | Path, x0_base: str = "templates") -> Look:
        """The look of a capture folder made by `hybrid-nc capture` (manifest + templates)."""
        from .capture.calibrate import ColourFacts, load_templates
        from .capture.tune import spec_from_json

        folder = Path(folder)
        try:
            manifest = json.loads((folder / "manifest.json").read_text())
            templates = load_templates(str(folder / TEMPLATES_FILE))
        except (OSError, ValueError, KeyError) as e:
            raise LookError(f"{folder} is not a finished capture folder: {e}") from None
        profile = manifest["profile"]
        facts = ColourFacts.from_json(manifest["colours"], f"{profile['terminal']}-measured")
        return cls(profile["terminal"], facts.theme, spec_from_json(manifest["raster"]["font"]),
                   templates, x0_base, profile.get("theme", "dark"),
                   {"profile": profile, "colours": manifest["colours"],
                    "font": manifest["raster"]["font"], "cell": manifest["cell"]})

    @classmethod
    def load(cls, look: str | Path) -> Look:
        """A look by name (shipped) or folder; one-line LookError on any problem."""
        from .capture.calibrate import ColourFacts, load_templates
        from .capture.tune import spec_from_json

        path = look_path(look)
        try:
            data = json.loads((path / LOOK_FILE).read_text())
            facts = ColourFacts.from_json(data["colours"], f"{data['name']}-measured")
            font = spec_from_json(data["font"])
            templates = load_templates(str(path / TEMPLATES_FILE))
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise LookError(f"look {path} is incomplete or unreadable: {e}") from None
        if data.get("x0_base", "templates") not in X0_BASES:
            raise LookError(f"look {path}: x0_base must be one of {', '.join(X0_BASES)}")
        return cls(str(data["name"]), facts.theme, font, templates,
                   data.get("x0_base", "templates"), data.get("base_theme", "dark"), data)

    def save(self, folder: str | Path) -> None:
        """Write look.json and templates.npz into a checkpoint folder."""
        from .capture.calibrate import save_templates
        from .capture.tune import spec_to_json

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        src = self.source or {}
        t = self.theme
        colours = src.get("colours") or {
            "fg": list(t.fg), "bg": list(t.bg), "palette": [list(c) for c in t.palette],
            "bold_is_bright": t.bold_is_bright, "palette256_max_error": 0,
            "truecolor_max_error": 0}
        data = {"name": self.name, "x0_base": self.x0_base, "base_theme": self.base_theme,
                "cell": [self.font.cell_w, self.font.cell_h], "font": spec_to_json(self.font),
                "colours": colours, "profile": src.get("profile")}
        (folder / LOOK_FILE).write_text(json.dumps(data, indent=1) + "\n")
        save_templates(str(folder / TEMPLATES_FILE), self.templates)

    def atlas(self) -> Any:
        """A glyph atlas with the terminal's masks (our tuned font for glyphs it has none of)."""
        from .capture.calibrate import TemplateAtlas

        return TemplateAtlas(self.font, self.templates)

    def raster(self, cursor: str = "block") -> RasterRenderer:
        """The glyph lookup of this look: its masks composited in its colours (the look's
        reference for repair and for the OCR that judges its frames)."""
        raster = RasterRenderer(RasterConfig(theme=self.theme, font=self.font, cursor=cursor))
        raster.atlas = self.atlas()
        return raster


class LookRenderer(NeuralRenderer):
    """The neural renderer drawing in a look: the look's templates and colours in the caption,
    its cell size, and (x0_base = "templates") the model's output added to the template composite.

    Args:
        model: a CellDiT whose cells are the look's.
        look: the Look.
        options: NeuralRenderer's (steps, seed, guidance, threads, cursor, palette: True snaps
            to the look's own glyph alphas as well as to bg and fg).
    """

    def __init__(self, model: Any, look: Look, **options: Any) -> None:
        if options.get("palette", True) is True:
            options["palette"] = LOOK_PALETTE
        super().__init__(model, theme=look.theme, font=look.font, **options)
        # A terminal draws the same pixels for the same screen, so its look does too: the model
        # starts from the noise's mean (zero) instead of a seed's draw. On the held-out xterm
        # captures a seeded look's corrections of colour screens changed with the seed (51.3 dB
        # at seed 0, 46.4 at seed 7, up to 73 levels off on one digit's background); from the
        # mean: 54.8 dB at every seed, and no class worse than the glyph lookup
        # (benchmarks/results/palette.md). Repair still re-draws differently (more steps,
        # stronger guidance).
        self.seeded = False
        self.look = look
        # the captioner's raster gives the caption its masks and the renderer its fallback/repair
        # reference: both must be the terminal's own glyphs
        self.captioner.raster.atlas = look.atlas()

    @property
    def atlas(self) -> Any:
        """The look's glyph atlas (what its frames are read back with)."""
        return self.captioner.raster.atlas

    def make_raster(self) -> RasterRenderer:
        """A separate reference for this look (the session's fallback and verifier)."""
        return self.look.raster(self.captioner.raster.config.cursor)

    def denoise(self, caption: CellCaption, prev: np.ndarray | None, **kwargs: Any) -> Any:
        # a real terminal draws its cursor its own way (xterm, over a 24-bit-coloured glyph, not
        # in the caption's two colours): the palette projection leaves that cell as drawn
        cursor = caption.bits[..., 5] != 0
        if self.palette.enabled and cursor.any():
            two = np.ones(cursor.shape, bool) if caption.two_colour is None else caption.two_colour
            caption = replace(caption, two_colour=two & ~cursor)
        return super().denoise(caption, prev, **kwargs)

    def x0_base(self, caption: CellCaption) -> torch.Tensor | None:
        if self.look.x0_base != "templates":
            return None
        return torch.from_numpy(caption.target()).float() / 127.5 - 1.0

    def render(self, screen: Any, **kwargs: Any) -> Any:
        out = super().render(screen, **kwargs)
        out.info["look"] = self.look.name
        return out


def create_look(look: str | Path, checkpoint: str | Path | None = None,
                theme: str | Theme | None = None, font: FontSpec | None = None,
                **options: Any) -> LookRenderer:
    """A LookRenderer for a shipped look name or a look folder (`checkpoint` overrides where the
    weights come from). A look draws the colours and font it was captured with: another theme or
    font is a one-line LookError, not a silently different picture."""
    path = look_path(look)
    spec = Look.load(path)
    if theme is not None and not (isinstance(theme, str) and theme == spec.base_theme):
        name = theme if isinstance(theme, str) else getattr(theme, "name", "custom")
        raise LookError(f"the {spec.name} look draws the colours it was captured with (theme "
                        f"{spec.base_theme!r}); theme {name!r} is not available with it")
    if font is not None and font != spec.font:
        raise LookError(f"the {spec.name} look draws its terminal's font "
                        f"({spec.font.cell_w}x{spec.font.cell_h} px cells); no font options")
    model = load_model(checkpoint or path)
    cfg = model.config
    if (cfg.cell_h, cfg.cell_w) != (spec.font.cell_h, spec.font.cell_w):
        raise LookError(f"look {spec.name}: the model's cells are {cfg.cell_w}x{cfg.cell_h} px, "
                        f"the terminal's {spec.font.cell_w}x{spec.font.cell_h}")
    return LookRenderer(model, spec, **options)


def create(checkpoint: str | Path | None = None, model: str | Path | None = None,
           look: str | None = None, **options: Any) -> NeuralRenderer:
    """Registry factory for "neural": the checkpoint directory `checkpoint` (or `model`, which
    the CLI's --model DIR passes), else $HYBRID_NC_CHECKPOINT, else the shipped one.
    `look` ("xterm", or a look folder) draws like a real terminal instead. It lives here, not in
    neural.py, so that a look depends on the neural renderer and never the other way round."""
    if look:
        return create_look(look, checkpoint or model, **options)
    path = checkpoint or model or os.environ.get("HYBRID_NC_CHECKPOINT") or DEFAULT_CHECKPOINT
    return NeuralRenderer.from_pretrained(path, **options)
