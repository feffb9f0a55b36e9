"""Training the neural renderer: dataset building (dataset.py, synthetic.py) and the trainer
(trainer.py) behind `hybrid-nc train`."""

from .dataset import Batcher, RowBatcher, build_dataset, load_dataset_dir
from .trainer import TrainConfig, Trainer, evaluate_rows

__all__ = ["Batcher", "RowBatcher", "TrainConfig", "Trainer", "build_dataset", "evaluate_rows",
           "load_dataset_dir"]
