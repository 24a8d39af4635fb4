//! The sweep charts, run on the worker when asked for and kept, with the run, until asked
//! for again: sample quality against network evaluations for a few samplers (`n`), and,
//! for a class-conditional model, class agreement and Fréchet distance against the
//! guidance scale w (`G`).

use super::{App, Effect, SamplerSettings};
use crate::diffusion::{ClassChoice, Guidance, SamplerKind};
use crate::eval::guidance::GuidanceSweep;
use crate::eval::sweep::Sweep;
use crate::worker::protocol::Command;

/// The step counts of the workbench's sweep (those at most T).
pub const SWEEP_STEPS: [usize; 4] = [5, 10, 20, 50];

/// The guidance scales of the workbench's guidance sweep.
pub const GUIDANCE_SCALES: [f64; 5] = [0.0, 1.0, 2.0, 3.0, 5.0];

/// The sweep chart's state, part of the run's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SweepState {
    /// The chart replaces the loss pane.
    pub open: bool,
    /// The id of the sweep being run.
    pub running: Option<u64>,
    /// Where it stands: point (0-based) of points, reverse step of steps.
    pub progress: Option<[usize; 4]>,
    /// The specs of the sweep asked for last.
    pub specs: Vec<String>,
    /// The latest result, with the training step and weights (EMA or not) it measured.
    pub result: Option<(u64, bool, Box<Sweep>)>,
    /// The chart shown (and the sweep running) is the guidance sweep's.
    pub guidance: bool,
    /// The latest guidance sweep, with the training step and weights it measured.
    pub guided: Option<(u64, bool, Box<GuidanceSweep>)>,
}

/// The workbench's sweep: DDIM and DPM-Solver++ 2M, and the sampler picked in the sampler
/// menu (with its Karras spacing or η) when it is another, each at [`SWEEP_STEPS`] steps
/// (those at most T; T itself when none is).
pub fn default_specs(menu: &SamplerSettings, t: usize) -> Vec<String> {
    let mut steps: Vec<String> = SWEEP_STEPS
        .iter()
        .filter(|&&s| s <= t)
        .map(|s| s.to_string())
        .collect();
    if steps.is_empty() {
        steps.push(t.max(1).to_string());
    }
    let steps = steps.join(",");
    let mut specs = vec![format!("ddim:{steps}"), format!("dpmpp-2m:{steps}")];
    let mut own = menu.kind.name().to_string();
    if menu.karras && menu.kind.has_karras() {
        own.push_str("+karras");
    }
    if menu.kind.has_eta() && menu.eta != 0.0 {
        own.push_str(&format!("+eta={}", menu.eta));
    }
    let plain = !own.contains('+');
    if !(plain && matches!(menu.kind, SamplerKind::Ddim | SamplerKind::Dpmpp2m)) {
        specs.push(format!("{own}:{steps}"));
    }
    specs
}

impl App {
    /// Shows or hides the sweep chart; on showing it, runs the sweep when there is no
    /// result for the weights shown.
    pub(super) fn toggle_sweep(&mut self) -> Vec<Effect> {
        let ema = self.sampler.ema;
        let r = &mut self.run;
        // from the guidance chart, n shows this one
        r.sweep.open = !r.sweep.open || r.sweep.guidance;
        r.sweep.guidance = false;
        let stale = r
            .sweep
            .result
            .as_ref()
            .is_none_or(|(step, e, _)| *step != r.step || *e != ema);
        if !r.sweep.open || !stale || r.sweep.running.is_some() {
            return vec![];
        }
        if !r.alive || r.watching {
            self.notify("no sweep: this run's worker does not take requests");
            return vec![];
        }
        let specs = default_specs(&self.sampler, self.timesteps());
        let id = self.next_id();
        let r = &mut self.run;
        r.sweep.running = Some(id);
        r.sweep.progress = None;
        r.sweep.specs = specs.clone();
        self.notify(format!(
            "sweeping sample quality against network evaluations: {}…",
            specs.join(" ")
        ));
        vec![Effect::Send(Command::Sweep { id, specs, ema })]
    }

    /// Shows or hides the guidance chart of a class-conditional model; on showing it, runs
    /// the guidance sweep ([`GUIDANCE_SCALES`], the menu's sampler and classes) when there
    /// is no result for the weights and classes shown.
    pub(super) fn toggle_guidance_sweep(&mut self) -> Vec<Effect> {
        let Some(p) = self
            .run
            .preset
            .as_ref()
            .filter(|_| self.classes().is_some())
        else {
            self.notify("G: this model is unconditional: there is no guidance scale to sweep");
            return vec![];
        };
        let (t_max, clip_x0, scale) = (
            p.diffusion.timesteps,
            p.diffusion.clip_x0,
            p.sample.guidance,
        );
        let ema = self.sampler.ema;
        let class = self.sampler.guidance.map_or(ClassChoice::All, |g| g.class);
        let r = &mut self.run;
        // from the sampler sweep's chart, G shows this one
        r.sweep.open = !r.sweep.open || !r.sweep.guidance;
        r.sweep.guidance = true;
        let stale = r
            .sweep
            .guided
            .as_ref()
            .is_none_or(|(step, e, g)| *step != r.step || *e != ema || g.class != class);
        if !r.sweep.open || !stale || r.sweep.running.is_some() {
            return vec![];
        }
        if !r.alive || r.watching {
            self.notify("no sweep: this run's worker does not take requests");
            return vec![];
        }
        let mut options = self.sample_options(t_max, clip_x0);
        options.guidance = Some(Guidance { scale, class });
        let id = self.next_id();
        let r = &mut self.run;
        r.sweep.running = Some(id);
        r.sweep.progress = None;
        let scales = GUIDANCE_SCALES.to_vec();
        self.notify(format!(
            "sweeping class agreement and Fréchet against w = {} ({class}, {})…",
            scales
                .iter()
                .map(|w| w.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            super::describe(
                &crate::diffusion::SampleOptions {
                    guidance: None,
                    ..options.clone()
                },
                t_max
            )
        ));
        vec![Effect::Send(Command::GuidanceSweep {
            id,
            scales,
            options,
            ema,
        })]
    }

    /// A finished guidance sweep: kept, and its chart shown.
    pub(super) fn guidance_swept(&mut self, id: u64, step: u64, sweep: Box<GuidanceSweep>) {
        let s = &mut self.run.sweep;
        if s.running == Some(id) {
            s.running = None;
            s.progress = None;
        }
        let points = sweep.rows.len();
        s.guided = Some((step, self.sampler.ema, sweep));
        s.open = true;
        s.guidance = true;
        self.notify(format!(
            "guidance sweep of step {step} done: {points} values of w (G hides the chart)"
        ));
    }

    /// Progress of the sweep with this id.
    pub(super) fn sweep_progress(&mut self, id: u64, progress: [usize; 4]) {
        if self.run.sweep.running == Some(id) {
            self.run.sweep.progress = Some(progress);
        }
    }

    /// A finished sweep: kept, and the chart shown.
    pub(super) fn swept(&mut self, id: u64, step: u64, sweep: Box<Sweep>) {
        let s = &mut self.run.sweep;
        if s.running == Some(id) {
            s.running = None;
            s.progress = None;
        }
        let points = sweep.rows.len();
        s.result = Some((step, self.sampler.ema, sweep));
        s.open = true;
        s.guidance = false;
        self.notify(format!(
            "sweep of step {step} done: {points} points (n hides the chart)"
        ));
    }

    /// The sweep with this id failed (its message is shown by the caller).
    pub(super) fn sweep_failed(&mut self, id: u64) {
        let s = &mut self.run.sweep;
        if s.running == Some(id) {
            s.running = None;
            s.progress = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn menu(kind: SamplerKind, karras: bool, eta: f64) -> SamplerSettings {
        SamplerSettings {
            kind,
            steps: 100,
            eta,
            spacing: None,
            karras,
            n: 64,
            ema: true,
            every: 0,
            versus: SamplerSettings::default_versus(kind),
            guidance: None,
        }
    }

    #[test]
    fn the_default_sweep_adds_the_menus_sampler_when_it_is_another() {
        let plain = ["ddim:5,10,20,50", "dpmpp-2m:5,10,20,50"];
        assert_eq!(
            default_specs(&menu(SamplerKind::Ddim, false, 0.0), 1000),
            plain
        );
        assert_eq!(
            default_specs(&menu(SamplerKind::Dpmpp2m, false, 0.0), 1000),
            plain
        );
        assert_eq!(
            default_specs(&menu(SamplerKind::Euler, true, 0.0), 1000)[2],
            "euler+karras:5,10,20,50"
        );
        assert_eq!(
            default_specs(&menu(SamplerKind::Ddim, false, 0.5), 1000)[2],
            "ddim+eta=0.5:5,10,20,50"
        );
        assert_eq!(
            default_specs(&menu(SamplerKind::Ddpm, true, 0.0), 1000)[2],
            "ddpm:5,10,20,50"
        );
        assert_eq!(
            default_specs(&menu(SamplerKind::Heun, false, 0.0), 12)[2],
            "heun:5,10"
        );
        assert_eq!(
            default_specs(&menu(SamplerKind::Ddim, false, 0.0), 3)[0],
            "ddim:3"
        );
        // every default spec parses and checks
        for kind in SamplerKind::ALL {
            let specs = default_specs(&menu(kind, true, 0.3), 50);
            crate::eval::sweep::parse_specs(&specs, 50).unwrap();
        }
    }
}
