"""Visual place recognition: datasets, preprocessing, metrics, classical baselines, and the
spiking place recogniser (VPRSNN with weighted neuronal assignments).

Submodules (imported on use): ``datasets`` (Traverse, PlaceDataset, loaders), ``synthetic``
(a procedural route rendered under several conditions), ``preprocess`` (grey, resize, patch
normalisation), ``metrics`` (Recall@K, precision-recall), ``baselines`` (SAD, sequence matching),
``assignment`` (standard and weighted neuronal assignments), ``snn_numba`` / ``snn_torch``
(the VPRSNN network on numba or torch), ``snn_network`` (one VPRSNN module as a core Network:
``vprsnn_network``, ``present``), ``recognizer`` (:class:`SpikingPlaceRecognizer`), ``tempo`` (:class:`TempoPlaceRecognizer`,
the single-step VPRTempo-speed network), ``surrogate`` (:class:`SurrogatePlaceRecognizer`, a
convolutional spiking network trained with surrogate gradients on snntorch).
Images are uint8 arrays of shape (n, height, width); sizes are given as (width, height) in pixels,
as in Pillow. Similarity matrices are reference x query, higher = more similar.
"""
import importlib

_EXPORTS = {"SpikingPlaceRecognizer": "recognizer", "ensemble_predict": "recognizer",
            "TempoPlaceRecognizer": "tempo", "SurrogatePlaceRecognizer": "surrogate",
            "synthetic_route": "synthetic", "PlaceDataset": "datasets", "Traverse": "datasets",
            "load_nordland": "datasets", "load_folder_dataset": "datasets",
            "drop_dark_places": "datasets", "vprsnn_network": "snn_network",
            "recall_at_k": "metrics", "chance_recall": "metrics", "sad_similarity": "baselines"}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        module = importlib.import_module(f"biosim.vpr.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'biosim.vpr' has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_EXPORTS})
