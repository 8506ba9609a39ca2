"""Ensembles: several saved runs whose predicted probabilities are averaged, stored as a list of members."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import keras
import numpy as np

from . import config
from .data import dataset_key
from .evaluation import predict_probs, predict_probs_mirrored
from .runs import Run, display_path, run_folder

ENSEMBLE_FILE = "ensemble.json"
MIRRORED = "_mirrored"  # a member asked about each image and its mirror image, as ways() names it


@dataclass
class Ensemble:
    """An ensemble's name, dataset and members (the names of its runs); the members in ``mirrored``
    are asked twice, about each image and its mirror image, and their two answers averaged."""

    name: str
    dataset: str
    members: list[str]
    mirrored: list[str] = field(default_factory=list)

    def ways(self) -> list[str]:
        """How each member is asked: its run name, with ``MIRRORED`` appended for a mirrored member."""
        return [name + MIRRORED if name in self.mirrored else name for name in self.members]

    def probs(self, member_probs: Mapping[str, np.ndarray]) -> np.ndarray:
        """The average of the members' class probabilities, from ``{way: probabilities}`` (see ``ways``:
        a member's run name, or for a mirrored member its name + ``MIRRORED``), computed once elsewhere."""
        missing = [way for way in self.ways() if way not in member_probs]
        if missing:
            raise ValueError(f"No probabilities for the members {missing} of {self.name!r}: predict them first, "
                             "e.g. with predict_all([...], images) (and predict_probs_mirrored for a mirrored one).")
        return np.mean([member_probs[way] for way in self.ways()], axis=0)

    def predict(self, models: Iterable[keras.Model], images: np.ndarray) -> np.ndarray:
        """The ensemble's class probabilities for ``images``, from its members' models (with their best
        weights; a model per member, matched by name), each asked as the ensemble says."""
        by_name = {model.name: model for model in models}
        missing = [name for name in self.members if name not in by_name]
        if missing:
            raise ValueError(f"No models for the members {missing} of {self.name!r}: load them first, e.g. with "
                             "load_best_checkpoint.")
        return self.probs({way: (predict_probs_mirrored if way.endswith(MIRRORED) else predict_probs)(
            by_name[way.removesuffix(MIRRORED)], images) for way in self.ways()})


def save_ensemble(name: str, members: Sequence[Run], dataset: str | None = None,
                  mirrored: Sequence[Run] = ()) -> Ensemble:
    """Save the ensemble of these runs (what ``train`` returned) as ``checkpoints/<dataset>/<name>/ensemble.json``;
    the members also in ``mirrored`` are asked about each image and its mirror image."""
    if not members or not all(isinstance(run, Run) for run in [*members, *mirrored]):
        raise ValueError(f"An ensemble takes one or more runs that train() returned; got {list(members)!r}.")
    names = [run.name for run in members]
    datasets = {run.dataset for run in [*members, *mirrored]}
    if len(datasets) != 1 or (dataset is not None and dataset_key(dataset) not in datasets):
        raise ValueError(f"The members of {name!r} were trained on {sorted(datasets)}"
                         + (f", not {dataset!r}" if dataset is not None else "") + ": an ensemble takes runs of one dataset.")
    dataset = datasets.pop()
    strays = [run.name for run in mirrored if run.name not in names]
    if strays:
        raise ValueError(f"The mirrored runs {strays} are not members of {name!r} ({names}).")
    ensemble = Ensemble(name, dataset_key(dataset), names, [run.name for run in mirrored])
    try:
        if load_ensemble(name, dataset) == ensemble:
            return ensemble  # saved already (e.g. the committed one, in the reader's mode): nothing to write
    except FileNotFoundError:
        pass
    folder = run_folder(name, dataset)
    folder.mkdir(parents=True, exist_ok=True)
    saved = {"members": ensemble.members} | ({"mirrored": ensemble.mirrored} if ensemble.mirrored else {})
    (folder / ENSEMBLE_FILE).write_text(json.dumps(saved, indent=1) + "\n")
    return ensemble


def load_ensemble(name: str, dataset: str) -> Ensemble:
    """The ensemble saved under ``name`` (this mode's own first, then the committed one)."""
    looked = [run_folder(name, dataset, root) / ENSEMBLE_FILE for root in config.current().read_dirs]
    for path in looked:
        if path.is_file():
            try:
                saved = json.loads(path.read_text())
                members, mirrored = list(saved["members"]), list(saved.get("mirrored", []))
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise ValueError(f"{display_path(path)} is damaged ({exc!r}): restore it with git, or run the "
                                 "notebook that saves it again.") from exc
            return Ensemble(name, dataset_key(dataset), members, mirrored)
    raise FileNotFoundError(f"No ensemble {name!r} on {dataset}: looked for "
                            f"{', '.join(display_path(p) for p in looked)}. Run the notebook that saves it first.")
