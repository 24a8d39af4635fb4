//! Denoising networks ε_θ(x_t, t), built from `nn::Path`s with stable, readable names so
//! that checkpoint keys read like `blocks.0.fc1.weight`.

pub mod embedding;
pub mod mlp;
pub mod precision;
pub mod unet;

pub use mlp::{Mlp, MlpConfig};
pub use unet::{Unet, UnetConfig};

use serde::{Deserialize, Serialize};
use tch::{nn, Tensor};

/// Which network to build, with its hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ModelConfig {
    Mlp(MlpConfig),
    Unet(UnetConfig),
}

impl ModelConfig {
    /// The classes of a class-conditional network (None: unconditional).
    pub fn classes(&self) -> Option<i64> {
        match self {
            ModelConfig::Mlp(c) => c.classes,
            ModelConfig::Unet(c) => c.classes,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            ModelConfig::Mlp(_) => "mlp",
            ModelConfig::Unet(_) => "unet",
        }
    }
}

/// A network that does not fit the data it is built for.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    #[error("the MLP denoiser needs flat data, but items have shape {0:?}")]
    MlpShape(Vec<i64>),
    #[error("the U-Net needs images of shape [C, H, W], but items have shape {0:?}")]
    UnetShape(Vec<i64>),
    #[error("the U-Net takes 1 or 3 channels, not {0}")]
    UnetChannels(i64),
    #[error("model: base_channels and channel_mults must be positive and non-empty")]
    Levels,
    #[error(
        "model: a {height}×{width} image cannot pass through {levels} U-Net levels: \
         its size must divide by 2^(levels−1) = {divisor}"
    )]
    ImageSize {
        height: i64,
        width: i64,
        levels: usize,
        divisor: i64,
    },
    #[error("model: groups = {groups} does not divide the {channels} channels of a level")]
    Groups { groups: i64, channels: i64 },
    #[error("model: dropout must be in [0, 1), got {0}")]
    Dropout(f64),
    #[error("model: classes must be between 2 and 256, got {0}")]
    Classes(i64),
}

/// A denoiser of any architecture.
pub enum Denoiser {
    Mlp(Box<Mlp>),
    Unet(Box<Unet>),
}

impl Denoiser {
    /// Builds the network for items of shape `item_shape` (e.g. [2] or [C, H, W]). With
    /// `learns_variance` it outputs twice the item's channels (or coordinates): the mean's
    /// output, then the variance output v of the learned-range variance.
    pub fn new(
        vs: &nn::Path,
        cfg: &ModelConfig,
        item_shape: &[i64],
        learns_variance: bool,
    ) -> Result<Denoiser, ModelError> {
        let factor = if learns_variance { 2 } else { 1 };
        if let Some(k) = cfg.classes() {
            if !(2..=256).contains(&k) {
                return Err(ModelError::Classes(k));
            }
        }
        match cfg {
            ModelConfig::Mlp(c) => {
                if item_shape.len() != 1 {
                    return Err(ModelError::MlpShape(item_shape.to_vec()));
                }
                let dim = item_shape[0];
                Ok(Denoiser::Mlp(Box::new(Mlp::new(vs, dim, dim * factor, c))))
            }
            ModelConfig::Unet(c) => {
                c.check(item_shape)?;
                let outputs = item_shape[0] * factor;
                Ok(Denoiser::Unet(Box::new(Unet::new(
                    vs, item_shape, outputs, c,
                ))))
            }
        }
    }

    /// The name of the output layer's weight in a checkpoint, whose first dimension is
    /// the number of output channels.
    pub fn output_weight(cfg: &ModelConfig) -> &'static str {
        match cfg {
            ModelConfig::Mlp(_) => mlp::OUTPUT_WEIGHT,
            ModelConfig::Unet(_) => unet::OUTPUT_WEIGHT,
        }
    }

    /// The network's output at (x_t, t) for class labels `y` (int64 [B]; the label
    /// `classes` is "no class", as is `None`); `train` turns dropout on. An unconditional
    /// network ignores `y`.
    pub fn forward_t(&self, x: &Tensor, t: &Tensor, y: Option<&Tensor>, train: bool) -> Tensor {
        match self {
            Denoiser::Mlp(m) => m.forward(x, t, y),
            Denoiser::Unet(u) => u.forward_t(x, t, y, train),
        }
    }
}
