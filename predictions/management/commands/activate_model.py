"""activate_model: make one registered model version the one that scores, or the challenger scored beside it."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from predictions.management.base import FraudsiteCommand
from predictions.models import ModelVersion
from predictions.services.events import Actor
from predictions.services.model_versions import model_version_activate, model_version_challenger_set


class Command(FraudsiteCommand):
    help = (
        "Make VERSION the active model: its artifact is loaded and its hash verified first, then it replaces\n"
        "the active version in one transaction. The API uses it from its next request; no restart needed.\n"
        "With --challenger, VERSION becomes the challenger instead: every scoring request also scores it and\n"
        "stores its prediction as shadow, and it never changes an answer. --no-challenger removes it."
    )
    example = (
        "python manage.py activate_model $(python manage.py list_models --newest)\n"
        "python manage.py activate_model --challenger VERSION\n"
        "python manage.py activate_model --no-challenger"
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("version", nargs="?", help="a version shown by list_models")
        role = parser.add_mutually_exclusive_group()
        role.add_argument("--challenger", action="store_true", help="make VERSION the challenger (shadow) model")
        role.add_argument("--no-challenger", action="store_true", help="stop scoring a challenger (no VERSION)")

    def handle(self, *args: Any, **options: Any) -> None:
        version = options["version"]
        if options["no_challenger"]:
            if version:
                raise CommandError("--no-challenger takes no VERSION")
            self._challenger(None)
        elif version is None:
            raise CommandError("give the VERSION to activate (list_models shows them), or --no-challenger")
        elif options["challenger"]:
            self._challenger(version)
        else:
            self._activate(version)

    def _activate(self, version: str) -> None:
        if ModelVersion.objects.filter(version=version, is_active=True).exists():
            self.summary(f"model {version} is already active: nothing changed")
            return
        previous = ModelVersion.objects.filter(is_active=True).values_list("version", flat=True).first()
        model_version_activate(version=version, actor=Actor.command("activate_model"))
        replaced = f" (was {previous})" if previous else ""
        self.summary(f"model {version} is now active{replaced}")

    def _challenger(self, version: str | None) -> None:
        previous = ModelVersion.objects.filter(is_challenger=True).values_list("version", flat=True).first()
        if previous == version:
            self.summary(f"the challenger is already {version or 'none'}: nothing changed")
            return
        model_version_challenger_set(version=version, actor=Actor.command("activate_model"))
        replaced = f" (was {previous})" if previous else ""
        now = f"model {version} is now the challenger" if version else "no challenger now"
        self.summary(f"{now}{replaced}")
