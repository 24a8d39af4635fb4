//! Sinusoidal timestep embedding (Vaswani et al.; as in DDPM).

use tch::{Kind, Tensor};

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
