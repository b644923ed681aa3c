"""An updater added from outside the package: a module defined here and one line that
registers it. A variant then names it (``model.updater``), the configuration accepts it,
and the streaming model trains through it; an unknown name's error lists it."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from bench.errors import BenchError
from bench.model import UPDATERS, StreamingModel
from bench.model.recurrent import State, Updater, UpdaterSettings
from bench.protocol import load_protocol
from bench.variants import resolve_variant

TOY = "toy_linear"
SMALL = ["model.d_model=8", "model.d_c=5", "model.d_p2=4", "model.film_hidden=8",
         "model.head_hidden=8"]  # fmt: skip
D_SPEECH, D_PROSODY, D_SPEAKER = 6, 5, 4


class ToyLinear(Updater):
    """``u_t = W [z_t ; y_{t-1}] + b``: no state of its own (the EMA after it has one)."""

    def __init__(self, d_in: int, settings: UpdaterSettings):
        super().__init__()
        self.d_out = settings.d_c
        self.linear = nn.Linear(d_in, settings.d_c)

    def initial_state(self, batch: int) -> State:
        return ()

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        return self.linear(x), ()  # [B, T, d_c]


@pytest.fixture
def toy_updater(monkeypatch: pytest.MonkeyPatch) -> str:
    """The updater ``toy_linear``, registered for one test (monkeypatch takes it out)."""
    monkeypatch.setitem(UPDATERS, TOY, ToyLinear)
    return TOY


def toy_model(name: str, feedback: str) -> StreamingModel:
    """The reference variant with ``model.updater=<name>``, resolved as ``bench run`` does."""
    overrides = [f"model.updater={name}", f"model.feedback={feedback}", *SMALL]
    spec = resolve_variant("mamba_ema", load_protocol("synthetic"), overrides)
    assert spec.model.updater == name
    torch.manual_seed(0)
    return StreamingModel(spec.model, D_SPEECH, D_PROSODY, D_SPEAKER)


def test_a_registered_updater_builds_runs_and_learns(toy_updater: str):
    model = toy_model(toy_updater, "teacher")
    assert isinstance(model.updater, ToyLinear)
    g = torch.Generator().manual_seed(1)
    feats = [torch.randn(3, 7, d, generator=g) for d in (D_SPEECH, D_PROSODY, D_SPEAKER)]
    y_true = torch.rand(3, 7, 2, generator=g)  # [B, T, 2]
    z = model.observe(*feats)  # [3, 7, Dz]
    assert model.updater.linear.in_features == z.shape[-1] + 2  # [z_t ; y_{t-1}]
    y, state = model(z, None, y_true)
    assert y.shape == (3, 7, 2) and state.ema.shape == (3, 5) and state.y.shape == (3, 2)
    ((y - y_true) ** 2).mean().backward()
    grads = [p.grad for p in model.updater.parameters()]
    assert all(grad is not None and grad.abs().sum() > 0 for grad in grads)
    model.eval()
    with torch.no_grad():  # one utterance at a time gives what the whole dialog gives
        whole, _ = model(z, None, y_true)
        state, stepped = model.initial_state(3), []
        for t in range(7):
            y_t, state = model.step(z[:, t], state, y_true[:, t])  # [B, 2]
            stepped.append(y_t)
    torch.testing.assert_close(torch.stack(stepped, dim=1), whole, atol=1e-6, rtol=0)


def test_an_unknown_updater_lists_every_registered_one(toy_updater: str):
    with pytest.raises(BenchError, match="model.updater must be one of") as caught:
        toy_model("lstm", "none")
    listed = str(caught.value).partition("one of ")[2].partition(", not")[0].split(", ")
    assert listed == list(UPDATERS) and toy_updater in listed


def test_the_registration_ends_with_its_test():
    """Run after the tests above (file order), this fails if their fixture leaked the name."""
    assert TOY not in UPDATERS
    with pytest.raises(BenchError, match=f"model.updater must be one of .*not '{TOY}'"):
        toy_model(TOY, "none")
