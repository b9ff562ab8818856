"""Visual place recognition: datasets, preprocessing, metrics and classical baselines.

Submodules (imported on use): ``datasets`` (Traverse, PlaceDataset, loaders), ``synthetic``
(a procedural route rendered under several conditions), ``preprocess`` (grey, resize, patch
normalisation), ``metrics`` (Recall@K, precision-recall), ``baselines`` (SAD, sequence matching).
Images are uint8 arrays of shape (n, height, width); sizes are given as (width, height) in pixels,
as in Pillow. Similarity matrices are reference x query, higher = more similar.
"""
