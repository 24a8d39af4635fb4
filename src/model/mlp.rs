//! A residual MLP denoiser for low-dimensional data (the 2-D toy sets).

use super::embedding::{timestep_embedding, ClassEmbedding};
use serde::{Deserialize, Serialize};
use tch::{nn, nn::Module, Tensor};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MlpConfig {
    /// Width of the hidden layers.
    pub hidden: i64,
    /// Number of residual blocks.
    pub blocks: usize,
    /// Size of the sinusoidal timestep embedding.
    pub time_dim: i64,
    /// The number of classes of a class-conditional network (for labelled 2-D sets such
    /// as eight gaussians): a class embedding is added to the time embedding.
    pub classes: Option<i64>,
}

impl Default for MlpConfig {
    fn default() -> Self {
        MlpConfig {
            hidden: 128,
            blocks: 3,
            time_dim: 64,
            classes: None,
        }
    }
}

struct Block {
    norm: nn::LayerNorm,
    fc1: nn::Linear,
    time: nn::Linear,
    fc2: nn::Linear,
}

/// The checkpoint name of the output layer's weight ([outputs, hidden]).
pub(crate) const OUTPUT_WEIGHT: &str = "output.weight";

pub struct Mlp {
    dim: i64,
    time_dim: i64,
    time_in: nn::Linear,
    time_out: nn::Linear,
    class_embedding: Option<ClassEmbedding>,
    input: nn::Linear,
    blocks: Vec<Block>,
    out_norm: nn::LayerNorm,
    output: nn::Linear,
}

impl Mlp {
    /// `dim` is the data dimension (2 for the toy sets), `outputs` the output's (`dim`, or
    /// twice that with a learned variance).
    pub fn new(vs: &nn::Path, dim: i64, outputs: i64, cfg: &MlpConfig) -> Mlp {
        let h = cfg.hidden;
        let time = vs / "time";
        let time_in = nn::linear(&time / "0", cfg.time_dim, h, Default::default());
        let time_out = nn::linear(&time / "1", h, h, Default::default());
        let input = nn::linear(vs / "input", dim, h, Default::default());
        let blocks = (0..cfg.blocks)
            .map(|i| {
                let p = vs / "blocks" / i;
                Block {
                    norm: nn::layer_norm(&p / "norm", vec![h], Default::default()),
                    fc1: nn::linear(&p / "fc1", h, h, Default::default()),
                    time: nn::linear(&p / "time", h, h, Default::default()),
                    fc2: nn::linear(
                        &p / "fc2",
                        h,
                        h,
                        nn::LinearConfig {
                            ws_init: nn::Init::Const(0.0),
                            ..Default::default()
                        },
                    ),
                }
            })
            .collect();
        let out_norm = nn::layer_norm(vs / "out_norm", vec![h], Default::default());
        let output = nn::linear(vs / "output", h, outputs, Default::default());
        Mlp {
            dim,
            time_dim: cfg.time_dim,
            time_in,
            time_out,
            class_embedding: cfg.classes.map(|k| ClassEmbedding::new(vs / "class", k, h)),
            input,
            blocks,
            out_norm,
            output,
        }
    }

    pub fn dim(&self) -> i64 {
        self.dim
    }

    /// The output at (x_t, t) for the class labels `y` (see [`ClassEmbedding::forward`]).
    pub fn forward(&self, x: &Tensor, t: &Tensor, y: Option<&Tensor>) -> Tensor {
        let temb = self.time_out.forward(
            &self
                .time_in
                .forward(&timestep_embedding(t, self.time_dim))
                .silu(),
        );
        let temb = match &self.class_embedding {
            Some(c) => temb + c.forward(y, x.size()[0], x.device()),
            None => temb,
        };
        let mut h = self.input.forward(x);
        // Not `h += …`: tch's AddAssign is in place, which breaks autograd.
        #[allow(clippy::assign_op_pattern)]
        for b in &self.blocks {
            let y = b.fc1.forward(&b.norm.forward(&h)).silu() + b.time.forward(&temb.silu());
            h = h + b.fc2.forward(&y.silu());
        }
        self.output.forward(&self.out_norm.forward(&h).silu())
    }
}
