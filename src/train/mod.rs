//! Training: the worker thread and its protocol, the trainer, EMA, the optimiser and
//! checkpoints.

pub mod adam;
pub mod checkpoint;
pub mod ema;
pub mod evaluate;
pub mod protocol;
pub mod runs;
pub mod trainer;
pub mod worker;

pub use trainer::{Trainer, Weights};

use tch::Device;

/// Parses `auto|cpu|cuda|cuda:N`; `auto` falls back to the CPU when CUDA is unavailable.
pub fn parse_device(s: &str) -> Result<Device, String> {
    match s {
        "auto" => Ok(Device::cuda_if_available()),
        "cpu" => Ok(Device::Cpu),
        "cuda" | "gpu" => cuda(0),
        _ => match s
            .strip_prefix("cuda:")
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(n) => cuda(n),
            None => Err(format!("--device {s}: expected auto, cpu, cuda or cuda:N")),
        },
    }
}

fn cuda(n: usize) -> Result<Device, String> {
    if tch::Cuda::is_available() && n < tch::Cuda::device_count() as usize {
        Ok(Device::Cuda(n))
    } else {
        Err(format!(
            "--device cuda: no CUDA device {n} is available to this build (see the README's \
             GPU section; use --device cpu or auto)"
        ))
    }
}
