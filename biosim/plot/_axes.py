"""Shared helper: the Axes to draw on."""


def get_ax(ax=None, figsize=(6, 3.5)):
    """Return ``ax``, or a new Axes on a new figure."""
    if ax is not None:
        return ax
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        import os

        if not os.environ.get("DISPLAY"):
            matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, constrained_layout=True)
    return ax
