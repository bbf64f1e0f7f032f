"""The Translator interface: `fit`, `invert`, `translate`, `save`, `load`, the same everywhere.

Every method (PhenDiff, StarGAN, CycleGAN, Phenexplain, identity, third-party plugins) subclasses
`Translator`. A translator is built from its frozen config and the `DataSpec` of its data; both are
saved beside its weights so that `load` rebuilds exactly the same object.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch

from phenbench.core.config import config_from_dict, config_to_dict
from phenbench.core.dataset import DataSpec, PreparedDataset, check_images
from phenbench.core.devices import default_device
from phenbench.core.errors import ConfigError, PhenbenchError, UnknownNameError

TRANSLATOR_FILE = "translator.json"

ConditionArg = int | str | Sequence[int] | Sequence[str] | torch.Tensor


@dataclass
class InversionResult:
    """Latents of a batch: a diffusion noise, a StyleGAN W/W+ code, or the images themselves."""

    latents: torch.Tensor
    kind: str  # "noise", "w", "w+", "image"
    nfe: int  # network evaluations per image
    seconds: float = 0.0


@dataclass
class TranslationResult:
    """Translated images, float32 N x C x H x W in [-1, 1], and what producing them cost."""

    images: torch.Tensor
    nfe: int  # network evaluations per image
    seconds: float = 0.0
    latents: InversionResult | None = None


@dataclass(frozen=True)
class FitOptions:
    """How to run a fit: owned by the runner, not part of the translator's config."""

    seed: int = 0
    # The best device this process has (its GPU under a launcher, else the CPU), as `--device auto`.
    device: str = field(default_factory=default_device)
    checkpoint_dir: Path | None = None
    checkpoint_every: int | None = None
    progress: bool = True
    # The (source, target) condition-index pairs the run will translate; None means all pairs.
    # Pairwise methods (CycleGAN) train one model per pair they are asked for.
    pairs: tuple[tuple[int, int], ...] | None = None
    # Processes reading training batches ahead (None: 2 on a GPU, none on the CPU), where a
    # translator's loop reads through core/step_loader.py.
    loader_workers: int | None = None
    # Steps between reading the loss back from the device (and averaging it across processes):
    # the curve keeps every step's loss either way.
    log_every: int = 10


@dataclass
class FitReport:
    """What a fit did: steps taken, time, throughput and the loss curve."""

    steps: int
    seconds: float
    images_per_second: float | None = None
    losses: list[float] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


class Translator(ABC):
    """Base class of every phenotype translator.

    Subclasses set `name`, `config_class` (a frozen dataclass) and optionally `presets`
    (preset name -> config overrides), and implement `fit`, `invert`, `translate`,
    `_save_weights` and `_load_weights`.
    """

    name: ClassVar[str] = ""
    config_class: ClassVar[type] = type(None)
    presets: ClassVar[dict[str, dict[str, Any]]] = {}
    # False for models with no latent space (the latent is the image itself).
    has_latent_space: ClassVar[bool] = False
    # Other translators whose saved models this one loads as its own: the same networks used
    # another way (Phenexplain's W and W+ projections share one generator, trained once).
    loads_models_of: ClassVar[tuple[str, ...]] = ()
    # True for methods that train one model per (source, target) pair (CycleGAN): the pairs a run
    # asks for then decide the saved model, and the runner keys its model folder on them.
    trains_per_pair: ClassVar[bool] = False
    # True for translators that can be asked for a condition they never saw in training (held-out
    # compounds): those that do not condition on a learned class (identity), or that embed
    # compounds from their structure. The others refuse such a condition in `condition_indices`.
    handles_unseen_conditions: ClassVar[bool] = False
    # Config fields that change only how a trained model translates (sampler, sampling steps, batch
    # size, precision), never its weights: a model loaded for scoring (--checkpoint) takes new
    # values for them; it keeps every other field as trained (core/loaded_model.py).
    translation_settings: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, config: Any, spec: DataSpec):
        if not isinstance(config, self.config_class):
            raise ConfigError(f"{self.name} needs a {self.config_class.__name__}, got {type(config).__name__}")
        self.config = config
        self.spec = spec
        self.device = torch.device("cpu")
        # The preset the config came from, kept with a saved model so that runs scoring it again
        # (`--checkpoint`) are labelled as the run that trained it. None: no preset, or unknown.
        self.preset: str | None = None

    # --- construction ------------------------------------------------------------------------

    @classmethod
    def config_for(cls, preset: str | None = None, overrides: dict[str, Any] | None = None) -> Any:
        """The config of a preset (or the defaults) with `overrides` applied, unknown keys rejected."""
        data: dict[str, Any] = {}
        if preset is not None:
            if not cls.presets:
                raise ConfigError(f"The translator {cls.name} has no presets (nothing to size); leave --preset out.")
            if preset not in cls.presets:
                raise UnknownNameError(f"preset of {cls.name}", preset, cls.presets)
            data.update(cls.presets[preset])
        data.update(overrides or {})
        return config_from_dict(cls.config_class, data, where=f"{cls.name} config")

    # --- the three verbs ---------------------------------------------------------------------

    @abstractmethod
    def fit(self, dataset: PreparedDataset, options: FitOptions = FitOptions()) -> FitReport:
        """Learn from the training split of `dataset`."""

    def invert(self, images: torch.Tensor, source: ConditionArg) -> InversionResult:
        """Map images of condition `source` to this translator's latent.

        Translators with a latent space (`has_latent_space = True`) override this. For those
        without one (identity, the GANs) the latent of an image is the image itself.
        """
        if self.has_latent_space:
            raise NotImplementedError(f"{type(self).__name__} has a latent space but does not implement invert()")
        self.check_images(images)
        self.condition_indices(source, len(images))
        return InversionResult(latents=images.clone(), kind="image", nfe=0)

    @abstractmethod
    def translate(self, images: torch.Tensor, source: ConditionArg, target: ConditionArg) -> TranslationResult:
        """Map images from condition `source` to condition `target` (per image or one for all)."""

    def translate_to_each(
        self, images: torch.Tensor, source: ConditionArg, targets: Sequence[int | str]
    ) -> dict[int, TranslationResult]:
        """Translate the same images to several targets (target index -> result).

        Translators with an expensive inversion override this to invert once and reuse the latent.
        """
        results = {}
        for target in targets:
            index = self.condition_indices(target, 1).item()
            results[index] = self.translate(images, source, index)
        return results

    def reconstruct(self, images: torch.Tensor, source: ConditionArg) -> TranslationResult:
        """Invert then regenerate under the same condition: translate with target = source."""
        return self.translate(images, source, source)

    def to(self, device: str | torch.device) -> "Translator":
        self.device = torch.device(device)
        return self

    # --- persistence -------------------------------------------------------------------------

    def save(self, directory: str | Path) -> Path:
        """Write config, data spec and weights to `directory`; `load` rebuilds the same translator."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._save_weights(directory)
        manifest = {
            "translator": self.name,
            "preset": self.preset,
            "config": config_to_dict(self.config),
            "spec": self.spec.to_dict(),
        }
        tmp = directory / (TRANSLATOR_FILE + ".tmp")
        tmp.write_text(json.dumps(manifest, indent=2) + "\n")
        tmp.replace(directory / TRANSLATOR_FILE)  # written last: its presence marks a complete save
        return directory

    @classmethod
    def load(cls, directory: str | Path, device: str | torch.device = "cpu",
             settings: dict[str, Any] | None = None) -> "Translator":
        """The saved model; `settings` gives new values to some of its `translation_settings`."""
        manifest = read_manifest(directory)
        if manifest["translator"] != cls.name and manifest["translator"] not in cls.loads_models_of:
            raise ConfigError(
                f"--checkpoint {directory} holds a '{manifest['translator']}' translator, not '{cls.name}'. "
                f"Run with --translator {manifest['translator']}, or point --checkpoint at a {cls.name} model."
            )
        unknown = set(settings or {}) - cls.translation_settings
        if unknown:
            raise ConfigError(f"{cls.name}: {', '.join(sorted(unknown))} cannot change on a trained model.")
        config = config_from_dict(cls.config_class, {**manifest["config"], **(settings or {})},
                                  where=f"{directory}/{TRANSLATOR_FILE}")
        try:
            spec = DataSpec.from_dict(manifest["spec"])
        except (KeyError, TypeError, ValueError) as exc:
            raise PhenbenchError(
                f"The data spec in {directory}/{TRANSLATOR_FILE} is damaged ({type(exc).__name__}: {exc}); "
                "train the model again."
            ) from None
        translator = cls(config, spec)
        translator.preset = manifest.get("preset")  # absent in models saved before presets were kept
        try:
            translator._load_weights(Path(directory))
        except PhenbenchError:
            raise
        except _unreadable_weights() as exc:  # truncated, corrupt, or not matching translator.json
            first = str(exc).splitlines()[0] if str(exc) else ""
            raise PhenbenchError(
                f"The weights in {directory} cannot be read ({type(exc).__name__}: {first[:200]}); the model was not "
                "saved completely or its files were changed. Train it again, or restore the folder."
            ) from None
        return translator.to(device)

    def _save_weights(self, directory: Path) -> None:
        """Write weights into `directory` (nothing for weightless translators)."""

    def _load_weights(self, directory: Path) -> None:
        """Read weights written by `_save_weights`."""

    # --- helpers for subclasses --------------------------------------------------------------

    def condition_indices(self, conditions: ConditionArg, n: int) -> torch.Tensor:
        """Turn a condition argument (index, name, or one per image) into an int64 tensor of length n.

        A condition held out of training is refused unless the translator handles unseen ones.
        """
        indices = condition_indices(conditions, n, self.spec)
        if self.spec.unseen and not self.handles_unseen_conditions:
            unseen = {self.spec.conditions.index(name) for name in self.spec.unseen if name in self.spec.conditions}
            asked = sorted({self.spec.conditions.name(i) for i in indices.tolist() if i in unseen})
            if asked:
                raise UnseenConditionError(self.name, asked)
        return indices

    def check_images(self, images: torch.Tensor) -> torch.Tensor:
        return check_images(images, self.spec)


class UnseenConditionError(PhenbenchError):
    """A translator with one learned embedding per training condition was asked for a held-out one."""

    def __init__(self, translator: str, conditions: Sequence[str]):
        self.conditions = tuple(conditions)
        super().__init__(
            f"{translator} learns one embedding per condition it trains on and cannot condition on "
            f"{', '.join(self.conditions)}, held out of its training (an unseen compound); score it on the "
            "seen conditions, or drop held_out_compounds from the dataset config."
        )


def condition_indices(conditions: ConditionArg, n: int, spec: DataSpec) -> torch.Tensor:
    """Indices for `n` images from an index, a name, or a sequence/tensor with one per image."""
    count = len(spec.conditions)
    if isinstance(conditions, str):
        values = [spec.conditions.index(conditions)] * n
    elif isinstance(conditions, int):
        values = [conditions] * n
    elif isinstance(conditions, torch.Tensor):
        values = conditions.reshape(-1).tolist()
        if len(values) == 1:
            values = values * n
    else:
        values = [spec.conditions.index(c) if isinstance(c, str) else int(c) for c in conditions]
    if len(values) != n:
        raise PhenbenchError(f"got {len(values)} condition(s) for {n} image(s); give one, or one per image.")
    bad = [v for v in values if not 0 <= int(v) < count]
    if bad:
        raise PhenbenchError(f"condition index {bad[0]} is out of range: this model knows {count} conditions.")
    return torch.as_tensor(values, dtype=torch.long)


def _unreadable_weights() -> tuple[type[BaseException], ...]:
    """What reading a damaged weights file raises: I/O and format errors, shape mismatches."""
    import pickle

    from safetensors import SafetensorError

    return (OSError, RuntimeError, ValueError, KeyError, EOFError, pickle.UnpicklingError, SafetensorError)


def read_manifest(directory: str | Path) -> dict[str, Any]:
    """The `translator.json` of a saved model, checked: a truncated or hand-edited file is one line."""
    path = Path(directory) / TRANSLATOR_FILE
    if not Path(directory).is_dir():
        raise PhenbenchError(
            f"The model folder {directory} does not exist. Point --checkpoint at a directory written by a "
            "finished fit (the path `phenbench run` prints after 'Trained model:')."
        )
    if not path.is_file():
        raise PhenbenchError(
            f"No saved translator in {directory} ({TRANSLATOR_FILE} is missing). "
            "Point --checkpoint at a directory written by a finished fit."
        )
    try:
        manifest = json.loads(path.read_text())
    except (ValueError, OSError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise PhenbenchError(
            f"{path} is not valid JSON ({str(exc).splitlines()[0]}): the model was not saved completely or the "
            "file was edited. Train it again, or restore the folder."
        ) from None
    missing = [key for key in ("translator", "config", "spec") if not isinstance(manifest, dict) or key not in manifest]
    if missing:
        raise PhenbenchError(f"{path} lacks {', '.join(missing)}; it was not written by phenbench. Train the model again.")
    if not isinstance(manifest["translator"], str) or not isinstance(manifest["config"], dict) \
            or not isinstance(manifest["spec"], dict):
        raise PhenbenchError(f"{path} holds a damaged translator, config or spec entry; train the model again.")
    return manifest


def timed(function: Callable[[], Any]) -> tuple[Any, float]:
    """Call `function`, returning its result and the wall time in seconds."""
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start
