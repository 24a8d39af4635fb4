"""The PyTorch-Python side of `make bench-peer` (driven by scripts/bench-peer.sh).

The same DDPM U-Net as src/model/unet.rs (same parameter names, so the same parameter
count), trained with the same step as `Trainer::train_step` in src/train/trainer.rs:
t ~ Uniform{0..T-1}, eps ~ N(0, I), x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps
(Algorithm 1 of Ho et al. 2020), the mean squared error against eps per item, the
per-item losses and t read back to the host (as diffscope does for its quarter means),
Adam (0.9, 0.999, 1e-8, no weight decay), clipping of the global gradient norm, the
warm-up + cosine learning rate, and the EMA of the weights with its warm-up.

Everything a port needs comes from the diffscope benchmark itself (`throughput
--describe NAME`): the model, batch, optimiser and EMA settings, the number of items and
the schedule's abar table. The data are NOT the preset's: they are random tensors of the
same shape and number of items, uniform in [-1, 1] (the speed of a step does not depend
on what the pixels show), drawn as batches the way diffscope draws them (gathered
items, mirrored at random where the preset sets hflip).

    bench_peer.py run DESCRIBE_FILE fp32|bf16
        measures one configuration in this process and prints one line
        RESULT name|precision|batch|params|steps/s|peakMB|importMB|threads
        (DIFFSCOPE_BENCH_STEPS timed steps, default 30, after 3 warm-up steps, as the
        diffscope benchmark does)
        DIFFSCOPE_PEER_LEVERS, a comma-separated list, switches on PyTorch's own speed
        levers to measure what they would be worth: channels_last (the model and x_t in
        channels-last memory format), fused (Adam's fused step), foreach (Adam's
        multi-tensor step) and foreach_ema (the EMA as one _foreach_lerp_)
    bench_peer.py report RESULTS_FILE
        prints the table of bench-peer.sh from the RESULT lines of both sides (medians over
        the rounds)
"""

import math
import os
import statistics
import sys
import time
import warnings


def vm_kb(field):
    """A field of /proc/self/status in kB (VmHWM: peak resident memory, VmRSS: now)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return float(line.split()[1])
    return float("nan")


def read_describe(path):
    cfg = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition(" ")
            if key:
                cfg[key] = value
    ints = lambda s: [int(x) for x in s.split(",") if x]
    return {
        "name": cfg["name"],
        "params": int(cfg["params"]),
        "item_shape": ints(cfg["item_shape"]),
        "items": int(cfg["items"]),
        "base_channels": int(cfg["base_channels"]),
        "channel_mults": ints(cfg["channel_mults"]),
        "blocks_per_level": int(cfg["blocks_per_level"]),
        "attention_resolutions": ints(cfg["attention_resolutions"]),
        "dropout": float(cfg["dropout"]),
        "groups": int(cfg["groups"]),
        "batch_size": int(cfg["batch_size"]),
        "lr": float(cfg["lr"]),
        "warmup_steps": int(cfg["warmup_steps"]),
        "steps": int(cfg["steps"]),
        "final_lr_fraction": float(cfg["final_lr_fraction"]),
        "grad_clip": float(cfg["grad_clip"]),
        "ema_decay": float(cfg["ema_decay"]),
        "ema_warmup": cfg["ema_warmup"] == "true",
        "hflip": cfg["hflip"] == "true",
        "seed": int(cfg["seed"]),
        "prediction": cfg["prediction"],
        "loss_weighting": cfg["loss_weighting"],
        "alpha_bars": [float(x) for x in cfg["alpha_bars"].split(",")],
    }


def run(describe_path, precision):
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    import_mb = vm_kb("VmRSS") / 1024.0
    cfg = read_describe(describe_path)
    if cfg["prediction"] != "Epsilon" or cfg["loss_weighting"] != "None":
        sys.exit(f"{cfg['name']}: only Epsilon prediction with unweighted loss is ported")
    threads = len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    torch.manual_seed(cfg["seed"])

    from peer_unet import Unet

    model = Unet(
        cfg["item_shape"],
        cfg["base_channels"],
        cfg["channel_mults"],
        cfg["blocks_per_level"],
        cfg["attention_resolutions"],
        cfg["dropout"],
        cfg["groups"],
    )
    ema_model = Unet(
        cfg["item_shape"],
        cfg["base_channels"],
        cfg["channel_mults"],
        cfg["blocks_per_level"],
        cfg["attention_resolutions"],
        cfg["dropout"],
        cfg["groups"],
    )
    params = list(model.parameters())
    ema_params = list(ema_model.parameters())
    with torch.no_grad():
        for e, p in zip(ema_params, params):
            e.requires_grad_(False)
            e.copy_(p)
    n_params = sum(p.numel() for p in params)
    model.train()
    levers = {x for x in os.environ.get("DIFFSCOPE_PEER_LEVERS", "").split(",") if x}
    unknown = levers - {"channels_last", "fused", "foreach", "foreach_ema"}
    if unknown:
        sys.exit(f"DIFFSCOPE_PEER_LEVERS: unknown {sorted(unknown)}")
    channels_last = "channels_last" in levers
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        ema_model = ema_model.to(memory_format=torch.channels_last)
        params = list(model.parameters())
        ema_params = list(ema_model.parameters())
    adam = {}
    if "fused" in levers:
        adam["fused"] = True
    if "foreach" in levers:
        adam["foreach"] = True
    opt = torch.optim.Adam(
        params, lr=cfg["lr"], betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, **adam
    )

    # The data: random items of the preset's shape and number, uniform in [-1, 1].
    data = torch.rand([cfg["items"], *cfg["item_shape"]]) * 2 - 1
    abar = torch.tensor(cfg["alpha_bars"], dtype=torch.float64)
    sqrt_ab = abar.sqrt().float()
    sqrt_1mab = (1 - abar).sqrt().float()
    total = len(cfg["alpha_bars"])
    b = cfg["batch_size"]
    gen = torch.Generator().manual_seed(cfg["seed"] ^ 0xF11F)
    bf16 = precision == "bf16"

    def lr_at(step):
        if step < cfg["warmup_steps"]:
            return cfg["lr"] * (step + 1) / cfg["warmup_steps"]
        span = max(cfg["steps"] - cfg["warmup_steps"], 1)
        progress = min((step - cfg["warmup_steps"]) / span, 1.0)
        cos = 0.5 * (1.0 + math.cos(math.pi * progress))
        f = cfg["final_lr_fraction"]
        return cfg["lr"] * (f + (1.0 - f) * cos)

    def ema_decay_at(updates):
        if cfg["ema_warmup"]:
            return min(cfg["ema_decay"], (1.0 + updates) / (10.0 + updates))
        return cfg["ema_decay"]

    def train_step(step):
        idx = torch.randint(0, cfg["items"], (b,), generator=gen)
        x0 = data.index_select(0, idx)
        if cfg["hflip"]:
            mask = (torch.rand(b, generator=gen) < 0.5).float().reshape(-1, 1, 1, 1)
            x0 = x0.flip(3) * mask + x0 * (1.0 - mask)
        t = torch.randint(0, total, (b,))
        noise = torch.randn_like(x0)
        xt = sqrt_ab[t].reshape(-1, 1, 1, 1) * x0 + sqrt_1mab[t].reshape(-1, 1, 1, 1) * noise
        if channels_last:
            xt = xt.contiguous(memory_format=torch.channels_last)
        if bf16:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                out = model(xt, t)
            out = out.float()
        else:
            out = model(xt, t)
        losses = (out - noise).square().mean(dim=(1, 2, 3), dtype=torch.float32)
        _ = (losses.detach().tolist(), t.tolist())  # the per-quarter means diffscope logs
        loss_t = losses.mean()
        loss = loss_t.item()
        if not math.isfinite(loss):
            sys.exit(f"{cfg['name']}: the loss became {loss} at step {step + 1}")
        opt.zero_grad(set_to_none=False)
        loss_t.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(params, cfg["grad_clip"]).item()
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        opt.step()
        d = ema_decay_at(step)
        with torch.no_grad():
            if "foreach_ema" in levers:
                torch._foreach_lerp_(ema_params, params, 1.0 - d)
            else:
                for e, p in zip(ema_params, params):
                    e.mul_(d).add_(p, alpha=1.0 - d)
        return loss, grad_norm

    steps = int(os.environ.get("DIFFSCOPE_BENCH_STEPS", "30"))
    for s in range(3):
        train_step(s)
    t0 = time.perf_counter()
    for s in range(3, 3 + steps):
        train_step(s)
    elapsed = time.perf_counter() - t0
    print(
        f"RESULT {cfg['name']}|{precision}|{b}|{n_params}|{steps / elapsed:.3f}|"
        f"{vm_kb('VmHWM') / 1024.0:.0f}|{import_mb:.0f}|{threads}",
        flush=True,
    )


def report(results_path):
    """Medians of the RESULT lines (`ds` for diffscope, `py` for PyTorch-Python)."""
    runs = {}
    order = []
    with open(results_path) as f:
        for line in f:
            side, _, rest = line.strip().partition(" RESULT ")
            if not rest:
                continue
            fields = rest.split("|")
            name, precision = fields[0], fields[1]
            if name not in order:
                order.append(name)
            runs.setdefault((name, side, precision), []).append(fields)

    def med(name, side, precision, k):
        rows = runs.get((name, side, precision), [])
        vals = [float(r[k]) for r in rows]
        vals = [v for v in vals if math.isfinite(v)]
        return statistics.median(vals) if vals else float("nan")

    def spread(name, side, precision):
        vals = [float(r[4]) for r in runs.get((name, side, precision), [])]
        return f"{min(vals):.2f}-{max(vals):.2f}" if vals else "?"

    def first(name, side, precision, k):
        rows = runs.get((name, side, precision), [])
        return rows[0][k] if rows else "?"

    label = lambda n: "mnist (synthetic)" if n == "mnist" else n
    rounds = max((len(v) for v in runs.values()), default=0)
    print(
        f"steps/s: medians of {rounds} alternating rounds; MB: peak resident memory "
        "(VmHWM), median"
    )
    head = (
        f"{'config':<18} {'batch':>5} {'params ds':>10} {'params py':>10} "
        f"{'ds fp32':>8} {'py fp32':>8} {'py bf16':>8} {'ds bf16':>8} "
        f"{'ds MB':>6} {'py MB':>6} {'ds bf MB':>8} {'py bf MB':>8}"
    )
    print(head)
    print("-" * len(head))
    ratios = []
    for n in order:
        ds32 = med(n, "ds", "fp32", 4)
        py32 = med(n, "py", "fp32", 4)
        pybf = med(n, "py", "bf16", 4)
        dsbf = med(n, "ds", "bf16", 4)
        print(
            f"{label(n):<18} {first(n, 'ds', 'fp32', 2):>5} {first(n, 'ds', 'fp32', 3):>10} "
            f"{first(n, 'py', 'fp32', 3):>10} {ds32:>8.3f} {py32:>8.3f} {pybf:>8.3f} "
            f"{dsbf:>8.3f} {med(n, 'ds', 'fp32', 6):>6.0f} {med(n, 'py', 'fp32', 5):>6.0f} "
            f"{med(n, 'ds', 'bf16', 6):>8.0f} {med(n, 'py', 'bf16', 5):>8.0f}"
        )
        best, which = (dsbf, "bf16") if dsbf > ds32 else (ds32, "fp32")
        ratios.append(
            f"{label(n)}: diffscope/PyTorch fp32 {ds32 / py32:.2f}x, bf16 {dsbf / pybf:.2f}x; "
            f"best diffscope ({which}, {best:.3f} st/s) / PyTorch bf16 {best / pybf:.2f}x; "
            f"PyTorch import alone {med(n, 'py', 'fp32', 6):.0f} MB"
        )
        ratios.append(
            "    range of the rounds, steps/s: "
            + ", ".join(
                f"{who} {p} {spread(n, side, p)}"
                for who, side, p in [
                    ("ds", "ds", "fp32"),
                    ("py", "py", "fp32"),
                    ("py", "py", "bf16"),
                    ("ds", "ds", "bf16"),
                ]
            )
        )
    print()
    for r in ratios:
        print(r)
    print(
        "(ds: diffscope, py: PyTorch-Python on random data of the same shape; st/s: "
        "training steps per second, higher is better)"
    )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "run":
        run(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "report":
        report(sys.argv[2])
    else:
        sys.exit(__doc__)
