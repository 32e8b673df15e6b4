"""Tables that fit a projector (issue 14): what a table shows once, what may break, and how.

The browser test (tests/test_browser_pages.py) measures the pages; these check the pieces
without one: shared values come apart from the table without losing a cell, long words get
break points only where they are shown, and the CSS names the right columns.
"""
import pandas as pd
from hypothesis import given, strategies as st

from dlcore.results import tables
from ui import tables as ui_tables

cells = st.one_of(st.integers(-3, 3), st.sampled_from(["a", "b", "class (shortened)"]), st.none())


@given(st.lists(st.fixed_dictionaries({"run": st.text(min_size=1, max_size=5), "x": cells, "y": cells}),
                min_size=1, max_size=6))
def test_shared_values_and_the_varying_columns_hold_every_cell(rows):
    frame = pd.DataFrame(rows)
    varying, shared = tables.shared_apart(frame)
    assert "run" in varying                          # what names a row always stays
    assert set(varying) | set(shared) == set(frame.columns) and not set(varying) & set(shared)
    for column, value in shared.items():             # a shared value is every row's value
        assert frame[column].isna().all() if pd.isna(value) else (frame[column] == value).all()
    for column in set(varying) - {"run"}:            # a varying column really varies
        assert frame[column].nunique(dropna=False) > 1


def test_five_runs_that_differ_in_their_optimizer_show_two_columns():
    frame = pd.DataFrame({"run": ["a", "b"], "optimizer": ["adam", "sgd"], "epochs": [6, 6],
                          "notes": ["class preset", "class preset"]})
    assert tables.shared_apart(frame) == (["run", "optimizer"], {"epochs": 6, "notes": "class preset"})
    one = frame.iloc[:1]
    assert tables.shared_apart(one) == (["run"], {"optimizer": "adam", "epochs": 6, "notes": "class preset"})


def test_long_label_words_break_after_slash_and_underscore_only_when_shown():
    label = "mlp_dropout/rmsprop_nesterov (class, cached)"
    shown = ui_tables.breakable(label)
    assert shown.replace("\u200b", "") == label        # the same text, with break points
    assert shown.split(" ")[0] == "mlp_\u200bdropout/\u200brmsprop_\u200bnesterov"
    assert ui_tables.breakable("a/b short_x") == "a/b short_x"   # short words are left alone
    assert ui_tables.longest_word(shown) == len("rmsprop_")


def test_styles_break_long_words_and_shrink_wide_tables():
    frame = pd.DataFrame({"run": ["a"], "folder": ["batch_augmentation__M16__class"], "loss": [0.1234567891234],
                          "model": ["name=mlp, regularizer=l2"]})
    styles = {s["selector"]: s["props"] for s in ui_tables.table_styles(frame)}
    # The folder (copied whole, so no invisible characters) may break anywhere; a long number is shown
    # formatted and a label breaks at its spaces: neither needs it.
    assert styles == {".col1 p": "overflow-wrap: anywhere;"}
    wide = pd.DataFrame({f"c{i}": ["x"] for i in range(ui_tables.MANY_COLUMNS + 1)})
    assert ui_tables.table_styles(wide)[0] == {"selector": "", "props": "font-size: 0.8rem;"}
    # Hidden (shared) columns are not shown and do not count towards the width.
    hidden = ui_tables.table_styles(wide, hidden={"c0"})
    assert {"selector": ".col0", "props": "display: none;"} in hidden and len(hidden) == 1
