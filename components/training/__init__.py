"""The model build as an indexed Job on the primary region's GPU pool (`training.enabled`)."""

from typing import TYPE_CHECKING

from recsys_dr.components.lazy_exports import lazy_exports

if TYPE_CHECKING:  # what type checkers see; at run time each name loads on first use
    from recsys_dr.components.training.training_job import TrainingJob as TrainingJob, TrainingJobArgs as TrainingJobArgs

__all__, __getattr__ = lazy_exports(__name__, {
    "TrainingJob": "training_job",
    "TrainingJobArgs": "training_job",
})
