"""dlcore.results.claims: the papers' claims checked against hand-made run folders; every verdict
follows from the runs (change a number, the verdict changes)."""
import json

import pytest
import runfolders  # tests/runfolders.py: realistic run folders, JSON only

from dlcore.engine import experiments, runs
from dlcore.results import claims


def resnet_spec(preset="full", M=1, **changes) -> dict:
    spec = experiments.resnet_runs(preset, Ms=(M,))[0].to_dict()
    spec.update(changes)
    return spec


def clr_spec(preset="full", **changes) -> dict:
    spec = experiments.clr_runs(preset, 1e-4, 1e-2)[0].to_dict()
    spec.update(changes)
    return spec


def make_run(root, name, spec, accuracies, state="finished", planned=None, updates_per_epoch=391):
    """A cached run folder whose epochs reach `accuracies` (test accuracy per epoch)."""
    spec = {**spec, "epochs": planned or spec["epochs"]}
    path = runfolders.write_run(root / spec["experiment"] / name, spec, state, len(accuracies))
    records = []
    for e, acc in enumerate(accuracies, 1):
        records.append({"event": "batch", "epoch": e, "batch": updates_per_epoch, "step": e * updates_per_epoch,
                        "loss": 1.0, "accuracy": acc, "lr": 0.1, "batch_size": spec["batch_size"],
                        "wall_s": 10.0 * e})
        records.append({"event": "epoch", "epoch": e, "loss": 1.0, "accuracy": acc, "val_loss": 1.0,
                        "val_accuracy": acc, "lr": 0.1, "batch_size": spec["batch_size"],
                        "samples": 50_000, "images": 50_000, "wall_s": 10.0 * e})
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return runs.read_run(path, "cached")


@pytest.fixture
def cached(run_roots):
    return run_roots[1]


def only(verdicts):
    assert len(verdicts) == 1
    return verdicts[0]


HE = claims.BY_KEY["he2016_resnet44"]
SMITH = claims.BY_KEY["smith2017_clr"]
HOFFER = claims.BY_KEY["hoffer2019_batch_augmentation"]
DEVRIES = claims.BY_KEY["devries2017_cutout"]
PAPER_RESNET = {"batch_size": 128, "stop": {}}   # He et al.'s batch, no 92 % stop rule


# --- The citations, exactly ------------------------------------------------------------------

def test_citations_are_exact():
    assert HE.citation == 'He, Zhang, Ren & Sun (2016), "Deep Residual Learning for Image Recognition", ' \
                         'CVPR 2016, Table 6'
    assert "7.17 %" in HE.published and "±0.5" in HE.published
    assert SMITH.citation == 'Smith (2017), "Cyclical Learning Rates for Training Neural Networks", WACV 2017'
    assert "81.4 %" in SMITH.published and "25k" in SMITH.published and "70k" in SMITH.published
    assert "Hoffer, Ben-Nun, Hubara, Giladi, Hoefler & Soudry" in HOFFER.citation
    assert '"Augment Your Batch: Improving Generalization Through Instance Repetition"' in HOFFER.citation
    assert "CVPR 2020" in HOFFER.citation and "arXiv:1901.09335" in HOFFER.citation
    assert DEVRIES.citation == 'DeVries & Taylor (2017), "Improved Regularization of Convolutional Neural ' \
                               'Networks with Cutout", arXiv:1708.04552'
    assert "length 16" in DEVRIES.published


# --- He et al. 2016: ResNet-44, 7.17 % ----------------------------------------------------------

def test_resnet44_within_half_a_point_of_7_17_is_reproduced(cached):
    run = make_run(cached, "M1", resnet_spec(**PAPER_RESNET), [0.80, 0.90, 0.9265])   # 7.35 % error
    v = only(claims.check_claim(HE, [run]))
    assert v.verdict == claims.REPRODUCED and "7.35%" in v.measured


def test_resnet44_at_8_percent_error_is_not_reproduced(cached):
    run = make_run(cached, "M1", resnet_spec(**PAPER_RESNET), [0.80, 0.90, 0.92])
    assert only(claims.check_claim(HE, [run])).verdict == claims.NOT_REPRODUCED


@pytest.mark.parametrize("changes, state, planned, reason", [
    ({"batch_size": 64, "stop": {}}, "finished", None, "different batch size (64; the paper: 128)"),
    (PAPER_RESNET, "cancelled", 100, "cut short (3 of 100 epochs, cancelled)"),
    ({"batch_size": 128, "stop": {"val_accuracy": 0.92}}, "finished", None, "stopped at its 92% accuracy target"),
    ({**PAPER_RESNET, "dataset": "synthetic_cifar10"}, "finished", None, "different data set"),
])
def test_resnet44_not_like_for_like_is_not_comparable_and_says_why(cached, changes, state, planned, reason):
    run = make_run(cached, "M1", resnet_spec(**changes), [0.80, 0.90, 0.935], state=state, planned=planned)
    v = only(claims.check_claim(HE, [run]))
    assert v.verdict == claims.NOT_COMPARABLE
    assert any(r.startswith(reason) for r in v.reasons), v.reasons


def test_a_shortened_preset_is_not_comparable(cached):
    run = make_run(cached, "M1__class", resnet_spec("class", **PAPER_RESNET), [0.5, 0.6])
    v = only(claims.check_claim(HE, [run]))
    assert v.verdict == claims.NOT_COMPARABLE and "shortened preset (class)" in v.reasons


# --- Smith 2017: 81.4 % in 25k iterations --------------------------------------------------------

def test_clr_on_cifar10_within_25k_updates_is_reproduced(cached):
    run = make_run(cached, "exp_range", clr_spec(dataset="cifar10"), [0.6, 0.75, 0.815], updates_per_epoch=8000)
    v = only(claims.check_claim(SMITH, [run]))
    assert v.verdict == claims.REPRODUCED and "24,000 updates" in v.measured


def test_clr_needing_more_than_25k_updates_is_not_reproduced(cached):
    run = make_run(cached, "exp_range", clr_spec(dataset="cifar10"), [0.6, 0.75, 0.815], updates_per_epoch=9000)
    assert only(claims.check_claim(SMITH, [run])).verdict == claims.NOT_REPRODUCED


def test_clr_on_fashion_mnist_is_not_comparable(cached):
    run = make_run(cached, "exp_range", clr_spec(), [0.85, 0.9])
    v = only(claims.check_claim(SMITH, [run]))
    assert v.verdict == claims.NOT_COMPARABLE
    assert "different data set (Fashion-MNIST; the paper: CIFAR-10)" in v.reasons


# --- Hoffer et al.: the baseline's accuracy in fewer epochs -----------------------------------------

BASELINE = [0.5, 0.6, 0.7, 0.8]                 # reaches its final 80 % at epoch 4


def test_batch_augmentation_reaching_the_baseline_sooner_is_reproduced(cached):
    base = make_run(cached, "M1", resnet_spec(), BASELINE)
    m4 = make_run(cached, "M4", resnet_spec(M=4), [0.6, 0.81, 0.85, 0.86])
    v = only(claims.check_claim(HOFFER, [base, m4]))
    assert v.verdict == claims.REPRODUCED
    assert "baseline: 80.0% first at epoch 4; M = 4: at epoch 2" in v.measured


def test_batch_augmentation_reaching_it_later_is_not_reproduced(cached):
    base = make_run(cached, "M1", resnet_spec(), BASELINE)
    m4 = make_run(cached, "M4", resnet_spec(M=4), [0.4, 0.5, 0.6, 0.7, 0.81])
    assert only(claims.check_claim(HOFFER, [base, m4])).verdict == claims.NOT_REPRODUCED


def test_batch_augmentation_with_another_batch_size_is_not_comparable(cached):
    base = make_run(cached, "M1", resnet_spec(), BASELINE)
    m4 = make_run(cached, "M4", resnet_spec(M=4, batch_size=32), [0.6, 0.81])
    v = only(claims.check_claim(HOFFER, [base, m4]))
    assert v.verdict == claims.NOT_COMPARABLE
    assert "different batch size (32 samples; baseline 64)" in v.reasons


def test_a_cut_short_baseline_makes_the_comparison_not_comparable(cached):
    base = make_run(cached, "M1", resnet_spec(), BASELINE[:2], state="cancelled", planned=100)
    m4 = make_run(cached, "M4", resnet_spec(M=4), [0.6, 0.81])
    v = only(claims.check_claim(HOFFER, [base, m4]))
    assert v.verdict == claims.NOT_COMPARABLE
    assert "baseline cut short (2 of 100 epochs, cancelled)" in v.reasons


def test_each_m_gets_its_own_verdict_against_the_same_baseline(cached):
    base = make_run(cached, "M1", resnet_spec(), BASELINE)
    found = [make_run(cached, f"M{m}", resnet_spec(M=m), [0.6, 0.81]) for m in (2, 8)]
    verdicts = claims.check_claim(HOFFER, [base, *found])
    assert [v.runs.split(" vs ")[1] for v in verdicts] == ["resnet/M1 (full, cached)"] * 2
    assert ["M = 2" in v.measured for v in verdicts] == [True, False]


# --- DeVries & Taylor: cutout length 16 -------------------------------------------------------------

def test_cutout_comes_with_m_copies_so_its_own_effect_is_not_comparable(cached):
    base = make_run(cached, "M1", resnet_spec(), BASELINE)
    m4 = make_run(cached, "M4", resnet_spec(M=4), [0.6, 0.7, 0.8, 0.85])
    v = only(claims.check_claim(DEVRIES, [base, m4]))
    assert v.verdict == claims.NOT_COMPARABLE
    assert "cutout length 16 with M = 4 copies" in v.measured and "15.00% test error" in v.measured
    assert any("not isolated" in r for r in v.reasons)


def test_cutout_alone_with_lower_error_than_without_is_reproduced(cached):
    base = make_run(cached, "M1", resnet_spec(), BASELINE)
    spec = resnet_spec(M=4)
    spec["augment"] = {**spec["augment"], "M": 1}           # one copy: cutout on its own
    alone = make_run(cached, "cutout16", spec, [0.6, 0.7, 0.8, 0.84])
    v = only(claims.check_claim(DEVRIES, [base, alone]))
    assert v.verdict == claims.REPRODUCED
    spec["augment"] = {**spec["augment"], "cutout": 8}
    other = make_run(cached, "cutout8", spec, [0.6, 0.7, 0.8, 0.84])
    v = only(claims.check_claim(DEVRIES, [base, other]))
    assert v.verdict == claims.NOT_COMPARABLE and "different cutout length (8; the paper: 16)" in v.reasons


# --- The table beside each experiment ---------------------------------------------------------------

def test_claims_table_lists_every_verdict_of_an_experiments_claims(cached):
    base = make_run(cached, "M1", resnet_spec(), BASELINE)
    m4 = make_run(cached, "M4", resnet_spec(M=4), [0.6, 0.81])
    table = claims.claims_table(claims.claims_for("resnet"), [base, m4])
    assert list(table.columns) == ["paper", "claim", "published", "our run", "measured", "verdict", "why"]
    assert set(table["verdict"]) <= set(claims.VERDICTS)
    assert len(table) == 3              # He (the M1 run), Hoffer (M4 vs M1), DeVries (M4 vs M1)
    assert [c.key for c in claims.claims_for("batch_augmentation")] == [HOFFER.key, DEVRIES.key]
    assert claims.claims_for("mlp_l2") == []
