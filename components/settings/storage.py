"""`storage`: the replicated model buckets."""

from __future__ import annotations

from recsys_dr.components.settings.base import Settings, setting


class StorageSettings(Settings):
    """The model buckets of both regions (versioned, KMS-encrypted, replicated primary -> standby)."""

    force_destroy: bool = setting(False, description="Let `pulumi destroy` delete non-empty buckets (never in prod).",
                                  allowed="true or false")
