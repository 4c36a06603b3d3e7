"""Parity: the features the service stores equal model_package's offline feature table, row for row.

The service sees only what the database holds when a transaction arrives. So the test loads the
earlier history with its labels into Transaction rows, then replays later transactions one by one,
in (timestamp, transaction_id) order, through POST /api/v1/transactions/.

Which labels does the service see? The history's, as loaded (fraud / legitimate). A replayed
transaction is stored with label "unknown", and the terminal windows of later replayed rows count it
as not fraud. The offline table is therefore computed on history + replayed rows with the replayed
rows' is_fraud set to 0: that is exactly the information the service had.

Each model version gets its own feature list: the default model's (every feature) and a model of the
HANDBOOK's 15 made before issue 14 are both replayed.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from model_package.features import ALL_FEATURE_NAMES, FEATURE_NAMES, feature_table
from predictions.models import LabelSource, Prediction, Transaction
from predictions.services.events import Actor
from predictions.services.model_versions import model_version_activate, model_version_register

ACTOR = Actor(name="tester", via="test")
HISTORY_DAYS = 45  # more than the 37 days the terminal windows reach back
REPLAYED = 300


@pytest.fixture(params=["default", "legacy"], ids=["the default model", "a model of the 15 features"])
def scoring_model(request, db, trained_artifact, legacy_artifact):
    artifact = {"default": trained_artifact, "legacy": legacy_artifact}[request.param]
    version = model_version_register(artifact_dir=artifact)
    return model_version_activate(version=version.version, actor=ACTOR)


@pytest.mark.django_db
@pytest.mark.slow
@pytest.mark.parametrize("batch_size", [0, 100], ids=["one by one", "in batches of 100"])
def test_stored_feature_vectors_equal_the_offline_feature_table(
    scoring_client, scoring_model, small_transactions, batch_size
):
    names = scoring_model.feature_names
    table = small_transactions.sort_values(["timestamp", "transaction_id"]).reset_index(drop=True)
    # Amounts as the service stores them (Decimal cents, read back as float).
    table["amount"] = [float(Decimal(f"{amount:.2f}")) for amount in table["amount"]]
    cutoff = table["timestamp"].min().normalize() + pd.Timedelta(days=HISTORY_DAYS)
    history = table[table["timestamp"] < cutoff]
    replayed = table[table["timestamp"] >= cutoff].head(REPLAYED)
    Transaction.objects.bulk_create(
        [
            Transaction(
                transaction_id=row.transaction_id,
                timestamp=row.timestamp.to_pydatetime(),
                customer_id=row.customer_id,
                terminal_id=row.terminal_id,
                amount=Decimal(f"{row.amount:.2f}"),
                currency="EUR",
                label="fraud" if row.is_fraud else "legitimate",
                label_source=LabelSource.HISTORY,
            )
            for row in history.itertuples()
        ],
        batch_size=2000,
    )

    bodies = [
        {
            "transaction_id": row.transaction_id,
            "timestamp": row.timestamp.isoformat(),
            "customer_id": row.customer_id,
            "terminal_id": row.terminal_id,
            "amount": f"{row.amount:.2f}",
        }
        for row in replayed.itertuples()
    ]
    if batch_size:  # a batch's items see the history stored before it and the batch's earlier items
        for first in range(0, len(bodies), batch_size):
            items = {"items": bodies[first : first + batch_size]}
            assert scoring_client.post("/api/v1/transactions/batch/", items, format="json").status_code == 201
    else:
        for body in bodies:
            assert scoring_client.post("/api/v1/transactions/", body, format="json").status_code == 201

    offline = feature_table(pd.concat([history, replayed.assign(is_fraud=0)]), names).loc[replayed.index]
    stored = {
        p.transaction.transaction_id: p.named_features
        for p in Prediction.objects.select_related("transaction", "model_version")
    }
    assert len(stored) == REPLAYED
    mismatches = []
    for index, row in replayed.iterrows():
        served = stored[row["transaction_id"]]
        assert list(served) == names
        if list(served.values()) != offline.loc[index].tolist():
            mismatches.append((row["transaction_id"], served, offline.loc[index].to_dict()))
    assert mismatches == []
    assert names in (list(ALL_FEATURE_NAMES), list(FEATURE_NAMES))
    # The replay must exercise the windows, not only empty histories.
    assert offline["TERMINAL_ID_RISK_30DAY_WINDOW"].gt(0).any()
    assert offline["CUSTOMER_ID_NB_TX_1DAY_WINDOW"].gt(1).any()
    if names == list(ALL_FEATURE_NAMES):
        assert offline["TERMINAL_ID_DAYS_SINCE_LAST_FRAUD_30DAY_WINDOW"].lt(37).any()
        assert offline["CUSTOMER_ID_AMOUNT_ZSCORE_30DAY_WINDOW"].abs().gt(2).any()
