"""``m3search train``: unified fine-tuning with self-distillation (options from YAML and/or flags)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import MISSING, fields
from typing import Any

BOOL_CHOICES = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}


def _bool(text: str) -> bool:
    try:
        return BOOL_CHOICES[text.lower()]
    except KeyError:
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}") from None


def register(sub: argparse._SubParsersAction) -> None:
    from ..train.train_config import TrainConfig

    train = sub.add_parser("train", help="fine-tune an encoder (dense, sparse and multi-vector) on training groups",
                           description="Every option can come from --config (YAML) and be overridden by a flag.")
    train.add_argument("--config", default=None, help="YAML file of options (the flags' names, with underscores)")
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not MISSING else (f.default_factory() if f.default_factory is not MISSING
                                                               else None)
        kind = str(f.type)
        options: dict[str, Any] = {"default": None, "dest": f.name, "help": f"(default: {default})"}
        if kind.startswith("bool"):
            options.update(type=_bool, metavar="BOOL")
        elif kind.startswith("list[str]"):
            options.update(nargs="+", metavar=f.metadata.get("metavar", "FILE"))
        elif kind.startswith("list[int]"):
            options.update(nargs="+", type=int)
        elif kind.startswith("int"):
            options["type"] = int
        elif kind.startswith("float"):
            options["type"] = float
        train.add_argument(flag, **options)
    train.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..train.train_config import TrainConfig
    from ..train.trainer import Trainer

    overrides = {f.name: getattr(args, f.name) for f in fields(TrainConfig)}
    config = TrainConfig.load(args.config, **overrides)
    output = Trainer(config).train()
    print(f"trained model in {output}", file=sys.stderr)
    return 0
