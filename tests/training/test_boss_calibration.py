"""BOSS (Nguyen et al. 2023), stage 1 and 2 in training: the Bellman step-size search against brute force,
the jump costs, the calibration cache, and where the fine-tune applies."""

import itertools

import pytest
import torch

import rfbench
from rfbench.errors import NotApplicableError
from rfbench.models import from_velocity, get_model
from rfbench.samplers import make_grid
from rfbench.training import boss
from rfbench.training.boss import (bellman_nodes, brute_force_nodes, calibrate,
                                   euler_reference, jump_costs, redress)


def _random_costs(K: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    cost = torch.rand((K + 1, K + 1), generator=gen, dtype=torch.float64)
    return torch.where(torch.ones_like(cost).triu(1).bool(), cost, torch.tensor(float("inf"), dtype=torch.float64))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dp_is_exact_against_brute_force_on_random_costs(seed):
    K = 11
    cost = _random_costs(K, seed)
    for n in range(1, K + 1):
        nodes, total = bellman_nodes(cost, n)
        bf_nodes, bf_total = brute_force_nodes(cost, n)
        assert nodes == bf_nodes and total == pytest.approx(bf_total, rel=1e-12), n
        assert total == pytest.approx(sum(float(cost[a, b]) for a, b in zip(nodes[:-1], nodes[1:])), rel=1e-12)


def test_dp_is_exact_on_a_real_calibration(gmm_rf):
    calib = calibrate(gmm_rf, K=12, M=64, progress=False)
    for n in range(1, 13):
        nodes, total = bellman_nodes(calib.cost, n)
        assert (nodes, pytest.approx(total, rel=1e-12)) == brute_force_nodes(calib.cost, n)
    assert bellman_nodes(calib.cost, 12)[0] == list(range(13))  # N = K: the whole fine grid, cost 0


def test_jump_costs_closed_form_on_a_linear_field():
    """v = -a x: Euler reference states are x_j = prod_{l<j}(1 - a h_l) x0 and one jump i -> j gives
    x_i (1 - a (t_j - t_i)), so C[i, j] = mean ||x0||^2 * (p_i (1 - a (t_j - t_i)) - p_j)^2, p the products."""
    a = 1.7
    model = from_velocity(lambda x, t: -a * x, data_shape=(3,), convention="rfbench")
    ts = make_grid("uniform", 9, model)
    noise = model.sample_prior(50, seed=3, dtype=torch.float64)
    states, vels = euler_reference(model, noise, ts, progress=False)
    cost = jump_costs(states, vels, ts)
    h = (ts[1:] - ts[:-1]).tolist()
    p = [1.0] + list(itertools.accumulate((1 - a * hh for hh in h), lambda u, w: u * w))
    m2 = float(noise.pow(2).sum(1).mean())
    for i, j in itertools.combinations(range(10), 2):
        expected = m2 * (p[i] * (1 - a * float(ts[j] - ts[i])) - p[j]) ** 2
        assert float(cost[i, j]) == pytest.approx(expected, rel=1e-10, abs=1e-14), (i, j)
    assert torch.isinf(cost[torch.ones(10, 10).tril().bool()]).all()


def test_calibration_is_cached_and_not_redone_inside_timed_calls(monkeypatch, tmp_path):
    monkeypatch.setenv("RFBENCH_CACHE", str(tmp_path))  # a cold cache, whatever ran before
    calls = []
    real = boss.euler_reference
    monkeypatch.setattr(boss, "euler_reference", lambda *a, **k: calls.append(1) or real(*a, **k))
    first = calibrate(get_model("analytic-gmm-rf"), K=20, M=16, progress=False)
    assert len(calls) == 1 and not first.cache_hit
    model = get_model("analytic-gmm-rf")  # a new object: the disk cache answers
    out = rfbench.sample(model, "boss", 4, n=8, K=20, M=16)
    assert len(calls) == 1 and out.info["calib_cached"] is True
    assert out.info["calib_s"] == pytest.approx(first.seconds)
    torch.testing.assert_close(calibrate(model, K=20, M=16).cost, first.cost)
    rfbench.sample(model, "boss", 2, n=8, K=20, M=16)  # another N: same calibration, from memory
    assert len(calls) == 1
    rfbench.sample(model, "boss", 4, n=8, K=20, M=17)  # another setting: a new calibration
    assert len(calls) == 2


def test_function_models_are_cached_by_their_code(tmp_path, monkeypatch):
    """A function model's calibration is keyed by the function's code (not its name); one that cannot be
    fingerprinted (it holds a torch.Generator) is calibrated but never cached on disk."""
    monkeypatch.setenv("RFBENCH_CACHE", str(tmp_path))
    out = rfbench.sample(from_velocity(lambda x, t: -x, data_shape=(2,)), "boss", 3, n=4, K=10, M=8)
    assert out.nfe_measured == 3 and out.info["calib_cached"] is False
    same = rfbench.sample(from_velocity(lambda x, t: -x, data_shape=(2,)), "boss", 3, n=4, K=10, M=8)
    assert same.info["calib_cached"] is True  # another object with the same code
    other = rfbench.sample(from_velocity(lambda x, t: -2 * x, data_shape=(2,)), "boss", 3, n=4, K=10, M=8)
    assert other.info["calib_cached"] is False
    files = sorted((tmp_path / "boss").iterdir())
    gen = torch.Generator()
    for _ in range(2):
        opaque = from_velocity(lambda x, t: -x + 0 * torch.rand(1, generator=gen, dtype=x.dtype), data_shape=(2,))
        assert rfbench.sample(opaque, "boss", 3, n=4, K=10, M=8).info["calib_cached"] is False
    assert sorted((tmp_path / "boss").iterdir()) == files


def test_redress_is_not_applicable_to_analytic_models(gmm_rf):
    with pytest.raises(NotApplicableError, match="has none"):
        redress(gmm_rf)
