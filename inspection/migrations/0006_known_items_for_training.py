from django.db import migrations, models


def split_existing_sets(apps, schema_editor):
    """Every other item of each class (in stamp order) stays for training and
    the rest go to campaigns: ``grading.split_for_training``'s rule, copied
    here because a migration must not change when that code does."""
    KnownItem = apps.get_model("inspection", "KnownItem")
    seen = {}
    live = []
    for pk, set_id, is_lens in KnownItem.objects.order_by(
        "known_set_id", "stamp_index"
    ).values_list("pk", "known_set_id", "is_lens"):
        n = seen.get((set_id, is_lens), 0)
        if n % 2 == 1:
            live.append(pk)
        seen[(set_id, is_lens)] = n + 1
    KnownItem.objects.filter(pk__in=live).update(for_training=False)


class Migration(migrations.Migration):
    dependencies = [
        ("inspection", "0005_score_logit_required"),
    ]

    operations = [
        migrations.AddField(
            model_name="knownitem",
            name="for_training",
            field=models.BooleanField(
                default=True,
                help_text="shown in training; the other items are mixed into campaigns",
            ),
        ),
        migrations.RunPython(split_existing_sets, migrations.RunPython.noop),
    ]
