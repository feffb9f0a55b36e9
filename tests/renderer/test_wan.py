"""The Wan2.1 adapter on a complete tiny random WanImageToVideoPipeline built here (no downloads).

The pipeline is laid out like Wan2.1 I2V (transformer: 36 channels in = 16 noise + 4 mask + 16
image latents, 16 out; image cross-attention fed by a CLIP vision encoder; UMT5 text encoder) but
every part is a few thousand parameters, and the tokenizer is a Unigram model trained on the spot.
"""

from __future__ import annotations

import json
import string
from pathlib import Path

import numpy as np
import pytest
import torch

from renderer.base import Renderer
from renderer.captions import Caption, caption_text, colour_name, detailed_prompt, semantic_prompt
from renderer.wan import WanConfig, WanError, WanRenderer, check_model_dir
from terminal.screen import BOLD, ScreenState

pytest.importorskip("transformers")
pytest.importorskip("ftfy")

TOKEN_CORPUS = [
    "A static screen recording of a computer terminal in a dark theme",
    "Line 1 reads user@host:~$ ls -l, indented 2 columns, with bold green on a blue background",
    "A block cursor sits at line 3, column 5, on an empty cell. The window title is bash.",
    "total 12 drwxr-xr-x 2 root root 4096 Jan 1 00:00 file.txt hello-wan-42 python3",
]


def _tiny_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import T5Tokenizer

    tok = Tokenizer(models.Unigram())
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    # every printable character in the alphabet, so any screen text encodes without <unk>
    trainer = trainers.UnigramTrainer(vocab_size=300, special_tokens=["<pad>", "</s>", "<unk>"],
                                      unk_token="<unk>", initial_alphabet=list(string.printable))
    tok.train_from_iterator(TOKEN_CORPUS * 4, trainer)
    vocab = [tuple(v) for v in json.loads(tok.to_str())["model"]["vocab"]]
    return T5Tokenizer(vocab=vocab, extra_ids=0)


def build_tiny_wan(path: Path) -> Path:
    """A complete random WanImageToVideoPipeline saved with save_pretrained at `path`."""
    from diffusers import (
        AutoencoderKLWan,
        UniPCMultistepScheduler,
        WanImageToVideoPipeline,
        WanTransformer3DModel,
    )
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        CLIPVisionModel,
        UMT5Config,
        UMT5EncoderModel,
    )

    torch.manual_seed(0)
    tokenizer = _tiny_tokenizer()
    text_encoder = UMT5EncoderModel(UMT5Config(
        vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
        relative_attention_num_buckets=8))
    image_encoder = CLIPVisionModel(CLIPVisionConfig(
        hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
        image_size=32, patch_size=8))
    image_processor = CLIPImageProcessor(size={"shortest_edge": 32},
                                         crop_size={"height": 32, "width": 32})
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=8, in_channels=36,
        out_channels=16, text_dim=32, freq_dim=32, ffn_dim=32, num_layers=2, image_dim=16,
        added_kv_proj_dim=16, rope_max_seq_len=64)
    vae = AutoencoderKLWan(base_dim=8, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True])
    # Wan2.1's own scheduler: UniPC over flow-matching sigmas with a shift
    scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True,
                                        flow_shift=3.0)
    pipe = WanImageToVideoPipeline(tokenizer=tokenizer, text_encoder=text_encoder, vae=vae,
                                   scheduler=scheduler, image_processor=image_processor,
                                   image_encoder=image_encoder, transformer=transformer)
    pipe.save_pretrained(path)
    return path


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """The tiny model's ops are too small to gain from threads, and on a shared 2-core machine
    the second thread's spin-waiting only costs time; restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_wan(tmp_path_factory) -> Path:
    return build_tiny_wan(tmp_path_factory.mktemp("wan") / "tiny-wan-i2v")


# One frame, one step: what the prompt, seed and bookkeeping tests need. The renderer fixture makes
# real next frames (5 frames = 2 latent frames, the last one is the output).
FAST = {"num_inference_steps": 1, "num_frames": 1, "guidance_scale": 1.0}


@pytest.fixture
def renderer(tiny_wan: Path) -> WanRenderer:
    return WanRenderer.from_pretrained(tiny_wan, device="cpu", num_inference_steps=1, num_frames=5,
                                       guidance_scale=1.0)


def _screen(cols: int = 12, rows: int = 4) -> ScreenState:
    screen = ScreenState.from_lines(["$ echo hi", "hello-wan-42"], cols=cols, rows=rows,
                                    cursor=(2, 0))
    screen.fg[1, :5] = 2
    screen.attrs[1, :5] |= BOLD
    return screen


def _spy_text_encoder(wan: WanRenderer) -> list[str]:
    """Decoded token ids of every call into the text encoder."""
    seen: list[str] = []

    def hook(_module, args, kwargs):
        ids = args[0] if args else kwargs["input_ids"]
        seen.extend(wan.pipe.tokenizer.batch_decode(ids, skip_special_tokens=True))

    wan.pipe.text_encoder.register_forward_pre_hook(hook, with_kwargs=True)
    return seen


# -- prompts (no model) ---------------------------------------------------------------------
def test_detailed_prompt_has_every_row_styles_and_cursor():
    screen = _screen()
    screen.title = "bash"
    text = detailed_prompt(screen)
    assert 'Line 1 reads "$ echo hi"' in text
    assert 'Line 2 reads "hello-wan-42", with "hello" in bold green' in text
    assert "Lines 3-4 are empty." in text
    assert "A block cursor sits at line 3, column 1, on an empty cell." in text
    assert "12 columns by 4 lines" in text and "'bash'" in text


def test_detailed_prompt_with_damage_names_changed_rows_only():
    text = detailed_prompt(_screen(), damage=[1], action="echo hello-wan-42")
    assert "Only line 2 change" in text and "stays exactly as in the previous frame" in text
    assert "hello-wan-42" in text and "$ echo hi" not in text.split("entered")[1]
    assert "'echo hello-wan-42'" in text


def test_detailed_prompt_states_indentation_and_hidden_cursor():
    screen = ScreenState.from_lines(["    indented x"], cols=20, rows=1)
    screen.cursor_visible = False
    text = detailed_prompt(screen)
    assert '"indented x", indented 4 columns' in text and "The cursor is hidden." in text


def test_semantic_prompt_has_no_screen_text():
    text = semantic_prompt("ls -l", "shell", screen=_screen())
    assert "'ls -l'" in text and "shell command" in text
    assert "hello-wan-42" not in text and "echo hi" not in text


def test_colour_names():
    assert colour_name(1) == "red" and colour_name(9) == "bright red"
    assert colour_name(196).endswith("(xterm colour 196)") and colour_name(196).startswith("red")
    assert colour_name((1 << 24) | 0x00FF00) == "green (#00ff00)"


def test_caption_text_accepts_str_and_caption_objects():
    class Cap:
        text = "the caption"

    assert caption_text("x") == "x" and caption_text(Cap()) == "the caption"
    assert caption_text(None) is None and caption_text(np.zeros(3)) is None


# -- the tiny pipeline ------------------------------------------------------------------------
def test_tiny_pipeline_is_laid_out_like_wan21_i2v(tiny_wan: Path):
    index = check_model_dir(tiny_wan)
    assert index["_class_name"] == "WanImageToVideoPipeline"
    cfg = json.loads((tiny_wan / "transformer" / "config.json").read_text())
    assert (cfg["in_channels"], cfg["out_channels"], cfg["image_dim"]) == (36, 16, 16)


def test_render_shape_dtype_and_conditioning(renderer: WanRenderer):
    assert isinstance(renderer, Renderer) and renderer.cell_size == (16, 8)
    screen = _screen()
    out = renderer.render(screen, action="echo hi")
    assert out.frame.shape == (4 * 16, 12 * 8, 3) and out.frame.dtype == np.uint8
    assert out.rows == [0, 1, 2, 3]
    assert out.info["conditioning"].startswith("raster of this screen")
    assert out.info["prompt_source"] == "detailed" and "hello-wan-42" in out.info["prompt"]
    assert (out.info["height"], out.info["width"], out.info["num_frames"]) == (64, 96, 5)
    assert not out.info["prompt_truncated"] and out.info["prompt_tokens"] > 10
    # the next screen is conditioned on the frame just drawn, and only its changed row is captioned
    nxt = screen.copy()
    nxt.chars[3][:3] = list("ok!")
    out2 = renderer.render(nxt)
    assert out2.info["conditioning"] == "previous frame" and out2.info["changed_rows"] == [3]
    assert 'Line 4 reads "ok!"' in out2.info["prompt"] and "Only line 4" in out2.info["prompt"]


def test_output_is_resized_to_the_screen_pixel_size(renderer: WanRenderer):
    out = renderer.render(_screen(cols=13, rows=3))  # 104 x 48 px: generated at 112 x 48
    assert out.frame.shape == (48, 104, 3)
    assert (out.info["height"], out.info["width"]) == (48, 112)


def test_same_seed_same_frame_other_seed_other_frame(tiny_wan: Path):
    a = WanRenderer.from_pretrained(tiny_wan, device="cpu", **FAST)
    b = WanRenderer.from_pretrained(tiny_wan, device="cpu", **FAST)
    fa, fb = a.render(_screen(), seed=7).frame, b.render(_screen(), seed=7).frame
    assert np.array_equal(fa, fb)
    b.reset()
    assert not np.array_equal(fa, b.render(_screen(), seed=8).frame)


def test_detailed_prompt_reaches_the_text_encoder(renderer: WanRenderer):
    seen = _spy_text_encoder(renderer)
    renderer.render(_screen())
    assert len(seen) == 1  # guidance 1.0: no negative prompt pass
    assert "hello-wan-42" in seen[0] and "$ echo hi" in seen[0]


def test_prompt_sources_reach_the_text_encoder(tiny_wan: Path):
    def Cap(tier):  # noqa: N802
        return Caption(tier, f"{tier}-caption-from-orchestrator")

    wan = WanRenderer.from_pretrained(tiny_wan, device="cpu", **FAST)
    seen = _spy_text_encoder(wan)
    # its own caption (the session's caption step) is the prompt, word for word
    own = wan.caption(_screen(), action="echo hi")
    assert own.form == "prose" and "hello-wan-42" in own.text
    out = wan.render(_screen(), caption=own, action="echo hi", seed=3)
    assert out.info["prompt_source"] == "detailed" and out.info["prompt"] == own.text
    assert "hello-wan-42" in seen[-1]
    # auto: a detailed caption becomes our prose prompt; other tiers and strings pass through
    out = wan.render(_screen(), caption=Cap("detailed"))
    assert out.info["prompt_source"] == "detailed" and "hello-wan-42" in seen[-1]
    out = wan.render(_screen(), caption=Cap("semantic"), seed=1)
    assert out.info["prompt_source"] == "caption"
    assert seen[-1] == "semantic-caption-from-orchestrator"
    wan.render(_screen(), caption="a plain prompt-string", seed=2)
    assert seen[-1] == "a plain prompt-string"
    sem = WanRenderer.from_pretrained(tiny_wan, device="cpu", prompt="semantic", **FAST)
    seen = _spy_text_encoder(sem)
    out = sem.render(_screen(), caption=Cap("detailed"), action="echo hi")
    assert out.info["prompt_source"] == "semantic"
    assert "'echo hi'" in seen[-1] and "hello-wan-42" not in seen[-1]
    raw = WanRenderer.from_pretrained(tiny_wan, device="cpu", prompt="caption", **FAST)
    seen = _spy_text_encoder(raw)
    raw.render(_screen(), caption=Cap("detailed"))
    assert seen[-1] == "detailed-caption-from-orchestrator"


def test_guidance_encodes_the_negative_prompt_too(tiny_wan: Path):
    wan = WanRenderer.from_pretrained(tiny_wan, device="cpu", num_inference_steps=1,
                                      guidance_scale=3.0)
    seen = _spy_text_encoder(wan)
    out = wan.render(_screen())
    assert len(seen) == 2 and "garbled characters" in seen[1]
    assert out.frame.shape == (64, 96, 3)


def test_unchanged_screen_is_cached_and_a_redraw_restarts_from_the_same_frame(renderer):
    screen = _screen()
    first = renderer.render(screen, seed=1)
    again = renderer.render(screen, seed=1)
    assert again.rows == [] and again.info["unchanged"] and np.array_equal(again.frame, first.frame)
    retry = renderer.render(screen, seed=2)  # a repair attempt: another seed, same screen
    assert retry.info["redraw"] and retry.info["conditioning"].startswith("raster of this screen")
    assert not np.array_equal(retry.frame, first.frame)


# -- errors a user can cause --------------------------------------------------------------------
def _one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert msg and "\n" not in msg
    return msg


def test_missing_and_invalid_model_directories(tmp_path: Path):
    with pytest.raises(WanError) as e:
        WanRenderer.from_pretrained(tmp_path / "nope", device="cpu")
    assert "not found" in _one_line(e)
    with pytest.raises(WanError) as e:
        WanRenderer.from_pretrained(tmp_path, device="cpu")
    assert "no model_index.json" in _one_line(e)
    (tmp_path / "model_index.json").write_text('{"_class_name": "StableDiffusionPipeline"}')
    with pytest.raises(WanError) as e:
        WanRenderer.from_pretrained(tmp_path, device="cpu")
    assert "StableDiffusionPipeline" in _one_line(e)
    with pytest.raises(WanError) as e:
        WanRenderer(None)
    assert "--model PATH" in _one_line(e)


def test_a_text_to_video_model_is_refused(renderer: WanRenderer):
    from types import SimpleNamespace

    t2v = SimpleNamespace(transformer=SimpleNamespace(config=SimpleNamespace(in_channels=16)),
                          vae=renderer.pipe.vae, vae_scale_factor_temporal=4)
    with pytest.raises(WanError) as e:
        WanRenderer(t2v)
    assert "needs 36" in _one_line(e) and "text-to-video" in _one_line(e)


def test_truncated_weights_give_a_clear_error(tiny_wan: Path, tmp_path: Path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_wan, broken)
    weights = broken / "transformer" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(WanError) as e:
        WanRenderer.from_pretrained(broken, device="cpu")
    assert _one_line(e).startswith(f"cannot load the Wan model at {broken}")


def test_large_model_on_cpu_is_refused(tiny_wan: Path, monkeypatch):
    import renderer.wan as wan

    monkeypatch.setattr(wan, "CPU_WEIGHT_LIMIT", 1000)  # the tiny model's ~0.5 MB is "large" now
    with pytest.raises(WanError) as e:
        WanRenderer.from_pretrained(tiny_wan, device="cpu")
    assert "run it on a GPU" in _one_line(e)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown without a GPU")
def test_cuda_without_a_gpu(tiny_wan: Path):
    with pytest.raises(WanError) as e:
        WanRenderer.from_pretrained(tiny_wan, device="cuda")
    assert "no CUDA GPU" in _one_line(e)


def test_bad_options(tiny_wan: Path, renderer: WanRenderer):
    with pytest.raises(WanError) as e:
        WanConfig.from_options({"steps": 3})
    assert "unknown wan renderer option 'steps'" in _one_line(e)
    with pytest.raises(WanError):
        WanConfig(num_inference_steps=0)
    with pytest.raises(WanError):
        WanConfig.from_options({"guidance_scale": "lots"})
    assert WanConfig.from_options({"num_frames": "9", "height": "auto"}).num_frames == 9
    with pytest.raises(WanError) as e:
        WanRenderer(renderer.pipe, cursor="sparkly")
    assert "sparkly" in _one_line(e)
    bad = WanRenderer(renderer.pipe, num_frames=4, num_inference_steps=1)
    with pytest.raises(WanError) as e:
        bad.render(_screen())
    assert "1 + a multiple of 4" in _one_line(e)
    odd = WanRenderer(renderer.pipe, height=40, num_inference_steps=1)
    with pytest.raises(WanError) as e:
        odd.render(_screen())
    assert "multiples of 16" in _one_line(e)
    # past the tiny transformer's rotary table (64 patches): the pipeline's error, in one line
    huge = WanRenderer(renderer.pipe, width=16 * 80, **FAST)
    with pytest.raises(WanError) as e:
        huge.render(_screen())
    assert _one_line(e).startswith("the Wan pipeline failed at 1280x64")


def test_registry_creates_wan_with_a_model_option(tiny_wan: Path):
    from renderer import registry

    wan = registry.create("wan", model=str(tiny_wan), device="cpu", theme="dark",
                          num_inference_steps="1", num_frames="1")
    assert isinstance(wan, WanRenderer) and wan.config.num_inference_steps == 1
    with pytest.raises(WanError) as e:
        registry.create("wan", theme="dark")
    assert "--model PATH" in _one_line(e)
