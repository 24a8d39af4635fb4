//! Denoising networks ε_θ(x_t, t), built from `nn::Path`s with stable, readable names so
//! that checkpoint keys read like `blocks.0.fc1.weight`.

pub mod embedding;
pub mod mlp;
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
    pub fn name(&self) -> &'static str {
        match self {
            ModelConfig::Mlp(_) => "mlp",
            ModelConfig::Unet(_) => "unet",
        }
    }
}

/// A denoiser of any architecture.
pub enum Denoiser {
    Mlp(Box<Mlp>),
    Unet(Box<Unet>),
}

impl Denoiser {
    /// Builds the network for items of shape `item_shape` (e.g. [2] or [C, H, W]).
    pub fn new(vs: &nn::Path, cfg: &ModelConfig, item_shape: &[i64]) -> Result<Denoiser, String> {
        match cfg {
            ModelConfig::Mlp(c) => {
                if item_shape.len() != 1 {
                    return Err(format!(
                        "the MLP denoiser needs flat data, but items have shape {item_shape:?}"
                    ));
                }
                Ok(Denoiser::Mlp(Box::new(Mlp::new(vs, item_shape[0], c))))
            }
            ModelConfig::Unet(c) => {
                c.check(item_shape)?;
                Ok(Denoiser::Unet(Box::new(Unet::new(vs, item_shape, c))))
            }
        }
    }

    /// The network's output at (x_t, t); `train` turns dropout on.
    pub fn forward_t(&self, x: &Tensor, t: &Tensor, train: bool) -> Tensor {
        match self {
            Denoiser::Mlp(m) => m.forward(x, t),
            Denoiser::Unet(u) => u.forward_t(x, t, train),
        }
    }
}
