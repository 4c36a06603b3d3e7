"""The rules a transaction and a label must follow to be stored (DESIGN.md, "The transaction").

The one home of the limits, the patterns and the messages. The API's serializers, the CSV loader
(load_transactions and score_file, vectorised in pandas) and the label import and API use them,
so the same mistake gets the same message everywhere: the API answers {"amount": [message]},
a file's report says "line 7: amount: message". tests/predictions/test_rules.py holds them to it.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from predictions.models import Label, LabelSource

# The end of an anchored pattern. Python's $ (and so Python's JSON Schema validators and Hypothesis, which
# generate from the schema's patterns) also matches before a final newline; (?!\n) rules that out, and an
# ECMA-262 engine, which the OpenAPI schema's patterns are written for, reads it the same way.
END = r"$(?!\n)"

# transaction_id: the idempotency key, also used in URLs (GET transactions/{transaction_id}/).
TRANSACTION_ID_MAX_LENGTH = 64
TRANSACTION_ID_CHARACTERS = r"[A-Za-z0-9._:-]"
# Unanchored, for URL patterns and pandas fullmatch; anchored, for the serializer and the OpenAPI schema.
TRANSACTION_ID_BODY = rf"{TRANSACTION_ID_CHARACTERS}{{1,{TRANSACTION_ID_MAX_LENGTH}}}"
TRANSACTION_ID_PATTERN = rf"^{TRANSACTION_ID_BODY}{END}"
TRANSACTION_ID_RE = re.compile(TRANSACTION_ID_PATTERN)

# customer_id and terminal_id: any text of 1-64 characters once its surrounding whitespace is trimmed
# (Python's, str.strip). The pattern says the same to the OpenAPI schema: optional whitespace, then 1-64
# characters that start and end with a non-whitespace one, then optional whitespace; never NUL.
PARTY_ID_MAX_LENGTH = 64
PARTY_ID_PATTERN = rf"^\s*(?=\S)[^\x00]{{0,{PARTY_ID_MAX_LENGTH}}}(?<=\S)\s*{END}"
PARTY_ID_RE = re.compile(PARTY_ID_PATTERN)

# amount: a decimal with at most 2 places, 0 <= amount <= 1,000,000,000 (fits DecimalField(12, 2)).
AMOUNT_MIN = Decimal("0")
AMOUNT_MAX = Decimal("1000000000")
AMOUNT_DECIMAL_PLACES = 2
AMOUNT_MAX_DIGITS = 12
# An amount sent as a JSON string: plain digits, at most 2 decimals, 0 to 1,000,000,000 (the OpenAPI
# schema's pattern; no sign, exponent, spaces or digits other than 0-9). A JSON number is a multiple of
# 0.01 within the same range.
# AMOUNT_MAX is a power of ten: below it, fewer digits; at it, zero decimals only.
_AMOUNT_MAX_TEXT = f"{AMOUNT_MAX:f}"
_DECIMALS = rf"\.[0-9]{{1,{AMOUNT_DECIMAL_PLACES}}}"
AMOUNT_TEXT_PATTERN = (
    rf"^(?:[0-9]{{1,{len(_AMOUNT_MAX_TEXT) - 1}}}(?:{_DECIMALS})?"
    rf"|{_AMOUNT_MAX_TEXT}(?:\.0{{1,{AMOUNT_DECIMAL_PLACES}}})?){END}"
)
AMOUNT_TEXT_RE = re.compile(AMOUNT_TEXT_PATTERN)

# timestamp: must carry a time zone and be at most this far in the future (clock skew between systems).
FUTURE_TOLERANCE = timedelta(minutes=5)
# ... and not before 1970: a history window reaches weeks back from it, and every step must stay a date.
EARLIEST_TIMESTAMP = datetime(1970, 1, 1, tzinfo=UTC)

# metadata: a JSON object of at most this many bytes, measured as compact UTF-8 JSON (see metadata_size).
METADATA_MAX_BYTES = 4 * 1024

# POST transactions/batch/ takes at most this many items.
BATCH_MAX_ITEMS = 1000

# ISO 4217 alphabetic codes in use (2025), including the fund and precious-metal X-codes and the codes
# still accepted during a changeover (ANG/XCG, SLL/SLE, ZWL/ZWG).
_CURRENCY_CODES_TEXT = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN
    BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD
    FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR
    KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV
    MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG
    SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN
    UYI UYU UYW UZS VED VES VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XTS
    XUA XXX YER ZAR ZMW ZWG ZWL
"""
CURRENCY_CODES = frozenset(_CURRENCY_CODES_TEXT.split())

# What a file's amount must look like (the API's DecimalField parses the same texts): digits and at most
# 2 decimals is nearly every row; only the others are told apart as "not a number" or "too many places".
PLAIN_AMOUNT_PATTERN = rf"\d+(?:\.\d{{0,{AMOUNT_DECIMAL_PLACES}}})?"
AMOUNT_PATTERN = r"-?(?:\d+(?:\.\d*)?|\.\d+)"
# A file's timestamp must end with its zone: Z, or an offset such as +01:00 or +0100.
TIME_ZONE_SUFFIX_PATTERN = r"(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"

# The labels a transaction may be given, and where they come from (history is the loader's own).
GROUND_TRUTH_LABELS = (Label.FRAUD.value, Label.LEGITIMATE.value)
LABEL_SOURCES = (LabelSource.REVIEW.value, LabelSource.CHARGEBACK.value)
NOTES_MAX_LENGTH = 2000

# The messages, one per mistake; the field's name goes in front of them in a file's report.
TRANSACTION_ID_MESSAGE = f"must be 1-{TRANSACTION_ID_MAX_LENGTH} characters of A-Z a-z 0-9 . _ : -"
PARTY_ID_MESSAGE = f"must be 1-{PARTY_ID_MAX_LENGTH} characters, not blank"
TIMESTAMP_MESSAGE = (
    "must be an ISO 8601 time with a time zone, in 1970 or later, such as 2026-01-31T12:00:00Z"
    " or 2026-01-31T13:00+01:00"
)
FUTURE_MESSAGE = f"is more than {int(FUTURE_TOLERANCE.total_seconds() // 60)} minutes in the future"
AMOUNT_NUMBER_MESSAGE = "must be a decimal number"
AMOUNT_PLACES_MESSAGE = f"must have at most {AMOUNT_DECIMAL_PLACES} decimal places"
AMOUNT_MIN_MESSAGE = f"must be at least {AMOUNT_MIN}"
AMOUNT_MAX_MESSAGE = f"must be at most {AMOUNT_MAX:,}"
CURRENCY_MESSAGE = "must be an ISO 4217 code in use, in upper case, such as EUR"
DUPLICATE_IN_FILE_MESSAGE = "appears earlier in the file"
LABEL_MESSAGE = f"must be {' or '.join(GROUND_TRUTH_LABELS)}"
LABEL_SOURCE_MESSAGE = f"must be {' or '.join(LABEL_SOURCES)}"
LABELLED_AT_MESSAGE = "must be a date (YYYY-MM-DD) or an ISO 8601 time with a time zone"
NOTES_MESSAGE = f"must be at most {NOTES_MAX_LENGTH} characters"
# A text field sent as a number, a boolean, an array or an object (DRF would turn 123 into "123").
STRING_MESSAGE = "must be a JSON string"
# The list filters' times: a time zone is required, as for a transaction, and the time must exist in UTC
# (0001-01-01T00:00:00+14:00 is in year 0 there).
FILTER_TIME_MESSAGE = (
    "must be an ISO 8601 time with a time zone, between years 1 and 9999 in UTC, such as 2026-01-31T12:00:00Z"
)


def metadata_message(size: int) -> str:
    return f"is {size} bytes as compact JSON; the limit is {METADATA_MAX_BYTES}"


# Fields a client may send for one transaction; anything else is refused (400), never dropped.
TRANSACTION_FIELDS = ("transaction_id", "timestamp", "customer_id", "terminal_id", "amount", "currency", "metadata")


def metadata_size(metadata: Any) -> int:
    """Size of metadata in bytes as compact UTF-8 JSON, the measure METADATA_MAX_BYTES applies to."""
    return len(json.dumps(metadata, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def is_currency_code(value: str) -> bool:
    """True for an ISO 4217 alphabetic code in use, upper case (EUR, not eur)."""
    return value in CURRENCY_CODES


# The API's list pages: ?page=N (1 or more; past the last page is a 404) and ?page_size=N.
PAGE_SIZE_MAX = 500
PAGE_MESSAGE = "must be a whole number, 1 or more"
PAGE_SIZE_MESSAGE = f"must be a whole number from 1 to {PAGE_SIZE_MAX}"
