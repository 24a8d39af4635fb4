//! No silent NaN: a model whose weights give NaN never has its samples written or
//! measured. `sample` and `eval` stop with the timestep at which x_t went non-finite and
//! exit 1.

use crate::common::{assert_one_line_error, diffscope, process_lock};
use diffscope::train::{Trainer, Weights};
use std::path::Path;
use tch::Device;

#[test]
fn a_nan_producing_checkpoint_fails_sample_and_eval_naming_the_timestep() {
    let tmp = tempfile::tempdir().unwrap();
    let _turn = process_lock();
    let tr = Trainer::load(Path::new("checkpoints/swissroll"), Device::Cpu).unwrap();
    {
        let _g = tch::no_grad_guard();
        for w in [Weights::Raw, Weights::Ema] {
            let named = tr.named_weights(w);
            let (_, last) = named.last().unwrap();
            let _ = last.shallow_clone().fill_(f64::NAN);
        }
    }
    let dir = tmp.path().join("nan");
    // saved normally: its checksums are right, its numbers are not
    tr.save(&dir, false).unwrap();
    let out = tmp.path().join("x.csv");
    let o = diffscope(&[
        "sample",
        "--checkpoint",
        dir.to_str().unwrap(),
        "--n",
        "16",
        "--out",
        out.to_str().unwrap(),
    ]);
    let line = assert_one_line_error(&o, "became NaN at t = 999");
    assert!(line.contains("after reverse step 1 of 1000"), "{line}");
    assert!(!out.exists(), "nothing written");
    let o = diffscope(&[
        "eval",
        "--checkpoint",
        dir.to_str().unwrap(),
        "--n",
        "64",
        "--samples",
        "64",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    println!("{err}");
    assert!(err.contains("NaN"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
