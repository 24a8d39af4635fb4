//! Training itself: the trainer (Algorithm 1's step, sampling with its weights), the
//! optimiser, the EMA of the weights, checkpoints and their integrity, and the device a
//! run computes on. It knows nothing of threads, processes or run folders: the worker
//! ([`crate::worker`]) drives a trainer, and [`crate::runs`] manages the runs.

pub mod adam;
pub mod checkpoint;
pub mod ema;
pub mod integrity;
pub mod trainer;

pub use checkpoint::CheckpointError;
pub use trainer::{TrainError, Trainer, Weights};

use tch::Device;

/// A device string that names no usable device.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("device \"{spec}\"")]
pub(crate) struct DeviceError {
    /// The string as given, e.g. `cuda:7`.
    pub spec: String,
    #[source]
    pub problem: DeviceProblem,
}

/// What is wrong with a device string.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum DeviceProblem {
    #[error("expected auto, cpu, cuda or cuda:N")]
    Unknown,
    #[error(
        "no CUDA device {0} is available to this build (see the README's GPU section; use \
         cpu or auto)"
    )]
    NoCuda(usize),
}

/// Parses `auto|cpu|cuda|cuda:N`; `auto` falls back to the CPU when CUDA is unavailable.
pub(crate) fn parse_device(s: &str) -> Result<Device, DeviceError> {
    let result = match s {
        "auto" => return Ok(Device::cuda_if_available()),
        "cpu" => return Ok(Device::Cpu),
        "cuda" | "gpu" => cuda(0),
        _ => match s
            .strip_prefix("cuda:")
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(n) => cuda(n),
            None => Err(DeviceProblem::Unknown),
        },
    };
    result.map_err(|problem| DeviceError {
        spec: s.to_string(),
        problem,
    })
}

fn cuda(n: usize) -> Result<Device, DeviceProblem> {
    if tch::Cuda::is_available() && n < tch::Cuda::device_count() as usize {
        Ok(Device::Cuda(n))
    } else {
        Err(DeviceProblem::NoCuda(n))
    }
}
