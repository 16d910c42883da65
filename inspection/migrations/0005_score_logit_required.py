"""Log-odds required on every score and run threshold, and runs' candidates
found by (run, logit) rather than (run, score) (issue 14; filled by 0004)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("inspection", "0004_score_logit"),
    ]

    operations = [
        migrations.AlterField(
            model_name="score",
            name="logit",
            field=models.FloatField(help_text="log-odds ln(P / (1 - P)), natural log"),
        ),
        migrations.AlterField(
            model_name="scoringrun",
            name="threshold_logit",
            field=models.FloatField(
                help_text="candidates: logit >= threshold_logit (log-odds: exact where P ties at 1)"
            ),
        ),
        migrations.AlterField(
            model_name="score",
            name="score",
            field=models.FloatField(help_text="P(lens), from logit"),
        ),
        migrations.AlterField(
            model_name="scoringrun",
            name="threshold",
            field=models.FloatField(
                help_text="the threshold as P(lens), as people see and enter it"
            ),
        ),
        migrations.RemoveIndex(
            model_name="score",
            name="inspection__run_id_d19398_idx",
        ),
        migrations.AddIndex(
            model_name="score",
            index=models.Index(fields=["run", "logit"], name="inspection__run_id_525808_idx"),
        ),
    ]
