"""The papers' claims beside an experiment's results: per claim, its citation, the claim and the
published figure once, then a small table with a row per run (or run pair) that bears on it.

Every verdict comes from dlcore.results.claims, computed from the runs shown
(reproduced / not reproduced / not comparable, with the reason); this module
only draws.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from dlcore.results import claims
from ui.tables import draw_table

VERDICT_MARKS = {claims.REPRODUCED: "✅ reproduced", claims.NOT_REPRODUCED: "❌ not reproduced",
                 claims.NOT_COMPARABLE: "⚠️ not comparable"}


def draw_claims(experiments: list[str], runs_list: list, title: str = "What the papers claim") -> None:
    """The claims bearing on `experiments`, checked against `runs_list` (nothing when none bears)."""
    wanted = list({c.key: c for e in experiments for c in claims.claims_for(e)}.values())
    if not wanted:
        return
    st.markdown(f"**{title}, checked against these runs**")
    for claim in wanted:
        verdicts = claims.check_claim(claim, runs_list)
        st.markdown(f"*{claim.citation}*: {claim.claim} **Published:** {claim.published}.")
        if not verdicts:
            st.caption("No run shown here bears on this claim.")
            continue
        draw_table(pd.DataFrame([{"verdict": VERDICT_MARKS[v.verdict], "our run": v.runs, "measured": v.measured,
                                  "why (or what decided it)": "; ".join(v.reasons)} for v in verdicts]))
    st.caption("Verdicts are computed from the runs (dlcore.results.claims): reproduced or not reproduced only "
               "when the run is like for like (full preset, not cut short, the paper's batch size and data "
               "set); otherwise not comparable, with every reason.")
