"""The rules a transaction must follow to be stored (DESIGN.md, "The transaction").

One place for the constants, so that the API's serializers and the bulk loader
(load_transactions, vectorised in pandas) refuse exactly the same rows.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

# transaction_id: the idempotency key, also used in URLs (GET transactions/{transaction_id}/).
TRANSACTION_ID_MAX_LENGTH = 64
TRANSACTION_ID_CHARACTERS = r"[A-Za-z0-9._:-]"
TRANSACTION_ID_PATTERN = rf"^{TRANSACTION_ID_CHARACTERS}{{1,{TRANSACTION_ID_MAX_LENGTH}}}$"
TRANSACTION_ID_RE = re.compile(TRANSACTION_ID_PATTERN)

# customer_id and terminal_id: any non-blank text of 1-64 characters.
PARTY_ID_MAX_LENGTH = 64

# amount: a decimal with at most 2 places, 0 <= amount <= 1,000,000,000 (fits DecimalField(12, 2)).
AMOUNT_MIN = Decimal("0")
AMOUNT_MAX = Decimal("1000000000")
AMOUNT_DECIMAL_PLACES = 2
AMOUNT_MAX_DIGITS = 12

# timestamp: must carry a time zone and be at most this far in the future (clock skew between systems).
FUTURE_TOLERANCE = timedelta(minutes=5)

# metadata: a JSON object of at most this many bytes, measured as compact UTF-8 JSON (see metadata_size).
METADATA_MAX_BYTES = 4 * 1024

# POST transactions/batch/ takes at most this many items.
BATCH_MAX_ITEMS = 1000

CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
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

# Fields a client may send for one transaction; anything else is refused (400), never dropped.
TRANSACTION_FIELDS = ("transaction_id", "timestamp", "customer_id", "terminal_id", "amount", "currency", "metadata")


def metadata_size(metadata: Any) -> int:
    """Size of metadata in bytes as compact UTF-8 JSON, the measure METADATA_MAX_BYTES applies to."""
    return len(json.dumps(metadata, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def is_currency_code(value: str) -> bool:
    """True for an ISO 4217 alphabetic code in use, upper case (EUR, not eur)."""
    return value in CURRENCY_CODES
