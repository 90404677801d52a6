"""The ConvMixer chapter's tables of the published values and of the paper's setup against ours,
read from the same records as `readers`."""
from __future__ import annotations

import pandas as pd

from .config import PAPER
from .readers import grid_table, n_test


# ---- the published values, and the paper's setup against ours ----


def paper_table() -> pd.DataFrame:
    """The published values (`config.PAPER`), one row each, with unit, source and status."""
    def shown(value) -> str:
        if isinstance(value, dict):
            return ", ".join(f"{key}: {v}" for key, v in value.items())
        if isinstance(value, list):
            return ", ".join(map(str, value))
        return str(value)

    return pd.DataFrame([{"value": name, "published": shown(entry["value"]), "unit": entry["unit"],
                          "status": entry["status"], "source": entry["source"]} for name, entry in PAPER.items()])


def grid_table_with_paper(records: dict):
    """`grid_table` with the paper's accuracy beside each cell ("not sourced" where it has none;
    the one quoted cell labelled secondary), formatted for the page."""
    quoted = PAPER["p1_k9"]
    cell = {(quoted["kernel_size"], quoted["patch_size"]): f"{quoted['value']} ({quoted['status']})"}
    shown = grid_table(records)
    shown["paper acc (%)"] = [cell.get((k, p), "not sourced") for k, p in zip(shown["kernel"], shown["patch"])]
    return shown.style.hide(axis="index").format({"accuracy (%)": "{:.2f}", "sd": "{:.2f}", "parameters (M)": "{:.3f}",
                                                  "GMACs": "{:.4f}", "img/s": "{:.0f}", "train min": "{:.1f}"},
                                                 na_rep="—")


def paper_setup() -> dict[str, str]:
    """The paper's and the official repository's side of the "how this run differs" table."""
    command = PAPER["recipe_command"]["value"]
    return {"recipe run": f"{command['model']}, k={command['kernel_size']}, p={command['patch_size']}, "
                          f"{command['epochs']} epochs on the whole training set, batch {command['batch_size']}, peak "
                          f"lr {command['lr_max']} (README command, train.py defaults)",
            "kernel × patch grid": "not sourced: the paper's CIFAR-10 ablation tables could not be read (one quoted "
                                   "cell, p=1, k=9, secondary)",
            "test set": "the CIFAR-10 test set"}


def _describe(config: dict, n_train: int | None) -> str:
    model, train = config["model_config"], config["train"]
    data = "the whole training set" if n_train is None else f"{n_train:,} training images"
    return (f"ConvMixer-{model['dim']}/{model['depth']}, {train['epochs']} epochs on {data}, "
            f"batch {train['batch_size']}, peak lr {train['lr']}, {train['precision']} precision")


def setup_table(records: dict) -> pd.DataFrame:
    """The paper's setup against this run's: the recipe run, the grid, the test set."""
    recipe_record, grid_records, table = records["recipe"], records["grid"], grid_table(records)
    first = grid_records[0]["config"]
    ours = {"recipe run": _describe(recipe_record["config"], recipe_record["config"]["n_train"])
                          + f", k={recipe_record['config']['model_config']['kernel_size']}, "
                            f"p={recipe_record['config']['model_config']['patch_size']}",
            "kernel × patch grid": _describe(first, first["n_train"])
                                   + f"; k ∈ {sorted(set(table['kernel']))}, p ∈ {sorted(set(table['patch']))}",
            "test set": f"{n_test(grid_records[0]):,} images"}
    return pd.DataFrame({"paper / official repository": paper_setup(), "ours": ours})
