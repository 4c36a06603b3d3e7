"""The analysts' Django admin: the review queue, the transaction page, read-only audit tables, model versions,
the block and allow lists and the rule sets.

Importing the submodules registers their ModelAdmins with the default admin site.
"""

from predictions.admin import audit, model_versions, queue, transactions
from predictions.admin import decisions as decisions

__all__ = ["audit", "model_versions", "queue", "transactions"]
