//! Why a computation of the diffusion core failed. Each variant keeps the offending value
//! and, where there is one, the underlying error.

use tch::TchError;

#[derive(Debug, thiserror::Error)]
pub enum DiffusionError {
    /// A schedule name that is not one of [`super::ScheduleKind::ALL`].
    #[error("unknown schedule {name:?} (expected linear, cosine, sigmoid or quadratic)")]
    UnknownSchedule { name: String },

    /// A schedule of zero steps.
    #[error("the number of diffusion steps T must be at least 1 (got {0})")]
    ZeroSteps(usize),

    /// A β that is not a number (infinite values are clipped like any other).
    #[error("β at index {index} of the schedule is {value}")]
    NonFiniteBeta { index: usize, value: f64 },

    /// The model's output held a NaN at this timestep (0-based index).
    #[error("the model produced NaN at t={t} (0-based timestep); no figure was computed")]
    NanOutput { t: usize },

    /// A term of the bound that is not finite at this timestep (0-based index).
    #[error("the bound term at t={t} (0-based timestep) is {value}; no figure was computed")]
    NonFinite { t: usize, value: f64 },

    /// The prior term L_T of the bound is not finite.
    #[error("the prior term L_T of the bound is {value}; no figure was computed")]
    NonFinitePrior { value: f64 },

    /// The learned variance asked of a network that has no variance output.
    #[error(
        "this model's network has no variance output (it was trained with a fixed variance); \
         use small or large"
    )]
    NoVarianceOutput,

    /// A tensor that could not be read back into host memory.
    #[error("could not read {what} back from its tensor: {source}")]
    TensorRead {
        what: &'static str,
        #[source]
        source: TchError,
    },
}
