#!/usr/bin/python3
"""Prints the learning rate PyTorch's schedulers give each of TOTAL optimizer steps, one per line;
with BASE_MOMENTUM and MAX_MOMENTUM, OneCycleLR cycles SGD's momentum too, printed after the lr.

    /usr/bin/python3 tests/interop/schedule_lrs.py onecycle LR TOTAL PCT_START DIV_FACTOR FINAL_DIV_FACTOR \
        [BASE_MOMENTUM MAX_MOMENTUM]
    /usr/bin/python3 tests/interop/schedule_lrs.py warmup_cosine LR TOTAL WARMUP START_FACTOR MIN_LR
"""
import sys
import warnings

import torch
from torch.optim import lr_scheduler


def main(kind, lr, total, *args):
    warnings.filterwarnings("ignore")  # SequentialLR's own step(0) calls are deprecated usage
    lr, total = float(lr), int(total)
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=lr, momentum=0.9)
    momentum = kind == "onecycle" and len(args) == 5
    if kind == "onecycle":
        pct_start, div_factor, final_div_factor = map(float, args[:3])
        base_momentum, max_momentum = map(float, args[3:]) if momentum else (0.85, 0.95)
        schedule = lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=total, pct_start=pct_start,
                                           div_factor=div_factor, final_div_factor=final_div_factor,
                                           cycle_momentum=momentum, base_momentum=base_momentum,
                                           max_momentum=max_momentum)
    else:
        warmup, start_factor, min_lr = int(args[0]), float(args[1]), float(args[2])
        schedule = lr_scheduler.SequentialLR(optimizer, [
            lr_scheduler.LinearLR(optimizer, start_factor=start_factor, end_factor=1.0, total_iters=warmup),
            lr_scheduler.CosineAnnealingLR(optimizer, T_max=total - warmup, eta_min=min_lr)], milestones=[warmup])
    for _ in range(total):
        group = optimizer.param_groups[0]
        print(" ".join(map(repr, [group["lr"], group["momentum"]] if momentum else [group["lr"]])))
        optimizer.step()
        schedule.step()


if __name__ == "__main__":
    main(*sys.argv[1:])
