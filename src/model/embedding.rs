//! Sinusoidal timestep embedding (Vaswani et al.; as in DDPM).

use tch::{nn, Device, Kind, Tensor};

/// A learned class embedding of `classes + 1` rows, the last for "no class" (the label
/// classifier-free guidance drops to, and that an unconditional call uses), as diffusers'
/// `UNet2DModel` adds its `class_embedding` to the time embedding. Checkpoint key:
/// `class.weight`.
pub(crate) struct ClassEmbedding {
    table: nn::Embedding,
    classes: i64,
}

impl ClassEmbedding {
    pub(crate) fn new(vs: nn::Path, classes: i64, dim: i64) -> ClassEmbedding {
        ClassEmbedding {
            table: nn::embedding(vs, classes + 1, dim, Default::default()),
            classes,
        }
    }

    /// The embedding of labels `y` (int64, [B], each in 0..=classes, `classes` being "no
    /// class"); of "no class" for all `n` items where `y` is `None`.
    pub(crate) fn forward(&self, y: Option<&Tensor>, n: i64, device: Device) -> Tensor {
        let y = match y {
            Some(y) => y.to_kind(Kind::Int64),
            None => Tensor::full([n], self.classes, (Kind::Int64, device)),
        };
        self.table.ws.index_select(0, &y)
    }
}

/// Embeds timesteps `t` (shape [B], any numeric kind) into [B, dim]: cos and sin of t at
/// frequencies 10000^(−i/half), i < half.
pub(crate) fn timestep_embedding(t: &Tensor, dim: i64) -> Tensor {
    let half = dim / 2;
    let device = t.device();
    let freqs =
        (Tensor::arange(half, (Kind::Float, device)) * (-(10000f64.ln()) / half as f64)).exp();
    let args = t.to_kind(Kind::Float).unsqueeze(1) * freqs.unsqueeze(0);
    let emb = Tensor::cat(&[args.cos(), args.sin()], 1);
    if dim % 2 == 1 {
        Tensor::cat(
            &[emb, Tensor::zeros([t.size()[0], 1], (Kind::Float, device))],
            1,
        )
    } else {
        emb
    }
}
