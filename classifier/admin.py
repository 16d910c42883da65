from django.contrib import admin

from classifier.models import Network


@admin.register(Network)
class NetworkAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "architecture",
        "bands",
        "stamp_size",
        "threshold_fpr_1pct",
        "created_at",
    )
    readonly_fields = ("weights_sha256", "created_at")
