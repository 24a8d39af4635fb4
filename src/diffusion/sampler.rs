//! Reverse-process samplers: DDPM ancestral sampling (the seed's Algorithm 2) and DDIM
//! here; DPM-Solver++ (`dpm_solver.rs`), Euler and Euler ancestral (`euler.rs`) and Heun
//! (`heun.rs`) next to this file. Each computes its step's coefficients in f64 from the
//! shared tables and equals the diffusers scheduler of the same name.
//!
//! Both can run over a subsequence of S ≤ T timesteps ("respacing"): the reverse step
//! between visited timesteps t > t' uses β = 1 − ᾱ_t/ᾱ_{t'}, which for S = T is β_t (up to
//! f64 rounding), as diffusers' schedulers compute it. The coefficients of every step come
//! from the respaced chain's tables ([`Respaced`](super::Respaced), [`Chain`](super::Chain)).
//! Algorithm 2's update x_{t−1} = (x_t − β_t/√(1−ᾱ_t) ε̂)/√α_t + σ_t z is written here in the
//! equivalent form μ̃(x̂_0, x_t) + σ_t z, which lets x̂_0 be clipped for images.

use super::chain::{LogVariance, StepNoise};
use super::spacing::Spacing;
use super::{Diffusion, Prediction, VarianceKind};
use serde::{Deserialize, Serialize};
use std::fmt;
use tch::{Kind, Tensor};

/// A reverse-process sampler. DDPM and DDIM step along the schedule's chain ([`Chain`]
/// (super::Chain)); the others step in σ = √((1 − ᾱ)/ᾱ) ([`SigmaSteps`]
/// (super::spacing::SigmaSteps)), each in its own file next to this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum SamplerKind {
    /// Ancestral sampling (Algorithm 2), stochastic.
    #[default]
    Ddpm,
    /// DDIM (Song et al. 2021): deterministic at η = 0, DDPM-like at η = 1.
    Ddim,
    /// DPM-Solver++ (Lu et al. 2022), second-order multistep, data prediction.
    Dpmpp2m,
    /// DPM-Solver++, third-order multistep.
    Dpmpp3m,
    /// SDE-DPM-Solver++, second-order multistep: stochastic.
    Dpmpp2mSde,
    /// Euler steps of the probability-flow ODE in σ (Karras et al. 2022).
    Euler,
    /// Euler ancestral: an Euler step to a lower σ, then fresh noise back up (stochastic).
    EulerA,
    /// Heun's second-order method: two network evaluations per step (the last step is an
    /// Euler step).
    Heun,
}

impl SamplerKind {
    pub const ALL: [SamplerKind; 8] = [
        SamplerKind::Ddpm,
        SamplerKind::Ddim,
        SamplerKind::Dpmpp2m,
        SamplerKind::Dpmpp3m,
        SamplerKind::Dpmpp2mSde,
        SamplerKind::Euler,
        SamplerKind::EulerA,
        SamplerKind::Heun,
    ];

    /// The name the command line, the workbench and the README use.
    pub fn name(self) -> &'static str {
        match self {
            SamplerKind::Ddpm => "ddpm",
            SamplerKind::Ddim => "ddim",
            SamplerKind::Dpmpp2m => "dpmpp-2m",
            SamplerKind::Dpmpp3m => "dpmpp-3m",
            SamplerKind::Dpmpp2mSde => "dpmpp-2m-sde",
            SamplerKind::Euler => "euler",
            SamplerKind::EulerA => "euler-a",
            SamplerKind::Heun => "heun",
        }
    }

    pub fn parse(s: &str) -> Option<SamplerKind> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }

    /// The names of all samplers, for messages: "ddpm, ddim, …, heun".
    pub fn names() -> String {
        Self::ALL.map(|k| k.name()).join(", ")
    }

    /// Whether Karras σ spacing applies (diffusers has it for these schedulers).
    pub fn has_karras(self) -> bool {
        matches!(
            self,
            SamplerKind::Dpmpp2m
                | SamplerKind::Dpmpp3m
                | SamplerKind::Dpmpp2mSde
                | SamplerKind::Euler
                | SamplerKind::Heun
        )
    }

    /// Whether η applies (DDIM's share of the DDPM noise).
    pub fn has_eta(self) -> bool {
        self == SamplerKind::Ddim
    }

    /// Whether the sampler draws noise after x_T (at η = 0 for DDIM).
    pub fn is_stochastic(self, eta: f64) -> bool {
        match self {
            SamplerKind::Ddpm | SamplerKind::Dpmpp2mSde | SamplerKind::EulerA => true,
            SamplerKind::Ddim => eta != 0.0,
            _ => false,
        }
    }

    /// The spacing diffusers' scheduler uses by default, which is diffscope's default too:
    /// `leading` for DDPM and DDIM, `linspace` for the others.
    pub fn default_spacing(self) -> Spacing {
        match self {
            SamplerKind::Ddpm | SamplerKind::Ddim => Spacing::Leading,
            _ => Spacing::Linspace,
        }
    }

    /// The network evaluations of a run of `steps` steps (Heun: two per step but one for the
    /// last).
    pub fn evaluations(self, steps: usize) -> usize {
        match self {
            SamplerKind::Heun => (2 * steps).saturating_sub(1),
            _ => steps,
        }
    }
}

impl fmt::Display for SamplerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleOptions {
    pub sampler: SamplerKind,
    /// Number of reverse steps S (at most T; T when larger).
    pub steps: usize,
    /// DDIM's η: the fraction of the DDPM noise kept.
    pub eta: f64,
    /// Clip x̂_0 to [−1, 1] (for images; never used in the loss or the bound).
    pub clip_x0: bool,
    /// Override the model's variance (DDPM only).
    pub variance: Option<VarianceKind>,
    /// The timestep spacing; `None` is the sampler's default ([`SamplerKind::default_spacing`]).
    pub spacing: Option<Spacing>,
    /// Karras σ spacing (for the samplers that have it, [`SamplerKind::has_karras`]).
    pub karras: bool,
    /// Classifier-free guidance of a class-conditional model: its scale w and the classes
    /// drawn (None: an unconditional model). See [`super::guidance`].
    #[serde(default)]
    pub guidance: Option<super::Guidance>,
}

impl Default for SampleOptions {
    fn default() -> Self {
        SampleOptions {
            sampler: SamplerKind::Ddpm,
            steps: usize::MAX,
            eta: 0.0,
            clip_x0: false,
            variance: None,
            spacing: None,
            karras: false,
            guidance: None,
        }
    }
}

/// Which sampling option an error is about, so that a front end can name its flag or
/// preset field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleOption {
    Steps,
    Karras,
    Eta,
}

/// A sampling option that cannot be run. The text names the problem; the front end names
/// the flag or field ([`SampleOptionError::option`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SampleOptionError {
    #[error("at least one reverse step is needed, got 0")]
    ZeroSteps,
    #[error(
        "{steps} steps is more than the model's T = {t} (a sampler cannot visit more steps than T)"
    )]
    StepsAboveT { steps: usize, t: usize },
    #[error(
        "{sampler} has no Karras σ spacing (it is for dpmpp-2m, dpmpp-3m, dpmpp-2m-sde, euler \
         and heun)"
    )]
    Karras { sampler: SamplerKind },
    #[error("{sampler} takes no η (η is DDIM's share of the DDPM noise); got {eta}")]
    Eta { sampler: SamplerKind, eta: f64 },
    #[error("η must be in [0, 1], got {0}")]
    EtaRange(f64),
}

impl SampleOptionError {
    pub fn option(&self) -> SampleOption {
        match self {
            SampleOptionError::ZeroSteps | SampleOptionError::StepsAboveT { .. } => {
                SampleOption::Steps
            }
            SampleOptionError::Karras { .. } => SampleOption::Karras,
            SampleOptionError::Eta { .. } | SampleOptionError::EtaRange(_) => SampleOption::Eta,
        }
    }
}

impl SampleOptions {
    /// Checks the options against a model of T steps (`steps == usize::MAX` means all T).
    pub fn check(&self, t: usize) -> Result<(), SampleOptionError> {
        if self.steps == 0 {
            return Err(SampleOptionError::ZeroSteps);
        }
        if self.steps != usize::MAX && self.steps > t {
            return Err(SampleOptionError::StepsAboveT {
                steps: self.steps,
                t,
            });
        }
        if self.karras && !self.sampler.has_karras() {
            return Err(SampleOptionError::Karras {
                sampler: self.sampler,
            });
        }
        if !(0.0..=1.0).contains(&self.eta) {
            return Err(SampleOptionError::EtaRange(self.eta));
        }
        if self.eta != 0.0 && !self.sampler.has_eta() {
            return Err(SampleOptionError::Eta {
                sampler: self.sampler,
                eta: self.eta,
            });
        }
        Ok(())
    }

    /// The spacing this run uses.
    pub fn spacing(&self) -> Spacing {
        self.spacing
            .unwrap_or_else(|| self.sampler.default_spacing())
    }

    /// A short description: "dpmpp-2m, 20 steps, karras", "heun, 10 steps = 19 network
    /// evaluations" and the like.
    pub fn describe(&self, t: usize) -> String {
        let steps = self.steps.min(t);
        let mut s = format!("{}, {steps} steps", self.sampler);
        let nfe = self.sampler.evaluations(steps);
        if nfe != steps {
            s.push_str(&format!(" = {nfe} network evaluations"));
        }
        if self
            .spacing
            .is_some_and(|sp| sp != self.sampler.default_spacing())
        {
            s.push_str(&format!(", {}", self.spacing()));
        }
        if self.karras {
            s.push_str(", karras");
        }
        if self.sampler.has_eta() && self.eta != 0.0 {
            s.push_str(&format!(", η {}", self.eta));
        }
        if let Some(g) = &self.guidance {
            s.push_str(&format!(", {}", g.describe()));
        }
        s
    }
}

/// One reverse step as seen by an observer: the step's number `index` (0-based) of `of`, the
/// timestep `t` (0-based table index; the nearest one where the model is given a fractional
/// `time`), σ = √((1 − ᾱ)/ᾱ) of its input, its input x (the variance-preserving state
/// [`state_of`](super::state_of)`(t)` of the seed note, whatever the sampler steps in) and
/// the model's x̂_0 there.
pub struct StepView<'a> {
    pub index: usize,
    pub of: usize,
    pub t: usize,
    /// The timestep the model is given (fractional for some σ samplers).
    pub time: f64,
    pub sigma: f64,
    /// The learned variance at this step (DDPM with a learned variance only).
    pub variance: Option<StepVariance>,
    pub xt: &'a Tensor,
    pub x0_hat: &'a Tensor,
}

impl<'a> StepView<'a> {
    /// Step `index` of `of` of a σ sampler: the model's `time` (its nearest table index
    /// of a schedule of `len` steps as `t`), σ, and the states shown.
    pub(crate) fn at_sigma(
        (index, of): (usize, usize),
        time: f64,
        sigma: f64,
        len: usize,
        xt: &'a Tensor,
        x0_hat: &'a Tensor,
    ) -> StepView<'a> {
        StepView {
            index,
            of,
            t: nearest_index(time, len),
            time,
            sigma,
            variance: None,
            xt,
            x0_hat,
        }
    }
}

/// The variance a learned model chose at one DDPM step, beside the two ends of its range
/// (the chain's own β̃ and β: a respaced chain's are larger than the schedule's).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StepVariance {
    /// σ² averaged over the batch's elements.
    pub mean: f64,
    /// β̃ (clipped at the first step), the lower end.
    pub beta_tilde: f64,
    /// β, the upper end.
    pub beta: f64,
}

/// A stored reverse trajectory: frames in sampling order (t decreasing), then x_0.
pub struct Trajectory {
    /// The 0-based table index of each frame's step (see [`StepView`]).
    pub timesteps: Vec<usize>,
    /// The step number (0-based) of each frame, and the number of steps of the run.
    pub steps: Vec<usize>,
    pub of: usize,
    /// σ = √((1 − ᾱ)/ᾱ) at each frame.
    pub sigmas: Vec<f64>,
    /// The learned variance at each frame ([`StepView::variance`]).
    pub variances: Vec<Option<StepVariance>>,
    pub xt: Vec<Tensor>,
    pub x0_hat: Vec<Tensor>,
    /// With classifier-free guidance, the x̂_0 of the conditional and of the unconditional
    /// output at each frame (None where a run is unguided or w is 0 or 1).
    pub x0_guided: Vec<Option<[Tensor; 2]>>,
}

impl Trajectory {
    pub fn new() -> Trajectory {
        Trajectory {
            timesteps: Vec::new(),
            steps: Vec::new(),
            of: 0,
            sigmas: Vec::new(),
            variances: Vec::new(),
            xt: Vec::new(),
            x0_hat: Vec::new(),
            x0_guided: Vec::new(),
        }
    }

    /// Records a step view (copies the tensors).
    pub fn push(&mut self, v: &StepView) {
        self.timesteps.push(v.t);
        self.steps.push(v.index);
        self.of = v.of;
        self.sigmas.push(v.sigma);
        self.variances.push(v.variance);
        self.xt.push(v.xt.copy());
        self.x0_hat.push(v.x0_hat.copy());
    }
}

impl Default for Trajectory {
    fn default() -> Self {
        Self::new()
    }
}

/// The model as the samplers call it: (x_t, t) to the network's output.
pub type Model<'a> = dyn FnMut(&Tensor, &Tensor) -> Tensor + 'a;

impl Diffusion {
    /// Starts from x_T ~ N(0, I) of the given shape and runs the reverse process to x_0.
    ///
    /// `model` maps (x_t, t) to the network's output; `observe` sees every step. The noise
    /// comes from libtorch's generator, so seed it (`tch::manual_seed`) for reproducibility.
    pub fn sample(
        &self,
        model: &mut Model,
        shape: &[i64],
        opts: &SampleOptions,
        observe: &mut dyn FnMut(StepView),
    ) -> Tensor {
        let _guard = tch::no_grad_guard();
        let x = Tensor::randn(shape, (Kind::Float, self.device));
        self.sample_from(model, x, opts, observe)
    }

    /// Runs the reverse process from a given x_T ~ N(0, I) (each σ sampler scales it to its
    /// first σ as diffusers' `init_noise_sigma` does), with the sampler, steps and spacing
    /// of `opts`.
    pub fn sample_from(
        &self,
        model: &mut Model,
        x: Tensor,
        opts: &SampleOptions,
        observe: &mut dyn FnMut(StepView),
    ) -> Tensor {
        let _guard = tch::no_grad_guard();
        match opts.sampler {
            SamplerKind::Ddpm | SamplerKind::Ddim => self.sample_chain(model, x, opts, observe),
            SamplerKind::Dpmpp2m | SamplerKind::Dpmpp3m | SamplerKind::Dpmpp2mSde => {
                self.sample_dpm_solver(model, x, opts, observe)
            }
            SamplerKind::Euler | SamplerKind::EulerA => self.sample_euler(model, x, opts, observe),
            SamplerKind::Heun => self.sample_heun(model, x, opts, observe),
        }
    }

    /// DDPM and DDIM over their respaced chain ([`Schedule::ddpm_chain`]
    /// (super::Schedule::ddpm_chain), [`Schedule::ddim_chain`](super::Schedule::ddim_chain)),
    /// whose tables are built once here.
    fn sample_chain(
        &self,
        model: &mut Model,
        mut x: Tensor,
        opts: &SampleOptions,
        observe: &mut dyn FnMut(StepView),
    ) -> Tensor {
        let chain = match opts.sampler {
            SamplerKind::Ddim => self.schedule.ddim_chain(opts.spacing(), opts.steps),
            _ => self.schedule.ddpm_chain(opts.spacing(), opts.steps),
        };
        let n = x.size()[0];
        let variance = opts.variance.unwrap_or(self.variance);
        let of = chain.len();
        for i in (0..of).rev() {
            let t = chain.timesteps[i];
            let tt = self.timestep_batch(t, n);
            let out = model(&x, &tt);
            let (out, v) = self.split_output(&out, x.size()[1]);
            let (mut x0, mut eps) = self.predict_x0_eps(&out, &x, &tt);
            if opts.clip_x0 {
                x0 = x0.clamp(-1.0, 1.0);
                eps = self.eps_from_x0(&x0, &x, &tt);
            }
            let step = chain.ddpm_step(variance, i);
            // The σ of a learned variance, elementwise, from the network's v.
            let learned_sigma = match (opts.sampler, step.noise, &v) {
                (SamplerKind::Ddpm, StepNoise::Learned(lv), Some(v)) => Some(learned_sigma(lv, v)),
                _ => None,
            };
            observe(StepView {
                index: of - 1 - i,
                of,
                t,
                time: t as f64,
                sigma: self.schedule.sigma(t),
                variance: match (&learned_sigma, step.noise) {
                    (Some(s), StepNoise::Learned(LogVariance::Between { min, max })) => {
                        Some(StepVariance {
                            mean: s.square().mean(Kind::Double).double_value(&[]),
                            beta_tilde: min.exp(),
                            beta: max.exp(),
                        })
                    }
                    _ => None,
                },
                xt: &x,
                x0_hat: &x0,
            });
            x = match opts.sampler {
                SamplerKind::Ddim => {
                    let step = chain.ddim_step(opts.eta, i);
                    let mean = &x0 * step.coef_x0 + &eps * step.coef_eps;
                    if i == 0 || step.sigma == 0.0 {
                        mean
                    } else {
                        mean + Tensor::randn_like(&x) * step.sigma
                    }
                }
                _ => {
                    let mean = &x0 * step.coef_x0 + &x * step.coef_xt;
                    match (step.noise, learned_sigma) {
                        (StepNoise::None, _) => mean,
                        (StepNoise::Fixed(sigma), _) => mean + Tensor::randn_like(&x) * sigma,
                        (StepNoise::Learned(_), Some(sigma)) => {
                            mean + Tensor::randn_like(&x) * sigma
                        }
                        // `set_variance` keeps `Learned` to networks with a variance output.
                        (StepNoise::Learned(lv), None) => {
                            mean + Tensor::randn_like(&x) * (0.5 * lv.at(0.0)).exp()
                        }
                    }
                }
            };
        }
        x
    }

    /// The network's output at the variance-preserving state `x` for a batch of `n` at the
    /// (possibly fractional) timestep `time`: the model is given whole timesteps as
    /// integers, as everywhere else, and fractional ones as floats.
    pub(crate) fn evaluate_at(&self, model: &mut Model, x: &Tensor, time: f64) -> Tensor {
        let n = x.size()[0];
        let tt = if time.fract() == 0.0 {
            self.timestep_batch(time as usize, n)
        } else {
            Tensor::full([n], time, (Kind::Float, self.device))
        };
        model(x, &tt)
    }

    /// x̂_0 from the output at the variance-preserving state `x` = α x_0 + σ ε (diffusers'
    /// DPM-Solver `convert_model_output`), clipped to [−1, 1] when asked.
    pub(crate) fn x0_at(
        &self,
        out: &Tensor,
        x: &Tensor,
        alpha: f64,
        sigma: f64,
        clip: bool,
    ) -> Tensor {
        let out = &self.mean_output(out, x);
        let x0 = match self.prediction {
            Prediction::Epsilon => (x - out * sigma) / alpha,
            Prediction::X0 => out.shallow_clone(),
            Prediction::V => x * alpha - out * sigma,
        };
        clip_if(x0, clip)
    }

    /// x̂_0 from the output at the state x̃ = x_0 + σ ε of the σ samplers (diffusers' Euler
    /// and Heun `pred_original_sample`), clipped to [−1, 1] when asked.
    pub(crate) fn x0_at_sigma(&self, out: &Tensor, x: &Tensor, sigma: f64, clip: bool) -> Tensor {
        let out = &self.mean_output(out, x);
        let x0 = match self.prediction {
            Prediction::Epsilon => x - out * sigma,
            Prediction::X0 => out.shallow_clone(),
            Prediction::V => {
                out * (-sigma / (sigma * sigma + 1.0).sqrt()) + x / (sigma * sigma + 1.0)
            }
        };
        clip_if(x0, clip)
    }
}

/// σ = exp(½ ln σ²) of a learned variance for the network's output `v`, elementwise.
fn learned_sigma(lv: LogVariance, v: &Tensor) -> Tensor {
    match lv {
        LogVariance::Fixed(l) => v.full_like((0.5 * l).exp()),
        LogVariance::Between { min, max } => {
            let f: Tensor = (v + 1.0) * 0.5;
            let lv: Tensor = &f * max + (1.0 - &f) * min;
            (lv * 0.5).exp()
        }
    }
}

fn clip_if(x0: Tensor, clip: bool) -> Tensor {
    if clip {
        x0.clamp(-1.0, 1.0)
    } else {
        x0
    }
}

/// The nearest table index of a model timestep.
pub(crate) fn nearest_index(time: f64, len: usize) -> usize {
    (time.round().max(0.0) as usize).min(len.saturating_sub(1))
}
