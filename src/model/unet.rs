//! The DDPM U-Net (Ho et al. 2020): residual blocks with GroupNorm and SiLU and the timestep
//! embedding added in every block, dropout, self-attention at chosen resolutions, and
//! configurable base channels, channel multipliers and blocks per level.
//!
//! Checkpoint keys read like `down.1.res.0.conv1.weight`, `mid.attn.qkv.weight`,
//! `up.0.res.2.skip.weight`.

use super::embedding::{timestep_embedding, ClassEmbedding};
use super::ModelError;
use serde::{Deserialize, Serialize};
use tch::{nn, nn::Module, Tensor};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UnetConfig {
    /// Channels of the first level.
    pub base_channels: i64,
    /// Channel multiplier of each level; the image is halved between levels.
    pub channel_mults: Vec<i64>,
    /// Residual blocks per level (the decoder has one more, as in DDPM).
    pub blocks_per_level: usize,
    /// Resolutions (side lengths) at which self-attention is applied.
    pub attention_resolutions: Vec<i64>,
    /// Dropout probability inside residual blocks while training.
    pub dropout: f64,
    /// GroupNorm groups (must divide every channel count).
    pub groups: i64,
    /// The number of classes of a class-conditional network (`Some(10)`): a learned class
    /// embedding, with one more row for "no class", is added to the time embedding.
    pub classes: Option<i64>,
}

impl Default for UnetConfig {
    fn default() -> Self {
        UnetConfig {
            base_channels: 32,
            channel_mults: vec![1, 2, 2],
            blocks_per_level: 1,
            attention_resolutions: vec![8],
            dropout: 0.0,
            groups: 8,
            classes: None,
        }
    }
}

impl UnetConfig {
    /// Checks the configuration against items of shape [C, H, W].
    pub fn check(&self, item_shape: &[i64]) -> Result<(), ModelError> {
        let [c, h, w] = item_shape else {
            return Err(ModelError::UnetShape(item_shape.to_vec()));
        };
        if !(*c == 1 || *c == 3) {
            return Err(ModelError::UnetChannels(*c));
        }
        let levels = self.channel_mults.len();
        if levels == 0 || self.base_channels <= 0 || self.channel_mults.iter().any(|&m| m <= 0) {
            return Err(ModelError::Levels);
        }
        let div = 1i64 << (levels - 1);
        if h % div != 0 || w % div != 0 {
            return Err(ModelError::ImageSize {
                height: *h,
                width: *w,
                levels,
                divisor: div,
            });
        }
        for &m in &self.channel_mults {
            let ch = self.base_channels * m;
            if self.groups <= 0 || ch % self.groups != 0 {
                return Err(ModelError::Groups {
                    groups: self.groups,
                    channels: ch,
                });
            }
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(ModelError::Dropout(self.dropout));
        }
        Ok(())
    }
}

fn conv(vs: nn::Path, i: i64, o: i64, k: i64) -> nn::Conv2D {
    nn::conv2d(
        vs,
        i,
        o,
        k,
        nn::ConvConfig {
            padding: k / 2,
            ..Default::default()
        },
    )
}

fn zero_conv(vs: nn::Path, i: i64, o: i64, k: i64) -> nn::Conv2D {
    nn::conv2d(
        vs,
        i,
        o,
        k,
        nn::ConvConfig {
            padding: k / 2,
            ws_init: nn::Init::Const(0.0),
            ..Default::default()
        },
    )
}

fn norm(vs: nn::Path, groups: i64, ch: i64) -> nn::GroupNorm {
    nn::group_norm(vs, groups, ch, Default::default())
}

struct ResBlock {
    norm1: nn::GroupNorm,
    conv1: nn::Conv2D,
    time: nn::Linear,
    norm2: nn::GroupNorm,
    conv2: nn::Conv2D,
    skip: Option<nn::Conv2D>,
    dropout: f64,
}

impl ResBlock {
    fn new(vs: nn::Path, cin: i64, cout: i64, tdim: i64, groups: i64, dropout: f64) -> ResBlock {
        ResBlock {
            norm1: norm(&vs / "norm1", groups, cin),
            conv1: conv(&vs / "conv1", cin, cout, 3),
            time: nn::linear(&vs / "time", tdim, cout, Default::default()),
            norm2: norm(&vs / "norm2", groups, cout),
            conv2: zero_conv(&vs / "conv2", cout, cout, 3),
            skip: (cin != cout).then(|| conv(&vs / "skip", cin, cout, 1)),
            dropout,
        }
    }

    fn forward(&self, x: &Tensor, temb: &Tensor, train: bool) -> Tensor {
        let h = self.conv1.forward(&self.norm1.forward(x).silu());
        let h = h + self.time.forward(&temb.silu()).unsqueeze(-1).unsqueeze(-1);
        let h = self.norm2.forward(&h).silu().dropout(self.dropout, train);
        let h = self.conv2.forward(&h);
        match &self.skip {
            Some(s) => s.forward(x) + h,
            None => x + h,
        }
    }
}

struct Attention {
    norm: nn::GroupNorm,
    qkv: nn::Conv2D,
    proj: nn::Conv2D,
    ch: i64,
}

impl Attention {
    fn new(vs: nn::Path, ch: i64, groups: i64) -> Attention {
        Attention {
            norm: norm(&vs / "norm", groups, ch),
            qkv: conv(&vs / "qkv", ch, 3 * ch, 1),
            proj: zero_conv(&vs / "proj", ch, ch, 1),
            ch,
        }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let (b, c, h, w) = x.size4().unwrap_or((0, self.ch, 0, 0));
        let qkv = self
            .qkv
            .forward(&self.norm.forward(x))
            .reshape([b, 3, c, h * w]);
        let q = qkv.select(1, 0).transpose(1, 2); // [b, hw, c]
        let k = qkv.select(1, 1); // [b, c, hw]
        let v = qkv.select(1, 2).transpose(1, 2); // [b, hw, c]
        let att = (q.matmul(&k) / (c as f64).sqrt()).softmax(-1, tch::Kind::Float);
        let out = att.matmul(&v).transpose(1, 2).reshape([b, c, h, w]);
        x + self.proj.forward(&out)
    }
}

struct Level {
    res: Vec<ResBlock>,
    attn: Vec<Option<Attention>>,
    resample: Option<nn::Conv2D>,
}

/// The checkpoint name of the output convolution's weight ([outputs, channels, 3, 3]).
pub(crate) const OUTPUT_WEIGHT: &str = "conv_out.weight";

pub struct Unet {
    time_dim: i64,
    base: i64,
    time1: nn::Linear,
    time2: nn::Linear,
    class_embedding: Option<ClassEmbedding>,
    conv_in: nn::Conv2D,
    down: Vec<Level>,
    mid1: ResBlock,
    mid_attn: Attention,
    mid2: ResBlock,
    up: Vec<Level>,
    norm_out: nn::GroupNorm,
    conv_out: nn::Conv2D,
}

impl Unet {
    /// Builds the network for images of shape [C, H, W] with `outputs` output channels (C,
    /// or 2C with a learned variance); call [`UnetConfig::check`] first.
    pub fn new(vs: &nn::Path, item_shape: &[i64], outputs: i64, cfg: &UnetConfig) -> Unet {
        let c = item_shape[0];
        let size = item_shape[1].min(item_shape[2]);
        let base = cfg.base_channels;
        let tdim = base * 4;
        let g = cfg.groups;
        let levels = cfg.channel_mults.len();
        let conv_in = conv(vs / "conv_in", c, base, 3);
        let mut skips = vec![base];
        let mut ch = base;
        let mut res = size;
        let mut down = Vec::new();
        for (i, &m) in cfg.channel_mults.iter().enumerate() {
            let p = vs / "down" / i;
            let out = base * m;
            let mut blocks = Vec::new();
            let mut attn = Vec::new();
            for j in 0..cfg.blocks_per_level {
                blocks.push(ResBlock::new(&p / "res" / j, ch, out, tdim, g, cfg.dropout));
                ch = out;
                attn.push(
                    cfg.attention_resolutions
                        .contains(&res)
                        .then(|| Attention::new(&p / "attn" / j, ch, g)),
                );
                skips.push(ch);
            }
            let resample = (i + 1 < levels).then(|| {
                nn::conv2d(
                    &p / "downsample",
                    ch,
                    ch,
                    3,
                    nn::ConvConfig {
                        stride: 2,
                        padding: 1,
                        ..Default::default()
                    },
                )
            });
            if resample.is_some() {
                skips.push(ch);
                res /= 2;
            }
            down.push(Level {
                res: blocks,
                attn,
                resample,
            });
        }
        let mid1 = ResBlock::new(vs / "mid" / "res1", ch, ch, tdim, g, cfg.dropout);
        let mid_attn = Attention::new(vs / "mid" / "attn", ch, g);
        let mid2 = ResBlock::new(vs / "mid" / "res2", ch, ch, tdim, g, cfg.dropout);
        let mut up = Vec::new();
        for (i, &m) in cfg.channel_mults.iter().enumerate().rev() {
            let p = vs / "up" / i;
            let out = base * m;
            let mut blocks = Vec::new();
            let mut attn = Vec::new();
            for j in 0..=cfg.blocks_per_level {
                let skip = skips.pop().unwrap_or(base);
                blocks.push(ResBlock::new(
                    &p / "res" / j,
                    ch + skip,
                    out,
                    tdim,
                    g,
                    cfg.dropout,
                ));
                ch = out;
                attn.push(
                    cfg.attention_resolutions
                        .contains(&res)
                        .then(|| Attention::new(&p / "attn" / j, ch, g)),
                );
            }
            let resample = (i > 0).then(|| conv(&p / "upsample", ch, ch, 3));
            if resample.is_some() {
                res *= 2;
            }
            up.push(Level {
                res: blocks,
                attn,
                resample,
            });
        }
        Unet {
            time_dim: base,
            base,
            time1: nn::linear(vs / "time" / "0", base, tdim, Default::default()),
            time2: nn::linear(vs / "time" / "1", tdim, tdim, Default::default()),
            class_embedding: cfg
                .classes
                .map(|k| ClassEmbedding::new(vs / "class", k, tdim)),
            conv_in,
            down,
            mid1,
            mid_attn,
            mid2,
            up,
            norm_out: norm(vs / "norm_out", g, ch),
            conv_out: zero_conv(vs / "conv_out", ch, outputs, 3),
        }
    }

    /// The output at (x_t, t) for the class labels `y` (the "no class" label where `None`
    /// or where a label is [`ClassEmbedding::null`]; ignored by an unconditional network).
    pub fn forward_t(&self, x: &Tensor, t: &Tensor, y: Option<&Tensor>, train: bool) -> Tensor {
        let temb = self.time2.forward(
            &self
                .time1
                .forward(&timestep_embedding(t, self.time_dim))
                .silu(),
        );
        let temb = match &self.class_embedding {
            Some(c) => temb + c.forward(y, x.size()[0], x.device()),
            None => temb,
        };
        let mut h = self.conv_in.forward(x);
        let mut hs = vec![h.shallow_clone()];
        for level in &self.down {
            for (block, attn) in level.res.iter().zip(&level.attn) {
                h = block.forward(&h, &temb, train);
                if let Some(a) = attn {
                    h = a.forward(&h);
                }
                hs.push(h.shallow_clone());
            }
            if let Some(d) = &level.resample {
                h = d.forward(&h);
                hs.push(h.shallow_clone());
            }
        }
        h = self.mid1.forward(&h, &temb, train);
        h = self.mid_attn.forward(&h);
        h = self.mid2.forward(&h, &temb, train);
        for level in &self.up {
            for (block, attn) in level.res.iter().zip(&level.attn) {
                let skip = hs.pop().unwrap_or_else(|| h.zeros_like());
                h = block.forward(&Tensor::cat(&[&h, &skip], 1), &temb, train);
                if let Some(a) = attn {
                    h = a.forward(&h);
                }
            }
            if let Some(u) = &level.resample {
                let (_, _, hh, ww) = h.size4().unwrap_or((0, 0, 0, 0));
                h = u.forward(&h.upsample_nearest2d([hh * 2, ww * 2], None, None));
            }
        }
        let _ = self.base;
        self.conv_out.forward(&self.norm_out.forward(&h).silu())
    }
}
