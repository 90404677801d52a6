"""Plotting shared by the chapters: one look for every figure, and a provenance line that
says which run produced it."""
from __future__ import annotations


def provenance(record: dict) -> str:
    """One line naming the profile, data, seed, hardware, code revision and run time of a result."""
    config, prov = record["config"], record["provenance"]
    data = prov.get("data") or {}
    data_text = f"{data.get('source', config.get('dataset'))}, {data.get('n_train', '?'):,} train / " \
                f"{data.get('n_test', '?'):,} test images" if data else config.get("dataset", "?")
    minutes = prov["wall_time_s"] / 60
    hardware = f"{prov['device']} ({prov['device_name']}, {prov['torch_threads']} threads)"
    return (f"Profile {config['profile']}; data: {data_text}; seed {config['seed']}; hardware: {hardware}; "
            f"torch {prov['torch']}; code {prov['git_revision'][:12]}; computed {prov['started_at']} "
            f"in {minutes:.1f} min.")


def style() -> None:
    """The book's plotting style."""
    import matplotlib as mpl
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", font_scale=0.9)
    mpl.rcParams.update({"figure.dpi": 110, "savefig.bbox": "tight", "axes.titleweight": "bold"})
