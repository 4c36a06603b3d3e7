from __future__ import annotations

from model_package.report import format_metrics


def test_the_metrics_table_shows_the_headline_figures(quick_results):
    table = format_metrics(quick_results["rf"].metrics)
    assert "AUC" in table and "CP@100" in table
    assert f"{quick_results['rf'].metrics['auc']:.3f}" in table
    assert "review (gap)" in table and "decline (test)" in table
