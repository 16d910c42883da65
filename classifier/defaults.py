"""The training defaults per architecture (pure, no torch: the web process's
forms check against them before a worker loads anything).

asinh inputs and, for the CNN (no BatchNorm), a rate of 3e-4 rather than
the paper's 1e-3: on the shortcut-free sets both learn faster
(docs/simulations.md). The rest are the papers'.
"""

TRAINING_DEFAULTS: dict[str, dict] = {
    "he2020-cnn": {"lr": 3e-4, "batch_size": 64, "epochs": 20, "stretch": "asinh",
                   "patience": 5},
    "deeplens-resnet": {"lr": 1e-3, "batch_size": 128, "epochs": 120, "lr_step_epochs": 40,
                        "stretch": "asinh", "patience": 10},
}  # fmt: skip  # one row per architecture
