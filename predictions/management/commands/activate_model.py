"""activate_model: make one registered model version the one that scores."""

from __future__ import annotations

from typing import Any

from predictions.management.base import FraudsiteCommand
from predictions.models import ModelVersion
from predictions.services.events import Actor
from predictions.services.model_versions import model_version_activate


class Command(FraudsiteCommand):
    help = (
        "Make VERSION the active model: its artifact is loaded and its hash verified first, then it replaces\n"
        "the active version in one transaction. The API uses it from its next request; no restart needed."
    )
    example = "python manage.py activate_model $(python manage.py list_models --newest)"

    def add_arguments(self, parser) -> None:
        parser.add_argument("version", help="a version shown by list_models")

    def handle(self, *args: Any, **options: Any) -> None:
        version = options["version"]
        if ModelVersion.objects.filter(version=version, is_active=True).exists():
            self.summary(f"model {version} is already active: nothing changed")
            return
        previous = ModelVersion.objects.filter(is_active=True).values_list("version", flat=True).first()
        model_version_activate(version=version, actor=Actor.command("activate_model"))
        replaced = f" (was {previous})" if previous else ""
        self.summary(f"model {version} is now active{replaced}")
