//! Mixed precision: the model's forward (and so its backward) runs in bfloat16 or float16
//! where libtorch's autocast policy says so, while master weights, EMA, Adam's moments,
//! the loss and the bound stay in float32 (and checkpoints stay float32, unchanged).
//!
//! tch binds only CUDA's autocast switch; `autocast.cpp` (compiled by `build.rs` against
//! the installed libtorch) switches any device's, the CPU's included. Autocast state is per
//! thread, so a region is entered and left on the thread that runs the model.

use serde::{Deserialize, Serialize};
use std::os::raw::c_int;
use tch::Device;

extern "C" {
    fn diffscope_autocast_enter(device: c_int, dtype: c_int) -> c_int;
    fn diffscope_autocast_exit(device: c_int, previous: c_int);
}

/// `train.precision` in a preset, or `--precision`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Precision {
    /// bfloat16 where it pays: on CPUs with AVX-512-BF16 or AMX and on GPUs, for models of
    /// [`AUTO_MIN_PARAMETERS`] parameters or more; float32 otherwise.
    #[default]
    Auto,
    Fp32,
    Bf16,
    /// float16 (GPUs only).
    Fp16,
}

/// Measured: bfloat16 gave no gain on a 280k-parameter U-Net and 1.3–1.65× on 1.1M and
/// 1.6M ones (AVX-512-BF16 CPU, PyTorch with the same kernels), so smaller models stay in
/// float32 under `Auto`.
pub const AUTO_MIN_PARAMETERS: i64 = 500_000;

/// What a run computes in, once `Auto` is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Compute {
    Fp32,
    Bf16,
    Fp16,
}

impl Compute {
    pub fn name(self) -> &'static str {
        match self {
            Compute::Fp32 => "fp32",
            Compute::Bf16 => "bf16",
            Compute::Fp16 => "fp16",
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PrecisionError {
    #[error("precision Fp16: float16 runs on GPUs only; use Bf16 or Fp32 on the CPU")]
    Fp16OnCpu,
}

/// Whether this CPU computes bfloat16 natively (AVX-512-BF16 or AMX); without it libtorch
/// still runs bfloat16, converting, slower than float32.
pub fn cpu_has_bf16() -> bool {
    #[cfg(target_os = "linux")]
    {
        std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|t| {
            t.lines().find(|l| l.starts_with("flags")).is_some_and(|l| {
                l.split_whitespace()
                    .any(|f| f == "avx512_bf16" || f == "amx_bf16")
            })
        })
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

/// The compute precision for `wanted` on `device` for a model of `parameters`, and a
/// note for the user: why `Auto` chose it, or that bfloat16 is emulated on this CPU.
pub fn resolve(
    wanted: Precision,
    device: Device,
    parameters: i64,
) -> Result<(Compute, String), PrecisionError> {
    let gpu = device.is_cuda();
    let native = gpu || cpu_has_bf16();
    let big = parameters >= AUTO_MIN_PARAMETERS;
    Ok(match wanted {
        Precision::Fp32 => (Compute::Fp32, "fp32".into()),
        Precision::Fp16 if !gpu => return Err(PrecisionError::Fp16OnCpu),
        Precision::Fp16 => (Compute::Fp16, "fp16".into()),
        Precision::Bf16 if native => (Compute::Bf16, "bf16".into()),
        Precision::Bf16 => (
            Compute::Bf16,
            "bf16 (this CPU has no bf16 instructions: correct but slower than fp32)".into(),
        ),
        Precision::Auto if native && big => (Compute::Bf16, "bf16 (auto)".into()),
        Precision::Auto if native => (
            Compute::Fp32,
            format!(
                "fp32 (auto: bf16 does not pay below {} parameters)",
                AUTO_MIN_PARAMETERS
            ),
        ),
        Precision::Auto => (
            Compute::Fp32,
            "fp32 (auto: this CPU has no bf16 instructions)".into(),
        ),
    })
}

fn device_code(device: Device) -> c_int {
    if device.is_cuda() {
        1
    } else {
        0
    }
}

/// An autocast region on this thread, left when dropped. Nothing for float32.
pub struct Autocast {
    device: c_int,
    previous: Option<c_int>,
}

impl Autocast {
    pub(crate) fn enter(compute: Compute, device: Device) -> Autocast {
        let device = device_code(device);
        let dtype = match compute {
            Compute::Fp32 => None,
            Compute::Bf16 => Some(0),
            Compute::Fp16 => Some(1),
        };
        // SAFETY: the shim only switches libtorch's thread-local autocast state.
        let previous = dtype.map(|d| unsafe { diffscope_autocast_enter(device, d) });
        Autocast { device, previous }
    }
}

impl Drop for Autocast {
    fn drop(&mut self) {
        if let Some(p) = self.previous {
            // SAFETY: as above; restores the state `enter` found.
            unsafe { diffscope_autocast_exit(self.device, p) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Kind, Tensor};

    extern "C" {
        fn diffscope_autocast_enabled(device: c_int) -> c_int;
    }

    /// Whether autocast is on for `device` on this thread.
    fn autocast_enabled(device: Device) -> bool {
        // SAFETY: reads thread-local state.
        unsafe { diffscope_autocast_enabled(device_code(device)) != 0 }
    }

    #[test]
    fn cpu_autocast_runs_matmuls_in_bf16_and_restores_the_state() {
        let a = Tensor::randn([4, 8], (Kind::Float, Device::Cpu));
        let b = Tensor::randn([8, 3], (Kind::Float, Device::Cpu));
        assert_eq!(a.matmul(&b).kind(), Kind::Float);
        {
            let _g = Autocast::enter(Compute::Bf16, Device::Cpu);
            assert!(autocast_enabled(Device::Cpu));
            let y = a.matmul(&b);
            assert_eq!(y.kind(), Kind::BFloat16, "a matmul under autocast");
            // element-wise ops on float32 inputs stay float32
            assert_eq!((&a * 2.0).kind(), Kind::Float);
            {
                let _inner = Autocast::enter(Compute::Fp32, Device::Cpu);
                assert!(autocast_enabled(Device::Cpu), "fp32 changes nothing");
            }
        }
        assert!(!autocast_enabled(Device::Cpu));
        assert_eq!(a.matmul(&b).kind(), Kind::Float);
    }

    #[test]
    fn auto_and_refusals() {
        assert_eq!(
            resolve(Precision::Fp16, Device::Cpu, 10),
            Err(PrecisionError::Fp16OnCpu)
        );
        let (c, note) = resolve(Precision::Auto, Device::Cpu, 100).unwrap();
        assert_eq!(c, Compute::Fp32, "{note}");
        let (c, note) = resolve(Precision::Bf16, Device::Cpu, 100).unwrap();
        assert_eq!(c, Compute::Bf16);
        assert_eq!(note.contains("slower"), !cpu_has_bf16(), "{note}");
        let (c, _) = resolve(Precision::Auto, Device::Cpu, 2_000_000).unwrap();
        assert_eq!(c == Compute::Bf16, cpu_has_bf16());
        assert_eq!(
            resolve(Precision::Fp32, Device::Cpu, 2_000_000).unwrap().0,
            Compute::Fp32
        );
    }
}
