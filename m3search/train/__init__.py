"""Training: unified fine-tuning with self-knowledge distillation (M3 paper §3.2, 3.3).

- :mod:`.data` training groups and drawing examples (no torch); :mod:`.build` the bundled
  multilingual training mix; :mod:`.mine` hard negatives;
- :mod:`.batching` length buckets and collation; :mod:`.cache` token states of a frozen encoder;
- :mod:`.scores` and :mod:`.losses` the mathematics; :mod:`.model` the forward pass with
  sub-batches; :mod:`.distributed` cross-device negatives; :mod:`.step` one step's loss;
- :mod:`.trainer` the loop (optimiser, schedule, checkpoints, resume, logs, plot).

Importing this package imports no torch; its modules that need torch import it.
"""
