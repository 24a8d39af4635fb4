"""The Python side of `make peer` (driven by scripts/peer.sh): diffscope's samplers against
diffusers' schedulers on the same network, and diffscope's variational bound against
improved-diffusion's formulas.

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

A checkpoint with `variance: Learned` (learned range) has a network with twice the data's
channels; the port is built so, and diffusers' DDPMScheduler with
`variance_type="learned_range"` is given the whole output (it splits it itself). diffusers
adds noise at its last step whenever that step's timestep is above 0 (trailing spacing
ends at t = 49), and with a learned range that noise is no longer negligible: its ln σ² lies
between ln β and ln 10⁻²⁰, its clamp of that step's β̃ = 0. improved-diffusion (and
diffscope, and the DDPM paper) add none at the last step. Where that puts a learned case
more than one level apart, the case is run again with the variance output set to −1 at
diffusers' last step (σ = 10⁻¹⁰ there, as in its fixed-small DDPM), and passes if that run
is within one level; both figures are printed.

Guided cases (`cfg`) run on a class-conditional checkpoint (`classes: Some(K)` in its
meta.ron; the port adds the class embedding to the time embedding after the time MLP, as
diffusers' UNet2DModel does): `diffscope sample --guidance W --class C|all` with DDIM
against a loop over diffusers' DDIMScheduler (configured as for the unguided DDIM cases,
x̂_0 clipped as the checkpoint says) that calls the port once per step on the doubled
batch, labels (y, ∅), and mixes ε̂ = ε̂_∅ + w (ε̂_y − ε̂_∅) here, for every w, 0 and 1
included (diffscope makes one call of n items for those). Same x_T, same pixel rule.

Bound cases compare `diffscope eval` (its printed bound, its per-timestep terms CSV, and
the held-out items it wrote with --held-out-npy) with improved-diffusion's
`calc_bpd_loop`, ported below, on the same items and the same noise: eval seeds libtorch's
generator with --seed and draws one `randn_like(x_0)` per timestep from T − 1 down to 0,
batch after batch, as `calc_bpd_loop` does. diffscope never clips x̂_0 in the bound, so
the comparison runs `calc_bpd_loop` with clip_denoised=False; its default
(clip_denoised=True) is printed beside it, as is the decoder term with the exact normal CDF
in place of improved-diffusion's tanh approximation (diffscope uses the exact one). A case
passes when the totals are within 0.5% of improved-diffusion's.

    peer.py CHECKPOINT_STEP_DIR CASES_FILE
        CASES_FILE: one case per line, either
          `sample name sampler steps spacing karras clip seed n npy` or
          `bound name variance seed batch x0_npy terms_csv eval_stdout` or
          `cfg name steps spacing seed n w class npy`
          (variance: learned, small or large, as given to `diffscope eval --variance`;
          class: a class number or `all`, as given to `diffscope sample --class`)
        prints one line per case and exits 1 if any case fails.
"""

import math
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
    # classes: Some(K) for a class-conditional network; absent or None otherwise
    classes = re.search(r"\bclasses: Some\((\d+)\)", text)
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
        "classes": int(classes.group(1)) if classes else None,
        "clip": one("clip_x0", str) == "true",
    }


def scheduler(meta, sampler, spacing, karras, clip):
    common = dict(
        num_train_timesteps=meta["timesteps"],
        beta_schedule=meta["beta_schedule"],
        prediction_type="epsilon",
        timestep_spacing=spacing,
    )
    if sampler == "ddpm":
        var = {
            "FixedSmall": "fixed_small",
            "FixedLarge": "fixed_large",
            "Learned": "learned_range",
        }[meta["variance"]]
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


def run_case(
    model, meta, sampler, steps, spacing, karras, clip, seed, n, exact_tables, quiet_last=False
):
    """The diffusers scheduler's sample from x_T of `seed`, its network evaluations and its
    last timestep. `quiet_last`: the network's variance output set to −1 (ln σ² at the low
    end of the learned range) at the last step, for DDPM with a learned variance."""
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
    channels = meta["item_shape"][0]
    with torch.no_grad():
        x = torch.randn([n, *meta["item_shape"]]) * sched.init_noise_sigma
        for k, t in enumerate(sched.timesteps):
            inp = sched.scale_model_input(x, t).float()
            out = model(inp, t.reshape(1).expand(n))
            evaluations += 1
            if quiet_last and k == len(sched.timesteps) - 1:
                out = out.clone()
                out[:, channels:] = -1.0
            x = sched.step(out, t, x, **kw).prev_sample.float()
    return x.numpy(), evaluations, int(sched.timesteps[-1])


def class_labels(n, classes, choice):
    """The label of each of n items: `all` gives item i the class min(i // ⌈n/K⌉, K − 1)
    (rows of ⌈n/K⌉ items, one class per row), a number gives every item that class."""
    if choice == "all":
        row = max(-(-n // classes), 1)
        return [min(i // row, classes - 1) for i in range(n)]
    return [int(choice)] * n


def run_cfg_case(model, meta, steps, spacing, seed, n, scale, choice):
    """Classifier-free guided DDIM, written here the way diffusers' class-conditional
    pipelines write it: each step calls the network once on the doubled batch (x, x) with
    the labels (y, ∅), splits the output in halves (conditional first) and mixes them as
    ε̂ = ε̂_∅ + w (ε̂_y − ε̂_∅), for every w (diffscope calls the network once on n items
    for w = 0 and w = 1); then DDIMScheduler.step. Returns the sample and the number of
    network calls."""
    classes = meta["classes"]
    sched, kw = scheduler(meta, "ddim", spacing, False, meta["clip"])
    sched.set_timesteps(steps)
    torch.manual_seed(seed)
    labels = torch.tensor(class_labels(n, classes, choice), dtype=torch.int64)
    null = torch.full([n], classes, dtype=torch.int64)
    both = torch.cat([labels, null])
    calls = 0
    with torch.no_grad():
        x = torch.randn([n, *meta["item_shape"]]) * sched.init_noise_sigma
        for t in sched.timesteps:
            inp = sched.scale_model_input(x, t).float()
            out = model(torch.cat([inp, inp]), t.reshape(1).expand(2 * n), both)
            calls += 1
            cond, uncond = out.chunk(2)
            eps = uncond + scale * (cond - uncond)
            x = sched.step(eps, t, x, **kw).prev_sample.float()
    return x.numpy(), calls


def pixels(x):
    return np.rint((np.clip(x, -1.0, 1.0) + 1.0) * 127.5).astype(np.int32)


# ---------------------------------------------------------------------------------------
# improved-diffusion's variational bound, copied from openai/improved-diffusion (MIT
# licence): improved_diffusion/losses.py (normal_kl, approx_standard_normal_cdf,
# discretized_gaussian_log_likelihood) and improved_diffusion/gaussian_diffusion.py
# (get_named_beta_schedule, betas_for_alpha_bar, the tables of GaussianDiffusion.__init__,
# q_mean_variance, q_sample, q_posterior_mean_variance, p_mean_variance with epsilon
# prediction and its LEARNED_RANGE, FIXED_SMALL and FIXED_LARGE branches,
# _predict_xstart_from_eps, _vb_terms_bpd, _prior_bpd, calc_bpd_loop, mean_flat,
# _extract_into_tensor). The formulas are unchanged; the model call is taken out of
# p_mean_variance so that one network output serves both values of clip_denoised, and
# the bookkeeping of calc_bpd_loop that the bound does not need (the MSEs) is left out.
# ---------------------------------------------------------------------------------------


def normal_kl(mean1, logvar1, mean2, logvar2):
    tensor = None
    for obj in (mean1, logvar1, mean2, logvar2):
        if isinstance(obj, torch.Tensor):
            tensor = obj
            break
    assert tensor is not None, "at least one argument must be a Tensor"
    logvar1, logvar2 = [
        x if isinstance(x, torch.Tensor) else torch.tensor(x).to(tensor)
        for x in (logvar1, logvar2)
    ]
    return 0.5 * (
        -1.0
        + logvar2
        - logvar1
        + torch.exp(logvar1 - logvar2)
        + ((mean1 - mean2) ** 2) * torch.exp(-logvar2)
    )


def approx_standard_normal_cdf(x):
    return 0.5 * (1.0 + torch.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * torch.pow(x, 3))))


def discretized_gaussian_log_likelihood(x, *, means, log_scales, cdf=approx_standard_normal_cdf):
    """`cdf` is not improved-diffusion's: it lets the same formula run with the exact
    normal CDF, for the figure printed beside the comparison."""
    assert x.shape == means.shape == log_scales.shape
    centered_x = x - means
    inv_stdv = torch.exp(-log_scales)
    plus_in = inv_stdv * (centered_x + 1.0 / 255.0)
    cdf_plus = cdf(plus_in)
    min_in = inv_stdv * (centered_x - 1.0 / 255.0)
    cdf_min = cdf(min_in)
    log_cdf_plus = torch.log(cdf_plus.clamp(min=1e-12))
    log_one_minus_cdf_min = torch.log((1.0 - cdf_min).clamp(min=1e-12))
    cdf_delta = cdf_plus - cdf_min
    log_probs = torch.where(
        x < -0.999,
        log_cdf_plus,
        torch.where(x > 0.999, log_one_minus_cdf_min, torch.log(cdf_delta.clamp(min=1e-12))),
    )
    assert log_probs.shape == x.shape
    return log_probs


def get_named_beta_schedule(schedule_name, num_diffusion_timesteps):
    if schedule_name == "linear":
        scale = 1000 / num_diffusion_timesteps
        beta_start = scale * 0.0001
        beta_end = scale * 0.02
        return np.linspace(beta_start, beta_end, num_diffusion_timesteps, dtype=np.float64)
    elif schedule_name == "cosine":
        return betas_for_alpha_bar(
            num_diffusion_timesteps,
            lambda t: math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2,
        )
    raise NotImplementedError(f"unknown beta schedule: {schedule_name}")


def betas_for_alpha_bar(num_diffusion_timesteps, alpha_bar, max_beta=0.999):
    betas = []
    for i in range(num_diffusion_timesteps):
        t1 = i / num_diffusion_timesteps
        t2 = (i + 1) / num_diffusion_timesteps
        betas.append(min(1 - alpha_bar(t2) / alpha_bar(t1), max_beta))
    return np.array(betas)


def mean_flat(tensor):
    return tensor.mean(dim=list(range(1, len(tensor.shape))))


def _extract_into_tensor(arr, timesteps, broadcast_shape):
    res = torch.from_numpy(arr).to(device=timesteps.device)[timesteps].float()
    while len(res.shape) < len(broadcast_shape):
        res = res[..., None]
    return res.expand(broadcast_shape)


class GaussianDiffusion:
    """improved-diffusion's GaussianDiffusion with epsilon prediction; `var_type` is
    "learned_range", "fixed_small" or "fixed_large" (its ModelVarType)."""

    def __init__(self, betas, var_type):
        self.var_type = var_type
        betas = np.array(betas, dtype=np.float64)
        self.betas = betas
        assert len(betas.shape) == 1, "betas must be 1-D"
        assert (betas > 0).all() and (betas <= 1).all()
        self.num_timesteps = int(betas.shape[0])

        alphas = 1.0 - betas
        self.alphas_cumprod = np.cumprod(alphas, axis=0)
        self.alphas_cumprod_prev = np.append(1.0, self.alphas_cumprod[:-1])
        self.sqrt_alphas_cumprod = np.sqrt(self.alphas_cumprod)
        self.sqrt_one_minus_alphas_cumprod = np.sqrt(1.0 - self.alphas_cumprod)
        self.log_one_minus_alphas_cumprod = np.log(1.0 - self.alphas_cumprod)
        self.sqrt_recip_alphas_cumprod = np.sqrt(1.0 / self.alphas_cumprod)
        self.sqrt_recipm1_alphas_cumprod = np.sqrt(1.0 / self.alphas_cumprod - 1)
        self.posterior_variance = (
            betas * (1.0 - self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod)
        )
        self.posterior_log_variance_clipped = np.log(
            np.append(self.posterior_variance[1], self.posterior_variance[1:])
        )
        self.posterior_mean_coef1 = (
            betas * np.sqrt(self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod)
        )
        self.posterior_mean_coef2 = (
            (1.0 - self.alphas_cumprod_prev) * np.sqrt(alphas) / (1.0 - self.alphas_cumprod)
        )

    def q_mean_variance(self, x_start, t):
        mean = _extract_into_tensor(self.sqrt_alphas_cumprod, t, x_start.shape) * x_start
        variance = _extract_into_tensor(1.0 - self.alphas_cumprod, t, x_start.shape)
        log_variance = _extract_into_tensor(self.log_one_minus_alphas_cumprod, t, x_start.shape)
        return mean, variance, log_variance

    def q_sample(self, x_start, t, noise):
        return (
            _extract_into_tensor(self.sqrt_alphas_cumprod, t, x_start.shape) * x_start
            + _extract_into_tensor(self.sqrt_one_minus_alphas_cumprod, t, x_start.shape)
            * noise
        )

    def q_posterior_mean_variance(self, x_start, x_t, t):
        posterior_mean = (
            _extract_into_tensor(self.posterior_mean_coef1, t, x_t.shape) * x_start
            + _extract_into_tensor(self.posterior_mean_coef2, t, x_t.shape) * x_t
        )
        posterior_variance = _extract_into_tensor(self.posterior_variance, t, x_t.shape)
        posterior_log_variance_clipped = _extract_into_tensor(
            self.posterior_log_variance_clipped, t, x_t.shape
        )
        return posterior_mean, posterior_variance, posterior_log_variance_clipped

    def p_mean_variance(self, model_output, x, t, clip_denoised):
        B, C = x.shape[:2]
        if self.var_type == "learned_range":
            assert model_output.shape == (B, C * 2, *x.shape[2:])
            model_output, model_var_values = torch.split(model_output, C, dim=1)
            min_log = _extract_into_tensor(self.posterior_log_variance_clipped, t, x.shape)
            max_log = _extract_into_tensor(np.log(self.betas), t, x.shape)
            # The model_var_values is [-1, 1] for [min_var, max_var].
            frac = (model_var_values + 1) / 2
            model_log_variance = frac * max_log + (1 - frac) * min_log
            model_variance = torch.exp(model_log_variance)
        else:
            # A learned-variance network read with a fixed variance gives its mean's
            # output only (diffscope's `eval --variance small`); improved-diffusion's
            # fixed-variance networks have no other.
            model_output = model_output[:, :C]
            model_variance, model_log_variance = {
                "fixed_large": (
                    np.append(self.posterior_variance[1], self.betas[1:]),
                    np.log(np.append(self.posterior_variance[1], self.betas[1:])),
                ),
                "fixed_small": (self.posterior_variance, self.posterior_log_variance_clipped),
            }[self.var_type]
            model_variance = _extract_into_tensor(model_variance, t, x.shape)
            model_log_variance = _extract_into_tensor(model_log_variance, t, x.shape)

        def process_xstart(x):
            if clip_denoised:
                return x.clamp(-1, 1)
            return x

        pred_xstart = process_xstart(self._predict_xstart_from_eps(x_t=x, t=t, eps=model_output))
        model_mean, _, _ = self.q_posterior_mean_variance(x_start=pred_xstart, x_t=x, t=t)
        return {
            "mean": model_mean,
            "variance": model_variance,
            "log_variance": model_log_variance,
            "pred_xstart": pred_xstart,
        }

    def _predict_xstart_from_eps(self, x_t, t, eps):
        return (
            _extract_into_tensor(self.sqrt_recip_alphas_cumprod, t, x_t.shape) * x_t
            - _extract_into_tensor(self.sqrt_recipm1_alphas_cumprod, t, x_t.shape) * eps
        )

    def _vb_terms_bpd(self, model_output, x_start, x_t, t, clip_denoised):
        true_mean, _, true_log_variance_clipped = self.q_posterior_mean_variance(
            x_start=x_start, x_t=x_t, t=t
        )
        out = self.p_mean_variance(model_output, x_t, t, clip_denoised=clip_denoised)
        kl = normal_kl(true_mean, true_log_variance_clipped, out["mean"], out["log_variance"])
        kl = mean_flat(kl) / np.log(2.0)

        decoder_nll = -discretized_gaussian_log_likelihood(
            x_start, means=out["mean"], log_scales=0.5 * out["log_variance"]
        )
        assert decoder_nll.shape == x_start.shape
        decoder_nll = mean_flat(decoder_nll) / np.log(2.0)

        # At the first timestep return the decoder NLL,
        # otherwise return KL(q(x_{t-1}|x_t,x_0) || p(x_{t-1}|x_t))
        output = torch.where((t == 0), decoder_nll, kl)
        return {"output": output, "out": out}

    def _prior_bpd(self, x_start):
        batch_size = x_start.shape[0]
        t = torch.tensor([self.num_timesteps - 1] * batch_size, device=x_start.device)
        qt_mean, _, qt_log_variance = self.q_mean_variance(x_start, t)
        kl_prior = normal_kl(mean1=qt_mean, logvar1=qt_log_variance, mean2=0.0, logvar2=0.0)
        return mean_flat(kl_prior) / np.log(2.0)

    def calc_bpd_loop(self, model, x_start):
        """calc_bpd_loop for clip_denoised False and True at once (the same x_t and network
        output), plus the decoder term with the exact normal CDF: {clip: (total_bpd [N],
        prior_bpd [N], vb [N, T])}, exact decoder [N]."""
        device = x_start.device
        batch_size = x_start.shape[0]
        vb = {False: [], True: []}
        exact_decoder = None
        for t in list(range(self.num_timesteps))[::-1]:
            t_batch = torch.tensor([t] * batch_size, device=device)
            noise = torch.randn_like(x_start)
            x_t = self.q_sample(x_start=x_start, t=t_batch, noise=noise)
            with torch.no_grad():
                model_output = model(x_t, t_batch)
                for clip in (False, True):
                    out = self._vb_terms_bpd(model_output, x_start, x_t, t_batch, clip)
                    vb[clip].append(out["output"])
                    if t == 0 and not clip:
                        p = out["out"]
                        exact_decoder = -mean_flat(
                            discretized_gaussian_log_likelihood(
                                x_start.double(),
                                means=p["mean"].double(),
                                log_scales=0.5 * p["log_variance"].double(),
                                cdf=torch.special.ndtr,
                            )
                        ) / np.log(2.0)
        prior_bpd = self._prior_bpd(x_start)
        result = {}
        for clip, terms in vb.items():
            terms = torch.stack(terms, dim=1)
            result[clip] = (terms.sum(dim=1) + prior_bpd, prior_bpd, terms)
        return result, exact_decoder


# ---------------------------------------------------------------------------------------


def eval_figures(stdout_path, terms_path):
    """diffscope eval's bound and L_T (bits/dim) from its printed lines, and its per-t terms
    (indexed by t, the 0-based timestep) from its CSV."""
    text = open(stdout_path).read()

    def figure(label):
        m = re.search(rf"^\s*{re.escape(label)}\s+(-?[0-9.eE+-]+) ± .*bits/dim", text, re.M)
        if not m:
            sys.exit(f"{stdout_path}: no `{label}` line in bits/dim in diffscope eval's output")
        return float(m.group(1))

    rows = [line.split(",") for line in open(terms_path).read().split()[1:]]
    terms = np.zeros(len(rows))
    for t, v in rows:
        terms[int(t)] = float(v)
    return figure("bound"), figure("L_T (prior)"), terms


def bound_case(model, meta, name, variance, seed, batch, x0_npy, terms_csv, eval_stdout):
    """One bound case: (passed, the lines to print)."""
    var_type = {"learned": "learned_range", "small": "fixed_small", "large": "fixed_large"}[
        variance
    ]
    schedule = {"linear": "linear", "squaredcos_cap_v2": "cosine"}[meta["beta_schedule"]]
    diffusion = GaussianDiffusion(get_named_beta_schedule(schedule, meta["timesteps"]), var_type)
    x0 = torch.from_numpy(np.load(x0_npy)).float()
    ours_bound, ours_prior, ours_terms = eval_figures(eval_stdout, terms_csv)
    if len(ours_terms) != diffusion.num_timesteps:
        sys.exit(f"{terms_csv}: {len(ours_terms)} terms, expected {diffusion.num_timesteps}")
    # eval draws the noise batch by batch, every timestep of a batch before the next batch
    torch.manual_seed(seed)
    parts = {False: [], True: []}
    exact = []
    for start in range(0, x0.shape[0], batch):
        result, exact_decoder = diffusion.calc_bpd_loop(model, x0[start : start + batch])
        for clip in parts:
            parts[clip].append(result[clip])
        exact.append(exact_decoder)

    def cat(clip, k):
        return torch.cat([p[k] for p in parts[clip]]).double().numpy()

    total, prior, vb = cat(False, 0).mean(), cat(False, 1).mean(), cat(False, 2).mean(0)
    total_clipped = cat(True, 0).mean()
    # vb is ordered T − 1 down to 0, as calc_bpd_loop appends
    theirs_terms = vb[::-1]
    exact_decoder = torch.cat(exact).double().numpy().mean()
    # diffscope's total from its CSV (full precision) and its printed L_T
    ours_total = ours_terms.sum() + ours_prior
    if abs(ours_total - ours_bound) > 2e-3:
        sys.exit(
            f"{eval_stdout}: the bound printed ({ours_bound}) is not L_T plus the terms of "
            f"{terms_csv} ({ours_total})"
        )
    rel = (ours_total - total) / total
    denom = np.maximum(np.abs(theirs_terms), 1e-12)
    per_t = np.abs(ours_terms - theirs_terms) / denom
    worst_t = int(np.argmax(per_t))
    abs_t = np.abs(ours_terms - theirs_terms)
    worst_abs_t = int(np.argmax(abs_t))
    ok = abs(rel) <= 0.005
    line = (
        f"{'ok  ' if ok else 'FAIL'} {name}: {variance} variance, {x0.shape[0]} held-out items: "
        f"diffscope {ours_total:.5f} bits/dim, improved-diffusion {total:.5f} "
        f"(clip_denoised=False), difference {100 * rel:+.3f}% of the total\n"
        f"     L_T {ours_prior:.5f} vs {prior:.5f}; decoder L_0 {ours_terms[0]:.5f} vs "
        f"{theirs_terms[0]:.5f} (with the exact normal CDF: {exact_decoder:.5f}); per-t terms: "
        f"largest relative difference {100 * per_t[worst_t]:.3f}% at t = {worst_t} "
        f"({ours_terms[worst_t]:.3e} vs {theirs_terms[worst_t]:.3e}), largest absolute "
        f"{abs_t[worst_abs_t]:.2e} bits/dim at t = {worst_abs_t}\n"
        f"     improved-diffusion's default clip_denoised=True gives {total_clipped:.5f}"
    )
    return ok, line


def main():
    step_dir, cases_file = sys.argv[1], sys.argv[2]
    torch.set_num_threads(len(__import__("os").sched_getaffinity(0)))
    meta = read_meta(step_dir)
    model = Unet(
        meta["item_shape"], meta["base"], meta["mults"], meta["blocks"], meta["attn"], 0.0,
        meta["groups"], learned_variance=meta["variance"] == "Learned",
        classes=meta["classes"],
    )
    state = load_file(f"{step_dir}/ema.safetensors")
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        sys.exit(f"{step_dir}/ema.safetensors: missing {missing}, unexpected {unexpected}")
    model.eval()
    classes = f", {meta['classes']} classes" if meta["classes"] is not None else ""
    print(
        f"torch {torch.__version__}, diffusers {diffusers.__version__}, {step_dir} "
        f"(variance {meta['variance']}{classes})"
    )
    failed = 0
    for line in open(cases_file):
        if not line.strip():
            continue
        kind, name, *rest = line.split()
        if kind == "bound":
            variance, seed, batch, x0_npy, terms_csv, eval_stdout = rest
            ok, text = bound_case(
                model, meta, name, variance, int(seed), int(batch), x0_npy, terms_csv,
                eval_stdout,
            )
            failed += not ok
            print(text)
            continue
        if kind == "cfg":
            steps, spacing, seed, n, scale, choice, npy = rest
            if meta["classes"] is None:
                sys.exit(f"{step_dir}: case {name} needs a class-conditional checkpoint")
            ours = np.load(npy)
            theirs, calls = run_cfg_case(
                model, meta, int(steps), spacing, int(seed), int(n), float(scale), choice
            )
            d = np.abs(pixels(ours) - pixels(theirs))
            worst = int(d.max())
            ok = worst <= 1
            failed += not ok
            print(
                f"{'ok  ' if ok else 'FAIL'} {name:<34} {calls:>4} calls of {2 * int(n)} items  "
                f"max {worst} level(s) apart, {int((d > 0).sum())} of {d.size} pixels differ, "
                f"max |Δ| {float(np.abs(ours - theirs).max()):.2e}"
            )
            continue
        sampler, steps, spacing, karras, clip, seed, n, npy = rest
        steps, seed, n = int(steps), int(seed), int(n)
        karras, clip = karras == "1", clip == "1"
        ours = np.load(npy)
        args = (model, meta, sampler, steps, spacing, karras, clip, seed, n)
        theirs, evaluations, last_t = run_case(*args, False)
        d = np.abs(pixels(ours) - pixels(theirs))
        worst = int(d.max())
        note = ""
        ok = worst <= 1
        if not ok:
            exact, _, _ = run_case(*args, True)
            de = np.abs(pixels(ours) - pixels(exact))
            note = (
                f"; with diffusers' ᾱ in float64: max {int(de.max())} level(s), "
                f"{int((de > 0).sum())} pixels differ"
            )
            ok = int(de.max()) <= 1
        if not ok and sampler == "ddpm" and meta["variance"] == "Learned" and last_t > 0:
            # diffusers adds noise at its last step whenever that step's timestep is above
            # 0 (trailing spacing ends at t = 49), with ln σ² between ln β and ln 10⁻²⁰ (its
            # clamp of the β̃ = 0 of that step); improved-diffusion's p_sample, like
            # diffscope and the DDPM paper, adds none at the last step. With v = −1 there,
            # diffusers' σ is 10⁻¹⁰, as in its fixed-small DDPM.
            quiet, _, _ = run_case(*args, False, quiet_last=True)
            dq = np.abs(pixels(ours) - pixels(quiet))
            note += (
                f"; without diffusers' noise at its last step (t = {last_t}): max "
                f"{int(dq.max())} level(s), {int((dq > 0).sum())} pixels differ, max |Δ| "
                f"{float(np.abs(ours - quiet).max()):.2e}"
            )
            ok = int(dq.max()) <= 1
        failed += not ok
        print(
            f"{'ok  ' if ok else 'FAIL'} {name:<34} {evaluations:>4} evaluations  "
            f"max {worst} level(s) apart, {int((d > 0).sum())} of {d.size} pixels differ, "
            f"max |Δ| {float(np.abs(ours - theirs).max()):.2e}{note}"
        )
    if failed:
        print(f"{failed} case(s) failed on {step_dir}")
        sys.exit(1)
    print(f"every case on {step_dir} passed")


if __name__ == "__main__":
    main()
