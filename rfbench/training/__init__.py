"""Everything rfbench trains: the training loop, objectives, recipes, reflow pairs, the trained
catalogue (registered in the model registry on import), and the per-model fits of BOSS (stage-2
fine-tune) and FlowTurbo (velocity refiner) on one shared routine (:mod:`rfbench.training.fit`).

>>> from rfbench.training import make_recipe, load_trained
>>> model = load_trained(make_recipe("1-rf", "moons", steps=2000))   # trained once, then cached
"""

from .catalogue import TRAIN_DATASETS, checkpoint_path, load_pairs, load_trained, train_checkpoint
from .loop import init_seeded, train
from .recipes import FAMILIES, Family, Recipe, default_net, make_recipe
from .. import models as _models

_models.make_recipe = make_recipe  # rfbench.models.make_recipe, its former home, keeps working

__all__ = ["FAMILIES", "TRAIN_DATASETS", "Family", "Recipe", "checkpoint_path", "default_net", "init_seeded",
           "load_pairs", "load_trained", "make_recipe", "train", "train_checkpoint"]
