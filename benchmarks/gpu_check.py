"""CUDA against the CPU, in one run: the GPU paths give the CPU's numbers, and how much faster.

Sections (``--sections`` picks some, comma-separated). Each runs guarded: one that fails prints
its error and the others still run; one that needs a package that is not installed says so and
is skipped, not failed.

- ``updaters``: every updater x EMA mode x feedback mode that the model accepts
  (``bench.model.UPDATERS``, ``EMA_MODES``, ``FEEDBACK_MODES``), one model with the same
  weights on both devices (float32, TF32 off, dropout off): the largest absolute difference
  of the outputs and of the gradients after one backward of the training loss (the trainer's
  ``run_chunk`` and ``va_loss``; scheduled sampling at p = 0.5 with the same draws), and, on
  the GPU, between the dialogs run step by step and run whole (fed back what the steps fed);
- ``mamba_kernel``: mamba-ssm's fused selective scan (taken where no state is carried in)
  against the reference scan on the GPU: output, last state and gradients, and the time of
  each (needs ``mamba_ssm``);
- ``ray``: one grid of small synthetic trials through Ray Tune (``run_grid`` with
  ``gpus_per_trial=0.25``, four trials per GPU) and the same grid on the machine's CPUs (one
  CPU per trial, no GPU visible): trials per minute, and every trial's recorded GPU (the
  record's ``ray_gpu_ids`` and ``CUDA_VISIBLE_DEVICES``) (needs Ray, and the synthetic
  protocol's extractors: openSMILE, Resemblyzer);
- ``scale``: one ``mamba_ema`` epoch at MSP-Podcast's scale (``msp_podcast_scale.py``'s
  generated release and trial: random features of IEMOCAP's sizes) on the GPU and on the
  CPU, with the GPU's peak allocated memory;
- ``embeddings``: speech embeddings (``bench.features.ssl``, all layers' mean) of a randomly
  initialised WavLM saved to a temporary folder, on CUDA against the CPU (TF32 as the
  defaults leave it): the largest difference relative to the embeddings' scale, and the time.

    python benchmarks/gpu_check.py                        # every section, about 5 minutes
    python benchmarks/gpu_check.py --quick --sections updaters,embeddings
    python benchmarks/gpu_check.py --quick --device cpu   # a dry run of the script itself

Where torch sees no CUDA device it prints "no CUDA device: nothing to check" and exits 0;
else it exits 1 when any check failed. ``--device cpu`` runs every section with the CPU in
the GPU's place (differences 0, speed-ups 1), so the script is exercised where no GPU is.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import functools
import itertools
import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from bench.errors import BenchError
from bench.model import UPDATERS, EMAConfig, MambaConfig, ModelConfig, StreamingModel
from bench.model.config import EMA_MODES, FEEDBACK_MODES
from bench.model.model import INITIAL_Y
from bench.train.loss import va_loss

NO_CUDA = "no CUDA device: nothing to check"
P_TRUE = {"none": 0.0, "teacher": 1.0, "scheduled": 0.5, "autoregressive": 0.0}
DIMS = (24, 8, 8)  # speech, prosody, speaker features of the updater check
OUTPUT_TOL = 1e-4  # outputs in [0, 1], float32 on both devices
GRADIENT_TOL = 1e-3  # largest gradient difference over the largest gradient
EMBEDDING_TOL = 1e-2  # largest difference over the largest embedding value (TF32 allowed)
RAY_VARIANTS = ("mamba_ema", "gru_ema")


@dataclass(frozen=True)
class Sizes:
    """How big each section's work is (``FULL``, or ``QUICK`` with ``--quick``)."""

    dialogs: int  # updaters: dialogs in the batch
    steps: int  # updaters: utterances per dialog
    synth: str  # ray: the synthetic corpus's size
    seeds: int  # ray: seeds per variant
    epochs: int  # ray: epochs per trial
    utterances: int  # scale: label rows of the release
    wavlm: str  # embeddings: "base" (95M parameters) or "tiny"
    waves: int  # embeddings: utterances
    seconds: float  # embeddings: the longest utterance


FULL = Sizes(4, 48, "small", 8, 2, 150_000, "base", 24, 8.0)
QUICK = Sizes(3, 12, "tiny", 2, 1, 12_000, "tiny", 4, 2.0)


def model_configs() -> dict[tuple[str, str, str], ModelConfig]:
    """A small model for every (updater, EMA mode, feedback mode) that ModelConfig accepts."""
    configs = {}
    for updater, ema, feedback in itertools.product(UPDATERS, EMA_MODES, FEEDBACK_MODES):
        try:
            configs[updater, ema, feedback] = ModelConfig(
                updater=updater, feedback=feedback, d_p2=8, d_c=16, d_model=32, film_hidden=32,
                head_hidden=32, dropout=0.0, ema=EMAConfig(mode=ema),
                mamba=MambaConfig(d_state=8, d_conv=4),
            )  # fmt: skip
        except BenchError:  # e.g. the stateless updater with feedback
            continue
    return configs


def make_inputs(dialogs: int, steps: int, device: str) -> dict[str, torch.Tensor]:
    """Random features, labels in [0, 1], their shift by one, and a mask whose last dialog
    ends early (padding, as in a batch); the same numbers on every device."""
    g = torch.Generator().manual_seed(0)
    speech, prosody, speaker = (torch.randn(dialogs, steps, d, generator=g) for d in DIMS)
    labels = torch.rand(dialogs, steps, 2, generator=g)  # [B, T, 2]
    first = torch.full_like(labels[:, :1], INITIAL_Y)  # [B, 1, 2]
    mask = torch.ones(dialogs, steps, dtype=torch.bool)  # [B, T]
    mask[-1, steps // 2 :] = False
    inputs = {"speech": speech, "prosody": prosody, "speaker": speaker, "labels": labels,
              "labels_prev": torch.cat([first, labels[:, :-1]], dim=1), "mask": mask}  # fmt: skip
    return {name: value.to(device) for name, value in inputs.items()}


def training_pass(
    model: StreamingModel, inputs: dict[str, torch.Tensor], p_true: float
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """What ``bench.train.step.train_step`` computes before its optimiser step: the outputs
    ``[B, T, 2]`` of ``run_chunk`` and each parameter's gradient of the training loss, both
    copied to the CPU."""
    model.zero_grad(set_to_none=True)
    z = model.observe(inputs["speech"], inputs["prosody"], inputs["speaker"])  # [B, T, Dz]
    sampler = torch.Generator().manual_seed(1)
    y, _ = model.run_chunk(z, None, inputs["labels_prev"], p_true, sampler)  # [B, T, 2]
    va_loss(y, inputs["labels"], inputs["mask"]).backward()
    grads = {name: p.grad.cpu() for name, p in model.named_parameters()
             if p.grad is not None and p.grad.numel()}  # fmt: skip
    return y.detach().cpu(), grads


@torch.no_grad()
def step_whole_gap(model: StreamingModel, inputs: dict[str, torch.Tensor], p_true: float) -> float:
    """Largest ``|y_step - y_whole|``: the dialogs run one utterance at a time (``rollout``,
    feeding back the truth with probability ``p_true``, else the model's own prediction) and
    run whole in parallel, fed the same ``y_{t-1}`` that the steps fed."""
    z = model.observe(inputs["speech"], inputs["prosody"], inputs["speaker"])  # [B, T, Dz]
    truth = inputs["labels_prev"]  # [B, T, 2]
    stepped, _ = model.rollout(z, None, truth, p_true, torch.Generator().manual_seed(1))
    if not model.feeds_back:
        whole, _ = model(z)  # [B, T, 2]
    else:
        own = torch.cat([torch.full_like(stepped[:, :1], INITIAL_Y), stepped[:, :-1]], dim=1)
        draws = torch.rand(*z.shape[:2], 1, generator=torch.Generator().manual_seed(1))
        fed = torch.where((draws < p_true).to(z.device), truth, own)  # rollout's draws
        whole, _ = model(z, None, fed)  # [B, T, 2]
    return float((stepped - whole).abs().max())


def compare_devices(config: ModelConfig, device: str, sizes: Sizes) -> dict[str, float]:
    """One model with the same weights on the CPU and on ``device``: the largest absolute
    differences of the outputs and of the gradients, the largest gradient (for scale), and
    ``device``'s step-by-step against whole-dialog gap."""
    torch.manual_seed(0)
    reference = StreamingModel(config, *DIMS).eval()
    other = copy.deepcopy(reference).to(device)
    p_true = P_TRUE[config.feedback]
    y_cpu, g_cpu = training_pass(reference, make_inputs(sizes.dialogs, sizes.steps, "cpu"), p_true)
    inputs = make_inputs(sizes.dialogs, sizes.steps, device)
    y_dev, g_dev = training_pass(other, inputs, p_true)
    if g_cpu.keys() != g_dev.keys():
        raise RuntimeError(f"gradients of other parameters: {sorted(g_cpu.keys() ^ g_dev.keys())}")
    return {
        "outputs": float((y_cpu - y_dev).abs().max()),
        "gradients": max(float((g_cpu[n] - g_dev[n]).abs().max()) for n in g_cpu),
        "largest_gradient": max(float(g.abs().max()) for g in g_cpu.values()),
        "step_whole": step_whole_gap(other, inputs, p_true),
    }


@contextlib.contextmanager
def exact_float32() -> Iterator[None]:
    """TF32 off in matrix products and cuDNN, so that a difference is a bug, not rounding."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


class Skipped(Exception):
    """A section that cannot run here, and why."""


def check_updaters(sizes: Sizes, device: str) -> bool:
    """The ``updaters`` section: one line per combination, True when all are within bounds."""
    print(f"{'updater':8} {'ema':12} {'feedback':15} {'|dy|':>9} {'|dgrad|':>9} "
          f"{'max|g|':>9} {'|step-whole|':>12}")  # fmt: skip
    ok = True
    with exact_float32():
        for (updater, ema, feedback), config in model_configs().items():
            d = compare_devices(config, device, sizes)
            good = (
                d["outputs"] <= OUTPUT_TOL
                and d["gradients"] <= GRADIENT_TOL * max(d["largest_gradient"], 1e-12)
                and d["step_whole"] <= OUTPUT_TOL
            )
            ok &= good
            print(f"{updater:8} {ema:12} {feedback:15} {d['outputs']:9.2e} "
                  f"{d['gradients']:9.2e} {d['largest_gradient']:9.2e} {d['step_whole']:12.2e}"
                  f"{'' if good else '  FAIL'}", flush=True)  # fmt: skip
    print(f"bounds: |dy| and |step-whole| <= {OUTPUT_TOL:g}, |dgrad| <= {GRADIENT_TOL:g} max|g|")
    return ok


def synchronize(device: str) -> None:
    """Wait for ``device``'s queued work (CUDA runs asynchronously), so a clock can be read."""
    if device == "cuda":
        torch.cuda.synchronize()


def timed(fn: Callable[[], object], device: str, repeats: int = 5) -> float:
    """Median seconds of ``fn`` on ``device`` (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeats):
        synchronize(device)
        began = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - began)
    return float(np.median(times))


def check_mamba_kernel(sizes: Sizes, device: str) -> bool:
    """The ``mamba_kernel`` section: the fused scan against the reference on the GPU."""
    if device != "cuda":
        raise Skipped("mamba-ssm's kernel runs on CUDA only")
    import mamba_ssm  # noqa: F401  (absent: the section is skipped)

    from bench.model.mamba import MambaBlock, scan_kernel

    if scan_kernel(on_cuda=True, carried=False) is None:
        print("mamba_ssm imports, but its selective scan kernel does not load")
        return False
    torch.manual_seed(0)
    block = MambaBlock(64).to(device)
    x = torch.randn(sizes.dialogs * 4, sizes.steps * 4, 64, device=device, requires_grad=True)
    runs = {}
    with exact_float32():
        # No state carried in: the fused kernel; a zero state carried in: the reference scan.
        for name, state in (("fused", None), ("reference", block.initial_state(x.shape[0]))):
            block.zero_grad(set_to_none=True)
            x.grad = None
            out, last = block(x, state)  # [B, T, 64], [B, Di, N]
            out.square().mean().backward()
            grads = [x.grad, *(p.grad for p in block.parameters())]
            seconds = timed(lambda state=state: block(x, state), device)
            runs[name] = (out.detach(), last.ssm.detach(), grads, seconds)
    (out_f, ssm_f, grads_f, time_f), (out_r, ssm_r, grads_r, time_r) = runs.values()
    d_out = float((out_f - out_r).abs().max())
    d_ssm = float((ssm_f - ssm_r).abs().max())
    largest = max(float(g.abs().max()) for g in grads_r)
    d_grad = max(float((a - b).abs().max()) for a, b in zip(grads_f, grads_r, strict=True))
    print(f"input {tuple(x.shape)}: |d out| {d_out:.2e}, |d last state| {d_ssm:.2e}, "
          f"|d grad| {d_grad:.2e} (max|g| {largest:.2e}); forward {time_f * 1e3:.2f} ms fused, "
          f"{time_r * 1e3:.2f} ms reference")  # fmt: skip
    return max(d_out, d_ssm) <= OUTPUT_TOL and d_grad <= GRADIENT_TOL * largest


@contextlib.contextmanager
def gpus_hidden(hide: bool) -> Iterator[None]:
    """With ``hide``, processes started inside (Ray and its workers) see no GPU."""
    saved = os.environ.get("CUDA_VISIBLE_DEVICES")
    if hide:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("CUDA_VISIBLE_DEVICES", None)
        else:
            os.environ["CUDA_VISIBLE_DEVICES"] = saved


def check_ray(sizes: Sizes, device: str) -> bool:
    """The ``ray`` section: a quarter-GPU grid against the same grid on the CPUs (with
    ``device`` cpu, both grids on the CPUs)."""
    import ray  # noqa: F401  (absent: the section is skipped)

    from bench.results import read_record
    from bench.run import RunOptions, run_grid, select_trials

    gpu_share = 0.25 if device == "cuda" else 0.0
    ok = True
    with tempfile.TemporaryDirectory(prefix="bench-gpu-check-") as tmp:
        overrides = [
            f"corpus.root={tmp}/synthetic",
            f"corpus.synth.size={sizes.synth}",
            f"features.cache_dir={tmp}/features",
            f"train.epochs={sizes.epochs}",
        ]
        selection = select_trials(
            "synthetic", overrides, variants=RAY_VARIANTS, seeds=range(sizes.seeds), folds=[1]
        )
        for label, gpus in ((f"{gpu_share:g} GPU per trial", gpu_share), ("CPU only", 0.0)):
            results = Path(tmp) / label.replace(" ", "-")
            options = RunOptions(progress=False, cpus_per_trial=1, gpus_per_trial=gpus)
            with gpus_hidden(gpus == 0):
                summary = run_grid(selection, results, "ray", options)
            ok &= summary.ok and bool(summary.finished)
            workers = {key: read_record(key.folder(results)).worker for key in summary.finished}
            span = max((w["finished"] for w in workers.values()), default=0.0) - min(
                (w["started"] for w in workers.values()), default=0.0
            )
            print(f"{label}: {len(workers)} trials ({len(summary.failed)} failed) in "
                  f"{summary.seconds:.1f} s: {60 * len(workers) / summary.seconds:.1f} trials "
                  f"per minute, {60 * len(workers) / max(span, 1e-9):.1f} from the first start "
                  f"to the last finish (Ray's start left out)")  # fmt: skip
            for key, w in workers.items():
                ids = w.get("ray_gpu_ids", [])
                ok &= bool(ids) == (gpus > 0)
                seconds = w["finished"] - w["started"]
                print(f"  {key.variant} seed {key.seed}: Ray GPU ids {ids}, CUDA_VISIBLE_DEVICES "
                      f"{w['cuda_visible_devices']!r}, {seconds:.1f} s")  # fmt: skip
            for key, error in summary.failed.items():
                print(f"  {key.variant} seed {key.seed} failed: {error.strip().splitlines()[-1]}")
    return ok


def check_scale(sizes: Sizes, device: str) -> bool:
    """The ``scale`` section: one epoch at MSP-Podcast's scale, ``device`` against the CPU."""
    from msp_podcast_scale import train_at_scale, write_release

    from bench.corpus.msp_podcast import read_msp_podcast
    from bench.protocol import load_protocol, make_folds

    with tempfile.TemporaryDirectory(prefix="bench-gpu-check-") as tmp:
        root = Path(tmp) / "MSP-Podcast"
        write_release(root, sizes.utterances)
        table = read_msp_podcast(root).table
        fold = make_folds(table, load_protocol("msp_podcast", [f"corpus.root={root}"]))[0]
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        fast = train_at_scale(table, fold, 1, device=device)
        peak = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else 0.0
        slow = train_at_scale(table, fold, 1, device="cpu")
    for name, run in ((device, fast), ("cpu", slow)):
        print(f"{name:4}: one epoch on {run['train_utterances']} training utterances "
              f"({run['steps']} steps) in {run['train_s']:.1f} s, Development and Test1 "
              f"streamed in {run['evaluate_s']:.1f} s")  # fmt: skip
    print(f"{device} over cpu: training {slow['train_s'] / fast['train_s']:.1f}x, streaming "
          f"{slow['evaluate_s'] / fast['evaluate_s']:.1f}x; peak GPU memory allocated "
          f"{peak:.0f} MiB")  # fmt: skip
    return True


def save_random_wavlm(folder: Path, size: str) -> Path:
    """A randomly initialised WavLM (``base``: WavLMConfig's defaults, with a layer-normalised
    feature encoder so that utterances batch; ``tiny``: a few thousand parameters) and its
    feature extractor, saved with ``save_pretrained``: no hub access."""
    from transformers import Wav2Vec2FeatureExtractor, WavLMConfig, WavLMModel
    from transformers.utils import logging

    logging.disable_progress_bar()  # saving and loading bars would bury the figures

    small = {"hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2,
             "intermediate_size": 32, "conv_dim": (16, 16), "conv_stride": (5, 4),
             "conv_kernel": (10, 8), "num_conv_pos_embeddings": 16,
             "num_conv_pos_embedding_groups": 2, "num_buckets": 16}  # fmt: skip
    config = WavLMConfig(
        feat_extract_norm="layer", do_stable_layer_norm=True, **(small if size == "tiny" else {})
    )
    torch.manual_seed(0)
    WavLMModel(config).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=True).save_pretrained(folder)
    return folder


def check_embeddings(sizes: Sizes, device: str) -> bool:
    """The ``embeddings`` section: WavLM embeddings on ``device`` against the CPU."""
    from bench.audio import SAMPLE_RATE
    from bench.features.ssl import TransformersSpec

    rng = np.random.default_rng(0)
    lengths = rng.uniform(sizes.seconds / 4, sizes.seconds, sizes.waves) * SAMPLE_RATE
    waves = [(0.1 * rng.standard_normal(int(n))).astype(np.float32) for n in lengths]
    out, seconds = [], []
    with tempfile.TemporaryDirectory(prefix="bench-gpu-check-") as tmp:
        folder = save_random_wavlm(Path(tmp) / "wavlm", sizes.wavlm)
        for name in (device, "cpu"):
            runner = TransformersSpec(model=str(folder), layer="mean", device=name).build()
            runner(waves[:1])  # warm-up: kernels load, cuDNN picks its algorithms
            began = time.perf_counter()
            out.append(runner(waves))  # [n, dim]
            seconds.append(time.perf_counter() - began)
    scale = float(np.abs(out[1]).max())
    gap = float(np.abs(out[0] - out[1]).max())
    audio = sum(w.size for w in waves) / SAMPLE_RATE
    print(f"{sizes.wavlm} WavLM, {len(waves)} utterances ({audio:.0f} s of audio), "
          f"{out[1].shape[1]}-d: |d| {gap:.2e} (max |x| {scale:.2e}); {seconds[0]:.2f} s on "
          f"{device}, {seconds[1]:.2f} s on cpu ({seconds[1] / seconds[0]:.1f}x); TF32 in "
          f"cuDNN {'on' if torch.backends.cudnn.allow_tf32 else 'off'}")  # fmt: skip
    return gap <= EMBEDDING_TOL * max(scale, 1e-12)


SECTIONS: dict[str, Callable[[Sizes, str], bool]] = {
    "updaters": check_updaters,
    "mamba_kernel": check_mamba_kernel,
    "ray": check_ray,
    "scale": check_scale,
    "embeddings": check_embeddings,
}


def run_sections(sections: dict[str, Callable[[], bool]]) -> dict[str, str]:
    """Run each section, guarded; name -> ``passed``, ``failed`` or ``skipped: <why>``.

    A section fails when it returns False or raises (its traceback is printed). It is
    skipped when it raises :class:`Skipped`, or ModuleNotFoundError for a package outside
    ``bench`` (a missing module of ``bench`` itself is a failure).
    """
    outcomes = {}
    for name, section in sections.items():
        print(f"\n== {name}", flush=True)
        try:
            outcomes[name] = "passed" if section() else "failed"
        except Skipped as exc:
            outcomes[name] = f"skipped: {exc}"
        except ModuleNotFoundError as exc:
            if (exc.name or "bench").split(".")[0] == "bench":
                traceback.print_exc(file=sys.stdout)
                outcomes[name] = "failed"
            else:
                outcomes[name] = f"skipped: needs {exc.name}, which is not installed"
        except Exception:  # one section's failure must not stop the others
            traceback.print_exc(file=sys.stdout)
            outcomes[name] = "failed"
        print(f"-- {name}: {outcomes[name]}", flush=True)
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a minute or two)")
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help=f"comma-separated, of {', '.join(SECTIONS)} (all)")  # fmt: skip
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda",
                        help="cpu: the CPU in the GPU's place, a dry run (cuda)")  # fmt: skip
    args = parser.parse_args(argv)
    names = [name for name in args.sections.split(",") if name]
    unknown = [name for name in names if name not in SECTIONS]
    if unknown:
        parser.error(f"unknown section {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    if args.device == "cuda" and not torch.cuda.is_available():
        print(NO_CUDA)
        return 0
    sizes = QUICK if args.quick else FULL
    where = torch.cuda.get_device_name() if args.device == "cuda" else "the CPU (a dry run)"
    print(f"{where}, torch {torch.__version__} (CUDA {torch.version.cuda}), Python "
          f"{platform.python_version()}, {os.cpu_count()} CPUs; "
          f"{'quick' if args.quick else 'full'} sizes")  # fmt: skip
    began = time.perf_counter()
    checks = {name: functools.partial(SECTIONS[name], sizes, args.device) for name in names}
    outcomes = run_sections(checks)
    counts = {word: sum(o.startswith(word) for o in outcomes.values())
              for word in ("passed", "failed", "skipped")}  # fmt: skip
    failed = [name for name, outcome in outcomes.items() if outcome == "failed"]
    print(f"\ngpu_check: {counts['passed']} passed, {counts['failed']} failed, "
          f"{counts['skipped']} skipped{': failed ' + ', '.join(failed) if failed else ''} "
          f"({time.perf_counter() - began:.0f} s)")  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
