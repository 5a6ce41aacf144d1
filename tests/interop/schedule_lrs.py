#!/usr/bin/python3
"""Prints the learning rate PyTorch's schedulers give each of TOTAL optimizer steps, one per line.

    /usr/bin/python3 tests/interop/schedule_lrs.py onecycle LR TOTAL PCT_START DIV_FACTOR FINAL_DIV_FACTOR
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
    optimizer = torch.optim.SGD([parameter], lr=lr)
    if kind == "onecycle":
        pct_start, div_factor, final_div_factor = map(float, args)
        schedule = lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=total, pct_start=pct_start,
                                           div_factor=div_factor, final_div_factor=final_div_factor,
                                           cycle_momentum=False)
    else:
        warmup, start_factor, min_lr = int(args[0]), float(args[1]), float(args[2])
        schedule = lr_scheduler.SequentialLR(optimizer, [
            lr_scheduler.LinearLR(optimizer, start_factor=start_factor, end_factor=1.0, total_iters=warmup),
            lr_scheduler.CosineAnnealingLR(optimizer, T_max=total - warmup, eta_min=min_lr)], milestones=[warmup])
    for _ in range(total):
        print(repr(optimizer.param_groups[0]["lr"]))
        optimizer.step()
        schedule.step()


if __name__ == "__main__":
    main(*sys.argv[1:])
