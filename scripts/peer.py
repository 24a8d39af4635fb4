"""The Python side of `make peer` (driven by scripts/peer.sh): diffscope's samplers against
diffusers' schedulers on the same network.

For each case, scripts/peer.sh has run `diffscope sample` on a shipped checkpoint with a
sampler, step count, spacing and Karras flag, writing the raw samples as .npy. This script
loads the same checkpoint's EMA weights into a PyTorch port of the U-Net
(scripts/peer_unet.py), draws x_T from the same seed (libtorch's CPU generator is
PyTorch's, so `torch.manual_seed(seed); torch.randn(shape)` is the x_T diffscope drew),
runs the matching diffusers scheduler the way its pipelines do (x_T times
`init_noise_sigma`, `scale_model_input`, `step`), and compares the two results as 8-bit
pixels. Stochastic samplers draw their noise from the same global generator in the same
order, so they are compared the same way.

diffusers keeps ᾱ in float32 (a cumulative product of 1000 float32 factors); diffscope
keeps its tables in float64. Where that alone puts a case more than one level apart (σ
samplers on the cosine schedule start from σ ≈ 2·10⁴, where float32's ᾱ is a few parts in
10⁵ off), the case is run again with the scheduler's `alphas_cumprod` in float64, the same
scheduler code on exact tables, and passes if that run is within one level; both figures
are printed.

    peer.py CHECKPOINT_STEP_DIR CASES_FILE
        CASES_FILE: one case per line: `name sampler steps spacing karras clip seed n npy`
        prints one line per case and exits 1 if any case is more than one level apart.
"""

import re
import sys
import warnings

warnings.filterwarnings("ignore")

import numpy as np
import torch
from safetensors.torch import load_file

sys.path.insert(0, __import__("os").path.dirname(__file__))
from peer_unet import Unet  # noqa: E402

import diffusers  # noqa: E402
from diffusers import (  # noqa: E402
    DDIMScheduler,
    DDPMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    HeunDiscreteScheduler,
)

# diffscope's schedule names and diffusers' beta_schedule for them
BETA_SCHEDULES = {"Linear": "linear", "Cosine": "squaredcos_cap_v2"}


def read_meta(step_dir):
    text = open(f"{step_dir}/meta.ron").read()

    def one(key, conv=int):
        m = re.search(rf"\b{key}: ([^,\n]+),", text)
        if not m:
            sys.exit(f"{step_dir}/meta.ron: no {key}")
        return conv(m.group(1).strip())

    def ints(key):
        m = re.search(rf"\b{key}: \[([^\]]*)\]", text)
        if not m:
            sys.exit(f"{step_dir}/meta.ron: no {key}")
        return [int(x) for x in m.group(1).replace(",", " ").split()]

    schedule = one("schedule", str)
    if schedule not in BETA_SCHEDULES:
        sys.exit(f"{step_dir}: schedule {schedule} has no diffusers counterpart here")
    if one("prediction", str) != "Epsilon":
        sys.exit(f"{step_dir}: only epsilon prediction is compared")
    size = one("size")
    channels = 3 if re.search(r"\bShapes\(", text) else 1
    return {
        "item_shape": [channels, size, size],
        "base": one("base_channels"),
        "mults": ints("channel_mults"),
        "blocks": one("blocks_per_level"),
        "attn": ints("attention_resolutions"),
        "groups": one("groups"),
        "timesteps": one("timesteps"),
        "beta_schedule": BETA_SCHEDULES[schedule],
        "variance": one("variance", str),
    }


def scheduler(meta, sampler, spacing, karras, clip):
    common = dict(
        num_train_timesteps=meta["timesteps"],
        beta_schedule=meta["beta_schedule"],
        prediction_type="epsilon",
        timestep_spacing=spacing,
    )
    if sampler == "ddpm":
        var = {"FixedSmall": "fixed_small", "FixedLarge": "fixed_large"}[meta["variance"]]
        return DDPMScheduler(variance_type=var, clip_sample=clip, **common), {}
    if sampler == "ddim":
        s = DDIMScheduler(clip_sample=clip, set_alpha_to_one=True, **common)
        # diffscope's DDIM takes ε̂ from the clipped x̂_0, which diffusers calls
        # use_clipped_model_output
        return s, {"eta": 0.0, "use_clipped_model_output": True}
    if sampler.startswith("dpmpp"):
        return (
            DPMSolverMultistepScheduler(
                algorithm_type="sde-dpmsolver++" if sampler.endswith("sde") else "dpmsolver++",
                solver_order=3 if sampler == "dpmpp-3m" else 2,
                thresholding=clip,
                sample_max_value=1.0,
                use_karras_sigmas=karras,
                **common,
            ),
            {},
        )
    if sampler == "euler":
        return EulerDiscreteScheduler(use_karras_sigmas=karras, **common), {}
    if sampler == "euler-a":
        return EulerAncestralDiscreteScheduler(**common), {}
    if sampler == "heun":
        return HeunDiscreteScheduler(use_karras_sigmas=karras, clip_sample=clip, **common), {}
    sys.exit(f"unknown sampler {sampler}")


def float64_alphas_cumprod(meta):
    """ᾱ of the schedule in float64, as diffscope computes it (src/diffusion/schedule.rs)."""
    import math

    t = meta["timesteps"]
    if meta["beta_schedule"] == "linear":
        scale = 1000.0 / t
        lo, hi = scale * 1e-4, scale * 0.02
        betas = [lo + (hi - lo) * i / (t - 1) for i in range(t)] if t > 1 else [lo]
    else:

        def f(x):
            return math.cos((x / t + 0.008) / 1.008 * math.pi / 2) ** 2

        betas = [min(1 - f(i + 1) / f(i), 0.999) for i in range(t)]
    return torch.tensor(np.cumprod([1.0 - b for b in betas]), dtype=torch.float64)


def run_case(model, meta, sampler, steps, spacing, karras, clip, seed, n, exact_tables):
    """The diffusers scheduler's sample from x_T of `seed`, and its network evaluations."""
    sched, kw = scheduler(meta, sampler, spacing, karras, clip)
    if exact_tables:
        sched.alphas_cumprod = float64_alphas_cumprod(meta)
    sched.set_timesteps(steps)
    # Start at the first timestep, as the pipelines that start mid-way do: without it
    # diffusers looks the first timestep up and, where Karras σ on the cosine schedule
    # gives a repeated timestep, starts one step late and runs off its table.
    if hasattr(sched, "set_begin_index"):
        sched.set_begin_index(0)
    torch.manual_seed(seed)
    evaluations = 0
    with torch.no_grad():
        x = torch.randn([n, *meta["item_shape"]]) * sched.init_noise_sigma
        for t in sched.timesteps:
            inp = sched.scale_model_input(x, t).float()
            out = model(inp, t.reshape(1).expand(n))
            evaluations += 1
            x = sched.step(out, t, x, **kw).prev_sample.float()
    return x.numpy(), evaluations


def pixels(x):
    return np.rint((np.clip(x, -1.0, 1.0) + 1.0) * 127.5).astype(np.int32)


def main():
    step_dir, cases_file = sys.argv[1], sys.argv[2]
    torch.set_num_threads(len(__import__("os").sched_getaffinity(0)))
    meta = read_meta(step_dir)
    model = Unet(
        meta["item_shape"], meta["base"], meta["mults"], meta["blocks"], meta["attn"], 0.0,
        meta["groups"],
    )
    state = load_file(f"{step_dir}/ema.safetensors")
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        sys.exit(f"{step_dir}/ema.safetensors: missing {missing}, unexpected {unexpected}")
    model.eval()
    print(f"torch {torch.__version__}, diffusers {diffusers.__version__}, {step_dir}")
    failed = 0
    for line in open(cases_file):
        if not line.strip():
            continue
        name, sampler, steps, spacing, karras, clip, seed, n, npy = line.split()
        steps, seed, n = int(steps), int(seed), int(n)
        karras, clip = karras == "1", clip == "1"
        ours = np.load(npy)
        theirs, evaluations = run_case(
            model, meta, sampler, steps, spacing, karras, clip, seed, n, False
        )
        d = np.abs(pixels(ours) - pixels(theirs))
        worst = int(d.max())
        note = ""
        if worst > 1:
            exact, _ = run_case(model, meta, sampler, steps, spacing, karras, clip, seed, n, True)
            de = np.abs(pixels(ours) - pixels(exact))
            note = (
                f"; with diffusers' ᾱ in float64: max {int(de.max())} level(s), "
                f"{int((de > 0).sum())} pixels differ"
            )
            ok = int(de.max()) <= 1
        else:
            ok = True
        failed += not ok
        print(
            f"{'ok  ' if ok else 'FAIL'} {name:<34} {evaluations:>4} evaluations  "
            f"max {worst} level(s) apart, {int((d > 0).sum())} of {d.size} pixels differ, "
            f"max |Δ| {float(np.abs(ours - theirs).max()):.2e}{note}"
        )
    if failed:
        print(f"{failed} case(s) more than one 8-bit level apart from diffusers")
        sys.exit(1)
    print("every case within one 8-bit level of diffusers")


if __name__ == "__main__":
    main()
