"""Training: unified fine-tuning with self-knowledge distillation (M3 paper §3.2, 3.3).

- :mod:`.groups` training groups and drawing examples (no torch); :mod:`.mix` the bundled
  multilingual training mix; :mod:`.negatives` hard-negative mining;
- :mod:`.collate` length buckets and collation; :mod:`.state_cache` token states of a frozen encoder;
- :mod:`.scores` and :mod:`.losses` the mathematics; :mod:`.trainable` the forward pass with
  sub-batches; :mod:`.distributed` cross-device negatives; :mod:`.step` one step's loss;
- :mod:`.train_config` the settings; :mod:`.trainer` the loop (optimiser, schedule, checkpoints,
  resume, logs, plot).

Importing this package imports no torch; its modules that need torch import it.
"""
