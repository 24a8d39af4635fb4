//! Every bundled preset parses; every fixture in tests/invalid_presets is rejected with its
//! file, line and column (or the field at fault).

use diffscope::config::preset::{Preset, BUILTIN};
use diffscope::util::one_line;
use std::path::Path;

#[test]
fn bundled_presets_parse_and_validate() {
    for (name, text) in BUILTIN {
        let p = Preset::parse(text, Path::new(name)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(&p.name, name, "preset name must match its file");
        assert!(!p.description.is_empty(), "{name} needs a description");
        // the file on disk is the one embedded
        let on_disk = std::fs::read_to_string(format!("presets/{name}.ron")).unwrap();
        assert_eq!(&on_disk, text);
    }
    let files = std::fs::read_dir("presets").unwrap().count();
    assert_eq!(files, BUILTIN.len(), "every file in presets/ is embedded");
}

#[test]
fn valid_fixtures_parse() {
    for entry in std::fs::read_dir("tests/valid_presets").unwrap() {
        let path = entry.unwrap().path();
        Preset::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn invalid_fixtures_are_rejected_with_a_location() {
    let expect = [
        ("unknown_field.ron", "7:", "learning_rate"),
        ("syntax_error.ron", "4:", "Expected identifier"),
        ("zero_timesteps.ron", "", "timesteps"),
        ("negative_lr.ron", "", "train.lr must be positive"),
        (
            "unknown_shape.ron",
            "3:",
            "shape must be one of SwissRoll, Moons, EightGaussians, Checkerboard, Rings, not Spiral",
        ),
        (
            "string_enum.ron",
            "5:",
            "schedule must be one of Linear, Cosine, Sigmoid, Quadratic (a bare name, not a \
             string)",
        ),
        ("truncated.ron", "", ": the file ends early (line 4)"),
        (
            "sample_steps.ron",
            "",
            ": sample.steps is 5000, more than diffusion.timesteps (T = 1000)",
        ),
        (
            "sample_karras.ron",
            "",
            ": sample.karras: euler-a has no Karras σ spacing",
        ),
        (
            "sample_eta.ron",
            "",
            ": sample.eta: dpmpp-2m takes no η",
        ),
        (
            "hybrid_lambda.ron",
            "",
            ": train.loss: Hybrid(λ) needs λ > 0, got 0",
        ),
        (
            "hybrid_fixed.ron",
            "",
            ": train.loss: Hybrid(λ) adds the bound to train a learned variance, and \
             diffusion.variance is FixedSmall",
        ),
        (
            "learned_simple.ron",
            "",
            ": diffusion.variance: Learned needs train.loss: Hybrid(λ) or Vlb",
        ),
        (
            "classes_unlabelled.ron",
            "",
            ": model: classes: Some(2) needs labelled data, and two moons (20000 points, 2-D) \
             data has no labels",
        ),
        (
            "classes_too_few.ron",
            "",
            ": model: classes: Some(2) is fewer than the data's 3 classes",
        ),
        (
            "label_dropout.ron",
            "",
            ": train.label_dropout must be in [0, 1), got 1",
        ),
        (
            "guidance_negative.ron",
            "",
            ": sample.guidance: the guidance scale w must be a number ≥ 0, got -1",
        ),
        (
            "unknown_sampler.ron",
            "6:",
            "sampler must be one of Ddpm, Ddim, Dpmpp2m, Dpmpp3m, Dpmpp2mSde, Euler, EulerA, \
             Heun, not DpmSolver",
        ),
    ];
    for (file, position, words) in expect {
        let path = Path::new("tests/invalid_presets").join(file);
        // the whole message: the file and position, then the problem
        let err = one_line(&Preset::from_file(&path).unwrap_err());
        println!("{err}");
        assert!(err.starts_with(&path.display().to_string()), "{err}");
        assert!(err.contains(position), "{file}: no position in {err}");
        assert!(err.contains(words), "{file}: {err}");
        assert!(!err.contains('\n'), "one line: {err}");
    }
    assert_eq!(
        std::fs::read_dir("tests/invalid_presets").unwrap().count(),
        expect.len()
    );
}

#[test]
fn unknown_preset_names_the_file_and_the_choices() {
    let err = Preset::load("no-such-preset").unwrap_err().to_string();
    println!("{err}");
    assert!(err.contains("presets/no-such-preset.ron"));
    assert!(err.contains("swissroll"));
}

/// Presets written before the newer samplers load with their sampler unchanged (DDPM with
/// an η, which it ignores, included); the new fields parse.
#[test]
fn older_and_newer_sample_sections_load() {
    use diffscope::diffusion::{SamplerKind, Spacing};
    let base = "(name: \"x\", data: Toy2d((shape: Moons)), model: Mlp(()), ";
    let origin = Path::new("x.ron");
    let old = Preset::parse(
        &format!("{base}sample: (sampler: Ddpm, steps: 50, eta: 0.5))"),
        origin,
    )
    .unwrap();
    assert_eq!(old.sample.sampler, SamplerKind::Ddpm);
    assert_eq!(
        (old.sample.eta, old.sample.spacing, old.sample.karras),
        (0.5, None, false)
    );
    let ddim = Preset::parse(&format!("{base}sample: (sampler: Ddim, eta: 1.0))"), origin).unwrap();
    assert_eq!(ddim.sample.sampler, SamplerKind::Ddim);
    let new = Preset::parse(
        &format!(
            "{base}sample: (sampler: Dpmpp2mSde, steps: 20, spacing: Some(Trailing), karras: \
             true))"
        ),
        origin,
    )
    .unwrap();
    assert_eq!(new.sample.sampler, SamplerKind::Dpmpp2mSde);
    assert_eq!(new.sample.spacing, Some(Spacing::Trailing));
    assert!(new.sample.karras);
}
