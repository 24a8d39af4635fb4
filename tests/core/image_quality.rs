//! The image-quality figures can tell data from noise and catch a model that draws only
//! some classes: checked on real glyphs, on noise and on a one-digit "model".

use crate::common::{process_lock, PrivateCache};
use diffscope::config::Preset;
use diffscope::data::Split;
use diffscope::eval::image_quality::image_quality;
use tch::Device;

#[test]
fn frechet_and_histogram_separate_data_noise_and_mode_collapse() {
    let turn = process_lock();
    let cache = PrivateCache::new(&turn);
    tch::set_num_threads(2);
    let preset = Preset::load("glyphs16").unwrap().preset;
    let mut log = |s: &str| println!("{s}");
    // "samples" that are real digits, drawn with another seed
    let real = preset.data.source().load(777, Split::Held(500)).unwrap();
    let x = real.head(500, Device::Cpu);
    let q = image_quality(&x, &preset.data, 0, Device::Cpu, &mut log).unwrap();
    println!("real digits: {q:?}");
    assert!(
        q.classifier_accuracy > 0.95,
        "accuracy {}",
        q.classifier_accuracy
    );
    assert!(
        q.frechet < 0.2 * q.frechet_noise,
        "real digits are far from noise"
    );
    assert!(q.missing_classes().is_empty());

    // a collapsed "model" that only ever draws the digit 1
    let labels = real.labels.as_ref().unwrap();
    let ones: Vec<usize> = (0..real.len()).filter(|&i| labels[i] == 1).collect();
    let collapsed = real.batch(&ones, Device::Cpu);
    let c = image_quality(&collapsed, &preset.data, 0, Device::Cpu, &mut log).unwrap();
    println!("only ones: {c:?}");
    assert!(
        c.missing_classes().len() >= 8,
        "the histogram shows the collapse"
    );
    assert!(
        c.frechet > 3.0 * q.frechet,
        "collapse costs Fréchet distance"
    );
    // the second call used the cached classifier
    assert!(
        std::fs::read_dir(cache.path().join("classifiers"))
            .unwrap()
            .count()
            >= 1
    );
}
