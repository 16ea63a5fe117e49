"""The suites that carry the catalogue: toy2d's and digits' models and samplers (the digits smoke run
with PNG grids is in tests/integration/test_digits_smoke.py)."""

from rfbench.samplers import SAMPLERS
from rfbench.suites import catalogue_samplers, get_suite


def test_suites_cover_the_catalogue_and_every_registered_sampler():
    toy, dig = get_suite("toy2d"), get_suite("digits")
    names = {m.name for m in toy.models}
    for model in ("1-rf", "2-rf", "2-rf++", "vp-diffusion", "rectified-diffusion", "pfgmpp-d8", "pfgmpp-d2048"):
        assert model in names and model in {m.name for m in dig.models}
    assert "edm" in names  # EDM (PFGM++'s D -> inf) is compared with pfgmpp-d2048 on 2-D
    assert all(m.data == "digits" for m in dig.models)
    assert dig.nfe == [1, 2, 3, 4, 6, 8, 12, 16]
    # every sampler defined by rfbench's modules, none registered elsewhere (e.g. by tests)
    own = [n for n in SAMPLERS if SAMPLERS.get(n).fn.__module__.startswith("rfbench.")]
    # ... plus the chosen library adapter entries (docs/adapters.md), where the library is installed
    from rfbench.samplers.adapters import SUITE_ENTRIES, installed

    assert own == catalogue_samplers()
    assert toy.samplers == dig.samplers == own + installed(SUITE_ENTRIES)
    assert {"euler", "heun", "ddim", "edm-heun", "dopri5"} <= set(own)
