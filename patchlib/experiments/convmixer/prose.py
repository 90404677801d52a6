"""The ConvMixer chapter's prose, built from the same records and claims as its tables: every
sentence that states a number, a comparison or a verdict. Each number goes through `_Numbers`,
which formats it and keeps it under a name, so `facts(records)` lists every number the prose
prints (`readers.prose`, `readers.prose_parts` and `readers.facts` are the entry points)."""
from __future__ import annotations

import math
import re

from ...prose import Numbers, verdict_words
from ...claims import greater_verdict
from .config import PAPER
from .readers import (MIN_ACCURACY, cell_accuracies, claims, grid_gains, grid_table, log_tolerance, mean_gain,
                      paper_patch, recipe_run_kind)



class _Numbers(Numbers):
    """`Numbers`, with this chapter's formats."""

    def kernels(self, ks) -> str:
        """A list of kernel sizes, "k=3, 5, 9"."""
        return "k=" + ", ".join(self(f"k{k}", k) for k in ks)


def _data(records: dict, num: _Numbers) -> str:
    config = records["grid"][0]["config"]
    if config["dataset"] != "cifar10":
        return (f"**Data.** This run ({config['profile']} profile) uses the embedded synthetic {config['dataset']} "
                "data instead of CIFAR-10: its numbers are not comparable to anything.")
    source = records["grid"][0]["provenance"]["data"]["source"]
    quality = re.search(r"JPEG re-encoding, quality (\d+)", source)
    return ("**Data.** CIFAR-10 at its native resolution, as in the paper's CIFAR-10 experiments"
            + (f"; on this project's machines it is a JPEG re-encoding of CIFAR-10 (quality "
               f"{num('jpeg_quality', int(quality.group(1)))}, slightly lossy)" if quality else "")
            + ". The smoke profile uses the embedded synthetic shapes10 data instead, and its numbers are not "
              "comparable to anything.")


def _recipe(records: dict, num: _Numbers) -> str:
    command = PAPER["recipe_command"]["value"]
    ours, grid = records["recipe"]["config"], records["grid"][0]["config"]
    train, model = ours["train"], ours["model_config"]
    scaled = math.isclose(train["lr"], command["lr_max"] * train["batch_size"] / command["batch_size"])
    grid_data = ("the whole training set" if grid["n_train"] is None
                 else f"{num('grid_n_train', grid['n_train'], ',')} training images")
    return (f"**Recipe.** The convmixer-cifar10 README command (ConvMixer-{num('readme_dim', command['dim'])}/"
            f"{num('readme_depth', command['depth'])}, "
            f"k={num('readme_k', command['kernel_size'])}, p={num('readme_p', command['patch_size'])}, "
            f"{num('readme_epochs', command['epochs'])} epochs, batch {num('readme_batch', command['batch_size'])}, "
            f"peak lr {num('readme_lr', command['lr_max'])}, weight decay {num('readme_wd', command['wd'])}, "
            f"RandAugment with {num('readme_ra_n', command['ra_n'])} ops at magnitude "
            f"{num('readme_ra_m', command['ra_m'])}"
            "; AdamW, the piecewise-linear one-cycle schedule and mixed precision of its train.py; no label smoothing) "
            "is what the gpu profile runs, with bf16 autocast where the original uses fp16 with a gradient scaler. "
            + (f"This run ({ours['profile']} profile) trains the README's model with its recipe for the first "
               f"{num('recipe_epochs', train['epochs'])} of its {num('readme_epochs', command['epochs'])} epochs, "
               f"exactly: the learning rate warms up toward {num('readme_lr', command['lr_max'])} as in the long run "
               f"and stands at {num('recipe_lr', train['lr'])} when this run stops"
               if recipe_run_kind(records["recipe"]) == "start" else
               f"This run ({ours['profile']} profile) trains its recipe model, "
               f"ConvMixer-{num('recipe_dim', model['dim'])}/"
               f"{num('recipe_depth', model['depth'])}, for {num('recipe_epochs', train['epochs'])} epochs at batch "
               f"{num('recipe_batch', train['batch_size'])} and peak lr {num('recipe_lr', train['lr'])}"
               + (" (the README's, scaled linearly with the batch)"
                  if scaled and train["batch_size"] != command["batch_size"] else ""))
            + f", and every grid cell as ConvMixer-{num('grid_dim', grid['model_config']['dim'])}/"
              f"{num('grid_depth', grid['model_config']['depth'])} for {num('grid_epochs', grid['train']['epochs'])} "
              f"epochs on {grid_data}: see the table.")


def _quoted_cell(num: _Numbers) -> str:
    """The one quoted cell of the paper's grid, "p=1, k=9"."""
    quoted = PAPER["p1_k9"]
    return f"p={num('paper_p', quoted['patch_size'])}, k={num('paper_k', quoted['kernel_size'])}"


def _ablation(num: _Numbers) -> str:
    quoted = PAPER["p1_k9"]
    return ("**The ablation.** The paper's CIFAR-10 ablation tables (their widths, depths, epochs and accuracies) are "
            "not sourced, so the two grid claims compare directions only; our cells share the recipe above. One cell "
            f"is quoted second-hand: {_quoted_cell(num)} at "
            f"{num('paper_p1_k9', quoted['value'])}% ({quoted['status']}).")


def _recipe_result(records: dict, num: _Numbers) -> str:
    result, log = records["recipe"]["result"], PAPER["recipe_log"]["value"]
    epochs = records["recipe"]["config"]["train"]["epochs"]
    text = (f"Our recipe run ends at {num('recipe_acc', result['final']['test_acc'], '.2f')}% test accuracy after "
            f"{num('recipe_minutes', result['train_time_s'] / 60, '.1f')} minutes of training; the README's run ends "
            f"at {num('readme_final', log[-1], '.2f')}% after {num('readme_log_epochs', len(log))} epochs")
    if recipe_run_kind(records["recipe"]) == "start":
        text += (f" and stood at {num('readme_at_stop', log[epochs - 1], '.2f')}% after epoch "
                 f"{num('recipe_epochs', epochs)}, where ours stops")
    return text + "."


def _grid_runs(records: dict, num: _Numbers) -> str:
    runs = records["grid"] + records.get("grid_seeds", [])
    minutes = sum(r["provenance"]["wall_time_s"] for r in runs) / 60
    return f"{num('grid_runs', len(runs))} runs ({num('grid_minutes', minutes, '.1f')} min in all), the first:"


def _seeds(records: dict, num: _Numbers) -> str:
    seeded = sorted((cell, len(accs)) for cell, accs in cell_accuracies(records).items() if len(accs) > 1)
    if not seeded:
        return "One seed per cell"
    n = min(count for _, count in seeded)
    cells = "; ".join("k=" + num(f"k{k}", k) + ", p=" + num(f"p{p}", p) for (k, p), _ in seeded)
    return (f"The cells {cells} were trained "
            f"with {num('seeds', n)} seeds (initialisation, data order and augmentation) and show the mean ± sd "
            f"(n = {num('seeds', n)})")


def _paper_values(num: _Numbers) -> str:
    kernel, patch, quoted = PAPER["kernel_direction"], PAPER["patch_direction"], PAPER["p1_k9"]
    return ("**Paper values.** The paper's CIFAR-10 kernel and patch tables are not sourced, so the grid claims "
            f"compare directions only: \"{kernel['value']}\" ({kernel['status']}: a third-party summary of the "
            f"paper) and \"{patch['value']}\" ({patch['status']}: the authors in an issue thread of the official "
            f"repository). One cell is quoted second-hand: {_quoted_cell(num)} at "
            f"{num('paper_p1_k9', quoted['value'])}% ({quoted['status']}). The table of published values names every "
            "source and status.")


def _verdict(claim, records: dict, cells, num: _Numbers) -> str:
    """A grid claim's verdict in words; outside its gate, with the reason."""
    words = verdict_words(claim.verdict)
    if claim.verdict != "not_testable_here":
        return words
    accuracies = cell_accuracies(records)
    lowest = min(sum(accuracies[cell]) / len(accuracies[cell]) for cell in cells)
    if lowest < MIN_ACCURACY:
        return (f"{words}: its lowest compared cell, at {num(f'{claim.id}_lowest', lowest, '.2f')}%, is below the "
                f"gate of {num('min_accuracy', MIN_ACCURACY, '.0f')}% (twice chance)")
    return f"{words}: no patch size has seeded cells to judge it against its noise"


def _gain(num: _Numbers, name: str, gain) -> str:
    """"+1.33 ± 0.44 points (3 seeds"; the caller closes the bracket."""
    return (f"{num(f'{name}_gain', gain.gain, '+.2f')} ± {num(f'{name}_se', gain.error, '.2f')} points "
            f"({num(f'{name}_n', gain.n)} seed{'s' * (gain.n > 1)}")


def _kernel(records: dict, verdicts: dict, num: _Numbers) -> str:
    kernels = sorted({k for k, _ in cell_accuracies(records)})
    small, large = num("k_small", kernels[0]), num("k_large", kernels[-1])
    gains = grid_gains(records)["kernel"]
    side = {"reproduced": "larger kernels better, beyond the noise",
            "not_reproduced": "larger kernels worse, beyond the noise", "within_noise": "within the noise"}
    patch = paper_patch()

    def at(p):
        return f"{_gain(num, f'kernel_p{p}', gains[p])}; {side[gains[p].verdict]}) at p={num(f'p{p}', p)}"

    others = [p for p in gains if p != patch]
    text = (f"**Kernel size.** At the paper's patch size, p={num(f'p{patch}', patch)}, k={large} minus k={small} is "
            + at(patch) + ". " if patch in gains else f"**Kernel size.** p={num(f'p{patch}', patch)}, the paper's "
            "patch size, was not run. ")
    if others:
        text += "At the other patch sizes it is " + " and ".join(at(p) for p in others) + ", shown and not judged. "
    claim = verdicts["larger_kernels_help"]
    if claim.verdict == "not_testable_here" and patch in gains:
        compared = [(k, patch) for k in (kernels[0], kernels[-1])]
        accuracies = cell_accuracies(records)
        lowest = min(sum(accuracies[cell]) / len(accuracies[cell]) for cell in compared)
        reason = (f"its lowest compared cell, at {num('larger_kernels_help_lowest', lowest, '.2f')}%, is below the "
                  f"gate of {num('min_accuracy', MIN_ACCURACY, '.0f')}% (twice chance)" if lowest < MIN_ACCURACY
                  else f"the p={num(f'p{patch}', patch)} cells have one seed, so their difference cannot be judged "
                       "against its noise")
        return text + f"The claim that larger kernels help is {verdict_words(claim.verdict)}: {reason}."
    return text + f"The claim that larger kernels help is {verdict_words(claim.verdict)}."


def _log(verdicts: dict, num: _Numbers) -> str:
    """The recipe run against the README's log, epoch by epoch (empty where the run is not the recipe)."""
    claim = verdicts["recipe_follows_log"]
    if claim.our_value is None:
        return ""
    return (f"Epoch by epoch, our run of the recipe stays within {num('log_gap', abs(claim.our_value), '.2f')} points "
            f"of the README's log at its farthest, against a tolerance of {num('log_tolerance', log_tolerance(), '.2f')} "
            f"points (the log's own largest fall between two epochs): {verdict_words(claim.verdict)}.")


def _rung(num: _Numbers, large: int, small: int, gains: dict) -> str:
    mean, error = mean_gain(gains.values())
    name = f"patch_{large}_{small}"
    higher = [k for k, g in gains.items() if g.gain > 0]
    lower = [k for k, g in gains.items() if g.gain < 0]
    beyond = [k for k, g in gains.items() if g.verdict != "within_noise"]
    if len(higher) == len(gains):
        where = f"p={num(f'p{small}', small)} is higher at every kernel size"
    elif len(lower) == len(gains):
        where = f"p={num(f'p{small}', small)} is lower at every kernel size"
    else:
        where = (f"p={num(f'p{small}', small)} is higher at {num.kernels(higher) if higher else 'no kernel size'}"
                 f" and lower at {num.kernels(lower) if lower else 'no kernel size'}")
    noise = ("every one beyond the noise" if len(beyond) == len(gains) else "none beyond the noise" if not beyond
             else f"beyond the noise at {num.kernels(beyond)} only")
    return (f"from p={num(f'p{large}', large)} to p={num(f'p{small}', small)} accuracy changes by "
            f"{num(f'{name}_gain', mean, '+.2f')} ± {num(f'{name}_se', error, '.2f')} points on average over kernel "
            f"sizes ({verdict_words(greater_verdict(mean, error))}): {where}, {noise}")


def _patch(records: dict, verdicts: dict, num: _Numbers) -> str:
    rungs = grid_gains(records)["patch"]
    table = grid_table(records)
    gmacs = table.groupby("patch")["GMACs"].mean()
    patches = sorted(gmacs.index)
    reached = [rung for rung, gains in rungs.items() if greater_verdict(*mean_gain(gains.values())) == "reproduced"]
    missed = [rung for rung in rungs if rung not in reached]
    def steps(rungs_):
        return ", ".join(f"from p={num(f'p{a}', a)} to p={num(f'p{b}', b)}" for a, b in rungs_)

    summary = ("smaller patches help on every rung" if not missed else
               "no rung shows smaller patches helping beyond the noise" if not reached else
               f"smaller patches help {steps(reached)} but not measurably {steps(missed)}")
    return ("**Patch size**, one rung of the ladder at a time: "
            + "; ".join(_rung(num, large, small, gains) for (large, small), gains in rungs.items())
            + f". So {summary}; the claim is "
              f"{_verdict(verdicts['smaller_patches_help'], records, cell_accuracies(records), num)}. "
              f"p={num(f'p{patches[0]}', patches[0])} costs "
              f"{num('gmacs_ratio', gmacs[patches[0]] / gmacs[patches[-1]], '.1f')}x the GMACs of "
              f"p={num(f'p{patches[-1]}', patches[-1])}, and the right panel shows its cost in speed.")


def _best(records: dict, num: _Numbers) -> str:
    table = grid_table(records)
    best = table.loc[table["accuracy (%)"].idxmax()]
    quoted = PAPER["p1_k9"]
    return (f"The best cell is k={num(f'k{int(best.kernel)}', int(best.kernel))}, "
            f"p={num(f'p{int(best.patch)}', int(best.patch))} at {num('best_acc', best['accuracy (%)'], '.2f')}%. The "
            f"paper's quoted {_quoted_cell(num)} cell "
            f"({num('paper_p1_k9', quoted['value'])}%, {quoted['status']}) comes from a longer training whose width, "
            "depth and epochs we could not source: this grid shows the direction of the effects, not their size.")


def _budget(records: dict, num: _Numbers) -> str:
    histories = [r["result"].get("history") for r in records["grid"] + records.get("grid_seeds", [])]
    if not all(h and len(h) > 1 for h in histories):
        return ""
    last = [h[-1]["test_acc"] - h[-2]["test_acc"] for h in histories]
    train = [h[-1]["train_acc"] for h in histories]
    return (f"No cell has converged after {num('grid_history_epochs', len(histories[0]))} epochs: the last epoch "
            f"changed test accuracy by between {num('last_epoch_min', min(last), '+.1f')} and "
            f"{num('last_epoch_max', max(last), '+.1f')} points, and the final training accuracy (on augmented images) "
            f"lies between {num('train_acc_min', min(train), '.1f')}% and {num('train_acc_max', max(train), '.1f')}%.")


def _build(records: dict) -> tuple[dict[str, str], dict[str, float]]:
    num = _Numbers()
    verdicts = {c.id: c for c in records.get("claims") or claims(records)}
    parts = {"data": _data(records, num), "recipe": _recipe(records, num), "ablation": _ablation(num),
             "recipe_result": " ".join(filter(None, [_recipe_result(records, num), _log(verdicts, num)])),
             "grid_runs": _grid_runs(records, num),
             "grid_seeds": _seeds(records, num), "paper_values": _paper_values(num),
             "kernel": _kernel(records, verdicts, num), "patch": _patch(records, verdicts, num),
             "best": _best(records, num), "budget": _budget(records, num)}
    return {name: text for name, text in parts.items() if text}, num.values


def parts(records: dict) -> dict[str, str]:
    """The page's prose by place: "data", "recipe", "ablation" (how this run differs),
    "recipe_result", "grid_runs" and "grid_seeds" (captions), "paper_values", and the findings
    "kernel", "patch", "best", "budget"."""
    return _build(records)[0]


def facts(records: dict) -> dict[str, float]:
    """Every number `parts` prints, by name."""
    return _build(records)[1]

