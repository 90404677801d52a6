"""Plotting shared by the chapters: one look for every figure, and a provenance line that
says which run produced it (and, visibly, when that run's code or data has changed since)."""
from __future__ import annotations

from ..results import stale_code


def provenance(record: dict) -> str:
    """One line naming the profile, data, seed, hardware, code revision and run time of a result,
    followed by a warning when the record was computed with source files that have changed since."""
    from ..experiments.common import relative_to_data_root

    config, prov = record["config"], record["provenance"]
    data = prov.get("data") or {}
    count = lambda key: f"{data[key]:,}" if isinstance(data.get(key), int) else "?"
    source = relative_to_data_root(str(data.get("source") or config.get("dataset")), None)
    source = source.replace("<data root>", "(data root)")  # captions are Markdown: no angle brackets
    data_text = (f"{source}, "
                 f"{count('n_train')} train / {count('n_test')} test images") if data else \
        config.get("dataset", "none (random inputs)")
    minutes = prov["wall_time_s"] / 60
    hardware = f"{prov['device']} ({prov['device_name']}, {prov['torch_threads']} threads)"
    revision = prov["git_revision"][:12].replace("+dirty", "")
    dirty = prov.get("dirty_files") or (["(files not recorded)"] if prov["git_revision"].endswith("+dirty") else [])
    code = f"code {revision}" + (f" with uncommitted changes to {', '.join(dirty)}" if dirty else "")
    text = (f"Profile {config.get('profile', '?')}; data: {data_text}; seed {config.get('seed')}; hardware: {hardware}; "
            f"torch {prov['torch']}; {code}; computed {prov['started_at']} in {minutes:.1f} min.")
    if config.get("dry_run"):
        from ..experiments.common import DRY_RUN_NOTE

        text = f"**{DRY_RUN_NOTE}.** " + text
    if record.get("data_note"):
        text += f" **Data differs:** {relative_to_data_root(record['data_note'], None).replace('<data root>', '(data root)')}."
    changed = stale_code(record)
    if changed:
        text += (f" **Computed with older code** (changed since: {', '.join(changed)}); "
                 "recompute with `force=True` to bring it up to date.")
    return text


def style() -> None:
    """The book's plotting style: one theme for every chapter, figures rendered at twice the
    screen resolution (sharp on high-density displays)."""
    import matplotlib as mpl
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", font_scale=0.9)
    mpl.rcParams.update({"figure.dpi": 100, "savefig.dpi": 200, "savefig.bbox": "tight",
                         "axes.titleweight": "bold"})
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("retina")  # PNG at 2x the figure's dpi, shown at its nominal size
    except ImportError:  # outside IPython
        pass
