"""Ensembles: several saved runs whose predicted probabilities are averaged, stored as a list of members."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from . import config
from .data import dataset_key
from .runs import Run, display_path, run_folder

ENSEMBLE_FILE = "ensemble.json"


@dataclass
class Ensemble:
    """An ensemble's name, dataset and members (the names of its runs)."""

    name: str
    dataset: str
    members: list[str]

    def probs(self, member_probs: Mapping[str, np.ndarray]) -> np.ndarray:
        """The average of the members' class probabilities, from ``{run name: probabilities}``."""
        missing = [name for name in self.members if name not in member_probs]
        if missing:
            raise ValueError(f"No probabilities for the members {missing} of {self.name!r}: predict them first, "
                             "e.g. with predict_all([...], images).")
        return np.mean([member_probs[name] for name in self.members], axis=0)


def save_ensemble(name: str, members: Sequence[Run], dataset: str = "mnist") -> Ensemble:
    """Save the ensemble of these runs (what ``train`` returned) as ``checkpoints/<dataset>/<name>/ensemble.json``."""
    if not members or not all(isinstance(run, Run) for run in members):
        raise ValueError(f"An ensemble takes one or more runs that train() returned; got {list(members)!r}.")
    ensemble = Ensemble(name, dataset_key(dataset), [run.name for run in members])
    try:
        if load_ensemble(name, dataset) == ensemble:
            return ensemble  # saved already (e.g. the committed one, in the reader's mode): nothing to write
    except FileNotFoundError:
        pass
    folder = run_folder(name, dataset)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ENSEMBLE_FILE).write_text(json.dumps({"members": ensemble.members}, indent=1) + "\n")
    return ensemble


def load_ensemble(name: str, dataset: str = "mnist") -> Ensemble:
    """The ensemble saved under ``name`` (this mode's own first, then the committed one)."""
    looked = [run_folder(name, dataset, root) / ENSEMBLE_FILE for root in config.read_dirs()]
    for path in looked:
        if path.is_file():
            try:
                members = json.loads(path.read_text())["members"]
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{display_path(path)} is damaged ({exc!r}): restore it with git, or run the "
                                 "notebook that saves it again.") from exc
            return Ensemble(name, dataset_key(dataset), list(members))
    raise FileNotFoundError(f"No ensemble {name!r} on {dataset}: looked for "
                            f"{', '.join(display_path(p) for p in looked)}. Run the notebook that saves it first.")
