"""The audit data model: model versions, transactions, predictions, scoring requests, reviews, audit events.

Audit rows (Prediction, ScoringRequest, Review, AuditEvent) are append-only: the ORM refuses to update or
delete them. Only the retention service (services/retention.py) deletes, inside
`audit_deletion_allowed()`.
"""

from __future__ import annotations

import contextlib
import contextvars
import uuid
from collections.abc import Iterator

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

_deletion_allowed: contextvars.ContextVar[bool] = contextvars.ContextVar("audit_deletion_allowed", default=False)


# services/integrity.py computes it; verify_audit checks it.
DIGEST_HELP = "HMAC-SHA256 of the row's content under FRAUDSITE_AUDIT_KEY (services/integrity.py)"


class AuditImmutableError(Exception):
    """Raised when code tries to change or delete an append-only audit row."""


@contextlib.contextmanager
def audit_deletion_allowed() -> Iterator[None]:
    """Let the retention service delete audit rows inside this block; nothing else may.

    The block is one database transaction holding the triggers' permit (AuditPurgePermit, migration 0009):
    the ORM's guard and the database's open together, and only here.
    """
    token = _deletion_allowed.set(True)
    try:
        with transaction.atomic():
            permit = AuditPurgePermit.objects.create()
            yield
            permit.delete()
    finally:
        _deletion_allowed.reset(token)


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditImmutableError(f"{self.model.__name__} rows are append-only and cannot be updated")

    def delete(self):
        if not _deletion_allowed.get():
            raise AuditImmutableError(f"{self.model.__name__} rows are append-only; only purge_audit deletes them")
        return super().delete()

    # Django's own deletion collector uses this; keep it behind the same gate.
    def _raw_delete(self, using):
        if not _deletion_allowed.get():
            raise AuditImmutableError(f"{self.model.__name__} rows are append-only; only purge_audit deletes them")
        return super()._raw_delete(using)


class AppendOnlyModel(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditImmutableError(f"{type(self).__name__} rows are append-only and cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if not _deletion_allowed.get():
            raise AuditImmutableError(f"{type(self).__name__} rows are append-only; only purge_audit deletes them")
        return super().delete(*args, **kwargs)


class Decision(models.TextChoices):
    APPROVE = "approve"
    REVIEW = "review"
    DECLINE = "decline"


class Label(models.TextChoices):
    FRAUD = "fraud"
    LEGITIMATE = "legitimate"
    UNKNOWN = "unknown"


class LabelSource(models.TextChoices):
    REVIEW = "review"
    CHARGEBACK = "chargeback"
    HISTORY = "history", "loaded with history"


class ModelVersion(models.Model):
    version = models.CharField(max_length=64, unique=True)
    algorithm = models.CharField(max_length=16)
    artifact_path = models.CharField(max_length=500)
    artifact_sha256 = models.CharField(max_length=64, help_text="sha256 of the artifact's manifest.json")
    feature_names = models.JSONField()
    parameters = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    thresholds = models.JSONField(help_text='{"review": float, "decline": float}')
    training_window = models.JSONField(default=dict, blank=True)
    training_fingerprint = models.CharField(max_length=64, blank=True)
    trained_at = models.DateTimeField()
    registered_at = models.DateTimeField(default=timezone.now)
    is_active = models.BooleanField(default=False)
    activated_at = models.DateTimeField(null=True, blank=True)
    is_challenger = models.BooleanField(
        default=False, help_text="scored beside the active model on every request, stored as shadow, never deciding"
    )

    class Meta:
        ordering = ["-registered_at"]
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="at_most_one_active_model"),
            models.UniqueConstraint(
                fields=["is_challenger"], condition=Q(is_challenger=True), name="at_most_one_challenger_model"
            ),
        ]
        permissions = [("activate_modelversion", "Can activate a model version")]

    def __str__(self) -> str:
        return self.version + (" (active)" if self.is_active else " (challenger)" if self.is_challenger else "")


class Transaction(models.Model):
    transaction_id = models.CharField(max_length=64)  # unique: see Meta.constraints
    timestamp = models.DateTimeField()
    customer_id = models.CharField(max_length=64)
    terminal_id = models.CharField(max_length=64)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    metadata = models.JSONField(default=dict, blank=True)
    label = models.CharField(max_length=10, choices=Label.choices, default=Label.UNKNOWN)
    label_source = models.CharField(max_length=10, choices=LabelSource.choices, blank=True)
    labelled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    digest = models.CharField(max_length=64, editable=False, help_text=DIGEST_HELP)

    class Meta:
        ordering = ["-timestamp"]
        permissions = [
            ("score_transaction", "Can submit transactions for scoring"),
            ("label_transaction", "Can record a transaction's ground-truth label"),
        ]
        constraints = [
            # A constraint rather than unique=True: on PostgreSQL that would add a second index for LIKE
            # prefix searches, which nothing here makes, to every insert into the largest table.
            models.UniqueConstraint(fields=["transaction_id"], name="transaction_id_unique"),
        ]
        indexes = [
            # Covering indexes for the two history queries of the scoring path.
            models.Index(fields=["customer_id", "timestamp", "amount"], name="tx_customer_history"),
            models.Index(fields=["terminal_id", "timestamp", "label"], name="tx_terminal_history"),
            models.Index(fields=["timestamp"], name="tx_timestamp"),
        ]

    def __str__(self) -> str:
        return self.transaction_id


class ScoringRequest(AppendOnlyModel):
    request_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    received_at = models.DateTimeField(default=timezone.now)
    endpoint = models.CharField(max_length=32, help_text="transactions, batch or score_file")
    client = models.CharField(max_length=150, blank=True, help_text="username of the caller")
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    body = models.TextField(blank=True, help_text="request body, capped at FRAUDSITE_AUDIT_BODY_BYTES")
    body_truncated = models.BooleanField(default=False)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField(null=True, blank=True)
    duration_ms = models.FloatField()
    error = models.CharField(max_length=200, blank=True)
    replayed = models.BooleanField(default=False)
    digest = models.CharField(max_length=64, editable=False, help_text=DIGEST_HELP)

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["received_at"], name="request_received_at")]

    def __str__(self) -> str:
        return f"{self.endpoint} {self.status_code} {self.request_id}"


class ListName(models.TextChoices):
    BLOCK = "block"
    ALLOW = "allow"


class ListField(models.TextChoices):
    CUSTOMER = "customer_id", "customer"
    TERMINAL = "terminal_id", "terminal"


class ListEntry(models.Model):
    """A customer or terminal on the block or the allow list (services/decisions.py applies them).

    Entries are never changed or deleted: removing one sets removed_at, so what was in force when a
    prediction was scored can still be read back (rescore --verify). Every add and removal is an AuditEvent.
    """

    list = models.CharField(max_length=5, choices=ListName.choices)
    field = models.CharField(max_length=11, choices=ListField.choices)
    value = models.CharField(max_length=64)
    reason = models.CharField(max_length=500)
    author = models.CharField(max_length=150, help_text="who added it: a user name, or os:<login>")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="it stops applying then; empty: never")
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "list entry"
        verbose_name_plural = "block and allow lists"
        indexes = [models.Index(fields=["field", "value"], name="list_entry_lookup")]

    def __str__(self) -> str:
        return f"{self.list} {self.get_field_display()} {self.value}"


class RuleSetVersion(models.Model):
    """A named, immutable set of rules (JSON Logic conditions), activated like a model version.

    rules: [{"name": str, "condition": JSON Logic, "decision": "review" | "decline"}], checked by
    services/decisions.py's rule_set_check before it is saved.
    """

    version = models.CharField(max_length=64, unique=True)
    rules = models.JSONField()
    description = models.TextField(blank=True)
    author = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now)
    is_active = models.BooleanField(default=False)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="at_most_one_active_rule_set"
            )
        ]
        permissions = [("activate_rulesetversion", "Can activate a rule set version")]

    def __str__(self) -> str:
        return self.version + (" (active)" if self.is_active else "")


class DecisionPolicyState(models.Model):
    """One row whose generation goes up with every list change and rule-set activation, in the change's
    transaction: the scoring path reads it to know when its cached lists and rules are stale."""

    generation = models.BigIntegerField(default=0)


class Prediction(AppendOnlyModel):
    transaction = models.ForeignKey(Transaction, on_delete=models.PROTECT, related_name="predictions")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="predictions")
    request = models.ForeignKey(
        ScoringRequest, on_delete=models.PROTECT, related_name="predictions", null=True, blank=True
    )
    score = models.FloatField()
    decision = models.CharField(max_length=8, choices=Decision.choices)
    thresholds = models.JSONField(help_text="the thresholds the decision was taken with")
    # A list, not {name: value}: the 15 names would be two thirds of the row (see bench/RESULTS.md, batch).
    features = models.JSONField(help_text="the exact feature vector: its values, in model_version.feature_names order")
    reasons = models.JSONField(default=list, help_text="[{feature, value, contribution}], strongest first")
    latency_ms = models.FloatField()
    scored_at = models.DateTimeField(default=timezone.now)
    # The decision layer (services/decisions.py). All null on predictions made before it, and on score_file's,
    # where `decision` is the model's. Nullable columns: SQLite adds them without rebuilding the table (which
    # would drop its audit triggers), and the bulk writers that do not name them still insert.
    model_decision = models.CharField(max_length=8, choices=Decision.choices, null=True, blank=True)
    rules = models.JSONField(null=True, blank=True, help_text="the names of the rules that fired")
    rule_errors = models.JSONField(null=True, blank=True, help_text="[{rule, error}]: rules that failed to evaluate")
    list_entry = models.JSONField(null=True, blank=True, help_text="the list entry that decided, as it was then")
    rule_set = models.ForeignKey(
        RuleSetVersion, on_delete=models.PROTECT, null=True, blank=True, db_index=False, related_name="+"
    )
    digest = models.CharField(max_length=64, editable=False, help_text=DIGEST_HELP)

    class Meta:
        ordering = ["-scored_at"]
        indexes = [
            models.Index(fields=["decision", "-score"], name="prediction_queue"),
            models.Index(fields=["scored_at"], name="prediction_scored_at"),
            # A transaction's latest prediction (selectors.transactions_with_latest_score): one index probe per
            # listed transaction, where PostgreSQL without statistics scanned the table once per row.
            models.Index(fields=["transaction", "-id"], name="prediction_latest"),
        ]

    def __str__(self) -> str:
        return f"{self.transaction_id}: {self.score:.3f} {self.decision}"

    @property
    def flagged(self) -> bool:
        return self.decision != Decision.APPROVE

    @property
    def named_features(self) -> dict[str, float]:
        """The feature vector as {name: value}, in the model version's feature order."""
        return dict(zip(self.model_version.feature_names, self.features, strict=False))


class ShadowPrediction(AppendOnlyModel):
    """The challenger model's prediction of a scored transaction: stored beside the champion's Prediction, in
    the same atomic write and with the same request, and never part of the answer.

    A table of its own, not a flag on Prediction, so that every reader of "the prediction of a transaction"
    (the API, the admin, the review queue, replays, exports, evaluation) keeps reading the champion's.
    """

    transaction = models.ForeignKey(Transaction, on_delete=models.PROTECT, related_name="shadow_predictions")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="shadow_predictions")
    request = models.ForeignKey(
        ScoringRequest, on_delete=models.PROTECT, related_name="shadow_predictions", null=True, blank=True
    )
    score = models.FloatField()
    decision = models.CharField(max_length=8, choices=Decision.choices, help_text="what the challenger would decide")
    thresholds = models.JSONField(help_text="the challenger's thresholds")
    features = models.JSONField(help_text="the feature vector, in model_version.feature_names order")
    reasons = models.JSONField(default=list, help_text="[{feature, value, contribution}], strongest first")
    latency_ms = models.FloatField()
    scored_at = models.DateTimeField(default=timezone.now)
    digest = models.CharField(max_length=64, editable=False, help_text=DIGEST_HELP)

    class Meta:
        ordering = ["-scored_at"]
        indexes = [
            models.Index(fields=["scored_at"], name="shadow_scored_at"),
            models.Index(fields=["model_version", "transaction"], name="shadow_version_transaction"),
        ]

    def __str__(self) -> str:
        return f"{self.transaction_id}: shadow {self.score:.3f} {self.decision}"


class Review(AppendOnlyModel):
    transaction = models.ForeignKey(Transaction, on_delete=models.PROTECT, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews")
    outcome = models.CharField(max_length=10, choices=[(Label.FRAUD, "fraud"), (Label.LEGITIMATE, "legitimate")])
    notes = models.TextField(blank=True)
    reviewed_at = models.DateTimeField(default=timezone.now)
    digest = models.CharField(max_length=64, editable=False, help_text=DIGEST_HELP)

    class Meta:
        ordering = ["-reviewed_at"]
        indexes = [models.Index(fields=["reviewed_at"], name="review_reviewed_at")]

    def __str__(self) -> str:
        return f"{self.transaction_id} {self.outcome} by {self.reviewer_id}"


class AuditAction(models.TextChoices):
    LABEL_SET = "label.set", "label set"
    MODEL_ACTIVATED = "model.activated", "model activated"
    CHALLENGER_SET = "model.challenger", "challenger model set"
    CLIENT_CREATED = "client.created", "API client created"
    CLIENT_ROTATED = "client.rotated", "API client key rotated"
    CLIENT_REVOKED = "client.revoked", "API client revoked"
    AUDIT_PURGED = "audit.purged", "audit rows purged"
    LIST_ADDED = "list.added", "list entry added"
    LIST_REMOVED = "list.removed", "list entry removed"
    RULES_CREATED = "rules.created", "rule set version created"
    RULES_ACTIVATED = "rules.activated", "rule set version activated"


class AuditEvent(AppendOnlyModel):
    """Who did what: one row per human or admin action, written in the same database transaction as the change.

    The actor is kept as text, not a foreign key: the event outlives the account, and names a command's
    operating-system user, who has no account here.
    """

    occurred_at = models.DateTimeField(default=timezone.now)
    actor = models.CharField(max_length=150, help_text="the user name, or os:<login> for a management command")
    via = models.CharField(max_length=32, help_text="admin, api, or the management command's name")
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    target_type = models.CharField(max_length=32, help_text="transaction, model_version or api_client")
    target_id = models.CharField(max_length=150)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    digest = models.CharField(max_length=64, editable=False, help_text=DIGEST_HELP)

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        indexes = [
            models.Index(fields=["occurred_at"], name="event_occurred_at"),
            models.Index(fields=["target_type", "target_id"], name="event_target"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.target_type} {self.target_id} by {self.actor}"


class ReviewQueueItem(Prediction):
    """A flagged prediction seen as an item of work: a proxy, so the review queue gets its own admin page."""

    class Meta:
        proxy = True
        verbose_name = "review queue item"
        verbose_name_plural = "review queue"
        ordering = ["-score", "pk"]


class AuditSeal(AppendOnlyModel):
    """A sealed block: which rows of one audit table existed, and the hash of their digests, at sealing time.

    Seals form one chain (each holds the digest of the one before), so a removed or an inserted row in a
    sealed range, and a removed or edited seal, show in verify_audit. seal_audit writes them.
    """

    kind = models.CharField(max_length=16, help_text="transaction, request, prediction, review or event")
    first_pk = models.BigIntegerField()
    last_pk = models.BigIntegerField()
    pk_ranges = models.JSONField(help_text="[[first, last], ...]: the primary keys sealed, as closed ranges")
    count = models.PositiveIntegerField()
    root = models.CharField(max_length=64, help_text="sha256 of the sealed rows' digests, in primary key order")
    first_time = models.DateTimeField()
    last_time = models.DateTimeField()
    sealed_at = models.DateTimeField(default=timezone.now)
    previous = models.CharField(max_length=64, help_text="the digest of the seal before this one; '' for the first")
    digest = models.CharField(max_length=64, editable=False, help_text=DIGEST_HELP)

    class Meta:
        ordering = ["pk"]
        constraints = [
            # One chain: two sealers that race both read the same previous seal, and one of them fails.
            models.UniqueConstraint(fields=["previous"], name="seal_chain_one_successor"),
            models.UniqueConstraint(fields=["kind", "first_pk"], name="seal_kind_first_pk"),
        ]

    def __str__(self) -> str:
        return f"seal {self.pk}: {self.kind} {self.first_pk}..{self.last_pk} ({self.count} rows)"


class AuditPurgePermit(models.Model):
    """While purge_audit's transaction holds a row here, the database triggers let it delete audit rows.

    The row is inserted and deleted inside that one transaction, so no other connection ever sees it.
    """

    granted_at = models.DateTimeField(default=timezone.now)
