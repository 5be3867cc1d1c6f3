"""Every setting of recsys-dr, declared once: one file per stack-file section.

`Pulumi.<env>.yaml` key `recsys-dr:<section>` = field `<section>` of
`TwoRegionRecommenderArgs` = the settings object handed to the child component that uses it.
The docs' configuration reference and `stacks/stack-file.schema.json` are generated from
these declarations (`python -m recsys_dr.stacks.reference --write`).
"""

from recsys_dr.components.settings.alarms import AlarmSettings
from recsys_dr.components.settings.base import Settings, SettingsError
from recsys_dr.components.settings.cluster import ClusterSettings, SubnetIds, VpcCidrs
from recsys_dr.components.settings.dns import DnsSettings
from recsys_dr.components.settings.fallback import FallbackSettings
from recsys_dr.components.settings.gpu import CapacityReservation, CapacityReservations, GpuPoolSettings, ImageCacheSnapshots
from recsys_dr.components.settings.model import CandidatePin, ModelSettings, Pin, RegionPin, RegionPins
from recsys_dr.components.settings.recommender import TwoRegionRecommenderArgs, parse_settings, settings_problems
from recsys_dr.components.settings.region_switch import RegionSwitchSettings
from recsys_dr.components.settings.regions import ROLES, RegionPair
from recsys_dr.components.settings.release import GoldenGateSettings, LiveGateSettings, QualityGateSettings, ReleaseSettings
from recsys_dr.components.settings.serving import ServingSettings, TlsCertificates
from recsys_dr.components.settings.storage import StorageSettings

__all__ = [
    "ROLES", "AlarmSettings", "CandidatePin", "CapacityReservation", "CapacityReservations", "ClusterSettings",
    "DnsSettings", "FallbackSettings", "GoldenGateSettings", "GpuPoolSettings", "ImageCacheSnapshots", "LiveGateSettings",
    "ModelSettings", "Pin", "QualityGateSettings", "RegionPair", "RegionPin", "RegionPins", "RegionSwitchSettings",
    "ReleaseSettings", "ServingSettings", "Settings", "SettingsError", "StorageSettings", "SubnetIds", "TlsCertificates",
    "TwoRegionRecommenderArgs", "VpcCidrs", "parse_settings", "settings_problems",
]
