"""Reporting a training run: its metrics as the table the CLIs print."""

from __future__ import annotations

from typing import Any

from model_package.evaluate import TOP_K


def format_metrics(metrics: dict) -> str:
    """The metrics table the CLIs print."""

    def number(value: Any, spec: str = ".3f") -> str:
        return "-" if value is None else format(value, spec)

    test, train, chosen = metrics["test"], metrics.get("train", {}), metrics.get("thresholds", {})
    k = metrics.get("k", TOP_K)
    lines = [
        f"{'':14}{'AUC':>7}{'AP':>7}{f'CP@{k}':>8}{'transactions':>14}{'frauds':>8}",
        f"{'test':14}{number(metrics['auc']):>7}{number(metrics['average_precision']):>7}"
        f"{number(metrics['card_precision_at_k']):>8}{test['transactions']:>14,}{test['frauds']:>8,}",
    ]
    if train:
        lines.append(f"{'train':14}{'':22}{train['transactions']:>14,}{train['frauds']:>8,}")
    lines += ["", f"{'':14}{'threshold':>10}{'precision':>11}{'recall':>8}{'alerts/day':>12}"]
    for name in ("review", "decline"):
        rows = [("gap", chosen.get(name)), ("test", test[name])] if chosen else [("test", test[name])]
        for where, row in rows:
            threshold = chosen.get(name, {}).get("threshold") if chosen else None
            lines.append(
                f"{name + ' (' + where + ')':14}{number(threshold, '.4f'):>10}{number(row['precision']):>11}"
                f"{number(row['recall']):>8}{number(row['alerts_per_day'], '.1f'):>12}"
            )
    if chosen:
        lines.append(f"thresholds chosen on {chosen['days'][0]} .. {chosen['days'][-1]}: {chosen['rule']}")
    return "\n".join(lines)
