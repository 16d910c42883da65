"""Log-odds beside every probability (issue 14): ``Score.logit`` and
``ScoringRun.threshold_logit``, added nullable and filled from the stored
probabilities; 0005 then makes them required and indexes (run, logit).

Two migrations, not one: PostgreSQL refuses to ALTER a table in the same
transaction as updates that left deferred foreign-key checks pending."""

import math

from django.db import migrations, models

# A frozen copy of core.logodds.logit (a migration must not change when the
# code does). The clip: P is clipped to [2^-1074, 1 - 2^-53], the positive
# float64 numbers below 1, so that stored 0s and 1s get finite log-odds:
# P = 0 -> -744.44 and P = 1 -> +36.74. Every P < 1 maps below 36.74 (it
# ranks under the 1s, as before) and every P > 0 above -744.44; a run's
# threshold of 1 keeps admitting the scores of exactly 1, and one of 0 every
# score. Rows stored before log-odds came from float32 probabilities, so a
# 1.0 there means log-odds above ~17 at least; 36.74 is a floor, not a value.
P_FLOOR = 2.0**-1074
P_CEIL = 1.0 - 2.0**-53
BATCH = 5000


def logit(p):
    p = min(max(float(p), P_FLOOR), P_CEIL)
    return math.log(p) - math.log1p(-p)


def fill(apps, schema_editor):
    connection = schema_editor.connection
    q = connection.ops.quote_name
    for model_name, source, target in (("Score", "score", "logit"),
                                       ("ScoringRun", "threshold", "threshold_logit")):  # fmt: skip
        model = apps.get_model("inspection", model_name)
        rows = model.objects.using(connection.alias).order_by("pk")
        sql = f"UPDATE {q(model._meta.db_table)} SET {q(target)} = %s WHERE {q('id')} = %s"
        last = 0
        # Batches by primary key: memory stays flat for runs of millions of scores.
        while batch := list(rows.filter(pk__gt=last).values_list("pk", source)[:BATCH]):
            with connection.cursor() as cursor:
                cursor.executemany(sql, [(logit(p), pk) for pk, p in batch])
            last = batch[-1][0]


class Migration(migrations.Migration):
    dependencies = [
        ("inspection", "0003_consensus"),
    ]

    operations = [
        migrations.AddField(
            model_name="score",
            name="logit",
            field=models.FloatField(null=True, help_text="log-odds ln(P / (1 - P)), natural log"),
        ),
        migrations.AddField(
            model_name="scoringrun",
            name="threshold_logit",
            field=models.FloatField(
                null=True,
                help_text="candidates: logit >= threshold_logit (log-odds: exact where P ties at 1)",
            ),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
