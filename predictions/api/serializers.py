"""Serializers: the input rules of a transaction (predictions.rules) and the shapes the API answers with."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from predictions import rules
from predictions.models import (
    Decision,
    Label,
    LabelSource,
    ListField,
    ListName,
    ModelVersion,
    Prediction,
    Review,
    Transaction,
)


def _messages(message: str, *keys: str) -> dict[str, str]:
    """The same message of predictions.rules for each of these DRF error keys."""
    return dict.fromkeys(keys, message)


class StrictSerializer(serializers.Serializer):
    """A serializer that refuses fields it does not define instead of silently dropping them.

    openapi_rules: JSON Schema keywords the OpenAPI schema adds to the object, for the rules its
    validate() checks across fields (predictions.api.schema.StrictSerializerExtension).
    """

    openapi_rules: dict[str, Any] = {}

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        unknown = {}
        if isinstance(data, Mapping):
            unknown = {
                name: [ErrorDetail("Unknown field.", code="unknown_field")] for name in data if name not in self.fields
            }
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **unknown}) from None
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


class FullMatchValidator(RegexValidator):
    """A RegexValidator that matches the whole value (Django's searches, and its $ lets a final newline pass).

    A RegexValidator still, so that the OpenAPI schema shows its pattern.
    """

    def __call__(self, value: Any) -> None:
        if not self.regex.fullmatch(str(value)):
            raise ValidationError(self.message, code=self.code)


class TextField(serializers.CharField):
    """A CharField that takes a JSON string only; DRF's turns 123 or 1.5 into "123" or "1.5".

    With a pattern, the whole value must match it (the OpenAPI schema shows the same pattern).
    """

    default_error_messages = {"not_a_string": rules.STRING_MESSAGE}

    def __init__(self, *, pattern: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if pattern is not None:
            self.validators.append(FullMatchValidator(pattern, message=self.error_messages["invalid"]))

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "pattern": rules.AMOUNT_TEXT_PATTERN},
            {
                "type": "number",
                "minimum": int(rules.AMOUNT_MIN),
                "maximum": int(rules.AMOUNT_MAX),
                "multipleOf": float(Decimal(1).scaleb(-rules.AMOUNT_DECIMAL_PLACES)),
            },
        ]
    }
)
class AmountField(serializers.DecimalField):
    """An amount as a JSON string of plain digits ("42.50") or a JSON number (42.5), within rules' limits.

    DRF's DecimalField also takes strings such as " 4.2e1", "+42" or ".5"; the pattern refuses them.
    """

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, bool) or not isinstance(data, str | int | float):
            self.fail("invalid")
        value = super().to_internal_value(data)  # the places message, as for a file
        if isinstance(data, str) and not rules.AMOUNT_TEXT_RE.fullmatch(data):
            self.run_validators(value)  # the range messages, as for a file ("-1.00" is below 0)
            self.fail("invalid")
        return value


@extend_schema_field({"type": "string", "enum": sorted(rules.CURRENCY_CODES)})
class CurrencyField(serializers.CharField):
    """One of rules.CURRENCY_CODES (the schema lists them as a plain enum, without a line per code).

    A set lookup, not a ChoiceField: DRF copies a serializer's fields for every instance, and a ChoiceField
    rebuilds its two dicts of ~180 codes each time (a third of a scoring request's validation).
    """

    default_error_messages = dict.fromkeys(("invalid", "blank", "invalid_choice"), rules.CURRENCY_MESSAGE)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(trim_whitespace=False, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str) or data not in rules.CURRENCY_CODES:
            self.fail("invalid_choice")
        return data


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date and time that must name its time zone (Z or an offset); stored in UTC."""

    default_error_messages = dict.fromkeys(("naive", "invalid", "overflow", "date"), rules.TIMESTAMP_MESSAGE)

    def to_internal_value(self, value: Any) -> datetime:
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip()) if value.strip() else None
            except ValueError:  # a well-formed time that is no time, such as an offset of +25:00
                self.fail("invalid")
            if parsed is not None and parsed.tzinfo is None:
                self.fail("naive")
        moment = super().to_internal_value(value)
        if moment < rules.EARLIEST_TIMESTAMP:
            self.fail("invalid")
        return moment


class TransactionInSerializer(StrictSerializer):
    """One transaction to score (DESIGN.md, "The transaction")."""

    def get_fields(self) -> dict[str, serializers.Field]:
        # DRF deep-copies the declared fields for every instance, which re-creates each field with its
        # options: a third of a scoring request's validation. Validating changes nothing in these fields but
        # what bind() sets, so a shallow copy per instance is enough. (Not for serializers with nested
        # serializers, which keep state while they validate.)
        return {name: copy.copy(field) for name, field in self._declared_fields.items()}

    transaction_id = TextField(
        pattern=rules.TRANSACTION_ID_PATTERN,
        min_length=1,
        max_length=rules.TRANSACTION_ID_MAX_LENGTH,
        trim_whitespace=False,
        help_text="Your unique id of the transaction, also the idempotency key: 1-64 of A-Z a-z 0-9 . _ : -",
        error_messages=_messages(rules.TRANSACTION_ID_MESSAGE, "invalid", "blank", "min_length", "max_length"),
    )
    timestamp = AwareDateTimeField(
        help_text=(
            "When the transaction happened: ISO 8601 with a time zone, in 1970 or later, at most 5 minutes "
            "in the future."
        )
    )
    customer_id = TextField(
        pattern=rules.PARTY_ID_PATTERN,
        trim_whitespace=False,  # checked whole by the pattern, then trimmed (validate_customer_id)
        help_text="The card or customer: 1-64 characters once surrounding whitespace is trimmed.",
        error_messages=_messages(rules.PARTY_ID_MESSAGE, "blank", "invalid"),
    )
    terminal_id = TextField(
        pattern=rules.PARTY_ID_PATTERN,
        trim_whitespace=False,
        help_text="The merchant terminal: 1-64 characters once surrounding whitespace is trimmed.",
        error_messages=_messages(rules.PARTY_ID_MESSAGE, "blank", "invalid"),
    )
    amount = AmountField(
        max_digits=rules.AMOUNT_MAX_DIGITS,
        decimal_places=rules.AMOUNT_DECIMAL_PLACES,
        min_value=rules.AMOUNT_MIN,
        max_value=rules.AMOUNT_MAX,
        help_text=(
            'Amount with at most 2 decimal places, 0 to 1,000,000,000: a string of digits such as "42.50", or a number.'
        ),
        error_messages={
            "invalid": rules.AMOUNT_NUMBER_MESSAGE,
            "max_string_length": rules.AMOUNT_NUMBER_MESSAGE,
            "max_decimal_places": rules.AMOUNT_PLACES_MESSAGE,
            "min_value": rules.AMOUNT_MIN_MESSAGE,
            # More digits than 12, or than 10 before the point, is a number above the maximum.
            **_messages(rules.AMOUNT_MAX_MESSAGE, "max_value", "max_digits", "max_whole_digits"),
        },
    )
    currency = CurrencyField(
        required=False,
        help_text="ISO 4217 code in upper case, such as EUR. Default: the server's FRAUDSITE_DEFAULT_CURRENCY.",
    )
    metadata = serializers.DictField(
        required=False,
        help_text=(
            "Any JSON object of at most 4 KiB (compact UTF-8 JSON), with no NUL or lone surrogate in its keys "
            "and strings and nested at most 32 levels deep in the body; stored as given, never a model input."
        ),
    )

    def validate_customer_id(self, value: str) -> str:
        return value.strip()

    def validate_terminal_id(self, value: str) -> str:
        return value.strip()

    def validate_timestamp(self, value: datetime) -> datetime:
        if value > timezone.now() + rules.FUTURE_TOLERANCE:
            raise serializers.ValidationError(rules.FUTURE_MESSAGE)
        return value

    def validate_metadata(self, value: dict[str, Any]) -> dict[str, Any]:
        size = rules.metadata_size(value)
        if size > rules.METADATA_MAX_BYTES:
            raise serializers.ValidationError(rules.metadata_message(size))
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs.setdefault("currency", settings.FRAUDSITE_DEFAULT_CURRENCY)
        attrs.setdefault("metadata", {})
        return attrs


class BatchInSerializer(StrictSerializer):
    """Up to 1,000 transactions, all validated before any is stored."""

    items = TransactionInSerializer(
        many=True,
        allow_empty=False,
        max_length=rules.BATCH_MAX_ITEMS,
        help_text="The transactions, 1 to 1,000; each transaction_id at most once.",
    )
    # Two equal items have the same transaction_id; the schema can say that much of validate_items' rule.
    openapi_rules = {"properties": {"items": {"uniqueItems": True}}}

    def validate_items(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        first_index: dict[str, int] = {}
        errors: list[dict[str, list[str]]] = [{} for _ in items]
        for index, item in enumerate(items):
            seen = first_index.setdefault(item["transaction_id"], index)
            if seen != index:
                errors[index] = {"transaction_id": [f"The same transaction_id as items[{seen}]."]}
        if any(errors):
            # One entry per item, as DRF reports item errors, so the answer names items[i].transaction_id.
            raise serializers.ValidationError(errors)
        return items


# --- answers ------------------------------------------------------------------------------


class ReasonSerializer(serializers.Serializer):
    feature = serializers.CharField(help_text="A feature of the model (see GET models/active/ feature_names).")
    value = serializers.FloatField(help_text="Its value for this transaction.")
    contribution = serializers.FloatField(help_text="How much it raised the score (score minus the occluded score).")


class DecidingListEntrySerializer(serializers.Serializer):
    """The block or allow list entry that decided, as it was when the transaction was scored."""

    id = serializers.IntegerField()
    list = serializers.ChoiceField(choices=ListName.choices)
    field = serializers.ChoiceField(choices=ListField.choices)
    value = serializers.CharField()
    reason = serializers.CharField()


class ScoringResultSerializer(serializers.Serializer):
    """The result of scoring one transaction (also what a replay returns)."""

    transaction_id = serializers.CharField()
    score = serializers.FloatField(help_text="Probability of fraud, 0 to 1.")
    decision = serializers.ChoiceField(
        choices=Decision.choices,
        help_text="The final decision: a list entry's, else the strictest of model_decision and the rules fired.",
    )
    model_decision = serializers.ChoiceField(
        choices=Decision.choices, help_text="The model's decision, from the model version's thresholds."
    )
    rules = serializers.ListField(
        child=serializers.CharField(), help_text="The names of the active rule set's rules that fired."
    )
    list_entry = DecidingListEntrySerializer(
        allow_null=True, help_text="The list entry that decided (block: decline, allow: approve), or null."
    )
    flagged = serializers.BooleanField(help_text="decision != approve.")
    model_version = serializers.CharField(help_text="The model version that scored it.")
    reasons = ReasonSerializer(many=True, help_text="The features that pushed the score up most, strongest first.")
    request_id = serializers.UUIDField(
        allow_null=True, help_text="The audit id of the request that scored it (a replay returns the original's)."
    )
    scored_at = serializers.DateTimeField()


class BatchItemResultSerializer(ScoringResultSerializer):
    replayed = serializers.BooleanField(help_text="True when this item was already stored and not scored again.")


class BatchResultSerializer(serializers.Serializer):
    request_id = serializers.UUIDField(help_text="The audit id of this request.")
    created = serializers.IntegerField(help_text="Items scored and stored by this request.")
    replayed = serializers.IntegerField(help_text="Items already stored with the same content, not scored again.")
    results = BatchItemResultSerializer(many=True, help_text="One result per item, in the order sent.")


class ErrorSerializer(serializers.Serializer):
    """The body of every 4xx and 5xx answer under /api/."""

    status = serializers.IntegerField(help_text="The HTTP status, repeated.")
    code = serializers.CharField(help_text="A stable machine-readable code, such as invalid or duplicate_transaction.")
    detail = serializers.CharField(help_text="A human-readable explanation.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text='Each bad field with its messages, such as {"items[3].amount": ["..."]}; empty otherwise.',
    )
    request_id = serializers.UUIDField(
        allow_null=True, help_text="On the scoring endpoints, the audit id of this request; null elsewhere."
    )


class HealthSerializer(serializers.Serializer):
    status = serializers.CharField(help_text='"ok".')
    model_version = serializers.CharField(required=False, help_text="health/ready: the active model version.")


# --- reads --------------------------------------------------------------------------------


class PredictionSerializer(serializers.ModelSerializer):
    model_version = serializers.SlugRelatedField(slug_field="version", read_only=True)
    flagged = serializers.BooleanField(read_only=True)
    features = serializers.SerializerMethodField(
        help_text="The exact feature vector used, {name: value} in model order."
    )
    request_id = serializers.SerializerMethodField(help_text="The audit id of the request that scored it.")
    rule_set = serializers.SlugRelatedField(
        slug_field="version",
        read_only=True,
        allow_null=True,
        help_text="The rule set version it was decided with, or null.",
    )
    list_entry = DecidingListEntrySerializer(read_only=True, allow_null=True)

    class Meta:
        model = Prediction
        fields = [
            "model_version",
            "score",
            "decision",
            "model_decision",
            "rules",
            "rule_errors",
            "list_entry",
            "rule_set",
            "flagged",
            "thresholds",
            "features",
            "reasons",
            "latency_ms",
            "scored_at",
            "request_id",
        ]

    def get_features(self, prediction: Prediction) -> dict[str, float]:
        return prediction.named_features

    def get_request_id(self, prediction: Prediction) -> str | None:
        return str(prediction.request.request_id) if prediction.request is not None else None


class ReviewSerializer(serializers.ModelSerializer):
    reviewer = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Review
        fields = ["reviewer", "outcome", "notes", "reviewed_at"]


class TransactionListSerializer(serializers.ModelSerializer):
    """A stored transaction with its latest score (null if it was loaded as history and never scored)."""

    score = serializers.FloatField(read_only=True, allow_null=True, help_text="The latest prediction's score.")
    decision = serializers.ChoiceField(
        choices=Decision.choices, read_only=True, allow_null=True, help_text="The latest prediction's decision."
    )
    flagged = serializers.SerializerMethodField(help_text="decision != approve; null when never scored.")
    model_version = serializers.CharField(read_only=True, allow_null=True)
    reviewed = serializers.BooleanField(read_only=True, help_text="At least one analyst review exists.")
    label = serializers.ChoiceField(choices=Label.choices, read_only=True)
    label_source = serializers.ChoiceField(choices=LabelSource.choices, read_only=True, allow_blank=True)

    class Meta:
        model = Transaction
        fields = [
            "transaction_id",
            "timestamp",
            "customer_id",
            "terminal_id",
            "amount",
            "currency",
            "label",
            "label_source",
            "labelled_at",
            "score",
            "decision",
            "flagged",
            "model_version",
            "reviewed",
        ]

    def get_flagged(self, transaction: Transaction) -> bool | None:
        decision = getattr(transaction, "decision", None)
        return None if decision is None else decision != Decision.APPROVE


class TransactionDetailSerializer(TransactionListSerializer):
    """A stored transaction with every prediction (newest first) and every review."""

    predictions = PredictionSerializer(many=True, read_only=True)
    reviews = ReviewSerializer(many=True, read_only=True)

    class Meta(TransactionListSerializer.Meta):
        fields = [*TransactionListSerializer.Meta.fields, "metadata", "created_at", "predictions", "reviews"]


class ModelVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelVersion
        fields = [
            "version",
            "algorithm",
            "is_active",
            "activated_at",
            "trained_at",
            "registered_at",
            "feature_names",
            "parameters",
            "metrics",
            "thresholds",
            "training_window",
            "training_fingerprint",
            "artifact_sha256",
        ]
