"""The analysts' Django admin: the review queue, the transaction page, read-only audit tables, model versions.

Importing the submodules registers their ModelAdmins with the default admin site.
"""

from predictions.admin import audit, model_versions, queue, transactions

__all__ = ["audit", "model_versions", "queue", "transactions"]
