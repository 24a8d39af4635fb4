"""The DDPM U-Net of src/model/unet.rs in PyTorch, with the same parameter names (so that
diffscope's safetensors checkpoints load into it), for the Python peers: `make bench-peer`
(scripts/bench_peer.py) and `make peer` (scripts/peer.py)."""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def conv(i, o, k, zero=False):
    c = nn.Conv2d(i, o, k, padding=k // 2)
    if zero:
        nn.init.zeros_(c.weight)
    return c


class ResBlock(nn.Module):
    def __init__(self, cin, cout, tdim, groups, dropout):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin)
        self.conv1 = conv(cin, cout, 3)
        self.time = nn.Linear(tdim, cout)
        self.norm2 = nn.GroupNorm(groups, cout)
        self.conv2 = conv(cout, cout, 3, zero=True)
        self.skip = conv(cin, cout, 1) if cin != cout else None
        self.dropout = dropout

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time(F.silu(temb))[:, :, None, None]
        h = F.dropout(F.silu(self.norm2(h)), self.dropout, self.training)
        h = self.conv2(h)
        return (self.skip(x) if self.skip is not None else x) + h


class Attention(nn.Module):
    def __init__(self, ch, groups):
        super().__init__()
        self.norm = nn.GroupNorm(groups, ch)
        self.qkv = conv(ch, 3 * ch, 1)
        self.proj = conv(ch, ch, 1, zero=True)

    def forward(self, x):
        b, c, h, w = x.shape
        qkv = self.qkv(self.norm(x)).reshape(b, 3, c, h * w)
        q = qkv[:, 0].transpose(1, 2)
        k = qkv[:, 1]
        v = qkv[:, 2].transpose(1, 2)
        att = torch.softmax(q @ k / math.sqrt(c), -1, dtype=torch.float32)
        out = (att @ v).transpose(1, 2).reshape(b, c, h, w)
        return x + self.proj(out)


def timestep_embedding(t, dim):
    half = dim // 2
    freqs = torch.exp(
        torch.arange(half, dtype=torch.float32) * (-math.log(10000.0) / half)
    )
    args = t.float()[:, None] * freqs[None, :]
    emb = torch.cat([torch.cos(args), torch.sin(args)], 1)
    if dim % 2 == 1:
        emb = torch.cat([emb, torch.zeros(t.shape[0], 1)], 1)
    return emb


class Unet(nn.Module):
    """src/model/unet.rs: keys like down.1.res.0.conv1.weight, mid.attn.qkv.weight.

    `learned_variance`: the network of a model with `variance: Learned`, whose output
    holds twice the data's channels (the mean's output, then the variance output v).

    `classes`: K for a class-conditional network (`classes: Some(K)`): an embedding of
    K + 1 rows (key `class.weight`; row K is "no class") added to the time embedding after
    the time MLP, as diffusers' UNet2DModel adds its `class_embedding`."""

    def __init__(self, item_shape, base, mults, blocks, attn_res, dropout, g,
                 learned_variance=False, classes=None):
        super().__init__()
        c, size = item_shape[0], min(item_shape[1], item_shape[2])
        tdim = base * 4
        self.time_dim = base
        self.time = nn.ModuleDict({"0": nn.Linear(base, tdim), "1": nn.Linear(tdim, tdim)})
        self.classes = classes
        if classes is not None:
            # `class` is a Python keyword: the module is registered under that name so that
            # the checkpoint's `class.weight` loads into it
            self.add_module("class", nn.Embedding(classes + 1, tdim))
        self.conv_in = conv(c, base, 3)
        skips, ch, res = [base], base, size
        self.down = nn.ModuleDict()
        for i, m in enumerate(mults):
            out = base * m
            level = nn.Module()
            level.res = nn.ModuleDict()
            level.attn = nn.ModuleDict()
            for j in range(blocks):
                level.res[str(j)] = ResBlock(ch, out, tdim, g, dropout)
                ch = out
                if res in attn_res:
                    level.attn[str(j)] = Attention(ch, g)
                skips.append(ch)
            level.downsample = None
            if i + 1 < len(mults):
                level.downsample = nn.Conv2d(ch, ch, 3, stride=2, padding=1)
                skips.append(ch)
                res //= 2
            self.down[str(i)] = level
        self.mid = nn.ModuleDict(
            {
                "res1": ResBlock(ch, ch, tdim, g, dropout),
                "attn": Attention(ch, g),
                "res2": ResBlock(ch, ch, tdim, g, dropout),
            }
        )
        self.up = nn.ModuleDict()
        for i in reversed(range(len(mults))):
            out = base * mults[i]
            level = nn.Module()
            level.res = nn.ModuleDict()
            level.attn = nn.ModuleDict()
            for j in range(blocks + 1):
                skip = skips.pop() if skips else base
                level.res[str(j)] = ResBlock(ch + skip, out, tdim, g, dropout)
                ch = out
                if res in attn_res:
                    level.attn[str(j)] = Attention(ch, g)
            level.upsample = None
            if i > 0:
                level.upsample = conv(ch, ch, 3)
                res *= 2
            self.up[str(i)] = level
        self.norm_out = nn.GroupNorm(g, ch)
        self.conv_out = conv(ch, 2 * c if learned_variance else c, 3, zero=True)

    def forward(self, x, t, y=None):
        """The output at (x, t) for class labels `y` (int64 [B], K for "no class"; None is
        "no class" for every item). An unconditional network ignores `y`."""
        temb = self.time["1"](
            F.silu(self.time["0"](timestep_embedding(t, self.time_dim)))
        )
        if self.classes is not None:
            if y is None:
                y = torch.full([x.shape[0]], self.classes, dtype=torch.int64)
            temb = temb + self._modules["class"](y)
        h = self.conv_in(x)
        hs = [h]
        for level in self.down.values():
            for j, block in level.res.items():
                h = block(h, temb)
                if j in level.attn:
                    h = level.attn[j](h)
                hs.append(h)
            if level.downsample is not None:
                h = level.downsample(h)
                hs.append(h)
        h = self.mid["res1"](h, temb)
        h = self.mid["attn"](h)
        h = self.mid["res2"](h, temb)
        for level in self.up.values():
            for j, block in level.res.items():
                skip = hs.pop() if hs else torch.zeros_like(h)
                h = block(torch.cat([h, skip], 1), temb)
                if j in level.attn:
                    h = level.attn[j](h)
            if level.upsample is not None:
                hh, ww = h.shape[2], h.shape[3]
                h = level.upsample(F.interpolate(h, size=(hh * 2, ww * 2), mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(h)))
