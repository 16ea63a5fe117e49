"""Timing a sampling call: tiny CPU draws on one thread by the minimum, others by the median."""

import torch

from rfbench.metrics.timing import TINY_NUMEL, time_draw


def test_tiny_cpu_draws_are_timed_on_one_thread_by_the_minimum():
    seen = []
    before = torch.get_num_threads()
    t = time_draw(lambda: seen.append(torch.get_num_threads()), repeats=3, device=torch.device("cpu"),
                  numel=TINY_NUMEL)
    assert seen == [1, 1, 1] and t["threads"] == 1 and t["statistic"] == "min"
    assert t["value_s"] == min(t["all_s"]) and torch.get_num_threads() == before  # restored


def test_larger_draws_keep_the_threads_and_the_median():
    seen = []
    t = time_draw(lambda: seen.append(torch.get_num_threads()), repeats=3, device=torch.device("cpu"),
                  numel=TINY_NUMEL + 1)
    assert seen == [torch.get_num_threads()] * 3 and t["statistic"] == "median"
    assert t["value_s"] == t["median_s"] and t["threads"] == torch.get_num_threads()
